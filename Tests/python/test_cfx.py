"""Tests of the cfx Python bindings (and, through them, of libcfx).

Run from the repository root after `swift build -c release`:

    python3 -m pytest -q Tests/python
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest

import cfx
from cfx.export import from_sklearn

D, K = 4, 3
TOL = 0.05
TARGET = 1.0


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def params():
    rng = np.random.default_rng(7)
    W = rng.normal(scale=1.5, size=(K, D))
    b = rng.normal(scale=0.5, size=K)
    return W, b


@pytest.fixture(scope="module")
def spec(params):
    W, b = params
    return {"input_shape": [D],
            "layers": [{"type": "dense", "weights": W.tolist(), "bias": b.tolist()},
                       {"type": "softmax"}]}


@pytest.fixture(scope="module")
def model(spec):
    with cfx.Model.from_json(spec) as m:
        yield m


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(1).normal(size=(6, D))


def np_predict(params, X):
    W, b = params
    return softmax(np.atleast_2d(X) @ W.T + b)


def np_vjp(params, X, C):
    """Exact vjp of softmax(XW^T + b): g = (C*P - P*sum(C*P)) W."""
    W, b = params
    P = np_predict(params, X)
    S = P * C - P * np.sum(P * C, axis=1, keepdims=True)
    return S @ W


def assert_valid(exp, model, x=None, target=TARGET, tol=TOL):
    """A successful, valid counterfactual: class differs, proba of the new class near target,
    and the reported X/proba agree with the model."""
    assert isinstance(exp, cfx.Explanation)
    assert exp.success, exp
    cf = exp.cf
    assert cf is not None
    assert cf["X"].shape == (model.n_features,)
    assert cf["proba"].shape == (model.n_classes,)
    assert cf["class"] != exp.orig_class, exp
    assert abs(cf["proba"][cf["class"]] - target) <= tol + 1e-12, exp
    np.testing.assert_allclose(model.predict(cf["X"]), cf["proba"], rtol=0, atol=1e-9)
    assert int(np.argmax(cf["proba"])) == cf["class"]
    if x is not None:
        p = model.predict(x)
        assert exp.orig_class == int(np.argmax(p))
        assert exp.orig_proba == pytest.approx(p.max(), abs=1e-12)
        assert cf["distance"] == pytest.approx(np.abs(cf["X"] - x).sum(), rel=1e-6, abs=1e-9)


# ---- library, errors ---------------------------------------------------------------------------

def test_library_version():
    assert cfx.library_version() == cfx.__version__  # the header's (Tests/python/test_version.py)
    assert os.path.isfile(cfx.library_path())


def test_error_hierarchy_and_codes():
    expected = {cfx.InvalidArgumentError: 1, cfx.JSONError: 2, cfx.ConfigError: 3,
                cfx.ModelError: 4, cfx.ShapeError: 5, cfx.NumericError: 6, cfx.CallbackError: 7,
                cfx.CancelledError: 8, cfx.InternalError: 9}
    for cls, code in expected.items():
        assert issubclass(cls, cfx.Error)
        assert cls.code == code
    from cfx import _lib
    assert _lib.status_string(0)  # "ok"
    for code in expected.values():
        assert _lib.status_string(code)


def test_missing_library_message(tmp_path):
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(cfx.__file__)))
    env = dict(os.environ, CFX_LIBRARY=str(tmp_path / "nope.so"),
               PYTHONPATH=os.pathsep.join([pkg_parent, os.environ.get("PYTHONPATH", "")]))
    code = "import cfx\ntry:\n    cfx.default_config('wachter')\nexcept cfx.LibraryNotFoundError as e:\n    print('OK', e)\n"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(__file__), timeout=60)
    assert out.stdout.startswith("OK"), out.stderr
    assert "CFX_LIBRARY" in out.stdout


# ---- native model ------------------------------------------------------------------------------

def test_model_shape(model):
    assert (model.n_features, model.n_classes) == (D, K)


def test_runtime_info():
    info = cfx.runtime_info()
    assert info["version"] == cfx.library_version()
    assert info["openblas_core"] and info["cores"] >= 1
    # Tests/python/test_conv_backends.py checks which convolution backend it names.
    assert info["conv_backend"] in ("onednn", "im2col-sgemm")


def test_astype_float32_and_threads(model, params, X):
    m32 = model.astype("float32")
    expected = np_predict(params, X)
    got = m32.predict(X)
    assert np.abs(got - expected).max() <= 1e-4
    assert not np.array_equal(got, expected)  # computed in single precision
    assert (got.argmax(1) == expected.argmax(1)).all()
    np.testing.assert_array_equal(m32.astype(threads=2).predict(X), got)  # threads change nothing
    np.testing.assert_array_equal(m32.astype("float64").predict(X), model.predict(X))
    assert m32.spec()["dtype"] == "float32"
    with pytest.raises(cfx.ConfigError, match="dtype"):
        model.astype("float16")
    with pytest.raises(cfx.ConfigError, match="threads"):
        model.astype(threads=-1)


def test_predict_matches_numpy(model, params, X):
    np.testing.assert_allclose(model.predict(X), np_predict(params, X), rtol=0, atol=1e-12)
    p1 = model.predict(X[0])
    assert p1.shape == (K,)
    np.testing.assert_allclose(p1, np_predict(params, X[:1])[0], rtol=0, atol=1e-12)
    # non-contiguous / non-float64 input is converted
    Xf = np.asfortranarray(X).astype(np.float32)
    np.testing.assert_allclose(model.predict(Xf), np_predict(params, Xf.astype(np.float64)),
                               atol=1e-12)


def test_vjp_matches_finite_differences(model, params, X):
    C = np.random.default_rng(3).normal(size=(X.shape[0], K))
    G = model.vjp(X, C)
    assert G.shape == X.shape
    h = 1e-6
    num = np.zeros_like(X)
    for j in range(D):
        e = np.zeros(D)
        e[j] = h
        num[:, j] = (np.sum(C * model.predict(X + e), axis=1)
                     - np.sum(C * model.predict(X - e), axis=1)) / (2 * h)
    np.testing.assert_allclose(G, num, rtol=0, atol=1e-7)
    np.testing.assert_allclose(G, np_vjp(params, X, C), rtol=0, atol=1e-12)


def test_model_from_file_and_json_text(spec, params, X, tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(spec))
    with cfx.Model.from_file(path) as m:
        np.testing.assert_allclose(m.predict(X), np_predict(params, X), atol=1e-12)
    with cfx.Model.from_json(json.dumps(spec)) as m:
        assert m.n_classes == K


def test_model_errors(spec):
    with pytest.raises(cfx.JSONError) as ei:
        cfx.Model.from_json('{"input_shape": [4], "layers": [')
    assert ei.value.code == 2 and ei.value.message
    bad = json.loads(json.dumps(spec))
    bad["layers"][0]["bias"] = [0.0]  # k=3 rows of weights, 1 bias
    with pytest.raises(cfx.ModelError):
        cfx.Model.from_json(bad)
    with pytest.raises(cfx.ModelError):
        cfx.Model.from_json({"input_shape": [4], "layers": [{"type": "gelu"}]})


def test_shape_and_numeric_errors_on_model(model):
    with pytest.raises(cfx.ShapeError):
        model.predict(np.zeros((2, D + 1)))
    with pytest.raises(cfx.ShapeError):
        model.vjp(np.zeros((2, D)), np.zeros((2, K + 1)))
    x = np.zeros((1, D))
    x[0, 2] = np.inf
    with pytest.raises(cfx.NumericError):
        model.predict(x)
    # the model is still usable after errors
    assert model.predict(np.zeros(D)).shape == (K,)


def test_closed_model_and_explainer_lifetime(spec, X):
    m = cfx.Model.from_json(spec)
    ex = cfx.Wachter(m, max_iter=200)
    m.close()
    m.close()  # idempotent
    with pytest.raises(cfx.InvalidArgumentError):
        m.predict(X)
    # the explainer keeps its own reference to the native model
    exp = ex.explain(X[0])
    assert isinstance(exp, cfx.Explanation)
    ex.close()


# ---- config ------------------------------------------------------------------------------------

DEFAULTS = {"method": "wachter", "target_proba": 1.0, "tol": 0.05, "max_iter": 1000,
            "early_stop": 50, "lam_init": 0.1, "max_lam_steps": 10, "learning_rate_init": 0.1,
            "decay": True, "init": "identity", "distance_fn": "l1", "immutable": [],
            "n_threads": 0, "seed": 0, "on_error": "raise", "return_all": True, "all_candidates": "closest"}


def test_default_config():
    cfg = cfx.default_config("wachter")
    for key in list(DEFAULTS) + ["target_class", "feature_range", "eps"]:
        assert key in cfg, key
    for key, value in DEFAULTS.items():
        assert cfg[key] == value, (key, cfg[key])
    assert cfg["eps"] == 0.01
    with pytest.raises(cfx.ConfigError):
        cfx.default_config("no-such-method")


def test_effective_config(model):
    ex = cfx.Wachter(model, tol=0.1, max_iter=50, target_class=1, immutable=[0],
                     feature_range=np.array([-5.0, 5.0]))
    cfg = ex.config
    assert cfg["method"] == "wachter"
    assert cfg["tol"] == 0.1 and cfg["max_iter"] == 50 and cfg["target_class"] == 1
    assert cfg["immutable"] == [0]
    defaults = cfx.default_config("wachter")
    assert set(cfg) == set(defaults)
    for key in ("lam_init", "early_stop", "seed", "distance_fn"):
        assert cfg[key] == defaults[key]


@pytest.mark.parametrize("cfg,field", [
    ({"bogus_key": 1}, "bogus_key"),
    ({"max_iter": "many"}, "max_iter"),
    ({"tol": -1}, "tol"),
    ({"decay": 3}, "decay"),
    ({"target_class": "nobody"}, "target_class"),
    ({"target_class": 7}, "target_class"),          # only 3 classes
    ({"distance_fn": "l7"}, "distance_fn"),
    ({"immutable": [99]}, "immutable"),
])
def test_config_errors(model, cfg, field):
    with pytest.raises(cfx.ConfigError) as ei:
        cfx.Wachter(model, **cfg)
    assert ei.value.code == 3
    assert field in ei.value.message, ei.value.message


def test_bad_method_is_config_error(model):
    with pytest.raises(cfx.ConfigError):
        cfx.Explainer(model, {"method": "nonexistent"})
    with pytest.raises(cfx.JSONError):
        cfx.Explainer(model, '{"method": "wachter", ')


# ---- Wachter on the native model ---------------------------------------------------------------

@pytest.fixture(scope="module")
def wachter(model):
    with cfx.Wachter(model, target_class="other", max_iter=500) as ex:
        yield ex


def test_numbers_are_written_shortest_and_read_back(model, X):
    """Every real in cfx's JSON is the shortest text of its double: Python's repr of what it reads
    back is the same text (so reading it gives the double cfx wrote), and "all" holds one closest
    candidate per round unless every one is asked for."""
    import re
    for all_candidates in ("closest", "every"):
        with cfx.Wachter(model, max_iter=300, all_candidates=all_candidates) as ex:
            text = ex.explain_text(X[:3])
        reals = re.findall(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\d\"])", text)
        reals = [t for t in reals if "." in t or "e" in t]
        assert len(reals) > 100
        assert [repr(float(t)) for t in reals] == reals
        rounds = [len(r) for e in json.loads(text)["explanations"] for r in e["all"]]
        if all_candidates == "closest":
            assert max(rounds) == 1
        else:
            assert max(rounds) > 1


def test_json_backends_agree(model, X):
    """cfx's decoder (orjson when installed) and the standard library read the same values."""
    from cfx import _json
    with cfx.Wachter(model, max_iter=300, all_candidates="every") as ex:
        data = ex.explain_bytes(X[:3])
        again = ex.explain_raw(X[:3])
    assert _json.loads(data) == json.loads(data.decode())
    assert [e["all"] for e in again["explanations"]] == [e["all"] for e in json.loads(data)["explanations"]]


