"""Max-min dispersion (DivPrune): picks as far from each other as possible."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import space
from ..params import Options, Param
from .base import Picks, Problem, register
from .kcenter import TRAVERSAL_COST, farthest_point_order


@register(
    "max-min",
    summary="Makes the picks as different from each other as possible: maximises the smallest "
    "distance between two picks.",
    family="coverage",
    paper="Alvar et al., DivPrune: Diversity-based Visual Token Pruning for Large Multimodal "
    "Models, CVPR 2025; Ravi, Rosenkrantz & Tayi, Heuristic and special case algorithms for "
    "dispersion problems, 1994.",
    params=(
        Param("start", Options(("farthest-from-mean", "random")), "farthest-from-mean",
              "The first pick: the row farthest from the data's mean (an extreme point), or a "
              "seeded random row."),
    ),
    greedy=True,
    # the farthest-from-mean start reads the matrix once in float64
    cost=replace(TRAVERSAL_COST, memory=lambda s: 24 * s.n + 2 * s.matrix),
)
def max_min(problem: Problem, start: str) -> Picks:
    """Greedy max-min diversity (the Max-Min Dispersion Problem DivPrune solves).

    Adds, one at a time, the allowed row whose distance to its nearest pick is largest — a
    2-approximation of the largest achievable minimum pairwise distance. It shares k-center's
    farthest-point kernel; it differs in its objective (the spread *among the picks*, reported
    as ``info['min_pairwise_distance']``, not the coverage of every row) and its start: the row
    farthest from the data's mean unless ``start='random'``. DivPrune measures cosine distance:
    run it with ``metric='cosine'``.

    References
    ----------
    S. R. Alvar, G. Singh, M. Akbari and Y. Zhang, "DivPrune: Diversity-based Visual Token
    Pruning for Large Multimodal Models", CVPR 2025.
    S. S. Ravi, D. J. Rosenkrantz and G. K. Tayi, "Heuristic and special case algorithms for
    dispersion problems", Operations Research 42, 1994.
    """
    candidate = problem.allowed.copy()
    head = problem.pinned
    if len(head) == 0:
        rows = np.flatnonzero(candidate)
        if start == "random":
            first = int(problem.rng.choice(rows))
        else:
            mean = np.zeros(problem.X.shape[1], dtype=np.float64)
            for s in range(0, problem.n, 65536):
                mean += np.asarray(problem.X[s : s + 65536], dtype=np.float64).sum(axis=0)
            mean /= problem.n
            d, _ = space.nearest(problem.X[rows], mean[None, :].astype(np.float32), "euclidean")
            first = int(rows[int(np.argmax(d))])
        head = np.array([first], dtype=np.int64)
    n_new = problem.budget - len(head)
    picks, dists, _ = farthest_point_order(problem.X, head, n_new, candidate, problem.report)
    order = np.concatenate([head, picks]).astype(np.int64)
    gains = np.concatenate([np.full(len(head), np.nan), space.to_metric(dists**2,
                                                                         problem.metric)])
    info = {}
    if len(order) >= 2:
        d = space.pairwise(problem.X[order], problem.X[order], problem.metric) \
            if len(order) <= 4000 else None
        if d is not None:
            np.fill_diagonal(d, np.inf)
            info["min_pairwise_distance"] = float(d.min())
    return Picks(order, gains=gains, info=info)
