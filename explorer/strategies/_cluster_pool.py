"""What the strategies that cluster the candidate pool share: the clustering, each row's
distance to its centre and the ``n_clusters`` parameter, private."""

from __future__ import annotations

import numpy as np

from .. import space
from ..params import Interval, Param
from .base import Problem

#: The ``n_clusters`` parameter of the strategies that cluster the pool.
N_CLUSTERS = Param("n_clusters", Interval("int", 1, None), 50, "Number of k-means clusters.")


def cluster_pool(problem: Problem, n_clusters: int):
    """k-means on the allowed + pinned rows: (rows, clustering)."""
    pool = problem.allowed.copy()
    pool[problem.pinned] = True
    rows = np.flatnonzero(pool)
    seed = int(problem.rng.integers(2**31))
    return rows, problem.kmeans(min(n_clusters, len(rows)), seed, rows)


def sq_distances_to_centres(X: np.ndarray, rows: np.ndarray, clustering) -> np.ndarray:
    """Squared Euclidean distance (float64) of each of ``X[rows]`` to its own cluster's
    centre in ``clustering``, a clustering of ``rows``."""
    d2 = np.empty(len(rows), dtype=np.float64)
    for c in range(clustering.k):
        members = clustering.labels == c
        d2[members] = space.sq_distances(np.asarray(X[rows[members]]),
                                         clustering.centers[c][None, :])[:, 0]
    return d2
