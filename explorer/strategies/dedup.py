"""Near-duplicate removal at a distance threshold, one representative per duplicate group."""

from __future__ import annotations

import numpy as np

from ..params import Interval, Options, Param
from .base import Picks, Problem, register

BLOCK = 2048


def _sq64(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Squared distances in float64 (the threshold test must not depend on float32 rounding)."""
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    d = A @ B.T
    d *= -2.0
    d += np.einsum("ij,ij->i", A, A)[:, None]
    d += np.einsum("ij,ij->i", B, B)[None, :]
    return np.maximum(d, 0.0, out=d)


def leader_dedup(X: np.ndarray, order: np.ndarray, limit_sq: float, kept_first: np.ndarray,
                 report=None) -> np.ndarray:
    """Scan rows in ``order``; keep a row iff no kept row is within ``limit_sq`` (squared
    distance). ``kept_first`` rows are kept before the scan. Returns kept rows in keep order.

    Blocked: each block of candidates is compared with the kept rows (in chunks) by one
    matrix product, then resolved among itself in order; memory stays O(BLOCK^2).
    """
    kept = [np.asarray(kept_first, dtype=np.int64)]
    kept_X = [np.asarray(X[kept_first], dtype=np.float64)] if len(kept_first) else []
    n = len(order)
    for s in range(0, n, BLOCK):
        block = order[s : s + BLOCK]
        Xb = np.asarray(X[block], dtype=np.float64)
        alive = np.ones(len(block), dtype=bool)
        for KX in kept_X:
            d = _sq64(Xb[alive], KX)
            hit = (d <= limit_sq).any(axis=1)
            idx = np.flatnonzero(alive)
            alive[idx[hit]] = False
        idx = np.flatnonzero(alive)
        if len(idx):
            d = _sq64(Xb[idx], Xb[idx])
            close = d <= limit_sq
            keep_local = np.zeros(len(idx), dtype=bool)
            for a in range(len(idx)):
                # kept iff no earlier kept row of this block is within the threshold
                if not (close[a, :a] & keep_local[:a]).any():
                    keep_local[a] = True
            chosen = idx[keep_local]
            kept.append(block[chosen])
            kept_X.append(Xb[chosen])
        if len(kept_X) > 8:  # merge small pieces so the matrix products stay large
            kept_X = [np.concatenate(kept_X)]
        if report is not None:
            report(min(1.0, (s + BLOCK) / max(1, n)), "dedup: scanning rows")
    return np.concatenate(kept).astype(np.int64)


@register(
    "dedup",
    summary="Removes near-duplicates: keeps one point of every group of points closer than "
    "a threshold.",
    family="deduplication",
    paper="Broder, On the resemblance and containment of documents, 1997; Lee et al., "
    "Deduplicating Training Data Makes Language Models Better, ACL 2022.",
    params=(
        Param("threshold", Interval("float", 0, None), 0.05,
              "Two points at this distance or closer are duplicates (for cosine: 1 - "
              "similarity, so 0.05 means similarity 0.95 or more)."),
        Param("keep", Options(("first", "random")), "first",
              "Which point of a duplicate group stays: the first row, or a seeded random one."),
    ),
    exact_budget=False,
    randomized=False,
)
def dedup(problem: Problem, threshold: float, keep: str) -> Picks:
    """Near-duplicate removal by a greedy leader scan.

    Rows are scanned in order (row order, or a seeded random order); a row is kept iff no
    already-kept row is within ``threshold`` (distance in the problem's metric: Euclidean, or
    cosine distance 1 - cos). Pinned rows are always kept, first. The result contains no pair
    at distance <= threshold, and every removed row is within the threshold of a kept row.
    Returns every representative (at most ``budget``, in keep order); ``info`` says how many
    were removed. Cost: N x (kept rows) distance evaluations, in blocked matrix products.

    References
    ----------
    A. Z. Broder, "On the resemblance and containment of documents", SEQUENCES 1997.
    K. Lee et al., "Deduplicating Training Data Makes Language Models Better", ACL 2022.

    Examples
    --------
    >>> import numpy as np, explorer
    >>> X = np.array([[0.0], [0.01], [1.0], [1.02], [3.0]], dtype=np.float32)
    >>> data = explorer.Dataset.from_arrays(X)
    >>> explorer.select(data, "dedup", None, params={"threshold": 0.05}).indices
    array([0, 2, 4])
    """
    limit_sq = threshold**2 if problem.metric == "euclidean" else 2.0 * threshold
    candidates = np.flatnonzero(problem.allowed)
    if keep == "random":
        candidates = problem.rng.permutation(candidates)
    kept = leader_dedup(problem.X, candidates, limit_sq, problem.pinned, problem.report)
    n_pool = len(candidates) + len(problem.pinned)
    info = {"threshold": threshold, "n_representatives": int(len(kept)),
            "n_removed": int(n_pool - len(kept))}
    return Picks(kept[: problem.budget], info=info)
