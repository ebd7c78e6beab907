"""Training native cfx networks (``cfx_model_train`` and ``cfx_model_to_json`` of the header's
"Training" section). Used through :meth:`cfx.Model.train`; kept apart so that the declarations of
the core functions in ``_lib`` stay as they are."""

from __future__ import annotations

import json
import sys
from ctypes import CFUNCTYPE, POINTER, byref, c_char_p, c_int, c_size_t, c_void_p
from typing import Any, Callable, Optional, Union

import numpy as np

from . import _lib
from .errors import CancelledError, InvalidArgumentError

__all__ = ["train", "to_json", "default_train_config", "PROGRESS_FN"]

# typedef int (*cfx_progress_fn)(void *user, const char *progress_json);
PROGRESS_FN = CFUNCTYPE(c_int, c_void_p, c_char_p)

_declared = False


def _lib_training():
    """libcfx with the training functions declared (once)."""
    global _declared
    lib = _lib.lib()
    if not _declared:
        err_p = POINTER(_lib.CfxError)
        lib.cfx_model_train.restype = c_int
        lib.cfx_model_train.argtypes = [_lib.MODEL_P, _lib.DOUBLE_P, c_size_t, c_size_t, _lib.DOUBLE_P,
                                        c_size_t, c_char_p, PROGRESS_FN, c_void_p, POINTER(c_void_p),
                                        err_p]
        lib.cfx_model_to_json.restype = c_int
        lib.cfx_model_to_json.argtypes = [_lib.MODEL_P, POINTER(c_void_p), err_p]
        _declared = True
    return lib


def default_train_config() -> dict:
    """Every training config key with its default (``cfx_default_config("train")``)."""
    return _lib.default_config("train")


class _Bar:
    """A one-line progress display: tqdm when it is installed, else a line on stderr."""

    def __init__(self, epochs: int):
        try:
            from tqdm import tqdm  # type: ignore
            self._tqdm = tqdm(total=epochs, unit="epoch", leave=True)
        except ImportError:
            self._tqdm = None

    def __call__(self, epoch: dict) -> None:
        shown = {k: epoch[k] for k in ("loss", "accuracy", "val_loss", "val_accuracy")
                 if epoch.get(k) is not None}
        if self._tqdm is not None:
            self._tqdm.set_postfix({k: f"{v:.4f}" for k, v in shown.items()}, refresh=False)
            self._tqdm.update(1)
        else:
            numbers = " ".join(f"{k} {v:.4f}" for k, v in shown.items())
            print(f"\repoch {epoch['epoch']}/{epoch['epochs']} {numbers}", end="", file=sys.stderr,
                  flush=True)

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
        else:
            print(file=sys.stderr)


def train(model, X, y=None, progress: Union[None, bool, Callable[[dict], Any]] = None,
          **config) -> dict:
    """See :meth:`cfx.Model.train`."""
    rows = np.ascontiguousarray(X, dtype=np.float64)
    if rows.ndim != 2:
        raise InvalidArgumentError(f"X: expected a 2-D array, got {rows.ndim}-D")
    n, d = rows.shape
    targets, width = None, 0
    if y is not None:
        t = np.ascontiguousarray(y, dtype=np.float64)
        if t.ndim == 1:
            t = t.reshape(-1, 1)
        if t.ndim != 2 or t.shape[0] != n:
            raise InvalidArgumentError(
                f"y: expected {n} rows like X (a class index per row, or a 2-D array of targets), "
                f"got shape {np.shape(y)}")
        targets, width = t, t.shape[1]
    bar = _Bar(int(config.get("epochs", default_train_config()["epochs"]))) if progress is True else None
    callback_fn = bar if bar is not None else (progress if callable(progress) else None)
    if progress not in (None, False, True) and not callable(progress):
        raise InvalidArgumentError("progress: expected None, True or a callable")
    pending: list[BaseException] = []

    def on_progress(_user, text) -> int:
        try:
            result = callback_fn(json.loads(text.decode("utf-8")))
            return 1 if result is False else 0
        except BaseException as exc:  # noqa: BLE001 -- must not unwind into C
            pending.append(exc)
            return 1

    c_progress = PROGRESS_FN(on_progress) if callback_fn is not None else PROGRESS_FN()
    out = c_void_p()
    err = _lib.new_error()
    try:
        status = _lib_training().cfx_model_train(
            model._require(), rows.ctypes.data_as(_lib.DOUBLE_P), n, d,
            targets.ctypes.data_as(_lib.DOUBLE_P) if targets is not None else None, width,
            json.dumps(config).encode("utf-8"), c_progress, None, byref(out), byref(err))
    finally:
        if bar is not None:
            bar.close()
    report_text = _lib.take_string(out)
    if pending:
        raise pending[0]
    if status == CancelledError.code:
        return json.loads(report_text)  # cancelled by the callback returning False
    _lib.check(status, err)
    return json.loads(report_text)


def to_json(model) -> dict:
    """The network's spec with its current weights inline (``cfx_model_to_json``)."""
    out = c_void_p()
    err = _lib.new_error()
    _lib.check(_lib_training().cfx_model_to_json(model._require(), byref(out), byref(err)), err)
    return json.loads(_lib.take_string(out))
