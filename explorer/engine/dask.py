"""The Dask engine: tasks are ``distributed`` futures on a cluster.

Only futures: no actors and no ``scatter``, so the result of a task lost with its worker is
computed again from its inputs (its lineage), and a run survives a killed worker with the
same result. Task keys name the partition (the shard), so a task that fails every time is
reported with the shard it read.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid

from ..errors import ExplorerError

#: How long to wait for a scheduler named by address before giving up.
CONNECT_TIMEOUT_S = 5
#: How long a run waits while no task finishes and every worker is paused at its memory
#: limit (a paused worker starts no task until its memory falls, which may be never), or the
#: cluster has no worker at all, before it gives up with a message instead of waiting for ever.
STALL_S = 60
#: How often a waiting run looks at the tasks and the workers.
POLL_S = 2
#: The environment of the worker processes of a LocalCluster started here: one numba thread
#: per worker thread, as Dask's own pre-spawn environment gives BLAS and OpenMP one thread (a
#: worker's parallelism is its task threads). Two workers with numba's default pool (one
#: thread per core) oversubscribe the cores: on 2 cores, two processes each running sparse
#: facility location on 100,000 rows took 34.3 s with 2 numba threads, 29.5 s with 1.
WORKER_ENV = {"NUMBA_NUM_THREADS": "1"}


def _install_hint() -> str:
    return "pip install 'subset-explorer[dask]'"


def import_distributed():
    try:
        import distributed
    except ImportError:
        raise ExplorerError(f"--engine dask needs Dask's distributed scheduler: "
                            f"{_install_hint()}.") from None
    return distributed


@contextlib.contextmanager
def parent_environ_kept():
    """Undo what starting workers writes into this process's environment: a Nanny sets
    ``distributed.nanny.pre-spawn-environ`` (OMP_NUM_THREADS=1, MKL_NUM_THREADS=1, ...) in
    ``os.environ`` before it spawns a worker, and never takes it back, so every later
    one-machine run in this process would use one thread and, for scikit-learn's k-means,
    sum in another order (other picks)."""
    before = dict(os.environ)
    try:
        yield
    finally:
        for key in [k for k in os.environ if k not in before]:
            del os.environ[key]
        os.environ.update(before)


def start_local_cluster(workers: int, memory_limit: str | None = None):
    """A ``distributed.LocalCluster`` of ``workers`` processes of one thread each (with
    :data:`WORKER_ENV`), ``memory_limit`` each ("auto": the machine's memory shared out), its
    dashboard on a free port; this process's environment is left as it was."""
    distributed = import_distributed()
    try:
        with parent_environ_kept():
            return distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                memory_limit=memory_limit or "auto", dashboard_address=":0", silence_logs=40,
                env=dict(WORKER_ENV))
    except ValueError as exc:
        raise ExplorerError(f"--memory-limit {memory_limit!r}: {exc}.") from None


