"""Explain and evaluate millions of rows on a Dask cluster (``pip install "bindings/python[dask]"``).

>>> import cfx.dask
>>> from dask.distributed import Client, progress
>>> client = Client()                                     # or a cluster's address
>>> out = cfx.dask.explain(model, {"method": "wachter"}, X)   # X: dask/numpy array or (dask) DataFrame
>>> out = out.persist(); progress(out)                   # Dask's progress bar, one step per partition
>>> df = out.compute()                                   # one row per input row, same index

Dask does the distributing (partitions, scheduling, retries when a worker dies); cfx only runs
one batched ``cfx_explain`` per partition. What travels to the workers:

- the model as its JSON spec with inline tensors (``Model.spec()``), or the path of a model file
  every worker can read;
- the config, with ``"on_error": "record"`` so that a failing row (a NaN, a failed search) is a
  row with ``success`` False and its ``error``, never a lost partition;
- the fit data (``fit=(X_train, y_train)`` for CFProto's prototypes and k-d trees, DeDUCE's
  density), as one task of the graph that each worker fetches once.

Each worker process builds the explainer once (fitting is deterministic given the data and the
seed) and caches it, keyed by a hash of spec, config and fit data. Results are deterministic per
row, so a partition recomputed after a worker died gives the same rows. Cancelling the result's
futures cancels the running searches (cfx's cancel flag, set from the progress callback, which
cfx calls at most every 0.1 s).
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from . import _json
from .errors import InvalidArgumentError, warn_about
from ._convert import to_json_text
from .model import Model

__all__ = ["explain", "evaluate", "explain_partition", "DEFAULT_PARTITION_ROWS"]

#: Rows per partition when the input is a numpy array or a pandas DataFrame. Dask costs about
#: 10-20 ms of worker time per partition on a 2-core LocalCluster (scheduling, moving the rows
#: and the result frame), so 2500 rows of the fastest tabular searches (iris Wachter, 0.8 ms
#: per row: 2 s per partition) keep it near 1%, while partitions stay short enough for a
#: progress bar and cheap retries; slower methods (CFProto 5-10 ms per row: 12-25 s per
#: partition; image models) are better served by a smaller ``partition_rows``.
DEFAULT_PARTITION_ROWS = 2_500

_INT = "Int64"  # pandas' nullable integer: failed rows have no class


def _require_dask():
    try:
        import dask.dataframe as dd
    except ImportError as e:  # pragma: no cover - the message is the point
        raise ImportError('cfx.dask needs Dask: pip install "bindings/python[dask]" (dask[dataframe,distributed])') from e
    return dd


@dataclass(frozen=True)
class Job:
    """What a worker needs to build the explainer (or evaluator): travels once per worker."""

    key: str
    model: Any  # a spec dict with inline tensors, or a model file path
    config: dict
    fit_x: Optional[np.ndarray] = None
    fit_y: Optional[np.ndarray] = None


def _model_source(model) -> Any:
    if isinstance(model, Model):
        try:
            return model.spec()
        except Exception as e:
            raise InvalidArgumentError("model: cfx.dask needs a native network (its spec travels to the workers) "
                                       f"or a model file path; this model has no spec ({e})") from e
    if isinstance(model, (dict, str)):
        return model
    if hasattr(model, "__fspath__"):
        return str(model)
    raise InvalidArgumentError(f"model: expected a cfx.Model, a spec dict or a file path, got {type(model).__name__}")


#: Explainer config defaults in cfx.dask: per-row errors recorded, and one thread per partition
#: (Dask's worker threads run partitions side by side).
EXPLAIN_DEFAULTS = {"on_error": "record", "n_threads": 1}


def explain_defaults(config: dict) -> dict:
    """EXPLAIN_DEFAULTS; every other key keeps the library's default ("return_all" too: Wachter's
    "all" holds one candidate per round, cheap to write and decode)."""
    return dict(EXPLAIN_DEFAULTS)


def make_job(model, config: dict, fit=None, defaults: Optional[dict] = None) -> Job:
    """The job of ``config`` (missing keys from ``defaults``) and ``fit``, and its cache key."""
    source = _model_source(model)
    config = {**(defaults or {}), **json.loads(to_json_text(config))}
    fit_x = fit_y = None
    if fit is not None:
        fit_x, fit_y = fit if isinstance(fit, tuple) else (fit, None)
        fit_x = np.ascontiguousarray(fit_x, dtype=np.float64)
        fit_y = None if fit_y is None else np.ascontiguousarray(fit_y, dtype=np.float64).reshape(-1)
    digest = hashlib.sha256()
    digest.update(to_json_text(source).encode("utf-8"))
    digest.update(to_json_text(config).encode("utf-8"))
    for array in (fit_x, fit_y):
        digest.update(b"-" if array is None else repr(array.shape).encode() + array.tobytes())
    return Job(digest.hexdigest(), source, config, fit_x, fit_y)


# -- per worker process ----------------------------------------------------------------------------

_CACHE: "OrderedDict[str, Any]" = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4
#: How many explainers this process has built (tests check the cache with it).
built = 0


def _build_model(source) -> Model:
    return Model.load(source) if isinstance(source, str) else Model.from_json(source)


def cached(job: Job, build) -> Any:
    """The object ``build(job)`` made for ``job.key`` in this process, built on first use."""
    global built
    with _CACHE_LOCK:
        if job.key in _CACHE:
            _CACHE.move_to_end(job.key)
            return _CACHE[job.key]
        value = build(job)
        built += 1
        _CACHE[job.key] = value
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return value


def _build_explainer(job: Job):
    from .explainer import Explainer
    explainer = Explainer(_build_model(job.model), job.config)
    if job.fit_x is not None:
        explainer.fit(job.fit_x, job.fit_y)
    return explainer


def _task_cancelled() -> bool:
    """True when this code runs in a Dask worker task whose future was cancelled or released."""
    try:
        from distributed import get_worker
        worker = get_worker()
    except (ImportError, ValueError):
        return False
    key = worker.get_current_task()
    state = worker.state.tasks.get(key) if key is not None else None
    return state is None or state.state in ("cancelled", "released", "forgotten")


def _stop_when_cancelled(report: dict) -> bool:
    """A partition's progress callback: False (cancel) once Dask cancelled the task. cfx calls it
    at most every 0.1 s, on the thread that waits for the search, so no throttling is needed here."""
    return not _task_cancelled()


def explain_partition(part, job: Job, columns: Sequence[str], raw: bool = False):
    """One partition (a pandas DataFrame) explained by one batched ``cfx_explain``: a pandas
    DataFrame with the same index (one row per instance and target for DeDUCE/JSMA)."""
    d = len(columns)
    if len(part) == 0:
        return _frame([], np.empty((0, d)), part.index, d, raw)
    x = np.ascontiguousarray(part[list(columns)].to_numpy(dtype=np.float64))
    text = cached(job, _build_explainer).explain_bytes(x, progress=_stop_when_cancelled)
    with _gc_paused():
        explanations = _json.loads(text)["explanations"]
        del text
        warn_about(explanations)
        frame = _frame(explanations, x, part.index, d, raw)
        del explanations  # freed by reference counting while the collector is off
    return frame


@contextmanager
def _gc_paused():
    """Python's cycle collector off while a partition's explanations are decoded and tabled.
    They hold no cycles (reference counting frees them), but their ~50 objects per row trigger
    collections, and in a worker process a full one walks Dask's objects too: up to 90 ms, a
    tenth of a 1000-row iris partition. Threads of one worker may overlap here: the one that
    found the collector on turns it back on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _first(*values):
    for v in values:
        if v is not None:
            return v
    return None


