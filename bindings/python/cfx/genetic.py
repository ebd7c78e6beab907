"""The model-agnostic genetic search (DiCE's genetic explainer), for any model: callbacks, native
networks, tree ensembles.

>>> exps = cfx.Genetic(model, immutable=[0], n_counterfactuals=3).fit(X_train).explain(X)
>>> exps[0].cf["X"], exps[0].cf["changed"], exps[0]["cfs"]
"""

from __future__ import annotations

from .explainer import Explainer
from .model import Model

__all__ = ["Genetic"]


class Genetic(Explainer):
    """DiCE's genetic search: ``Genetic(model, **params)``; keyword arguments are config keys (see
    ``cfx.default_config("genetic")`` and docs/methods/genetic.md): ``target_class`` ("other" or a
    class), ``proximity_weight``, ``sparsity_weight``, ``population_size`` (None: 10 ×
    n_counterfactuals), ``maxiterations``, ``thresh``, ``initialization`` ("kdtree" or "random"),
    ``cat_vars`` ({start column: categories}) and ``ohe``, ``feature_range``, ``immutable``,
    ``monotone`` ({feature: "increase" | "decrease"}), ``n_counterfactuals``, ``diversity_weight``
    and ``sparsify`` (on by default), plus ``seed`` and ``n_threads``. ``fit(X_train)`` gives the
    MADs, the ranges feature_range leaves open and the rows of the "kdtree" start; without it,
    ``feature_range`` must bound every feature that may change.

    Each explanation has ``cf`` (``X``, ``class``, ``proba``, ``loss``, ``proximity``, ``changed``
    and, with ``sparsify``, ``restored``, or ``None``), ``orig_class``, ``orig_proba``,
    ``generations``, ``success``, ``cfs`` and ``diversity`` (with n_counterfactuals > 1) and ``meta``."""

    method = "genetic"

    def __init__(self, model: Model, **params):
        super().__init__(model, self._method_config(params))
