"""cfx.dask on a dask.distributed LocalCluster (2 worker processes x 1 thread): results equal a
single-process run, per-row errors, empty and one-row partitions, the per-worker cache, metrics,
cancellation, and a worker killed while partitions are in flight (nothing lost or duplicated)."""

from __future__ import annotations

import collections
import json
import os
import signal
import time

import numpy as np
import pytest

import cfx

INSTALL = "pip install 'bindings/python[dask]'"
dask = pytest.importorskip("dask", reason=f"[dask] dask is not installed ({INSTALL})")
distributed = pytest.importorskip("distributed", reason=f"[dask] distributed is not installed or does not import ({INSTALL})")
pd = pytest.importorskip("pandas", reason=f"[dask] pandas is not installed ({INSTALL})")
pytest.importorskip("dask.dataframe", reason=f"[dask] dask[dataframe] is not installed ({INSTALL})")
import dask.array as da  # noqa: E402
import dask.dataframe as dd  # noqa: E402

import cfx.dask  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
BINDINGS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "bindings", "python"))
WACHTER = {"method": "wachter", "max_lam_steps": 5}


def test_dask_and_distributed_are_one_release():
    """dask[distributed] pins them together; a distributed of another release may not even import."""
    assert dask.__version__ == distributed.__version__, (
        f"dask {dask.__version__} with distributed {distributed.__version__}: {INSTALL} installs a matching pair")


def load(name):
    with open(os.path.join(FIXTURES, name)) as f:
        data = json.load(f)
    return (cfx.Model.from_json(data["model"]), np.array(data["x_test"]), np.array(data["x_train"]),
            np.array(data["y_train"], dtype=float))


@pytest.fixture(scope="module")
def iris():
    return load("iris_mlp.json")


def start_cluster():
    # Worker processes import cfx (and find libcfx) like this one does.
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if BINDINGS not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([BINDINGS] + paths)
    if "CFX_LIBRARY" not in os.environ:
        os.environ["CFX_LIBRARY"] = cfx.library_path()
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=40)
    return cluster, distributed.Client(cluster)


@pytest.fixture(scope="module")
def client():
    cluster, client = start_cluster()
    yield client
    client.close()
    cluster.close()


def single_process(model, config, X, fit=None):
    """The reference: one process, one thread, cfx.Explainer with the same config."""
    explainer = cfx.Explainer(model, {**cfx.dask.explain_defaults(config), **config})
    if fit is not None:
        explainer.fit(*fit)
    return explainer.explain_raw(X)["explanations"]


def assert_same_rows(df, explanations, X):
    """Every row exactly once, in order, with the counterfactual of the single-process run."""
    assert list(df.index) == list(range(len(X)))
    d = X.shape[1]
    for i, e in enumerate(explanations):
        row = df.iloc[i]
        assert bool(row["success"]) == e["success"]
        if e["cf"] is None:
            assert np.isnan(row[[f"cf_{j}" for j in range(d)]].to_numpy(dtype=float)).all()
        else:
            np.testing.assert_array_equal(row[[f"cf_{j}" for j in range(d)]].to_numpy(dtype=float), e["cf"]["X"])
            assert row["cf_class"] == e["cf"]["class"]


