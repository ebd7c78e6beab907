"""Sparse and diverse counterfactuals (issue 14) against DiCE 0.12: cfx's Wachter and CFProto with
and without `sparsify`, and their diverse sets (`n_counterfactuals`), next to DiCE random and
genetic with one counterfactual and with sets, on the same model and instances in the same run.
Every number comes from cfx.metrics (evaluate and evaluate_sets).

    python3 benchmarks/harness.py suite --sparse-diverse iris [--n 30] [--k 4]
"""
from __future__ import annotations

import pathlib
import sys
import time
from typing import Dict, List

import numpy as np

import cfx
import cfx.metrics

from . import datasets
from .methods import METHODS
from .suite import CONSTRAINT_TOL, _external, instances, venv_python
from .results import write_json

DATASETS = ("iris", "breast_cancer", "hmda")
ROOT = datasets.ROOT


def _options(ds):
    lo, hi = ds.feature_range
    return dict(feature_range=[lo.tolist(), hi.tolist()], immutable=list(ds.immutable),
                cat_vars={int(k): int(v) for k, v in ds.cat_vars.items()}, ohe=ds.ohe,
                constraint_tol=CONSTRAINT_TOL)


def _cfx_runs(k: int):
    """(label, suite method, extra config, set size)."""
    runs = []
    for key, label in (("wachter", "Wachter"), ("cfproto", "CFProto")):
        runs += [(label, key, {}, 1), (f"{label} + sparsify", key, {"sparsify": True}, 1),
                 (f"{label} set k={k}", key, {"n_counterfactuals": k}, k),
                 (f"{label} set k={k} + sparsify", key, {"n_counterfactuals": k, "sparsify": True}, k)]
    return runs


def _explain(key, extra, model, ds, X, seed, repeats=3):
    """Explanations of X on one thread and the median wall seconds of the batch call."""
    params = dict(METHODS[key].params(ds))
    params.update(extra, n_threads=1, seed=seed)
    explainer = getattr(cfx, METHODS[key].cfx_class)(model, **params)
    explainer.fit(ds.X_train)  # CFProto: prototypes; Wachter: the MADs of sparsify and sets
    walls, exps = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        exps = explainer.explain(X)
        walls.append(time.perf_counter() - t0)
    return exps, float(np.median(walls)), explainer.config


def _single(model, ds, X, cf, seconds):
    res = cfx.metrics.evaluate(model, X, cf, X_train=ds.X_train, y_train=ds.y_train, **_options(ds))
    m = lambda name: float(res.summary[name]["mean"])  # noqa: E731
    return {"n": len(X), "valid": m("validity"), "l0": m("l0"), "l1": m("l1"), "l1_mad": m("l1_mad"),
            "seconds_per_instance": seconds,
            "per_instance": {"l0": res.instances["l0"].tolist(), "l1": res.instances["l1"].tolist(),
                             "valid": res.instances["validity"].tolist()}}


def _sets(model, ds, X, cfs, seconds):
    res = cfx.metrics.evaluate_sets(model, X, cfs, X_train=ds.X_train, y_train=ds.y_train, **_options(ds))
    sets = res.sets
    return {"n": len(X), "k": int(cfs.shape[1]), "all_valid": float(sets["all_valid"].mean()),
            "members_valid_mean": float(sets["members_valid"].mean()),
            "members_found_mean": float(sets["members_found"].mean()),
            "diversity_mad": float(np.nanmean(sets["diversity_mad"])) if np.isfinite(sets["diversity_mad"]).any() else None,
            "count_diversity": float(np.nanmean(sets["count_diversity"])) if np.isfinite(sets["count_diversity"]).any() else None,
            "diversity_l1": float(np.nanmean(sets["diversity"])) if np.isfinite(sets["diversity"]).any() else None,
            "member_l0": float(res.members.summary["l0"]["mean"]), "member_l1": float(res.members.summary["l1"]["mean"]),
            "seconds_per_set": seconds,
            "per_set": {k: np.asarray(v, dtype=float).tolist() for k, v in sets.items()}}


def _pad(sets: List[List[List[float]]], k: int, d: int) -> np.ndarray:
    out = np.full((len(sets), k, d), np.nan)
    for i, s in enumerate(sets):
        for j, c in enumerate(s[:k]):
            out[i, j] = c
    return out