def test_explain_one(wachter, model, X):
    exp = wachter.explain(X[0])
    assert_valid(exp, model, X[0])
    # raw dict access
    assert isinstance(exp["cf"]["X"], list) and isinstance(exp.data, dict)
    assert exp["orig_class"] == exp.orig_class
    assert isinstance(exp.all, list) and all(isinstance(r, list) for r in exp.all)
    assert any(len(r) > 0 for r in exp.all)
    meta = exp.meta
    assert meta["method"] == "wachter"
    assert meta["model_calls"] > 0 and meta["seconds"] >= 0
    assert "gradient_evaluations" in meta and isinstance(meta["params"], dict)
    assert json.loads(exp.to_json()) == exp.data
    assert repr(exp).startswith("Explanation(success=True")
    with pytest.raises(AttributeError):
        exp.no_such_field


def test_explain_batch(wachter, model, X):
    exps = wachter.explain(X)
    assert isinstance(exps, list) and len(exps) == len(X)
    for x, exp in zip(X, exps):
        assert_valid(exp, model, x)
    assert len(wachter.explain(X[:1])) == 1
    assert wachter.explain(np.empty((0, D))) == []
    raw = wachter.explain_raw(X[:2])
    assert len(raw["explanations"]) == 2 and raw["seconds"] >= 0 and raw["n_threads"] >= 1


