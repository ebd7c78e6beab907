"""Tree ensembles loaded natively (cfx_model_load): probabilities equal to XGBoost's and
LightGBM's own on real data (breast cancer, iris) to 1e-9, and clear model errors on broken files.

xgboost and lightgbm are installed by Tests/prerequisites.sh only with CFX_TEST_TREES=1; without
them these tests skip (a failure when CFX_REQUIRE names "trees", as CI does)."""
import json
import pathlib

import numpy as np
import pytest

import cfx

xgb = pytest.importorskip("xgboost", reason="[trees] xgboost is not installed (CFX_TEST_TREES=1 bash Tests/run-all.sh installs it)")
lgb = pytest.importorskip("lightgbm", reason="[trees] lightgbm is not installed (CFX_TEST_TREES=1 bash Tests/run-all.sh installs it)")
datasets = pytest.importorskip("sklearn.datasets", reason="[sklearn] scikit-learn is not installed")

TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def cancer():
    return datasets.load_breast_cancer(return_X_y=True)


@pytest.fixture(scope="module")
def iris():
    return datasets.load_iris(return_X_y=True)


def _same(path, reference, X):
    model = cfx.Model.load(str(path))
    assert model.n_features == X.shape[1]
    got = model.predict(X)
    want = reference.predict_proba(X)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= TOLERANCE
    return model


@pytest.mark.parametrize("base_score", [None, 0.3])
def test_xgboost_binary(tmp_path, cancer, base_score):
    X, y = cancer
    booster = xgb.XGBClassifier(n_estimators=100, max_depth=4, base_score=base_score).fit(X, y)
    booster.get_booster().save_model(tmp_path / "m.json")
    _same(tmp_path / "m.json", booster, X)


def test_xgboost_multiclass(tmp_path, iris):
    X, y = iris
    booster = xgb.XGBClassifier(n_estimators=40, max_depth=3, objective="multi:softprob").fit(X, y)
    booster.get_booster().save_model(tmp_path / "m.json")
    assert _same(tmp_path / "m.json", booster, X).n_classes == 3


def test_xgboost_missing_directions(tmp_path, cancer):
    """Trained with NaNs, so splits have learnt default directions; cfx takes finite rows only, so
    the rows compared are finite, but the file's default_left flags are read and checked."""
    X, y = cancer
    holes = X.copy()
    holes[::3, :5] = np.nan
    booster = xgb.XGBClassifier(n_estimators=30, max_depth=3).fit(holes, y)
    booster.get_booster().save_model(tmp_path / "m.json")
    _same(tmp_path / "m.json", booster, X)


def test_lightgbm_binary(tmp_path, cancer):
    X, y = cancer
    model = lgb.LGBMClassifier(n_estimators=100, verbose=-1).fit(X, y)
    model.booster_.save_model(tmp_path / "m.txt")
    _same(tmp_path / "m.txt", model, X)


def test_lightgbm_multiclass(tmp_path, iris):
    X, y = iris
    model = lgb.LGBMClassifier(n_estimators=30, verbose=-1).fit(X, y)
    model.booster_.save_model(tmp_path / "m.txt")
    _same(tmp_path / "m.txt", model, X)


def test_lightgbm_zero_as_missing_and_forest(tmp_path, cancer):
    """Missing type Zero (zero_as_missing) and random-forest mode (average_output)."""
    X, y = cancer
    zeros = X.copy()
    zeros[::4, :8] = 0.0
    model = lgb.LGBMClassifier(n_estimators=20, zero_as_missing=True, verbose=-1).fit(zeros, y)
    model.booster_.save_model(tmp_path / "z.txt")
    assert "decision_type=" in (tmp_path / "z.txt").read_text()
    _same(tmp_path / "z.txt", model, zeros)
    forest = lgb.LGBMClassifier(boosting_type="rf", n_estimators=20, bagging_freq=1, bagging_fraction=0.7, verbose=-1).fit(X, y)
    forest.booster_.save_model(tmp_path / "rf.txt")
    assert "average_output" in (tmp_path / "rf.txt").read_text()
    _same(tmp_path / "rf.txt", forest, X)


def test_tree_has_no_gradient(tmp_path, cancer):
    X, y = cancer
    booster = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y)
    booster.get_booster().save_model(tmp_path / "m.json")
    model = cfx.Model.load(str(tmp_path / "m.json"))
    with pytest.raises(cfx.errors.ModelError, match="no gradient"):
        model.vjp(X[:2], np.ones((2, 2)))
    with pytest.raises(cfx.errors.Error, match="no gradient"):
        cfx.Wachter(model, max_iter=10).explain(X[:1])


