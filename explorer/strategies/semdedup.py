"""SemDeDup: semantic deduplication inside k-means clusters."""

from __future__ import annotations

import numpy as np

from ..clustering import kmeans
from ..params import Interval, Param
from .base import Picks, Problem, register
from .kmeans import round_robin

BLOCK = 4096


def _unit(A: np.ndarray) -> np.ndarray:
    A = np.asarray(A, dtype=np.float32)
    n = np.linalg.norm(A, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return A / n


def semdedup_cluster(Xc: np.ndarray, centre: np.ndarray, eps: float) -> np.ndarray:
    """Positions (in ``Xc``) of the rows SemDeDup keeps in one cluster.

    Rows are ordered from the farthest from the centroid to the nearest; a row is removed when
    its cosine similarity to any earlier row exceeds 1 - eps (the paper's rule, so the one
    farthest from the centroid of each near-duplicate group stays). Blocked: memory
    O(BLOCK x cluster size).
    """
    U = _unit(Xc)
    c = _unit(centre[None, :])[0]
    order = np.argsort(U @ c, kind="stable")  # least similar to the centroid first
    U = U[order]
    m = len(U)
    remove = np.zeros(m, dtype=bool)
    limit = 1.0 - eps
    for s in range(0, m, BLOCK):
        S = U[s : s + BLOCK] @ U[: s + BLOCK].T  # rows s.. against every row up to them
        for r in range(S.shape[0]):
            S[r, s + r :] = -np.inf  # only earlier rows count
        remove[s : s + BLOCK] = S.max(axis=1) > limit
    return order[~remove]


@register(
    "semdedup",
    summary="Removes semantic near-duplicates inside each cluster, keeping the most atypical "
    "example of each duplicate group.",
    family="deduplication",
    paper="Abbas, Tirumala, Simig, Ganguli & Morcos, SemDeDup: Data-efficient learning at "
    "web-scale through semantic deduplication, 2023.",
    params=(
        Param("eps", Interval("float", 0, 1, closed="neither"), 0.05,
              "Rows with cosine similarity above 1 - eps are duplicates (0.05: similarity "
              "above 0.95)."),
        Param("n_clusters", Interval("int", 1, None), 20, "Number of k-means clusters."),
    ),
    exact_budget=False,
)
def semdedup(problem: Problem, eps: float, n_clusters: int) -> Picks:
    """SemDeDup.

    Clusters the allowed rows with k-means, then within each cluster removes every row whose
    cosine similarity to another row exceeds 1 - eps, keeping the one farthest from the
    cluster centroid. Similarity is always cosine (as in the paper), whatever the metric.
    Kept rows are interleaved across clusters (largest first) and capped at the budget; pinned
    rows are always kept, first. ``info`` has the number removed per cluster.

    References
    ----------
    A. Abbas, K. Tirumala, D. Simig, S. Ganguli and A. S. Morcos, "SemDeDup: Data-efficient
    learning at web-scale through semantic deduplication", arXiv:2303.09540, 2023.
    """
    rows = np.flatnonzero(problem.allowed)
    seed = int(problem.rng.integers(2**31))
    Xr = np.asarray(problem.X[rows])
    cl = kmeans(_unit(Xr), min(n_clusters, len(rows)), seed=seed)
    groups = []
    removed = []
    for c in range(cl.k):
        members = np.flatnonzero(cl.labels == c)
        keep = semdedup_cluster(Xr[members], cl.centers[c], eps)
        groups.append(rows[members[np.sort(keep)]])
        removed.append(int(len(members) - len(keep)))
    kept = round_robin(groups, np.array([len(g) for g in groups]))
    out = np.concatenate([problem.pinned, kept]).astype(np.int64)[: problem.budget]
    return Picks(out, info={"eps": eps, "n_removed": int(sum(removed)),
                            "removed_per_cluster": removed, "n_kept": int(len(kept))})