def test_explain_target_class_and_immutable(model, X):
    x = X[0]
    orig = int(np.argmax(model.predict(x)))
    target = (orig + 1) % K
    exp = cfx.Wachter(model, target_class=target, immutable=[0], max_iter=500).explain(x)
    assert_valid(exp, model, x)
    assert exp.cf["class"] == target
    assert exp.cf["X"][0] == x[0]


def test_explain_feature_range(model, X):
    lo, hi = -3.0, 3.0
    exps = cfx.Wachter(model, feature_range=[lo, hi], max_iter=500).explain(np.clip(X, lo, hi))
    for exp in exps:
        if exp.success:
            assert np.all(exp.cf["X"] >= lo - 1e-12) and np.all(exp.cf["X"] <= hi + 1e-12)


def test_explain_no_counterfactual(model, X):
    x = X[0]
    # a box of +-0.001 around x: no other class is reachable
    exp = cfx.Wachter(model, feature_range=[x - 1e-3, x + 1e-3], max_iter=100,
                      max_lam_steps=3).explain(x)
    assert not exp.success
    assert exp.cf is None and exp["cf"] is None and exp.cf_x is None
    assert "cf=None" in repr(exp)
    assert exp.orig_class == int(np.argmax(model.predict(x)))


def test_explain_shape_and_numeric_errors(wachter, X):
    with pytest.raises(cfx.ShapeError):
        wachter.explain(np.zeros(D + 1))
    with pytest.raises(cfx.ShapeError):
        wachter.explain(np.zeros((3, D - 1)))
    bad = X[:2].copy()
    bad[1, 1] = np.nan
    with pytest.raises(cfx.NumericError):
        wachter.explain(bad)
    assert wachter.explain(X[0]).success  # still usable