def run(dataset: str, n: int, k: int, out_dir: pathlib.Path, results_dir: pathlib.Path, command: str,
        seed: int = 0, external: bool = True) -> dict:
    from .env import environment
    env = environment(command)
    out_dir.mkdir(parents=True, exist_ok=True)
    ds = datasets.load(dataset)
    model = cfx.Model.from_json(ds.spec)
    idx = instances(ds, n, seed)
    X = ds.X_test[idx]
    proba = model.predict(X)
    orig = proba.argmax(axis=1)
    rows: Dict[str, dict] = {}
    notes: List[str] = []
    for label, key, extra, size in _cfx_runs(k):
        print(f"  cfx {label}", file=sys.stderr, flush=True)
        exps, wall, config = _explain(key, extra, model, ds, X, seed)
        if size == 1:
            cf = np.stack([np.full(ds.d, np.nan) if e.cf is None else np.asarray(e.cf["X"]) for e in exps])
            rows[label] = {"library": "cfx", **_single(model, ds, X, cf, wall / len(X))}
            if extra.get("sparsify"):
                rows[label]["restored_mean"] = float(np.mean([e.cf["restored"] for e in exps if e.cf is not None]))
        else:
            cfs = _pad([[c["X"] for c in (e.get("cfs") or [])] for e in exps], size, ds.d)
            rows[label] = {"library": "cfx", **_sets(model, ds, X, cfs, wall / len(X))}
        rows[label]["config"] = {kk: v for kk, v in config.items() if kk not in ("feature_range",)}
    dice_py = venv_python("DICE_VENV", "benchmarks/.venv-dice") if external else None
    versions = {}
    if dice_py:
        desired = [int(1 - o) if ds.n_classes == 2 else int(np.argsort(p)[-2]) for o, p in zip(orig, proba)]
        vary = [f for j, f in enumerate(ds.feature_names) if j not in ds.immutable]
        for size in (1, k):
            job = {"methods": ["random", "genetic"], "spec": ds.spec, "X": X.tolist(), "desired_class": desired,
                   "X_train": ds.X_train.tolist(), "y_train": ds.y_train.tolist(), "feature_names": ds.feature_names,
                   "seed": seed, "features_to_vary": vary if ds.immutable else "all", "total_cfs": size}
            out, err = _external([dice_py, ROOT / "benchmarks/external/run_dice.py"], job, out_dir, f"dice_{dataset}_k{size}")
            if err:
                notes.append(err)
                continue
            versions = {kk: v for kk, v in out.items() if kk.endswith("version") or kk == "python"}
            for method, results in out["runs"].items():
                secs = float(np.mean([r["seconds"] for r in results]))
                if size == 1:
                    cf = np.stack([np.full(ds.d, np.nan) if r["cf"] is None else np.asarray(r["cf"]) for r in results])
                    rows[f"DiCE {method}"] = {"library": "dice", **_single(model, ds, X, cf, secs)}
                else:
                    cfs = _pad([r.get("cfs") or [] for r in results], size, ds.d)
                    rows[f"DiCE {method} set k={size}"] = {"library": "dice", **_sets(model, ds, X, cfs, secs)}
    elif external:
        notes.append("DiCE not measured: no python at $DICE_VENV (default benchmarks/.venv-dice); run benchmarks/external/setup_dice.sh.")
    notes.append("DiCE's gradient method needs its PyTorch or TensorFlow backend, which is not installed in the DiCE "
                 "venv (benchmarks/external/setup_dice.sh installs dice-ml only): not run.")
    data = {"dataset": dataset, "env": env, "versions": versions, "n": len(X), "k": k, "seed": seed,
            "instances": idx.tolist(), "model": ds.description or ds.model_source, "rows": rows, "notes": notes}
    data["targets"] = targets(data)
    results_dir.mkdir(parents=True, exist_ok=True)
    write_json(results_dir / f"{dataset}.json", data)
    (results_dir / f"{dataset}.md").write_text(markdown(data))
    return data


