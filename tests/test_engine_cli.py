"""The command line on a Dask cluster the test starts itself: a `dask scheduler` and two
`dask worker` processes on 127.0.0.1 (free ports), stopped at the end. Also the faults: a
worker killed with SIGKILL in the middle of a k-center run, and memory-limited workers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import explorer
from explorer.engine.dask import parent_environ_kept
from explorer.cli import main
from explorer.data.samples import SAMPLES
from explorer.data.shards import write_shards
from explorer.evaluate import sweep

distributed = pytest.importorskip("distributed")  # the [dask] extra is in [test]: never skips

DASK = str(Path(sys.executable).with_name("dask"))
CUTS = [0, 1, 250, 500, 500, 900, 1300, 1600, 1797]  # 8 shards, one empty, one of 1 row
DIGITS = str(SAMPLES["digits"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args):
    return subprocess.Popen([DASK, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture(scope="module")
def scheduler():
    """The address of a `dask scheduler` with two `dask worker` processes (nannies, one
    thread, 600 MiB each)."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_start(["scheduler", "--host", "127.0.0.1", "--port", str(port),
                     "--dashboard-address", f"127.0.0.1:{_free_port()}"])]
    try:
        for _ in range(2):
            procs.append(_start(["worker", address, "--nthreads", "1", "--host", "127.0.0.1",
                                 "--no-dashboard", "--memory-limit", "600MiB"]))
        deadline = time.monotonic() + 60
        while True:
            try:
                with distributed.Client(address, timeout="5s", set_as_default=False) as c:
                    c.wait_for_workers(2, timeout=max(1, deadline - time.monotonic()))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        for p in reversed(procs):
            _stop(p)