def _xgboost_file(tmp_path, cancer, edit):
    X, y = cancer
    xgb.XGBClassifier(n_estimators=2, max_depth=2).fit(X, y).get_booster().save_model(tmp_path / "m.json")
    spec = json.loads((tmp_path / "m.json").read_text())
    edit(spec["learner"])
    (tmp_path / "bad.json").write_text(json.dumps(spec))
    return str(tmp_path / "bad.json")


@pytest.mark.parametrize("edit, field", [
    (lambda l: l["gradient_booster"]["model"]["trees"][0]["left_children"].__setitem__(0, 0), "reached twice"),
    (lambda l: l["gradient_booster"]["model"]["trees"][0]["left_children"].__setitem__(0, 99), "out of range"),
    (lambda l: l["gradient_booster"]["model"]["trees"][1]["split_indices"].__setitem__(0, 30), "feature 30"),
    (lambda l: l["gradient_booster"]["model"]["trees"][0]["split_conditions"].pop(), "split_conditions"),
    (lambda l: l["objective"].__setitem__("name", "reg:squarederror"), "learner.objective.name"),
    (lambda l: l["learner_model_param"].__setitem__("base_score", "[2E0]"), "base_score"),
    (lambda l: l["gradient_booster"]["model"].__setitem__("tree_info", [0]), "tree_info"),
    (lambda l: l["learner_model_param"].pop("num_feature"), "num_feature: missing"),
    # 2^62 classes with one base score: nothing may be allocated per class before the class check
    (lambda l: (l["objective"].__setitem__("name", "multi:softprob"),
                l["learner_model_param"].update(num_class=str(2**62), base_score="5E-1")), "num_class: 4611686018427387904 classes"),
])
def test_xgboost_errors_name_the_field(tmp_path, cancer, edit, field):
    with pytest.raises(cfx.errors.ModelError, match=field):
        cfx.Model.load(_xgboost_file(tmp_path, cancer, edit))


@pytest.mark.parametrize("old, new, field", [
    ("end of trees", "", "truncated"),
    ("left_child=", "left_child=7 ", "left_child"),
    ("objective=binary", "objective=lambdarank", "objective"),
    ("decision_type=2", "decision_type=3", "categorical"),
    ("num_leaves=", "num_leaves=-", "num_leaves"),
    ("objective=binary sigmoid:1", "objective=multiclass num_class:1", "num_class: 1"),
])
def test_lightgbm_errors_name_the_field(tmp_path, cancer, old, new, field):
    """Each edit of a real file is a model error naming the field (a multiclass model of 0 classes
    once divided by zero: Tests/fuzz/regressions/trees)."""
    X, y = cancer
    lgb.LGBMClassifier(n_estimators=2, num_leaves=4, verbose=-1).fit(X, y).booster_.save_model(tmp_path / "m.txt")
    text = (tmp_path / "m.txt").read_text()
    assert old in text
    (tmp_path / "bad.txt").write_text(text.replace(old, new, 1))
    with pytest.raises(cfx.errors.ModelError, match=field):
        cfx.Model.load(str(tmp_path / "bad.txt"))


def test_lightgbm_class_count_is_checked_before_use(tmp_path, cancer):
    """num_class is checked against cfx's class limit when it is read, not after per-class work."""
    X, y = cancer
    lgb.LGBMClassifier(n_estimators=2, num_leaves=4, verbose=-1).fit(X, y).booster_.save_model(tmp_path / "m.txt")
    text = (tmp_path / "m.txt").read_text().replace("objective=binary sigmoid:1", "objective=multiclass", 1)
    (tmp_path / "bad.txt").write_text(text.replace("num_class=1\n", f"num_class={2**27}\n", 1))
    with pytest.raises(cfx.errors.ModelError, match="num_class: 134217728 classes"):
        cfx.Model.load(str(tmp_path / "bad.txt"))


def _forest_valid(model, X, exps, immutable=()):
    """Every returned counterfactual is predicted by the real ensemble as another class than
    the instance, and leaves the immutable features alone."""
    found = [e for e in exps if e.cf is not None]
    for x, e in zip(X, exps):
        if e.cf is None:
            continue
        p = model.predict(e.cf["X"][None, :])[0]
        assert np.argmax(p) != e["orig_class"]
        assert np.argmax(p) == e.cf["class"]
        for j in immutable:
            assert e.cf["X"][j] == x[j]
        assert e.cf["changed"] == int(np.sum(e.cf["X"] != x))
    return len(found)


