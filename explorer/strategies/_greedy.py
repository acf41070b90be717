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
           compiled: bool = True, costs: np.ndarray | None = None,
           cost_left: float | None = None):
    """Add ``n_new`` rows among ``candidate`` (bool mask) greedily; returns (order, gains).

    naive: recompute every gain each step (Nemhauser, Wolsey & Fisher 1978).
    lazy: re-evaluate only the top of a max-heap of stale upper bounds; exact, same picks as
      naive (Minoux 1978). Ties: lowest index. ``compiled=False`` forces the plain heap even
      when the objective has a compiled lazy search (a reference for tests).
    stochastic: each step evaluates a random sample of (N / k) log(1 / epsilon) candidates
      (Mirzasoleiman et al., Lazier Than Lazy Greedy, AAAI 2015); needs ``rng``.

    With ``costs`` (one per row, > 0) and ``cost_left`` (what the picks may spend), it is
    :func:`knapsack_greedy` instead: at most ``n_new`` picks.
    """
    if method not in METHODS:
        raise ValueError(f"unknown greedy method {method!r}; use one of {METHODS}")
    if costs is not None:
        return knapsack_greedy(objective, n_new, candidate, costs, cost_left, method, rng,
                               epsilon, report)
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


def knapsack_greedy(objective, n_new: int, candidate: np.ndarray, costs: np.ndarray,
                    cost_left: float, method: str = "lazy",
                    rng: np.random.Generator | None = None, epsilon: float = 0.1, report=None):
    """Monotone submodular maximisation under a knapsack (total cost) constraint: the
    modified greedy. Each step adds the candidate of largest gain per unit cost among those
    that still fit in ``cost_left`` (a row that no longer fits is dropped for good: what is
    left only shrinks); at the end, if one row alone (the best single row that fits) gains
    more than all the picks together, that row alone is returned. Without that last
    comparison the cost-scaled greedy can be arbitrarily bad (one cheap row of tiny gain
    beats a dear row worth everything); with it the result is within (1 - 1/e) / 2 of the
    optimum (Khuller, Moss & Naor 1999; Leskovec et al. 2007), and within 1 - e^(-1/2) for
    this variant (Lin & Bilmes 2010, Theorem 2). Returns (order, gains) like :func:`greedy`.

    ``lazy`` keeps a heap of stale gain-per-cost bounds (valid: gains only shrink, costs are
    fixed; Leskovec et al.'s CELF); ``naive`` re-evaluates every candidate each step;
    ``stochastic`` evaluates a random sample of the candidates that still fit. Ties go to the
    lowest row. With equal costs and a budget of k rows' cost it picks what :func:`greedy`
    picks for k.

    References
    ----------
    S. Khuller, A. Moss and J. Naor, "The budgeted maximum coverage problem", Information
    Processing Letters 70, 1999.
    J. Leskovec et al., "Cost-effective outbreak detection in networks", KDD 2007.
    H. Lin and J. Bilmes, "Multi-document summarization via budgeted maximization of
    submodular functions", NAACL 2010.
    """
    if method not in METHODS:
        raise ValueError(f"unknown greedy method {method!r}; use one of {METHODS}")
    from .base import COST_TOLERANCE

    cand = np.flatnonzero(candidate).astype(np.int64)
    costs = np.asarray(costs, dtype=np.float64)
    limit = float(cost_left) * (1.0 + COST_TOLERANCE)
    cand = cand[costs[cand] <= limit]
    empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    if len(cand) == 0 or n_new <= 0:
        return empty
    first = objective.gains(cand)
    best_single = int(np.argmax(first))  # every candidate fits alone; ties: lowest row
    order: list[int] = []
    gains: list[float] = []
    spent = 0.0
    step = max(1, n_new // 50)
    if method == "lazy":
        heap = [(-float(g) / costs[j], int(j)) for g, j in zip(first, cand)]
        heapq.heapify(heap)
        while heap and len(order) < n_new:
            _, j = heapq.heappop(heap)
            if spent + costs[j] > limit:
                continue
            ratio = float(objective.gains(np.array([j]))[0]) / costs[j]
            if heap and (-ratio, j) > heap[0]:
                heapq.heappush(heap, (-ratio, j))
                continue
            gains.append(objective.add(j))
            order.append(j)
            spent += costs[j]
            if report is not None and len(order) % step == 0:
                report(len(order) / n_new, f"greedy: {len(order)} picks")
    else:
        alive = np.ones(len(cand), dtype=bool)
        while len(order) < n_new:
            alive &= spent + costs[cand] <= limit
            pool = np.flatnonzero(alive)
            if len(pool) == 0:
                break
            if method == "stochastic":
                size = min(len(pool), stochastic_sample_size(len(cand), n_new, epsilon))
                pool = np.sort(rng.choice(pool, size, replace=False))
            ratio = objective.gains(cand[pool]) / costs[cand[pool]]
            best = int(pool[int(np.argmax(ratio))])
            alive[best] = False
            j = int(cand[best])
            gains.append(objective.add(j))
            order.append(j)
            spent += costs[j]
            if report is not None and len(order) % step == 0:
                report(len(order) / n_new, f"greedy: {len(order)} picks")
    if float(first[best_single]) > float(np.sum(gains)):
        return (np.array([cand[best_single]], dtype=np.int64),
                np.array([float(first[best_single])]))
    return np.asarray(order, dtype=np.int64), np.asarray(gains, dtype=np.float64)
