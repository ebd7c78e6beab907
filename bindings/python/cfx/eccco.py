"""ECCCo counterfactuals (Altmeyer et al., AAAI 2024), the generator of counterfactual training.

>>> exps = cfx.ECCCo(model, target_proba=0.75, lambda_energy=5, monotone={0: "increase"}).explain(X)
>>> exps[0].cf["X"], exps[0].cf["energy"], exps[0].last["steps"]

The model must be a native network ending in softmax: the energy is the raw logit.
"""

from __future__ import annotations

from .explainer import CFProto, Explainer
from .model import Model

__all__ = ["ECCCo"]


class ECCCo(Explainer):
    """``ECCCo(model, **params)``: keyword arguments are config keys (see
    ``cfx.default_config("eccco")``): ``target_class`` ("other" or a class), ``target_proba``
    (τ, 0.75), ``max_steps`` (30), ``learning_rate`` (0.1), ``lambda_cost`` (0.001),
    ``lambda_energy`` (5), ``energy_decay`` (True), ``feature_range``, ``immutable``,
    ``monotone`` ({feature: "increase" | "decrease"}), ``sparsify`` (False: put changed features
    back while p_target stays ≥ ``target_proba``; ``cf`` and ``last`` are then the sparse point,
    with ``restored``; docs/sparse-diverse.md) and ``sparsify_repair_steps`` (100).

    Each explanation has ``cf`` (``None`` unless p_target reached ``target_proba``), ``last``
    (the search's final point either way), ``target_class``, ``orig_class``, ``orig_proba``,
    ``success`` and ``meta``.

    ECCCo's conformal set-size penalty: ``lambda_set_size`` > 0 (with ``alpha``, ``temperature``,
    ``kappa``), calibrated by ``fit(X_cal, y_cal)`` on labelled rows the model was not trained on."""

    method = "eccco"

    def __init__(self, model: Model, **params):
        super().__init__(model, self._method_config(params))

    # Calibration rows of the conformal penalty go through cfx_explainer_fit, as CFProto's data do.
    fit = CFProto.fit
