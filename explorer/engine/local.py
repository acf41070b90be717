"""The in-process engine: every task runs at once, in the order it is submitted.

It is the single-machine reference of the distributed drivers: the same driver code and the
same per-partition tasks run here and on a Dask cluster, so equal results are a test.
"""

from __future__ import annotations


class Done:
    """The result of a task that has run (what a future is once it is finished)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _value(arg):
    return arg.value if isinstance(arg, Done) else arg


def available_memory() -> float:
    """This machine's available physical memory in bytes (infinite where it cannot be read)."""
    import os

    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


class LocalEngine:
    """Runs tasks in this process, one after another.

    >>> engine = LocalEngine()
    >>> engine.gather([engine.submit(pow, 2, 10)])
    [1024]
    """

    name = "local"
    dashboard = None

    @property
    def workers(self) -> int:
        return 1

    def submit(self, func, *args, label: str = "task"):
        return Done(func(*(_value(a) for a in args)))

    def gather(self, handles, progress=None, what: str = ""):
        out = [h.value for h in handles]
        if progress is not None and out:
            progress(1.0, what)
        return out

    def finished(self, handles) -> list:
        """Those of ``handles`` that have finished: every one (a task runs when submitted)."""
        return list(handles)

    def memory_bytes(self) -> float:
        """The memory this process may still fill: the machine's available memory."""
        return available_memory()

    def release(self, handles) -> None:
        for h in handles:
            if isinstance(h, Done):
                h.value = None

    def close(self) -> None:
        pass

    def describe(self) -> dict:
        return {"name": self.name, "workers": 1}
