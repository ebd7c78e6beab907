"""The trees benchmark's report (results/trees_forest.md) and the issue's targets, from its result
(cfxbench/trees.py)."""
from . import env as provenance

TARGET_DATASET = "breast_cancer"
MIN_VALIDITY, MAX_L1_RATIO, MIN_SPEEDUP = 0.95, 1.2, 100.0


def is_cfx(label) -> bool:
    return not label.startswith("DiCE") and label != "MILP optimum"


def targets(result) -> list:
    """The issue's targets on the 100-tree breast-cancer forest, per cfx method: met or not, with
    the figures."""
    data = next((d for d in result["datasets"] if d["dataset"] == TARGET_DATASET), None)
    if data is None:
        return []
    out = []
    genetic = data["methods"].get("DiCE genetic")
    for label, row in data["methods"].items():
        if not is_cfx(label):
            continue
        every = data["all_rows"][label]
        out.append({"method": label, "target": f"≥ {MIN_VALIDITY:.0%} valid (every test row)",
                    "figure": f"{every['validity']:.1%} ({every['valid']}/{every['rows']})",
                    "met": every["validity"] >= MIN_VALIDITY})
        opt = row.get("vs_optimum", {"rows": 0})
        out.append({"method": label, "target": f"mean ℓ1 ≤ {MAX_L1_RATIO}× the MILP optimum (rows both solved)",
                    "figure": f"{opt['l1_ratio']:.2f}× on {opt['rows']} rows" if opt["rows"] else "no row both solved",
                    "met": bool(opt["rows"]) and opt["l1_ratio"] <= MAX_L1_RATIO})
        vs = row.get("vs_dice_genetic")
        if genetic is None or vs is None:
            out.append({"method": label, "target": f"≥ {MIN_SPEEDUP:.0f}× faster than DiCE genetic",
                        "figure": "DiCE not run", "met": False})
            continue
        sparser = vs["rows"] > 0 and vs["l0"] <= vs["ref_l0"]
        out.append({"method": label,
                    "target": f"≥ {MIN_SPEEDUP:.0f}× faster than DiCE genetic at equal or better validity and ℓ0",
                    "figure": f"{vs['speedup']:,.0f}×; valid {row['valid']}/{row['rows']} vs {genetic['valid']}/{genetic['rows']}; "
                              + (f"ℓ0 {vs['l0']:.2f} vs {vs['ref_l0']:.2f} ({vs['rows']} rows both valid)" if vs["rows"] else "no row both valid"),
                    "met": vs["speedup"] >= MIN_SPEEDUP and row["validity"] >= genetic["validity"] and sparser})
    return out


def _num(v, fmt="{:.3f}"):
    return "–" if v is None else fmt.format(v)


def _times(x):
    return "–" if x is None else f"{x:,.0f}×" if x >= 10 else f"{x:.2f}×"


