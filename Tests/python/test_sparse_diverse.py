"""Sparse and diverse counterfactuals through the Python binding: sets (n_counterfactuals) whose
members are each valid, the sparsity pass (sparsify), set metrics and the set plot."""
import json
import os

import numpy as np
import pytest

import cfx
import cfx.metrics

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")


@pytest.fixture(scope="module")
def iris():
    with open(os.path.join(FIXTURES, "iris_mlp.json")) as f:
        data = json.load(f)
    model = cfx.Model.from_json(data["model"])
    x_train, x_test = np.array(data["x_train"]), np.array(data["x_test"])
    return model, x_train, x_test[:8], [x_train.min(0).tolist(), x_train.max(0).tolist()]


def l0(x, cf):
    return int((np.abs(np.asarray(cf) - x) > 1e-9).sum())


def wachter_valid(model, member, orig, tol=0.05):
    p = np.atleast_2d(model.predict(np.asarray(member["X"])))[0]
    c = int(np.argmax(p))
    return c != orig and p[c] >= 1 - tol - 1e-12


def test_wachter_sets_every_member_valid_and_diverse(iris):
    model, x_train, X, rng = iris
    plain = cfx.Wachter(model, feature_range=rng).explain(X)
    exps = cfx.Wachter(model, feature_range=rng, n_counterfactuals=4).fit(x_train).explain(X)
    for x, e, p in zip(X, exps, plain):
        assert "cfs" not in p.data  # the default output is unchanged
        np.testing.assert_array_equal(e.cf["X"], p.cf["X"])  # "cf" is the single search's
        assert len(e.cfs) == 4
        for m in e.cfs:
            assert wachter_valid(model, m, e.orig_class)
            assert np.all(m["X"] >= np.array(rng[0]) - 1e-12) and np.all(m["X"] <= np.array(rng[1]) + 1e-12)
        assert e["diversity"] > 0
    res = cfx.metrics.evaluate_sets(model, None, exps, X_train=x_train)
    assert res.sets["all_valid"].all()
    assert (res.sets["diversity_mad"] > 0).all() and (res.sets["count_diversity"] > 0).all()


@pytest.mark.parametrize("method", ["wachter", "cfproto"])
def test_sparsify_reduces_or_keeps_l0_and_keeps_validity(iris, method):
    model, x_train, X, rng = iris
    cls = {"wachter": cfx.Wachter, "cfproto": cfx.CFProto}[method]
    extra = {"use_kdtree": True, "theta": 10.0} if method == "cfproto" else {}
    dense = cls(model, feature_range=rng, **extra).fit(x_train).explain(X)
    sparse = cls(model, feature_range=rng, sparsify=True, **extra).fit(x_train).explain(X)
    total_dense = total_sparse = 0
    for x, d, s in zip(X, dense, sparse):
        assert s.cf is not None
        assert s.cf["restored"] >= 0
        p = np.atleast_2d(model.predict(s.cf["X"]))[0]
        assert int(np.argmax(p)) != s.orig_class
        if method == "wachter":
            assert p.max() >= 0.95 - 1e-12
        assert l0(x, s.cf["X"]) <= l0(x, d.cf["X"])
        total_dense += l0(x, d.cf["X"])
        total_sparse += l0(x, s.cf["X"])
    assert total_sparse < total_dense


def test_jsma_sparsify_keeps_target_confidence():
    rng = np.random.default_rng(3)
    W, b = rng.normal(scale=2.0, size=(3, 6)), rng.normal(scale=0.3, size=3)
    spec = {"input_shape": [6], "layers": [{"type": "dense", "weights": W.tolist(), "bias": b.tolist()},
                                           {"type": "softmax"}]}
    model = cfx.Model.from_json(spec)
    X = rng.uniform(0, 1, size=(4, 6))
    dense = cfx.JSMA(model, target_class="all").explain(X)
    sparse = cfx.JSMA(model, target_class="all", sparsify=True).explain(X)
    for d, s in zip(dense, sparse):
        if s.cf is None:
            continue
        assert s.cf["L0"] <= d.cf["L0"]
        assert s.cf["proba"][s["target_class"]] >= 0.5
        np.testing.assert_allclose(np.atleast_2d(model.predict(s.cf["X"]))[0], s.cf["proba"], rtol=0, atol=1e-12)


def test_one_hot_groups_restored_as_a_whole(hmda_example):
    results, ctx = hmda_example.explain(n_instances=4, max_iterations=300, c_steps=4, verbose=False, sparsify=True)
    found = 0
    for x, exp in zip(ctx["X_test"], results):
        if exp.cf is None:
            continue
        found += 1
        cf = exp.cf["X"]
        assert int(np.argmax(ctx["model"].predict(cf))) == 0
        for start, n in ctx["cat_vars"].items():
            group = cf[start:start + n]
            assert sorted(group.tolist()) == [0.0] * (n - 1) + [1.0]  # a whole category, never a mix
    assert found >= 3


@pytest.mark.parametrize("key,value", [("n_counterfactuals", 0), ("n_counterfactuals", 1000),
                                       ("diversity_weight", -0.5), ("sparsify", "yes"),
                                       ("sparsify_repair_steps", -1)])
def test_bad_values_of_the_new_keys(iris, key, value):
    model = iris[0]
    with pytest.raises(cfx.errors.ConfigError, match=key):
        cfx.Wachter(model, **{key: value})


def test_evaluate_sets_values_and_errors(iris):
    model, x_train, X, _ = iris
    x = X[:1]
    members = np.stack([x[0], x[0] + [1, 0, 0, 0], x[0] + [1, 2, 0, 0]])[None]
    res = cfx.metrics.evaluate_sets(model, x, members)
    assert res.n == 1 and res.k == 3
    assert res.sets["diversity"][0] == pytest.approx(2.0)
    assert res.sets["count_diversity"][0] == pytest.approx(4 / 12)
    assert np.isnan(res.sets["diversity_mad"][0])  # no training data
    assert res.members.n == 3
    missing = members.copy()
    missing[0, 1:] = np.nan
    assert np.isnan(cfx.metrics.evaluate_sets(model, x, missing).sets["diversity"][0])
    with pytest.raises(cfx.errors.InvalidArgumentError):
        cfx.metrics.evaluate_sets(model, x, members[0])


def test_plot_of_a_set(iris):
    mpl = pytest.importorskip("matplotlib", reason="[matplotlib] matplotlib is not installed (cfx.plot is optional)")
    mpl.use("Agg")
    import cfx.plot
    model, x_train, X, rng = iris
    exp = cfx.Wachter(model, feature_range=rng, n_counterfactuals=3).explain(X[0])
    fig = cfx.plot.counterfactual_set(exp)
    assert len(fig.axes) == 3
    with pytest.raises(ValueError, match="n_counterfactuals"):
        cfx.plot.counterfactual_set(cfx.Wachter(model).explain(X[0]))
