"""Explainers (configured methods bound to a model) and their per-instance explanations."""

from __future__ import annotations

import json
from ctypes import byref, c_void_p
from typing import Any, Iterator, List, Optional, Union

import numpy as np

from . import _json, _lib
from ._progress import Progress, ProgressHook
from ._handle import NativeHandle
from .errors import InvalidArgumentError, warn_about
from ._convert import as_rows, to_json_text
from .model import Model

__all__ = ["Explainer", "Wachter", "CFProto", "Explanation", "default_config"]

_ARRAY_KEYS = ("X", "proba")


def default_config(method: str = "wachter") -> dict:
    """The default configuration of ``method`` as a dict, every key present."""
    return _lib.default_config(method)


def _numpy_cf(cf: Optional[dict]) -> Optional[dict]:
    """A copy of a counterfactual dict with "X" and "proba" as numpy arrays."""
    if cf is None:
        return None
    out = dict(cf)
    for key in _ARRAY_KEYS:
        if key in out and out[key] is not None:
            out[key] = np.asarray(out[key], dtype=np.float64)
    return out


def _first_float(value: Any, index: Any) -> float:
    """orig_proba is a number (Wachter) or the probability vector (CFProto)."""
    if isinstance(value, list):
        return float(value[index]) if isinstance(index, int) and 0 <= index < len(value) else float("nan")
    return float("nan") if value is None else float(value)


class Explanation:
    """The explanation of one instance.

    ``data`` is the plain dict the library returned (``exp["cf"]`` reads it as is). Attribute
    access adds numpy: ``exp.cf`` is a copy of ``data["cf"]`` (or ``None``) whose ``"X"`` and
    ``"proba"`` are arrays, ``exp.all`` the same for every round. ``exp.x`` is the explained
    instance as passed in.
    """

    __slots__ = ("data", "x")

    def __init__(self, data: dict, x: Optional[np.ndarray] = None):
        self.data = data
        self.x = x

    # -- mapping access -------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def keys(self):
        """The keys of the explanation's JSON object."""
        return self.data.keys()

    def get(self, key: str, default: Any = None) -> Any:
        """A key of the explanation's JSON object, or ``default``."""
        return self.data.get(key, default)

    # -- attribute access -----------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        # Only called for names that are not slots/properties/methods.
        if name.startswith("__") or name in ("data", "x"):
            raise AttributeError(name)
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(f"Explanation has no field {name!r} "
                                 f"(fields: {', '.join(self.data)})") from None

    @property
    def cf(self) -> Optional[dict]:
        """The counterfactual (``X`` and ``proba`` as numpy arrays) or ``None``."""
        return _numpy_cf(self.data.get("cf"))

    @property
    def all(self) -> List[List[dict]]:
        """Per lambda round, the counterfactuals kept (Wachter: the closest by default; arrays as
        numpy)."""
        return [[_numpy_cf(c) for c in rnd] for rnd in (self.data.get("all") or [])]

    @property
    def cfs(self) -> Optional[List[dict]]:
        """With ``n_counterfactuals`` > 1: the set's valid members (arrays as numpy), each like
        ``cf``; ``None`` when no set was asked for. ``exp["diversity"]`` is the set's det K."""
        members = self.data.get("cfs")
        return None if members is None else [_numpy_cf(c) for c in members]

    @property
    def success(self) -> bool:
        """Whether a counterfactual was found."""
        return bool(self.data.get("success"))

    @property
    def error(self) -> Optional[dict]:
        """With ``"on_error": "record"``, a failed row's ``{"code", "status", "message"}``;
        ``None`` otherwise."""
        return self.data.get("error")

    @property
    def orig_class(self) -> int:
        """The class the model predicts for the instance."""
        return self.data["orig_class"]

    @property
    def orig_proba(self) -> float:
        """The probability of the original class (CFProto: every class's probabilities)."""
        return self.data["orig_proba"]

    @property
    def meta(self) -> dict:
        """Cost and settings: ``method``, ``params``, ``model_calls``, ``seconds``, and ``warnings`` when there are any."""
        return self.data.get("meta", {})

    @property
    def cf_x(self) -> Optional[np.ndarray]:
        """Shortcut: the counterfactual instance as an array, or ``None``."""
        cf = self.data.get("cf")
        return None if cf is None else np.asarray(cf["X"], dtype=np.float64)

    @property
    def cf_class(self) -> Optional[int]:
        """The counterfactual's class, or ``None`` when none was found."""
        cf = self.data.get("cf")
        return None if cf is None else cf.get("class")

    # -- output ---------------------------------------------------------------------------------

    def to_json(self, **kwargs) -> str:
        """The explanation as JSON text (``kwargs`` go to ``json.dumps``)."""
        return json.dumps(self.data, **kwargs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Explanation) and self.data == other.data

    def __repr__(self) -> str:
        cf = self.data.get("cf")
        head = (f"Explanation(success={self.data.get('success')}, "
                f"orig_class={self.data.get('orig_class')}, "
                f"orig_proba={_first_float(self.data.get('orig_proba'), self.data.get('orig_class')):.4g}")
        if cf is None:
            return head + ", cf=None)"
        proba = cf.get("proba") or []
        cls = cf.get("class")
        p = proba[cls] if isinstance(cls, int) and 0 <= cls < len(proba) else float("nan")
        extra = f", lambda={cf['lambda']:.4g}" if "lambda" in cf else ""
        return head + f", cf_class={cls}, cf_proba={p:.4g}, distance={cf.get('distance'):.4g}{extra})"


