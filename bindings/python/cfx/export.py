"""Export fitted scikit-learn classifiers as cfx model specifications.

``from_sklearn(estimator)`` returns the JSON-ready dict accepted by ``cfx.Model.from_json``::

    {"input_shape": [d],
     "layers": [{"type": "dense", "weights": <out x in nested lists>, "bias": [...]},
                {"type": "relu" | "tanh" | "sigmoid"}, ..., {"type": "softmax"}]}

Supported: ``MLPClassifier`` (hidden activations relu, tanh, logistic, identity) and
``LogisticRegression`` (multinomial, and binary). Binary classifiers, which scikit-learn
models with a single logistic output z, become an equivalent two-class softmax over the
logits ``[0, z]``: ``softmax([0, z]) = [1 - sigmoid(z), sigmoid(z)]``, exactly sklearn's
``predict_proba`` columns.

The exported model sees the features exactly as the estimator does: a ``Pipeline`` (e.g. with a
``StandardScaler``) is not folded in. Standardise your data before fitting, and pass
standardised instances to the explainer (see ``examples/python``).

Only numpy is needed here; scikit-learn is not imported (estimators are duck-typed by their
fitted attributes), so this module also works without the native library.
"""

from __future__ import annotations

from typing import Any, List

import numpy as np

__all__ = ["from_sklearn", "from_mlp_classifier", "from_logistic_regression", "dense_layer"]

_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid", "identity": None}


def dense_layer(weights_out_in: Any, bias: Any) -> dict:
    """A cfx dense layer from an ``out x in`` weight matrix and a bias of length ``out``."""
    W = np.asarray(weights_out_in, dtype=np.float64)
    b = np.asarray(bias, dtype=np.float64).reshape(-1)
    if W.ndim != 2 or b.shape[0] != W.shape[0]:
        raise ValueError(f"dense layer: weights {W.shape} and bias {b.shape} do not match")
    return {"type": "dense", "weights": W.tolist(), "bias": b.tolist()}


def _binary_head(W_out_in: np.ndarray, b: np.ndarray) -> List[dict]:
    """Layers turning a single logit z (W: 1 x in) into the two-class softmax of [0, z]."""
    W = np.vstack([np.zeros_like(W_out_in), W_out_in])
    bias = np.concatenate([[0.0], b.reshape(-1)])
    return [dense_layer(W, bias), {"type": "softmax"}]


def _class_name(est: Any) -> str:
    return type(est).__name__


def _require_fitted(est: Any, attrs: tuple) -> None:
    missing = [a for a in attrs if not hasattr(est, a)]
    if missing:
        raise ValueError(f"{_class_name(est)} is not fitted (missing {', '.join(missing)}); "
                         "call fit() first")


def from_mlp_classifier(est: Any) -> dict:
    """The cfx spec of a fitted ``sklearn.neural_network.MLPClassifier``."""
    _require_fitted(est, ("coefs_", "intercepts_", "out_activation_"))
    activation = getattr(est, "activation", "relu")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"MLPClassifier: unsupported activation {activation!r} "
                         f"(supported: {', '.join(_ACTIVATIONS)})")
    hidden = _ACTIVATIONS[activation]
    coefs = [np.asarray(c, dtype=np.float64) for c in est.coefs_]          # each in x out
    intercepts = [np.asarray(b, dtype=np.float64) for b in est.intercepts_]
    d = coefs[0].shape[0]
    out_act = est.out_activation_
    n_out = coefs[-1].shape[1]
    if out_act == "softmax":
        pass
    elif out_act == "logistic" and n_out == 1:
        pass
    else:
        raise ValueError(f"MLPClassifier: output activation {out_act!r} with {n_out} outputs is "
                         "not supported (multi-label classifiers are not)")

    layers: List[dict] = []
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        last = i == len(coefs) - 1
        if not last:
            layers.append(dense_layer(W.T, b))
            if hidden is not None:
                layers.append({"type": hidden})
        elif out_act == "softmax":
            layers += [dense_layer(W.T, b), {"type": "softmax"}]
        else:
            layers += _binary_head(W.T, b)
    return {"input_shape": [int(d)], "layers": layers}


def from_logistic_regression(est: Any) -> dict:
    """The cfx spec of a fitted ``sklearn.linear_model.LogisticRegression``."""
    _require_fitted(est, ("coef_", "intercept_", "classes_"))
    coef = np.asarray(est.coef_, dtype=np.float64)        # k x d (or 1 x d when binary)
    intercept = np.asarray(est.intercept_, dtype=np.float64).reshape(-1)
    if intercept.shape[0] != coef.shape[0]:              # fit_intercept=False gives a scalar 0
        intercept = np.broadcast_to(intercept, (coef.shape[0],)).copy()
    d = coef.shape[1]
    n_classes = len(est.classes_)
    if n_classes == 2 and coef.shape[0] == 1:
        layers = _binary_head(coef, intercept)
    else:
        multi = getattr(est, "multi_class", "auto")
        solver = getattr(est, "solver", "lbfgs")
        if multi == "ovr" or (multi == "auto" and solver == "liblinear"):
            raise ValueError("LogisticRegression: one-vs-rest multiclass models are not "
                             "supported (their probabilities are not a softmax); fit a "
                             "multinomial model")
        layers = [dense_layer(coef, intercept), {"type": "softmax"}]
    return {"input_shape": [int(d)], "layers": layers}


def from_sklearn(estimator: Any) -> dict:
    """The cfx model spec (a dict) of a fitted scikit-learn classifier.

    Supports ``MLPClassifier`` and ``LogisticRegression``. The class order of the model's
    output is ``estimator.classes_``, as in ``predict_proba``.
    """
    name = _class_name(estimator)
    if hasattr(estimator, "coefs_") and hasattr(estimator, "out_activation_"):
        return from_mlp_classifier(estimator)
    if hasattr(estimator, "coef_") and hasattr(estimator, "intercept_") and \
            hasattr(estimator, "predict_proba"):
        return from_logistic_regression(estimator)
    if name == "Pipeline":
        raise TypeError("from_sklearn: Pipelines are not folded into the model; export the "
                        "final classifier and transform (e.g. standardise) the inputs yourself")
    if name in ("MLPClassifier", "LogisticRegression"):
        raise ValueError(f"{name} is not fitted; call fit() first")
    raise TypeError(f"from_sklearn: unsupported estimator {name} "
                    "(supported: MLPClassifier, LogisticRegression)")
