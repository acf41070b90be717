"""Greedy k-center (farthest-point traversal): the core-set of Sener & Savarese."""

from __future__ import annotations

import numpy as np

from .. import space
from ._kernels import kcenter_add
from .base import Picks, Problem, register


def farthest_point_order(X: np.ndarray, start: np.ndarray, n_new: int, candidate: np.ndarray,
                         report=None) -> tuple[np.ndarray, np.ndarray, int]:
    """Farthest-point traversal from the rows ``start``; returns (picks after start, their
    Euclidean distance at pick time, number of distance evaluations).

    ``candidate`` marks the rows that may be picked (it is modified in place).
    Streaming and exact: memory is O(N) beyond X, and the triangle inequality skips rows the
    new centre cannot reach.
    """
    n = X.shape[0]
    total = len(start) + n_new
    mind = np.full(n, np.inf)
    assign = np.full(n, -1, dtype=np.int64)
    centers = np.empty(total, dtype=np.int64)
    cc = np.empty(total, dtype=np.float64)
    picks = np.empty(n_new, dtype=np.int64)
    dists = np.empty(n_new, dtype=np.float64)
    evaluated = 0
    nxt = -1
    for k, c in enumerate(start):
        nxt, d, ev = kcenter_add(X, int(c), centers, k, mind, assign, candidate, cc)
        evaluated += ev
    step = max(1, n_new // 50)
    for t in range(n_new):
        if nxt < 0:
            raise AssertionError("k-center ran out of candidate rows")
        picks[t] = nxt
        dists[t] = mind[nxt]
        nxt, d, ev = kcenter_add(X, int(nxt), centers, len(start) + t, mind, assign,
                                 candidate, cc)
        evaluated += ev
        if report is not None and t % step == 0:
            report(t / n_new, f"k-center: {t} of {n_new} picks")
    return picks, dists, evaluated


@register(
    "k-center",
    summary="Spreads picks over the whole space: each new pick is the point farthest from "
    "everything picked so far.",
    family="coverage",
    paper="Sener & Savarese, Active Learning for Convolutional Neural Networks: A Core-Set "
    "Approach, ICLR 2018; Gonzalez, Clustering to minimize the maximum intercluster "
    "distance, 1985.",
    greedy=True,
)
def k_center(problem: Problem) -> Picks:
    """Greedy k-center: minimise the largest distance from any point to its nearest pick.

    Starts from the pinned rows, or from one seeded random allowed row; then repeatedly adds
    the allowed row farthest from its nearest selected row (ties: lowest index). The greedy
    order is a 2-approximation of the optimal k-center radius, and every prefix is the
    selection for that smaller budget. Exact and streaming: one fused pass per pick that skips
    rows the triangle inequality proves cannot move, so large or memory-mapped matrices work.
    ``gains`` holds each pick's distance to the selection at pick time (NaN for the start).

    References
    ----------
    O. Sener and S. Savarese, "Active Learning for Convolutional Neural Networks: A Core-Set
    Approach", ICLR 2018.
    T. F. Gonzalez, "Clustering to minimize the maximum intercluster distance", Theoretical
    Computer Science 38, 1985.

    Examples
    --------
    >>> import numpy as np, explorer
    >>> X = np.array([[0.0], [1.0], [10.0], [4.0]], dtype=np.float32)
    >>> explorer.select(explorer.Dataset.from_arrays(X), "k-center", 3, pinned=[0]).indices
    array([0, 2, 3])
    """
    candidate = problem.allowed.copy()
    start = problem.pinned
    if len(start) == 0:
        first = int(problem.rng.choice(np.flatnonzero(candidate)))
        start = np.array([first], dtype=np.int64)
        head = start
    else:
        head = problem.pinned
    n_new = problem.budget - len(start)
    picks, dists, evaluated = farthest_point_order(problem.X, start, n_new, candidate,
                                                   problem.report)
    order = np.concatenate([head, picks]).astype(np.int64)
    gains = np.concatenate([np.full(len(head), np.nan),
                            space.to_metric(dists**2, problem.metric)])
    return Picks(order, gains=gains,
                 info={"radius": float(gains[-1]) if n_new else float("nan"),
                       "distance_evaluations": int(evaluated)})
