"""DeDUCE, JSMA and FeatureDensity through the Python bindings."""

import numpy as np
import pytest

import cfx

SPEC = {
    "input_shape": [1, 6, 6],
    "layers": [
        {"type": "conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1,
         "spectral_norm": {"coefficient": 4}},
        {"type": "leaky_relu"},
        {"type": "global_avg_pool", "name": "features"},
        {"type": "dense", "outputs": 3},
        {"type": "softmax"},
    ],
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(150, 36))
    X += rng.uniform(-0.4, 0.4, size=(150, 1))
    X = np.clip(X, 0, 1)
    # Class from the overall brightness (tertiles), which global average pooling can see.
    m = X.mean(1)
    y = np.digitize(m, np.quantile(m, [1 / 3, 2 / 3]))
    return X, y.astype(float)


@pytest.fixture(scope="module")
def model(data):
    X, y = data
    m = cfx.Model.from_json(SPEC)
    m.train(X, y, epochs=30, batch_size=16, learning_rate=0.02)
    return m


def test_density_fit_score_save_load(model, data, tmp_path):
    X, y = data
    density = cfx.FeatureDensity.fit(model, X, y)
    assert density.info["counts"] == [int((y == c).sum()) for c in range(3)]
    assert density.info["labels"] == "given"
    assert density.jitter >= 0
    per = density.log_prob(X[:5], model)
    assert per.shape == (5, 3)
    np.testing.assert_allclose(density.score(X[:5], model), np.log(np.exp(per).sum(1)), rtol=1e-12)
    path = tmp_path / "density.safetensors"
    density.save(path)
    loaded = cfx.FeatureDensity.load(path)
    np.testing.assert_array_equal(loaded.log_prob(X[:5], model), per)
    assert cfx.FeatureDensity.fit(model, X).info["labels"] == "predicted"
    with pytest.raises(cfx.InvalidArgumentError, match="feature_output"):
        cfx.FeatureDensity.fit(model, X, y, feature_output="nope")


def test_deduce_and_jsma(model, data):
    X, y = data
    explainer = cfx.DeDUCE(model, target_class="all", trace=True)
    with pytest.raises(cfx.InvalidArgumentError, match="not fitted"):
        explainer.explain(X[0])
    explainer.fit(X, y)
    exps = explainer.explain(X[:4])
    assert len(exps) == 8
    assert [e["instance"] for e in exps] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert any(e.success for e in exps)
    for e in exps:
        assert e.target_class != e.orig_class
        if e.success:
            assert e.cf["proba"][e.target_class] >= 0.5
            assert np.count_nonzero(e.cf["X"] != e.x) == e.cf["L0"]
            assert e.cf["log_density"]["after"] is not None
        else:
            assert e.reason
        assert "SaliencyExplanation" in repr(e)
    one = cfx.DeDUCE(model, target_class=1).fit(X, y).explain(X[0])
    assert isinstance(one, cfx.SaliencyExplanation)

    jsma = cfx.JSMA(model, target_class=[0, 1, 2])
    jexps = jsma.explain(X[:2])
    assert len(jexps) == 6
    assert jsma.config["method"] == "jsma"
    with pytest.raises(cfx.ConfigError, match="target_class"):
        cfx.DeDUCE(model, target_class=7)


def test_set_density(model, data):
    X, y = data
    density = cfx.FeatureDensity.fit(model, X, y)
    a = cfx.DeDUCE(model, target_class=0).set_density(density).explain(X[:3])
    b = cfx.DeDUCE(model, target_class=0).fit(X, y).explain(X[:3])
    assert [e.data["cf"] for e in a] == [e.data["cf"] for e in b]


def test_metrics_score_plausibility_with_a_density(model, data):
    X, y = data
    density = cfx.FeatureDensity.fit(model, X, y)
    explanations = cfx.DeDUCE(model, target_class="all").fit(X, y).explain(X[:3])
    X_cf = np.array([e.cf["X"] if e.cf is not None else np.full(36, np.nan) for e in explanations])
    originals = np.repeat(X[:3], 2, axis=0)   # two targets per instance, instance-major
    targets = [e.target_class for e in explanations]
    scores = cfx.metrics.evaluate(model, originals, X_cf, density=density, target_class=targets)
    found = [i for i, e in enumerate(explanations) if e.cf is not None]
    assert found
    expected = [density.log_prob(X_cf[i:i + 1], model)[0, targets[i]] for i in found]
    np.testing.assert_allclose(scores.instances["log_density"][found], expected, rtol=1e-12)
    # the explanations' own "after" log density is the same quantity
    np.testing.assert_allclose([explanations[i].cf["log_density"]["after"] for i in found], expected, rtol=1e-9)
    assert np.isnan(cfx.metrics.evaluate(model, originals, X_cf, target_class=targets).instances["log_density"]).all()
    callback = cfx.Model.from_callable(model.predict, 36, 3)
    with pytest.raises(cfx.InvalidArgumentError, match="native network"):
        cfx.metrics.evaluate(callback, originals, X_cf, density=density, target_class=targets)


def test_deduce_on_float32_is_the_same_on_one_and_two_threads(model, data):
    # One instance and two threads: the search's evaluator gets both (on this small network the
    # work is below the sizes that split; Float32Tests check the splits themselves); the
    # counterfactual must be the one of a single thread.
    X, y = data
    m32 = model.astype("float32")
    density = cfx.FeatureDensity.fit(m32, X, y)
    found = []
    for threads in (1, 2):
        e = cfx.DeDUCE(m32, target_class=[2], n_threads=threads).set_density(density).explain(X[0])
        found.append((e.success, None if e.cf is None else e.cf["X"].copy(), e.meta["gradient_evaluations"]))
    assert found[0][0] == found[1][0] and found[0][2] == found[1][2]
    if found[0][1] is not None:
        np.testing.assert_array_equal(found[0][1], found[1][1])
    # float32 finds what float64 finds on this small network.
    e64 = cfx.DeDUCE(model, target_class=[2]).set_density(cfx.FeatureDensity.fit(model, X, y)).explain(X[0])
    assert e64.success == found[0][0]
