"""Counterfactual training evaluated with the paper's protocol (protocol.py, evaluation.py),
side by side with the paper's table.

    python3 benchmarks/harness.py ct-paper run moons circles --seeds 0 1 2
    python3 benchmarks/harness.py ct-paper report      # results/counterfactual_training/paper.md

`run` writes results/counterfactual_training/paper/<set>.json (a summary: per training seed the
reductions, accuracies, times; no per-counterfactual data, which the same command regenerates);
`report` makes the table, followed by findings.md.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time
import warnings

import numpy as np

import cfx
from cfxbench import RESULTS as ALL_RESULTS
from cfxbench.env import environment, markdown

from . import evaluation as ev
from . import protocol

# Test rows outside the training rows' domain are clipped into it, as the protocol says; one
# warning per row would bury the output.
warnings.filterwarnings("ignore", category=cfx.FeatureRangeWarning)

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = ALL_RESULTS / "counterfactual_training"

# The paper's table (CounterfactualTraining.jl, paper/preprint/tables/main.tex): IP, IP*, cost
# (protected) reductions in % (± standard error); from main_detailed.tex, test accuracy and robust
# accuracy (Acc.*) as (CT, BL); from the appendix (appendix.tex, tbl-costs, tbl-val, tbl-val-mtbl),
# the unprotected cost reduction and the validities (CT, BL) without and with the protection.
# fashion_mnist: the paper's MNIST row, for scale only (another data set).
PAPER = {
    "linearly_separable": {"ip": (26.26, 0.67), "ip_star": (51.28, 2.01), "cost": (16.41, 0.57), "acc": (1.0, 1.0),
                           "acc_star": (1.0, 1.0), "cost_unprotected": -27.11, "validity": (1.0, 1.0), "validity_protected": (1.0, 1.0)},
    "circles": {"ip": (58.88, 0.37), "ip_star": (93.84, 6.7), "cost": (42.99, 0.85), "acc": (1.0, 1.0), "acc_star": (0.99, 1.0),
                "cost_unprotected": 40.17, "validity": (1.0, 0.51), "validity_protected": (0.71, 0.48)},
    "moons": {"ip": (19.59, 0.73), "ip_star": (8.0, 9.44), "cost": (5.16, 1.0), "acc": (1.0, 1.0), "acc_star": (1.0, 1.0),
              "cost_unprotected": 32.54, "validity": (1.0, 1.0), "validity_protected": (1.0, 0.98)},
    "overlapping": {"ip": (-1.93, 1.12), "ip_star": (-27.7, 14.59), "cost": (40.86, 2.3), "acc": (0.92, 0.92),
                    "acc_star": (0.91, 0.91), "cost_unprotected": 12.08, "validity": (0.86, 0.98), "validity_protected": (0.34, 0.56)},
    "overlapping_close": {"ip": (-1.93, 1.12), "ip_star": (-27.7, 14.59), "cost": (40.86, 2.3), "acc": (0.92, 0.92),
                          "acc_star": (0.91, 0.91), "cost_unprotected": 12.08, "validity": (0.86, 0.98),
                          "validity_protected": (0.34, 0.56)},
    "fashion_mnist": {"ip": (6.36, 1.7), "ip_star": (-70.31, 217.6), "cost": (-35.11, 6.96), "acc": (0.90, 0.92),
                      "acc_star": (0.84, 0.78), "cost_unprotected": -40.71, "validity": (1.0, 1.0), "validity_protected": (1.0, 1.0)},
}


def explain_ecco(model, X, targets, lam, data, tau=0.95, immutable=()):
    """Test-time ECCo (lambda_cst 0, tau, T 50, clamped to the domain): the last points and their
    probabilities, one call per target class."""
    x_cf = np.empty_like(X)
    for t in np.unique(targets):
        rows = np.flatnonzero(targets == t)
        explainer = cfx.ECCCo(model, target_class=int(t), target_proba=tau, max_steps=50, lambda_cost=0.0,
                              lambda_energy=lam, feature_range=[data.lower.tolist(), data.upper.tolist()],
                              immutable=list(immutable), n_threads=1)
        result = explainer.explain_raw(X[rows])["explanations"]
        x_cf[rows] = np.array([e["last"]["X"] for e in result])
    return x_cf, model.predict(x_cf)


def evaluate_models(models, data, runs, seed, tau=0.95, immutable=()):
    """Per model, per run: the metrics averaged over lambda_egy (and per lambda_egy)."""
    s = protocol.SETTINGS[data.name]
    per_run = {m: {key: [] for key in ("ip", "ip_star", "cost", "validity")} for m in models}
    lam_ip = {m: {lam: [] for lam in protocol.LAMBDAS} for m in models}
    by_target = {m: {c: {"ip": [], "validity": []} for c in range(data.classes)} for m in models}
    for _, m, x, t, metric_seed in ev.runs(models, data.X_test, data.classes, s.individuals, seed, runs):
        values = []
        for lam in protocol.LAMBDAS:
            x_cf, proba = explain_ecco(models[m], x, t, lam, data, tau, immutable)
            values.append(ev.metrics(x, x_cf, proba, t, data.X_test, data.y_test, np.random.default_rng(metric_seed)))
            lam_ip[m][lam].append(values[-1]["ip"])
        for c in range(data.classes):  # per target class: a run's mean over lambda_egy (NaN: none valid)
            ips = [v["ip_by_target"].get(c, np.nan) for v in values]
            by_target[m][c]["ip"].append(float(np.nanmean(ips)) if np.isfinite(ips).any() else float("nan"))
            by_target[m][c]["validity"].append(float(np.mean([v["validity_by_target"].get(c, np.nan) for v in values])))
        for key in per_run[m]:
            per_run[m][key].append(float(np.nanmean([v[key] for v in values])) if any(np.isfinite(v[key]) for v in values)
                                   else float("nan"))
    return per_run, lam_ip, by_target


def one_seed(data, seed, runs, protected_cost):
    """BL and CT trained with `seed`, evaluated; the summary of this training seed."""
    out = {"seed": seed}
    models = {}
    for label, ct in (("BL", False), ("CT", True)):
        model, report, wall, cpu = protocol.train(data, seed, ct)
        models[label] = model
        history = report["history"][-1]
        out[label] = {"train_wall_s": wall, "train_cpu_s": cpu,
                      "test_accuracy": protocol.accuracy(model, data.X_test, data.y_test),
                      "validation_accuracy": protocol.accuracy(model, data.X_val, data.y_val),
                      "robust_accuracy_fgsm": dict(zip(("0.03", "0.1"), cfx.robustness.robust_accuracy(
                          model, data.X_test, data.y_test, attack="fgsm", epsilons=[0.03, 0.1], seed=seed, n_threads=1)["accuracy"])),
                      "mature_share_last_epoch": (history.get("counterfactual") or {}).get("mature_share")}
        print(f"  seed {seed} {label}: trained in {wall:.1f} s wall, {cpu:.1f} s CPU, "
              f"test accuracy {out[label]['test_accuracy']:.3f}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    per_run, lam_ip, by_target = evaluate_models(models, data, runs, seed)
    out["evaluation_s"] = time.perf_counter() - started
    for m in models:
        out[m]["validity"] = float(np.nanmean(per_run[m]["validity"]))
        out[m]["means"] = {key: float(np.nanmean(v)) for key, v in per_run[m].items()}
    out["reductions"] = {key: ev.reduction(per_run["BL"][key], per_run["CT"][key]) for key in ("ip", "ip_star", "cost")}
    out["ip_reduction_by_lambda"] = {str(lam): ev.reduction(lam_ip["BL"][lam], lam_ip["CT"][lam])["reduction_pct"]
                                     for lam in protocol.LAMBDAS}
    # Per target class: IP over the runs where both models have valid counterfactuals of that
    # target (a like-for-like reduction), and each model's validity towards it.
    out["by_target"] = {str(c): {"ip_reduction_pct": ev.reduction(by_target["BL"][c]["ip"], by_target["CT"][c]["ip"])["reduction_pct"],
                                 "ip": {m: float(np.nanmean(by_target[m][c]["ip"])) if np.isfinite(by_target[m][c]["ip"]).any()
                                        else float("nan") for m in models},
                                 "validity": {m: float(np.nanmean(by_target[m][c]["validity"])) for m in models}}
                        for c in range(data.classes)}
    if protected_cost:
        # The paper's cost column: the first feature (images: the top and bottom pixel rows) protected
        # in CT's training and in both models' test-time searches, which stop at tau 0.5.
        protected, _, wall, cpu = protocol.train(data, seed, True, protect=True)
        pruns, _, _ = evaluate_models({"BL": models["BL"], "CT": protected}, data, runs, seed, tau=0.5, immutable=data.protected)
        out["protected_cost"] = {"reduction": ev.reduction(pruns["BL"]["cost"], pruns["CT"]["cost"]),
                                 "validity": {m: float(np.nanmean(pruns[m]["validity"])) for m in pruns},
                                 "ct_train_wall_s": wall, "ct_train_cpu_s": cpu,
                                 "ct_test_accuracy": protocol.accuracy(protected, data.X_test, data.y_test)}
    red = out["reductions"]
    print(f"  seed {seed}: IP {red['ip']['reduction_pct']:.1f}% IP* {red['ip_star']['reduction_pct']:.1f}% "
          f"cost {red['cost']['reduction_pct']:.1f}%", file=sys.stderr, flush=True)
    return out


def spread(values):
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if len(values) == 0:
        return {"mean": float("nan"), "sd": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    return {"mean": float(values.mean()), "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "min": float(values.min()), "max": float(values.max()), "n": len(values)}


def run(args):
    (RESULTS / "paper").mkdir(parents=True, exist_ok=True)
    for name in args.sets:
        data = protocol.load(name)
        runs = args.runs or (100 if name != "fashion_mnist" else 20)
        print(f"{name}: {len(data.y_train)} training, {len(data.y_val)} validation, {len(data.y_test)} test rows; "
              f"{runs} runs", file=sys.stderr, flush=True)
        seeds = [one_seed(data, seed, runs, not args.no_protected_cost) for seed in args.seeds]
        s = protocol.SETTINGS[name]
        summary = {
            "set": name, "data_note": data.note, "settings": s.__dict__, "runs": runs, "seeds": args.seeds,
            "per_seed": seeds,
            "over_seeds": {
                **{f"{key}_reduction": spread([x["reductions"][key]["reduction_pct"] for x in seeds]) for key in ("ip", "ip_star", "cost")},
                "protected_cost_reduction": spread([x.get("protected_cost", {}).get("reduction", {}).get("reduction_pct") for x in seeds]),
                **{f"{m}_{key}": spread([x[m][key] for x in seeds]) for m in ("BL", "CT")
                   for key in ("test_accuracy", "validity", "train_wall_s", "train_cpu_s")},
                **{f"{m}_robust_fgsm_0.03": spread([x[m]["robust_accuracy_fgsm"]["0.03"] for x in seeds]) for m in ("BL", "CT")},
            },
            "environment": environment("python3 " + " ".join(sys.argv)),
        }
        path = RESULTS / "paper" / f"{name}.json"
        path.write_text(json.dumps(summary, indent=1) + "\n")
        print(f"{name}: wrote {path}", file=sys.stderr)


def fmt(stat, digits=1):
    """mean ± sd between training seeds ("–": no valid counterfactuals; no ± for one seed)."""
    if not np.isfinite(stat["mean"]):
        return "–"
    return f"{stat['mean']:.{digits}f}" + (f" ± {stat['sd']:.{digits}f}" if stat.get("n", 2) > 1 else "")


TABLE_HEAD = (
    "| set | IP red. % paper | IP red. % cfx | IP* red. % paper | IP* red. % cfx | cost red. % (protected, tau 0.5) "
    "paper | cfx | cost red. % (unprotected) paper | cfx | validity BL / CT paper | cfx | "
    "acc. BL / CT paper | cfx | Acc.* BL / CT paper | cfx (FGSM 0.03) | "
    "train CPU s BL / CT | train wall s BL / CT | seeds × runs |\n" + "|---" * 19 + "|")
SEED_HEAD = ("| set | seed | IP red. % ± se | IP* red. % ± se | cost red. % (protected) | cost red. % (unprotected) | "
             "test acc. BL / CT | CT mature share (last epoch) | IP red. % at lambda_egy 0.1 / 0.5 / 1 / 5 / 10 | "
             "IP red. % by target class (validity BL / CT) |\n" + "|---" * 10 + "|")


def _table_row(name, r):
    o, p = r["over_seeds"], PAPER[name]
    for stat in o.values():
        stat.setdefault("n", len(r["seeds"]))
    pair = lambda a, b, d=3: f"{o[a]['mean']:.{d}f} / {o[b]['mean']:.{d}f}"  # noqa: E731
    return "| " + " | ".join([
        protocol.SHORT[name], f"{p['ip'][0]:.1f}", fmt(o["ip_reduction"]), f"{p['ip_star'][0]:.1f}", fmt(o["ip_star_reduction"]),
        f"{p['cost'][0]:.1f}", fmt(o["protected_cost_reduction"]), f"{p['cost_unprotected']:.1f}", fmt(o["cost_reduction"]),
        f"{p['validity'][1]:.2f} / {p['validity'][0]:.2f}", pair("BL_validity", "CT_validity", 2),
        f"{p['acc'][1]:.2f} / {p['acc'][0]:.2f}", pair("BL_test_accuracy", "CT_test_accuracy"),
        f"{p['acc_star'][1]:.2f} / {p['acc_star'][0]:.2f}", pair("BL_robust_fgsm_0.03", "CT_robust_fgsm_0.03"),
        pair("BL_train_cpu_s", "CT_train_cpu_s", 1), pair("BL_train_wall_s", "CT_train_wall_s", 1),
        f"{len(r['seeds'])} × {r['runs']}"]) + " |"


def _seed_row(name, x):
    red = x["reductions"]
    cell = lambda key: f"{red[key]['reduction_pct']:.1f} ± {red[key]['se_pct']:.1f}{' *' if red[key]['significant'] else ''}"  # noqa: E731
    pc = x.get("protected_cost", {}).get("reduction")
    return (f"| {protocol.SHORT[name]} | {x['seed']} | {cell('ip')} | {cell('ip_star')} | "
            f"{'–' if pc is None or not np.isfinite(pc['reduction_pct']) else '%.1f ± %.1f' % (pc['reduction_pct'], pc['se_pct'])} | "
            f"{cell('cost')} | "
            f"{x['BL']['test_accuracy']:.3f} / {x['CT']['test_accuracy']:.3f} | {x['CT']['mature_share_last_epoch']:.2f} | "
            + " / ".join(f"{v:.1f}" for v in x["ip_reduction_by_lambda"].values()) + " | " + _by_target(x) + " |")


def _by_target(x):
    """Class c: the IP reduction over runs where both models have valid counterfactuals towards c."""
    if "by_target" not in x or len(x["by_target"]) > 2:
        return "–"
    return "; ".join(f"{c}: {'–' if not np.isfinite(b['ip_reduction_pct']) else '%.1f' % b['ip_reduction_pct']} "
                     f"({b['validity']['BL']:.2f} / {b['validity']['CT']:.2f})" for c, b in x["by_target"].items())


def report(_args):
    found = {name: json.loads((RESULTS / "paper" / f"{name}.json").read_text()) for name in protocol.SETTINGS
             if (RESULTS / "paper" / f"{name}.json").exists()}
    lines = ["# Counterfactual training under the paper's protocol", "",
             "Made by `python3 benchmarks/harness.py ct-paper report` from `paper/*.json`, which "
             "`python3 benchmarks/harness.py ct-paper run SET...` writes (protocol: "
             "[../../counterfactual_training/README.md](../../counterfactual_training/README.md)). Each set's run:", ""]
    for name, r in found.items():
        env = r["environment"]
        lines.append(f"- {protocol.SHORT[name]}: `{env['command']}`, {env['date']}, commit {env['commit']}"
                     f"{' (dirty)' if env.get('dirty') else ''}, load average at start {' '.join(env.get('loadavg_at_start') or [])}"
                     + (f"; {r['data_note']}" if r["data_note"] else ""))
    if found:
        lines += [""] + markdown(next(iter(found.values()))["environment"],
                                 "shared with other engineers' builds: wall times are upper bounds, CPU times are the measure")
    lines += ["", "Reductions: mean over training seeds of each seed's reduction (the paper's: 100 (1 − mean over runs of "
              "CT/BL)), ± the spread (sd) between training seeds. The paper's cost column protects the first feature "
              "(images: the top and bottom pixel rows) and stops the test-time searches at tau 0.5.", "",
              TABLE_HEAD] + [_table_row(name, r) for name, r in found.items()]
    lines += ["", "Per training seed (± the paper's standard error over runs, 100 sd(CT/BL); * the 99% percentile "
              "interval of the per-run differences BL − CT excludes 0):", "", SEED_HEAD]
    lines += [_seed_row(name, x) for name, r in found.items() for x in r["per_seed"]]
    text = "\n".join(lines) + "\n\n" + (HERE / "findings.md").read_text()
    (RESULTS / "paper.md").write_text(text)
    print(text)


def add_arguments(parser):
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="train and evaluate; writes results/paper/<set>.json")
    p.add_argument("sets", nargs="+", choices=sorted(protocol.SETTINGS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (initial weights, batches)")
    p.add_argument("--runs", type=int, default=0, help="evaluation runs per seed (0: 100; 20 for fashion_mnist)")
    p.add_argument("--no-protected-cost", action="store_true", help="skip the cost experiment with the protected feature")
    sub.add_parser("report", help="results/counterfactual_training/paper.md from the JSON summaries")


def main(args) -> int:
    {"run": run, "report": report}[args.command](args)
    return 0