def _ints(values: list):
    """pandas' nullable integers (None: missing)."""
    import pandas as pd
    n = len(values)
    mask = np.fromiter((v is None for v in values), dtype=bool, count=n)
    data = np.fromiter((0 if v is None else v for v in values), dtype=np.int64, count=n)
    return pd.arrays.IntegerArray(data, mask)


def _orig_proba(e: dict):
    """The model's probability of the original class (CFProto gives all classes')."""
    orig = e.get("orig_proba")
    if isinstance(orig, list) and e.get("orig_class") is not None:
        return orig[e["orig_class"]]
    return orig


def _frame(explanations: list, x: np.ndarray, index, d: int, raw: bool):
    """Flat columns of explanations: the instance's index, classes, probabilities, distances,
    the method's own step (lambda, c, iterations), the error and the counterfactual cf_0...
    Built column by column (a list per column, one conversion each)."""
    import pandas as pd
    n = len(explanations)
    metas = [e.get("meta") or {} for e in explanations]
    found = [i for i, e in enumerate(explanations) if e.get("cf") is not None]
    cfs = [explanations[i]["cf"] for i in found]

    def spread(values: list) -> list:
        """n values: ``values`` at the rows with a counterfactual, None elsewhere."""
        out = [None] * n
        for i, v in zip(found, values):
            out[i] = v
        return out

    cf_class = [cf.get("class") for cf in cfs]
    cf_x = np.full((n, d), np.nan)
    if found:
        cf_x[found] = [cf["X"] for cf in cfs]
    floats = lambda values: np.array(values, dtype=np.float64).reshape(n)  # noqa: E731 -- None is NaN
    data = {
        "success": np.array([bool(e.get("success")) for e in explanations], dtype=bool).reshape(n),
        "orig_class": _ints([e.get("orig_class") for e in explanations]),
        "cf_class": _ints(spread(cf_class)),
        "target_class": _ints([e.get("target_class") for e in explanations]),
        "orig_proba": floats([_orig_proba(e) for e in explanations]),
        "cf_proba": floats(spread([None if c is None else cf["proba"][c] for cf, c in zip(cfs, cf_class)])),
        "distance": floats(spread([_first(cf.get("distance"), cf.get("L1")) for cf in cfs])),
        "lambda": floats(spread([cf.get("lambda") for cf in cfs])),
        "c": floats(spread([cf.get("c") for cf in cfs])),
        "iterations": _ints(spread([_first(cf.get("iterations"), cf.get("iteration"), metas[i].get("iterations"))
                                    for i, cf in zip(found, cfs)])),
        "seconds": floats([m.get("seconds") for m in metas]),
        "error": pd.array([None if e.get("error") is None else f'{e["error"]["status"]}: {e["error"]["message"]}'
                           for e in explanations], dtype=object),
    }
    for j in range(d):
        data[f"cf_{j}"] = cf_x[:, j]
    if raw:
        data["explanation"] = pd.array([json.dumps(e) for e in explanations], dtype=object)
    positions = np.fromiter((e.get("instance", i) for i, e in enumerate(explanations)), dtype=np.int64, count=n)
    return pd.DataFrame(data, index=index[positions] if n else index[:0])


