"""The genetic search (docs/methods/genetic.md) through the Python bindings: a scikit-learn forest
as a predict-only Python callback (validity by scikit-learn's own predict, the constraints, one
callback call per generation), one-hot categorical variables, a native network's diverse sets,
the committed ONNX forest, the seed, and config errors that name the field."""
import json
import pathlib

import numpy as np
import pytest

import cfx

datasets = pytest.importorskip("sklearn.datasets", reason="[sklearn] scikit-learn is not installed")
ensemble = pytest.importorskip("sklearn.ensemble", reason="[sklearn] scikit-learn is not installed")

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
IMMUTABLE = [2, 5, 11, 17]


@pytest.fixture(scope="module")
def cancer():
    """Standardised breast cancer (the fixture's split), a 30-tree forest and its callback model
    that counts its calls."""
    fx = json.loads((FIXTURES / "breast_cancer_mlp.json").read_text())
    X_train, y_train = np.array(fx["x_train"]), np.array(fx["y_train"])
    forest = ensemble.RandomForestClassifier(n_estimators=30, random_state=0).fit(X_train, y_train)
    calls = []

    def predict(X):
        calls.append(len(X))
        return forest.predict_proba(X)

    model = cfx.Model.from_callable(predict, 30, 2)
    return X_train, np.array(fx["x_test"])[:30], forest, model, calls


def test_callback_forest_counterfactuals_are_valid_and_keep_the_constraints(cancer):
    X_train, X, forest, model, _ = cancer
    explainer = cfx.Genetic(model, immutable=IMMUTABLE, monotone={0: "increase", 1: "decrease"},
                            feature_range=[-2.5, 3.0], n_threads=1).fit(X_train)
    exps = explainer.explain(X)
    found = [(x, e) for x, e in zip(X, exps) if e.cf is not None]
    assert len(found) >= 0.95 * len(X)
    for x, e in found:
        point = np.asarray(e.cf["X"])
        assert forest.predict(point[None])[0] != e["orig_class"]          # valid on scikit-learn's own forest
        assert np.array_equal(point[IMMUTABLE], x[IMMUTABLE])
        assert point[0] >= x[0] and point[1] <= x[1]
        changed = point != x
        assert np.all((point[changed] >= -2.5) & (point[changed] <= 3.0))
        assert e.cf["changed"] == int(changed.sum()) and e.cf["restored"] >= 0


def test_one_callback_call_per_generation(cancer):
    X_train, X, _, model, calls = cancer
    explainer = cfx.Genetic(model, sparsify=False, n_threads=1).fit(X_train)
    del calls[:]
    e = explainer.explain(X[:1])[0]
    assert len(calls) == e["meta"]["model_calls"] == 1 + e["generations"]
    assert calls[0] == 1 and all(1 < rows <= 10 for rows in calls[1:])


def test_the_seed_decides(cancer):
    X_train, X, _, model, _ = cancer
    runs = [cfx.Genetic(model, seed=s, initialization="random", sparsify=False).fit(X_train).explain(X[:3])
            for s in (1, 1, 2)]
    points = [[e.cf["X"].tolist() for e in run] for run in runs]
    assert points[0] == points[1] and points[0] != points[2]


def test_one_hot_variables_stay_one_hot():
    """Class 1 when 2·x0 + 3·[category 2] > 1; x0 immutable: only category 2 flips the class."""
    def predict(X):
        p1 = 1 / (1 + np.exp(-(2 * X[:, 0] + 3 * X[:, 4] - 1)))
        return np.stack([1 - p1, p1], axis=1)

    rng = np.random.default_rng(0)
    train = np.zeros((60, 5))
    train[:, :2] = rng.uniform(-1, 1, (60, 2))
    train[np.arange(60), 2 + np.arange(60) % 3] = 1
    model = cfx.Model.from_callable(predict, 5, 2)
    X = np.array([[-0.5, 0.3, 1, 0, 0], [-0.2, -0.4, 0, 1, 0]])
    for e, x in zip(cfx.Genetic(model, cat_vars={2: 3}, ohe=True, immutable=[0]).fit(train).explain(X), X):
        point = np.asarray(e.cf["X"])
        assert sorted(point[2:]) == [0, 0, 1] and point[4] == 1 and point[0] == x[0]
        assert e.cf["class"] == 1


def test_native_network_sets_on_iris():
    fx = json.loads((FIXTURES / "iris_mlp.json").read_text())
    model = cfx.Model.from_json(fx["model"])
    X = np.array(fx["x_test"])
    exps = cfx.Genetic(model, target_class=2, n_counterfactuals=3).fit(np.array(fx["x_train"])).explain(X)
    reached = [e for e in exps if e["orig_class"] != 2 and e.cf is not None]
    assert len(reached) >= 0.9 * sum(e["orig_class"] != 2 for e in exps)
    for e in reached:
        members = np.array([m["X"] for m in e["cfs"]])
        assert len(members) == 3 and len({tuple(m) for m in members}) == 3
        assert np.all(np.argmax(model.predict(members), axis=1) == 2)
        assert e["diversity"] > 0


def test_onnx_forest_fixture(cancer):
    X_train, X, _, _, _ = cancer
    model = cfx.Model.load(str(FIXTURES / "trees" / "sklearn_forest_cancer.onnx"))
    exps = cfx.Genetic(model).fit(X_train).explain(X)
    points = np.array([e.cf["X"] for e in exps if e.cf is not None])
    assert len(points) >= 0.95 * len(X)
    origins = np.array([e["orig_class"] for e in exps if e.cf is not None])
    assert np.all(np.argmax(model.predict(points), axis=1) != origins)


@pytest.mark.parametrize("params, field", [
    ({"mutation_rate": 0.1}, "mutation_rate"),
    ({"population_size": 1}, "population_size"),
    ({"population_size": 3, "n_counterfactuals": 3}, "population_size"),
    ({"initialization": "kmeans"}, "initialization"),
    ({"maxiterations": 0}, "maxiterations"),
    ({"cat_vars": {29: 3}, "ohe": True}, "cat_vars"),
    ({"monotone": {2: "sideways"}}, "monotone"),
])
def test_config_errors_name_the_field(cancer, params, field):
    model = cancer[3]
    with pytest.raises(cfx.ConfigError, match=field):
        cfx.Genetic(model, **params)


def test_without_training_rows_the_range_must_be_finite(cancer):
    _, X, _, model, _ = cancer
    with pytest.raises(cfx.ConfigError, match="feature_range"):
        cfx.Genetic(model).explain(X[:1])
    e = cfx.Genetic(model, feature_range=[-3, 3], initialization="random").explain(X[:1])[0]
    assert e.cf is not None