class Explainer(NativeHandle):
    """A configured method bound to a model: ``Explainer(model, {"method": ..., ...})``.

    The explainer keeps the Python model object (and so its callbacks) alive. It is immutable;
    ``explain`` may be called from several threads at once.
    """

    _free_function = "cfx_explainer_free"
    _kind = "explainer"
    #: The method a subclass configures (``Wachter``: "wachter"); ``None`` here.
    method: Optional[str] = None

    @classmethod
    def _method_config(cls, params: dict) -> dict:
        """A subclass's config: ``{"method": cls.method}`` and the keyword arguments; another
        "method" is an error. ``monotone`` and ``cat_vars`` may use integer keys (written as strings)."""
        if "method" in params and params["method"] != cls.method:
            raise InvalidArgumentError(f"method: {cls.__name__} takes method '{cls.method}', got {params['method']!r}")
        config = {"method": cls.method, **params}
        if isinstance(config.get("monotone"), dict):
            config["monotone"] = {str(int(k)): v for k, v in config["monotone"].items()}
        if isinstance(config.get("cat_vars"), dict):
            config["cat_vars"] = {str(int(k)): int(v) for k, v in config["cat_vars"].items()}
        return config

    def __init__(self, model: Model, config: "dict | str"):
        if not isinstance(model, Model):
            raise InvalidArgumentError(f"model: expected a cfx.Model, got {type(model).__name__}")
        self.model = model
        text = to_json_text(config)
        out = _lib.EXPLAINER_P()
        err = _lib.new_error()
        _lib.check(_lib.lib().cfx_explainer_create(model._require(), text.encode("utf-8"),
                                                   byref(out), byref(err)), err)
        self._handle = out
        self._config: Optional[dict] = None

    @property
    def config(self) -> dict:
        """The effective configuration (defaults filled in)."""
        if self._config is None:
            self._config = json.loads(_lib.call_json("cfx_explainer_config", self._require()))
        return dict(self._config)

    def fit(self, X_train, y=None) -> "Explainer":
        """Fits on training rows (2-D); ``y`` (class labels) defaults to the model's predictions.
        CFProto builds its prototypes from them; Wachter only takes the features' MADs (the units
        of ``sparsify`` and of a set's diversity)."""
        rows, _ = as_rows(X_train, "X_train")
        n, d = rows.shape
        labels = None
        if y is not None:
            labels = np.ascontiguousarray(y, dtype=np.float64).reshape(-1)
            if labels.shape[0] != n:
                raise InvalidArgumentError(f"y: has {labels.shape[0]} labels for {n} rows")
        err = _lib.new_error()
        status = _lib.lib().cfx_explainer_fit(
            self._require(), rows.ctypes.data_as(_lib.DOUBLE_P), n, d,
            labels.ctypes.data_as(_lib.DOUBLE_P) if labels is not None else None, byref(err))
        self.model._check(status, err)
        return self

    def explain_raw(self, X, progress: Progress = None) -> dict:
        """The whole result dict of ``cfx_explain`` for the rows of ``X`` (1-D or 2-D).
        ``progress``: see :meth:`explain`."""
        result = _json.loads(self.explain_bytes(X, progress))
        warn_about(result["explanations"])
        return result

    def explain_text(self, X, progress: Progress = None) -> str:
        """:meth:`explain_raw`'s result as the JSON text, for callers that decode it themselves;
        no range warnings are issued."""
        return self.explain_bytes(X, progress).decode("utf-8")

    def explain_bytes(self, X, progress: Progress = None) -> bytes:
        """:meth:`explain_text` as the UTF-8 bytes the library wrote (no copy into a str), for
        callers that decode it themselves (``cfx.dask``, which builds a table from it)."""
        rows, _ = as_rows(X)
        n, d = rows.shape
        if n == 0:
            return b'{"explanations": [], "seconds": 0.0, "n_threads": 0}'
        hook = ProgressHook(progress, n, "instances", "instances_done")
        out = c_void_p()
        err = _lib.new_error()
        try:
            status = _lib.lib().cfx_explain_progress(self._require(), rows.ctypes.data_as(_lib.DOUBLE_P), n, d,
                                                     hook.c_function, None, byref(out), byref(err))
        finally:
            hook.finish()
        self.model._check(status, err)
        return _lib.take_bytes(out)

    def explain(self, X, progress: Progress = None) -> Union[Explanation, List[Explanation]]:
        """Explains one instance (1-D ``X`` → an :class:`Explanation`) or a batch (2-D ``X`` →
        a list of them).

        ``progress``: ``True`` shows a bar (tqdm when installed); a callable gets
        ``{"instances_done", "instances_total", "seconds"}`` on this thread as instances finish
        (at most every 0.1 s) and returns ``False`` to cancel (raising :class:`cfx.CancelledError`);
        Ctrl-C or an exception in it cancels the run too and is re-raised."""
        rows, single = as_rows(X)
        result = self.explain_raw(rows, progress)
        exps = [Explanation(e, rows[i].copy()) for i, e in enumerate(result["explanations"])]
        return exps[0] if single else exps

    def __repr__(self) -> str:
        method = (self._config or {}).get("method", "?")
        return f"<cfx.{type(self).__name__} method={method} model={self.model!r}>"


