"""Compiled kernels (numba) for the scorecard, private. Each finishes, in one pass over a
block's Gram matrix, the work numpy did in several passes with temporaries; the plain-numpy
forms they replace are the references in the tests."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._space_kernels import exact_sq_distance, nearest_in_block


@njit(cache=True, parallel=True, nogil=True, fastmath=True)
def nearest_from_gram(G, block, S, s_sq, m, k, out, offset):
    """For each row i of ``block`` and each of m subsets (columns t*k .. t*k+k-1 of ``S``):
    the subset row minimising |s|^2 - 2 <block_i, s> (float32, from the Gram matrix ``G``),
    then its squared distance recomputed exactly from the row difference in float64, written
    to ``out[t, offset + i]``. Ties go to the first row, as numpy's argmin does."""
    for i in prange(G.shape[0]):
        v = np.empty(k, dtype=np.float32)
        for t in range(m):
            bj = nearest_in_block(G, i, s_sq, t * k, k, v)
            out[t, offset + i] = exact_sq_distance(block, i, S, bj)


@njit(cache=True, parallel=True, nogil=True, fastmath=True)
def kernel_sums_from_gram(G, p_sq, s_sq, gamma, m, k):
    """Per subset t (columns t*k .. t*k+k-1): the sum over the block's rows and the subset's
    rows of exp(-gamma * max(|p|^2 + |s|^2 - 2 <p, s>, 0)), in float64."""
    b = G.shape[0]
    partial = np.zeros((b, m))
    for i in prange(b):
        for t in range(m):
            acc = 0.0
            for j in range(t * k, (t + 1) * k):
                d = -2.0 * np.float64(G[i, j])
                d += p_sq[i]
                d += s_sq[j]
                if d < 0.0:
                    d = 0.0
                acc += np.exp(-gamma * d)
            partial[i, t] = acc
    return partial.sum(axis=0)
