"""Clustering-based sensitivity sampling: rows far from their centre or in small clusters are
drawn more often, and weighted back."""

from __future__ import annotations

import numpy as np

from ..cost import KMEANS_COST
from ..params import Interval, Param
from ._cluster_pool import N_CLUSTERS, cluster_pool, sq_distances_to_centres
from ._sampling import gumbel_top_k
from .base import Picks, Problem, register


@register(
    "sensitivity",
    summary="Samples more often the points that are far from their cluster's centre or in "
    "small clusters, and returns weights that correct for it.",
    family="probabilistic",
    paper="Axiotis et al., Data-Efficient Learning via Clustering-Based Sensitivity Sampling: "
    "Foundation Models and Beyond, ICML 2024.",
    params=(
        N_CLUSTERS,
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
    d2 = sq_distances_to_centres(problem.X, rows, cl)
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
