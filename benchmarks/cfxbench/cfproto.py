"""CFProto's seconds per counterfactual (iris, breast cancer and HMDA, native models and black-box
callbacks; Fashion-MNIST with the reference CNN, encoder and autoencoder) and the k-d tree against
brute force (benchmarks/kdtree, Swift: Fashion-MNIST 60,000 × 784 when Debian's
dataset-fashion-mnist is installed, and uniform random data). Release builds, one thread per
explanation. Writes benchmarks/results/cfproto.md; scratch files go to benchmarks/out/.

    python3 benchmarks/harness.py cfproto [--skip-build] [--n-queries 100] [--n-blackbox-full 5] [--n-fashion 50]

Takes about 6 minutes.
"""
import contextlib
import gzip
import importlib.util
import json
import subprocess
import sys
import time

import numpy as np

import cfx
from cfx.export import from_sklearn

from . import OUT, RESULTS, ROOT, datasets, env

EXAMPLES = ROOT / "examples" / "python"


def example(name):
    """examples/python/NAME.py as a module (their settings are shared with the examples and tests),
    with its sibling _common loaded first, as the examples import it."""
    for module_name in ("_common", name):
        if module_name not in sys.modules:
            spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{module_name}.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
    return sys.modules[name]


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


def run(name, mode, model, config, x_train, X):
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
    with open(ROOT / "Tests" / "fixtures" / f"{name}_mlp.json") as f:
        data = json.load(f)
    native = cfx.Model.from_json(data["model"])
    d, k = len(data["x_test"][0]), len(data["proba_test"][0])
    blackbox = cfx.Model.from_callable(numpy_forward(data["model"]), d, k)
    return native, blackbox, np.array(data["x_train"]), np.array(data["x_test"])


def tabular(n_blackbox_full):
    print("| data | model | config (beyond alibi's defaults) | instances | valid | s / counterfactual | predict calls | predicted rows |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    default = {"use_kdtree": True, "theta": 10.0}
    fast = {"use_kdtree": True, "theta": 100.0, "c_init": 0.0, "c_steps": 1}
    for name in ("iris", "breast_cancer"):
        native, blackbox, x_train, x_test = fixture(name)
        run(name, "native", native, default, x_train, x_test)
        run(name, "black box, c_init 0, c_steps 1", blackbox, fast, x_train, x_test)
        run(name, "black box, numerical gradients", blackbox, default, x_train, x_test[:n_blackbox_full])

    h = example("hmda_cfproto")
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
        denied[:n_blackbox_full])


def fashion(n_fashion):
    """Fashion-MNIST rows: alibi's MNIST settings, the first n_fashion test images, native on 1 and
    2 threads, and the CNN as a black-box callback in the fast mode (c_init 0, c_steps 1)."""
    f = example("cfproto_fashion")
    print()
    print("### Fashion-MNIST (encoder and autoencoder prototypes)")
    print()
    if not datasets.fashion_mnist_installed():
        print(f"Not run: Fashion-MNIST is not installed at {datasets.FASHION_DIR} (apt-get install dataset-fashion-mnist).")
        return
    X_train, _ = datasets.fashion_mnist_split("train")
    X_test, _ = datasets.fashion_mnist_split("test")
    X = X_test[:n_fashion]
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