def _ms(ms):
    return f"{ms:.2f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def dataset_section(d) -> list:
    depth = "unlimited depth" if d["max_depth"] is None else f"max_depth {d['max_depth']}"
    lines = [f"## {d['dataset']} ({d['features']} columns)", "",
             f"Forest: {d['trees']} trees, {depth} ({d['leaves']:,} leaves, deepest {d['depth']}), test accuracy "
             f"{d['accuracy']:.3f}; cfx's probabilities (the forest from its ONNX file) differ from scikit-learn's by at "
             f"most {d['agreement']:.1e} on the test rows.", ""]
    lines += [f"- {label}: skipped, {why}" for label, why in d["skipped"].items()]
    lines += [f"- {note}" for note in d["notes"]]
    if "milp" in d:
        m = d["milp"]
        cached = (f"; {m['cached']} of the proven optima from the cache (results/trees_optima.json, proven within "
                  f"{' or '.join(f'{t:g}' for t in m['cached_time_limits'])} s a row, forest `{m['forest_onnx_sha256']}`), "
                  f"the other rows solved in this run" if m.get("cached") else "")
        lines += [f"- MILP ({m['time_limit']:g} s per row{cached}): solved to optimality on {m['optimal']}/{d['rows']} rows, "
                  f"feasible only (time limit) on {m['feasible_only']}, nothing on {m['none']}; median "
                  f"{m['median_seconds']:.1f} s per row" + (" (a cached row: the seconds it took when proven)" if m.get("cached") else "")
                  + f"; {m['valid_on_sklearn']} valid on scikit-learn's forest"
                  + (f" ({m['proven_but_invalid']} proven by HiGHS but not predicted as the target by scikit-learn: "
                     "not counted as optima)" if m.get("proven_but_invalid") else "")
                  + (f"; on the rows not proven optimal, HiGHS's lower bound is {m['mean_gap_feasible_only']:.0%} below "
                     "its counterfactual's ℓ1 on average" if m.get("mean_gap_feasible_only") is not None else ""),
                  "- check of the optimum: rows where another method's valid counterfactual, within every constraint, "
                  "is closer than a proven optimum by more than the program's margins can cost (δ = 1e-4 a feature; "
                  "methods that stop exactly at a threshold gain up to that): " + ", ".join(f"{k} {v}" for k, v in m["closer_than_optimum"].items()
                                                                if k != "MILP optimum")]
    lines += ["", f"On the same {d['rows']} test rows (ℓ1 and ℓ0 over each method's valid counterfactuals; the "
              "ratios over the rows both have valid, against DiCE genetic and against the MILP where it proved "
              "the optimum):", "",
              "| method | valid | mean ℓ1 | mean ℓ0 | out of range | immutable changed | categories broken | time per cf "
              "| × faster than DiCE genetic | ℓ1 / DiCE genetic | ℓ0 / DiCE genetic | ℓ1 / optimum (rows) |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for label, r in d["methods"].items():
        g, o = r.get("vs_dice_genetic", {"rows": 0}), r.get("vs_optimum", {"rows": 0})
        lines.append(f"| {label} | {r['valid']}/{r['rows']} | {_num(r['mean_l1'])} | {_num(r['mean_l0'], '{:.2f}')} "
                     f"| {r['out_of_range']} | {r['immutable_changed']} | {r['categories_broken']} "
                     f"| {_ms(r['ms_per_counterfactual'])} | {_times(g.get('speedup'))} "
                     f"| {_num(g.get('l1_ratio'), '{:.2f}×')} | {_num(g.get('l0_ratio'), '{:.2f}×')} "
                     f"| {_num(o.get('l1_ratio'), '{:.2f}×')} ({o['rows']}) |")
    out = d.get("outside_range")
    lines += ["", "A ratio below 1× against the optimum comes only from counterfactuals outside the constraints the "
              "optimum keeps (e.g. a one-hot column moved to 0.49: a broken category); the check above counts the rows "
              "within them."
              + (f" Out of range counts the features a method leaves at an instance's own value outside the training "
                 f"range too: {out['rows']} of these {d['rows']} rows and {out['test_rows']} of the {d['test_rows']} "
                 "test rows lie outside it." if out else ""),
              "", f"cfx's methods on every test row ({d['test_rows']}):", "",
              "| method | valid | mean ℓ1 | mean ℓ0 | out of range | immutable changed | categories broken | time per cf |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for label, r in d["all_rows"].items():
        lines.append(f"| {label} | {r['valid']}/{r['rows']} ({r['validity']:.1%}) | {_num(r['mean_l1'])} "
                     f"| {_num(r['mean_l0'], '{:.2f}')} | {r['out_of_range']} | {r['immutable_changed']} "
                     f"| {r['categories_broken']} | {_ms(r['ms_per_counterfactual'])} |")
    return lines + [""]


def report(result) -> str:
    env = result["environment"]
    dice = next((d.get("dice_version") for d in result["datasets"] if d.get("dice_version")), None)
    lines = ["# Tree ensembles: cfx against the ℓ1 optimum and DiCE on 100-tree random forests", ""]
    lines += provenance.markdown(env, "the 2 cores are shared with other engineers' builds and tests, so times carry "
                                      "noise; the ratios are measured in the same run")
    lines += [f"- forests: scikit-learn RandomForestClassifier(n_estimators={result['trees']}, random_state=0) on each "
              "data set's standardised training split (cfxbench/datasets.py), through skl2onnx (FLOAT input) for cfx, "
              "each data set's depth in its section (limited where HiGHS would prove no optimum within the time limit: "
              "`cfxbench/trees.py`, DATASETS)",
              "- cfx: one batch call over every test row on one thread, time per counterfactual = its wall time / rows; DiCE "
              f"{dice or '(not run)'}: `random` and `genetic`, one call per row (total_CFs 1), the mean; MILP: after "
              f"OCEAN (`cfxbench/tree_milp.py`), HiGHS through scipy, at most {result['time_limit']:g} s per row",
              "- every method gets the training range as its box, the immutable features fixed and, where it takes them, "
              "the one-hot groups as categories; DiCE sees each group as one categorical feature",
              "- validity: scikit-learn's forest predicts another class for the counterfactual (as float32); ℓ1 and ℓ0 in "
              "the data's units (standardised features, 0/1 one-hot columns: a changed category counts 2 in ℓ1 and ℓ0) "
              "for every method; constraint checks by cfx.metrics (tolerance 1e-6)", ""]
    t = result.get("targets", [])
    if t:
        lines += [f"## Targets (issue 28, the 100-tree forest on {TARGET_DATASET})", "",
                  "| method | target | figure | met |", "| --- | --- | --- | --- |"]
        lines += [f"| {x['method']} | {x['target']} | {x['figure']} | {'met' if x['met'] else '**not met**'} |" for x in t]
        lines.append("")
    for d in result["datasets"]:
        lines += dataset_section(d)
    return "\n".join(lines)
