"""Subset metrics as plain functions on arrays (each has a hand-computable case in the tests).

Conventions: ``Z`` is the population in the evaluation space (prepared rows, or their PCA),
``idx`` the subset's row indices. Distances are Euclidean on ``Z``; under the cosine metric
they are turned into cosine distances (``d^2 / 2``) by the caller via ``space.to_metric``.
"""

from __future__ import annotations

import numpy as np

from .. import space
from ._kernels import kernel_sums_from_gram, nearest_from_gram, pairwise_from_gram


def nearest_many(Z: np.ndarray, subsets, source: np.ndarray | None = None,
                 block_bytes: int = space.BLOCK_BYTES) -> np.ndarray:
    """For several subsets at once (lists of row indices, all of the same size k): each
    row of ``Z``'s squared distance to its nearest row of each subset, shape (len, N).
    Subset rows are taken from ``source`` (default ``Z``), so ``Z`` may be a sample of the
    population that the coverage is measured on.

    One blocked pass over the population with one matrix product against all subsets'
    rows together (so 30 random draws cost about one large product, not 30 small ones).
    The nearest row is found in float32, then its distance recomputed exactly in float64
    from the row difference (no float32 cancellation). Memory stays near ``block_bytes``.
    """
    return nearest_and_kernel_sums(Z, subsets, Z if source is None else source,
                                   np.zeros(0, np.int64), np.zeros(0), 0.0, block_bytes)[0]


