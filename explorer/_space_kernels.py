"""Compiled kernels (numba) for space.py, private. The plain-numpy form each replaces is its
reference in the tests."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True, nogil=True, fastmath=True)
def nearest_rows_from_gram(G, block, C, c_sq, dist, arg, offset):
    """For each row i of ``block``: the row j of ``C`` minimising |c_j|^2 - 2 <block_i, c_j>
    (float32, from the Gram matrix ``G`` = block @ C.T), written to ``arg[offset + i]``,
    and its squared distance recomputed exactly from the row difference in float64, written
    to ``dist[offset + i]``. Ties go to the first row, as numpy's argmin does."""
    b = G.shape[0]
    k = G.shape[1]
    dim = block.shape[1]
    for i in prange(b):
        v = np.empty(k, dtype=np.float32)
        for j in range(k):  # vectorised: no branch in this loop
            v[j] = c_sq[j] - np.float32(2.0) * G[i, j]
        best = v[0]
        bj = 0
        for j in range(1, k):
            if v[j] < best:
                best = v[j]
                bj = j
        s = 0.0
        for d in range(dim):
            x = np.float64(block[i, d]) - np.float64(C[bj, d])
            s += x * x
        dist[offset + i] = s
        arg[offset + i] = bj