@pytest.fixture(scope="module")
def shards(digits, tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits8")
    write_shards(digits, folder, CUTS)
    return str(folder)


def _client(address):
    c = distributed.Client(address, timeout="5s", set_as_default=False)
    c.wait_for_workers(2, timeout=60)
    return c


def test_select_score_and_replay_on_the_cluster(scheduler, shards, digits, tmp_path,
                                                monkeypatch, capsys):
    out, manifest = tmp_path / "picks.parquet", tmp_path / "picks.json"
    code = main(["select", shards, "--id-column", "id", "--strategy", "k-center", "--budget",
                 "20", "--seed", "1", "--engine", "dask", "--scheduler", scheduler,
                 "--out", str(out), "--manifest", str(manifest)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "dask: 2 worker(s)" in err and "8 partitions" in err
    ref = explorer.select(digits, "k-center", 20, seed=1)
    import pandas as pd

    frame = pd.read_parquet(out)
    assert frame["index"].tolist() == ref.indices.tolist()
    assert frame["id"].tolist() == digits.ids[ref.indices].tolist()
    assert frame["label"].tolist() == digits.metadata["label"].to_numpy()[ref.indices].tolist()
    doc = json.loads(manifest.read_text())
    assert doc["engine"]["name"] == "dask" and doc["engine"]["partitions"] == 8
    assert doc["engine"]["mode"] == "exact" and "Gonzalez" in doc["engine"]["bound"]
    assert scheduler.split("//")[1] not in manifest.read_text()  # never the address

    # replay: on the local engine, and on the cluster named by DASK_SCHEDULER_ADDRESS
    again = tmp_path / "again.parquet"
    assert main(["select", "--replay", str(manifest), "--out", str(again)]) == 0
    assert pd.read_parquet(again)["index"].tolist() == ref.indices.tolist()
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", scheduler)
    capsys.readouterr()
    third = tmp_path / "third.parquet"
    assert main(["select", "--replay", str(manifest), "--engine", "dask", "--out",
                 str(third)]) == 0
    assert "dask: 2 worker(s)" in capsys.readouterr().err
    assert pd.read_parquet(third)["index"].tolist() == ref.indices.tolist()

    # score the export on the cluster (scheduler from the environment)
    assert main(["score", shards, "--selection", str(out), "--id-column", "id", "--engine", "dask",
                 "--random-draws", "3", "--format", "json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["metrics"]["coverage_max"]["value"] > 0


def test_bad_scheduler_address_exits_2_within_5_s(shards, capsys):
    start = time.perf_counter()
    code = main(["select", shards, "--strategy", "random", "--budget", "3", "--engine", "dask",
                 "--scheduler", f"tcp://127.0.0.1:{_free_port()}", "--out", "/tmp/never.npy"])
    assert code == 2
    assert time.perf_counter() - start < 7
    assert "could not connect within 5 s" in capsys.readouterr().err
    assert not Path("/tmp/never.npy").exists()


def test_a_failing_task_names_its_shard(scheduler, tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    X = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    X[4, 2] = np.nan
    for i, block in enumerate((X[:3], X[3:])):
        pq.write_table(pa.table({"id": [f"r{i}{j}" for j in range(3)],
                                 "emb": pa.array(list(block), pa.list_(pa.float32()))}),
                       tmp_path / f"part-{i}.parquet")
    code = main(["select", str(tmp_path), "--id-column", "id", "--strategy", "random",
                 "--budget", "2", "--engine", "dask", "--scheduler", scheduler,
                 "--out", str(tmp_path / "o.npy")])
    assert code == 2
    assert "shard part-1.parquet: row 1 (id r11) holds NaN" in capsys.readouterr().err


def test_a_worker_killed_mid_run_gives_the_identical_result(scheduler, shards, digits):
    """SIGKILL one worker process once a third of the k-center rounds are done: its tasks
    (futures, not actors or scatter) are recomputed from their lineage elsewhere."""
    ref = explorer.select(digits, "k-center", 45, seed=2)
    with _client(scheduler) as client:
        pids = sorted(client.run(os.getpid).values())
        killed = []

        def progress(fraction, message):
            if not killed and "rounds" in message and fraction > 0.33:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(message)

        sel = explorer.select(explorer.load(shards, id_column="id"), "k-center", 45, seed=2,
                              engine=client, progress=progress)
        assert killed, "the worker was never killed"
        assert sel.indices.tolist() == ref.indices.tolist()
        client.wait_for_workers(2, timeout=60)  # the nanny restarts it
        assert pids[0] not in client.run(os.getpid).values()

@contextlib.contextmanager
def memory_limited_client(workers: int, memory_limit: str):
    """A client of a LocalCluster of ``workers`` one-thread processes of ``memory_limit``."""
    with parent_environ_kept():
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                           processes=True, memory_limit=memory_limit,
                                           dashboard_address=":0", silence_logs=50)
    try:
        with distributed.Client(cluster, set_as_default=False) as client:
            yield client
    finally:
        cluster.close()


def test_memory_limited_workers_finish_without_a_restart(shards, digits):
    """Two workers of 1 GiB (a worker process that has run SemDeDup holds about 290 MiB of
    libraries: numpy, pandas, pyarrow, scikit-learn, numba, and compiling a kernel there on
    an empty numba cache adds LLVM's own; at 500 MiB that pushed a worker on a fresh clone
    past distributed's pause fraction, 80 %, for good): each task holds one shard, so the
    run finishes without a nanny kill. The run on data larger than the workers' memory is
    in benchmarks/bench_engine.py."""
    with memory_limited_client(2, "1GiB") as client:
        pids = sorted(client.run(os.getpid).values())
        sel = explorer.select(explorer.load(shards, id_column="id"), "semdedup", None,
                              seed=0, metric="cosine", params={"n_clusters": 8},
                              engine=client)
        ref = explorer.select(digits, "semdedup", None, seed=0, metric="cosine",
                              params={"n_clusters": 8})
        assert sel.indices.tolist() == ref.indices.tolist()
        assert sorted(client.run(os.getpid).values()) == pids  # no worker restarted


def test_workers_too_small_for_the_run_end_it_with_a_message(shards, monkeypatch):
    """A worker of 350 MiB holds about 300 MiB once a task has imported its libraries: past
    distributed's pause fraction (80 %), so it is paused and starts no other task until its
    memory falls, which here is never (past 95 % its nanny kills it instead, and the task is
    lost after three tries). Either way the run ends with one line naming the memory limit,
    not a wait for ever."""
    import explorer.engine.dask as dask_engine

    monkeypatch.setattr(dask_engine, "STALL_S", 10)
    with memory_limited_client(1, "350MiB") as client:
        started = time.monotonic()
        with pytest.raises(explorer.ExplorerError, match=r"--memory-limit") as info:
            explorer.select(explorer.load(shards, id_column="id"), "k-center", 20, seed=0,
                            engine=client)
        assert time.monotonic() - started < 240
        assert "\n" not in str(info.value)


# --- compare on an engine ----------------------------------------------------------------

#: compare's common options: three strategies with a distributed form, two budgets; with a
#: label column (stratified strata) 'auto' asks for the logistic probe, which runs on a
#: dataset in memory and not on a sharded one
COMPARE = ["--id-column", "id", "--strategies", "k-center,random,stratified", "--budgets",
           "10,30", "--label-column", "label", "--random-draws", "5", "--seed", "1"]
#: the one-machine scorecard metrics an engine's scorecard measures the same way: exact
#: distances over every row and between the picks (its MMD is by random Fourier features,
#: its clusters fitted on a sample, its random draws keyed by hash(seed, row id))
EXACT_ON_BOTH = ["coverage_max", "coverage_mean", "mean_pairwise_distance",
                 "min_pairwise_distance", "vendi"]


PROBE_SWEEP = sweep.probe_sweep


def _compare(capsys, monkeypatch, data, *options, out):
    """Run ``explorer compare``; (exit status, stderr, the table's selections)."""
    tables = []

    def spy(*args, **kwargs):  # keeps the table, whose attrs hold the selected rows
        tables.append(PROBE_SWEEP(*args, **kwargs))
        return tables[-1]

    monkeypatch.setattr(sweep, "probe_sweep", spy)
    code = main(["compare", data, *COMPARE, *options, "--out", str(out)])
    err = capsys.readouterr().err
    return code, err, tables[0].attrs["selections"] if tables else None


def test_compare_on_the_cluster_gives_the_local_engines_table(scheduler, shards, digits,
                                                               tmp_path, monkeypatch, capsys):
    import pandas as pd

    from explorer.engine import drivers

    # the digits in memory on the cluster; the same rows as 8 shards on the local engine
    code, err, there = _compare(capsys, monkeypatch, DIGITS, "--engine", "dask", "--scheduler",
                                scheduler, "--probe", "none", out=tmp_path / "dask.csv")
    assert code == 0, err
    assert "dask: 2 worker(s)" in err
    code, err, here = _compare(capsys, monkeypatch, shards, out=tmp_path / "local.csv")
    assert code == 0, err
    assert "on the local engine" in err and "no probe ran: on a sharded dataset" in err
    a, b = pd.read_csv(tmp_path / "dask.csv"), pd.read_csv(tmp_path / "local.csv")
    assert list(a.columns) == list(b.columns)
    assert a[["strategy", "budget", "size", "metric"]].equals(
        b[["strategy", "budget", "size", "metric"]])
    assert set(a["strategy"]) == {"k-center", "random", "stratified"} and len(a) == 3 * 2 * 9
    for col in ("value", "random_mean", "random_std", "random_p05", "random_p95", "p_value",
                "p_holm"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-6, atol=1e-12, err_msg=col)
    assert a["verdict"].tolist() == b["verdict"].tolist()
    # identical ids: on both engines, and k-center's as one machine's farthest-first
    assert there.keys() == here.keys()
    for key in there:
        assert there[key].tolist() == here[key].tolist(), key
    for b_ in (10, 30):
        assert there[("k-center", b_)].tolist() == \
            explorer.select(digits, "k-center", b_, seed=1).indices.tolist()
        assert there[("random", b_)].tolist() == \
            drivers.select(digits, "random", b_, seed=1, engine="local").indices.tolist()

    # one machine (--engine local on one file): the same columns; for the same picks the
    # metrics both measure exactly agree
    code, err, _ = _compare(capsys, monkeypatch, DIGITS, "--probe", "none",
                            out=tmp_path / "one.csv")
    assert code == 0, err
    one = pd.read_csv(tmp_path / "one.csv")
    assert list(one.columns) == list(a.columns)
    pick = a[(a["strategy"] == "k-center") & a["metric"].isin(EXACT_ON_BOTH)]
    same = one.merge(pick, on=["strategy", "budget", "metric"], suffixes=("_one", ""))
    assert len(same) == 2 * len(EXACT_ON_BOTH)
    np.testing.assert_allclose(same["value"], same["value_one"], rtol=1e-6)


def test_compare_on_an_engine_refuses_what_it_cannot_run(shards, tmp_path, capsys):
    out = tmp_path / "never.csv"
    # a strategy without a distributed form: select's own line, before any work
    assert main(["select", shards, "--id-column", "id", "--strategy", "herding", "--budget",
                 "10", "--out", str(tmp_path / "s.npy")]) == 2
    said = capsys.readouterr().err
    assert "Strategy 'herding' has no distributed form; on an engine or a sharded dataset " \
           "use one of: random, stratified, dsir, k-center" in said
    assert main(["compare", shards, "--id-column", "id", "--strategies", "k-center,herding",
                 "--budgets", "10", "--out", str(out)]) == 2
    assert capsys.readouterr().err == said
    # a probe by name on a sharded dataset, in one line
    assert main(["compare", shards, "--id-column", "id", "--strategies", "k-center",
                 "--budgets", "10", "--label-column", "label", "--probe", "knn",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "probe knn: not run on a sharded dataset: a probe " \
        "trains on the pool's rows" in err
    # a cost budget, as select on an engine refuses it
    assert main(["compare", shards, "--id-column", "id", "--strategies", "k-center",
                 "--budgets", "10", "--cost-column", "difficulty", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cost_column: not available for runs on an engine" in err
    assert not out.exists()


@pytest.mark.parametrize("command", [
    ["select", "--strategy", "dsir", "--budget", "10", "--out", "{tmp}/s.parquet"],
    ["compare", "--strategies", "dsir", "--budgets", "10", "--probe", "none",
     "--out", "{tmp}/t.csv"],
    ["score", "--selection", "{tmp}/target.npy"]])
def test_a_target_file_on_an_engine_is_refused_before_the_engine_starts(command, tmp_path,
                                                                        capsys):
    """--target FILE (an engine takes row indices or --target-query) is refused in one line
    before an engine starts: the scheduler named, where nothing listens, is never asked."""
    np.save(tmp_path / "target.npy", np.arange(5))
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    start = time.perf_counter()
    assert main([args[0], DIGITS, "--id-column", "id", *args[1:], "--target",
                 str(tmp_path / "target.npy"), "--engine", "dask", "--scheduler",
                 f"tcp://127.0.0.1:{_free_port()}"]) == 2
    err = capsys.readouterr().err
    assert time.perf_counter() - start < 3
    assert err.count("\n") == 1 and "could not connect" not in err
    assert ("On an engine the target set is given as row indices or --target-query."
            if args[0] != "score" else "--target and --target-query are not scored on an "
            "engine yet.") in err
