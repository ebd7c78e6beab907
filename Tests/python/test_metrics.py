"""Tests of cfx.metrics on hand-made cases with known answers.

The model: logits (3 x0, 3 x1, -3 x0 - 3 x1) with softmax, so (1, 0) is class 0, (0, 1) class 1
and (-1, -1) class 2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import cfx
import cfx.metrics

W = np.array([[3.0, 0.0], [0.0, 3.0], [-3.0, -3.0]])


@pytest.fixture(scope="module")
def model():
    spec = {"input_shape": [2],
            "layers": [{"type": "dense", "weights": W.tolist(), "bias": [0, 0, 0]},
                       {"type": "softmax"}]}
    with cfx.Model.from_json(spec) as m:
        yield m


def test_proximity_sparsity_validity(model):
    X = np.array([[1, 0], [1, 0], [0, 1]], dtype=float)
    X_cf = np.array([[0, 2], [1 + 1e-9, 0], [-1, -1]])
    r = cfx.metrics.evaluate(model, X, X_cf)
    assert (r.n, r.n_found, r.n_valid) == (3, 3, 2)
    assert r.instances["validity"].tolist() == [True, False, True]
    assert r.instances["l1"][0] == 3 and math.isclose(r.instances["l2"][0], math.sqrt(5))
    assert r.instances["l0"].tolist() == [2, 0, 2]
    assert r.instances["cf_class"].tolist() == [1, 0, 2]
    assert r.mean("validity") == pytest.approx(2 / 3)
    assert r.summary["l1"]["n"] == 3
    assert r.summary["l1_mad"]["n"] == 0 and math.isnan(r.summary["l1_mad"]["mean"])
    assert r.mad is None
    # Per-row targets and a target probability.
    r = cfx.metrics.evaluate(model, X, X_cf, target_class=[1, "same", 0])
    assert r.instances["validity"].tolist() == [True, True, False]
    r = cfx.metrics.evaluate(model, [[1, 0]], [[2, 0]], target_class="same", target_proba=0.999)
    assert not r.instances["validity"][0]
    assert r.instances["target_proba"][0] == pytest.approx(1 / (1 + math.exp(-6) + math.exp(-12)))
    r = cfx.metrics.evaluate(model, X, X_cf, sparsity_tol=0)
    assert r.instances["l0"].tolist() == [2, 1, 2]


def test_mad_zero_and_summary_statistics(model):
    X_train = np.array([[0, 5], [1, 5], [2, 5], [3, 5], [10, 5]], dtype=float)
    r = cfx.metrics.evaluate(model, [[1, 0], [1, 0]], [[3, 0.5], [2, 0]], X_train=X_train)
    assert r.mad.tolist() == [1, 0]
    assert r.instances["l1_mad"].tolist() == [2.5, 1.0]
    s = r.summary["l1_mad"]
    assert (s["n"], s["mean"], s["median"], s["min"], s["max"]) == (2, 1.75, 1.75, 1.0, 2.5)
    assert s["std"] == pytest.approx(0.75)  # population standard deviation
    r = cfx.metrics.evaluate(model, [[1, 0]], [[3, 0.5]], X_train=X_train, mad_zero_scale=0.25)
    assert r.instances["l1_mad"].tolist() == [4.0]


def test_all_missing_are_invalid(model):
    X = np.array([[1, 0], [0, 1]], dtype=float)
    r = cfx.metrics.evaluate(model, X, np.full((2, 2), np.nan))
    assert r.n_found == 0 and r.mean("validity") == 0 and r.summary["validity"]["n"] == 2
    assert not r.instances["found"].any()
    for metric in ("l1", "l2", "l0", "in_range", "target_proba"):
        assert r.summary[metric]["n"] == 0 and math.isnan(r.summary[metric]["mean"])
        assert np.isnan(r.instances[metric]).all()
    assert (r.instances["cf_class"] == -1).all()
    with pytest.raises(cfx.NumericError, match="x_cf: row 0"):
        cfx.metrics.evaluate(model, X, [[np.nan, 1], [0, 1]])


def test_nearest_neighbour_tie_and_labels(model):
    X_train = np.array([[1, 1], [-1, 1], [0, 3], [0, 1.5]])
    r = cfx.metrics.evaluate(model, [[1, 0]], [[0, 1]], X_train=X_train, y_train=[1, 1, 1, 0])
    assert r.instances["nn_distance"].tolist() == [1.0]
    assert r.instances["nn_index"].tolist() == [0]  # the first of two equally near points
    r = cfx.metrics.evaluate(model, [[1, 0]], [[0, 1]], X_train=X_train, y_train=[0, 1, 1, 1],
                             plausibility_norm="l1")
    assert r.instances["nn_index"].tolist() == [3] and r.instances["nn_distance"][0] == 0.5
    # Without labels, the model's predictions: (1, 1) ties classes 0 and 1 (the first wins, 0),
    # the other rows are class 1, and the nearest of them is (0, 1.5).
    r = cfx.metrics.evaluate(model, [[1, 0]], [[0, 1]], X_train=X_train)
    assert r.instances["nn_index"].tolist() == [3]


def test_constraints(model):
    X = np.array([[0, 1], [0, 1], [1, 1]], dtype=float)
    X_cf = np.array([[0, 1], [1 + 1e-12, 1], [1, 1 + 1e-15]])
    r = cfx.metrics.evaluate(model, X, X_cf, feature_range=(-1, np.array([1, 2])), immutable=[1],
                             cat_vars={0: 2})
    assert r.instances["in_range"].tolist() == [1, 0, 1]
    assert r.instances["immutable_ok"].tolist() == [1, 1, 0]
    assert r.instances["categories_ok"].tolist() == [1, 0, 0]  # (1+1e-12, 1) and (1, 1+1e-15)
    assert r.instances["constraints_ok"].tolist() == [1, 0, 0]
    assert r.mean("in_range") == pytest.approx(2 / 3)
    r = cfx.metrics.evaluate(model, X, X_cf, feature_range=(-1, 1), constraint_tol=1e-9,
                             cat_vars={0: 2})
    assert r.instances["in_range"].tolist() == [1, 1, 1]
    assert r.instances["categories_ok"].tolist() == [1, 0, 0]  # within 1e-9 of (1, 1): two on
    assert r.options["cat_vars"] == {"0": 2}
    with pytest.raises(cfx.ConfigError, match="cat_vars"):
        cfx.metrics.evaluate(model, X, X_cf, cat_vars={1: 2})
    with pytest.raises(cfx.ConfigError, match="plausibility"):
        cfx.metrics.evaluate(model, X, X_cf, plausibility="l2")


def test_autoencoder(model):
    ae = cfx.Model.from_callable(lambda X: X / 2, 2, 2, output="values")
    r = cfx.metrics.evaluate(model, [[1, 0]], [[0, 2]], autoencoder=ae)
    assert r.instances["ae_error"].tolist() == [1.0]

    def broken(X):
        raise RuntimeError("autoencoder exploded")
    with pytest.raises(cfx.CallbackError) as info:
        cfx.metrics.evaluate(model, [[1, 0]], [[0, 2]], autoencoder=cfx.Model.from_callable(broken, 2, 2))
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(cfx.ShapeError):
        cfx.metrics.evaluate(model, [[1, 0]], [[0, 2]], autoencoder=model)


def test_explanations_as_counterfactuals(model):
    X = np.array([[1.5, 0.2], [0.1, 1.4]])
    exps = cfx.Wachter(model, max_iter=200, n_threads=1).explain(X)
    exps.append(cfx.Explanation({"cf": None, "meta": {"seconds": 0.5, "model_calls": 7,
                                                       "gradient_evaluations": 3}},
                                np.array([-1.0, -1.0])))
    r = cfx.metrics.evaluate(model, None, exps)
    assert r.n == 3 and r.n_found == 2 and r.n_valid == 2
    assert r.instances["found"].tolist() == [True, True, False]
    assert r.instances["l1"][:2] == pytest.approx([e.cf["distance"] for e in exps[:2]])
    calls = [e.meta["model_calls"] for e in exps]
    assert r.instances["model_calls"].tolist() == calls
    assert r.summary["model_calls"]["median"] == np.median(calls)
    assert r.summary["seconds"]["n"] == 3
    # An Evaluator reused for two batches gives the same numbers as evaluate().
    with cfx.metrics.Evaluator(model) as ev:
        again = ev.evaluate(X, np.stack([e.cf_x for e in exps[:2]]))
    assert again.instances["l1"].tolist() == r.instances["l1"][:2].tolist()
    assert isinstance(r.to_dict()["instances"]["l1"], list)