class Wachter(Explainer):
    """Wachter et al. counterfactuals: ``Wachter(model, target_class="other", max_iter=500)``.

    ``Wachter(model, n_counterfactuals=4, sparsify=True)`` returns, per instance, a diverse set
    (``exp.cfs``, DiCE's diversity term) of sparsified counterfactuals (include/cfx.h).

    Keyword arguments are config keys (see ``cfx.default_config("wachter")``); numpy arrays are
    accepted for list-valued keys such as ``feature_range`` and ``eps``.
    """

    method = "wachter"

    def __init__(self, model: Model, **params):
        super().__init__(model, self._method_config(params))


class CFProto(Explainer):
    """Prototype-guided counterfactuals (alibi's ``CounterfactualProto``)::

        cf = cfx.CFProto(model, use_kdtree=True, theta=10.0, feature_range=(lo, hi))
        cf.fit(X_train)                       # prototypes, k-d trees, categorical distances
        exp = cf.explain(x)                   # exp.cf["X"], exp.cf["class"], exp.id_proto

    ``encoder`` and ``autoencoder`` are optional :class:`cfx.Model` objects (their outputs are the
    code and the reconstruction). Keyword arguments are config keys (see
    ``cfx.default_config("cfproto")``): alibi's constructor, ``fit`` and ``explain`` arguments.
    ``cat_vars`` may use integer keys; they are written as strings.
    """

    method = "cfproto"

    def __init__(self, model: Model, encoder: Optional[Model] = None, autoencoder: Optional[Model] = None,
                 **params):
        super().__init__(model, self._method_config(params))
        self.encoder = encoder
        self.autoencoder = autoencoder
        for role, aux in (("encoder", encoder), ("autoencoder", autoencoder)):
            if aux is None:
                continue
            if not isinstance(aux, Model):
                raise InvalidArgumentError(f"{role}: expected a cfx.Model, got {type(aux).__name__}")
            err = _lib.new_error()
            _lib.check(_lib.lib().cfx_explainer_set_model(self._require(), role.encode("utf-8"), aux._require(),
                                                          byref(err)), err)
