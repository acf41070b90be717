"""Compiled kernels of the facility-location objective (numba), private.

The objective is held in *distance form*. With similarities ``s_ij = M - D_ij`` (``D >= 0``,
``M`` the largest ``D``), ``f(A) = sum_i max(0, max_{j in A} s_ij) = sum_i (M - r_i)`` where
``r_i = min(M, min_{j in A} D_ij)`` is row i's *residual* (``M`` while no pick covers it). The
marginal gain of a candidate j is ``sum_i max(r_i - D_ij, 0)``; adding j sets
``r_i <- min(r_i, D_ij)``. The residuals are float32 (they are always entries of ``D`` or
``M``, so nothing is rounded); every sum is float64.

Two layouts of ``D``, one code path (``dense`` flag; the unused layout gets 1-element dummies):

* dense: a symmetric (N, N) float32 matrix; candidate j reads row j contiguously;
* sparse: the k-nearest-neighbour graph transposed to CSR (``indptr``, ``rows``, ``vals``):
  candidate j reads the rows i that hold j among their neighbours, and ``D_ij`` for each. A
  pair outside the graph counts as ``D = M`` (similarity 0).

Each gain is summed sequentially by one thread; work is split over candidates only, so no
result depends on the number of threads. The lazy greedy keeps a binary max-heap of stale
upper bounds ordered by (gain descending, row ascending), so exact ties go to the lowest row,
as in the naive greedy (Minoux 1978).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._heap import sift_down


#: Tile side of the symmetric distance pass.
TILE = 64


@njit(cache=True, nogil=True)
def _sqdist_tile_row(G, sq, scale, cap, bi, nt):
    """Tiles (bi, 0..bi) of the lower triangle: turn Gram entries into distances (row by
    row), then mirror each tile to the upper triangle while it is in cache. Returns the
    largest value met."""
    n = G.shape[0]
    i0 = bi * TILE
    i1 = min(n, i0 + TILE)
    m = np.float32(0.0)
    for bj in range(bi + 1):
        j0 = bj * TILE
        j1 = min(n, j0 + TILE)
        for i in range(i0, i1):
            si = sq[i]
            jend = min(j1, i) if bj == bi else j1
            for j in range(j0, jend):
                d = (si + sq[j] - 2.0 * np.float64(G[i, j])) * scale
                v = np.float32(min(max(d, 0.0), cap))
                G[i, j] = v
                m = max(m, v)
            if bj == bi:
                G[i, i] = np.float32(0.0)
        for j in range(j0, j1):
            for i in range(max(i0, j + 1), i1):
                G[j, i] = G[i, j]
    return m


@njit(cache=True, parallel=True, nogil=True)
def sqdist_from_gram(G, sq, scale, cap):
    """In place: ``G[i, j] <- min(max(sq_i + sq_j - 2 G_ij, 0) * scale, cap)`` (float64
    arithmetic, float32 storage), diagonal 0, read from the lower triangle (``j < i``) only and
    mirrored, so the result is exactly symmetric (as from BLAS ``syrk``, which fills one
    triangle). Tile rows are paired first-with-last so both threads get equal work. Returns
    the largest entry."""
    n = G.shape[0]
    nt = (n + TILE - 1) // TILE
    half = (nt + 1) // 2
    best = np.zeros(half, dtype=np.float32)
    for u in prange(half):
        m = _sqdist_tile_row(G, sq, scale, cap, u, nt)
        if nt - 1 - u != u:
            m = max(m, _sqdist_tile_row(G, sq, scale, cap, nt - 1 - u, nt))
        best[u] = m
    top = np.float32(0.0)
    for u in range(half):
        if best[u] > top:
            top = best[u]
    return top


@njit(cache=True, fastmath=True, nogil=True)
def _gain(dense, D, indptr, rows, vals, r, j):
    g = 0.0
    if dense:
        for i in range(r.shape[0]):
            d = np.float64(r[i]) - np.float64(D[j, i])
            if d > 0.0:
                g += d
    else:
        for p in range(indptr[j], indptr[j + 1]):
            d = np.float64(r[rows[p]]) - np.float64(vals[p])
            if d > 0.0:
                g += d
    return g


@njit(cache=True, nogil=True)
def add(dense, D, indptr, rows, vals, r, j):
    """Add row j: lower the residuals it covers better; return the realised gain."""
    g = 0.0
    if dense:
        for i in range(r.shape[0]):
            v = D[j, i]
            if v < r[i]:
                g += np.float64(r[i]) - np.float64(v)
                r[i] = v
    else:
        for p in range(indptr[j], indptr[j + 1]):
            i = rows[p]
            v = vals[p]
            if v < r[i]:
                g += np.float64(r[i]) - np.float64(v)
                r[i] = v
    return g


@njit(cache=True, parallel=True, nogil=True)
def gains(dense, D, indptr, rows, vals, r, candidates, out):
    """Marginal gains of ``candidates`` into ``out`` (parallel over candidates; for large
    batches: a parallel launch costs more than a few small gains)."""
    for t in prange(len(candidates)):
        out[t] = _gain(dense, D, indptr, rows, vals, r, candidates[t])


@njit(cache=True, nogil=True)
def gains_serial(dense, D, indptr, rows, vals, r, candidates, out):
    """As :func:`gains`, on one thread."""
    for t in range(len(candidates)):
        out[t] = _gain(dense, D, indptr, rows, vals, r, candidates[t])


@njit(cache=True, nogil=True)
def lazy_steps(dense, D, indptr, rows, vals, r, hg, hj, state, order, picked_gains, t0, t1):
    """Lazy greedy picks t0..t1-1 (Minoux 1978).

    The heap (``hg`` bounds, ``hj`` rows; ``state[0]`` its size) holds upper bounds of the
    gains. The top is re-evaluated and sifted down; when it stays on top, its fresh gain beats
    every other bound, so it is the exact arg-max (ties: lowest row) and is added.
    ``state[1]`` counts gain evaluations. Returns the number of picks made (fewer than asked
    only when the heap runs out).
    """
    size = state[0]
    evals = state[1]
    t = t0
    while t < t1 and size > 0:
        while True:
            j = hj[0]
            sift_down(hg, hj, size, 0, _gain(dense, D, indptr, rows, vals, r, j), j)
            evals += 1
            if hj[0] == j:
                break
        order[t] = j
        picked_gains[t] = add(dense, D, indptr, rows, vals, r, j)
        size -= 1
        sift_down(hg, hj, size, 0, hg[size], hj[size])
        t += 1
    state[0] = size
    state[1] = evals
    return t - t0
