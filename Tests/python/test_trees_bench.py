"""The trees benchmark's bookkeeping (benchmarks/cfxbench/trees.py, tree_report.py) and the DiCE
runner's one-hot columns (benchmarks/external/run_dice.py), on hand-made data: no forest, no
solver, no DiCE."""
import pathlib
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "benchmarks" / "external"))

from cfxbench import trees  # noqa: E402
from cfxbench.tree_report import targets  # noqa: E402


def _scores(valid, l1, l0, in_range=None):
    n = len(valid)
    return {"found": np.ones(n, bool), "valid": np.array(valid), "l1": np.array(l1, float), "l0": np.array(l0, float),
            "in_range": np.array(in_range if in_range is not None else [1.0] * n), "immutable_ok": np.ones(n),
            "categories_ok": np.full(n, np.nan)}


def test_summary_and_comparison_use_only_valid_rows():
    method = _scores([True, True, False], [1.0, 3.0, 50.0], [1, 2, 9], in_range=[1.0, 0.0, 1.0])
    ref = _scores([True, False, True], [2.0, 1.0, 1.0], [4, 4, 4])
    row = trees.summary(method, 0.002)
    assert (row["valid"], row["mean_l1"], row["mean_l0"], row["out_of_range"]) == (2, 2.0, 1.5, 1)
    assert row["ms_per_counterfactual"] == pytest.approx(2.0)
    vs = trees.against(method, ref)  # only row 0 is valid for both
    assert (vs["rows"], vs["l1_ratio"], vs["l0_ratio"]) == (1, 0.5, 0.25)
    assert trees.against(method, ref, np.array([False, True, True]))["rows"] == 0


def test_closer_than_an_optimum_is_counted_only_within_the_constraints():
    per_row = {"MILP optimum": _scores([True, True], [2.0, 2.0], [1, 1]),
               "A": _scores([True, True], [1.0, 1.0], [1, 1], in_range=[1.0, 0.0]),
               "B": _scores([True, True], [2.0, 3.0], [1, 1]),
               "C": _scores([True, True], [1.9995, 2.0], [1, 1])}   # within 10 features' margins
    counts = trees.closer_than_optimum(per_row, np.array([True, True]), 10)
    assert counts == {"MILP optimum": 0, "A": 1, "B": 0, "C": 0}


def _result(validity, l1_ratio, speedup, l0, genetic_l0, genetic_validity=0.95):
    method = {"rows": 20, "valid": int(20 * validity), "validity": validity,
              "vs_optimum": {"rows": 10, "l1_ratio": l1_ratio},
              "vs_dice_genetic": {"rows": 15, "speedup": speedup, "l0": l0, "ref_l0": genetic_l0}}
    genetic = {"rows": 20, "valid": int(20 * genetic_validity), "validity": genetic_validity}
    data = {"dataset": "breast_cancer", "methods": {"X": method, "DiCE genetic": genetic, "MILP optimum": {}},
            "all_rows": {"X": {"rows": 171, "valid": int(171 * validity), "validity": validity}}}
    return {"datasets": [data]}


def test_targets_met_and_not_met():
    met = [t["met"] for t in targets(_result(0.96, 1.19, 150.0, 2.0, 30.0))]
    assert met == [True, True, True]
    met = [t["met"] for t in targets(_result(0.90, 1.21, 150.0, 31.0, 30.0))]
    assert met == [False, False, False]             # validity, ℓ1 ratio; speed at lower validity and ℓ0
    assert not targets(_result(1.0, 1.0, 99.0, 1.0, 30.0))[2]["met"]           # speed
    assert not targets(_result(0.96, 1.0, 500.0, 1.0, 30.0, genetic_validity=1.0))[2]["met"]  # less valid


def test_a_method_the_binding_lacks_is_skipped_with_a_reason():
    assert "no cfx.NoSuchMethod" in trees.available("NoSuchMethod")
    assert trees.available("FeatureTweaking", {"epsilon": 0.1}) is None
    assert "no no_such_key" in trees.available("FeatureTweaking", {"no_such_key": 1})


def test_dice_columns_round_trip_one_hot_groups():
    pytest.importorskip("pandas")
    from run_dice import Columns
    names = ["a", "g=x", "g=y", "g=z", "b"]
    columns = Columns(names, {"g": [1, 2, 3]})
    X = np.array([[0.5, 0, 0, 1, -1.0], [1.5, 1, 0, 0, 2.0]])
    frame = columns.frame(X)
    assert list(frame.columns) == ["a", "b", "g"] and list(frame["g"]) == ["g=z", "g=x"]
    np.testing.assert_array_equal(columns.rows(frame), X)


def test_optima_cache_keeps_proven_valid_optima_under_matching_fingerprints(tmp_path):
    from cfxbench.tree_milp import Solution
    from cfxbench.tree_optima import OptimaCache, cached_solution, problem_key
    x, box = np.array([0.0, 1.0]), (np.array([-2.0, -2.0]), np.array([2.0, 2.0]))
    key = problem_key(x, 1, box, [], [])
    assert key == problem_key(x.copy(), 1, box, [], [])
    assert len({key, problem_key(x, 0, box, [], []), problem_key(x + 1e-9, 1, box, [], []),
                problem_key(x, 1, box, [1], []), problem_key(x, 1, (box[0], box[1] + 1), [], [])}) == 5
    cache = OptimaCache(tmp_path / "optima.json")
    proven = Solution(np.array([0.5, 1.0]), True, 3.0, "Optimal", 0.5)
    cache.put("d", "forest", key, proven, x, 120.0, valid=True)
    cache.put("d", "forest", "other", Solution(np.array([0.5, 1.0]), False, 20.0, "time limit", 0.2), x, 20.0, valid=True)
    cache.put("d", "forest", "invalid", proven, x, 120.0, valid=False)
    cache.save()
    again = OptimaCache(tmp_path / "optima.json")
    entry = again.get("d", "forest", key)
    assert (entry["l1"], entry["l0"], entry["time_limit"], entry["gap"]) == (0.5, 1, 120.0, 0.0)
    assert again.get("d", "another forest", key) is None
    assert again.get("d", "forest", "other") is None and again.get("d", "forest", "invalid") is None
    sol = cached_solution(entry)
    assert sol.optimal and list(sol.x) == [0.5, 1.0]
    again.entries["d"]["forest"][key]["formulation"] = "another program"
    assert again.get("d", "forest", key) is None
