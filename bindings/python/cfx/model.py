"""cfx models: native networks from a JSON spec, or Python callables."""

from __future__ import annotations

import json
import os
import threading
from ctypes import byref, c_size_t
from typing import Callable, Optional

import numpy as np

from . import _lib, training
from ._convert import as_rows, to_json_text
from ._handle import NativeHandle
from .errors import CallbackError, InvalidArgumentError

__all__ = ["Model", "as_rows", "to_json_text"]  # the helpers stay importable from here


class _CallbackState:
    """Owns the ctypes callbacks of a callable model and the exception a callback raised."""

    def __init__(self, predict_proba: Callable, vjp: Optional[Callable], d: int, k: int):
        self.predict_proba = predict_proba
        self.vjp = vjp
        self.d, self.k = d, k
        self._lock = threading.Lock()
        self._pending: Optional[BaseException] = None
        # The CFUNCTYPE objects must stay alive as long as the native model: they live here,
        # and the Model (and every explainer built on it) holds this object.
        self.c_predict = _lib.PREDICT_FN(self._predict)
        self.c_vjp = _lib.VJP_FN(self._vjp) if vjp is not None else _lib.VJP_FN()

    def _store(self, exc: BaseException) -> None:
        with self._lock:
            if self._pending is None:  # keep the first failure of a call
                self._pending = exc

    def take(self) -> Optional[BaseException]:
        """The exception a callback raised since the last take(), cleared."""
        with self._lock:
            exc, self._pending = self._pending, None
        return exc

    def _predict(self, user, x, n, d, proba_out) -> int:
        try:
            X = np.ctypeslib.as_array(x, shape=(n, d)).copy()
            P = np.asarray(self.predict_proba(X), dtype=np.float64)
            if P.shape != (n, self.k):
                raise ValueError(
                    f"predict_proba returned an array of shape {P.shape}, expected ({n}, {self.k})")
            np.ctypeslib.as_array(proba_out, shape=(n, self.k))[...] = P
            return 0
        except BaseException as exc:  # noqa: BLE001 -- must not unwind into C
            self._store(exc)
            return 1

    def _vjp(self, user, x, n, d, cotangent, k, grad_out) -> int:
        try:
            X = np.ctypeslib.as_array(x, shape=(n, d)).copy()
            C = np.ctypeslib.as_array(cotangent, shape=(n, k)).copy()
            G = np.asarray(self.vjp(X, C), dtype=np.float64)
            if G.shape != (n, d):
                raise ValueError(f"vjp returned an array of shape {G.shape}, expected ({n}, {d})")
            np.ctypeslib.as_array(grad_out, shape=(n, d))[...] = G
            return 0
        except BaseException as exc:  # noqa: BLE001
            self._store(exc)
            return 1


