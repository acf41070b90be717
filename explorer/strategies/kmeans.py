"""k-means cluster sampling: one (or a few) representatives per cluster."""

from __future__ import annotations

import numpy as np

from ..cost import KMEANS_COST
from ..params import Interval, Options, Param
from ._allocation import allocate
from .base import Picks, Problem, register


def pick_within(ranked: np.ndarray, m: int, how: str, rng: np.random.Generator) -> np.ndarray:
    """``m`` rows of one cluster, given its rows ``ranked`` by distance to the centre (ties by
    row index): the nearest, those around the median distance, or random ones."""
    if m <= 0 or len(ranked) == 0:
        return np.zeros(0, dtype=np.int64)
    if how == "random":
        return rng.choice(np.sort(ranked), m, replace=False)
    if how == "nearest":
        return ranked[:m]
    mid = len(ranked) // 2  # median: the m rows closest in rank to the median distance
    lo = max(0, min(mid - m // 2, len(ranked) - m))
    return ranked[lo : lo + m]


def ranked_by_cluster(clusters, rows: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    """Per cluster of ``clusters`` (a clustering of ``rows``): its rows where ``mask`` (one
    flag per row of ``rows``), by distance to the centre (exact, from the assignment pass),
    ties by row index. One sort instead of a distance pass per cluster."""
    order = np.lexsort((rows, clusters.distances, clusters.labels))
    order = order[mask[order]]
    bounds = np.searchsorted(clusters.labels[order], np.arange(clusters.k + 1))
    return [rows[order[bounds[c] : bounds[c + 1]]] for c in range(clusters.k)]


def round_robin(groups: list[np.ndarray], sizes: np.ndarray) -> np.ndarray:
    """Interleave the picks of each cluster, largest cluster first, so a prefix is spread."""
    order = np.argsort(-sizes, kind="stable")
    out = []
    depth = max((len(g) for g in groups), default=0)
    for r in range(depth):
        for c in order:
            if r < len(groups[c]):
                out.append(groups[c][r])
    return np.asarray(out, dtype=np.int64)


@register(
    "k-means",
    summary="Groups similar points into clusters and takes a representative from each one.",
    family="clustering",
    paper="Yu et al., Diversify and Conquer: Diversity-Centric Data Selection with Iterative "
    "Refinement, 2024; Arthur & Vassilvitskii, k-means++, 2007.",
    params=(
        Param("n_clusters", Interval("int", 1, None), None,
              "Number of clusters; empty means one cluster per pick (k = budget).",
              optional=True),
        Param("pick", Options(("nearest", "median", "random")), "nearest",
              "Which points of a cluster: nearest its centre, at the median distance, or at "
              "random."),
        Param("allocation", Options(("proportional", "equal")), "proportional",
              "With fewer clusters than picks: picks per cluster by cluster size, or equal."),
    ),
    cost=KMEANS_COST,
)
def k_means(problem: Problem, n_clusters: int | None, pick: str, allocation: str) -> Picks:
    """k-means cluster sampling.

    Clusters the allowed and pinned rows with k-means (k-means++ start; mini-batch training
    above 50,000 rows), then shares the budget among clusters (one each when k = budget,
    otherwise proportional to size or equal, met exactly) and picks inside each cluster the
    rows nearest its centroid, at the median distance, or at random (the variants compared in
    Diversify and Conquer). Pinned rows count toward their cluster's share. Picks are
    interleaved across clusters, largest first. Not greedy: another budget gives another
    clustering.

    References
    ----------
    F. Yu et al., "Diversify and Conquer: Diversity-Centric Data Selection with Iterative
    Refinement", arXiv:2409.11378, 2024 (ICLR 2025).
    D. Arthur and S. Vassilvitskii, "k-means++: The advantages of careful seeding", SODA 2007.
    """
    pool = problem.allowed.copy()
    pool[problem.pinned] = True
    rows = np.flatnonzero(pool)
    k = problem.n_new if n_clusters is None else min(n_clusters, len(rows))
    k = max(1, min(k, len(rows)))
    seed = int(problem.rng.integers(2**31))
    clusters = problem.kmeans(k, seed, rows)
    labels = clusters.labels
    n_k = clusters.k
    pinned_local = np.searchsorted(rows, problem.pinned)
    pinned_per = np.bincount(labels[pinned_local], minlength=n_k)
    capacity = clusters.sizes
    quota = allocate(capacity, problem.budget, allocation if n_clusters is not None else "equal",
                     minimum=pinned_per)
    groups = []
    for c, ranked in enumerate(ranked_by_cluster(clusters, rows, problem.allowed[rows])):
        chosen = pick_within(ranked, int(quota[c] - pinned_per[c]), pick, problem.rng)
        groups.append(np.asarray(chosen, dtype=np.int64))
    new = round_robin(groups, clusters.sizes)
    return Picks(np.concatenate([problem.pinned, new]).astype(np.int64),
                 info={"n_clusters": int(n_k)})