def test_concurrent_explain(model, X):
    ex = cfx.Wachter(model, max_iter=300, n_threads=2)
    expected = [e.data["cf"] for e in ex.explain(X)]
    results, errors = {}, []

    def worker(t):
        try:
            for _ in range(3):
                results.setdefault(t, []).append([e.data["cf"] for e in ex.explain(X)])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for runs in results.values():
        for cfs in runs:
            for got, want in zip(cfs, expected):
                assert (got is None) == (want is None)
                if got is not None:
                    assert got["class"] == want["class"]
                    np.testing.assert_allclose(got["X"], want["X"], rtol=0, atol=1e-12)


# ---- callable models ---------------------------------------------------------------------------

def test_callable_model_with_vjp(params, X):
    calls = {"predict": 0, "vjp": 0}
    lock = threading.Lock()

    def predict(x):
        with lock:
            calls["predict"] += 1
        return np_predict(params, x)

    def vjp(x, c):
        with lock:
            calls["vjp"] += 1
        return np_vjp(params, x, c)

    with cfx.Model.from_callable(predict, D, K, vjp=vjp) as m:
        assert (m.n_features, m.n_classes) == (D, K)
        np.testing.assert_allclose(m.predict(X), np_predict(params, X), atol=1e-15)
        C = np.ones((len(X), K))
        np.testing.assert_allclose(m.vjp(X, C), np_vjp(params, X, C), atol=1e-15)
        exps = cfx.Wachter(m, max_iter=300).explain(X[:3])
        for x, exp in zip(X, exps):
            assert_valid(exp, m, x)
    assert calls["vjp"] > 0


