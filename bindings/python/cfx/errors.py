"""Exceptions raised by the cfx bindings, one per ``cfx_status`` code of ``include/cfx.h``."""

from __future__ import annotations

__all__ = [
    "Error", "InvalidArgumentError", "JSONError", "ConfigError", "ModelError", "ShapeError",
    "NumericError", "CallbackError", "CancelledError", "InternalError", "FileError", "LibraryNotFoundError",
    "STATUS_OK", "error_for_status", "FeatureRangeWarning", "warn_about",
]

import warnings

STATUS_OK = 0


class Error(Exception):
    """Base class of every error reported by the cfx library.

    ``code`` is the ``cfx_status`` value (an ``int``) and ``message`` the library's message,
    which names the offending field, e.g. ``"config.tol: must be >= 0, got -1"``.
    """

    code: int = -1
    status_name: str = "error"

    def __init__(self, message: str = "", code: int | None = None):
        if code is not None:
            self.code = code
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message or self.status_name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, message={self.message!r})"


class InvalidArgumentError(Error):
    """CFX_ERR_INVALID_ARGUMENT: a NULL pointer, zero size or other bad argument."""
    code = 1
    status_name = "invalid argument"


class JSONError(Error):
    """CFX_ERR_JSON: text that is not valid JSON."""
    code = 2
    status_name = "json"


class ConfigError(Error):
    """CFX_ERR_CONFIG: unknown key or method, wrong type, out-of-range value."""
    code = 3
    status_name = "config"


class ModelError(Error):
    """CFX_ERR_MODEL: an invalid model specification."""
    code = 4
    status_name = "model"


class ShapeError(Error):
    """CFX_ERR_SHAPE: buffer sizes that do not match the model."""
    code = 5
    status_name = "shape"


class NumericError(Error):
    """CFX_ERR_NUMERIC: NaN or infinity in an input or a model output."""
    code = 6
    status_name = "numeric"


class CallbackError(Error):
    """CFX_ERR_CALLBACK: a caller-supplied callback failed.

    When the callback was a Python callable that raised, the original exception is this
    error's ``__cause__`` (and ``callback_exception``).
    """
    code = 7
    status_name = "callback"
    callback_exception: BaseException | None = None


class CancelledError(Error):
    """CFX_ERR_CANCELLED: the run was cancelled (``Model.train`` returns the report with
    ``"cancelled": True`` instead of raising it)."""
    code = 8
    status_name = "cancelled"


class InternalError(Error):
    """CFX_ERR_INTERNAL: a bug in cfx; please report it with the message."""
    code = 9
    status_name = "internal"


class FileError(Error):
    """CFX_ERR_IO: a file that cannot be read or written; the message starts with its path."""
    code = 10
    status_name = "io"


class FeatureRangeWarning(UserWarning):
    """An instance lies outside the explainer's ``feature_range``: the search clips it into the
    range, so part of the counterfactual's change comes from the clipping alone. The same text is
    in the explanation's ``meta["warnings"]``."""


def warn_about(explanations: list) -> None:
    """Issues a :class:`FeatureRangeWarning` per instance whose explanations' ``meta`` carry
    warnings (once per instance, also when a method explains it for several targets)."""
    seen = set()
    for position, e in enumerate(explanations):
        row = e.get("instance", position)
        for text in (e.get("meta") or {}).get("warnings", []):
            if (row, text) not in seen:
                seen.add((row, text))
                warnings.warn(f"cfx: instance {row}: {text}", FeatureRangeWarning, stacklevel=4)


class LibraryNotFoundError(OSError):
    """The shared library libcfx could not be found or loaded."""


_BY_CODE = {cls.code: cls for cls in (
    InvalidArgumentError, JSONError, ConfigError, ModelError, ShapeError, NumericError,
    CallbackError, CancelledError, InternalError, FileError)}


def error_for_status(code: int, message: str) -> Error:
    """The exception instance for a non-zero ``cfx_status``."""
    cls = _BY_CODE.get(int(code))
    if cls is None:
        return Error(message or f"unknown cfx status {code}", code=int(code))
    return cls(message)
