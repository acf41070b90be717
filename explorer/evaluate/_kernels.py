"""Compiled kernels (numba) for the scorecard, private. Each finishes, in one pass over a
block's Gram matrix, the work numpy did in several passes with temporaries; the plain-numpy
forms they replace are the references in the tests. Each is serial over a range of rows
lo .. hi-1 and releases the GIL, and writes per-row results that the caller sums, so
:func:`explorer.space.over_row_ranges` can run ranges on threads without changing a bit."""

from __future__ import annotations

import numpy as np
from numba import njit

from .._space_kernels import exact_sq_distance, first_argmin, nearest_in_block


@njit(cache=True, nogil=True, fastmath=True)
def nearest_from_gram(G, block, S, s_sq, m, k, out, offset, lo, hi):
    """For each row i in lo .. hi-1 of ``block`` and each of m subsets (columns t*k ..
    t*k+k-1 of ``S``):
    the subset row minimising |s|^2 - 2 <block_i, s> (float32, from the Gram matrix ``G``),
    then its squared distance recomputed exactly from the row difference in float64, written
    to ``out[t, offset + i]``. Ties go to the first row, as numpy's argmin does."""
    v = np.empty(k, dtype=np.float32)
    for i in range(lo, hi):
        for t in range(m):
            bj = nearest_in_block(G, i, s_sq, t * k, k, v)
            out[t, offset + i] = exact_sq_distance(block, i, S, bj)


@njit(cache=True, nogil=True, fastmath=True)
def kernel_sums_from_gram(G, p_sq, s_sq, gamma, m, k, partial, lo, hi):
    """Per block row i in lo .. hi-1 and subset t (columns t*k .. t*k+k-1): the sum over the
    subset's rows of exp(-gamma * max(|p_i|^2 + |s|^2 - 2 <p_i, s>, 0)), in float64, written
    to ``partial[i, t]``."""
    for i in range(lo, hi):
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


@njit(cache=True, nogil=True, fastmath=True)
def pairwise_from_gram(G, T, b_sq, t_sq, gamma, half, dist_sum, kern_sum, nearest, lo, hi):
    """One block of the upper triangle of a subset's pairs. ``T`` holds the block's rows
    first, then every later row of the subset; ``G`` = T[:b] @ T.T (b block rows), and
    d = max(|t_i|^2 + |t_j|^2 - 2 <t_i, t_j>, 0) in float64. Returns, over the ordered pairs
    this block stands for (inside the block once, block x later rows twice, by symmetry): the
    sum of the distance of distinct pairs (d / 2 when ``half``, the cosine distance of unit
    rows, else sqrt d), the sum of exp(-gamma d) over all of them (i = j included), and the
    squared distance of the closest distinct pair (found in float32, recomputed exactly from
    the row difference, as :func:`nearest_rows_from_gram` does), per block row i in
    lo .. hi-1, written to ``dist_sum[i]``, ``kern_sum[i]`` and ``nearest[i]`` (inf for a
    one-row subset). One pass, no float64 copy of the block's distances."""
    b, k = G.shape
    v = np.empty(k, dtype=np.float32)
    for i in range(lo, hi):
        acc = 0.0
        kacc = 0.0
        for j in range(b):  # no branch: vectorised; the row's own term is taken out below
            d = max(-2.0 * np.float64(G[i, j]) + b_sq[i] + t_sq[j], 0.0)
            kacc += np.exp(-gamma * d)
            acc += 0.5 * d if half else np.sqrt(d)
        d = max(-2.0 * np.float64(G[i, i]) + b_sq[i] + t_sq[i], 0.0)
        acc -= 0.5 * d if half else np.sqrt(d)
        acc2 = 0.0
        kacc2 = 0.0
        for j in range(b, k):
            d = max(-2.0 * np.float64(G[i, j]) + b_sq[i] + t_sq[j], 0.0)
            kacc2 += np.exp(-gamma * d)
            acc2 += 0.5 * d if half else np.sqrt(d)
        dist_sum[i] = acc + 2.0 * acc2
        kern_sum[i] = kacc + 2.0 * kacc2
        if k > 1:
            for j in range(k):
                v[j] = np.float32(t_sq[j]) - np.float32(2.0) * G[i, j]
            v[i] = np.inf
            nearest[i] = exact_sq_distance(T, i, T, first_argmin(v, k))