def test_callable_model_without_vjp(params, X):
    with cfx.Model.from_callable(lambda x: np_predict(params, x), D, K) as m:
        C = np.random.default_rng(5).normal(size=(len(X), K))
        # central differences: close to the exact gradient
        np.testing.assert_allclose(m.vjp(X, C), np_vjp(params, X, C), rtol=0, atol=1e-5)
        exps = cfx.Wachter(m, max_iter=300).explain(X[:3])
        for x, exp in zip(X, exps):
            assert_valid(exp, m, x)


def test_callback_exception_is_chained(params, X):
    state = {"fail": False}

    def predict(x):
        if state["fail"]:
            raise ValueError("boom from predict")
        return np_predict(params, x)

    m = cfx.Model.from_callable(predict, D, K)
    ex = cfx.Wachter(m, max_iter=200)
    state["fail"] = True
    with pytest.raises(cfx.CallbackError) as ei:
        ex.explain(X[:2])
    assert isinstance(ei.value.__cause__, ValueError)
    assert "boom from predict" in str(ei.value.__cause__)
    assert ei.value.code == 7
    with pytest.raises(cfx.CallbackError) as ei:
        m.predict(X)
    assert isinstance(ei.value.__cause__, ValueError)
    # the explainer works again afterwards
    state["fail"] = False
    exp = ex.explain(X[0])
    assert_valid(exp, m, X[0])
    np.testing.assert_allclose(m.predict(X), np_predict(params, X), atol=1e-15)


def test_callback_vjp_exception_and_bad_shape(params, X):
    def bad_vjp(x, c):
        raise RuntimeError("vjp broke")

    with cfx.Model.from_callable(lambda x: np_predict(params, x), D, K, vjp=bad_vjp) as m:
        with pytest.raises(cfx.CallbackError) as ei:
            cfx.Wachter(m).explain(X[0])
        assert isinstance(ei.value.__cause__, RuntimeError)
    with cfx.Model.from_callable(lambda x: np.ones((len(x), K + 1)) / (K + 1), D, K) as m:
        with pytest.raises(cfx.CallbackError) as ei:
            m.predict(X)
        assert isinstance(ei.value.__cause__, ValueError)


def test_callback_outputs_that_are_not_probabilities_are_callback_errors(X):
    bad_outputs = {
        "nan": lambda x: np.full((len(x), K), np.nan),
        "negative": lambda x: -np.full((len(x), K), 1 / K),
        "unnormalised": lambda x: np.full((len(x), K), 5 / K),
        "huge": lambda x: np.full((len(x), K), 1e308),
    }
    for name, predict in bad_outputs.items():
        with cfx.Model.from_callable(predict, D, K) as m:
            with pytest.raises(cfx.CallbackError, match="row 0"):
                m.predict(X)
    # The same values are fine as logits (softmax applied) or as plain values (an autoencoder).
    with cfx.Model.from_callable(lambda x: np.tile([2.0, -1.0, 0.5][:K], (len(x), 1)), D, K, output="logits") as m:
        p = m.predict(X)
        z = np.array([2.0, -1.0, 0.5][:K])
        assert np.allclose(p, np.exp(z) / np.exp(z).sum())
    with cfx.Model.from_callable(lambda x: np.full((len(x), K), 5.0), D, K, output="values") as m:
        assert np.all(m.predict(X) == 5.0)
        with pytest.raises(cfx.ConfigError, match="values"):
            cfx.Wachter(m)