@pytest.mark.parametrize("maker, suffix", [
    (lambda: xgb.XGBClassifier(n_estimators=50, max_depth=3), "json"),
    (lambda: lgb.LGBMClassifier(n_estimators=50, num_leaves=8, verbose=-1), "txt"),
])
def test_feature_tweaking_valid_on_boosted_trees(tmp_path, cancer, maker, suffix):
    X, y = cancer
    fitted = maker().fit(X, y)
    path = tmp_path / f"m.{suffix}"
    (fitted.get_booster() if suffix == "json" else fitted.booster_).save_model(path)
    model = cfx.Model.load(str(path))
    rows = X[:40]
    exps = cfx.FeatureTweaking(model).explain(rows)
    assert _forest_valid(model, rows, exps) >= 1  # one path rarely flips a whole boosted ensemble
    immutable = [22, 23, 27]  # the features the first trees split on most
    fixed = cfx.FeatureTweaking(model, immutable=immutable, distance="l1").explain(rows)
    _forest_valid(model, rows, fixed, immutable)
    assert any(e.cf is not None for e in fixed)


@pytest.mark.parametrize("name, immutable", [("lightgbm_cancer.txt", []), ("xgboost_cancer.json", [20, 22, 23, 27])])
def test_feature_tweaking_sparsify_on_fixture(name, immutable):
    """sparsify on the committed fixtures (Tests/fixtures/trees, trained on the standardised rows
    of breast_cancer_mlp.json): valid on the ensemble, a subset of the plain counterfactual's
    changes (restored features equal the instance), immutable honoured, and strictly fewer
    changes for some row (two of the 171 test rows on each)."""
    fixtures = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
    model = cfx.Model.load(str(fixtures / "trees" / name))
    X = np.array(json.loads((fixtures / "breast_cancer_mlp.json").read_text())["x_test"])
    plain = cfx.FeatureTweaking(model, immutable=immutable).explain(X)
    sparse = cfx.FeatureTweaking(model, immutable=immutable, sparsify=True).explain(X)
    assert _forest_valid(model, X, sparse, immutable) == _forest_valid(model, X, plain, immutable) >= 1
    fewer = 0
    for x, e, s in zip(X, plain, sparse):
        if e.cf is None:
            continue
        moved = s.cf["X"] != e.cf["X"]
        assert np.array_equal(s.cf["X"][moved], x[moved])
        assert s.cf["changed"] + s.cf["restored"] == e.cf["changed"]
        fewer += s.cf["changed"] < e.cf["changed"]
    assert fewer >= 1


def test_feature_tweaking_refuses_networks():
    with pytest.raises(cfx.errors.ConfigError, match="tree ensemble"):
        cfx.FeatureTweaking(cfx.Model.from_callable(lambda x: np.full((len(x), 2), 0.5),
                                                     n_features=2, n_classes=2))


@pytest.mark.parametrize("maker, suffix", [
    (lambda: xgb.XGBClassifier(n_estimators=50, max_depth=3), "json"),
    (lambda: lgb.LGBMClassifier(n_estimators=50, num_leaves=8, verbose=-1), "txt"),
])
def test_focus_valid_on_the_source_library(tmp_path, cancer, maker, suffix):
    """FOCUS through the generic explain path: every counterfactual flips the source library's
    own prediction, immutable features stay, and most rows succeed."""
    X, y = cancer
    X = (X - X.mean(axis=0)) / X.std(axis=0)  # σ is per unit of a feature
    fitted = maker().fit(X, y)
    path = tmp_path / f"m.{suffix}"
    (fitted.get_booster() if suffix == "json" else fitted.booster_).save_model(path)
    model = cfx.Model.load(str(path))
    rows = X[:30]
    exps = cfx.FOCUS(model, immutable=[22, 23], max_steps=300).explain(rows)
    found = [(x, e) for x, e in zip(rows, exps) if e.cf is not None]
    assert len(found) >= 20
    points = np.array([e.cf["X"] for _, e in found])
    assert np.all(fitted.predict(points) != np.array([e["orig_class"] for _, e in found]))
    for x, e in found:
        assert np.array_equal(e.cf["X"][[22, 23]], x[[22, 23]])


def test_relaxed_gradient_lets_wachter_explain_a_forest():
    fixtures = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
    forest = cfx.Model.load(str(fixtures / "trees" / "sklearn_forest_cancer.onnx"))
    X = np.array(json.loads((fixtures / "breast_cancer_mlp.json").read_text())["x_test"])[:10]
    with pytest.raises(cfx.errors.ModelError, match="no gradient"):
        cfx.Wachter(forest, max_iter=10).explain(X[:1])
    relaxed = forest.astype(relax_sigma=3)
    np.testing.assert_array_equal(relaxed.predict(X), forest.predict(X))
    exps = cfx.Wachter(relaxed, max_lam_steps=5, max_iter=300).explain(X)
    flipped = [e for e in exps if e["success"]]
    assert len(flipped) >= 5
    for e in flipped:
        assert np.argmax(forest.predict(np.asarray(e.cf["X"])[None])[0]) != e["orig_class"]
