"""k-means cluster sampling: one (or a few) representatives per cluster, and k-means quota
sampling with iterative refinement (kMQ)."""

from __future__ import annotations

import numpy as np

from ..cost import KMEANS_COST
from ..params import Interval, Options, Param
from ._allocation import allocate
from ._cluster_pool import N_CLUSTERS, cluster_pool
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
    rows, clusters = cluster_pool(problem, max(1, problem.n_new) if n_clusters is None
                                  else n_clusters)
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


@register(
    "k-means-kmq",
    summary="k-means with the budget shared across clusters; with a score column, clusters "
    "whose picks score well get more of the budget in later rounds.",
    family="clustering",
    paper="Yu et al., Diversify and Conquer: Diversity-Centric Data Selection with Iterative "
    "Refinement, 2024 (ICLR 2025).",
    params=(
        N_CLUSTERS,
        Param("allocation", Options(("proportional", "equal")), "proportional",
              "Budget per cluster by cluster size, or the same for every cluster."),
        Param("pick", Options(("nearest", "median", "random")), "random",
              "Which rows of a cluster: nearest its centre, at the median distance, or at "
              "random."),
        Param("iterations", Interval("int", 1, 20), 1,
              "Rounds of refinement (used with a score column): each round re-weights the "
              "clusters by the mean score of their picks so far."),
        Param("prefer", Options(("high", "low")), "high",
              "With a score column: whether clusters with high or low scores get more."),
    ),
    cost=KMEANS_COST,
)
def k_means_kmq(problem: Problem, n_clusters: int, allocation: str, pick: str,
                iterations: int, prefer: str) -> Picks:
    """k-means quota sampling (kMQ) with optional iterative refinement.

    Round 1 spends budget / iterations across the k-means clusters (proportional to size or
    equal, met exactly) and picks inside each cluster nearest / at the median distance / at
    random. Each later round (only when a score column is given) re-weights the clusters by
    the mean score of their picks so far (a softmax over standardised means; ``prefer``
    chooses the direction) and spends the next share of the budget. The paper scores clusters
    with a model trained on the picks; this uses the user's score column as that stand-in.

    References
    ----------
    S. Yu et al., "Diversify and Conquer: Diversity-Centric Data Selection with Iterative
    Refinement", arXiv:2409.11378, 2024 (ICLR 2025).
    """
    rows, cl = cluster_pool(problem, n_clusters)
    allowed_local = problem.allowed[rows]
    pinned_local = np.searchsorted(rows, problem.pinned)
    taken = np.zeros(len(rows), dtype=bool)
    taken[pinned_local] = True
    rounds = iterations if problem.scores is not None else 1
    shares = np.diff(np.round(np.linspace(0, problem.n_new, rounds + 1)).astype(int))
    weights = cl.sizes.astype(np.float64) if allocation == "proportional" else np.ones(cl.k)
    picked_rounds = []
    for r, share in enumerate(shares):
        if r > 0:
            mean = np.array([problem.scores[rows[taken & (cl.labels == c)]].mean()
                             if (taken & (cl.labels == c)).any() else np.nan
                             for c in range(cl.k)])
            fill = np.nanmean(mean) if np.isfinite(mean).any() else 0.0
            mean = np.where(np.isfinite(mean), mean, fill)
            zs = (mean - mean.mean()) / (mean.std() or 1.0)
            zs = zs if prefer == "high" else -zs
            base = cl.sizes.astype(np.float64) if allocation == "proportional" else np.ones(cl.k)
            weights = base * np.exp(zs)
        capacity = np.bincount(cl.labels[allowed_local & ~taken], minlength=cl.k)
        quota = allocate(capacity, int(share), "proportional", weights=weights)
        groups = []
        for c, ranked in enumerate(ranked_by_cluster(cl, rows, allowed_local & ~taken)):
            chosen = pick_within(ranked, int(quota[c]), pick, problem.rng)
            groups.append(np.asarray(chosen, dtype=np.int64))
        new = round_robin(groups, cl.sizes)
        taken[np.searchsorted(rows, new)] = True
        picked_rounds.append(new)
    new = np.concatenate(picked_rounds) if picked_rounds else np.zeros(0, np.int64)
    return Picks(np.concatenate([problem.pinned, new]).astype(np.int64),
                 info={"n_clusters": cl.k, "rounds": int(rounds)})
