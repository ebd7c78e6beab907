"""Runs alibi's explainers for benchmarks/harness.py, in the alibi virtual environment.

    $ALIBI_VENV/bin/python benchmarks/external/run_alibi.py --job JOB.json --out OUT.json

JOB.json (written by the harness): {"method": "wachter" | "cfproto", "spec": cfx model spec,
"X": instances, "proba": cfx's predictions of X, "X_train": training rows (cfproto's fit), "feature_range": [lo, hi] (one value
per feature each), "params": extra constructor keywords, "seed": int}. The network is rebuilt
in Keras from the spec (cfx_spec.py) with the same weights; the model is checked against a
NumPy forward pass of the spec. Each instance is one ``explain`` call of shape (1, d), timed with
time.perf_counter. The Keras model (cfx_spec.keras_model_from_spec: dense and convolutional
networks) is checked against "proba", cfx's predictions of X. OUT.json: versions, the check, and per instance the counterfactual (or null)
and the seconds. Metrics are computed by the harness with cfx.metrics, as for cfx.
"""
import json
import logging
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cfx_spec import keras_model_from_spec, read_job  # noqa: E402  (this script's folder is on sys.path)


def make_explainer(method, model, shape, feature_range, params, X_train, sess):
    if method == "wachter":
        from alibi.explainers import Counterfactual
        return Counterfactual(model, shape=shape, feature_range=feature_range, sess=sess, **params)
    if method == "cfproto":
        from alibi.explainers import CounterfactualProto
        exp = CounterfactualProto(model, shape=shape, feature_range=feature_range, sess=sess, **params)
        exp.fit(X_train)
        return exp
    raise SystemExit(f"run_alibi.py: unknown method {method!r}")


def main():
    job, out_path = read_job()

    logging.getLogger("alibi").setLevel(logging.CRITICAL)  # alibi logs an error when no lambda range is found
    tf.get_logger().setLevel("ERROR")
    tf.compat.v1.disable_eager_execution()
    import alibi

    seed = int(job.get("seed", 0))
    np.random.seed(seed)
    tf.compat.v1.set_random_seed(seed)
    X = np.asarray(job["X"], dtype=np.float64)
    X_train = np.asarray(job.get("X_train") or [], dtype=np.float64)
    d = X.shape[1]
    model = keras_model_from_spec(job["spec"])
    diff = float(np.abs(model.predict(X, verbose=0) - np.asarray(job["proba"])).max())
    if diff > 1e-4:
        raise SystemExit(f"run_alibi.py: the Keras model differs from cfx's predictions by {diff}")
    lo, hi = (np.asarray(v, dtype=np.float32).reshape(1, d) for v in job["feature_range"])
    sess = tf.compat.v1.keras.backend.get_session()
    t0 = time.perf_counter()
    explainer = make_explainer(job["method"], model, (1, d), (lo, hi), job.get("params", {}),
                               X_train.astype(np.float32), sess)
    init_seconds = time.perf_counter() - t0
    out = {"library": "alibi", "alibi_version": alibi.__version__, "tensorflow_version": tf.__version__,
           "numpy_version": np.__version__, "python": platform.python_version(), "method": job["method"],
           "params": job.get("params", {}), "keras_max_abs_diff": diff, "init_seconds": init_seconds,
           "instances": []}
    for i in range(len(X)):
        t0, cpu0 = time.perf_counter(), time.process_time()
        exp = explainer.explain(X[i:i + 1].astype(np.float32))
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - cpu0
        cf = exp.cf
        x_cf = None if cf is None else np.asarray(cf["X"], dtype=np.float64).reshape(-1).tolist()
        # cpu_seconds / seconds: how many cores TensorFlow kept busy.
        out["instances"].append({"cf": x_cf, "seconds": seconds, "cpu_seconds": cpu_seconds,
                                 "lambda": None if cf is None or "lambda" not in cf else float(cf["lambda"]),
                                 "c": None if cf is None or "c" not in cf else float(cf["c"])})
        print(f"  alibi {job['method']} [{i}] {seconds:.2f} s, found {x_cf is not None}", file=sys.stderr, flush=True)
    with open(out_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
