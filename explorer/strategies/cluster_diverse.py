"""Cluster-based selection from the recent literature: sensitivity sampling, concept-cluster
complexity, and Diversify-and-Conquer's k-means with iterative refinement."""

from __future__ import annotations

import numpy as np

from .. import space
from ..cost import KMEANS_COST
from ..params import Interval, Options, Param
from ._allocation import allocate
from .base import Picks, Problem, register
from .kmeans import pick_within, ranked_by_cluster, round_robin


def cluster_pool(problem: Problem, n_clusters: int):
    """k-means on the allowed + pinned rows: (rows, clustering)."""
    pool = problem.allowed.copy()
    pool[problem.pinned] = True
    rows = np.flatnonzero(pool)
    seed = int(problem.rng.integers(2**31))
    return rows, problem.kmeans(min(n_clusters, len(rows)), seed, rows)


def gumbel_top_k(log_w: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k indices sampled without replacement with probability proportional to exp(log_w),
    sequentially (Gumbel top-k trick: Kool, van Hoof & Welling, ICML 2019)."""
    g = log_w + rng.gumbel(size=len(log_w))
    if k >= len(g):
        return np.argsort(-g, kind="stable")
    top = np.argpartition(-g, k - 1)[:k]
    return top[np.argsort(-g[top], kind="stable")]


@register(
    "sensitivity",
    summary="Samples more often the points that are far from their cluster's centre or in "
    "small clusters, and returns weights that correct for it.",
    family="probabilistic",
    paper="Axiotis et al., Data-Efficient Learning via Clustering-Based Sensitivity Sampling: "
    "Foundation Models and Beyond, ICML 2024.",
    params=(
        Param("n_clusters", Interval("int", 1, None), 50, "Number of k-means clusters."),
        Param("alpha", Interval("float", 0, None), 1.0,
              "Weight of the distance-to-centre term against the cluster-size term."),
    ),
    cost=KMEANS_COST,
)
def sensitivity(problem: Problem, n_clusters: int, alpha: float) -> Picks:
    """Clustering-based sensitivity sampling.

    Sensitivity s_i = alpha * d(x_i, c)^2 / sum_{j in cluster} d(x_j, c)^2 + 1 / |cluster|
    (the k-means sensitivity bound the paper samples from); rows are drawn without
    replacement with probability proportional to s_i (Gumbel top-k, seeded), and each pick
    carries the importance weight 1 / (k p_i), normalised to sum to N, so weighted averages
    over the subset estimate averages over the data.

    References
    ----------
    K. Axiotis, V. Cohen-Addad, M. Henzinger, S. Jerome, V. Mirrokni, D. Saulpic, D. Woodruff
    and M. Wunder, "Data-Efficient Learning via Clustering-Based Sensitivity Sampling:
    Foundation Models and Beyond", ICML 2024.
    """
    rows, cl = cluster_pool(problem, n_clusters)
    d2 = np.empty(len(rows), dtype=np.float64)
    for c in range(cl.k):
        m = cl.labels == c
        d2[m] = space.sq_distances(np.asarray(problem.X[rows[m]]), cl.centers[c][None, :])[:, 0]
    tot = np.bincount(cl.labels, weights=d2, minlength=cl.k)
    size = cl.sizes.astype(np.float64)
    s = alpha * d2 / np.where(tot[cl.labels] > 0, tot[cl.labels], 1.0) + 1.0 / size[cl.labels]
    p = s / s.sum()
    cand = problem.allowed[rows]
    local = np.flatnonzero(cand)
    chosen = gumbel_top_k(np.log(p[local]), problem.n_new, problem.rng)
    new = rows[local[chosen]]
    p_all = np.zeros(problem.n)
    p_all[rows] = p
    k = max(1, problem.budget)
    w_new = 1.0 / (k * p_all[new])
    w_pin = 1.0 / (k * np.maximum(p_all[problem.pinned], 1e-12))
    weights = np.concatenate([w_pin, w_new])
    weights *= len(rows) / weights.sum()
    return Picks(np.concatenate([problem.pinned, new]).astype(np.int64), weights=weights,
                 info={"n_clusters": cl.k})


@register(
    "cluster-complexity",
    summary="Gives more of the budget to clusters that are spread out and close to other "
    "clusters (hard concepts), less to tight, isolated ones.",
    family="clustering",
    paper="Abbas et al., Effective pruning of web-scale datasets based on complexity of concept "
    "clusters, ICLR 2024.",
    params=(
        Param("n_clusters", Interval("int", 1, None), 50, "Number of k-means clusters."),
        Param("temperature", Interval("float", 0, None, closed="neither"), 0.5,
              "Softmax temperature over complexity: low concentrates the budget on complex "
              "clusters, high spreads it evenly."),
        Param("min_per_cluster", Interval("int", 0, None), 1,
              "Every cluster gets at least this many picks (when the budget allows)."),
    ),
    cost=KMEANS_COST,
)
def cluster_complexity(problem: Problem, n_clusters: int, temperature: float,
                       min_per_cluster: int) -> Picks:
    """Per-cluster budgets from concept complexity (Density-Based Pruning).

    Complexity of cluster c = d_intra(c) * d_inter(c): the mean distance of its rows to its
    centroid times the mean distance from its centroid to its 5 nearest other centroids (each
    normalised to [0, 1] over clusters); shares = softmax(complexity / temperature), with at
    least ``min_per_cluster`` each, met exactly; random picks within each cluster.

    References
    ----------
    A. Abbas, E. Rusak, K. Tirumala, W. Brendel, K. Chaudhuri and A. S. Morcos, "Effective
    pruning of web-scale datasets based on complexity of concept clusters", ICLR 2024.
    """
    rows, cl = cluster_pool(problem, n_clusters)
    intra = np.zeros(cl.k)
    for c in range(cl.k):
        m = cl.labels == c
        intra[c] = np.sqrt(space.sq_distances(np.asarray(problem.X[rows[m]]),
                                              cl.centers[c][None, :])[:, 0]).mean()
    if cl.k > 1:
        cc = np.sqrt(space.sq_distances(cl.centers, cl.centers))
        np.fill_diagonal(cc, np.inf)
        near = np.sort(cc, axis=1)[:, : min(5, cl.k - 1)]
        inter = near.mean(axis=1)
    else:
        inter = np.ones(1)

    def unit(v):
        span = v.max() - v.min()
        return (v - v.min()) / span if span > 0 else np.ones_like(v)

    complexity = unit(intra) * unit(inter)
    z = complexity / temperature
    weights = np.exp(z - z.max())
    pinned_local = np.searchsorted(rows, problem.pinned)
    pinned_per = np.bincount(cl.labels[pinned_local], minlength=cl.k)
    allowed_local = problem.allowed[rows]
    capacity = pinned_per + np.bincount(cl.labels[allowed_local], minlength=cl.k)
    minimum = np.maximum(pinned_per, np.minimum(min_per_cluster, capacity))
    if minimum.sum() > problem.budget:
        minimum = pinned_per
    quota = allocate(capacity, problem.budget, "proportional", weights=weights,
                     minimum=minimum)
    groups = []
    for c in range(cl.k):
        members = rows[(cl.labels == c) & allowed_local]
        m = int(quota[c] - pinned_per[c])
        groups.append(problem.rng.choice(members, m, replace=False) if m > 0
                      else np.zeros(0, np.int64))
    new = round_robin(groups, quota.astype(np.int64))
    return Picks(np.concatenate([problem.pinned, new]).astype(np.int64),
                 info={"n_clusters": cl.k, "complexity": complexity.round(4).tolist(),
                       "per_cluster": quota.astype(int).tolist(),
                       "cluster_size": np.bincount(cl.labels, minlength=cl.k).tolist()})


@register(
    "k-means-kmq",
    summary="k-means with the budget shared across clusters; with a score column, clusters "
    "whose picks score well get more of the budget in later rounds.",
    family="clustering",
    paper="Yu et al., Diversify and Conquer: Diversity-Centric Data Selection with Iterative "
    "Refinement, 2024 (ICLR 2025).",
    params=(
        Param("n_clusters", Interval("int", 1, None), 50, "Number of k-means clusters."),
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