class Model(NativeHandle):
    """A cfx classifier: ``n x d`` features in, ``n x k`` class probabilities out.

    Create with :meth:`from_json`, :meth:`load` (a model file), :meth:`from_file` or
    :meth:`from_callable`; save a native network with :meth:`save`. Free the native
    handle with :meth:`close` (or a ``with`` block); explainers keep their own reference, so a
    model may be closed while explainers built on it are still in use.
    """

    _free_function = "cfx_model_free"
    _kind = "model"

    def __init__(self, handle, callbacks: Optional[_CallbackState] = None):
        self._handle = handle
        self._callbacks = callbacks
        d, k = c_size_t(), c_size_t()
        err = _lib.new_error()
        _lib.check(_lib.lib().cfx_model_shape(handle, byref(d), byref(k), byref(err)), err)
        self._n_features, self._n_classes = d.value, k.value

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_json(cls, spec: "dict | str") -> "Model":
        """A native network from a spec dict (or its JSON text), see ``cfx_model_create_json``."""
        text = to_json_text(spec)
        out = _lib.MODEL_P()
        err = _lib.new_error()
        _lib.check(_lib.lib().cfx_model_create_json(text.encode("utf-8"), byref(out), byref(err)),
                   err)
        return cls(out)

    @classmethod
    def load(cls, path: "str | os.PathLike") -> "Model":
        """A native network from a model file: a JSON spec whose ``"weights"`` (a safetensors
        file) is resolved against the spec's directory (``cfx_model_load``)."""
        out = _lib.MODEL_P()
        err = _lib.new_error()
        _lib.check(_lib.lib().cfx_model_load(os.fsencode(path), byref(out), byref(err)), err)
        return cls(out)

    @classmethod
    def from_file(cls, path: "str | os.PathLike") -> "Model":
        """A native network from a JSON spec file (the same as :meth:`load`)."""
        return cls.load(path)

    @classmethod
    def from_callable(cls, predict_proba: Callable[[np.ndarray], np.ndarray], n_features: int,
                      n_classes: int, vjp: Optional[Callable] = None,
                      output: str = "probabilities") -> "Model":
        """A model backed by Python functions.

        ``predict_proba(X)`` takes an ``(n, d)`` float64 array and returns ``(n, k)``
        probabilities. ``vjp(X, cotangent)`` (optional) returns the ``(n, d)`` gradient of
        ``sum(cotangent * predict_proba(X))``; without it cfx uses central differences.
        cfx checks every output: probabilities must be finite, in [0, 1] and sum to 1 per row
        (within 1e-4), gradients finite; anything else raises :class:`cfx.CallbackError`.
        ``output="logits"``: the function returns logits and cfx applies the softmax (``vjp``
        then differentiates the logits). ``output="values"``: any finite values, for a model
        that serves as an encoder or autoencoder rather than a classifier.
        The functions may be called from several cfx worker threads at once (set
        ``n_threads=1`` in the explainer config if they are not thread-safe). An exception
        raised inside them surfaces as :class:`cfx.CallbackError` with the exception chained.
        """
        if not callable(predict_proba):
            raise InvalidArgumentError("predict_proba: not callable")
        if vjp is not None and not callable(vjp):
            raise InvalidArgumentError("vjp: not callable")
        d, k = int(n_features), int(n_classes)
        if d <= 0 or k <= 0:
            raise InvalidArgumentError(
                f"n_features and n_classes must be positive, got {n_features}, {n_classes}")
        state = _CallbackState(predict_proba, vjp, d, k)
        out = _lib.MODEL_P()
        err = _lib.new_error()
        if output not in ("probabilities", "logits", "values"):
            raise InvalidArgumentError(f'output: expected "probabilities", "logits" or "values", got {output!r}')
        options = json.dumps({"output": output}).encode()
        _lib.check(_lib.lib().cfx_model_create_callbacks_ex(d, k, state.c_predict, state.c_vjp, None, options,
                                                            byref(out), byref(err)), err)
        return cls(out, callbacks=state)

    # -- files --------------------------------------------------------------------------------------

    def save(self, spec_path: "str | os.PathLike", weights_path: "str | os.PathLike | None" = None,
             dtype: str = "F64") -> None:
        """Saves a native network: the spec at ``spec_path`` and, with ``weights_path``, the
        tensors as safetensors there (``dtype`` "F64", exact, or "F32"); without it, every
        tensor inline in the spec (``cfx_model_save``)."""
        options = None if dtype == "F64" else json.dumps({"dtype": dtype}).encode("utf-8")
        err = _lib.new_error()
        status = _lib.lib().cfx_model_save(
            self._require(), os.fsencode(spec_path),
            None if weights_path is None else os.fsencode(weights_path), options, byref(err))
        _lib.check(status, err)

    def spec(self) -> dict:
        """The network's spec with every tensor inline, as a dict (``cfx_model_spec``)."""
        return json.loads(_lib.call_json("cfx_model_spec", self._require()))

    def astype(self, dtype: Optional[str] = None, threads: Optional[int] = None,
               relax_sigma: Optional[float] = None) -> "Model":
        """A new model with the same weights computing in ``dtype`` ("float32" or "float64";
        native networks only) and splitting each :meth:`predict` / :meth:`vjp` call's work over
        ``threads`` threads (0 = all cores); either left as it is when ``None``
        (``cfx_model_convert``). Results do not depend on ``threads``. ``relax_sigma`` (tree
        ensembles only): predictions stay the real ensemble's, the gradient becomes that of the
        ensemble relaxed by sigmoid splits of sharpness σ, so the gradient methods run on it
        (docs/trees.md)."""
        options = {}
        if dtype is not None:
            options["dtype"] = dtype
        if threads is not None:
            options["threads"] = threads
        if relax_sigma is not None:
            options["relax_sigma"] = relax_sigma
        out = _lib.MODEL_P()
        err = _lib.new_error()
        status = _lib.lib().cfx_model_convert(self._require(), json.dumps(options).encode("utf-8"),
                                              byref(out), byref(err))
        _lib.check(status, err)
        return Model(out, callbacks=self._callbacks)

    # -- properties -----------------------------------------------------------------------------

    @property
    def n_features(self) -> int:
        """The number of input features d."""
        return self._n_features

    @property
    def n_classes(self) -> int:
        """The number of classes k (outputs)."""
        return self._n_classes

    def _check(self, status: int, err) -> None:
        # Always taken, so that an exception recorded per row ("on_error": "record") does not
        # linger into a later call; Ctrl-C in a callback still stops the caller.
        pending = self._callbacks.take() if self._callbacks is not None else None
        if status == 0 and pending is not None and not isinstance(pending, Exception):
            raise pending
        _lib.check(status, err, pending if status == CallbackError.code else None)

    # -- computation ----------------------------------------------------------------------------

    def predict(self, X) -> np.ndarray:
        """Class probabilities: ``(n, k)`` for 2-D ``X``, ``(k,)`` for one 1-D row."""
        rows, single = as_rows(X)
        n, d = rows.shape
        out = np.empty((n, self._n_classes), dtype=np.float64)
        if n == 0:
            return out
        err = _lib.new_error()
        status = _lib.lib().cfx_model_predict(self._require(), rows.ctypes.data_as(_lib.DOUBLE_P),
                                              n, d, out.ctypes.data_as(_lib.DOUBLE_P), byref(err))
        self._check(status, err)
        return out[0] if single else out

    def vjp(self, X, cotangent) -> np.ndarray:
        """Vector-Jacobian product: row i is ``sum_j cotangent[i, j] * d proba[i, j] / d X[i]``."""
        rows, single = as_rows(X)
        cot, _ = as_rows(cotangent, "cotangent")
        n, d = rows.shape
        k = cot.shape[1]
        if cot.shape[0] != n:
            raise InvalidArgumentError(
                f"cotangent: expected {n} rows like X, got {cot.shape[0]}")
        out = np.empty((n, d), dtype=np.float64)
        if n == 0:
            return out
        err = _lib.new_error()
        status = _lib.lib().cfx_model_vjp(self._require(), rows.ctypes.data_as(_lib.DOUBLE_P), n,
                                          d, cot.ctypes.data_as(_lib.DOUBLE_P), k,
                                          out.ctypes.data_as(_lib.DOUBLE_P), byref(err))
        self._check(status, err)
        return out[0] if single else out

    # -- training -------------------------------------------------------------------------------

    def train(self, X, y=None, *, progress=None, **config) -> dict:
        """Trains this native network in place and returns the report (``cfx_model_train``).

        ``y``: one class index per row for ``loss="cross_entropy"`` (the default), an ``(n, w)``
        array of targets for ``loss="mse"``, or ``None`` with ``"mse"`` to reconstruct ``X``.
        ``config``: the training keys of ``cfx.training.default_train_config()``, e.g.
        ``epochs=20, batch_size=64, optimizer="sgd", learning_rate=0.05,
        validation_split=0.1, early_stopping_patience=3, schedule={"type": "cosine"}``.
        ``counterfactual_training={"n_ce": 1000, "tau": 0.75, "monotone": {0: "increase"}, ...}``
        turns on counterfactual training (Altmeyer et al.; keys in docs/training.md);
        each epoch's dict then has a ``"counterfactual"`` entry (loss terms, ``mature_share``,
        ``search_seconds``, ``training_seconds``).
        ``progress``: ``True`` for a progress bar (tqdm when installed, else a line on stderr), or
        a callable given each epoch's dict (``epoch``, ``loss``, ``accuracy``, ``val_loss``, ...)
        that returns ``False`` to stop after that epoch (the report then says
        ``"cancelled": True`` and the model keeps that epoch's weights); an exception it raises
        stops training too and is re-raised. The report has a ``history`` list of those dicts.
        Afterwards :meth:`spec` gives the trained network and :meth:`save` writes it. Do not use the model or its explainers from other threads
        while it trains.
        """
        if self._callbacks is not None:
            raise InvalidArgumentError("model: only native models can be trained")
        return training.train(self, X, y, progress=progress, **config)

    def __repr__(self) -> str:
        kind = "callable" if self._callbacks is not None else "native"
        state = ", closed" if self.closed else ""
        return f"<cfx.Model {kind} n_features={self._n_features} n_classes={self._n_classes}{state}>"
