"""CFProto through the Python binding: iris with k-d trees, errors, the HMDA example, and the HMDA
category values against a numpy/scikit-learn reference."""
import json
import os

import numpy as np
import pytest

import cfx
from cfx.export import from_sklearn

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")


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


def test_hmda_example_finds_approvals_with_black_unchanged(hmda_example):
    results, ctx = hmda_example.explain(n_instances=4, max_iterations=300, c_steps=4, verbose=False)
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


def _reference_category_values(O, n_numeric, cat_ord, preds, d_type):
    """ABDM / MVDM distances and their scaling to [-1, 1], written with numpy and scikit-learn's
    MDS: an independent reference for the values cfx fits."""
    from sklearn.manifold import MDS
    if d_type == "abdm":
        B, bins = O.copy(), {}
        for j in range(n_numeric):
            q = np.unique(np.percentile(O[:, j], [25, 50, 75]))
            B[:, j] = np.searchsorted(q, O[:, j])
            bins[j] = len(q) + 1
        context = {**cat_ord, **bins}
        D = {}
        for col, n in cat_ord.items():
            P = []
            for ct, nt in context.items():
                if ct != col:
                    P.append(np.array([[np.mean(B[B[:, col] == j][:, ct] == t) for j in range(n)] for t in range(nt)]))
            P = np.concatenate(P)
            a, b = P[:, :, None], P[:, None, :]
            D[col] = np.sum(a * np.log((a + 1e-12) / (b + 1e-12)) + b * np.log((b + 1e-12) / (a + 1e-12)), axis=0)
    else:
        D = {}
        for col, n in cat_ord.items():
            p = np.array([[np.mean(preds[O[:, col] == i] == c) for c in range(2)] for i in range(n)])
            D[col] = np.abs(p[:, None, :] - p[None, :, :]).sum(-1)
    raw = {}
    for col, v in D.items():
        emb = MDS(n_components=2, max_iter=5000, eps=1e-9, random_state=0, n_init=4, dissimilarity="precomputed",
                  metric=True).fit(v).embedding_
        raw[col] = np.linalg.norm(emb - emb[np.argsort(np.linalg.norm(emb, axis=1))[-1]], axis=1)
    lo, hi = min(v.min() for v in raw.values()), max(v.max() for v in raw.values())
    out = []
    for col in sorted(raw):
        s = (raw[col] - lo) / (hi - lo) * 2 - 1
        out.append(s - 0.5 * (s.max() + s.min()))
    return out


@pytest.mark.parametrize("d_type", ["abdm", "mvdm"])
def test_hmda_category_values_match_a_scikit_learn_reference(d_type, hmda_example):
    import warnings
    h = hmda_example
    X, y, columns, cat_vars = h.load_data()
    mlp, X_train, X_test, _, _ = h.train(X, y)
    n_numeric, starts = len(h.NUMERIC), sorted(cat_vars)
    O = np.column_stack([X_train[:, :n_numeric]] +
                        [np.argmax(X_train[:, s:s + cat_vars[s]], axis=1) for s in starts]).astype(float)
    cat_ord = {n_numeric + i: cat_vars[s] for i, s in enumerate(starts)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _reference_category_values(O, n_numeric, cat_ord, mlp.predict(X_train), d_type)
    lo, hi = [-10.0] * n_numeric + [-1.0] * len(starts), [10.0] * n_numeric + [1.0] * len(starts)
    model = cfx.Model.from_json(from_sklearn(mlp))
    explainer = cfx.CFProto(model, cat_vars=cat_vars, ohe=True, d_type=d_type, feature_range=[lo, hi],
                            max_iterations=10, c_steps=1).fit(X_train)
    exp = explainer.explain(X_test[0])
    for got, want in zip(exp.meta["category_values"], expected):
        np.testing.assert_allclose(got, want, atol=1e-3)
    # update_feature_range: each variable's range is its values' [min, max].
    ranges = exp.meta["feature_range"]
    for i, values in enumerate(exp.meta["category_values"]):
        assert ranges[0][n_numeric + i] == min(values) and ranges[1][n_numeric + i] == max(values)