# ---- real data: sklearn MLP on iris ------------------------------------------------------------

@pytest.fixture(scope="module")
def iris_mlp():
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    Xi, yi = load_iris(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(Xi, yi, test_size=0.3, random_state=0, stratify=yi)
    scaler = StandardScaler().fit(Xtr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp = MLPClassifier(hidden_layer_sizes=(16,), activation="tanh", max_iter=2000,
                            random_state=0).fit(scaler.transform(Xtr), ytr)
    return mlp, scaler.transform(Xtr), scaler.transform(Xte), yte


def test_export_matches_sklearn(iris_mlp):
    mlp, Xtr, Xte, _ = iris_mlp
    with cfx.Model.from_json(from_sklearn(mlp)) as m:
        assert (m.n_features, m.n_classes) == (4, 3)
        Xall = np.vstack([Xtr, Xte])
        np.testing.assert_allclose(m.predict(Xall), mlp.predict_proba(Xall), rtol=0, atol=1e-9)


def test_export_binary_and_logistic_regression(iris_mlp):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    _, Xtr, _, _ = iris_mlp
    rng = np.random.default_rng(0)
    yb = (Xtr[:, 2] + 0.3 * rng.normal(size=len(Xtr)) > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ests = [MLPClassifier((5,), activation="relu", max_iter=500, random_state=0).fit(Xtr, yb),
                MLPClassifier((5, 3), activation="logistic", max_iter=300, random_state=0).fit(Xtr, yb),
                LogisticRegression().fit(Xtr, yb),
                LogisticRegression().fit(Xtr, np.arange(len(Xtr)) % 3)]
    for est in ests:
        with cfx.Model.from_json(from_sklearn(est)) as m:
            np.testing.assert_allclose(m.predict(Xtr), est.predict_proba(Xtr), rtol=0, atol=1e-9)


def test_wachter_on_iris_mlp(iris_mlp):
    mlp, _, Xte, _ = iris_mlp
    X30 = Xte[:30]
    with cfx.Model.from_json(from_sklearn(mlp)) as m:
        exps = cfx.Wachter(m, target_class="other").explain(X30)
    ok = 0
    for x, exp in zip(X30, exps):
        if not exp.success:
            continue
        cf = exp.cf
        p = mlp.predict_proba(cf["X"][None, :])[0]
        assert cf["class"] != exp.orig_class
        assert int(np.argmax(p)) == cf["class"]
        assert abs(p[cf["class"]] - TARGET) <= TOL + 1e-9
        ok += 1
    assert ok >= 0.95 * len(X30), f"{ok}/{len(X30)} valid counterfactuals"


def test_explain_reports_progress_and_can_cancel(iris_mlp):
    mlp, _, X, _ = iris_mlp
    model = cfx.Model.from_json(from_sklearn(mlp))
    explainer = cfx.Wachter(model, return_all=False, n_threads=2)
    reports, threads = [], set()

    def record(report):
        reports.append(report)
        threads.add(threading.get_ident())

    started = time.monotonic()
    explanations = explainer.explain(X[:20], progress=record)
    elapsed = time.monotonic() - started
    assert len(explanations) == 20
    done = [r["instances_done"] for r in reports]
    assert done[-1] == 20 and done == sorted(done)
    assert threads == {threading.get_ident()}  # called on the calling thread only
    # Finished instances are reported at most every 0.1 s (plus the first and the last report),
    # not at each of the millisecond searches.
    assert len(reports) <= elapsed / 0.1 + 2, (len(reports), elapsed)

    with pytest.raises(cfx.CancelledError, match="cancelled after"):
        explainer.explain(X[:20], progress=lambda report: False)

    class Stop(Exception):
        pass

    def interrupt(report):
        raise Stop()

    with pytest.raises(Stop):
        explainer.explain(X[:20], progress=interrupt)
    assert explainer.explain(X[0]).success  # still usable
    assert len(explainer.explain(X[:3], progress=True)) == 3
