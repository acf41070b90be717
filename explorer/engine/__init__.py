"""Engines: where the per-partition work of a selection runs.

``local`` (:class:`~explorer.engine.local.LocalEngine`) runs it in this process, one
partition after another; ``dask`` (:class:`~explorer.engine.dask.DaskEngine`) sends it to a
Dask cluster as futures. The drivers in :mod:`explorer.engine.drivers` are written once
against both, over the per-partition tasks of :mod:`explorer.engine.tasks`.
"""

from __future__ import annotations

from contextlib import contextmanager

from ..errors import ExplorerError

ENGINES = ("local", "dask")


def get_engine(engine=None, *, scheduler: str | None = None, workers: int | None = None,
               memory_limit: str | None = None, local_cluster: bool = False):
    """An engine from a name ('local', 'dask'), a ``distributed.Client``, or an engine.
    For 'dask', ``local_cluster`` starts a LocalCluster even when
    ``$DASK_SCHEDULER_ADDRESS`` is set (see :class:`~explorer.engine.dask.DaskEngine`).

    >>> get_engine("local").name
    'local'
    """
    from .local import LocalEngine

    if engine is None or engine == "local":
        return LocalEngine()
    if engine == "dask":
        from .dask import DaskEngine

        return DaskEngine(scheduler=scheduler, workers=workers, memory_limit=memory_limit,
                          local_cluster=local_cluster)
    if hasattr(engine, "submit") and hasattr(engine, "gather") and hasattr(engine, "name"):
        return engine
    if type(engine).__name__ == "Client" and type(engine).__module__.startswith("distributed"):
        from .dask import DaskEngine

        return DaskEngine(engine)
    raise ExplorerError(f"engine must be one of {', '.join(ENGINES)} or a distributed.Client; "
                        f"got {engine!r}.")


@contextmanager
def engine_in_use(engine=None):
    """:func:`get_engine`'s engine for a ``with`` block. One made here from a name (or None)
    is closed when the block ends; one given (an engine or a ``distributed.Client``) is the
    caller's and stays open."""
    owned = not hasattr(engine, "submit")
    eng = get_engine(engine)
    try:
        yield eng
    finally:
        if owned:
            eng.close()
