"""Compiled kernels (numba), private: typed, cached, reading float32 rows in place so that
memory-mapped data works. Each has a plain-numpy reference in the tests."""

from __future__ import annotations

import numpy as np
from numba import njit


#: Rows per work unit of the k-center pass. Fixed (not derived from the thread count), so the
#: arg-max, combined across units in order, never depends on how many threads ran.
KCENTER_CHUNK = 4096


@njit(cache=True, fastmath=True, nogil=True)
def sqdist_vectors(a, b):
    """Squared Euclidean distance between two float32 vectors: differences of the float32
    values taken exactly in float64 and summed in float64 (SIMD), so the arg-max does not
    hinge on float32 rounding (picks equal a float64 reference's). The same value whether
    the centre is a row of X or a vector sent to a partition."""
    s = 0.0
    for j in range(a.shape[0]):
        d = np.float64(a[j]) - np.float64(b[j])
        s += d * d
    return s


@njit(cache=True, nogil=True)
def centre_gaps(X, centers, k, c, cc):
    """``cc[j]``: the distance between row ``c`` and the j-th centre (row ``centers[j]``) of
    X, for j < k."""
    for j in range(k):
        cc[j] = np.sqrt(np.float64(sqdist_vectors(X[centers[j]], X[c])))


@njit(cache=True, nogil=True)
def kcenter_pass(X, cv, cc, mind, assign, candidate, k, best_idx, best_val, evals, u_lo, u_hi):
    """The per-chunk step of k-center over chunks ``u_lo`` .. ``u_hi``-1 (of
    :data:`KCENTER_CHUNK` rows): centre vector ``cv`` (the k-th centre; ``cc[a]`` its
    distance to centre a) lowers ``mind`` / sets ``assign`` where it is nearer, skipping rows
    the triangle inequality rules out, and each chunk's arg-max of ``mind`` over candidate
    rows (ties: lowest index) lands in ``best_idx`` / ``best_val``. Serial and free of the
    GIL: :func:`explorer.strategies.kcenter.kcenter_sweep` runs ranges of chunks on threads
    (numba's ``parallel=True`` would compile it several times as long, which a first session
    waits for)."""
    n = X.shape[0]
    for u in range(u_lo, u_hi):
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
