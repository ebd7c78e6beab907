#!/usr/bin/env python3
"""Checks that a change leaves cfx's results bit-identical: runs every method, the metrics,
training and the model files (tree ensembles, ONNX) through the Python bindings against two builds
and compares the outputs exactly.

    python3 Tests/same_bits.py --base main~3          # builds that commit (release) in a worktree
    python3 Tests/same_bits.py --base-tree /other/checkout   # a checkout already built (release)
    python3 Tests/same_bits.py --base main --head-tree /work/wtX   # another checkout as the head

The head is this checkout (its .build/release/libcfx.so; `swift build -c release` first). Each
build runs with its own tree's Python bindings, through the public API only. Numbers are compared
as parsed JSON values, which the shortest round-trip form makes exact. Run times (keys ending in
"seconds" or "per_second") are left out; keys that the head's `meta.params` adds (a new option at
its default) are listed, not failed. Exit status 1 and the first differences when anything else differs.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "fixtures"

CNN = {
    "input_shape": [1, 6, 6],
    "layers": [
        {"type": "conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1, "spectral_norm": {"coefficient": 4}},
        {"type": "leaky_relu"},
        {"type": "global_avg_pool", "name": "features"},
        {"type": "dense", "outputs": 3},
        {"type": "softmax"},
    ],
}


# ---- the cases, run in a child process with one build's library and bindings ----

def fixture(name):
    import numpy as np
    data = json.loads((FIXTURES / name).read_text())
    return data["model"], np.array(data["x_train"], dtype=float), np.array(data["x_test"], dtype=float)


def tabular_cases(cfx, out):
    spec, X_train, X_test = fixture("iris_mlp.json")
    model = cfx.Model.from_json(spec)
    rows = X_test[:6]
    out["wachter"] = cfx.Wachter(model).explain_text(rows)
    out["wachter_every"] = cfx.Wachter(model, all_candidates="every").explain_text(rows[:2])
    out["wachter_float32_2threads"] = cfx.Wachter(model.astype("float32", threads=2), n_threads=2).explain_text(rows)
    out["wachter_constraints"] = cfx.Wachter(
        model, immutable=[0], monotone={"1": "increase"}, feature_range=[-2.5, 2.5]).explain_text(rows)
    out["wachter_set_sparse"] = cfx.Wachter(model, n_counterfactuals=3, sparsify=True).explain_text(rows[:3])
    out["cfproto"] = cfx.CFProto(model).fit(X_train).explain_text(rows[:4])
    out["cfproto_set"] = cfx.CFProto(model, n_counterfactuals=2).fit(X_train).explain_text(rows[:2])
    out["eccco"] = cfx.ECCCo(model).fit(X_train).explain_text(rows[:4])
    cfs = [e.cf["X"] for e in cfx.Wachter(model).explain(rows) if e.cf is not None]
    out["metrics"] = cfx.metrics.evaluate(model, rows[:len(cfs)], cfs, X_train=X_train).to_dict()
    cancer_spec, cancer_train, cancer_test = fixture("breast_cancer_mlp.json")
    cancer = cfx.Model.from_json(cancer_spec)
    out["cancer_wachter_float32"] = cfx.Wachter(cancer.astype("float32")).explain_text(cancer_test[:3])
    out["cancer_cfproto"] = cfx.CFProto(cancer).fit(cancer_train).explain_text(cancer_test[:2])
    # CFProto as mlp_speed runs it (k-d tree prototypes, theta 10), in float32, and with constraints
    out["cfproto_kdtree_float32"] = cfx.CFProto(model.astype("float32"), use_kdtree=True, theta=10.0).fit(
        X_train).explain_text(rows[:3])
    out["cfproto_constrained"] = cfx.CFProto(model, use_kdtree=True, theta=10.0, immutable=[0], monotone={"1": "increase"},
                                             feature_range=[-2.5, 2.5]).fit(X_train).explain_text(rows[:3])


def digits_cases(cfx, out):
    import numpy as np
    data = json.loads((FIXTURES / "digits.json").read_text())
    mean, scale = np.array(data["mean"]), np.array(data["scale"])
    X = (np.array(data["x_train"], dtype=float) - mean) / scale
    X_test = (np.array(data["x_test"], dtype=float) - mean) / scale
    spec = {"input_shape": [64], "layers": [{"type": "dense", "outputs": 32}, {"type": "batch_norm"},
                                             {"type": "relu"}, {"type": "dense", "outputs": 10}, {"type": "softmax"}]}
    model = cfx.Model.from_json(spec)
    out["train_digits"] = model.train(X, np.array(data["y_train"]), epochs=3, learning_rate=0.003,
                                      validation_split=0.1, seed=1)
    out["train_digits_predict"] = model.predict(X_test[:20])
    out["digits_wachter_float32"] = cfx.Wachter(model.astype("float32")).explain_text(X_test[:2])
    out["digits_cfproto"] = cfx.CFProto(model).fit(X[:300]).explain_text(X_test[:1])
    # a plain dense/relu chain (one C call per pass; CFProto's candidate and next step in one pass)
    mlp = cfx.Model.from_json({"input_shape": [64], "layers": [
        {"type": "dense", "outputs": 64}, {"type": "relu"}, {"type": "dense", "outputs": 64}, {"type": "relu"},
        {"type": "dense", "outputs": 10}, {"type": "softmax"}]})
    mlp.train(X[:300], np.array(data["y_train"])[:300], epochs=2, learning_rate=0.003, seed=1)
    for dtype in ("float64", "float32"):
        out[f"digits_mlp_cfproto_{dtype}"] = cfx.CFProto(mlp.astype(dtype), use_kdtree=True, theta=10.0).fit(
            X[:300]).explain_text(X_test[:2])


def image_data():
    import numpy as np
    rng = np.random.default_rng(0)
    X = np.clip(rng.uniform(0, 1, size=(150, 36)) + rng.uniform(-0.4, 0.4, size=(150, 1)), 0, 1)
    m = X.mean(1)
    return X, np.digitize(m, np.quantile(m, [1 / 3, 2 / 3])).astype(float)


def image_cases(cfx, out):
    import numpy as np
    X, y = image_data()
    model = cfx.Model.from_json(CNN)
    out["train_cnn"] = model.train(X, y, epochs=5, batch_size=16, learning_rate=0.02, seed=3)
    out["train_cnn_predict"] = model.predict(X[:20])
    out["deduce"] = cfx.DeDUCE(model, target_class="all").fit(X, y).explain_text(X[:3])
    out["deduce_float32"] = cfx.DeDUCE(model.astype("float32"), target_class=1).fit(X, y).explain_text(X[:3])
    out["jsma"] = cfx.JSMA(model, target_class=[0, 1, 2]).explain_text(X[:2])
    # the Fashion-MNIST CNN (convolutions, relu, 2 x 2 max pooling, dense) on random images
    fashion = cfx.Model.load(str(ROOT / "benchmarks" / "models" / "fashion_cnn.json"))
    images = np.random.default_rng(3).uniform(0, 1, size=(2, 784))
    for dtype, threads in (("float32", 1), ("float32", 2), ("float64", 1)):
        out[f"fashion_cnn_wachter_{dtype}_{threads}"] = cfx.Wachter(
            fashion.astype(dtype, threads=threads), max_lam_steps=2, max_iter=200).explain_text(images)


def training_cases(cfx, out):
    import numpy as np
    rng = np.random.default_rng(5)
    X = rng.normal(size=(240, 2))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(float)
    spec = {"input_shape": [2], "layers": [{"type": "dense", "outputs": 16}, {"type": "relu"},
                                            {"type": "dense", "outputs": 2}, {"type": "softmax"}]}
    model = cfx.Model.from_json(spec)
    out["train_ct"] = model.train(X, y, epochs=4, batch_size=30, seed=5,
                                  counterfactual_training={"n_ce": 60, "burn_in": 0.25})
    out["train_ct_predict"] = model.predict(X[:20])


def model_file_cases(cfx, out):
    import numpy as np
    _, _, cancer_test = fixture("breast_cancer_mlp.json")
    for name in ("xgboost_cancer.json", "lightgbm_cancer.txt", "sklearn_forest_cancer.onnx"):
        trees = cfx.Model.load(str(FIXTURES / "trees" / name))
        out[f"{name}_predict"] = trees.predict(cancer_test[:20])
        out[f"{name}_feature_tweaking"] = cfx.FeatureTweaking(trees).explain_text(cancer_test[:8])
        out[f"{name}_feature_tweaking_sparse"] = cfx.FeatureTweaking(trees, sparsify=True).explain_text(cancer_test[:8])
    rng = np.random.default_rng(7)
    for name in ("mlp.onnx", "sklearn_mlp.onnx", "cnn.onnx", "resnet.onnx", "densenet.onnx", "inception.onnx"):
        network = cfx.Model.load(str(FIXTURES / "onnx" / name))
        rows = rng.normal(size=(3, network.n_features))
        out[f"{name}_predict"] = network.predict(rows)
        out[f"{name}_wachter"] = cfx.Wachter(network, max_lam_steps=2).explain_text(rows[:1])


def run_cases():
    import cfx
    out = {}
    for cases in (tabular_cases, digits_cases, image_cases, training_cases, model_file_cases):
        try:
            cases(cfx, out)
        except Exception as error:  # a base that lacks a feature: its cases show as differences
            out[cases.__name__] = {"error": repr(error)}
    json.dump({k: json.loads(v) if isinstance(v, str) else v for k, v in out.items()}, sys.stdout,
              default=lambda o: o.tolist())


# ---- the parent: build, run both, compare ----

def build_base(ref):
    sha = subprocess.check_output(["git", "-C", str(ROOT), "rev-parse", "--short=12", ref], text=True).strip()
    tree = pathlib.Path(tempfile.gettempdir()) / "cfx-same-bits" / sha
    if not tree.exists():
        subprocess.check_call(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), sha])
    subprocess.check_call(["swift", "build", "-c", "release", "--product", "cfx"], cwd=tree)
    return tree


def outputs(tree):
    env = dict(os.environ, CFX_LIBRARY=str(tree / ".build/release/libcfx.so"),
               PYTHONPATH=str(tree / "bindings" / "python"))
    text = subprocess.check_output([sys.executable, str(pathlib.Path(__file__).resolve()), "--run-cases"],
                                   env=env, cwd=tree, text=True)
    return json.loads(text)


def same_value(base, head):
    if isinstance(base, float) and isinstance(head, float) and base != base and head != head:
        return True  # NaN (written as null by the library, as NaN by the metrics' decoding)
    return type(base) is type(head) and base == head


def compare(base, head, path, differences, added):
    if isinstance(base, dict) and isinstance(head, dict):
        for key in sorted(set(base) | set(head)):
            if key.endswith("seconds") or key.endswith("per_second"):  # run times
                continue
            if key not in base and path.endswith("/params"):
                added.add(f"{path}/{key}")
            elif key not in base or key not in head:
                differences.append(f"{path}/{key}: only in {'head' if key in head else 'base'}")
            else:
                compare(base[key], head[key], f"{path}/{key}", differences, added)
    elif isinstance(base, list) and isinstance(head, list) and len(base) == len(head):
        for i, (b, h) in enumerate(zip(base, head)):
            compare(b, h, f"{path}[{i}]", differences, added)
    elif not same_value(base, head):
        differences.append(f"{path}: base {json.dumps(base)[:80]} head {json.dumps(head)[:80]}")


def main():
    if "--run-cases" in sys.argv:
        return run_cases()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--base", help="a commit to build and compare against")
    group.add_argument("--base-tree", type=pathlib.Path, help="a checkout with .build/release/libcfx.so")
    ap.add_argument("--head-tree", type=pathlib.Path, default=ROOT, help="the checkout to check (default: this one)")
    args = ap.parse_args()
    base_tree = args.base_tree or build_base(args.base)
    base, head = outputs(base_tree), outputs(args.head_tree)
    differences, added = [], set()
    compare(base, head, "", differences, added)
    for key in sorted({k.rsplit("/", 1)[1] for k in added}):
        print(f"new option in meta.params (not compared): {key}")
    if differences:
        print(f"{len(differences)} differences; the first:", *differences[:20], sep="\n  ")
        return 1
    print(f"same bits: {len(base)} cases ({', '.join(base)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
