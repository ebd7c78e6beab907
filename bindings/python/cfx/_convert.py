"""Python values as the C functions take them: JSON text for configs and specs, C-contiguous
float64 rows for data. Shared by every module that calls libcfx."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .errors import InvalidArgumentError

__all__ = ["as_rows", "to_json_text"]


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cfx: {type(obj).__name__} is not JSON serialisable")


def to_json_text(obj: Any) -> str:
    """JSON text for a dict (numpy arrays and scalars allowed) or a JSON string as is."""
    if isinstance(obj, (str, bytes)):
        return obj.decode("utf-8") if isinstance(obj, bytes) else obj
    return json.dumps(obj, default=_json_default)


def as_rows(X: Any, name: str = "X") -> tuple[np.ndarray, bool]:
    """X as a C-contiguous float64 2-D array (no copy when it already is one) and whether the
    input was a single 1-D row."""
    raw = X if isinstance(X, np.ndarray) else _array(X)
    if raw.dtype.kind not in "biuf" and not (raw.dtype.kind == "O" and _all_real(raw)):
        raise InvalidArgumentError(f"{name}: expected real numbers, got {_describe(raw)}")
    arr = np.ascontiguousarray(raw, dtype=np.float64)
    if arr.ndim == 1:
        return arr.reshape(1, -1), True
    if arr.ndim != 2:
        raise InvalidArgumentError(f"{name}: expected a 1-D or 2-D array, got {arr.ndim}-D")
    return arr, False


def _array(X: Any) -> np.ndarray:
    """X as a numpy array, keeping its element type; rows of different lengths become an object
    array (numpy refuses them as a regular one), so that the caller can name the problem."""
    try:
        return np.asarray(X)
    except ValueError:
        return np.asarray(X, dtype=object)


def _all_real(arr: np.ndarray) -> bool:
    """An object array whose items are all real numbers (e.g. from pandas)."""
    return all(isinstance(v, (int, float, np.integer, np.floating, np.bool_)) for v in arr.ravel())


def _describe(arr: np.ndarray) -> str:
    """What a non-numeric array holds, for error messages."""
    if arr.dtype.kind in "US":
        return f"text ({arr.ravel()[0]!r} ...)" if arr.size else "text"
    if arr.dtype.kind == "c":
        return "complex numbers"
    bad = next((v for v in arr.ravel() if not isinstance(v, (int, float, np.integer, np.floating))), None)
    if isinstance(bad, (list, tuple, np.ndarray)):
        return "rows of different lengths"
    return f"{type(bad).__name__} {bad!r}"
