"""Metrics of counterfactuals: validity, proximity, sparsity, plausibility, constraints and cost.

>>> import cfx.metrics
>>> exps = cfx.Wachter(model).explain(X)
>>> result = cfx.metrics.evaluate(model, X, exps, X_train=X_train)
>>> result.summary["validity"]["mean"], result.summary["l1"]["median"], result.instances["l1"]

The formulas are in docs/metrics.md and in include/cfx.h ("Evaluation"). In short, for an
instance x and its counterfactual x' (rows of NaN, or ``None`` explanations' ``cf``, mean "none
found": invalid, and left out of every statistic but validity and cost):

- ``validity``: the predicted class of x' is the target (``target_class``: ``"other"``,
  ``"same"``, a class, or one per row); with ``target_proba``, p_t(x') also reaches it.
- ``l1``, ``l2``, ``l1_mad`` (Σ |x'_j − x_j| / MAD_j over ``X_train``; a zero MAD divides by
  ``mad_zero_scale``, 1 by default) and ``l0`` (changes larger than ``sparsity_tol``).
- ``nn_distance`` to the nearest training point of x''s predicted class (classes from
  ``y_train`` or the model's predictions), ``ae_error`` = ‖AE(x') − x'‖² with an ``autoencoder``,
  ``log_density`` = log p_t(x') under a fitted :class:`cfx.FeatureDensity` of the model (``density``).
- ``in_range``, ``immutable_ok``, ``monotone_ok`` (``monotone={j: "increase" | "decrease"}``
  features moved only their way), ``categories_ok``, ``constraints_ok``.
- ``seconds``, ``model_calls``, ``gradient_evaluations`` from the explanations' ``meta``.
"""

from __future__ import annotations

from ctypes import byref, c_void_p
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence

import numpy as np

from . import _json, _lib
from ._handle import NativeHandle
from .errors import CallbackError, InvalidArgumentError
from ._convert import as_rows, to_json_text
from .model import Model

__all__ = ["Evaluator", "EvaluationResult", "evaluate", "METRICS"]

#: The metrics, in the order the library reports them.
METRICS = ("validity", "target_proba", "l1", "l2", "l1_mad", "l0", "nn_distance", "ae_error",
           "log_density", "in_range", "immutable_ok", "monotone_ok", "categories_ok", "constraints_ok",
           "seconds", "model_calls", "gradient_evaluations")

_BOOL_COLUMNS = ("found", "validity")                # never null: bool arrays
_CLASS_COLUMNS = ("orig_class", "cf_class", "target_class", "nn_index")  # int arrays, -1 = none


@dataclass
class EvaluationResult:
    """The metrics of a batch.

    ``summary[metric]`` is a dict ``{"n", "mean", "std", "median", "min", "max"}`` (NaN when
    ``n`` is 0; ``std`` is the population one; the mean of a true/false metric is its rate).
    ``instances[column]`` is a numpy array with one entry per row: ``found`` and ``validity``
    are bool; ``orig_class``, ``cf_class``, ``target_class`` and ``nn_index`` are int (-1 where
    there is none); every other metric is float, NaN where it does not apply (true/false
    constraint checks as 1.0/0.0).
    """

    n: int
    n_found: int
    n_valid: int
    summary: Dict[str, Dict[str, float]]
    instances: Dict[str, np.ndarray]
    mad: Optional[np.ndarray] = None
    options: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict) -> "EvaluationResult":
        """The result from the JSON object ``cfx_evaluate`` returns."""
        summary = {name: {stat: (int(v) if stat == "n" else (np.nan if v is None else float(v)))
                          for stat, v in stats.items()}
                   for name, stats in data["summary"].items()}
        instances: Dict[str, np.ndarray] = {}
        for name, values in data["instances"].items():
            if name in _BOOL_COLUMNS:
                instances[name] = np.array(values, dtype=bool)
            elif name in _CLASS_COLUMNS:
                instances[name] = np.array([-1 if v is None else v for v in values], dtype=np.int64)
            else:
                instances[name] = np.array([np.nan if v is None else float(v) for v in values],
                                           dtype=np.float64)
        mad = None if data.get("mad") is None else np.asarray(data["mad"], dtype=np.float64)
        return cls(n=data["n"], n_found=data["n_found"], n_valid=data["n_valid"], summary=summary,
                   instances=instances, mad=mad, options=data.get("options", {}))

    def mean(self, metric: str) -> float:
        """Shortcut for ``summary[metric]["mean"]``."""
        return self.summary[metric]["mean"]

    def to_dict(self) -> dict:
        """Plain Python values (lists instead of arrays), e.g. for ``json.dumps``."""
        return {"n": self.n, "n_found": self.n_found, "n_valid": self.n_valid,
                "summary": self.summary,
                "instances": {k: v.tolist() for k, v in self.instances.items()},
                "mad": None if self.mad is None else self.mad.tolist(), "options": self.options}


