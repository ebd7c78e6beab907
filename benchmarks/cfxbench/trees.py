"""Counterfactuals of a 100-tree random forest: cfx's tree methods against the ℓ1 optimum and DiCE.

Per data set (breast cancer: 30 continuous features; HMDA: 4 continuous and 8 categorical, one-hot
in 26 columns, ``black`` immutable), a scikit-learn RandomForestClassifier(n_estimators=100,
random_state=0; HMDA's of depth 5, see DATASETS) on the suite's standardised training split,
loaded by cfx from its skl2onnx file (FLOAT input). The instances are the first --rows of a permutation of the test rows (seed 0);
cfx's methods also run on every test row (validity and time). On the same rows:

- every cfx method of CFX_METHODS that the loaded library has (the others are listed as skipped),
  one batch call on one thread (after its fit on the training rows, timed with it, where the
  table says so), with the data set's constraints: the training range as ``feature_range``, the
  immutable features, and the one-hot groups where the method takes them;
- the ℓ1-optimal counterfactual by a MILP after OCEAN (cfxbench/tree_milp.py, HiGHS through
  scipy; --time-limit seconds per row), in the same box with the same constraints;
- DiCE (dice-ml, `random` and `genetic`, model-agnostic) on the pickled forest itself, its one-hot
  groups as categorical features, immutable features not varied, one counterfactual per row, in
  its own venv (DICE_VENV, default benchmarks/.venv-dice: benchmarks/external/setup_dice.sh).

Validity is scikit-learn's own prediction of the counterfactual (as float32, as the forest sees
it). ℓ1 and ℓ0 are in the data's units (standardised features, 0/1 one-hot columns) for every
method; constraint checks are cfx.metrics' (training range, immutable features, one category per
group; tolerance 1e-6). Writes results/trees_forest.{md,json}. Needs scikit-learn, scipy and
skl2onnx; DiCE only through its venv.
"""
import os
import pickle
import tempfile
import time

import numpy as np

from . import OUT, RESULTS
from . import env as provenance
from .datasets import load
from .results import write_json

# The cfx methods the benchmark runs: label -> (binding class, parameters beyond the data set's
# constraints, whether it is fitted on the training rows). Adding a method is one line; one the
# loaded library lacks is skipped with a note.
CFX_METHODS = {
    "Feature Tweaking": ("FeatureTweaking", {"distance": "l1", "epsilon": 0.01}, False),
    "Feature Tweaking + sparsify": ("FeatureTweaking", {"distance": "l1", "epsilon": 0.01, "sparsify": True}, False),
    "Feature Tweaking + sparsify + shrink": ("FeatureTweaking", {"distance": "l1", "epsilon": 0.01, "sparsify": True,
                                                                 "shrink": True}, False),
    "Genetic": ("Genetic", {}, True),
    # FOCUS: cfx's defaults (ℓ1, patience, sparsify and the threshold shrink), the same search without
    # the passes after it, and the authors' code's defaults with the paper's Euclidean distance, every
    # step taken and no retry (docs/methods/focus.md).
    "FOCUS": ("FOCUS", {}, False),
    "FOCUS, search only": ("FOCUS", {"sparsify": False, "shrink": False}, False),
    "FOCUS, paper's defaults": ("FOCUS", {"distance": "l2", "sigma": 1.0, "temperature": 1.0, "beta": 0.01,
                                          "learning_rate": 0.001, "max_steps": 1000, "patience": 0, "retry": False,
                                          "sparsify": False, "shrink": False}, False),
}
# data set -> the forest's max_depth (None: scikit-learn's default, unlimited). HMDA's unlimited
# forest (1785 training rows) grows 22,778 leaves to depth 28, and depth 6 still 3,469 leaves: HiGHS
# proves no optimum within 20 s a row there on this machine; at depth 5 (2,255 leaves) it does.
DATASETS = {"breast_cancer": None, "hmda": 5}
DICE_METHODS = ("random", "genetic")
TREES = 100


