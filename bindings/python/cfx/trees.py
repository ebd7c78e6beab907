"""Methods for tree ensembles (XGBoost JSON and LightGBM text models, loaded by ``cfx.Model.load``).

>>> model = cfx.Model.load("xgboost.json")
>>> exps = cfx.FeatureTweaking(model, epsilon=0.01, distance="l1", immutable=[0]).explain(X)
>>> exps[0].cf["X"], exps[0].cf["distance"], exps[0].cf["changed"]
>>> cfx.FOCUS(model, distance="l1").explain(X)
"""

from __future__ import annotations

from .explainer import Explainer
from .model import Model

__all__ = ["FeatureTweaking", "FOCUS"]


class FeatureTweaking(Explainer):
    """Feature Tweaking (Tolomei et al., KDD 2017): ``FeatureTweaking(model, **params)``; keyword
    arguments are config keys (see ``cfx.default_config("feature_tweaking")``): ``target_class``
    ("other" or a class), ``epsilon`` (ε, a number or one per feature), ``distance`` ("l2" or
    "l1"), ``feature_range``, ``immutable``, ``monotone`` ({feature: "increase" | "decrease"}),
    ``sparsify`` (put changed features back to the instance's values while the ensemble still gives
    a target class; no repair steps, trees have no gradient) and ``shrink`` (move changed features
    back towards the instance as far as the split thresholds allow).

    Each explanation has ``cf`` (the closest ε-tweak the ensemble predicts as a target, with
    ``distance``, ``changed``, ``tree`` and, with ``sparsify``, ``restored``, or ``None``),
    ``orig_class``, ``orig_proba``, ``candidates``, ``rejected``, ``success`` and ``meta``."""

    method = "feature_tweaking"

    def __init__(self, model: Model, **params):
        super().__init__(model, self._method_config(params))


class FOCUS(Explainer):
    """FOCUS (Lucic et al., AAAI 2022): ``FOCUS(model, **params)``; keyword arguments are config
    keys (see ``cfx.default_config("focus")``): ``target_class``, ``sigma`` (σ of each split's
    sigmoid), ``temperature`` (τ), ``beta`` (the distance's weight), ``learning_rate``,
    ``max_steps``, ``patience`` (stop once valid and this many steps found nothing closer; 0: every
    step), ``retry`` (search again with β = 0 when nothing was found), ``cutoff`` (leave out
    relaxed nodes reached with less weight), ``distance`` ("l1", the default, or "l2"),
    ``feature_range``, ``immutable``, ``monotone``, ``sparsify`` and ``shrink`` (the
    threshold-aware shrink on the real ensemble; both on by default).

    Each explanation has ``cf`` (the closest point of the search the real ensemble predicts as a
    target, with ``distance``, ``changed``, ``step`` and, with ``sparsify``, ``restored``, or
    ``None``), ``orig_class``, ``orig_proba``, ``success`` and ``meta``."""

    method = "focus"

    def __init__(self, model: Model, **params):
        super().__init__(model, self._method_config(params))