def _options_json(options: dict) -> Optional[str]:
    if not options:
        return None
    options = dict(options)
    cat_vars = options.get("cat_vars")
    if isinstance(cat_vars, dict):  # alibi's {start: n} with int keys
        options["cat_vars"] = {str(int(k)): int(v) for k, v in cat_vars.items()}
    return to_json_text(options)


class Evaluator(NativeHandle):
    """Measures counterfactuals for ``model`` (``cfx_evaluator``), optionally against training
    data (``X_train``, ``y_train``: needed by ``l1_mad`` and ``nn_distance``), an
    ``autoencoder`` (a :class:`cfx.Model` with d inputs and d outputs) and a ``density`` (a
    :class:`cfx.FeatureDensity` fitted for ``model``: ``log_density``).

    Keyword options (defaults): ``feature_range=None`` ([min, max], each a number or one per
    feature), ``immutable=[]``, ``cat_vars={}`` ({start: n}), ``ohe=True``,
    ``sparsity_tol=1e-6``, ``constraint_tol=0``, ``plausibility_norm="l2"`` (or ``"l1"``),
    ``mad_zero_scale=1``, ``summarise_over="found"`` (or ``"valid"``), ``n_threads=0``.
    """

    _free_function = "cfx_evaluator_free"
    _kind = "evaluator"

    def __init__(self, model: Model, X_train=None, y_train=None, autoencoder: Optional[Model] = None,
                 density=None, **options):
        if not isinstance(model, Model):
            raise InvalidArgumentError(f"model: expected a cfx.Model, got {type(model).__name__}")
        self.model = model
        self.autoencoder: Optional[Model] = None
        text = _options_json(options)
        x_ptr, n_train, d, y_ptr = None, 0, model.n_features, None
        if X_train is not None:
            self._x_train, _ = as_rows(X_train, "X_train")
            n_train, d = self._x_train.shape
            x_ptr = self._x_train.ctypes.data_as(_lib.DOUBLE_P)
            if y_train is not None:
                self._y_train = np.ascontiguousarray(y_train, dtype=np.float64).reshape(-1)
                if self._y_train.shape[0] != n_train:
                    raise InvalidArgumentError(
                        f"y_train: has {self._y_train.shape[0]} labels for {n_train} rows")
                y_ptr = self._y_train.ctypes.data_as(_lib.DOUBLE_P)
        elif y_train is not None:
            raise InvalidArgumentError("y_train: labels without X_train")
        out = _lib.EVALUATOR_P()
        err = _lib.new_error()
        status = _lib.lib().cfx_evaluator_create(
            model._require(), x_ptr, n_train, d, y_ptr,
            None if text is None else text.encode("utf-8"), byref(out), byref(err))
        model._check(status, err)
        self._handle = out
        if autoencoder is not None:
            self.set_autoencoder(autoencoder)
        self.density = None
        if density is not None:
            self.set_density(density)

    def set_density(self, density) -> None:
        """Sets (or, with ``None``, removes) the feature density of ``log_density``."""
        err = _lib.new_error()
        status = _lib.lib().cfx_evaluator_set_density(
            self._require(), None if density is None else density._require(), byref(err))
        _lib.check(status, err)
        self.density = density  # keeps the Python object (and its handle) alive

    def set_autoencoder(self, autoencoder: Optional[Model]) -> None:
        """Sets (or, with ``None``, removes) the autoencoder of ``ae_error``."""
        if autoencoder is not None and not isinstance(autoencoder, Model):
            raise InvalidArgumentError(
                f"autoencoder: expected a cfx.Model, got {type(autoencoder).__name__}")
        err = _lib.new_error()
        status = _lib.lib().cfx_evaluator_set_model(
            self._require(), b"autoencoder",
            None if autoencoder is None else autoencoder._require(), byref(err))
        _lib.check(status, err)
        self.autoencoder = autoencoder

    def evaluate(self, X, X_cf, target_class: Any = "other", target_proba: Optional[float] = None,
                 meta: Optional[Sequence[Optional[dict]]] = None) -> EvaluationResult:
        """Measures the rows of ``X_cf`` against the rows of ``X``.

        ``X_cf`` is an array (rows of NaN: none found) or a list of :class:`cfx.Explanation`
        (``cf["X"]``, NaN when ``cf`` is None; ``meta`` is then taken from them, and ``X`` may
        be None to use each explanation's instance). ``target_class`` is ``"other"``,
        ``"same"``, a class index, or a sequence with one of those per row.
        """
        X, X_cf, meta = _rows_and_meta(X, X_cf, meta)
        n, d = X.shape
        if X_cf.shape != (n, d):
            raise InvalidArgumentError(f"X_cf: shape {X_cf.shape}, expected {(n, d)} like X")
        request: Dict[str, Any] = {}
        if isinstance(target_class, (list, tuple, np.ndarray)):
            request["target_class"] = [t if isinstance(t, str) else int(t) for t in target_class]
        else:
            request["target_class"] = (target_class if isinstance(target_class, str)
                                       else int(target_class))
        if target_proba is not None:
            request["target_proba"] = float(target_proba)
        if meta is not None:
            request["meta"] = [None if m is None else
                               {k: m[k] for k in ("seconds", "model_calls", "gradient_evaluations")
                                if k in m} for m in meta]
        if n == 0:
            raise InvalidArgumentError("X: no rows to evaluate")
        out = c_void_p()
        err = _lib.new_error()
        status = _lib.lib().cfx_evaluate(self._require(), X.ctypes.data_as(_lib.DOUBLE_P),
                                         X_cf.ctypes.data_as(_lib.DOUBLE_P), n, d,
                                         to_json_text(request).encode("utf-8"), byref(out),
                                         byref(err))
        self._check_status(status, err)
        return EvaluationResult.from_json(_json.loads(_lib.take_bytes(out)))

    def evaluate_sets(self, X, X_cfs, target_class: Any = "other",
                      target_proba: Optional[float] = None) -> "SetEvaluationResult":
        """Measures diverse sets: ``X`` (n, d) and ``X_cfs`` (n, k, d; a member of NaN is missing)
        or a list of explanations with ``cfs`` (shorter sets are padded with NaN members).
        ``target_class`` is per set (one for all, or n). Returns a :class:`SetEvaluationResult`."""
        X, X_cfs = _sets(X, X_cfs)
        n, k, d = X_cfs.shape
        request: Dict[str, Any] = {"target_class": (
            [t if isinstance(t, str) else int(t) for t in target_class]
            if isinstance(target_class, (list, tuple, np.ndarray))
            else (target_class if isinstance(target_class, str) else int(target_class)))}
        if target_proba is not None:
            request["target_proba"] = float(target_proba)
        out = c_void_p()
        err = _lib.new_error()
        status = _lib.lib().cfx_evaluate_sets(self._require(), X.ctypes.data_as(_lib.DOUBLE_P),
                                              X_cfs.ctypes.data_as(_lib.DOUBLE_P), n, k, d,
                                              to_json_text(request).encode("utf-8"), byref(out),
                                              byref(err))
        self._check_status(status, err)
        return SetEvaluationResult.from_json(_json.loads(_lib.take_bytes(out)))

    def _check_status(self, status, err) -> None:
        """Raises the call's error, or the exception a Python model or autoencoder raised."""
        pending = None
        if status == CallbackError.code:
            for m in (self.model, self.autoencoder):
                if pending is None and m is not None and m._callbacks is not None:
                    pending = m._callbacks.take()
        _lib.check(status, err, pending)

    def __repr__(self) -> str:
        return f"<cfx.metrics.Evaluator model={self.model!r}>"


