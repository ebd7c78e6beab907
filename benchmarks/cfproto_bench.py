#!/usr/bin/env python3
"""Seconds per CFProto counterfactual on iris, breast cancer and HMDA, with the native model and
with the same network as a black-box Python callback (numpy, no gradient), and on Fashion-MNIST
with the reference CNN, encoder and autoencoder (when Debian's dataset-fashion-mnist is installed).
Prints markdown tables.

    python3 benchmarks/cfproto_bench.py          # run by benchmarks/run_cfproto.sh
"""
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
import cfx  # noqa: E402
from cfx.export import from_sklearn  # noqa: E402

N_BLACKBOX_FULL = int(os.environ.get("N_BLACKBOX_FULL", "5"))
N_FASHION = int(os.environ.get("N_FASHION", "50"))


def numpy_forward(spec):
    """The exported network as a numpy function: the black box."""
    layers = spec["layers"]

    def predict(X):
        h = X
        for layer in layers:
            t = layer["type"]
            if t == "dense":
                h = h @ np.asarray(layer["weights"]).T + np.asarray(layer.get("bias", 0.0))
            elif t == "relu":
                h = np.maximum(h, 0)
            elif t == "tanh":
                h = np.tanh(h)
            elif t == "sigmoid":
                h = 1 / (1 + np.exp(-h))
            elif t == "softmax":
                e = np.exp(h - h.max(axis=1, keepdims=True))
                h = e / e.sum(axis=1, keepdims=True)
        return h
    return predict


def run(name, mode, model, config, x_train, X, fit_kwargs=None):
    explainer = cfx.CFProto(model, n_threads=1, return_all=False, **config)
    explainer.fit(x_train)
    start = time.perf_counter()
    exps = explainer.explain(X)
    wall = time.perf_counter() - start
    found = [e for e in exps if e.cf is not None and e.cf["class"] != e.orig_class]
    calls = np.mean([e.meta["model_calls"] for e in exps])
    rows = np.mean([e.meta["predicted_rows"] for e in exps])
    keys = ", ".join(f"{k} {v}" for k, v in config.items() if k not in ("feature_range", "cat_vars", "immutable"))
    print(f"| {name} | {mode} | {keys} | {len(X)} | {len(found) / len(X):.0%} | {wall / len(X):.4f} | {calls:.0f} | {rows:.0f} |",
          flush=True)


def fixture(name):
    with open(os.path.join(ROOT, "Tests", "fixtures", f"{name}_mlp.json")) as f:
        data = json.load(f)
    native = cfx.Model.from_json(data["model"])
    d, k = len(data["x_test"][0]), len(data["proba_test"][0])
    blackbox = cfx.Model.from_callable(numpy_forward(data["model"]), d, k)
    return native, blackbox, np.array(data["x_train"]), np.array(data["x_test"])


def main():
    print("| data | model | config (beyond alibi's defaults) | instances | valid | s / counterfactual | predict calls | predicted rows |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    default = {"use_kdtree": True, "theta": 10.0}
    fast = {"use_kdtree": True, "theta": 100.0, "c_init": 0.0, "c_steps": 1}
    for name in ("iris", "breast_cancer"):
        native, blackbox, x_train, x_test = fixture(name)
        run(name, "native", native, default, x_train, x_test)
        run(name, "black box, c_init 0, c_steps 1", blackbox, fast, x_train, x_test)
        run(name, "black box, numerical gradients", blackbox, default, x_train, x_test[:N_BLACKBOX_FULL])

    import hmda_cfproto as h
    X, y, columns, cat_vars = h.load_data()
    mlp, X_train, X_test, y_test, scaler = h.train(X, y)
    native = cfx.Model.from_json(from_sklearn(mlp))
    blackbox = cfx.Model.from_callable(mlp.predict_proba, X.shape[1], 2)
    denied = X_test[mlp.predict(X_test) == 1]
    n_ord = len(h.NUMERIC) + len(h.CATEGORICAL)
    lo, hi = np.full(n_ord, -1.0), np.full(n_ord, 1.0)
    lo[:len(h.NUMERIC)] = X_train[:, :len(h.NUMERIC)].min(axis=0)
    hi[:len(h.NUMERIC)] = X_train[:, :len(h.NUMERIC)].max(axis=0)
    black = h.cat_vars_start(cat_vars, "black")
    common = {"cat_vars": cat_vars, "ohe": True, "feature_range": [lo.tolist(), hi.tolist()], "target_class": [0],
              "immutable": [black, black + 1]}
    run("HMDA (one-hot categorical)", "native", native, {**default, **common}, X_train, denied)
    run("HMDA (one-hot categorical)", "black box, c_init 0, c_steps 1", blackbox, {**fast, **common}, X_train, denied)
    run("HMDA (one-hot categorical)", "black box, numerical gradients", blackbox, {**default, **common}, X_train,
        denied[:N_BLACKBOX_FULL])


def fashion():
    """Fashion-MNIST rows: alibi's MNIST settings, the first N_FASHION test images, native on 1 and
    2 threads, and the CNN as a black-box callback in the fast mode (c_init 0, c_steps 1)."""
    import cfproto_fashion as f
    print()
    print("### Fashion-MNIST (encoder and autoencoder prototypes)")
    print()
    if not f.installed():
        print(f"Not run: Fashion-MNIST is not installed at {f.FASHION_DIR} (apt-get install dataset-fashion-mnist).")
        return
    X_train, _ = f.load_split("train")
    X_test, _ = f.load_split("test")
    X = X_test[:N_FASHION]
    cnn, autoencoder, encoder = f.load_models()
    blackbox = cfx.Model.from_callable(cnn.predict, 784, 10)
    print("| model | config (beyond alibi's MNIST example) | threads | instances | valid | s / counterfactual | mean L1 | mean L0 | predict calls | iterations | fit (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for mode, model, extra, threads in (("native", cnn, {}, 1), ("native", cnn, {}, 2),
                                        ("black box, c_init 0, c_steps 1", blackbox, {"c_init": 0.0, "c_steps": 1}, 1)):
        explainer = cfx.CFProto(model, encoder=encoder, autoencoder=autoencoder, n_threads=threads, return_all=False,
                                **{**f.PARAMS, **extra})
        start = time.perf_counter()
        explainer.fit(X_train[:f.N_FIT])
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        exps = explainer.explain(X)
        wall = time.perf_counter() - start
        valid = f.check(cnn, X, exps)
        diffs = [np.asarray(e.cf["X"]) - x for e, x in zip(exps, X) if e.cf is not None]
        l1 = np.mean([np.abs(d).sum() for d in diffs]) if diffs else float("nan")
        l0 = np.mean([(np.abs(d) > 1e-6).sum() for d in diffs]) if diffs else float("nan")
        calls = np.mean([e.meta["model_calls"] for e in exps])
        iterations = np.mean([e.meta["iterations"] for e in exps])
        keys = ", ".join(f"{k} {v}" for k, v in extra.items()) or "—"
        print(f"| {mode} | {keys} | {threads} | {len(X)} | {valid.mean():.0%} | {wall / len(X):.3f} | {l1:.1f} | {l0:.0f} | "
              f"{calls:.0f} | {iterations:.0f} | {fit_seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
    fashion()