def targets(data) -> List[str]:
    """The issue's targets, checked on this run's numbers."""
    rows, k, out = data["rows"], data["k"], []
    genetic, random_set = rows.get("DiCE genetic"), rows.get(f"DiCE random set k={k}")
    for m in ("Wachter", "CFProto"):
        plain, sparse = rows[m], rows[f"{m} + sparsify"]
        ok_valid = sparse["valid"] == 1.0
        ok_l1 = sparse["l1"] <= 1.1 * plain["l1"]
        line = (f"{m} + sparsify: valid {sparse['valid']:.0%} ({'met' if ok_valid else 'NOT met'}); "
                f"L1 {sparse['l1']:.3f} vs {plain['l1']:.3f} without ({'met' if ok_l1 else 'NOT met'}, <= +10%)")
        if genetic:
            ok_l0 = sparse["l0"] <= genetic["l0"]
            line += f"; L0 {sparse['l0']:.2f} vs DiCE genetic {genetic['l0']:.2f} ({'met' if ok_l0 else 'NOT met'})"
        out.append(line)
        for variant in (f"{m} set k={k}", f"{m} set k={k} + sparsify"):
            s = rows[variant]
            line = f"{variant}: every member valid in {s['all_valid']:.0%} of sets ({'met' if s['all_valid'] == 1.0 else 'NOT met'})"
            if random_set:
                for metric in ("diversity_mad", "count_diversity"):
                    a, b = s[metric], random_set[metric]
                    if a is not None and b is not None:
                        line += f"; {metric} {a:.3f} vs DiCE random {b:.3f} ({'met' if a >= b else 'NOT met'})"
                ratio = random_set["seconds_per_set"] / s["seconds_per_set"]
                genetic_set = rows.get(f"DiCE genetic set k={k}")
                line += f"; {ratio:.0f}x faster than DiCE random per set ({'met' if ratio >= 100 else 'NOT met'}, >= 100x)"
                if genetic_set:
                    line += f", {genetic_set['seconds_per_set'] / s['seconds_per_set']:.0f}x than DiCE genetic"
            out.append(line)
    return out


def _fmt(v, f):
    return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, f)


def markdown(data) -> str:
    env, rows = data["env"], data["rows"]
    md = [f"# Sparse and diverse counterfactuals: `{data['dataset']}`", "",
          f"- date: {env['date']}", f"- command: `{env['command']}`",
          f"- machine: `{env['machine']}`, {env['cpu']}, {env['cores']} cores (load average at start "
          f"{' '.join(env.get('loadavg_at_start') or [])}; shared with other engineers)",
          f"- cfx {env['cfx_version']}, commit `{env['commit']}`{' (plus uncommitted changes)' if env['dirty'] else ''}, "
          f"libcfx.so sha256 `{env['libcfx_sha256']}`; DiCE: {', '.join(f'{a} {b}' for a, b in data['versions'].items()) or 'not run'}",
          f"- model: {data['model']}; {data['n']} test instances (seeded permutation, seed {data['seed']}), the same "
          "for every row; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset in the benchmark command only",
          "- cfx: the suite's configs (harness methods: documented defaults plus the data's feature range and "
          "immutable features; CFProto with k-d trees, theta 10), fitted on the training rows, 1 thread, "
          "median of 3 batch calls / N; DiCE: one generate_counterfactuals call per instance, mean seconds",
          "", "## One counterfactual per instance", "",
          "| run | valid | L0 | L1 | MAD-L1 | restored | s / instance |", "|---|---|---|---|---|---|---|"]
    for label, r in rows.items():
        if "valid" in r:
            md.append(f"| {label} | {r['valid']:.0%} | {r['l0']:.2f} | {r['l1']:.3f} | {_fmt(r['l1_mad'], '.2f')} | "
                      f"{_fmt(r.get('restored_mean'), '.2f')} | {r['seconds_per_instance']:.2g} |")
    md += ["", f"## Sets of k = {data['k']}", "",
           "| run | all members valid | valid members | diversity (DiCE, MAD) | count diversity | L1 diversity | member L0 | member L1 | s / set |",
           "|---|---|---|---|---|---|---|---|---|"]
    for label, r in rows.items():
        if "all_valid" in r:
            md.append(f"| {label} | {r['all_valid']:.0%} | {r['members_valid_mean']:.2f} | {_fmt(r['diversity_mad'], '.3f')} | "
                      f"{_fmt(r['count_diversity'], '.3f')} | {_fmt(r['diversity_l1'], '.3f')} | {r['member_l0']:.2f} | "
                      f"{r['member_l1']:.3f} | {r['seconds_per_set']:.2g} |")
    md += ["", "Metrics from `cfx.metrics.evaluate` / `evaluate_sets`: valid = the class changed (over all N; a "
           "missing member counts as invalid); L0 = features changed by more than 1e-6; diversities over the "
           "members found (DiCE's diversity: mean pairwise MAD-scaled L1 / d; count diversity: the share of "
           "features that differ between two members).", "", "## Targets", ""]
    md += [f"- {t}" for t in data["targets"]]
    if data["notes"]:
        md += ["", "## Notes", ""] + [f"- {x}" for x in data["notes"]]
    return "\n".join(md) + "\n"
