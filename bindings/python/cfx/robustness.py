"""The metrics of counterfactual training (Altmeyer et al.): implausibility IP and IP* (MMD²),
cost, validity, and robust accuracy under FGSM and PGD.

>>> cfx.robustness.plausibility(model, X_train, y_train, X, X_cf, targets)["ip"]
>>> cfx.robustness.robust_accuracy(model, X_test, y_test, attack="fgsm")["accuracy"]

Formulas and defaults are in docs/metrics.md (cfx_plausibility, cfx_robust_accuracy). IP*'s
Gaussian kernel length scale is the median pairwise distance of the pooled sample unless
``length_scale`` is given.
"""

from __future__ import annotations

import json
from ctypes import byref, c_void_p

import numpy as np

from . import _lib
from ._convert import to_json_text
from .errors import InvalidArgumentError
from .model import Model

__all__ = ["plausibility", "robust_accuracy"]

def _matrix(X, name, d=None) -> np.ndarray:
    a = np.ascontiguousarray(X, dtype=np.float64)
    if a.ndim != 2 or (d is not None and a.shape[1] != d):
        raise InvalidArgumentError(f"{name}: expected a 2-D array" + (f" with {d} columns" if d else "") + f", got shape {a.shape}")
    return a


def _vector(v, n, name) -> np.ndarray:
    a = np.ascontiguousarray(v, dtype=np.float64).reshape(-1)
    if a.shape[0] != n:
        raise InvalidArgumentError(f"{name}: expected {n} values, got {a.shape[0]}")
    return a


def _call(model: Model, fn, *args) -> dict:
    out = c_void_p()
    err = _lib.new_error()
    status = fn(model._require(), *args, byref(out), byref(err))
    text = _lib.take_string(out)
    model._check(status, err)
    return json.loads(text)


def plausibility(model: Model, X_train, y_train, X, X_cf, targets, samples: int = 1000, length_scale=None,
                 seed: int = 0) -> dict:
    """IP, IP*, cost and validity of counterfactuals ``X_cf`` of ``X`` towards ``targets``:
    ``{"ip", "ip_star", "cost", "validity", "per_class", "instances"}``."""
    X_train = _matrix(X_train, "X_train")
    n_train, d = X_train.shape
    y_train = _vector(y_train, n_train, "y_train")
    X, X_cf = _matrix(X, "X", d), _matrix(X_cf, "X_cf", d)
    n = X.shape[0]
    if X_cf.shape[0] != n:
        raise InvalidArgumentError(f"X_cf: {X_cf.shape[0]} rows for {n} factuals")
    targets = _vector(targets, n, "targets")
    options = to_json_text({"samples": samples, "length_scale": length_scale, "seed": seed}).encode("utf-8")
    p = lambda a: a.ctypes.data_as(_lib.DOUBLE_P)  # noqa: E731
    return _call(model, _lib.lib().cfx_plausibility, p(X_train), p(y_train), n_train, p(X), p(X_cf), p(targets), n, d, options)


def robust_accuracy(model: Model, X, y, attack: str = "pgd", epsilons=None, steps: int = 40, alpha: float = 0.01,
                    random_start: bool = True, seed: int = 0, n_threads: int = 0) -> dict:
    """Accuracy under ``attack`` ("fgsm" or "pgd") for each radius in ``epsilons`` (default
    0, 0.01, ..., 0.1): ``{"attack", "epsilons", "accuracy"}``."""
    X = _matrix(X, "X")
    n, d = X.shape
    y = _vector(y, n, "y")
    options = {"attack": attack, "steps": steps, "alpha": alpha, "random_start": random_start, "seed": seed,
               "n_threads": n_threads}
    if epsilons is not None:
        options["epsilons"] = [float(e) for e in epsilons]
    p = lambda a: a.ctypes.data_as(_lib.DOUBLE_P)  # noqa: E731
    return _call(model, _lib.lib().cfx_robust_accuracy, p(X), p(y), n, d, to_json_text(options).encode("utf-8"))
