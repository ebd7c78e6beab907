"""Runs a suite: cfx's methods (twice, to check that the explanations repeat), then the
comparison libraries on capped subsets of the same instances, then cfx.metrics on everything.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

import cfx
import cfx.metrics

from . import datasets, report, results
from .datasets import ROOT, Dataset
from .methods import METHODS
from .env import markdown, openblas_setting


@dataclass
class Suite:
    dataset: str
    n: int                         # cfx instances (a seeded sample of the test rows)
    alibi_n: int = 0               # alibi's cap (the first alibi_n of the same instances)
    dice_n: int = 0                # DiCE's cap; 0: DiCE does not apply (not tabular)
    methods: List[str] = field(default_factory=lambda: list(METHODS))
    seed: int = 0


SUITES: Dict[str, Suite] = {
    "tiny": Suite("iris", 5),                         # the tests: cfx only, a few iris flowers
    "iris": Suite("iris", 45, alibi_n=20, dice_n=20),  # all 45 test rows
    "breast_cancer": Suite("breast_cancer", 60, alibi_n=10, dice_n=20),
    "digits": Suite("digits", 50, alibi_n=5),
    "hmda": Suite("hmda", 60, alibi_n=20, dice_n=20),
    "fashion_mnist": Suite("fashion_mnist", 10, alibi_n=3),   # DeDUCE/JSMA: 9 targets each
}

DICE_METHODS = ("random", "genetic")
CONSTRAINT_TOL = 1e-6   # alibi works in float32: values at a bound may be off by ~1e-7


def result_stem(suite: str, dtype: str = "float64", threads: int = 1) -> str:
    """The results' file name: SUITE, with _float32 when cfx ran in float32 and _Nthreads when it
    ran on N > 1 threads (the other results stay)."""
    return suite + ("" if dtype == "float64" else f"_{dtype}") + ("" if threads == 1 else f"_{threads}threads")


def venv_python(var: str, default: str) -> Optional[pathlib.Path]:
    path = pathlib.Path(os.environ.get(var, str(ROOT / default))) / "bin" / "python"
    return path if path.exists() else None


def instances(ds: Dataset, n: int, seed: int) -> np.ndarray:
    """The suite's instance list: the first n of a seeded permutation of the test rows."""
    return np.random.default_rng(seed).permutation(len(ds.X_test))[:min(n, len(ds.X_test))]


def evaluate(ds: Dataset, model, X, X_cf, meta=None, target_class="other"):
    lo, hi = ds.feature_range
    return cfx.metrics.evaluate(
        model, X, X_cf, X_train=ds.X_train, y_train=ds.y_train, target_class=target_class, meta=meta,
        feature_range=[lo.tolist(), hi.tolist()], immutable=list(ds.immutable),
        cat_vars={int(k): int(v) for k, v in ds.cat_vars.items()}, ohe=ds.ohe, constraint_tol=CONSTRAINT_TOL)


def run_cfx(method, model, ds, X, seed, n_threads=1, min_seconds=0.5, max_repeats=7):
    """Batch calls of one explainer on X, repeated until min_seconds have passed (at most
    max_repeats). Returns the counterfactual rows (NaN: none), the meta list of the first call,
    the median wall seconds of a call, the effective config, whether every repeat gave the same
    counterfactuals, and per counterfactual its instance (row of X) and target ("other", or the
    class of a DeDUCE/JSMA (instance, target) pair)."""
    explainer = method.explainer(model, ds, n_threads=n_threads, seed=seed)
    walls, first, same = [], None, True
    while len(walls) < max_repeats and (sum(walls) < min_seconds or len(walls) < 1):
        t0 = time.perf_counter()
        exps = explainer.explain(X)
        walls.append(time.perf_counter() - t0)
        exps = exps if isinstance(exps, list) else [exps]
        cf = np.stack([np.full(X.shape[1], np.nan) if e.cf is None else np.asarray(e.cf["X"], dtype=np.float64)
                       for e in exps])
        if first is None:
            rows = [int(e.get("instance", i)) for i, e in enumerate(exps)]
            targets = [e["target_class"] if "target_class" in e else "other" for e in exps]
            first = (cf, [dict(e.meta) for e in exps], rows, targets)
        else:
            same = same and bool(np.array_equal(first[0], cf, equal_nan=True))
    return first[0], first[1], float(np.median(walls)), explainer.config, same, first[2], first[3]


