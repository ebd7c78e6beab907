"""The benchmark harness (benchmarks/harness.py, benchmarks/cfxbench): metric aggregation into
table rows, and determinism on the tiny suite (a few iris flowers, cfx only)."""
import importlib.util
import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

pytest.importorskip("sklearn", reason="[sklearn] scikit-learn is not installed")

import cfx  # noqa: E402
from cfxbench import report, results  # noqa: E402
from cfxbench.suite import cfx_worse, run_suite  # noqa: E402


def _logistic_model():
    # p(class 1) = sigmoid(x0 - x1): a 2-feature, 2-class softmax network
    return cfx.Model.from_json({"input_shape": [2], "layers": [
        {"type": "dense", "weights": [[0.5, -0.5], [-0.5, 0.5]], "bias": [0.0, 0.0]},
        {"type": "softmax"}]})


def test_summary_row_aggregates_hand_made_counterfactuals():
    model = _logistic_model()
    X = np.array([[1.0, 0.0], [2.0, 0.0], [0.5, 0.0]])      # all class 1
    X_cf = np.array([[1.0, 2.0],                            # class 0: valid, L1 2, L0 1
                     [np.nan, np.nan],                      # none found
                     [-1.5, 1.0]])                          # class 0: valid, L1 3, L2 √5, L0 2
    res = cfx.metrics.evaluate(model, X, X_cf, meta=[{"seconds": 0.1, "model_calls": 10},
                                                     {"seconds": 0.2, "model_calls": 20},
                                                     {"seconds": 0.3, "model_calls": 30}])
    row = report.summary_row(res, [0.1, 0.2, 0.3], [10, 20, 30])
    assert row["n"] == 3 and row["n_found"] == 2 and row["n_valid"] == 2
    assert row["metrics"]["validity"]["mean"] == pytest.approx(2 / 3)      # over all instances
    assert row["metrics"]["l1"]["n"] == 2                                  # over those found
    assert row["metrics"]["l1"]["mean"] == pytest.approx(2.5)
    assert row["metrics"]["l1"]["median"] == pytest.approx(2.5)
    assert row["metrics"]["l1"]["std"] == pytest.approx(0.5)
    assert row["metrics"]["l0"]["mean"] == pytest.approx(1.5)
    assert row["metrics"]["l2"]["mean"] == pytest.approx((2 + math.sqrt(5)) / 2)
    assert row["seconds_per_cf_mean"] == pytest.approx(0.2)
    assert row["seconds_per_cf_median"] == pytest.approx(0.2)
    assert row["model_calls_mean"] == pytest.approx(20)
    # a metric with no values is None (JSON null), not NaN
    assert row["metrics"]["nn_distance"]["mean"] is None
    json.dumps(row, allow_nan=False)
    # speed ratio: other seconds per cf over cfx's
    assert report.speed_ratio({"seconds_per_cf_mean": 2.0}, {"seconds_per_cf_mean": 0.001}) == pytest.approx(2000)
    assert report.speed_ratio({"seconds_per_cf_mean": None}, row) is None


def test_results_keep_lists_on_one_line_and_counterfactuals_exact(tmp_path):
    data = {"suite": "x", "l1": [1.5, None, 2.0], "runs": [
        {"library": "cfx", "cf": [[0.1, 1 / 3], None, [-2.0, 1e-300]]}, {"library": "alibi"}]}
    text = results.dumps(data)
    assert '"l1": [1.5, null, 2.0]' in text and json.loads(text) == data
    results.save_suite(tmp_path / "x.json", data)
    assert "cf" not in json.loads((tmp_path / "x.json").read_text())["runs"][0]
    assert results.load_suite(tmp_path / "x.json") == data and "cf" in data["runs"][0]


def test_every_subcommand_names_a_module_or_script_that_exists():
    import harness
    assert {"suite", "env", "mlp-speed", "torch", "wachter", "cfproto", "networks"} <= set(harness.SUBCOMMANDS)
    for name, (target, about) in harness.SUBCOMMANDS.items():
        if target.endswith(".sh"):
            path = ROOT / "benchmarks" / target
        else:
            path = pathlib.Path(importlib.util.find_spec(target).origin)   # not imported: torch, sklearn...
            source = path.read_text()
            assert "def add_arguments(" in source and "def main(args" in source, name
        assert path.is_file() and about, name


