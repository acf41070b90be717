"""Compiled kernels (numba) for the exact leader scan of near-duplicate removal, private.

A pair of rows is a duplicate when the float64 sum of their squared coordinate differences
(the float32 values taken exactly) is at most the squared threshold; :func:`exact_sq` is that
rule, and only it decides. The other kernels only skip pairs a lower bound proves cannot be
duplicates: the distance between two rows is at least the distance between their
projections on a few orthonormal directions (the leading principal axes, where the rows
differ most), so a pair whose projected distance exceeds the threshold by a safe margin is
not compared in full. The plain-numpy leader scan in the tests is the reference.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def exact_sq(X, a, b):
    """|X[a] - X[b]|^2: float32 values differenced exactly in float64, summed in order."""
    s = 0.0
    for d in range(X.shape[1]):
        x = np.float64(X[a, d]) - np.float64(X[b, d])
        s += x * x
    return s


@njit(cache=True, nogil=True)
def _projected_within(Y, p, Z, q, bound):
    """Whether |Y[p] - Z[q]|^2 over the projected coordinates stays within ``bound``
    (stops at the first coordinate that exceeds it)."""
    acc = np.float32(0.0)
    for d in range(Y.shape[1]):
        x = Y[p, d] - Z[q, d]
        acc += x * x
        if acc > bound:
            return False
    return True


@njit(cache=True, parallel=True, nogil=True)
def screen_block(queries, X, rows, Y, bins, Ys, ys0, ys1, sorted_rows, starts, kept_sorted,
                 window, bound, limit_sq, hit):
    """For each local row ``queries[i]``: whether a row already kept is its duplicate.

    The index holds every row sorted by (bin of the first projected coordinate, ``bins``;
    second coordinate); bins are at least ``window`` wide, so the candidates of a row lie in
    its own bin and the two beside it, inside a binary-searched range of the second
    coordinate.
    ``Y`` is the projection of the local rows, ``Ys`` the same in index order (``ys0``,
    ``ys1`` its first two columns, contiguous), ``sorted_rows`` the rows of ``X`` in index
    order, ``kept_sorted`` the kept flags in index order. Rows are independent of each other
    (the kept flags do not change here), so the result does not depend on the thread count.
    """
    n_bins = len(starts) - 1
    for i in prange(len(queries)):
        q = queries[i]
        x = rows[q]
        y0 = Y[q, 0]
        y1 = Y[q, 1]
        b = bins[q]
        found = False
        for bb in range(max(0, b - 1), min(n_bins, b + 2)):
            s = starts[bb]
            e = starts[bb + 1]
            j = s + np.searchsorted(ys1[s:e], y1 - window)
            top = y1 + window
            while j < e and ys1[j] <= top:
                if kept_sorted[j]:
                    d0 = ys0[j] - y0
                    d1 = ys1[j] - y1
                    if d0 * d0 + d1 * d1 <= bound and _projected_within(Y, q, Ys, j, bound):
                        if exact_sq(X, x, sorted_rows[j]) <= limit_sq:
                            found = True
                            break
                j += 1
            if found:
                break
        hit[i] = found


@njit(cache=True, nogil=True)
def resolve_block(queries, hit, X, rows, Y, bound, limit_sq):
    """The leader scan inside one block, in order: a row not already hit is kept iff no row
    of this block kept before it is its duplicate. Returns the kept positions in the
    block."""
    kept = np.empty(len(queries), dtype=np.int64)
    n_kept = 0
    for a in range(len(queries)):
        if hit[a]:
            continue
        q = queries[a]
        dup = False
        for t in range(n_kept):
            p = queries[kept[t]]
            if _projected_within(Y, q, Y, p, bound) and \
                    exact_sq(X, rows[q], rows[p]) <= limit_sq:
                dup = True
                break
        if not dup:
            kept[n_kept] = a
            n_kept += 1
    return kept[:n_kept]


@njit(cache=True, parallel=True, nogil=True)
def first_exact_hit(X, queries, ptr, cands, limit_sq, hit):
    """For each row ``queries[i]`` not yet hit: whether one of its candidate rows
    ``cands[ptr[i]:ptr[i + 1]]`` is within ``limit_sq`` by :func:`exact_sq`."""
    for i in prange(len(queries)):
        if hit[i]:
            continue
        for t in range(ptr[i], ptr[i + 1]):
            if exact_sq(X, queries[i], cands[t]) <= limit_sq:
                hit[i] = True
                break


@njit(cache=True, nogil=True)
def resolve_block_close(queries, hit, X, close, limit_sq):
    """:func:`resolve_block` with the candidate pairs given: ``close[a, b]`` is False only
    for pairs of block rows proven not to be duplicates (``queries`` are rows of ``X``)."""
    kept = np.empty(len(queries), dtype=np.int64)
    n_kept = 0
    for a in range(len(queries)):
        if hit[a]:
            continue
        dup = False
        for t in range(n_kept):
            b = kept[t]
            if close[a, b] and exact_sq(X, queries[a], queries[b]) <= limit_sq:
                dup = True
                break
        if not dup:
            kept[n_kept] = a
            n_kept += 1
    return kept[:n_kept]
