"""Methods for tree ensembles (XGBoost JSON and LightGBM text models, loaded by ``cfx.Model.load``).

>>> model = cfx.Model.load("xgboost.json")
>>> exps = cfx.FeatureTweaking(model, epsilon=0.01, distance="l1", immutable=[0]).explain(X)
>>> exps[0].cf["X"], exps[0].cf["distance"], exps[0].cf["changed"]
"""

from __future__ import annotations

from .explainer import Explainer
from .model import Model

__all__ = ["FeatureTweaking"]


class FeatureTweaking(Explainer):
    """Feature Tweaking (Tolomei et al., KDD 2017): ``FeatureTweaking(model, **params)``; keyword
    arguments are config keys (see ``cfx.default_config("feature_tweaking")``): ``target_class``
    ("other" or a class), ``epsilon`` (ε, a number or one per feature), ``distance`` ("l2" or
    "l1"), ``feature_range``, ``immutable``, ``monotone`` ({feature: "increase" | "decrease"}) and
    ``sparsify`` (put changed features back to the instance's values while the ensemble still gives
    a target class; no repair steps, trees have no gradient).

    Each explanation has ``cf`` (the closest ε-tweak the ensemble predicts as a target, with
    ``distance``, ``changed``, ``tree`` and, with ``sparsify``, ``restored``, or ``None``),
    ``orig_class``, ``orig_proba``, ``candidates``, ``rejected``, ``success`` and ``meta``."""

    method = "feature_tweaking"

    def __init__(self, model: Model, **params):
        super().__init__(model, self._method_config(params))
