"""Greedy maximisation of a monotone submodular objective: the search, kept apart from the
objective (as apricot does). One ``greedy(objective, ...)`` does naive, lazy and stochastic.

An objective exposes ``gains(candidates) -> array`` (marginal gains of candidate rows given
the current selection) and ``add(j) -> float`` (add row j, return its realised gain). An
objective may also offer a compiled lazy search, ``lazy_greedy(candidates, n_new, report)``,
that must return the same picks as the plain heap below (the tests check it); ``greedy`` then
uses it for ``method="lazy"``.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

METHODS = ("naive", "lazy", "stochastic")


def stochastic_sample_size(n_candidates: int, n_new: int, epsilon: float) -> int:
    """Candidates evaluated per step by the stochastic greedy: (N / k) log(1 / epsilon)."""
    size = int(math.ceil(n_candidates / max(1, n_new) * math.log(1.0 / epsilon)))
    return max(1, min(n_candidates, size))


def greedy(objective, n_new: int, candidate: np.ndarray, method: str = "lazy",
           rng: np.random.Generator | None = None, epsilon: float = 0.1, report=None,
           compiled: bool = True):
    """Add ``n_new`` rows among ``candidate`` (bool mask) greedily; returns (order, gains).

    naive: recompute every gain each step (Nemhauser, Wolsey & Fisher 1978).
    lazy: re-evaluate only the top of a max-heap of stale upper bounds; exact, same picks as
      naive (Minoux 1978). Ties: lowest index. ``compiled=False`` forces the plain heap even
      when the objective has a compiled lazy search (a reference for tests).
    stochastic: each step evaluates a random sample of (N / k) log(1 / epsilon) candidates
      (Mirzasoleiman et al., Lazier Than Lazy Greedy, AAAI 2015); needs ``rng``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown greedy method {method!r}; use one of {METHODS}")
    cand = np.flatnonzero(candidate).astype(np.int64)
    if n_new > len(cand):
        raise ValueError(f"greedy: {n_new} picks asked from {len(cand)} candidates")
    if method == "lazy" and compiled and hasattr(objective, "lazy_greedy"):
        return objective.lazy_greedy(cand, n_new, report)
    order = np.empty(n_new, dtype=np.int64)
    gains = np.empty(n_new, dtype=np.float64)
    step = max(1, n_new // 50)
    if method == "lazy":
        g0 = objective.gains(cand)
        heap = [(-float(g), int(j)) for g, j in zip(g0, cand)]
        heapq.heapify(heap)
        for t in range(n_new):
            while True:
                _, j = heapq.heappop(heap)
                g = float(objective.gains(np.array([j]))[0])
                if not heap or (-g, j) <= heap[0]:
                    break
                heapq.heappush(heap, (-g, j))
            gains[t] = objective.add(j)
            order[t] = j
            if report is not None and t % step == 0:
                report(t / n_new, f"greedy: {t} of {n_new} picks")
        return order, gains
    alive = np.ones(len(cand), dtype=bool)
    for t in range(n_new):
        pool = np.flatnonzero(alive)
        if method == "stochastic":
            size = stochastic_sample_size(len(cand), n_new, epsilon)
            size = min(len(pool), size)
            pool = np.sort(rng.choice(pool, size, replace=False))
        g = objective.gains(cand[pool])
        best = int(pool[int(np.argmax(g))])  # argmax: ties go to the lowest index
        alive[best] = False
        order[t] = cand[best]
        gains[t] = objective.add(int(cand[best]))
        if report is not None and t % step == 0:
            report(t / n_new, f"greedy: {t} of {n_new} picks")
    return order, gains
