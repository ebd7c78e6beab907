"""Aggregation of metrics into table rows, the Markdown report and the plots."""
from __future__ import annotations

import math
from typing import Dict, List, Optional

import numpy as np

#: (column, metric in cfx.metrics summaries, statistic, format)
COLUMNS = [
    ("valid", "validity", "mean", ".0%"),
    ("L1", "l1", "mean", ".3f"),
    ("L2", "l2", "mean", ".3f"),
    ("MAD-L1", "l1_mad", "mean", ".2f"),
    ("L0", "l0", "mean", ".1f"),
    ("NN dist", "nn_distance", "mean", ".3f"),
    ("p target", "target_proba", "mean", ".3f"),
    ("in range", "in_range", "mean", ".0%"),
    ("immutable ok", "immutable_ok", "mean", ".0%"),
    ("categories ok", "categories_ok", "mean", ".0%"),
]


def _num(v) -> Optional[float]:
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


def summary_row(result, seconds: List[float], model_calls: Optional[List[float]] = None) -> Dict:
    """One table row from a cfx.metrics.EvaluationResult and the per-instance seconds (and model
    calls, when the library reports them): every metric's mean, median and std over the
    counterfactuals found (validity over all instances), the time per counterfactual."""
    row = {"n": result.n, "n_found": result.n_found, "n_valid": result.n_valid, "metrics": {}}
    for name, stats in result.summary.items():
        row["metrics"][name] = {k: (int(v) if k == "n" else _num(v)) for k, v in stats.items()}
    s = np.asarray(seconds, dtype=np.float64)
    row["seconds_per_cf_mean"] = float(s.mean()) if len(s) else None
    row["seconds_per_cf_median"] = float(np.median(s)) if len(s) else None
    row["seconds_total"] = float(s.sum())
    calls = None if model_calls is None else [c for c in model_calls if c is not None]
    row["model_calls_mean"] = float(np.mean(calls)) if calls else None
    return row


def speed_ratio(other_row: Dict, cfx_row: Dict) -> Optional[float]:
    """How many times longer the other library took per counterfactual (mean seconds) than cfx
    on the same instances; > 1: cfx is faster."""
    a, c = other_row.get("seconds_per_cf_mean"), cfx_row.get("seconds_per_cf_mean")
    if not a or not c:
        return None
    return a / c


def fmt(v, spec) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return format(v, spec)


def fmt_seconds(s) -> str:
    if s is None:
        return "–"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def table(runs: List[Dict]) -> List[str]:
    """Markdown rows: one per run (library, method, instances)."""
    head = ["library", "method", "instances", "N"] + [c[0] for c in COLUMNS] + ["s / cf (mean)", "model calls / cf",
                                                                              "time vs cfx"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|"]
    for r in runs:
        row = r["row"]
        cells = [r["library"], r["method_label"], r["subset"], str(row["n"])]
        for _, metric, stat, spec in COLUMNS:
            m = row["metrics"].get(metric, {})
            cells.append(fmt(m.get(stat), spec) if m.get("n", 0) else "–")
        cells.append(fmt_seconds(row["seconds_per_cf_mean"]))
        cells.append(fmt(row["model_calls_mean"], ",.0f"))
        ratio = r.get("ratio_vs_cfx")
        cells.append("1 (reference)" if r["library"] == "cfx" and r.get("reference") else
                     (f"**{ratio:,.0f}× slower**" if ratio and ratio >= 1 else
                      (f"**{1 / ratio:,.1f}× faster**" if ratio else "")))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def plots(suite: str, runs: List[Dict], path, image=None) -> None:
    """validity, L1 distribution and seconds per counterfactual of every run, one PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels = [f"{r['library']} {r['method_label']}\n({r['subset']}, N={r['row']['n']})" for r in runs]
    fig, axes = plt.subplots(1, 3, figsize=(13, 2.0 + 0.6 * len(runs)), gridspec_kw={"width_ratios": [1, 1.4, 1.4]})
    y = np.arange(len(runs))
    axes[0].barh(y, [r["row"]["metrics"]["validity"]["mean"] or 0 for r in runs], color="tab:green")
    axes[0].set_xlim(0, 1.05)
    axes[0].set_title("validity")
    l1 = [np.asarray([v for v in r["l1"] if v is not None and not math.isnan(v)]) for r in runs]
    axes[1].boxplot([v if len(v) else [np.nan] for v in l1], vert=False, positions=y)
    axes[1].set_title("L1 distance (cfs found)")
    axes[2].barh(y, [r["row"]["seconds_per_cf_mean"] or 0 for r in runs], color="tab:blue")
    axes[2].set_xscale("log")
    axes[2].set_title("seconds / counterfactual")
    for ax in axes:
        ax.set_yticks(y)
        ax.set_yticklabels(labels if ax is axes[0] else [], fontsize=8)
        ax.invert_yaxis()
    fig.suptitle(f"suite {suite}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def image_plot(x, x_cf, shape, title, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import cfx
    fig = cfx.plot.image(x, x_cf, shape=shape)
    fig.suptitle(title)
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt
    plt.close(fig)


def headline(results_root) -> List[str]:
    """One Markdown table of cfx against alibi over every suite's committed JSON: time per
    counterfactual and ratio, validity, and mean L1 over the instances both libraries found."""
    import json
    import pathlib
    lines = ["| suite | method | N | cfx s / cf | alibi s / cf | alibi / cfx | valid cfx | valid alibi | "
             "L1 cfx (both found) | L1 alibi (both found: n) |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for path in sorted(pathlib.Path(results_root).glob("*/*.json")):
        data = json.loads(path.read_text())
        if "runs" not in data:
            continue
        for r in data["runs"]:
            if not r["library"].startswith("alibi"):
                continue
            ref = next((c for c in data["runs"] if c["library"] == "cfx" and c["method"] == r["method"]
                        and c.get("n_subset") == r.get("n_subset")), None)
            if ref is None:
                continue
            a, c = r.get("per_instance", {}).get("l1"), ref.get("per_instance", {}).get("l1")
            both = [(x, y) for x, y in zip(c or [], a or []) if x is not None and y is not None]
            l1c = np.mean([x for x, _ in both]) if both else None
            l1a = np.mean([y for _, y in both]) if both else None
            dtype, threads = data.get("dtype", "float64"), data.get("threads", 1)
            tags = ([dtype] if dtype != "float64" else []) + ([f"{threads} threads"] if threads != 1 else [])
            suite = data["suite"] + (f" ({', '.join(tags)})" if tags else "")
            lines.append(f"| {suite} | {r['method_label']} | {r['row']['n']} | "
                         f"{fmt_seconds(ref['row']['seconds_per_cf_mean'])} | {fmt_seconds(r['row']['seconds_per_cf_mean'])} | "
                         f"**{r['ratio_vs_cfx']:,.0f}×** | {ref['row']['n_valid']}/{ref['row']['n']} | "
                         f"{r['row']['n_valid']}/{r['row']['n']} | {fmt(l1c, '.3f')} | {fmt(l1a, '.3f')} ({len(both)}) |")
    return lines
