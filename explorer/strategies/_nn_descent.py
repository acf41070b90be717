"""NN-descent refinement of a k-nearest-neighbour graph (Dong, Charikar & Li, "Efficient
k-nearest neighbor graph construction for generic similarity measures", WWW 2011), private.

A neighbour of a neighbour is probably a neighbour. Each round samples, for every row v, up
to ``sample`` of its neighbours flagged new and as many not new, forward (v's own
list) and reverse (rows that list v): B(v). Every pair of B(v) with at least one new member
is measured, from a contiguous copy of B(v)'s rows, and becomes an update for either row it
is nearer to than that row's current last neighbour. Rows are joined in fixed chunks; a
chunk's updates are merged row by row, each row keeping the k nearest of its list and its
updates (ties to the lower row), which does not depend on the order the updates came in.
Samples are chosen by a hash of (row, neighbour, round), not by a random stream. So the
graph does not depend on the thread count. Rounds stop when fewer than ``delta x N x k``
entries change, or after ``rounds``.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from ._heap import above, keep_least

#: Rounds at most, and the share of the N x k entries below which a round's changes stop it
#: (a last round that changes under 1 % of the entries left recall@10 as it was on the REAL
#: docstrings of benchmarks/bench_peers.py, and cost 1-3 s of 20-27).
ROUNDS = 12
DELTA = 0.01


@njit(cache=True, nogil=True)
def _priority(a, b, r):
    """A 64-bit mix of (row, neighbour, round): the sampling order of an edge."""
    h = (np.uint64(a) * np.uint64(0x9E3779B97F4A7C15)) ^ (np.uint64(b) + np.uint64(r) *
                                                         np.uint64(0xBF58476D1CE4E5B9))
    h ^= h >> np.uint64(31)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(29)
    return h


@njit(cache=True, nogil=True)
def _push_once(keys, vals, size, key, val):
    """Keep the ``len(keys)`` lowest priorities (:func:`keep_least`), each row ``val`` once
    (an edge listed both ways has one priority, so it would come twice). Returns the new
    size."""
    if size == len(keys) and not above(keys[0], vals[0], key, val):
        return size
    for s in range(size):
        if vals[s] == val:
            return size
    return keep_least(keys, vals, size, key, val)


@njit(cache=True, nogil=True)
def _offsets(ptr):
    """CSR offsets in place from the per-row counts held at ``ptr[1:]``; returns a copy of
    the row starts, the cursors that filling the rows moves."""
    for i in range(len(ptr) - 1):
        ptr[i + 1] += ptr[i]
    return ptr[:-1].copy()


@njit(cache=True, nogil=True)
def _reverse(idx):
    """CSR of the transposed graph: for each row j, the (row i, place t) of every entry
    ``idx[i, t] == j``."""
    n, k = idx.shape
    ptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        for t in range(k):
            if idx[i, t] >= 0:
                ptr[idx[i, t] + 1] += 1
    fill = _offsets(ptr)
    who = np.empty(ptr[-1], dtype=np.int64)
    place = np.empty(ptr[-1], dtype=np.int64)
    for i in range(n):
        for t in range(k):
            j = idx[i, t]
            if j >= 0:
                who[fill[j]] = i
                place[fill[j]] = t
                fill[j] += 1
    return ptr, who, place


@njit(cache=True, parallel=True)
def _sample(idx, is_new, r, new_rows, new_n, old_rows, old_n):
    """B(v): for every row v, as many new and old neighbours as ``new_rows`` and
    ``old_rows`` hold, forward (v's own list) and reverse (rows that list v), the
    lowest-priority ones, each once (which ones does not depend on the order they are
    offered in). The entries sampled as new are flagged old for later rounds."""
    n, k = idx.shape
    ptr, who, place = _reverse(idx)
    for v in prange(n):
        new_key = np.empty(new_rows.shape[1], dtype=np.uint64)
        old_key = np.empty(old_rows.shape[1], dtype=np.uint64)
        nn = 0
        no = 0
        for e in range(k + ptr[v + 1] - ptr[v]):
            if e < k:
                j = idx[v, e]
                fresh = is_new[v, e]
            else:
                j = who[ptr[v] + e - k]
                fresh = is_new[j, place[ptr[v] + e - k]]
            if j < 0 or j == v:
                continue
            p = _priority(v, j, r) if v < j else _priority(j, v, r)
            if fresh:
                nn = _push_once(new_key, new_rows[v], nn, p, j)
            else:
                no = _push_once(old_key, old_rows[v], no, p, j)
        new_n[v] = nn
        old_n[v] = no
    for v in prange(n):
        for t in range(k):
            if is_new[v, t]:
                j = idx[v, t]
                for s in range(new_n[v]):
                    if new_rows[v, s] == j:
                        is_new[v, t] = False
                        break


@njit(cache=True, nogil=True, fastmath=True)
def _pairs_of(Xc, sq, v, new_rows, new_n, old_rows, old_n, worst, local, out_a, out_b, out_d):
    """The local join at row v: every pair of B(v) with at least one new member, measured
    from a contiguous copy of B(v)'s rows (so each row is read from memory once); a pair
    (a, b) becomes the update "b for a" when nearer than a's current last neighbour, and
    "a for b" likewise. Returns the number of updates written to ``out_*``."""
    nn = new_n[v]
    m = nn + old_n[v]
    dim = Xc.shape[1]
    members = np.empty(m, dtype=np.int64)
    for s in range(m):
        members[s] = new_rows[v, s] if s < nn else old_rows[v, s - nn]
        for c in range(dim):
            local[s, c] = Xc[members[s], c]
    w = 0
    for p in range(nn):  # new x new (p < q) and new x old
        a = members[p]
        for q in range(p + 1, m):
            b = members[q]
            if a == b:
                continue
            dot = np.float32(0.0)
            for c in range(dim):
                dot += local[p, c] * local[q, c]
            d = sq[a] + sq[b] - 2.0 * np.float64(dot)
            if d < worst[a]:
                out_a[w] = a
                out_b[w] = b
                out_d[w] = d
                w += 1
            if d < worst[b]:
                out_a[w] = b
                out_b[w] = a
                out_d[w] = d
                w += 1
    return w


@njit(cache=True, parallel=True)
def _joins(Xc, sq, vs, new_rows, new_n, old_rows, old_n, worst, buf_a, buf_b, buf_d, counts):
    """The local joins of the rows ``vs``, in parallel; row t's updates go to
    ``buf_*[t]`` (capacity: every pair twice)."""
    width = new_rows.shape[1] + old_rows.shape[1]
    for t in prange(len(vs)):
        local = np.empty((width, Xc.shape[1]), dtype=np.float32)
        counts[t] = _pairs_of(Xc, sq, vs[t], new_rows, new_n, old_rows, old_n, worst, local,
                              buf_a[t], buf_b[t], buf_d[t])


@njit(cache=True, nogil=True)
def _group(buf_a, buf_b, buf_d, counts, n):
    """The updates of a chunk grouped by the row they are for (CSR over rows)."""
    ptr = np.zeros(n + 1, dtype=np.int64)
    for t in range(len(counts)):
        for w in range(counts[t]):
            ptr[buf_a[t, w] + 1] += 1
    fill = _offsets(ptr)
    rows = np.empty(ptr[-1], dtype=np.int64)
    dists = np.empty(ptr[-1], dtype=np.float64)
    for t in range(len(counts)):
        for w in range(counts[t]):
            a = buf_a[t, w]
            rows[fill[a]] = buf_b[t, w]
            dists[fill[a]] = buf_d[t, w]
            fill[a] += 1
    return ptr, rows, dists


@njit(cache=True, parallel=True)
def _apply(ptr, rows, dists, idx, dist, is_new, worst, changed):
    """Merge each row's updates into its sorted list: the k nearest of the list and the
    updates, ties to the lower row, a row never twice; whatever order the updates came in."""
    n, k = idx.shape
    for i in prange(n):
        if ptr[i + 1] == ptr[i]:
            continue
        for e in range(ptr[i], ptr[i + 1]):
            u = rows[e]
            d = dists[e]
            if d > dist[i, k - 1] or (d == dist[i, k - 1] and u > idx[i, k - 1]):
                continue
            held = False
            for t in range(k):
                if idx[i, t] == u:
                    held = True
                    break
            if held:
                continue
            pos = k - 1
            while pos > 0 and (dist[i, pos - 1] > d or
                               (dist[i, pos - 1] == d and idx[i, pos - 1] > u)):
                idx[i, pos] = idx[i, pos - 1]
                dist[i, pos] = dist[i, pos - 1]
                is_new[i, pos] = is_new[i, pos - 1]
                pos -= 1
            idx[i, pos] = u
            dist[i, pos] = d
            is_new[i, pos] = True
            changed[i] += 1
        worst[i] = dist[i, k - 1]


#: Rows whose local joins are measured before their updates are merged (memory: every pair
#: of B(v) twice per row, 12 bytes each).
CHUNK_ROWS = 2048


def refine(Xc: np.ndarray, sq: np.ndarray, neighbors: np.ndarray, sqdist: np.ndarray,
           sample: int, rounds: int = ROUNDS, delta: float = DELTA, report=None):
    """NN-descent from the graph ``neighbors`` / ``sqdist`` (N x k, each row sorted nearest
    first, the row itself first), sampling ``sample`` new and as many old neighbours
    per row and round. Returns (neighbors int64, squared distances
    float64 from float32 dot products, rounds run), rows sorted nearest first, ties to the
    lower row."""
    n, k = neighbors.shape
    idx = np.array(neighbors, dtype=np.int64)
    dist = np.array(sqdist, dtype=np.float64)
    is_new = np.ones((n, k), dtype=np.bool_)
    new_rows = np.empty((n, sample), dtype=np.int64)
    old_rows = np.empty((n, sample), dtype=np.int64)
    new_n = np.zeros(n, dtype=np.int64)
    old_n = np.zeros(n, dtype=np.int64)
    width = new_rows.shape[1] + old_rows.shape[1]
    pairs = width * (width - 1)  # every pair of B(v), both ways
    chunk = min(n, CHUNK_ROWS)
    buf_a = np.empty((chunk, pairs), dtype=np.int32)
    buf_b = np.empty((chunk, pairs), dtype=np.int32)
    buf_d = np.empty((chunk, pairs), dtype=np.float64)
    counts = np.zeros(chunk, dtype=np.int64)
    changed = np.zeros(n, dtype=np.int64)
    done = 0
    for r in range(rounds):
        _sample(idx, is_new, r, new_rows, new_n, old_rows, old_n)
        changed[:] = 0
        worst = dist[:, k - 1].copy()
        for s in range(0, n, chunk):
            vs = np.arange(s, min(n, s + chunk), dtype=np.int64)
            _joins(Xc, sq, vs, new_rows, new_n, old_rows, old_n, worst, buf_a, buf_b, buf_d,
                   counts[: len(vs)])
            ptr, rows, dists = _group(buf_a, buf_b, buf_d, counts[: len(vs)], n)
            _apply(ptr, rows, dists, idx, dist, is_new, worst, changed)
        done = r + 1
        updates = int(changed.sum())
        if report is not None:
            report(done / rounds, f"NN-descent round {done}: {updates:,} neighbours changed")
        if updates <= delta * n * k:
            break
    return idx, dist, done
