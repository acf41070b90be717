"""Compiled kernels (numba) for space.py, private. The plain-numpy form each replaces is its
reference in the tests."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


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


@njit(cache=True, parallel=True, nogil=True, fastmath=True)
def nearest_rows_from_gram(G, block, C, c_sq, dist, arg, offset):
    """For each row i of ``block``: the row j of ``C`` minimising |c_j|^2 - 2 <block_i, c_j>
    (float32, from the Gram matrix ``G`` = block @ C.T), written to ``arg[offset + i]``,
    and its squared distance recomputed exactly from the row difference in float64, written
    to ``dist[offset + i]``."""
    k = G.shape[1]
    for i in prange(G.shape[0]):
        v = np.empty(k, dtype=np.float32)
        bj = nearest_in_block(G, i, c_sq, 0, k, v)
        dist[offset + i] = exact_sq_distance(block, i, C, bj)
        arg[offset + i] = bj
