"""ECCCo, monotone constraints and counterfactual training from Python (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest

import cfx

LINEAR = {"input_shape": [2], "layers": [{"type": "dense", "weights": [[3, 0], [0, 3], [-3, -3]]},
                                          {"type": "softmax"}]}


def moons(n, seed, noise=0.1):
    rng = np.random.default_rng(seed)
    angle = np.pi * rng.random(n)
    y = np.arange(n) % 2
    x = np.where(y[:, None] == 0, np.c_[np.cos(angle), np.sin(angle)], np.c_[1 - np.cos(angle), 0.5 - np.sin(angle)])
    return x + noise * rng.uniform(-1, 1, x.shape), y


def mlp():
    return cfx.Model.from_json({"input_shape": [2], "layers": [
        {"type": "dense", "outputs": 32}, {"type": "relu"}, {"type": "dense", "outputs": 2}, {"type": "softmax"}]})


def test_eccco_reaches_the_target_and_keeps_directions():
    model = cfx.Model.from_json(LINEAR)
    X = np.array([[1.5, 0.2], [-1.2, -1.0]])
    exps = cfx.ECCCo(model, max_steps=200, monotone={0: "decrease"}).explain(X)
    for x, e in zip(X, exps):
        assert e.success and e.target_class != e.orig_class
        assert e.cf["proba"][e.target_class] >= 0.75
        assert e.cf["X"][0] <= x[0]
        assert e.meta["method"] == "eccco"
    assert cfx.default_config("eccco")["lambda_energy"] == 5
    with pytest.raises(cfx.ConfigError, match="monotone"):
        cfx.ECCCo(model, monotone={5: "increase"})


def test_wachter_monotone_and_monotone_ok():
    model = cfx.Model.from_json(LINEAR)
    x = np.array([1.5, 0.2])
    e = cfx.Wachter(model, target_class=1, target_proba=0.6, tol=0.1, max_iter=300, monotone={0: "increase"}).explain(x)
    assert e.success and e.cf["X"][0] >= 1.5
    r = cfx.metrics.evaluate(model, [x, x], [e.cf["X"], [1.4, 2.0]], monotone={0: "increase"})
    assert r.instances["monotone_ok"].tolist() == [1, 0]
    assert r.instances["constraints_ok"].tolist() == [1, 0]


def test_counterfactual_training_reports_terms_and_keeps_accuracy():
    X, y = moons(600, 1)
    X_test, y_test = moons(400, 2)
    baseline, trained = mlp(), mlp()
    baseline.train(X, y, epochs=8, batch_size=30, seed=5)
    seen = []
    report = trained.train(X, y, epochs=8, batch_size=30, seed=5, progress=seen.append,
                           counterfactual_training={"n_ce": 200, "burn_in": 0.25, "monotone": {0: "increase"}})
    epochs = [e for e in seen if not e.get("in_progress")]  # each CT epoch's searches also report as they start
    assert [("counterfactual" in e) for e in epochs] == [False, False] + [True] * 6
    assert any(e.get("searches") == 200 for e in seen if e.get("in_progress"))
    terms = report["history"][-1]["counterfactual"]
    assert terms["n_ce"] == 200 and 0 <= terms["mature_share"] <= 1
    assert terms["search_seconds"] > 0 and terms["training_seconds"] > 0 and terms["skipped_steps"] == 0
    assert report["config"]["counterfactual_training"]["monotone"] == {"0": "increase"}
    accuracy = lambda m: (m.predict(X_test).argmax(axis=1) == y_test).mean()  # noqa: E731
    assert accuracy(baseline) > 0.8
    assert abs(accuracy(baseline) - accuracy(trained)) < 0.05
    with pytest.raises(cfx.ConfigError, match="tau"):
        mlp().train(X, y, counterfactual_training={"tau": 2})


def test_cancel_during_counterfactual_searches_returns_promptly():
    """Returning False while an epoch's searches run (tau 1 is never reached, T 50,000 steps)
    stops them within a step: the documented CFX_ERR_CANCELLED, as the report, with the initial weights."""
    import time
    X, y = moons(64, 1)
    model = mlp()
    before = model.predict(X)
    seen, stopped = [], []

    def progress(report):
        seen.append(report)
        stopped.append(time.monotonic())
        return False

    report = model.train(X, y, epochs=3, batch_size=30, progress=progress,
                         counterfactual_training={"n_ce": 64, "tau": 1, "max_steps": 50_000, "n_threads": 1})
    latency = time.monotonic() - stopped[0]
    assert report["cancelled"] and report["history"] == []
    assert seen[0]["in_progress"] and seen[0]["batches_done"] == 0
    assert seen[0]["searches"] == 64 and seen[0]["searches_done"] == 0
    np.testing.assert_array_equal(model.predict(X), before)
    assert latency < 2, latency


def test_plausibility_and_robust_accuracy():
    model = cfx.Model.from_json(LINEAR)
    X_train = np.array([[1, 0], [2, 0], [0, 1], [0, 3]], dtype=float)
    r = cfx.robustness.plausibility(model, X_train, [0, 0, 1, 1], np.zeros((2, 2)), [[0.5, 2], [3, 0]], [1, 0])
    # (0.5, 2) is 1.5 from both class-1 rows; (3, 0) is 2 and 1 from the class-0 rows.
    assert r["instances"]["ip"] == [1.5, 1.5] and r["cost"] == 2.75 and r["validity"] == 1.0
    rng = np.random.default_rng(0)
    X = np.r_[rng.uniform(-0.25, 0.25, (50, 2)) + [0.4, 0], rng.uniform(-0.25, 0.25, (50, 2)) + [0, 0.4]]
    y = np.r_[np.zeros(50), np.ones(50)]
    acc = cfx.robustness.robust_accuracy(model, X, y, attack="fgsm", epsilons=[0, 0.1, 0.3])["accuracy"]
    assert acc[0] >= acc[1] >= acc[2] and acc[2] < acc[0]
    with pytest.raises(cfx.ConfigError, match="attack"):
        cfx.robustness.robust_accuracy(model, X, y, attack="cw")


def test_eccco_conformal_penalty_needs_calibration():
    model = cfx.Model.from_json(LINEAR)
    X = np.array([[1.5, 0.2], [-1.2, -1.0]])
    explainer = cfx.ECCCo(model, lambda_set_size=0.5, max_steps=200)
    with pytest.raises(cfx.InvalidArgumentError, match="calibration"):
        explainer.explain(X)
    rng = np.random.default_rng(3)
    X_cal = rng.normal(size=(60, 2))
    exps = explainer.fit(X_cal, model.predict(X_cal).argmax(1)).explain(X)
    assert all(e.success for e in exps)