def _run_entry(library, method_label, subset, result, seconds, model_calls, cf, wall=None, **extra):
    row = report.summary_row(result, seconds, model_calls)
    if wall is not None:  # cfx: the wall time of the batch call over its instances
        row["seconds_per_cf_mean"] = wall / len(cf)
        row["seconds_total"] = wall
    entry = {"library": library, "method_label": method_label, "subset": subset, "row": row,
             "l1": [None if np.isnan(v) else float(v) for v in result.instances["l1"]],
             "valid": result.instances["validity"].tolist(),
             "cf": [None if np.isnan(r).any() else r.tolist() for r in cf], "seconds": list(map(float, seconds))}
    entry.update(extra)
    return entry


def _external(cmd, job, out_dir, name):
    job_path, out_path, log_path = (out_dir / f"{name}_job.json", out_dir / f"{name}_out.json",
                                    out_dir / f"{name}.log")
    job_path.write_text(json.dumps(job))
    print(f"  {name}: {' '.join(map(str, cmd))} (log {log_path.relative_to(ROOT)})", file=sys.stderr, flush=True)
    with open(log_path, "w") as log:
        rc = subprocess.run([*map(str, cmd), "--job", str(job_path), "--out", str(out_path)], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        tail = log_path.read_text().strip().splitlines()[-3:]
        return None, f"{name} failed (exit {rc}): {' / '.join(tail)}"
    return json.loads(out_path.read_text()), None


def run_suite(name: str, out_dir: pathlib.Path, results_dir: pathlib.Path, command: str,
              n: Optional[int] = None, alibi_n: Optional[int] = None, dice_n: Optional[int] = None,
              external: bool = True, plots: bool = True, dtype: str = "float64", threads: int = 1) -> dict:
    """cfx's methods run on the model converted to ``dtype`` (Model.astype), on ``threads``
    threads; alibi keeps its own TensorFlow float32 network (TensorFlow may use every core), and every
    library's metrics use the spec's float64 model."""
    from .env import environment
    suite = SUITES[name]
    n = suite.n if n is None else n
    alibi_n = suite.alibi_n if alibi_n is None else alibi_n
    dice_n = suite.dice_n if dice_n is None else dice_n
    out_dir.mkdir(parents=True, exist_ok=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    env = environment(command)
    print(f"suite {name}: loading {suite.dataset}", file=sys.stderr, flush=True)
    ds = datasets.load(suite.dataset)
    model = cfx.Model.from_json(ds.spec)
    cfx_model = model if dtype == "float64" else model.astype(dtype)
    idx = instances(ds, n, suite.seed)
    X = ds.X_test[idx]
    proba = model.predict(X)
    orig = proba.argmax(axis=1)
    runs, notes, determinism = [], [], {}
    alibi_py = venv_python("ALIBI_VENV", "benchmarks/.venv-alibi") if external else None
    dice_py = venv_python("DICE_VENV", "benchmarks/.venv-dice") if external else None
    for key in suite.methods:
        method = METHODS[key]
        if not method.available():
            notes.append(f"{method.label}: not in this cfx build yet (cfx.{method.cfx_class} missing), skipped.")
            continue
        why = method.applies(ds)
        if why:
            notes.append(f"{method.label}: not run on this suite: {why}.")
            continue
        print(f"  cfx {method.label}: {len(X)} instances", file=sys.stderr, flush=True)
        cf, meta, wall, config, same_repeats, rows, targets = run_cfx(method, cfx_model, ds, X, suite.seed, n_threads=threads)
        cf2, _, _, _, _, _, _ = run_cfx(method, cfx_model, ds, X, suite.seed, n_threads=threads, min_seconds=0)  # a new explainer
        same = same_repeats and bool(np.array_equal(cf, cf2, equal_nan=True))
        determinism[key] = same
        pairs = rows != list(range(len(X)))
        res = evaluate(ds, model, X[rows], cf, meta, target_class=targets)
        cfx_all = _run_entry("cfx", method.label, "all" + (f" ({len(X)} instances × targets)" if pairs else ""),
                             res, [m["seconds"] for m in meta],
                             [m.get("model_calls") for m in meta], cf, wall=wall, method=key,
                             config={k: v for k, v in config.items() if k != "feature_range"},
                             repeat_identical=same, reference=True, n_subset=len(X), rows=rows, targets=targets)
        runs.append(cfx_all)
        caps = []
        if alibi_py and method.alibi and alibi_n > 0:
            caps.append(("alibi", alibi_n))
        if dice_py and dice_n > 0 and ds.tabular and key == "wachter":
            caps.append(("dice", dice_n))
        for lib, cap in caps:
            m = min(cap, len(X))
            Xs = X[:m]
            ref = next((r for r in runs if r["library"] == "cfx" and r["method"] == key and r["n_subset"] == m), None)
            if ref is None:
                cfs, metas, wall_s, _, _, _, _ = run_cfx(method, cfx_model, ds, Xs, suite.seed, n_threads=threads)
                ref = _run_entry("cfx", method.label, f"first {m} (= {lib}'s)", evaluate(ds, model, Xs, cfs, metas),
                                 [mm["seconds"] for mm in metas], [mm.get("model_calls") for mm in metas], cfs,
                                 wall=wall_s, method=key, reference=True, n_subset=m)
                runs.append(ref)
            else:
                if ref["subset"].endswith(")"):
                    ref["subset"] = ref["subset"][:-1] + f", {lib}'s)"
            if lib == "alibi":
                job = {"method": method.alibi, "spec": ds.spec, "X": Xs.tolist(), "seed": suite.seed,
                       "proba": proba[:m].tolist(),
                       "X_train": ds.X_train.tolist() if method.needs_train else [],
                       "feature_range": [ds.feature_range[0].tolist(), ds.feature_range[1].tolist()],
                       "params": method.alibi_params or {}}
                out, err = _external([alibi_py, ROOT / "benchmarks/external/run_alibi.py"], job, out_dir, f"alibi_{key}")
                if err:
                    notes.append(err)
                    continue
                ext = [(f"alibi {out['alibi_version']}", method.label, out["instances"], None)]
            else:
                desired = [int(1 - o) if ds.n_classes == 2 else int(np.argsort(p)[-2])
                           for o, p in zip(orig[:m], proba[:m])]
                vary = [f for j, f in enumerate(ds.feature_names) if j not in ds.immutable]
                job = {"methods": list(DICE_METHODS), "spec": ds.spec, "X": Xs.tolist(), "desired_class": desired,
                       "X_train": ds.X_train.tolist(), "y_train": ds.y_train.tolist(),
                       "feature_names": ds.feature_names, "seed": suite.seed,
                       "features_to_vary": vary if ds.immutable else "all"}
                out, err = _external([dice_py, ROOT / "benchmarks/external/run_dice.py"], job, out_dir, "dice")
                if err:
                    notes.append(err)
                    continue
                ext = [(f"DiCE {out['dice_version']}", f"{mname}", rows, out) for mname, rows in out["runs"].items()]
            for libname, label, rows, _ in ext:
                cf_ext = np.stack([np.full(ds.d, np.nan) if r["cf"] is None else np.asarray(r["cf"]) for r in rows])
                secs = [r["seconds"] for r in rows]
                res_ext = evaluate(ds, model, Xs, cf_ext, [{"seconds": s} for s in secs])
                entry = _run_entry(libname, label, f"first {m}", res_ext, secs, [r.get("model_calls") for r in rows],
                                   cf_ext, method=key, n_subset=m)
                entry["ratio_vs_cfx"] = report.speed_ratio(entry["row"], ref["row"])
                entry["versions"] = {k: v for k, v in out.items() if k.endswith("version") or k == "python"}
                if lib == "alibi":
                    entry["keras_max_abs_diff"] = out["keras_max_abs_diff"]
                    entry["init_seconds"] = out["init_seconds"]
                runs.append(entry)
    if alibi_n > 0 and external and not alibi_py:
        notes.append("alibi not measured: no python at $ALIBI_VENV (default benchmarks/.venv-alibi); "
                     "see benchmarks/README.md.")
    if dice_n > 0 and external and not dice_py and ds.tabular:
        notes.append("DiCE not measured: no python at $DICE_VENV (default benchmarks/.venv-dice); "
                     "run benchmarks/external/setup_dice.sh.")
    data = {"suite": name, "dtype": dtype, "threads": threads, "env": env, "dataset": {
                "name": ds.name, "d": ds.d, "n_classes": ds.n_classes, "n_train": len(ds.X_train),
                "n_test": len(ds.X_test), "model": ds.description or ds.model_source,
                "model_spec_sha256": ds.spec_sha256()[:16], "immutable": [ds.feature_names[j] for j in ds.immutable],
                "categorical": [ds.feature_names[j] for j in ds.cat_vars], "tabular": ds.tabular},
            "seed": suite.seed, "instances": idx.tolist(), "caps": {"cfx": len(X), "alibi": alibi_n, "dice": dice_n},
            "determinism": determinism, "notes": notes, "runs": runs}
    write(data, results_dir, plots, ds, X)
    return data


PAIRED = ("l1", "l2", "l1_mad", "l0", "nn_distance")
BETTER_HIGH = ("validity", "in_range", "immutable_ok", "categories_ok", "constraints_ok")


def _reference(runs, r):
    return next((c for c in runs if c["library"] == "cfx" and c["method"] == r["method"] and
                 c.get("n_subset") == r.get("n_subset")), None)


def paired(ref, r):
    """Per-instance comparison of two runs on the same instances: which found a counterfactual,
    and each distance metric's mean over the instances both found (None without per-instance
    values)."""
    a, c = r.get("per_instance"), ref.get("per_instance")
    if not a or not c:
        return None
    fa = ~np.isnan(np.asarray(a["l1"], dtype=float))
    fc = ~np.isnan(np.asarray(c["l1"], dtype=float))
    both = fa & fc
    out = {"n": int(len(fa)), "both": int(both.sum()), "only_cfx": np.where(fc & ~fa)[0].tolist(),
           "only_other": np.where(fa & ~fc)[0].tolist(), "means": {}}
    for m in PAIRED:
        va, vc = np.asarray(a[m], dtype=float)[both], np.asarray(c[m], dtype=float)[both]
        if both.any():
            out["means"][m] = (float(vc.mean()), float(va.mean()))
    return out


def cfx_worse(runs) -> List[str]:
    """Where the cfx reference row is worse than another library's row on the same instances:
    validity and constraint checks as rates over the run, distances paired over the instances
    both found (row means when there are no per-instance values), 1% tolerance."""
    out = []
    for r in runs:
        if r["library"] == "cfx":
            continue
        ref = _reference(runs, r)
        if ref is None:
            continue
        pair = paired(ref, r)
        worse = []
        for metric in BETTER_HIGH + PAIRED:
            if metric in PAIRED and pair is not None:
                if metric not in pair["means"]:
                    continue
                vc, va = pair["means"][metric]
            else:
                a, c = r["row"]["metrics"].get(metric, {}), ref["row"]["metrics"].get(metric, {})
                va, vc = a.get("mean"), c.get("mean")
                if va is None or vc is None or not a.get("n") or not c.get("n"):
                    continue
            tol = 1e-9 + 0.01 * abs(va) if metric in PAIRED else 1e-9
            if (metric in BETTER_HIGH and vc < va - tol) or (metric in PAIRED and vc > va + tol):
                worse.append(f"{metric} {vc:.3g} vs {va:.3g}")
        if worse:
            names = {w.split()[0] for w in worse}
            why = [text for (method, lib, metrics), text in REASONS.items()
                   if method == r["method"] and (r["library"] + " " + r["method_label"]).lower().startswith(lib)
                   and names & set(metrics)]
            where = f", distances over the {pair['both']} instances both found" if pair else ""
            out.append(f"cfx {ref['method_label']} is worse than {r['library']} {r['method_label']} "
                       f"({r['subset']}{where}) on: " + ", ".join(worse) + (". Why: " + " ".join(why) if why else "."))
    return out


def pairing_notes(runs) -> List[str]:
    out = []
    for r in runs:
        if r["library"] == "cfx":
            continue
        ref = _reference(runs, r)
        pair = paired(ref, r) if ref else None
        if not pair:
            continue
        means = ", ".join(f"{m} {c:.3g} vs {a:.3g}" for m, (c, a) in pair["means"].items())
        only = []
        if pair["only_cfx"]:
            only.append(f"only cfx found {len(pair['only_cfx'])} (list positions {pair['only_cfx']})")
        if pair["only_other"]:
            only.append(f"only {r['library']} found {len(pair['only_other'])} (positions {pair['only_other']})")
        out.append(f"cfx {ref['method_label']} vs {r['library']} {r['method_label']} on the {r['subset']}: both found "
                   f"{pair['both']}/{pair['n']}{'; ' + '; '.join(only) if only else ''}; over those both found, "
                   f"cfx vs {r['library'].split()[0]}: {means}.")
    return out


def range_notes(runs, ds, X) -> List[str]:
    """Why a cfx run has counterfactuals outside the training range."""
    out = []
    lo, hi = ds.feature_range
    outside = ((X < lo) | (X > hi)).any(axis=1)
    for r in runs:
        if r["library"] != "cfx" or not r.get("per_instance"):
            continue
        bad = [i for i, v in enumerate(r["per_instance"]["in_range"]) if v is not None and v == 0]
        if bad:
            orig = sum(bool(outside[i]) for i in bad)
            out.append(f"cfx {r['method_label']} ({r['subset']}): {len(bad)} counterfactual(s) outside the training range "
                       f"(positions {bad}); {orig} of their instances lie outside it themselves (test rows beyond the "
                       "training min/max). " + RANGE_REASONS.get(r["method"], ""))
    return out


RANGE_REASONS = {
    "cfproto": "CFProto's shrinkage step (alibi's formula, which cfx follows) keeps a feature that moved less than "
               "beta at the original value and clips only the bound on the side it moves away from, so a feature "
               "of an instance outside the range can stay outside. Wachter clips every feature at every step.",
}


#: Why cfx can be worse than another library on a metric: (cfx method, library, metrics) -> reason.
REASONS = {
    ("wachter", "dice 0.12 genetic", ("nn_distance", "l0")):
        "DiCE genetic seeds its population with training rows of the desired class near the query (a k-d "
        "tree of the training data) and returns a point close to one of them: near a training row by "
        "construction, with most features changed.",
    ("wachter", "dice", ("l1", "l2", "l1_mad", "nn_distance")):
        "Wachter (cfx and alibi alike) asks for p_target >= 0.95 (target_proba 1, tol 0.05, the documented "
        "defaults), DiCE only for crossing the decision boundary (see the p target column): going further "
        "into the target class costs distance. A different objective, not a weaker search.",
    ("wachter", "dice", ("l0",)):
        "Wachter's loss has no sparsity term and its Adam steps move every feature a little; DiCE random "
        "changes a few features by construction and DiCE genetic rounds values to the data's precision.",
    ("wachter", "dice", ("categories_ok", "constraints_ok")):
        "The suite gives no method the one-hot groups as categories: Wachter has none (as in alibi) and "
        "the suite runs CFProto without cat_vars (its categorical mode searches one column per variable, "
        "with feature ranges per variable: not wired into the suite yet), so their one-hot columns take "
        "fractional values; DiCE rounds every column to the data's precision (0/1 here), which now and "
        "then gives a valid one-hot group.",
    ("wachter", "alibi", ("l1", "l2", "l1_mad", "l0", "nn_distance")):
        "cfx and alibi run the same algorithm; cfx's search works in float64 (its network in the run's "
        "dtype) and alibi in float32, and the lambda search can end on a different lambda from such "
        "differences, which moves individual counterfactuals.",
    ("wachter", "alibi", ("validity",)):
        "see the per-instance results in the JSON: the lambda search of the two libraries can end differently.",
    ("cfproto", "alibi", ("l1", "l2", "l1_mad", "l0", "nn_distance")):
        "cfx and alibi run the same FISTA search; cfx's search works in float64 (its network in the run's "
        "dtype) and alibi in float32, the FISTA momentum differs slightly (README: cfx uses the previous "
        "iterate, alibi's graph reads it while updating it), and the c bisection can end on a different c "
        "from such differences.",
    ("cfproto", "alibi", ("validity",)):
        "see the per-instance results in the JSON: the c search of the two libraries can end differently.",
}


def rewrite(results_dir: pathlib.Path, name: str, plots: bool = True, dtype: str = "float64", threads: int = 1) -> dict:
    """Writes a suite's Markdown and plots again from its JSON (after a change to the report)."""
    data = results.load_suite(results_dir / f"{result_stem(name, dtype, threads)}.json")
    ds = datasets.load(SUITES[name].dataset)
    write(data, results_dir, plots, ds, ds.X_test[np.asarray(data["instances"])])
    return data


def write(data, results_dir, plots, ds, X):
    name = data["suite"]
    dtype, threads = data.get("dtype", "float64"), data.get("threads", 1)
    stem = result_stem(name, dtype, threads)
    env = data["env"]
    setup = ([f"cfx in {dtype}"] if dtype != "float64" else []) + ([f"cfx on {threads} threads"] if threads != 1 else [])
    md = [f"# Benchmark suite `{name}`" + (f" ({', '.join(setup)})" if setup else ""), ""]
    md.extend(markdown(env)[:2])            # date, machine
    md.append(f"- cfx {env['cfx_version']}, commit `{env['commit']}`"
              f"{' (plus uncommitted changes)' if env['dirty'] else ''}, libcfx.so sha256 `{env['libcfx_sha256']}`, "
              f"Python {env['python']}")
    envs = {}
    for r in data["runs"]:
        v = r.get("versions") or {}
        if v:
            lib = r["library"]
            extra = [f"{k.replace('_version', '')} {x}" for k, x in sorted(v.items()) if k not in (
                "alibi_version", "dice_version")]
            envs[lib] = f"{lib} ({', '.join(extra)})"
    if envs:
        md.append("- comparison environments: " + "; ".join(envs.values()))
    md.append(f"- command: `{env['command']}`")
    if "openblas_env" in env:
        md.append(f"- OpenBLAS environment: {openblas_setting(env['openblas_env'])}")
    md.append(f"- cfx networks: {dtype}" + ("" if dtype == "float64" else
              " (`Model.astype`; alibi runs its own TensorFlow float32 network; every library's metrics and "
              "validity use the spec's float64 model)"))
    d = data["dataset"]
    md.append(f"- data: {d['name']} ({d['n_train']} training rows, {d['n_test']} test rows, {d['d']} features, "
              f"{d['n_classes']} classes); model: {d['model']} (spec sha256 `{d['model_spec_sha256']}`)")
    caps = data["caps"]
    md.append(f"- instances: {caps['cfx']} test rows, a permutation with seed {data['seed']} (indices in the JSON); "
              f"alibi capped at the first {caps['alibi']} and DiCE at the first {caps['dice']} of them "
              "(they take seconds per counterfactual)")
    if d["immutable"] or d["categorical"]:
        md.append(f"- constraints: immutable {d['immutable'] or 'none'}; 0/1 categories {d['categorical'] or 'none'}")
    md.append("")
    md.append(report.table(data["runs"])[0])
    md.extend(report.table(data["runs"])[1:])
    md.append("")
    md.append("Metrics from `cfx.metrics.evaluate` for every library (README, Metrics): **valid** = the predicted "
              "class changed (target_class \"other\"; DeDUCE and JSMA: it is the pair's target class), over all N; distances (standardised units for tabular data), "
              "**MAD-L1**, **L0** (changes > 1e-6), **NN dist** (L2 to the nearest training row of the "
              "counterfactual's class, labels y_train) and the checks are means over the counterfactuals found. "
              f"**in range**: within the training range of every feature (±{CONSTRAINT_TOL:g}), passed to every "
              "library as its feature range. **s / cf**: cfx = wall time of one `explain` batch call on "
              f"{threads} thread{'s' if threads != 1 else ''} / N; "
              "others = mean of per-instance calls. **time vs cfx**: mean seconds per counterfactual over cfx's on "
              "the same instances, same run.")
    det = data["determinism"]
    if det:
        md.append("")
        md.append("Repeatability: cfx ran each method twice on the same instances; identical counterfactuals: "
                  + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in det.items()) + ".")
    model = cfx.Model.from_json(ds.spec)
    for r in data["runs"]:
        m = r.get("n_subset", len(r["cf"]))
        cf = np.stack([np.full(ds.d, np.nan) if v is None else np.asarray(v, dtype=np.float64) for v in r["cf"]])
        res = (evaluate(ds, model, X[r["rows"]], cf, target_class=r["targets"]) if r.get("rows") is not None
               else evaluate(ds, model, X[:m], cf))
        r["per_instance"] = {k: [None if np.isnan(v) else float(v) for v in res.instances[k].astype(float)]
                             for k in PAIRED + ("in_range",)}
    worse = cfx_worse(data["runs"])
    pairs = pairing_notes(data["runs"])
    ranges = range_notes(data["runs"], ds, X)
    data["cfx_worse"] = worse
    if worse or pairs or ranges or data["notes"]:
        md.append("")
        md.append("## Notes")
        md.append("")
        md.extend(f"- {w}" for w in pairs + worse + ranges + data["notes"])
    if plots:
        report.plots(stem, data["runs"], results_dir / f"{stem}.png")
        md.append("")
        md.append(f"![{stem}]({stem}.png)")
        if ds.image_shape:
            first = next((r for r in data["runs"] if r["library"] == "cfx" and r["cf"][0] is not None), None)
            if first:
                report.image_plot(X[0], np.asarray(first["cf"][0]), ds.image_shape,
                                  f"{name}: cfx {first['method_label']}, instance {data['instances'][0]}",
                                  results_dir / f"{stem}_example.png")
                md.append(f"![example]({stem}_example.png)")
    md.append("")
    (results_dir / f"{stem}.md").write_text("\n".join(md))
    results.save_suite(results_dir / f"{stem}.json", data)