@pytest.mark.parametrize("method", ["wachter", "cfproto"])
def test_cluster_matches_single_process(client, iris, method):
    model, x_test, x_train, y_train = iris
    X = np.vstack([x_test, x_test + 0.1])
    config = WACHTER if method == "wachter" else {"method": "cfproto", "use_kdtree": True, "max_iterations": 200}
    fit = None if method == "wachter" else (x_train, y_train)
    out = cfx.dask.explain(model, config, da.from_array(X, chunks=(17, 4)), fit=fit)
    assert out.npartitions == -(-len(X) // 17)
    df = out.compute()
    assert_same_rows(df, single_process(model, config, X, fit), X)
    assert df["success"].mean() > 0.9  # iris counterfactuals are found (a real check, not a stub)
    valid = df[df["success"]]
    assert (valid["cf_class"] != valid["orig_class"]).all()
    # The model and fit were built at most once per worker process and job (this test's two
    # parameters: two jobs), not once per partition (6).
    built = client.run(lambda: cfx.dask.built)
    assert len(built) == 2 and sum(built.values()) >= 1 and all(b <= 2 for b in built.values()), built


def test_per_row_errors_empty_and_one_row_partitions(client, iris):
    model, x_test, _, _ = iris
    X = x_test[:10].copy()
    X[2, 1] = np.nan
    X[7, 3] = np.inf
    # Partitions of 5, 0, 1 and 4 rows.
    out = cfx.dask.explain(model, WACHTER, da.from_array(X, chunks=((5, 0, 1, 4), (4,))))
    df = out.compute()
    assert list(df.index) == list(range(10))
    assert not df.loc[2, "success"] and "row 2, feature 1 is nan" in df.loc[2, "error"]
    assert df.loc[7, "error"].startswith("non-finite number:")
    assert np.isnan(df.loc[[2, 7], ["cf_0", "cf_1", "cf_2", "cf_3"]].to_numpy(dtype=float)).all()
    healthy = [i for i in range(10) if i not in (2, 7)]
    assert df.loc[healthy, "error"].isna().all()
    assert_same_rows(df.loc[healthy].reset_index(drop=True), single_process(model, WACHTER, X[healthy]), X[healthy])


def test_dataframe_input_keeps_its_index(client, iris):
    model, x_test, _, _ = iris
    frame = pd.DataFrame(x_test[:12], columns=["a", "b", "c", "d"], index=np.arange(100, 112))
    frame["label"] = "ignored"
    out = cfx.dask.explain(model.spec(), WACHTER, dd.from_pandas(frame, npartitions=3), columns=["a", "b", "c", "d"])
    df = out.compute()
    assert list(df.index) == list(range(100, 112))
    assert_same_rows(df.reset_index(drop=True), single_process(model, WACHTER, x_test[:12]), x_test[:12])


def test_model_file_path(client, iris, tmp_path):
    model, x_test, _, _ = iris
    path = tmp_path / "iris.json"
    model.save(str(path))
    df = cfx.dask.explain(str(path), WACHTER, x_test[:6], partition_rows=4).compute()
    assert_same_rows(df, single_process(model, WACHTER, x_test[:6]), x_test[:6])


def test_deduce_family_one_row_per_target(iris):
    model, x_test, _, _ = iris
    df = cfx.dask.explain(model, {"method": "jsma", "target_class": "all"}, x_test[:5], partition_rows=2).compute(
        scheduler="threads")
    assert len(df) == 10 and sorted(set(df.index)) == [0, 1, 2, 3, 4]  # 2 targets per iris row
    assert (df["target_class"] != df["orig_class"]).all()


def test_evaluate_matches_single_process(client, iris):
    model, x_test, x_train, y_train = iris
    explained = cfx.dask.explain(model, WACHTER, x_test, partition_rows=10)
    metrics = cfx.dask.evaluate(model, x_test, explained, X_train=x_train, y_train=y_train, partition_rows=10).compute()
    exps = cfx.Explainer(model, {**WACHTER, "n_threads": 1}).explain(x_test)
    reference = cfx.metrics.evaluate(model, x_test, exps, X_train=x_train, y_train=y_train)
    assert list(metrics.index) == list(range(len(x_test)))
    for name in ("validity", "l1", "l1_mad", "nn_distance"):
        np.testing.assert_allclose(metrics[name].to_numpy(), reference.instances[name].astype(float), equal_nan=True)


def cpu_seconds(pid):
    """User + system CPU time of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_workers(pids, seconds=1.0):
    """The worker pids that used more than half a core over `seconds`."""
    before = {pid: cpu_seconds(pid) for pid in pids}
    time.sleep(seconds)
    return [pid for pid in pids if cpu_seconds(pid) - before[pid] > 0.5 * seconds]


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux /proc to read a worker's CPU time")
def test_cancelling_stops_the_search(client, iris):
    model, x_test, _, _ = iris
    slow = {"method": "cfproto", "max_iterations": 1000, "c_steps": 10}
    X = np.tile(x_test, (80, 1))  # one partition of 3600 rows: about a minute of searching
    pids = list(client.run(os.getpid).values())
    out = cfx.dask.explain(model, slow, X, partition_rows=len(X), client=client)
    future = client.futures_of(out)[0]
    wait_for(lambda: busy_workers(pids), 60, "a worker to search (more than half a core)")
    client.cancel(out)
    assert future.cancelled()
    # Dask cannot interrupt a running task; cfx's cancel flag (set from the progress callback
    # when the task is cancelled) stops the search, and the workers go idle.
    time.sleep(2.0)
    assert busy_workers(pids, 2.0) == [], "the cancelled search should have stopped"


def wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


def recomputed_partitions(dask_scheduler):
    """Partitions the scheduler sent to a worker more than once (runs on the scheduler)."""
    counts = collections.Counter(t[0] for t in dask_scheduler.transition_log
                                 if t[2] == "processing" and "explain_partition" in str(t[0]))
    return sum(1 for c in counts.values() if c > 1)


def test_killed_worker_loses_and_duplicates_nothing(iris):
    """Kills one worker process (SIGKILL) while partitions run: Dask recomputes its partitions
    on the other worker (and the restarted one, which fetches the job and fits again), and the
    result is the single-process one."""
    model, x_test, x_train, y_train = iris
    X = np.tile(x_test, (8, 1)) + np.repeat(np.arange(8), len(x_test))[:, None] * 0.01  # 360 rows
    config = {"method": "cfproto", "use_kdtree": True}
    fit = (x_train, y_train)
    reference = single_process(model, config, X, fit)
    cluster, client = start_cluster()
    try:
        out = cfx.dask.explain(model, config, X, fit=fit, partition_rows=40)  # 9 partitions, about a second each
        future = client.compute(out)
        # Wait until a partition runs on some worker, then kill that worker's process.
        wait_for(lambda: any(any("explain_partition" in str(k) for k in keys)
                             for keys in client.processing().values()), 60, "a partition to start")
        busy = next(w for w, keys in client.processing().items() if any("explain_partition" in str(k) for k in keys))
        pid = client.run(os.getpid, workers=[busy])[busy]
        time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
        df = future.result(timeout=180)
        assert client.run_on_scheduler(recomputed_partitions) >= 1, "the killed worker's partition ran again"
        assert df.index.is_unique and len(df) == len(X)
        assert_same_rows(df, reference, X)
    finally:
        client.close()
        cluster.close()
