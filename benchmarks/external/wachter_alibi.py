"""alibi's CounterFactual (Wachter et al.) on the iris MLP fixture, for comparison with cfx.

Builds a Keras model with the architecture and weights of the cfx spec in the fixture (dense
weights out x in in the spec -> Keras kernel in x out), checks that it reproduces the fixture's
proba_test, then explains the first N test instances one by one with alibi's CounterFactual at its
default parameters (target_class 'other', shape (1, d)) in TF1 graph mode:

  native    the Keras model itself (TensorFlow gradients)
  blackbox  a plain NumPy predict function of the same network (alibi then differentiates it
            numerically with eps 0.01, as cfx does for a callback model without vjp)

Each explain() is timed with time.perf_counter. Validity: cf found, cf class != original class
and the cf's probability of its class >= 0.95 (the same criterion as wachter_bench.c).

Usage (in the alibi venv, see setup_alibi.sh):
    python wachter_alibi.py [--fixture PATH] [--n N] [--n-blackbox M] [--out PATH]
"""
import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cfx_spec import Counted, keras_model, numpy_predict, parse_spec  # noqa: E402  (this script's folder is on sys.path)

VALID_PROBA = 0.95


def explain_all(make_explainer, x_test, n, counter=None):
    t0 = time.perf_counter()
    explainer = make_explainer()
    init_seconds = time.perf_counter() - t0
    per = []
    for i in range(n):
        x = x_test[i:i + 1]
        calls0, rows0 = (counter.calls, counter.rows) if counter else (0, 0)
        t0 = time.perf_counter()
        exp = explainer.explain(x)
        seconds = time.perf_counter() - t0
        cf = exp.cf
        rec = {"index": i, "seconds": seconds, "orig_class": int(exp.orig_class), "success": cf is not None,
               "valid": False, "l1": None, "cf_class": None, "cf_proba": None}
        if cf is not None:
            cls = int(cf["class"])
            p = float(np.asarray(cf["proba"]).reshape(-1)[cls])
            rec.update(cf_class=cls, cf_proba=p, l1=float(np.abs(np.asarray(cf["X"]).reshape(-1) - x[0]).sum()),
                       cf_X=np.asarray(cf["X"]).reshape(-1).tolist(), lam=float(cf["lambda"]))
            rec["valid"] = cls != rec["orig_class"] and p >= VALID_PROBA
        if counter:
            rec["model_calls"] = counter.calls - calls0
            rec["predicted_rows"] = counter.rows - rows0
        per.append(rec)
        print(f"  [{i}] {seconds:.2f} s, valid {rec['valid']}, l1 {rec['l1']}", file=sys.stderr, flush=True)
    secs = [r["seconds"] for r in per]
    valid = [r for r in per if r["valid"]]
    out = {
        "n": n,
        "init_seconds": init_seconds,
        "seconds_per_cf_median": statistics.median(secs) if secs else None,
        "seconds_per_cf_mean": statistics.fmean(secs) if secs else None,
        "seconds_per_cf_min": min(secs) if secs else None,
        "seconds_per_cf_max": max(secs) if secs else None,
        "n_success": sum(r["success"] for r in per),
        "n_valid": len(valid),
        "validity": len(valid) / n if n else None,
        "mean_l1": statistics.fmean(r["l1"] for r in valid) if valid else None,
        "instances": per,
    }
    if counter and n:
        out["mean_model_calls"] = statistics.fmean(r["model_calls"] for r in per)
        out["mean_predicted_rows"] = statistics.fmean(r["predicted_rows"] for r in per)
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixture", default=os.path.join(root, "Tests/fixtures/iris_mlp.json"))
    ap.add_argument("--n", type=int, default=10, help="instances for the Keras (native gradient) model")
    ap.add_argument("--n-blackbox", type=int, default=3, help="instances for the black-box model (0: skip)")
    ap.add_argument("--out", default=os.path.join(root, "benchmarks/out/alibi_wachter.json"))
    args = ap.parse_args()

    logging.getLogger("alibi").setLevel(logging.CRITICAL)  # alibi logs an error when no lambda range is found
    tf.get_logger().setLevel("ERROR")
    tf.compat.v1.disable_eager_execution()
    import alibi
    # Counterfactual is the current name of CounterFactual (the old name is a deprecated alias).
    from alibi.explainers import Counterfactual as CounterFactual

    fx = json.load(open(args.fixture))
    x_test = np.asarray(fx["x_test"], dtype=np.float64)
    proba_test = np.asarray(fx["proba_test"], dtype=np.float64)
    d = x_test.shape[1]
    n = min(args.n, len(x_test))
    nb = min(args.n_blackbox, len(x_test))
    layers = parse_spec(fx["model"])
    shape = (1, d)

    result = {
        "alibi_version": alibi.__version__, "tensorflow_version": tf.__version__, "numpy_version": np.__version__,
        "python": platform.python_version(), "fixture": os.path.relpath(args.fixture, root), "valid_proba": VALID_PROBA,
        "params": "CounterFactual defaults: distance_fn l1, target_proba 1.0, target_class 'other', max_iter 1000, "
                  "early_stop 50, lam_init 0.1, max_lam_steps 10, tol 0.05, learning_rate_init 0.1, "
                  "feature_range (-1e10, 1e10), eps 0.01, init identity, decay True",
    }

    # --- native: the Keras model, TF gradients, in the Keras session of the default graph ---
    model = keras_model(layers, d)
    keras_proba = model.predict(x_test, verbose=0)
    diff = float(np.abs(keras_proba - proba_test).max())
    result["keras_max_abs_diff"] = diff
    if diff > 1e-5:
        raise SystemExit(f"the Keras model differs from proba_test by {diff} (> 1e-5)")
    np_predict = numpy_predict(layers)
    result["numpy_max_abs_diff"] = float(np.abs(np_predict(x_test) - proba_test).max())
    sess = tf.compat.v1.keras.backend.get_session()
    print(f"alibi {alibi.__version__}, tensorflow {tf.__version__}: Keras model matches proba_test to {diff:.2g}; "
          f"native, {n} instances", file=sys.stderr, flush=True)
    result["native"] = explain_all(lambda: CounterFactual(model, shape=shape, sess=sess), x_test, n)

    # --- black box: NumPy predict, numerical gradients, in a graph of its own ---
    if nb > 0:
        print(f"black box, {nb} instances", file=sys.stderr, flush=True)
        counter = Counted(np_predict)
        with tf.Graph().as_default():
            bsess = tf.compat.v1.Session()
            result["blackbox"] = explain_all(lambda: CounterFactual(counter, shape=shape, sess=bsess), x_test, nb,
                                             counter)
            bsess.close()

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    for mode in ("native", "blackbox"):
        if mode in result:
            r = result[mode]
            print(f"{mode}: {r['seconds_per_cf_median']:.3f} s / cf (median of {r['n']}), valid {r['n_valid']}/{r['n']}, "
                  f"mean L1 {r['mean_l1']}", file=sys.stderr)


if __name__ == "__main__":
    main()