def test_env_subcommand_gives_the_provenance_record():
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "harness.py"), "env", "--no-library",
                          "--command", "a b"], capture_output=True, text=True, check=True)
    record = json.loads(run.stdout)
    assert record["command"] == "a b" and record["cores"] >= 1 and record["commit"] and "cpu" in record
    markdown = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "harness.py"), "env", "--no-library",
                               "--markdown"], capture_output=True, text=True, check=True).stdout
    assert markdown.startswith("- date: ") and f"- commit `{record['commit']}`" in markdown
    unknown = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "harness.py"), "no-such-thing"],
                             capture_output=True, text=True)
    assert unknown.returncode == 2 and "subcommands:" in unknown.stderr


def test_table_and_cfx_worse_list_the_runs():
    base = {"n": 2, "seconds_per_cf_mean": 1e-3, "model_calls_mean": 5.0,
            "metrics": {"validity": {"n": 2, "mean": 1.0}, "l1": {"n": 2, "mean": 2.0}}}
    other = {"n": 2, "seconds_per_cf_mean": 1.0, "model_calls_mean": None,
             "metrics": {"validity": {"n": 2, "mean": 0.5}, "l1": {"n": 1, "mean": 1.0}}}
    runs = [{"library": "cfx", "method": "wachter", "method_label": "Wachter", "subset": "first 2 (= alibi's)",
             "row": base, "reference": True, "n_subset": 2},
            {"library": "alibi 0.9.6", "method": "wachter", "method_label": "Wachter", "subset": "first 2",
             "row": other, "ratio_vs_cfx": 1000.0, "n_subset": 2}]
    lines = report.table(runs)
    assert lines[0].startswith("| library | method | instances | N | valid | L1")
    assert "| 100% | 2.000 |" in lines[2] and "1 (reference)" in lines[2]
    assert "| 50% | 1.000 |" in lines[3] and "**1,000× slower**" in lines[3] and "| 1.00 s |" in lines[3]
    worse = cfx_worse(runs)
    assert len(worse) == 1 and "l1 2 vs 1" in worse[0] and "validity" not in worse[0]


def test_tiny_suite_repeats_exactly(tmp_path):
    kw = dict(external=False, plots=False, command="test")
    a = run_suite("tiny", tmp_path / "out", tmp_path / "a", **kw)
    b = run_suite("tiny", tmp_path / "out", tmp_path / "b", **kw)
    assert a["instances"] == b["instances"] and len(a["instances"]) == 5
    assert all(a["determinism"].values())                      # two runs inside one suite
    runs_a = [r for r in a["runs"] if r["library"] == "cfx"]
    runs_b = [r for r in b["runs"] if r["library"] == "cfx"]
    assert [r["cf"] for r in runs_a] == [r["cf"] for r in runs_b]   # and across suite runs
    wachter = runs_a[0]
    assert wachter["method"] == "wachter" and wachter["row"]["n"] == 5
    assert wachter["row"]["metrics"]["validity"]["mean"] == 1.0
    assert wachter["row"]["metrics"]["in_range"]["mean"] == 1.0
    # the table's numbers are the aggregation of the per-instance values
    l1 = [v for v in wachter["l1"] if v is not None]
    assert wachter["row"]["metrics"]["l1"]["mean"] == pytest.approx(np.mean(l1))
    md = (tmp_path / "a" / "tiny.md").read_text()
    assert "| cfx | Wachter | all | 5 | 100% |" in md
    # the summary JSON holds no counterfactuals; they are exact in tiny.cf.npz beside it
    assert all("cf" not in r for r in json.loads((tmp_path / "a" / "tiny.json").read_text())["runs"])
    saved = results.load_suite(tmp_path / "a" / "tiny.json")
    assert saved["runs"][0]["cf"] == wachter["cf"]