def add_arguments(parser) -> None:
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--rows", type=int, default=20,
                        help="test rows compared with the MILP and DiCE, per data set (default 20)")
    parser.add_argument("--time-limit", type=float, default=20.0,
                        help="HiGHS's seconds per row; a row not proven optimal by then counts as feasible only "
                             "(default 20)")
    parser.add_argument("--no-dice", action="store_true", help="skip DiCE")
    parser.add_argument("--no-milp", action="store_true", help="skip the MILP")
    parser.add_argument("--no-cache", action="store_true",
                        help="solve every row's MILP, ignoring the cached proven optima (results/trees_optima.json)")
    parser.add_argument("--optima-only", action="store_true",
                        help="only solve the rows' MILPs not in the cache and add the proven optima to it (no methods, "
                             "no result file); give a generous --time-limit")


def available(cls_name, params=()):
    """None when the loaded library and binding have the method and its parameters, else why not."""
    import cfx
    if not hasattr(cfx, cls_name):
        return f"the Python binding has no cfx.{cls_name}"
    try:
        keys = cfx.default_config(getattr(cfx, cls_name).method)
    except cfx.errors.Error as e:
        return f"the loaded libcfx does not have it ({e})"
    unknown = [k for k in params if k not in keys]
    return f"the loaded libcfx's method has no {', '.join(unknown)}" if unknown else None


def one_hot_groups(ds):
    """[(group name, [columns])] of a data set's one-hot categorical features."""
    if not ds.ohe:
        return []
    return [(ds.feature_names[first].split("=")[0], list(range(first, first + n)))
            for first, n in sorted(ds.cat_vars.items())]


def forest_onnx(ds, depth):
    """The scikit-learn forest and its skl2onnx file's bytes (deterministic: random_state=0)."""
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier
    X = ds.X_train.astype(np.float32)
    forest = RandomForestClassifier(n_estimators=TREES, max_depth=depth, random_state=0).fit(X, ds.y_train)
    return forest, to_onnx(forest, X[:1], options={id(forest): {"zipmap": False}}).SerializeToString()


def forest_model(ds, forest, onnx_bytes, work):
    """cfx's copy of the forest (from its ONNX file) and their largest difference in probability
    on the test rows."""
    import cfx
    path = os.path.join(work, "forest.onnx")
    with open(path, "wb") as f:
        f.write(onnx_bytes)
    model = cfx.Model.load(path)
    X_test = ds.X_test.astype(np.float32)
    agreement = float(np.abs(model.predict(X_test.astype(np.float64)) - forest.predict_proba(X_test)).max())
    return model, agreement


def cfx_params(cls_name, params, ds):
    """The method's parameters plus the data set's constraints it has keys for."""
    import cfx
    keys = cfx.default_config(getattr(cfx, cls_name).method)
    lo, hi = ds.feature_range
    extra = {"feature_range": [lo.tolist(), hi.tolist()], "immutable": list(ds.immutable), "n_threads": 1,
             "cat_vars": {str(k): int(v) for k, v in ds.cat_vars.items()}, "ohe": ds.ohe, "seed": 0}
    return {**{k: v for k, v in extra.items() if k in keys and (v or k == "n_threads")}, **params}


def run_cfx(model, ds, X):
    """Every method of CFX_METHODS on the rows of X: {label: (counterfactuals, seconds per row)} and
    {label: why skipped}."""
    import cfx
    runs, skipped = {}, {}
    for label, (cls_name, params, fit) in CFX_METHODS.items():
        why = available(cls_name, params)
        if why:
            skipped[label] = why
            continue
        explainer = getattr(cfx, cls_name)(model, **cfx_params(cls_name, params, ds))
        start = time.perf_counter()
        if fit:
            explainer.fit(ds.X_train)
        exps = explainer.explain(X)
        seconds = (time.perf_counter() - start) / len(X)
        runs[label] = (np.array([e.cf["X"] if e.cf is not None else np.full(X.shape[1], np.nan) for e in exps]), seconds)
    return runs, skipped