@dataclass
class SetEvaluationResult:
    """The metrics of n sets of k counterfactuals (``cfx_evaluate_sets``).

    ``sets[column]``: one numpy entry per set: ``members_found``, ``members_valid`` (int),
    ``all_valid`` (bool), ``diversity`` (mean pairwise L1 of the found members),
    ``diversity_mad`` (DiCE's: mean pairwise MAD-scaled L1 / d; NaN without training data) and
    ``count_diversity`` (DiCE's: the share of features that differ, over pairs); diversities are
    NaN with fewer than two members. ``summary`` as in :class:`EvaluationResult`; ``members`` is
    the :class:`EvaluationResult` of the n*k (instance, member) rows, member j of set i at i*k + j.
    """

    n: int
    k: int
    summary: Dict[str, Dict[str, float]]
    sets: Dict[str, np.ndarray]
    members: EvaluationResult

    @classmethod
    def from_json(cls, data: dict) -> "SetEvaluationResult":
        summary = {name: {stat: (int(v) if stat == "n" else (np.nan if v is None else float(v)))
                          for stat, v in stats.items()} for name, stats in data["summary"].items()}
        sets: Dict[str, np.ndarray] = {}
        for name, values in data["sets"].items():
            if name == "all_valid":
                sets[name] = np.array(values, dtype=bool)
            elif name in ("members_found", "members_valid"):
                sets[name] = np.array(values, dtype=np.int64)
            else:
                sets[name] = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        return cls(n=data["n"], k=data["k"], summary=summary, sets=sets,
                   members=EvaluationResult.from_json(data["members"]))

    def mean(self, metric: str) -> float:
        return self.summary[metric]["mean"]