def _meta(d: int, index_dtype, raw: bool):
    import pandas as pd
    empty = _frame([], np.empty((0, d)), pd.Index([], dtype=index_dtype), d, raw)
    return empty


def _as_dask_frame(X, columns: Optional[Sequence[str]], partition_rows: int):
    """X as a Dask DataFrame and its feature columns."""
    dd = _require_dask()
    import dask.array as da
    import pandas as pd
    if isinstance(X, (dd.DataFrame, pd.DataFrame)):
        cols = list(columns) if columns is not None else list(X.columns)
        if isinstance(X, pd.DataFrame):
            X = dd.from_pandas(X, npartitions=max(1, -(-len(X) // partition_rows)), sort=False)
        return X, cols
    if isinstance(X, np.ndarray):
        X = da.from_array(np.asarray(X, dtype=np.float64), chunks=(partition_rows, -1))
    if isinstance(X, da.Array):
        if X.ndim != 2:
            raise InvalidArgumentError(f"X: expected a 2-D array, got {X.ndim}-D")
        cols = [f"x{j}" for j in range(X.shape[1])]
        return dd.from_dask_array(X.rechunk({1: -1}).astype(np.float64), columns=cols), cols
    raise InvalidArgumentError(f"X: expected a Dask or numpy array or a (Dask) DataFrame, got {type(X).__name__}")


def explain(model, config: dict, X, *, fit=None, columns: Optional[Sequence[str]] = None,
            partition_rows: int = DEFAULT_PARTITION_ROWS, raw: bool = False, client=None):
    """Explains every row of ``X`` with any method; returns a lazy Dask DataFrame with the index
    of ``X`` (0..n-1 for arrays) and the columns ``success``, ``orig_class``, ``cf_class``,
    ``target_class`` (DeDUCE/JSMA), ``orig_proba``, ``cf_proba`` (the model's probability of
    the counterfactual's class), ``distance`` (L1 for DeDUCE/JSMA), ``lambda`` (Wachter),
    ``c`` (CFProto), ``iterations``, ``seconds``, ``error`` (``"<status>: <message>"`` for a
    failed row, else None), ``cf_0`` ... ``cf_{d-1}`` (NaN without a counterfactual) and, with
    ``raw=True``, ``explanation`` (the row's JSON from ``cfx_explain``).

    ``model``: a native :class:`cfx.Model`, its spec dict, or a model file path every worker can
    read. ``config``: ``{"method": ..., ...}`` (``"on_error"`` defaults to ``"record"``,
    ``"n_threads"`` to 1: Dask's worker threads run partitions side by side). ``fit``:
    ``X_train`` or ``(X_train, y_train)`` for methods that are fitted. ``columns``: the feature
    columns of a DataFrame (default: all). With ``client``, the result is persisted on that
    cluster (computing starts; ``distributed.progress(result)`` shows it).
    """
    dd = _require_dask()
    import dask
    job = make_job(model, config, fit, explain_defaults(json.loads(to_json_text(config))))
    from .explainer import Explainer
    if not isinstance(job.model, str) or os.path.exists(job.model):  # a path may exist on the workers only
        Explainer(_build_model(job.model), job.config).close()  # config errors here, not on every worker
    frame, cols = _as_dask_frame(X, columns, partition_rows)
    shared = dask.delayed(job, pure=True)  # one task: every worker fetches the job once
    out = frame.map_partitions(explain_partition, shared, cols, raw,
                               meta=_meta(len(cols), frame.index.dtype, raw), enforce_metadata=False,
                               align_dataframes=False)
    return client.persist(out) if client is not None else out


# -- metrics ---------------------------------------------------------------------------------------

def _build_evaluator(job: Job):
    from .metrics import Evaluator
    options = dict(job.config)
    return Evaluator(_build_model(job.model), job.fit_x, job.fit_y, **options)


def evaluate_partition(part, cf_part, job: Job, columns: Sequence[str], target_class):
    """The per-row metrics of one partition of instances and the matching partition of
    :func:`explain`'s result."""
    import pandas as pd
    from .metrics import METRICS
    if len(part) == 0:
        return _metrics_meta(part.index.dtype)
    x = np.ascontiguousarray(part[list(columns)].to_numpy(dtype=np.float64))
    x_cf = np.ascontiguousarray(cf_part[[f"cf_{j}" for j in range(len(columns))]].to_numpy(dtype=np.float64))
    result = cached(job, _build_evaluator).evaluate(x, x_cf, target_class=target_class)
    return pd.DataFrame({"found": result.instances["found"], **{k: result.instances[k].astype(np.float64) for k in METRICS}},
                        index=part.index)


def _metrics_meta(index_dtype):
    import pandas as pd
    from .metrics import METRICS
    return pd.DataFrame({"found": np.empty(0, dtype=bool), **{k: np.empty(0) for k in METRICS}},
                        index=pd.Index([], dtype=index_dtype))


def evaluate(model, X, explained, *, X_train=None, y_train=None, columns: Optional[Sequence[str]] = None,
             target_class="other", partition_rows: int = DEFAULT_PARTITION_ROWS, client=None, **options):
    """Per-row metrics (``cfx.metrics``) of the counterfactuals in ``explained`` (the result of
    :func:`explain` on the same ``X`` with the same ``partition_rows``, one row per instance)
    for the instances ``X``: a lazy Dask DataFrame with ``found`` and every metric of
    ``cfx.metrics.METRICS`` as float columns. Summaries are Dask reductions, e.g.
    ``result["l1"].mean().compute()``. ``X_train``/``y_train`` and the keyword options are those
    of :class:`cfx.metrics.Evaluator` (``n_threads`` defaults to 1 here)."""
    import dask
    fit = None if X_train is None else (X_train, y_train)
    job = make_job(model, options, fit, {"n_threads": 1})
    frame, cols = _as_dask_frame(X, columns, partition_rows)
    if frame.npartitions != explained.npartitions:
        raise InvalidArgumentError(f"explained: has {explained.npartitions} partitions, X has {frame.npartitions}; "
                                   "pass the result of cfx.dask.explain on the same X and partition_rows")
    shared = dask.delayed(job, pure=True)
    out = frame.map_partitions(evaluate_partition, explained, shared, cols, target_class,
                               meta=_metrics_meta(frame.index.dtype), enforce_metadata=False, align_dataframes=False)
    return client.persist(out) if client is not None else out
