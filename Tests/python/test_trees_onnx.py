"""scikit-learn forests and gradient boosting through skl2onnx's TreeEnsembleClassifier, loaded
natively (cfx_model_load of a .onnx path): probabilities against onnxruntime and scikit-learn on
breast cancer and iris, and Feature Tweaking's counterfactuals valid on the real forest.

The file stores thresholds and weights as float32: cfx reads them as stored and sums in float64,
onnxruntime sums in float32, so they agree to about 1e-7 to 1e-6 (not 1e-9); scikit-learn rounds the
input to float32 and compares with float64 thresholds, which a FLOAT-input file reproduces
(docs/trees.md)."""
import numpy as np
import pytest

import cfx

ort = pytest.importorskip("onnxruntime", reason="[onnx] onnxruntime is not installed (CFX_TEST_ONNX=1 bash Tests/run-all.sh installs it)")
skl2onnx = pytest.importorskip("skl2onnx", reason="[onnx] skl2onnx is not installed (CFX_TEST_ONNX=1 bash Tests/run-all.sh installs it)")
datasets = pytest.importorskip("sklearn.datasets", reason="[sklearn] scikit-learn is not installed")
ensemble = pytest.importorskip("sklearn.ensemble", reason="[sklearn] scikit-learn is not installed")

FLOAT32_FILE = 1e-6  # float32 weights summed in float32 (onnxruntime: 4e-7 off at 100 trees) or float64 (cfx)


def _export(model, X, path):
    onx = skl2onnx.to_onnx(model, X[:1], options={id(model): {"zipmap": False}})
    path.write_bytes(onx.SerializeToString())
    return str(path)


def _onnxruntime(path, X):
    session = ort.InferenceSession(path)
    return session.run(None, {session.get_inputs()[0].name: X})[1]


@pytest.mark.parametrize("dataset, maker", [
    ("cancer", lambda: ensemble.RandomForestClassifier(n_estimators=100, random_state=0)),
    ("cancer", lambda: ensemble.GradientBoostingClassifier(n_estimators=50, max_depth=3, random_state=0)),
    ("iris", lambda: ensemble.RandomForestClassifier(n_estimators=30, random_state=0)),
    ("iris", lambda: ensemble.GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=0)),
])
def test_float_input_equals_onnxruntime_and_sklearn(tmp_path, dataset, maker):
    X, y = (datasets.load_breast_cancer if dataset == "cancer" else datasets.load_iris)(return_X_y=True)
    X = X.astype(np.float32)
    fitted = maker().fit(X, y)
    path = _export(fitted, X, tmp_path / "m.onnx")
    got = cfx.Model.load(path).predict(X.astype(np.float64))
    assert np.abs(got - _onnxruntime(path, X)).max() <= FLOAT32_FILE
    assert np.abs(got - fitted.predict_proba(X)).max() <= FLOAT32_FILE


def test_double_input_equals_onnxruntime(tmp_path):
    """A DOUBLE-input file compares float64 inputs with float32 thresholds, as onnxruntime does
    (and unlike scikit-learn, which rounds the input first)."""
    X, y = datasets.load_breast_cancer(return_X_y=True)
    forest = ensemble.RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y)
    path = _export(forest, X, tmp_path / "m.onnx")
    assert np.abs(cfx.Model.load(path).predict(X) - _onnxruntime(path, X)).max() <= FLOAT32_FILE


def test_feature_tweaking_on_a_forest(tmp_path):
    X, y = datasets.load_breast_cancer(return_X_y=True)
    X = X.astype(np.float32).astype(np.float64)
    forest = ensemble.RandomForestClassifier(n_estimators=50, max_depth=6, random_state=0).fit(X, y)
    model = cfx.Model.load(_export(forest, X.astype(np.float32), tmp_path / "rf.onnx"))
    rows = X[:30]
    epsilon = list(0.01 * X.std(axis=0))
    for immutable in ([], [0, 2, 3]):
        exps = cfx.FeatureTweaking(model, epsilon=epsilon, immutable=immutable).explain(rows)
        found = [(x, e) for x, e in zip(rows, exps) if e.cf is not None]
        assert len(found) >= 5  # one path seldom outvotes a confident forest (docs/methods/feature_tweaking.md)
        for x, e in found:
            assert np.argmax(forest.predict_proba(e.cf["X"][None, :].astype(np.float32))[0]) != e["orig_class"]
            assert np.argmax(model.predict(e.cf["X"][None, :])[0]) == e.cf["class"]
            for j in immutable:
                assert e.cf["X"][j] == x[j]


def _attribute(node, name):
    return next(a for a in node.attribute if a.name == name)


@pytest.mark.parametrize("edit, field", [
    (lambda n: _attribute(n, "nodes_truenodeids").ints.__setitem__(0, 0), "reached twice"),
    (lambda n: _attribute(n, "nodes_truenodeids").ints.__setitem__(0, 999), "not a node of its tree"),
    (lambda n: _attribute(n, "nodes_featureids").ints.__setitem__(0, 30), "feature 30"),
    (lambda n: _attribute(n, "nodes_modes").strings.__setitem__(0, b"BRANCH_EQ"), "nodes_modes"),
    (lambda n: _attribute(n, "nodes_values").floats.pop(), "nodes_values"),
    (lambda n: _attribute(n, "class_nodeids").ints.__setitem__(0, 999), "does not exist"),
    (lambda n: _attribute(n, "post_transform").__setattr__("s", b"PROBIT"), "post_transform"),
])
def test_hostile_tree_attributes_are_model_errors(tmp_path, edit, field):
    X, y = datasets.load_breast_cancer(return_X_y=True)
    X = X.astype(np.float32)
    forest = ensemble.RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    onx = skl2onnx.to_onnx(forest, X[:1], options={id(forest): {"zipmap": False}})
    edit(next(n for n in onx.graph.node if n.op_type == "TreeEnsembleClassifier"))
    (tmp_path / "bad.onnx").write_bytes(onx.SerializeToString())
    with pytest.raises(cfx.errors.ModelError, match=field):
        cfx.Model.load(str(tmp_path / "bad.onnx"))