def _sets(X, X_cfs):
    """X as (n, d) and X_cfs as (n, k, d) float64 arrays, reading explanations' ``cfs``."""
    from .explainer import Explanation

    if isinstance(X_cfs, (list, tuple)) and X_cfs and all(isinstance(e, Explanation) for e in X_cfs):
        if X is None:
            X = np.stack([np.asarray(e.x, dtype=np.float64) for e in X_cfs])
        X, _ = as_rows(X)
        sets = [[np.asarray(c["X"], dtype=np.float64) for c in (e.get("cfs") or [])] for e in X_cfs]
        k = max(1, max(len(s) for s in sets))
        X_cfs = np.full((len(sets), k, X.shape[1]), np.nan)
        for i, s in enumerate(sets):
            for j, c in enumerate(s):
                X_cfs[i, j] = c
    elif X is None:
        raise InvalidArgumentError("X: required unless X_cfs is a list of explanations")
    X, _ = as_rows(X)
    X_cfs = np.ascontiguousarray(X_cfs, dtype=np.float64)
    if X_cfs.ndim != 3 or X_cfs.shape[0] != X.shape[0] or X_cfs.shape[2] != X.shape[1]:
        raise InvalidArgumentError(f"X_cfs: shape {X_cfs.shape}, expected (n, k, d) with n, d = {X.shape}")
    if X.shape[0] == 0 or X_cfs.shape[1] == 0:
        raise InvalidArgumentError("X_cfs: no sets or no members to evaluate")
    return X, X_cfs


def evaluate_sets(model: Model, X, X_cfs, X_train=None, y_train=None, target_class: Any = "other",
                  target_proba: Optional[float] = None, **options) -> SetEvaluationResult:
    """Set metrics in one call (an :class:`Evaluator` built and freed); see
    :meth:`Evaluator.evaluate_sets`. L0 with a tolerance: the members' ``l0`` with ``sparsity_tol``."""
    with Evaluator(model, X_train, y_train, **options) as ev:
        return ev.evaluate_sets(X, X_cfs, target_class=target_class, target_proba=target_proba)


def _rows_and_meta(X, X_cf, meta):
    """X and X_cf as float64 (n, d) arrays and the per-row meta, reading explanations."""
    from .explainer import Explanation

    if isinstance(X_cf, Explanation):
        X_cf = [X_cf]
    if isinstance(X_cf, (list, tuple)) and X_cf and all(
            isinstance(e, Explanation) or e is None for e in X_cf):
        exps = list(X_cf)
        if X is None:
            if any(e is None or e.x is None for e in exps):
                raise InvalidArgumentError("X: needed when an explanation does not carry its instance")
            X = np.stack([np.asarray(e.x, dtype=np.float64) for e in exps])
        X, _ = as_rows(X)
        rows = []
        for e in exps:
            cf = None if e is None else e.get("cf")
            rows.append(np.full(X.shape[1], np.nan) if cf is None
                        else np.asarray(cf["X"], dtype=np.float64).reshape(-1))
        X_cf = np.stack(rows) if rows else np.empty((0, X.shape[1]))
        if meta is None:
            meta = [None if e is None else e.get("meta") for e in exps]
    elif X is None:
        raise InvalidArgumentError("X: required unless X_cf is a list of explanations")
    X, _ = as_rows(X)
    X_cf, _ = as_rows(X_cf, "X_cf")
    if meta is not None and len(meta) != X.shape[0]:
        raise InvalidArgumentError(f"meta: has {len(meta)} entries for {X.shape[0]} rows")
    return X, X_cf, meta


def evaluate(model: Model, X, X_cf, X_train=None, y_train=None, autoencoder: Optional[Model] = None,
             density=None, target_class: Any = "other", target_proba: Optional[float] = None,
             meta: Optional[Sequence[Optional[dict]]] = None, **options) -> EvaluationResult:
    """Metrics of the counterfactuals ``X_cf`` of the instances ``X`` in one call (an
    :class:`Evaluator` built and freed). See :class:`Evaluator` for ``X_train``, ``y_train``,
    ``autoencoder``, ``density`` and the keyword options, and :meth:`Evaluator.evaluate` for the rest."""
    with Evaluator(model, X_train, y_train, autoencoder=autoencoder, density=density, **options) as ev:
        return ev.evaluate(X, X_cf, target_class=target_class, target_proba=target_proba,
                           meta=meta)
