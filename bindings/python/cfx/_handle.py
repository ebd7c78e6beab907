"""The lifetime of a native cfx handle, shared by models and explainers."""

from __future__ import annotations

from . import _lib
from .errors import InvalidArgumentError


class NativeHandle:
    """Owns one cfx handle and frees it exactly once: on :meth:`close`, at the end of a ``with``
    block, or when the object is collected. Subclasses name their free function and kind."""

    _free_function = ""  # e.g. "cfx_model_free"
    _kind = ""           # e.g. "model", for error messages
    _handle = None

    @property
    def closed(self) -> bool:
        return not self._handle

    def _require(self):
        if not self._handle:
            raise InvalidArgumentError(f"{self._kind}: the {self._kind} is closed")
        return self._handle

    def close(self) -> None:
        """Frees the native handle (idempotent)."""
        handle, self._handle = self._handle, None
        if handle:
            getattr(_lib.lib(), self._free_function)(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 -- interpreter shutdown
            pass
