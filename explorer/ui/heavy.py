"""One heavy run at a time in the server: every session shares the process, its cores and
its memory.

A run the estimates call heavy (``explorer.estimate``, ``cost.estimate_score``,
``cost.estimate_sweep``: long, or a large share of the memory) waits for its turn in one
first-come queue; the page says how many runs are ahead. Light runs — what a visitor does
while exploring — never wait. Two heavy runs at once would each take about twice as long on
the shared cores and could together exhaust the memory that one of them was allowed,
stopping the server for every session.
"""

from __future__ import annotations

import threading
from collections import deque
from contextlib import contextmanager

import streamlit as st


class TurnQueue:
    """First come, first served, one at a time; a waiter is told how many are ahead.

    >>> q = TurnQueue()
    >>> with q.turn(lambda ahead: None):
    ...     q.waiting()
    1
    >>> q.waiting()
    0
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque = deque()

    def waiting(self) -> int:
        """Runs holding or waiting for a turn."""
        with self._cond:
            return len(self._queue)

    @contextmanager
    def turn(self, on_wait, poll: float = 0.5):
        """Hold the turn inside the ``with``. While others are ahead, ``on_wait(ahead)`` is
        called about every ``poll`` seconds (it may raise, e.g. a page's rerun: the place in
        the queue is then given up)."""
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
        try:
            while True:
                with self._cond:
                    ahead = self._queue.index(ticket)
                    if ahead == 0:
                        break
                on_wait(ahead)  # outside the lock: it may draw on a page, or raise
                with self._cond:
                    if self._queue.index(ticket) > 0:
                        self._cond.wait(poll)
            yield
        finally:
            with self._cond:
                self._queue.remove(ticket)
                self._cond.notify_all()


#: The server's queue of heavy runs (a module global: one per process, shared by sessions).
HEAVY_RUNS = TurnQueue()


@contextmanager
def heavy_turn(what: str, done_key=None):
    """Wait for the server's one heavy-run turn, saying where this session stands. With
    ``done_key``, a run this session already finished (its result is cached) does not wait
    again."""
    from . import state

    done = state.get("heavy_done")
    if done_key is not None and done_key in done:
        yield
        return
    note = st.empty()

    def say(ahead: int) -> None:
        note.info(f"Waiting to start {what}: another visitor's heavy run is going on "
                  f"(this server runs one at a time). Position in the queue: {ahead} "
                  f"{'run' if ahead == 1 else 'runs'} ahead of yours.")

    with HEAVY_RUNS.turn(say):
        note.empty()
        yield
    if done_key is not None:
        done.add(done_key)