class DaskEngine:
    """Runs tasks on a ``distributed.Client``: one given, one connected to ``scheduler``
    (or ``$DASK_SCHEDULER_ADDRESS``, unless ``local_cluster``), or a ``LocalCluster``
    started here (``workers`` processes of one thread, each with ``memory_limit``) and closed
    by :meth:`close`. ``local_cluster`` asks for the LocalCluster even when the variable is
    set (the app's "local cluster" choice)."""

    name = "dask"

    def __init__(self, client=None, *, scheduler: str | None = None, workers: int | None = None,
                 memory_limit: str | None = None, local_cluster: bool = False):
        distributed = import_distributed()
        self._cluster = None
        self._own_client = client is None
        if client is not None:
            self.client = client
            return
        address = None if local_cluster else \
            (scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None)
        if address:
            try:
                self.client = distributed.Client(address, timeout=f"{CONNECT_TIMEOUT_S}s",
                                                 set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise ExplorerError(f"Dask scheduler {address}: could not connect within "
                                    f"{CONNECT_TIMEOUT_S} s ({type(exc).__name__}). Check the "
                                    "address (tcp://HOST:8786) and that `dask scheduler` runs "
                                    "there.") from None
            except ValueError as exc:
                raise ExplorerError(f"Dask scheduler {address!r}: not an address ({exc}); give "
                                    "tcp://HOST:PORT.") from None
            return
        self._cluster = start_local_cluster(workers or max(1, os.cpu_count() or 1), memory_limit)
        self.client = distributed.Client(self._cluster, set_as_default=False)

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1).get("workers", {})) \
            if hasattr(self.client, "scheduler_info") else 0

    @property
    def dashboard(self) -> str | None:
        try:
            return self.client.dashboard_link
        except Exception:  # no bokeh: no dashboard
            return None

    def submit(self, func, *args, label: str = "task"):
        key = f"{label}-{uuid.uuid4().hex[:12]}"
        return self.client.submit(func, *args, key=key, pure=False)

    def gather(self, handles, progress=None, what: str = ""):
        """Results in submission order; ``progress(fraction, what)`` as tasks finish. A task
        that failed raises its own error (an ExplorerError names the shard); one whose
        workers kept dying is reported with its task key, which names the shard."""
        distributed = import_distributed()
        handles = list(handles)
        self._wait(handles, progress, what)
        try:
            return self.client.gather(handles)
        except distributed.scheduler.KilledWorker as exc:
            task = exc.args[0] if exc.args else "?"
            raise ExplorerError(f"Dask: task {task} was lost with its worker too many times "
                                "(the worker ran out of memory or was killed); give the "
                                "workers more memory (--memory-limit) or use more "
                                "shards.") from None

    def finished(self, handles) -> list:
        """Those of ``handles`` that have finished (or failed), once at least one has."""
        handles = list(handles)
        self._wait(handles, first=True)
        return [h for h in handles if h.done()]

    def _wait(self, handles: list, progress=None, what: str = "", first: bool = False):
        """Until every handle has finished (or the first, with ``first``); a cluster on which
        nothing moves for :data:`STALL_S` (no worker, or every worker paused at its memory
        limit) raises an ExplorerError that says what to do."""
        distributed = import_distributed()
        pending = set(handles)
        stalled_since = None
        while pending and not (first and len(pending) < len(handles)):
            try:
                with self.client.as_current():  # wait() looks for the current client
                    distributed.wait(list(pending), timeout=POLL_S,
                                     return_when="FIRST_COMPLETED")
            except TimeoutError:
                pass
            finished = {h for h in pending if h.done()}
            pending -= finished
            if finished:
                stalled_since = None
                if progress is not None:
                    progress(1 - len(pending) / len(handles), what)
                continue
            reason = self._stall_reason()
            if reason is None:
                stalled_since = None
            elif stalled_since is None:
                stalled_since = time.monotonic()
            elif time.monotonic() - stalled_since >= STALL_S:
                self.client.cancel(list(pending))
                raise ExplorerError(f"Dask: {reason}, and none of the {len(pending)} waiting "
                                    f"tasks of {len(handles)} moved for {STALL_S} s; give the "
                                    "workers more memory (--memory-limit), or more workers, "
                                    "or use more, smaller shards.")

    def _stall_reason(self) -> str | None:
        """Why no task can move, when the cluster says so: no worker, or every worker
        paused (its memory above distributed's pause fraction of its limit)."""
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        if not workers:
            return "the cluster has no worker"
        if all(w.get("status") == "paused" for w in workers.values()):
            limits = sorted({w.get("memory_limit") or 0 for w in workers.values()})
            said = ", ".join(f"{limit / 2**20:,.0f} MiB" for limit in limits if limit)
            return (f"every worker ({len(workers)}) is paused at its memory limit"
                    + (f" ({said})" if said else ""))
        return None

    def release(self, handles) -> None:
        for h in handles:
            h.release()

    def close(self) -> None:
        if self._own_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def memory_bytes(self) -> float:
        """The workers' memory limits summed (a worker without a limit counts as infinite)."""
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        limits = [w.get("memory_limit") or float("inf") for w in workers.values()]
        return float(sum(limits)) if limits else float("inf")

    def describe(self) -> dict:
        return {"name": self.name, "workers": self.workers}