def nearest_and_kernel_sums(Z: np.ndarray, subsets, source: np.ndarray, kernel_at: np.ndarray,
                            kernel_sq: np.ndarray, gamma: float,
                            block_bytes: int = space.BLOCK_BYTES):
    """:func:`nearest_many` and :func:`kernel_sums` from one shared matrix product per block,
    when the MMD's population rows are rows of ``Z`` (the coverage sample): ``kernel_at``
    (sorted positions in ``Z``) with squared norms ``kernel_sq``. Returns (nearest squared
    distances (len, N), kernel sums (len,)). The two metrics need products of about the same
    size, so one product serves both and the kernel sums add only their exp pass."""
    subsets = [np.asarray(i, dtype=np.int64) for i in subsets]
    m, k = len(subsets), len(subsets[0])
    allrows = np.concatenate(subsets)
    S = np.ascontiguousarray(source[allrows], dtype=np.float32)
    s_sq32 = np.einsum("ij,ij->i", S, S)
    s_sq64 = np.einsum("ij,ij->i", S, S, dtype=np.float64)
    kernel_at = np.asarray(kernel_at, dtype=np.int64)
    kernel_sq = np.ascontiguousarray(kernel_sq, dtype=np.float64)
    n = Z.shape[0]
    near = np.empty((m, n), dtype=np.float64)
    total = np.zeros(m)
    rows = max(1, block_bytes // (4 * len(allrows)))
    for s in range(0, n, rows):
        block = np.ascontiguousarray(Z[s : s + rows], dtype=np.float32)
        G = block @ S.T
        space.over_row_ranges(len(block), lambda lo, hi: nearest_from_gram(
            G, block, S, s_sq32, m, k, near, s, lo, hi))
        a, b = np.searchsorted(kernel_at, [s, s + len(block)])
        if b > a:
            local = kernel_at[a:b] - s
            Gk = G[local[0] : local[-1] + 1] if local[-1] - local[0] + 1 == len(local) \
                else np.ascontiguousarray(G[local])
            total += _kernel_sums(Gk, kernel_sq[a:b], s_sq64, gamma, m, k)
    return near, total


def _kernel_sums(G, p_sq, s_sq, gamma: float, m: int, k: int) -> np.ndarray:
    """Per subset: the kernel sums of one block (see ``kernel_sums_from_gram``)."""
    partial = np.empty((G.shape[0], m))
    space.over_row_ranges(G.shape[0], lambda lo, hi: kernel_sums_from_gram(
        G, p_sq, s_sq, float(gamma), m, k, partial, lo, hi))
    return partial.sum(axis=0)


def kernel_sum(Z: np.ndarray, z_sq: np.ndarray, rows: np.ndarray, idx: np.ndarray,
               gamma: float, block_bytes: int = space.BLOCK_BYTES) -> float:
    """Sum over (population row in ``rows``, subset row) pairs of exp(-gamma d^2), in
    float64 (the MMD is a small difference of such sums: float32 would leave ~1e-4 of
    noise where the answer is 0)."""
    return float(kernel_sums(Z, z_sq, rows, [idx], gamma, block_bytes)[0])


def kernel_sums(Z: np.ndarray, z_sq: np.ndarray, rows: np.ndarray, subsets, gamma: float,
                block_bytes: int = space.BLOCK_BYTES) -> np.ndarray:
    """:func:`kernel_sum` for several subsets of one size at once: one matrix product per
    block of ``rows`` against every subset's rows together."""
    subsets = [np.asarray(i, dtype=np.int64) for i in subsets]
    m, k = len(subsets), len(subsets[0])
    allrows = np.concatenate(subsets)
    S = np.ascontiguousarray(Z[allrows], dtype=np.float32)
    s_sq = np.ascontiguousarray(z_sq[allrows], dtype=np.float64)
    rows = np.asarray(rows)
    total = np.zeros(m)
    step = max(1, block_bytes // (4 * max(1, len(allrows))))
    for a in range(0, len(rows), step):
        r = rows[a : a + step]
        block = np.asarray(Z[r], dtype=np.float32)
        total += _kernel_sums(block @ S.T, np.ascontiguousarray(z_sq[r]), s_sq, gamma, m, k)
    return total


def pairwise_summary(S: np.ndarray, metric: str, gamma: float, block: int = 2048):
    """Mean and min pairwise distance among subset rows (i != j), and the mean RBF kernel over
    all ordered pairs (i = j included). Blocked over the upper triangle (each pair's product
    computed once) with one compiled pass per block. The minimum is exact (its pair's distance recomputed from the row difference)."""
    k = len(S)
    if k < 2:
        return float("nan"), float("nan"), 1.0
    S = np.ascontiguousarray(S, dtype=np.float32)
    s_sq = np.einsum("ij,ij->i", S, S, dtype=np.float64)
    total = 0.0
    minimum = np.inf
    ksum = 0.0
    for a in range(0, k, block):
        T = S[a:]
        G = T[:block] @ T.T
        b = G.shape[0]
        dist_sum, kern_sum, near = np.empty(b), np.empty(b), np.full(b, np.inf)
        space.over_row_ranges(b, lambda lo, hi: pairwise_from_gram(
            G, T, s_sq[a : a + block], s_sq[a:], float(gamma), metric == "cosine",
            dist_sum, kern_sum, near, lo, hi))
        total += dist_sum.sum()
        ksum += kern_sum.sum()
        minimum = min(minimum, near.min())
    mean = total / (k * (k - 1))
    return mean, float(space.to_metric(np.array(minimum), metric)), ksum / (k * k)


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) in nats for histograms (normalised here); terms with p = 0 are 0.

    Finite whenever q > 0 wherever p > 0 (the subset's clusters are the population's).

    >>> round(kl_divergence(np.array([1, 1]), np.array([1, 3])), 4)
    0.1438
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p = p / p.sum()
    q = q / q.sum()
    m = p > 0
    return float(np.sum(p[m] * np.log(p[m] / q[m])))


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in nats (symmetric, at most log 2).

    >>> round(js_divergence(np.array([1, 0]), np.array([0, 1])), 4)
    0.6931
    """
    p = np.asarray(p, dtype=np.float64) / np.sum(p)
    q = np.asarray(q, dtype=np.float64) / np.sum(q)
    m = (p + q) / 2
    return 0.5 * kl_divergence(p, m) + 0.5 * kl_divergence(q, m)


def vendi_score(S: np.ndarray) -> float:
    """Vendi score with the cosine-similarity kernel: exp of the entropy of the eigenvalues of
    K / k. Uses the D x D matrix S_n^T S_n / k (same non-zero eigenvalues as the k x k kernel).

    Between 1 (all rows point the same way) and min(k, D) (orthogonal rows).

    >>> round(vendi_score(np.eye(3, dtype=np.float32)), 6)
    3.0
    >>> round(vendi_score(np.ones((4, 2), dtype=np.float32)), 6)
    1.0
    """
    S = np.asarray(S, dtype=np.float64)
    norms = np.linalg.norm(S, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    Sn = S / norms
    k = len(Sn)
    C = (Sn.T @ Sn) / k if Sn.shape[1] <= k else (Sn @ Sn.T) / k
    lam = np.linalg.eigvalsh(C)
    lam = lam[lam > 1e-12]
    return float(np.exp(-np.sum(lam * np.log(lam))))


def percentile_of(value: float, draws: np.ndarray) -> float:
    """Share of random draws below ``value`` (ties count half), in percent.

    >>> percentile_of(2.0, np.array([1.0, 2.0, 3.0, 4.0]))
    37.5
    """
    draws = np.asarray(draws, dtype=np.float64)
    draws = draws[np.isfinite(draws)]
    if len(draws) == 0 or not np.isfinite(value):
        return float("nan")
    below = np.sum(draws < value)
    equal = np.sum(draws == value)
    return float(100.0 * (below + 0.5 * equal) / len(draws))
