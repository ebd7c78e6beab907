"""Training native cfx networks (``cfx_model_train`` of the header's "Training" section). Used
through :meth:`cfx.Model.train`."""

from __future__ import annotations

import json
from ctypes import byref, c_void_p

import numpy as np

from . import _lib
from ._convert import to_json_text
from ._lib import PROGRESS_FN
from ._progress import Progress, ProgressHook
from .errors import CancelledError, InvalidArgumentError

__all__ = ["train", "default_train_config", "PROGRESS_FN"]

def default_train_config() -> dict:
    """Every training config key with its default (``cfx_default_config("train")``)."""
    return _lib.default_config("train")


def train(model, X, y=None, progress: Progress = None, **config) -> dict:
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
    epochs = int(config.get("epochs", default_train_config()["epochs"]))
    hook = ProgressHook(progress, epochs, "epoch", "epoch", ("loss", "accuracy", "val_loss", "val_accuracy"))
    out = c_void_p()
    err = _lib.new_error()
    try:
        status = _lib.lib().cfx_model_train(
            model._require(), rows.ctypes.data_as(_lib.DOUBLE_P), n, d,
            targets.ctypes.data_as(_lib.DOUBLE_P) if targets is not None else None, width,
            to_json_text(config).encode("utf-8"), hook.c_function, None, byref(out), byref(err))
    finally:
        report_text = _lib.take_string(out)
        hook.finish()
    if status == CancelledError.code:
        return json.loads(report_text)  # cancelled by the callback returning False
    _lib.check(status, err)
    return json.loads(report_text)
