"""SemDeDup: semantic deduplication inside k-means clusters."""

from __future__ import annotations

import numpy as np

from ..clustering import kmeans
from ..cost import CostModel, clusters, kmeans_memory, kmeans_seconds
from ..params import Interval, Param
from .base import Picks, Problem, register
from .kmeans import round_robin

BLOCK = 4096
#: The most bytes of similarities (float32) a cluster's pass holds at once: a block of a
#: large cluster has fewer than :data:`BLOCK` rows, so memory does not grow with the cluster.
BLOCK_BYTES = 256 << 20


def block_rows(size: int) -> int:
    """Rows per block of the pass over a cluster of ``size`` rows (each block is compared
    with every row up to it)."""
    return int(max(1, min(BLOCK, BLOCK_BYTES // (4 * max(size, 1)))))


def _unit(A: np.ndarray) -> np.ndarray:
    A = np.asarray(A, dtype=np.float32)
    n = np.linalg.norm(A, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return A / n


def semdedup_cluster_profile(Xc: np.ndarray, centre: np.ndarray):
    """SemDeDup's quantities in one cluster, for every threshold at once.

    Rows are ordered from the farthest from the centroid to the nearest. Returns
    (``order``, ``best``, ``partner``): ``best[i]`` is row ``order[i]``'s largest cosine
    similarity to any earlier row and ``partner[i]`` that earlier row (positions in ``Xc``;
    -1 for the first row). SemDeDup at eps removes exactly the rows with best > 1 - eps.
    Blocked: at most BLOCK_BYTES of similarities at once (:func:`block_rows`).
    """
    U = _unit(Xc)
    c = _unit(centre[None, :])[0]
    order = np.argsort(U @ c, kind="stable")  # least similar to the centroid first
    U = U[order]
    m = len(U)
    step = block_rows(m)
    best = np.full(m, -np.inf)
    partner = np.full(m, -1, dtype=np.int64)
    for s in range(0, m, step):
        S = U[s : s + step] @ U[: s + step].T  # rows s.. against every row up to them
        for r in range(S.shape[0]):
            S[r, s + r :] = -np.inf  # only earlier rows count
        j = S.argmax(axis=1)
        best[s : s + step] = S[np.arange(S.shape[0]), j]
        partner[s : s + step] = np.where(np.isfinite(best[s : s + step]), order[j], -1)
    return order, best, partner


def semdedup_cluster(Xc: np.ndarray, centre: np.ndarray, eps: float) -> np.ndarray:
    """Positions (in ``Xc``) of the rows SemDeDup keeps in one cluster: a row is removed when
    its cosine similarity to an earlier row (in farthest-from-centroid order) exceeds 1 - eps,
    so the most atypical row of each near-duplicate group stays."""
    order, best, _ = semdedup_cluster_profile(Xc, centre)
    return order[~(best > 1.0 - eps)]


#: Bytes of memory traffic per similarity the cluster pass computes besides the product's
#: arithmetic: written by the product, masked and scanned for the arg-max. At few dimensions
#: this, not the arithmetic, sets the pass's time (tests/test_cost_models.py measures it).
SCAN_BYTES_PER_PAIR = 48


def _pairs_seconds(s) -> float:
    """The cluster passes of ``n`` rows in clusters of ``n / n_clusters``: each block of
    :data:`BLOCK` rows against every row up to it, as products plus their scan."""
    size = s.n / clusters(s)
    pairs = s.n * (size + min(size, BLOCK)) / 2
    return s.product(pairs, 1) + pairs * SCAN_BYTES_PER_PAIR / s.bandwidth


def semdedup_profile(X: np.ndarray, n_clusters: int, seed: int) -> dict:
    """SemDeDup's per-row quantities over the whole data, to choose eps before running it.

    Returns a dict of arrays over rows: ``cluster``, ``best`` (largest cosine similarity to an
    earlier row of its cluster: removed at eps iff best > 1 - eps), ``partner`` (that row),
    ``nearest`` (largest cosine similarity to any other row of its cluster). ``seed`` is the
    selection's seed: the clustering is the one ``select(..., "semdedup", seed=seed)`` uses
    on the same rows (no pins or exclusions).

    >>> import numpy as np
    >>> X = np.array([[1, 0], [0.99, 0.01], [0, 1], [0.02, 1]], dtype=np.float32)
    >>> p = semdedup_profile(X, 1, seed=0)
    >>> int((p["best"] > 0.99).sum())  # at eps 0.01, two rows go
    2
    """
    U = _unit(X)
    km_seed = int(np.random.default_rng(seed).integers(2**31))  # as select() draws it
    cl = kmeans(U, min(n_clusters, len(U)), seed=km_seed)
    n = len(U)
    best = np.full(n, -np.inf)
    nearest = np.full(n, -np.inf)
    partner = np.full(n, -1, dtype=np.int64)
    for c in range(cl.k):
        members = np.flatnonzero(cl.labels == c)
        order, b, p = semdedup_cluster_profile(U[members], cl.centers[c])
        best[members[order]] = b
        partner[members[order]] = np.where(p >= 0, members[np.maximum(p, 0)], -1)
        step = block_rows(len(members))
        for s in range(0, len(members), step):
            S = U[members[s : s + step]] @ U[members].T
            S[np.arange(S.shape[0]), np.arange(s, s + S.shape[0])] = -np.inf
            nearest[members[s : s + step]] = S.max(axis=1)
    return {"cluster": cl.labels, "best": best, "partner": partner, "nearest": nearest}


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
    sets_size=True,
    cost=CostModel(
        # k-means, then every earlier pair inside each cluster: computed and scanned
        seconds=lambda s: kmeans_seconds(s, clusters(s)) + _pairs_seconds(s),
        memory=lambda s: kmeans_memory(s, clusters(s)) + min(
            4 * min(s.n / clusters(s), BLOCK) * s.n / clusters(s), BLOCK_BYTES),
        advice="Use more clusters (each compares its own pairs), or select from a sample."),
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
