"""Collects results/*.json of evaluate.py into results/README.md (one table)."""

import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
# The paper's reductions (IP / IP* / cost, %), for comparison.
PAPER = {"linearly_separable": (26.3, 51.3, 16.4), "circles": (58.9, 93.8, 43.0), "moons": (19.6, 8.0, 5.2),
         "overlapping": (-1.9, -27.7, 40.9)}


NOTES = """
## Notes (read with the table)

- **Machine.** All runs on the shared 2-core development machine while other engineers built and
  tested: times are upper bounds and vary between runs (the same moons CT training took 2.9-7.4 s;
  Fashion-MNIST's conventional training 7.2 s and 17.4 s). OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
  unset for the benchmark commands. Training always on one thread; the searches too, except the
  Fashion-MNIST τ 0.5 run (2 threads, 20 rounds). The runs of 2026-12-02 19:22-19:51 UTC
  (Fashion-MNIST 100 rounds; constrained breast cancer, digits, Fashion-MNIST) used `--threads 1`
  with another engineer's build and benchmarks on the other core (the process got 40-62% of a core).
- **Speed targets.** Moons, 100 epochs, n_CE 1000, T 30, one thread: 2.9-7.4 s (target < 10 s: met).
  Fashion-MNIST 784-32-10, 11,000 rows, 100 epochs, n_CE 5000: 162 s and 193 s (constrained) on one
  thread, 102 s (τ 0.75) and 132 s (τ 0.5) with 2 search threads, against 7-17 s conventional, a
  7-22x ratio (target < 5 min on 2 cores: met, even on one). Whole Fashion-MNIST evaluations (both
  trainings, robust accuracy, 100 rounds), one thread: 12.9 min, and 9.1 min constrained.
- **Against the paper's anchors (synthetic).** IP reductions are significant at 99% on linearly
  separable, circles and moons with both test-time searches, but smaller than the paper's: default
  search (τ 0.75, <= 50 steps) 15.6 / 40.3 / 5.6% (paper 26.3 / 58.9 / 19.6); every one of 100 steps
  (the reference code's convention) 20.5 / 16.3 / 12.7%. Overlapping: no IP gain (paper: none
  either). IP* on moons depends on the search: −252% by default (CT counterfactuals stop much closer
  to the boundary: cost −59%), −1.2% with all 100 steps. Test accuracy of CT is within 1 point of the
  baseline on every synthetic set. So the target "IP reductions at least as large as the paper's"
  is **not met**; the direction and significance are.
- **Real data, unconstrained.** Significant IP reductions on breast cancer (2.9% [0.6, 5.0]), digits
  (8.5% [6.9, 9.9]) and, with the full 100 rounds, Fashion-MNIST (0.9% [0.05, 1.8]; with 20 rounds
  1.2% [−0.3, 2.5] was not significant); not on HMDA (−3.7 to −4.3%, with or without `black`
  immutable, τ 0.75 or 0.5). That is 3 of 4: the target is **met, narrowly** — the Fashion-MNIST
  gain is under 1% and its interval barely excludes 0; the intervals cover the evaluation rounds of
  one seed, not the variation between trainings, so another seed could tip it. Fashion-MNIST pays
  for it: CT's validity 0.80 (BL 0.99) and cost −48%. IP* falls significantly on all four (9-24%),
  and CT is far more robust on Fashion-MNIST (FGSM at ε 0.1: 0.46 vs 0.11; PGD: 0.40 vs 0.08).
  Breast cancer loses 2.6 points of test accuracy with CT; digits gains 1.9; HMDA and Fashion-MNIST
  are within 1 point. On HMDA and Fashion-MNIST few training searches mature (6% and 17% at τ 0.75;
  26% and 45% at τ 0.5): most contrastive terms use x⁺ itself.
- **Constraints, synthetic** (feature 0 increase-only). Moons' IP gain grows (20.3%) while CT's
  validity drops to 0.76; on linearly separable the gain shrinks to 3.5%; circles keeps 34.6%.
- **Constraints, real** (see ../README.md for the choices). IP reductions: breast cancer ("worst"
  features increase-only) 7.3% [5.3, 9.1], digits (top and bottom rows immutable) 9.1% [7.8, 10.5],
  both larger than unconstrained, validity 1.00 / 0.99 for CT; Fashion-MNIST (first and last 140
  pixels immutable) 0.8% [−0.1, 1.8], not significant, with CT's validity 0.60 (BL 0.98), IP* 5.9%
  and cost −27%; HMDA (`black` immutable) −3.8%. So with constraints 2 of 4. Accuracy as
  unconstrained (Fashion-MNIST CT 0.867 vs 0.859); robustness gain smaller on Fashion-MNIST (FGSM at
  ε 0.1: 0.32 vs 0.11).
- **Not run**: several seeds; MNIST itself (Fashion-MNIST instead); a τ sweep per set (only τ 0.5 on
  HMDA and Fashion-MNIST, the latter 20 rounds).
"""


