"""DeDUCE counterfactuals, the JSMA baseline, and DDU's feature-space density.

>>> density = cfx.FeatureDensity.fit(model, X_train, y_train)        # one Gaussian per class
>>> density.log_prob(X)            # (n, k) per-class log densities; density.score(X): mixture
>>> exps = cfx.DeDUCE(model, target_class="all").fit(X_train, y_train).explain(X)
>>> exps = cfx.JSMA(model, target_class=3).explain(X)

DeDUCE and JSMA explain every instance for each of its target classes: ``explain`` returns one
:class:`SaliencyExplanation` per (instance, target) pair, instance-major (a single one when ``X``
is one instance and there is one target).
"""

from __future__ import annotations

import json
import os
from ctypes import byref
from typing import List, Optional, Union

import numpy as np

from . import _lib
from ._convert import as_rows
from ._handle import NativeHandle
from ._lib import DENSITY_P
from .errors import InvalidArgumentError
from .explainer import Explainer, Explanation
from .model import Model

__all__ = ["FeatureDensity", "DeDUCE", "JSMA", "SaliencyExplanation"]


def _labels(y, n: int) -> Optional[np.ndarray]:
    if y is None:
        return None
    labels = np.ascontiguousarray(np.asarray(y, dtype=np.float64).reshape(-1))
    if labels.shape[0] != n:
        raise InvalidArgumentError(f"y: has {labels.shape[0]} labels for {n} rows")
    return labels


def _pointer(array: Optional[np.ndarray]):
    return None if array is None else array.ctypes.data_as(_lib.DOUBLE_P)


class FeatureDensity(NativeHandle):
    """DDU's class-conditional Gaussian density in a network's feature space (``cfx_density_*``).

    Build one with :meth:`fit` or :meth:`load`. ``info`` has ``jitter`` (the ε added to the
    covariances), ``counts``, ``labels`` ("given" or "predicted"), ``dimension`` and more.
    """

    _free_function = "cfx_density_free"
    _kind = "density"

    def __init__(self, handle):
        self._handle = handle
        self._info: Optional[dict] = None

    @classmethod
    def fit(cls, model: Model, X, y=None, feature_output: str = "features") -> "FeatureDensity":
        """Fits one Gaussian per class on the ``feature_output`` of ``model`` over the rows of
        ``X``, grouped by the labels ``y`` (``None``: by the model's predictions)."""
        rows, _ = as_rows(X)
        n, d = rows.shape
        labels = _labels(y, n)
        out = DENSITY_P()
        err = _lib.new_error()
        status = _lib.lib().cfx_density_fit(model._require(), feature_output.encode("utf-8"),
                                            _pointer(rows), n, d, _pointer(labels), byref(out),
                                            byref(err))
        _lib.check(status, err)
        return cls(out)

    @classmethod
    def load(cls, path: "str | os.PathLike") -> "FeatureDensity":
        """A density written by :meth:`save` (a safetensors file)."""
        out = DENSITY_P()
        err = _lib.new_error()
        _lib.check(_lib.lib().cfx_density_load(os.fsencode(path), byref(out), byref(err)), err)
        return cls(out)

    def save(self, path: "str | os.PathLike") -> None:
        """Writes the density (means, Cholesky factors, jitter) to a safetensors file."""
        err = _lib.new_error()
        _lib.check(_lib.lib().cfx_density_save(self._require(), os.fsencode(path), byref(err)), err)

    @property
    def info(self) -> dict:
        """What the density holds: classes, dimension, labels used ("given" or "predicted"), jitter."""
        if self._info is None:
            self._info = json.loads(_lib.call_json("cfx_density_info", self._require()))
        return dict(self._info)

    @property
    def jitter(self) -> float:
        """The ε·I added to every covariance to make it positive definite (0 when none was needed)."""
        return self.info["jitter"]

    @property
    def n_classes(self) -> int:
        """The number of classes (one Gaussian each)."""
        return self.info["n_classes"]

    def _log_prob(self, X, model: Optional[Model], per_class: bool, mixture: bool):
        rows, single = as_rows(X)
        n, d = rows.shape
        k = self.n_classes
        per = np.empty((n, k)) if per_class else None
        mix = np.empty(n) if mixture else None
        err = _lib.new_error()
        status = _lib.lib().cfx_density_log_prob(self._require(), model._require() if model else None,
                                                 _pointer(rows), n, d, _pointer(per), _pointer(mix),
                                                 byref(err))
        _lib.check(status, err)
        return per, mix, single

    def log_prob(self, X, model: Optional[Model] = None) -> np.ndarray:
        """Per-class log densities, ``(n, k)``. With ``model``, ``X`` are inputs of the model;
        without, ``X`` are feature vectors."""
        per, _, single = self._log_prob(X, model, True, False)
        return per[0] if single else per

    def score(self, X, model: Optional[Model] = None) -> np.ndarray:
        """DDU's density score log Σ_c p_c(z) (log-sum-exp over classes), ``(n,)``: low values
        flag implausible inputs."""
        _, mix, single = self._log_prob(X, model, False, True)
        return mix[0] if single else mix

    def __repr__(self) -> str:
        if self.closed:
            return "<cfx.FeatureDensity closed>"
        i = self.info
        return (f"<cfx.FeatureDensity {i['feature_output']!r} k={i['n_classes']} D={i['dimension']} "
                f"jitter={i['jitter']:g} labels={i['labels']}>")