def test_float32_suite_writes_its_own_results(tmp_path):
    """--dtype float32: cfx's methods run on Model.astype("float32"); the results get their own
    file name next to the float64 ones, and say which type ran."""
    kw = dict(external=False, plots=False, command="test")
    a = run_suite("tiny", tmp_path / "out", tmp_path / "r", dtype="float32", **kw)
    assert a["dtype"] == "float32" and all(a["determinism"].values())
    assert a["runs"][0]["row"]["metrics"]["validity"]["mean"] == 1.0
    assert not (tmp_path / "r" / "tiny.md").exists()
    assert "- cfx networks: float32" in (tmp_path / "r" / "tiny_float32.md").read_text()
    assert json.loads((tmp_path / "r" / "tiny_float32.json").read_text())["dtype"] == "float32"


def test_comparison_scripts_rebuild_the_same_network():
    """benchmarks/external/cfx_spec.py (used by the alibi and DiCE runners) reads both spec forms,
    nested "weights" and flat "tensors" (cfx.Model.spec()), and predicts what cfx predicts."""
    sys.path.insert(0, str(ROOT / "benchmarks" / "external"))
    from cfx_spec import numpy_predict, parse_spec
    fx = json.loads((ROOT / "Tests" / "fixtures" / "iris_mlp.json").read_text())
    model = cfx.Model.from_json(fx["model"])
    X = np.asarray(fx["x_test"])
    for spec in (fx["model"], model.spec()):
        assert np.abs(numpy_predict(parse_spec(spec))(X) - model.predict(X)).max() < 1e-12


@pytest.mark.skipif(not (ROOT / "benchmarks" / "models" / "digits_cnn.json").exists() or not hasattr(cfx, "DeDUCE"),
                    reason="needs the digits reference model and DeDUCE")
def test_pair_methods_are_scored_against_each_pairs_target(tmp_path):
    """DeDUCE and JSMA return one counterfactual per (instance, target class): the harness scores
    each against its own target and keeps the instance of each row."""
    from cfxbench import datasets
    from cfxbench.methods import METHODS
    from cfxbench.suite import evaluate, run_cfx
    ds = datasets.load("digits")
    model = cfx.Model.from_json(ds.spec)
    X = ds.X_test[:2]
    for key in ("jsma", "deduce"):
        cf, meta, wall, config, same, rows, targets = run_cfx(METHODS[key], model, ds, X, seed=0, min_seconds=0)
        assert same and len(cf) == len(rows) == len(targets) == 2 * 9        # every class but the prediction
        assert rows == [0] * 9 + [1] * 9
        orig = model.predict(X).argmax(axis=1)
        assert all(t != orig[r] for r, t in zip(rows, targets))
        res = evaluate(ds, model, X[rows], cf, meta, target_class=targets)
        found = ~np.isnan(cf).any(axis=1)
        assert (res.instances["cf_class"][found] == np.asarray(targets)[found]).all() == \
            bool(res.instances["validity"][found].all())


def test_sparse_diverse_suite_runs_cfx_only(tmp_path):
    """The sparse-and-diverse comparison (cfx only, 3 iris flowers): every run gives valid
    counterfactuals, sparsify never adds changes, sets are full, and the report is written."""
    from cfxbench import sparse_diverse
    data = sparse_diverse.run("iris", 3, 3, tmp_path / "out", tmp_path, "test", external=False)
    rows = data["rows"]
    for m in ("Wachter", "CFProto"):
        assert rows[m]["valid"] == 1.0 and rows[f"{m} + sparsify"]["valid"] == 1.0
        assert rows[f"{m} + sparsify"]["l0"] <= rows[m]["l0"]
        for variant in (f"{m} set k=3", f"{m} set k=3 + sparsify"):
            assert rows[variant]["all_valid"] == 1.0 and rows[variant]["k"] == 3
    assert (tmp_path / "iris.md").read_text().count("| Wachter") >= 4
    assert any(line.startswith("Wachter + sparsify: valid 100% (met)") for line in data["targets"])
