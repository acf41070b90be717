"""Compiled kernels (numba), private: typed, cached, reading float32 rows in place so that
memory-mapped data works. Each has a plain-numpy reference in the tests."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


#: Rows per work unit of the k-center pass. Fixed (not derived from the thread count), so the
#: arg-max, combined across units in order, never depends on how many threads ran.
KCENTER_CHUNK = 4096


@njit(cache=True, fastmath=True, nogil=True)
def _sqdist_rows(X, i, c):
    """Squared Euclidean distance between rows i and c of X: differences of the float32
    values taken exactly in float64 and summed in float64 (SIMD), so the arg-max does not
    hinge on float32 rounding (picks equal a float64 reference's)."""
    return sqdist_vectors(X[i], X[c])


@njit(cache=True, fastmath=True, nogil=True)
def sqdist_vectors(a, b):
    """Squared Euclidean distance between two float32 vectors, as :func:`_sqdist_rows` takes
    it (the same value whether the centre is a row of X or a vector sent to a partition)."""
    s = 0.0
    for j in range(a.shape[0]):
        d = np.float64(a[j]) - np.float64(b[j])
        s += d * d
    return s


@njit(cache=True, parallel=True, nogil=True)
def kcenter_pass(X, cv, cc, mind, assign, candidate, k, best_idx, best_val, evals):
    """The per-partition step of k-center: centre vector ``cv`` (the k-th centre; ``cc[a]``
    its distance to centre a) lowers ``mind`` / sets ``assign`` where it is nearer, skipping
    rows the triangle inequality rules out, and each fixed chunk's arg-max of ``mind`` over
    candidate rows (ties: lowest index) lands in ``best_idx`` / ``best_val``. Used by
    :func:`kcenter_add` on one machine and, per partition, by the distributed driver."""
    n = X.shape[0]
    n_chunks = len(best_idx)
    for u in prange(n_chunks):
        lo = u * KCENTER_CHUNK
        hi = min(n, lo + KCENTER_CHUNK)
        b = -1
        bv = -1.0
        ev = 0
        for i in range(lo, hi):
            m = mind[i]
            if m > 0.0:
                a = assign[i]
                if a < 0 or cc[a] < 2.0 * m:
                    d = np.sqrt(np.float64(sqdist_vectors(X[i], cv)))
                    ev += 1
                    if d < m:
                        mind[i] = d
                        assign[i] = k
                        m = d
            if candidate[i] and m > bv:
                bv = m
                b = i
        best_idx[u] = b
        best_val[u] = bv
        evals[u] = ev


@njit(cache=True, nogil=True)
def kcenter_add(X, c, centers, k, mind, assign, candidate, cc):
    """Add row ``c`` as the k-th centre; return the next farthest candidate (or -1).

    One fused pass: for every row, skip it when the triangle inequality proves the new centre
    cannot be nearer than its current centre (d(a, c) >= 2 r), else compute the distance and
    update its nearest distance ``mind`` and centre ``assign``; track the arg-max of ``mind``
    over candidate rows on the way (ties: lowest index). Work is split into fixed chunks run
    in parallel and combined in order, so the result does not depend on the thread count.
    Returns (next index, its distance, number of distance evaluations).
    """
    for j in range(k):
        cc[j] = np.sqrt(np.float64(_sqdist_rows(X, centers[j], c)))
    centers[k] = c
    candidate[c] = False
    n = X.shape[0]
    n_chunks = (n + KCENTER_CHUNK - 1) // KCENTER_CHUNK
    best_idx = np.empty(n_chunks, dtype=np.int64)
    best_val = np.empty(n_chunks, dtype=np.float64)
    evals = np.empty(n_chunks, dtype=np.int64)
    kcenter_pass(X, X[c], cc, mind, assign, candidate, k, best_idx, best_val, evals)
    best = -1
    best_d = -1.0
    for u in range(n_chunks):
        if best_idx[u] >= 0 and best_val[u] > best_d:
            best_d = best_val[u]
            best = best_idx[u]
    return best, best_d, evals.sum()
