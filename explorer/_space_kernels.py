"""Compiled kernels (numba) for space.py, private. The plain-numpy form each replaces is its
reference in the tests. The row kernels are serial over a range of rows and release the GIL:
:func:`explorer.space.over_row_ranges` runs them on one range per thread (numba's
``parallel=True`` would compile each twice as long, which a first session waits for)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, fastmath=True)
def nearest_in_block(G, i, c_sq, base, k, v):
    """The column j in base .. base+k-1 minimising c_sq[j] - 2 G[i, j] (float32, ``v`` is
    scratch of length k); ties go to the first, as numpy's argmin does."""
    for j in range(k):  # vectorised: no branch in this loop
        v[j] = c_sq[base + j] - np.float32(2.0) * G[i, base + j]
    return base + first_argmin(v, k)


@njit(cache=True, nogil=True, fastmath=True)
def first_argmin(v, k):
    """The position of the smallest of v[0 .. k-1], the first of ties (as numpy's argmin)."""
    best = v[0]
    bj = 0
    for j in range(1, k):
        if v[j] < best:
            best = v[j]
            bj = j
    return bj


@njit(cache=True, nogil=True, fastmath=True)
def exact_sq_distance(A, i, B, j):
    """|A[i] - B[j]|^2 in float64 from the row difference (no cancellation)."""
    s = 0.0
    for d in range(A.shape[1]):
        x = np.float64(A[i, d]) - np.float64(B[j, d])
        s += x * x
    return s


@njit(cache=True, nogil=True, fastmath=True)
def nearest_rows_from_gram(G, block, C, c_sq, dist, arg, offset, lo, hi):
    """For each row i in lo .. hi-1 of ``block``: the row j of ``C`` minimising
    |c_j|^2 - 2 <block_i, c_j> (float32, from the Gram matrix ``G`` = block @ C.T), written
    to ``arg[offset + i]``, and its squared distance recomputed exactly from the row
    difference in float64, written to ``dist[offset + i]``."""
    k = G.shape[1]
    v = np.empty(k, dtype=np.float32)
    for i in range(lo, hi):
        bj = nearest_in_block(G, i, c_sq, 0, k, v)
        dist[offset + i] = exact_sq_distance(block, i, C, bj)
        arg[offset + i] = bj
