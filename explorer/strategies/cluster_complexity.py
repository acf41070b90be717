"""Concept-cluster complexity: more of the budget to spread-out clusters near other clusters
(Density-Based Pruning)."""

from __future__ import annotations

import numpy as np

from .. import space
from ..cost import KMEANS_COST
from ..params import Interval, Param
from ._allocation import allocate
from ._cluster_pool import N_CLUSTERS, cluster_pool, sq_distances_to_centres
from .base import Picks, Problem, register
from .kmeans import round_robin


@register(
    "cluster-complexity",
    summary="Gives more of the budget to clusters that are spread out and close to other "
    "clusters (hard concepts), less to tight, isolated ones.",
    family="clustering",
    paper="Abbas et al., Effective pruning of web-scale datasets based on complexity of concept "
    "clusters, ICLR 2024.",
    params=(
        N_CLUSTERS,
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
    d2 = sq_distances_to_centres(problem.X, rows, cl)
    intra = np.zeros(cl.k)
    for c in range(cl.k):
        intra[c] = np.sqrt(d2[cl.labels == c]).mean()
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