def run_milp(forest, ds, X, targets, args, fingerprint):
    """The MILP's counterfactuals (NaN: none) and its per-row status and seconds, each row's proven
    optimum taken from the cache (tree_optima.py) when its fingerprints match, else solved within
    args.time_limit (and, with --optima-only, added to the cache when proven)."""
    from .tree_milp import ForestMILP
    from .tree_optima import OptimaCache, cached_solution, problem_key
    everything = np.vstack([ds.X_train, ds.X_test, X])  # X: the float32 values, which may lie just outside
    groups = [g for _, g in one_hot_groups(ds)]
    milp = ForestMILP(forest, everything.min(axis=0), everything.max(axis=0), groups)
    cache = OptimaCache()
    cfs, rows = np.full(X.shape, np.nan), []
    for i, (x, t) in enumerate(zip(X, targets)):
        key = problem_key(x, t, ds.feature_range, ds.immutable, groups)
        entry = None if args.no_cache else cache.get(ds.name, fingerprint, key)
        sol = cached_solution(entry) if entry else milp.solve(x, int(t), ds.feature_range, immutable=ds.immutable,
                                                              time_limit=args.time_limit)
        if sol.x is not None:
            cfs[i] = sol.x
        if args.optima_only and not entry:
            valid = sol.x is not None and forest.predict(sol.x[None].astype(np.float32))[0] == t
            cache.put(ds.name, fingerprint, key, sol, x, args.time_limit, valid)
            cache.save()
        rows.append({"optimal": sol.optimal, "found": sol.x is not None, "seconds": sol.seconds, "bound": sol.bound,
                     "cached_time_limit": entry["time_limit"] if entry else None})
        print(f"  milp [{i}] {sol.seconds:.1f} s, {'cached optimum' if entry else 'optimal' if sol.optimal else 'found' if sol.x is not None else 'none'}",
              flush=True)
    return cfs, rows


def run_dice(forest, ds, X, targets, work, name):
    """DiCE's random and genetic counterfactuals on the pickled forest: {label: (cfs, seconds per
    row)}, DiCE's version, and a note when it did not run."""
    from .suite import _external, venv_python
    python = venv_python("DICE_VENV", "benchmarks/.venv-dice")
    if python is None:
        return {}, None, "DiCE not run: no python at $DICE_VENV (default benchmarks/.venv-dice); run benchmarks/external/setup_dice.sh"
    pickled = os.path.join(work, "forest.pkl")
    with open(pickled, "wb") as f:
        pickle.dump(forest, f)
    groups = one_hot_groups(ds)
    fixed = {g for g, cols in groups if set(cols) & set(ds.immutable)} | \
        {ds.feature_names[j] for j in ds.immutable if not any(j in cols for _, cols in groups)}
    grouped = {j for _, cols in groups for j in cols}
    names = [n for j, n in enumerate(ds.feature_names) if j not in grouped] + [g for g, _ in groups]
    job = {"methods": list(DICE_METHODS), "model_pickle": pickled, "X": X.tolist(), "desired_class": targets.tolist(),
           "X_train": ds.X_train.tolist(), "y_train": ds.y_train.tolist(), "feature_names": ds.feature_names,
           "one_hot": dict(groups), "features_to_vary": [n for n in names if n not in fixed] if fixed else "all", "seed": 0}
    out_dir = OUT / "trees"
    out_dir.mkdir(parents=True, exist_ok=True)
    out, err = _external([python, provenance.ROOT / "benchmarks/external/run_dice.py"], job, out_dir, f"dice_{name}")
    if err:
        return {}, None, f"DiCE failed: {err}"
    runs = {}
    for method, rows in out["runs"].items():
        cfs = np.array([r["cf"] if r["cf"] is not None else [np.nan] * X.shape[1] for r in rows], dtype=np.float64)
        runs[f"DiCE {method}"] = (cfs, float(np.mean([r["seconds"] for r in rows])))
    return runs, out["dice_version"], None