def kdtree(n_queries):
    """cfx-kdtree-bench's tables and the sentence on its data."""
    arguments = ["--n-queries", str(n_queries), "--k", "10"]
    note = "Fashion-MNIST: not installed (apt-get install dataset-fashion-mnist); random data only."
    if datasets.fashion_mnist_installed():
        for name in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"):
            if not (OUT / name).exists():
                (OUT / name).write_bytes(gzip.decompress((datasets.FASHION_DIR / f"{name}.gz").read_bytes()))
        arguments += ["--idx", str(OUT / "train-images-idx3-ubyte"), "--queries", str(OUT / "t10k-images-idx3-ubyte")]
        note = (f"Fashion-MNIST from Debian's dataset-fashion-mnist ({datasets.FASHION_DIR}): pixels / 255, the 60,000 "
                f"training images as points, the first {n_queries} test images as queries.")
    print("==> k-d tree", file=sys.stderr, flush=True)
    tables = subprocess.run([str(ROOT / ".build/release/cfx-kdtree-bench"), *arguments], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    return note, tables


HEADER = """## Seconds per counterfactual

alibi's defaults (κ 0, β 0.1, learning_rate_init 0.01, max_iterations 1000, c_init 10, c_steps 10,
eps (1e-3, 1e-3), update_num_grad 1) unless the config column says otherwise; k-d tree prototypes
fitted on the training rows (the model's predicted classes); one thread; wall time of the explain call
divided by the instances. *valid*: a counterfactual of another class was found (its class is the
model's prediction on the returned X). Instances: all test rows of the iris and breast-cancer
fixtures; the HMDA test applications the MLP denies (target class 0, approved; `black` immutable;
categorical columns one-hot, ABDM distances). *black box*: the same network as a Python/numpy
callback without gradients, so the timings include Python's call overhead. With numerical
gradients each iteration costs 5 predict calls (alibi's scheme: dL/dp and dp/dx at both x_k and
y_k, then the prediction at x_{k+1}); with `c_init 0, c_steps 1` one.

Fashion-MNIST: the reference models of benchmarks/models (`fashion_cnn`, `fashion_encoder`,
`fashion_autoencoder`) with alibi's MNIST example settings (κ 0, β 0.1, γ 100, θ 100, max_iterations 500,
c_init 1, c_steps 5, learning_rate_init 0.01, clip ±1000; feature_range (0, 1) since the images are
pixel / 255, where alibi's are pixel / 255 − 0.5 in (−0.5, 0.5)); prototypes are the class means of the
encodings of the first 5,000 training images (*fit*: that encoding); the first {n_fashion} test images.
*valid* also checks that X is inside (0, 1). L1 and L0 (pixels changed by more than 1e-6) of
counterfactual − original. *threads*: instances explained in parallel. The black box is the CNN's
predict as a Python callback (no gradient); the encoder and autoencoder stay native, as in alibi's
black-box MNIST example. alibi's numerical gradients (2 × 784 perturbed rows per gradient, 4 per
iteration) are not benchmarked on Fashion-MNIST: about 6 million predicted rows per counterfactual.
"""

FOOTER = """k-d trees degrade with dimension: in 784 dimensions a root-to-leaf path splits on only about
log2(60,000 / 40) ≈ 11 coordinates, so the bound that prunes cells stays weak and the tree is
no faster than the linear scan (slower, above, for its scattered memory access and bookkeeping;
already at 30 uniform random features). It pays off in low dimension (8 features above).
CFProto's per-class trees on tabular data
(4 to 30 features, hundreds to thousands of rows) are queried once per instance, so their cost
is negligible either way.
"""


def add_arguments(parser) -> None:
    parser.add_argument("--skip-build", action="store_true", help="use the existing release build")
    parser.add_argument("--n-queries", type=int, default=100, help="k-d tree queries (default 100)")
    parser.add_argument("--n-blackbox-full", type=int, default=5,
                        help="instances for the black-box runs with numerical gradients (default 5)")
    parser.add_argument("--n-fashion", type=int, default=50, help="Fashion-MNIST test images (default 50)")


def main(args) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    if not args.skip_build:
        subprocess.run(["swift", "build", "-c", "release"], cwd=ROOT, check=True, stdout=sys.stderr)
    record = env.machine(env.harness_command(),
                         ("Sources", "include", "Package.swift", "benchmarks"))
    note, kd_tables = kdtree(args.n_queries)
    print("==> CFProto", file=sys.stderr, flush=True)
    lines = ["# CFProto and k-d tree benchmarks", "", *env.markdown(record), "- release builds, one thread per explanation",
             "", HEADER.replace("{n_fashion}", str(args.n_fashion))]
    with open(OUT / "cfproto.md", "w") as tables, contextlib.redirect_stdout(tables):   # rows print as they come
        tabular(args.n_blackbox_full)
        fashion(args.n_fashion)
    lines += [(OUT / "cfproto.md").read_text(), "## k-d tree k-nearest queries against brute force", "",
              f"{note} k = 10, leaf size 40; both return the same neighbours (checked). Query times",
              "are means over the queries; brute force is a linear scan with the same distance kernel.", "",
              kd_tables, FOOTER]
    (RESULTS / "cfproto.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0