class SaliencyExplanation(Explanation):
    """One DeDUCE or JSMA explanation: one instance and one target class. Keys: ``instance``,
    ``target_class``, ``cf`` (``X``, ``class``, ``proba``, ``L0``, ``L1``, ``iterations``,
    ``log_density`` {``before``, ``after``}) or ``None`` with ``reason``, ``orig_class``,
    ``orig_proba``, ``success``, ``meta`` and, with ``trace=True``, ``trace``."""

    __slots__ = ()

    def __repr__(self) -> str:
        d = self.data
        head = (f"SaliencyExplanation(instance={d.get('instance')}, orig_class={d.get('orig_class')}, "
                f"target_class={d.get('target_class')}, success={d.get('success')}")
        cf = d.get("cf")
        if cf is None:
            return head + f", reason={d.get('reason')!r})"
        return head + f", L0={cf.get('L0')}, L1={cf.get('L1'):.4g}, iterations={cf.get('iterations')})"


class _SaliencyExplainer(Explainer):
    method = ""

    def __init__(self, model: Model, **params):
        if "method" in params and params["method"] != self.method:
            raise InvalidArgumentError(f"method: {type(self).__name__} takes method "
                                       f"{self.method!r}, got {params['method']!r}")
        config = {"method": self.method}
        config.update(params)
        super().__init__(model, config)
        self.density: Optional[FeatureDensity] = None

    def explain(self, X) -> Union[SaliencyExplanation, List[SaliencyExplanation]]:
        """One explanation per instance and target class, instance-major; one explanation (not
        a list) when ``X`` is a single instance with a single target."""
        rows, single = as_rows(X)
        result = self.explain_raw(rows)
        exps = [SaliencyExplanation(e, rows[e["instance"]].copy()) for e in result["explanations"]]
        return exps[0] if single and len(exps) == 1 else exps


class DeDUCE(_SaliencyExplainer):
    """DeDUCE counterfactuals: ``DeDUCE(model, target_class="all", max_changes=5).fit(X, y)``.

    ``fit`` fits the feature density on training data (labels ``y`` as DDU does; ``None`` uses
    the model's predictions); :meth:`set_density` uses a fitted :class:`FeatureDensity` instead.
    Keyword arguments are config keys (``cfx.default_config("deduce")``).
    """

    method = "deduce"

    def fit(self, X, y=None) -> "DeDUCE":
        """Fits the feature density on training rows ``X`` with labels ``y`` (``None``: the model's predictions); returns ``self``."""
        rows, _ = as_rows(X)
        n, d = rows.shape
        labels = _labels(y, n)
        err = _lib.new_error()
        status = _lib.lib().cfx_explainer_fit(self._require(), _pointer(rows), n, d, _pointer(labels),
                                              byref(err))
        _lib.check(status, err)
        return self

    def set_density(self, density: FeatureDensity) -> "DeDUCE":
        """Uses a fitted :class:`FeatureDensity` instead of fitting one; returns ``self``."""
        err = _lib.new_error()
        status = _lib.lib().cfx_explainer_set_density(self._require(), density._require(), byref(err))
        _lib.check(status, err)
        self.density = density
        return self


class JSMA(_SaliencyExplainer):
    """The JSMA baseline as the DeDUCE paper runs it: ``JSMA(model, target_class="all")``.
    Needs no fit."""

    method = "jsma"

    def fit(self, X=None, y=None) -> "JSMA":
        """JSMA needs no training data: accepted for symmetry with DeDUCE and ignored; returns ``self``."""
        return self