def scores(forest, model, ds, X, cfs, orig):
    """Per row: found, valid on scikit-learn's forest, ℓ1, ℓ0 and the constraint checks."""
    from .suite import evaluate
    found = ~np.isnan(cfs).any(axis=1)
    valid = np.zeros(len(X), bool)
    if found.any():
        valid[found] = forest.predict(cfs[found].astype(np.float32)) != orig[found]
    m = evaluate(ds, model, X, cfs).instances
    return {"found": found, "valid": valid, "l1": m["l1"], "l0": m["l0"], "in_range": m["in_range"],
            "immutable_ok": m["immutable_ok"], "categories_ok": m["categories_ok"]}


def summary(s, seconds):
    """A method's table row from its per-row scores."""
    v, f = s["valid"], s["found"]
    broken = lambda key: int(np.sum(s[key][f] == 0)) if f.any() else 0  # noqa: E731
    return {"rows": len(v), "valid": int(v.sum()), "validity": float(v.mean()),
            "mean_l1": float(np.mean(s["l1"][v])) if v.any() else None,
            "mean_l0": float(np.mean(s["l0"][v])) if v.any() else None,
            "found": int(f.sum()), "out_of_range": broken("in_range"), "immutable_changed": broken("immutable_ok"),
            "categories_broken": broken("categories_ok"),
            "ms_per_counterfactual": 1000 * seconds}


def against(s, ref, mask=None):
    """ℓ1 and ℓ0 means of a method and a reference on the rows both have valid (and ``mask``)."""
    both = s["valid"] & ref["valid"] & (True if mask is None else mask)
    if not both.any():
        return {"rows": 0}
    return {"rows": int(both.sum()), "l1": float(s["l1"][both].mean()), "ref_l1": float(ref["l1"][both].mean()),
            "l0": float(s["l0"][both].mean()), "ref_l0": float(ref["l0"][both].mean()),
            "l1_ratio": float(s["l1"][both].mean() / ref["l1"][both].mean()),
            "l0_ratio": float(s["l0"][both].mean() / max(ref["l0"][both].mean(), 1e-12))}


def mean_gap(l1, milp_rows):
    """The mean relative gap (ℓ1 − HiGHS's lower bound) / ℓ1 of the rows solved but not proven
    optimal, or None."""
    gaps = [(v - r["bound"]) / v for v, r in zip(l1, milp_rows)
            if r["found"] and not r["optimal"] and r["bound"] is not None and v > 0]
    return float(np.mean(gaps)) if gaps else None


def closer_than_optimum(per_row, optimal, d) -> dict:
    """A check of the MILP: per method, the rows where a valid counterfactual within every
    constraint is closer in ℓ1 than a proven optimum by more than the program's margins can cost
    (a point at most δ = 1e-4 nearer each of the d features' thresholds: d · 1e-4); none is
    expected."""
    from .tree_milp import DELTA_RIGHT
    milp = per_row["MILP optimum"]
    out = {}
    for label, s in per_row.items():
        ok = s["valid"] & optimal & (s["in_range"] == 1) & (s["immutable_ok"] == 1) & (s["categories_ok"] != 0)
        out[label] = int(np.sum(ok & (s["l1"] < milp["l1"] - d * DELTA_RIGHT)))
    return out


def outside(ds, X) -> int:
    """How many rows of X lie outside the training range already (their counterfactuals count as
    out of range unless the method moves them in)."""
    lo, hi = ds.feature_range
    return int(np.sum(((X < lo - 1e-6) | (X > hi + 1e-6)).any(axis=1)))


