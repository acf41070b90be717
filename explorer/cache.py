"""An in-memory cache of intermediate results that a caller chooses to keep between calls.

A k-center traversal can be continued to a larger budget or sliced to a smaller one, and a
k-means clustering serves a strategy at every budget; keeping them makes a repeated run
instant. Keeping them is the caller's choice, never a hidden effect of a library call: the
algorithms consult :func:`current`, which is None unless the calling thread is inside
``with cache.kept():`` of some :class:`Cache`. So ``explorer.select`` from a script keeps
nothing after it returns (its matrix is freed when the caller lets go of it), while the app
owns one :class:`Cache` for the life of its process (``explorer.ui.compute.APP_CACHE``) and
runs every selection inside it; a probe sweep keeps one for its own runs only.

A cache holds, under one lock: a small least-recently-used store per kind of result, the
last result of a kind served with what continuing it needs (:meth:`Cache.serve`), and at
most one background thread that continues it while the caller is idle
(:meth:`Cache.run_in_background`).

>>> memo = Cache()
>>> with memo.kept():
...     a = current().get_or_make("squares", 3, lambda: 9, keep=2)
>>> a, memo.size("squares"), current()
(9, 1, None)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Callable

_local = threading.local()


def current() -> Cache | None:
    """The cache the calling thread keeps results in (inside ``with cache.kept():``), or
    None: then nothing is kept."""
    return getattr(_local, "cache", None)


class Cache:
    """Keyed results per kind (each kind its own least-recently-used store of ``keep``
    entries), the last result served per kind, and one background worker; one lock guards
    them, so the sessions of a server can share the cache."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stores: dict[str, OrderedDict] = {}
        self._served: dict[str, dict] = {}
        self._worker: tuple[threading.Thread, threading.Event] | None = None

    @contextmanager
    def kept(self):
        """Inside the ``with``, the calling thread's algorithms keep their intermediate
        results in this cache (and find those kept before)."""
        before = current()
        _local.cache = self
        try:
            yield self
        finally:
            _local.cache = before

    def get_or_make(self, kind: str, key, make: Callable[[], Any], keep: int):
        """The result of ``kind`` kept under ``key``, else ``make()`` kept there (the
        least recently used of the kind dropped beyond ``keep``). ``make`` runs outside the
        lock; when two threads make one key at once, the first kept is returned to both."""
        with self._lock:
            store = self._stores.setdefault(kind, OrderedDict())
            if key in store:
                store.move_to_end(key)
                return store[key]
        value = make()
        with self._lock:
            store = self._stores.setdefault(kind, OrderedDict())
            value = store.setdefault(key, value)
            store.move_to_end(key)
            while len(store) > keep:
                store.popitem(last=False)
        return value

    def holds(self, kind: str, value) -> bool:
        """Whether ``value`` is (still) one of the results kept of ``kind``."""
        with self._lock:
            return any(v is value for v in self._stores.get(kind, {}).values())

    def size(self, kind: str | None = None) -> int:
        """How many results are kept (of ``kind``, or of every kind)."""
        with self._lock:
            stores = self._stores.values() if kind is None else [self._stores.get(kind, {})]
            return sum(len(s) for s in stores)

    def serve(self, kind: str, **state) -> None:
        """Remember what was served last of ``kind`` (what continuing it needs)."""
        with self._lock:
            self._served[kind] = state

    def served(self, kind: str) -> dict:
        """What :meth:`serve` remembered last of ``kind`` ({} when nothing)."""
        with self._lock:
            return dict(self._served.get(kind, {}))

    def forget_served(self, kind: str) -> None:
        with self._lock:
            self._served.pop(kind, None)

    def run_in_background(self, work: Callable[[threading.Event], None], name: str) -> None:
        """Run ``work(stop)`` in a daemon thread, after stopping the one running before;
        ``work`` checks the event ``stop`` and returns soon after it is set."""
        self.stop_background()
        stop = threading.Event()
        thread = threading.Thread(target=work, args=(stop,), name=name, daemon=True)
        with self._lock:
            self._worker = (thread, stop)
        thread.start()

    def stop_background(self) -> None:
        """Stop the background work and wait for it to return."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            thread, stop = worker
            stop.set()
            thread.join()

    def join_background(self) -> None:
        """Wait until the background work ends by itself."""
        with self._lock:
            worker = self._worker
        if worker is not None:
            worker[0].join()

    def clear(self) -> None:
        """Stop the background work and drop everything kept."""
        self.stop_background()
        with self._lock:
            self._stores.clear()
            self._served.clear()