def cell(r):
    lo, hi = r["ci99"]
    return f"{r['reduction_pct']:.1f} [{lo:.1f}, {hi:.1f}]{' *' if r['significant'] else ''}"


def label(r):
    """The set's name, and CT's training tau when it is not the default (so the rows can be told apart)."""
    return r["set"] + (f" (CT tau {r['ct_tau']:g})" if r.get("ct_tau", 0.75) != 0.75 else "")


def runs(features):
    """Feature indices as runs, "0-139, 644-783" (the image constraints list hundreds of pixels)."""
    features, parts = sorted(features), []
    for f in features:
        if parts and parts[-1][1] == f - 1:
            parts[-1][1] = f
        else:
            parts.append([f, f])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in parts)


def constraints(r):
    c = r["constraints"]
    text = [f"immutable {runs(c['immutable'])}"] if c.get("immutable") else []
    for direction in ("increase", "decrease"):
        features = [int(f) for f, d in c.get("monotone", {}).items() if d == direction]
        if features:
            text.append(f"{direction}-only {runs(features)}")
    return "; ".join(text) or "none"


def search(r):
    tau = r.get("eval_tau", 0.75)
    return f"tau {tau:g}, <= {r['max_steps']} steps" if tau < 1 else f"all {r['max_steps']} steps"


def main():
    lines = ["| set | constraints | IP red. % [99% CI] | IP* red. % [99% CI] | cost red. % [99% CI] | test-time search | paper IP/IP*/cost | "
             "validity BL / CT | test acc. BL / CT | train s BL / CT (ratio) | mature share | rounds | command, date |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for path in sorted((HERE / "results").glob("*.json")):
        r = json.loads(path.read_text())
        red, paper = r["reductions"], PAPER.get(r["set"])
        if red is None:  # a timing-only run (no bootstrap rounds)
            red = {key: {"reduction_pct": float("nan"), "ci99": [float("nan")] * 2, "significant": False} for key in ("ip", "ip_star", "cost")}
        lines.append(" | ".join([
            f"| {label(r)}", constraints(r),
            cell(red["ip"]), cell(red["ip_star"]), cell(red["cost"]), search(r),
            " / ".join(f"{v:g}" for v in paper) if paper else "–",
            f"{r['means']['BL']['validity']:.2f} / {r['means']['CT']['validity']:.2f}",
            f"{r['test_accuracy']['BL']:.3f} / {r['test_accuracy']['CT']:.3f}",
            f"{r['train_seconds']['BL']:.1f} / {r['train_seconds']['CT']:.1f} ({r['ct_bl_time_ratio']:.1f}x)",
            f"{r['mature_share_last_epoch']:.2f}" if r["mature_share_last_epoch"] is not None else "–",
            str(r["rounds"]), f"`{r['command']}`, {r['date']} |"]))
    robust = ["| set | constraints | test-time search | FGSM acc. at eps 0.05 / 0.1, BL | CT | PGD acc. at eps 0.05 / 0.1, BL | CT |",
              "|---|---|---|---|---|---|---|"]
    for path in sorted((HERE / "results").glob("*.json")):
        r = json.loads(path.read_text())
        if "robust_accuracy" not in r:
            continue
        a = r["robust_accuracy"]
        pair = lambda m, k: f"{a[m][k][5]:.3f} / {a[m][k][10]:.3f}"  # noqa: E731
        robust.append(f"| {label(r)} | {constraints(r)} | "
                      f"{search(r)} | {pair('BL', 'fgsm')} | {pair('CT', 'fgsm')} | {pair('BL', 'pgd')} | {pair('CT', 'pgd')} |")
    table = "\n".join(lines) + "\n\nRobust test accuracy (FGSM; PGD 40 steps, alpha 0.01, random start):\n\n" + "\n".join(robust)
    (HERE / "results" / "README.md").write_text(
        "# Counterfactual training: results\n\nGenerated by `python3 benchmarks/counterfactual_training/report.py` "
        "from the JSON files here (see ../README.md for the protocol). `*`: the 99% interval excludes 0.\n\n" + table + "\n"
        + NOTES)
    print(table)


if __name__ == "__main__":
    main()