def run_dataset(name, args, work):
    from .tree_optima import forest_fingerprint
    ds = load(name)
    forest, onnx_bytes = forest_onnx(ds, DATASETS[name])
    fingerprint = forest_fingerprint(onnx_bytes)
    order = np.random.default_rng(0).permutation(len(ds.X_test))
    X_all = ds.X_test[order].astype(np.float32).astype(np.float64)  # the values the FLOAT-input forest sees
    X = X_all[:args.rows]
    orig_all = forest.predict(X_all.astype(np.float32))
    orig, targets = orig_all[:args.rows], 1 - orig_all[:args.rows]
    if args.optima_only:
        run_milp(forest, ds, X, targets, args, fingerprint)
        return None
    model, agreement = forest_model(ds, forest, onnx_bytes, work)
    all_rows, skipped = run_cfx(model, ds, X_all)
    runs = {label: (cfs[:args.rows], seconds) for label, (cfs, seconds) in all_rows.items()}
    result = {"dataset": name, "features": ds.d, "trees": TREES, "max_depth": DATASETS[name],
              "leaves": int(sum(e.get_n_leaves() for e in forest.estimators_)),
              "depth": int(max(e.get_depth() for e in forest.estimators_)),
              "accuracy": float(forest.score(ds.X_test.astype(np.float32), ds.y_test)), "agreement": agreement, "rows": len(X),
              "instances": order[:args.rows].tolist(), "test_rows": len(X_all), "skipped": skipped, "notes": [],
              "outside_range": {"test_rows": outside(ds, X_all), "rows": outside(ds, X)},
              "all_rows": {label: summary(scores(forest, model, ds, X_all, cfs, orig_all), seconds)
                           for label, (cfs, seconds) in all_rows.items()}}
    if not args.no_dice:
        dice, version, note = run_dice(forest, ds, X, targets, work, name)
        runs.update(dice)
        result["dice_version"] = version
        result["notes"] += [note] if note else []
    milp_rows = None
    if not args.no_milp:
        cfs, milp_rows = run_milp(forest, ds, X, targets, args, fingerprint)
        runs["MILP optimum"] = (cfs, float(np.mean([r["seconds"] for r in milp_rows])))
    per_row = {label: scores(forest, model, ds, X, cfs, orig) for label, (cfs, _) in runs.items()}
    result["methods"] = {label: summary(per_row[label], seconds) for label, (_, seconds) in runs.items()}
    genetic = per_row.get("DiCE genetic")
    optimal = None
    if milp_rows:  # a proven point scikit-learn's forest does not predict as the target is no optimum here
        optimal = np.array([r["optimal"] for r in milp_rows]) & per_row["MILP optimum"]["valid"].astype(bool)
    for label, s in per_row.items():
        row = result["methods"][label]
        if genetic is not None and label != "DiCE genetic":
            row["vs_dice_genetic"] = against(s, genetic)
            row["vs_dice_genetic"]["speedup"] = runs["DiCE genetic"][1] / runs[label][1]
        if optimal is not None and label != "MILP optimum":
            row["vs_optimum"] = against(s, per_row["MILP optimum"], optimal)
    if milp_rows:
        cached = [r["cached_time_limit"] for r in milp_rows if r["cached_time_limit"] is not None]
        result["milp"] = {"closer_than_optimum": closer_than_optimum(per_row, optimal, ds.d), "forest_onnx_sha256": fingerprint,
                          "time_limit": args.time_limit, "optimal": int(optimal.sum()),
                          "proven_but_invalid": int(sum(r["optimal"] for r in milp_rows) - optimal.sum()),
                          "cached": len(cached), "cached_time_limits": sorted(set(cached)),
                          "feasible_only": int(sum(r["found"] and not r["optimal"] for r in milp_rows)),
                          "none": int(sum(not r["found"] for r in milp_rows)),
                          "median_seconds": float(np.median([r["seconds"] for r in milp_rows])),
                          "mean_gap_feasible_only": mean_gap(per_row["MILP optimum"]["l1"], milp_rows),
                          "valid_on_sklearn": int(per_row["MILP optimum"]["valid"].sum())}
    return result


def main(args) -> int:
    from .tree_report import report, targets
    if args.optima_only:
        for name in args.datasets:
            run_dataset(name, args, None)
        return 0
    env = provenance.environment(provenance.harness_command())
    with tempfile.TemporaryDirectory() as work:
        sets = [run_dataset(name, args, work) for name in args.datasets]
    env["loadavg_at_end"] = provenance.load_average()
    result = {"environment": env, "trees": TREES, "time_limit": args.time_limit, "datasets": sets}
    result["targets"] = targets(result)
    write_json(RESULTS / "trees_forest.json", result)
    text = report(result)
    (RESULTS / "trees_forest.md").write_text(text)
    print(text)
    return 0
