"""Compiled kernels (numba) for clustering.py, private. The plain-numpy k-means++ in the tests
is their reference."""

from __future__ import annotations

import numpy as np
from numba import njit

from ._space_kernels import exact_sq_distance

#: Rows per work unit of the seeding pass: fixed, so the per-unit sums (and the draw made
#: from them) never depend on the thread count.
SEED_CHUNK = 4096


#: Below this many work units a seeding pass runs in the calling thread: a hand-off to the
#: row threads per centre costs more than it saves on small samples.
THREADED_UNITS = 8


@njit(cache=True, nogil=True)
def seeding_units(X, c, k, gaps, nearest, owner, unit_sums, u_lo, u_hi):
    """Make row ``c`` the k-th centre for the rows of units ``u_lo`` .. ``u_hi``-1 (of
    :data:`SEED_CHUNK` rows): update each row's distance to its nearest centre (``nearest``,
    ``owner``) and each unit's sum of squared distances (``unit_sums``), skipping the rows
    the triangle inequality proves the centre cannot come nearer to (``gaps[a]``: the
    distance between centre a and the new one). Serial and free of the GIL: ranges of units
    run on threads (numba's ``parallel=True`` would compile several times as long)."""
    for u in range(u_lo, u_hi):
        total = 0.0
        for i in range(u * SEED_CHUNK, min(X.shape[0], (u + 1) * SEED_CHUNK)):
            m = nearest[i]
            # the new centre is no nearer unless it is within twice the current distance of
            # the row's centre (triangle inequality): only then is the distance computed
            if m > 0.0 and (owner[i] < 0 or gaps[owner[i]] < 2.0 * m):
                d = np.sqrt(exact_sq_distance(X, i, X, c))
                if d < m:
                    nearest[i] = d
                    owner[i] = k
                    m = d
            total += m * m
        unit_sums[u] = total


@njit(cache=True, nogil=True)
def seeding_gaps(X, c, centres, k, gaps):
    """``gaps[j]``: the distance between row ``c`` and centre j (row ``centres[j]``), j < k."""
    for j in range(k):
        gaps[j] = np.sqrt(exact_sq_distance(X, centres[j], X, c))


@njit(cache=True, nogil=True)
def draw_by_weight(nearest, unit_sums, u):
    """The row i where the running sum of nearest[i]^2 first exceeds u times the total
    (units summed in order, then rows of the chosen unit in order); -1 when every row is at a
    centre."""
    total = 0.0
    for v in range(len(unit_sums)):
        total += unit_sums[v]
    if total <= 0.0:
        return -1
    target = u * total
    acc = 0.0
    n = len(nearest)
    last = -1
    for v in range(len(unit_sums)):
        if acc + unit_sums[v] <= target and v < len(unit_sums) - 1:
            acc += unit_sums[v]
            continue
        for i in range(v * SEED_CHUNK, min(n, (v + 1) * SEED_CHUNK)):
            w = nearest[i] * nearest[i]
            if w > 0.0:
                last = i
                acc += w
                if acc > target:
                    return i
        if last >= 0:  # rounding left the target just above this unit's running sum
            return last
    return last


@njit(cache=True, nogil=True)
def centre_sums(X, labels, k):
    """Sum (float64) and count of the rows of each cluster, in row order."""
    sums = np.zeros((k, X.shape[1]), dtype=np.float64)
    counts = np.zeros(k, dtype=np.int64)
    for i in range(X.shape[0]):
        c = labels[i]
        counts[c] += 1
        for d in range(X.shape[1]):
            sums[c, d] += X[i, d]
    return sums, counts
