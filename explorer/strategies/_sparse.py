"""k-nearest-neighbour graphs for a sparse facility-location similarity, private.

``knn_graph`` finds, for every row, its ``k`` nearest rows under squared Euclidean distance
(the row itself always first): exactly, by blocked float32 matrix products and a compiled
top-k selection, up to ``EXACT_MAX_ROWS`` rows; above, by NN-descent (Dong, Charikar & Li
2011; ``_nn_descent``) started from an inverted-file graph (the rows are split into Voronoi
cells of a few Lloyd iterations, and every cell is compared exactly with the rows of its
nearest cells, as in Jegou, Douze & Schmid 2011). The inverted file alone is a faster,
lower-recall choice. Every graph is deterministic: ties go to the lower row and no result
depends on the thread count.
``transpose`` turns the graph into CSR rows of its transpose, which the facility-location
kernels read as "the rows that have j among their neighbours".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange

from .. import space
from ..params import Interval
from .._cluster_kernels import centre_sums
from ._heap import keep_least, sift_down

#: Up to this many rows the graph is exact (N^2 D work); above, NN-descent.
EXACT_MAX_ROWS = 10_000
#: Bytes of one block of distances.
BLOCK_BYTES = 64 << 20
#: Inverted file: cells per sqrt(N) rows, Lloyd iterations, and the least a cell searches.
CELLS_PER_SQRT_N = 2.0
LLOYD_ITERATIONS = 4
LLOYD_SAMPLE = 32  # rows per cell (at least 20,000) for the Lloyd iterations
PROBE_CELLS = 8
PROBE_ROWS_PER_NEIGHBOUR = 32
#: The inverted file's own recall knob (``search`` of ``method="inverted-file"``): each cell
#: is compared with at least ``search x k`` rows and ``search / 4`` cells.
IVF_SEARCH = 64
#: NN-descent starts from the inverted file at this ``search``. A better start costs a few
#: seconds more and saves rounds that cost more (REAL docstrings, 100,000 x 384, k = 64:
#: start 16 with 20 per round 26.9 s, start 48 with 16 per round 20.0 s, recall@10 0.98).
NN_DESCENT_START = 48
#: NN-descent keeps at least this many neighbours per row while it works (then the k
#: nearest): short lists give it too few neighbours of neighbours to find the true ones.
NN_DESCENT_MIN_K = 24
#: The graph's recall knob (``graph_search`` of the strategies that use it): the neighbours
#: of each row that NN-descent compares per round. Chosen in benchmarks/bench_peers.py.
SEARCH_DEFAULT = 16
GRAPH_SEARCH_RANGE = Interval("int", 4, None)
GRAPH_SEARCH_HELP = ("Above 10,000 rows, where the neighbour graph is approximate "
                     "(NN-descent): neighbours each row compares per round (more finds more "
                     "of the true neighbours, slower).")
#: NN-descent's rounds cost per row about as much as a float32 matrix product with this
#: many columns (its pairs are measured one dot product at a time, from gathered rows).
NN_DESCENT_PRODUCT_COLUMNS = 20_000


def graph_seconds(size) -> float:
    """Expected seconds of the k-NN graph for a cost model's ``size`` (explorer.cost)."""
    if size.n <= EXACT_MAX_ROWS:
        return size.product(size.n, size.n)
    return size.product(size.n, NN_DESCENT_PRODUCT_COLUMNS)


def graph_bytes(size, k: int) -> float:
    """Peak extra bytes of the k-NN graph: distance blocks (exact) or NN-descent's lists and
    one chunk of updates, and the graph itself."""
    if size.n <= EXACT_MAX_ROWS:
        work = min(4.0 * size.n * size.n, BLOCK_BYTES)
    else:
        work = 40.0 * size.n * k + 48.0 * size.n * SEARCH_DEFAULT + (80 << 20)
    return work + 12.0 * size.n * k

@dataclass(frozen=True, eq=False)
class KnnGraph:
    """``neighbors`` (N, k) int32: row i's k nearest rows, nearest first, i itself first;
    ``sqdist`` (N, k) float32: their squared Euclidean distances; ``method``: "exact" or
    "inverted-file" or "nn-descent"; ``candidates``: distance evaluations made by the exact
    search or the inverted file (for NN-descent, those of the inverted file it starts from);
    ``cells``: the inverted file's cell of each row, or None."""

    neighbors: np.ndarray
    sqdist: np.ndarray
    method: str
    candidates: int
    cells: np.ndarray | None = None


def centred(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A float32 copy of ``X`` shifted by its mean rounded to a power-of-two grid near the
    spread of the data, and its squared row norms (float64).

    Distances do not change; the shift removes a common offset so that ``|a|^2 + |b|^2 -
    2 a.b`` in float32 does not cancel badly. Rounding the shift to the grid keeps data that
    lie on a coarser grid (pixel counts, /16 digits) exactly representable, so their float32
    distances stay exact.
    """
    n, dim = X.shape
    rows = max(1, BLOCK_BYTES // (8 * dim))
    total = np.zeros(dim, dtype=np.float64)
    total_sq = np.zeros(dim, dtype=np.float64)
    for s in range(0, n, rows):
        block = np.asarray(X[s : s + rows], dtype=np.float64)
        total += block.sum(axis=0)
        total_sq += np.einsum("ij,ij->j", block, block)
    mean = total / max(n, 1)
    spread = math.sqrt(max(float((total_sq / max(n, 1) - mean**2).mean()), 0.0))
    if spread > 0 and np.isfinite(spread):
        grid = 2.0 ** math.floor(math.log2(spread))
        shift = (np.round(mean / grid) * grid).astype(np.float32)
    else:
        shift = np.zeros(dim, dtype=np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, rows):
        np.subtract(np.asarray(X[s : s + rows], dtype=np.float32), shift, out=out[s : s + rows])
    return out, space.sq_norms(out)


@njit(cache=True, nogil=True)
def _topk_rows(G, queries, cands, selfpos, sq, k, out_idx, out_d, b0, b1, step):
    """For query rows q_b (b = b0, b0 + step, ... < b1): the k nearest among the rows
    ``cands`` given the Gram block ``G[b, c] = x_{q_b} . x_{cands_c}``; the query itself (at
    ``selfpos[b]`` in ``cands``, or -1) first with distance 0; ties to the lower row,
    whatever the order of ``cands``. Results go to row q_b of ``out_idx`` / ``out_d``,
    nearest first."""
    n_c = G.shape[1]
    csq = np.empty(n_c, dtype=np.float64)
    for c in range(n_c):
        csq[c] = sq[cands[c]]
    dd = np.empty(n_c, dtype=np.float64)
    # the k nearest so far, farthest at the root; rows negated, so that of equal distances
    # the larger row is at the root and goes first
    hd = np.empty(k, dtype=np.float64)
    hn = np.empty(k, dtype=np.int64)
    for b in range(b0, b1, step):
        q = queries[b]
        # |x_q - x_j|^2 - |x_q|^2 = |x_j|^2 - 2 x_q.x_j orders the candidates
        for c in range(n_c):
            dd[c] = csq[c] - 2.0 * np.float64(G[b, c])
        if selfpos[b] >= 0:
            dd[selfpos[b]] = -np.inf
        hd[:] = np.inf
        hn[:] = -np.int64(2**62)
        for c in range(n_c):
            d = dd[c]
            if d <= hd[0]:  # most candidates are farther: their row is not read
                keep_least(hd, hn, k, d, -cands[c])
        # heap -> ascending order (d, j): repeatedly move the farthest to the end
        sq_q = sq[q]
        for m in range(k - 1, -1, -1):
            wd = hd[0]
            wj = -hn[0]
            if m > 0:
                sift_down(hd, hn, m, 0, hd[m], hn[m])
            out_idx[q, m] = wj
            out_d[q, m] = np.float32(0.0) if wj == q else np.float32(max(wd + sq_q, 0.0))


def _in_pool(func, units, done_rows, progress):
    """Run ``func(unit)`` for every unit in a pool of threads (numba's thread count), each
    with one BLAS thread: the units are independent and write disjoint rows, so no thread
    waits for another at every small product (on a busy machine that waiting dominates) and
    the result cannot depend on the number of threads. ``func`` returns the pairs it
    compared; ``done_rows(unit)`` the rows it finished, passed summed to ``progress``."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    pool = ThreadPoolExecutor(max(1, numba.get_num_threads()))
    total = 0
    done = 0
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            for unit, pairs in zip(units, pool.map(func, units)):
                total += pairs
                done += done_rows(unit)
                if progress is not None:  # may raise to cancel: pending units are dropped
                    progress(done)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return total


def exact_knn(Xc, sq, k: int, report=None) -> KnnGraph:
    """Every row against every row, in blocks of rows (exact)."""
    n = len(Xc)
    out_idx = np.empty((n, k), dtype=np.int64)
    out_d = np.empty((n, k), dtype=np.float32)
    every = np.arange(n, dtype=np.int64)
    rows = int(min(512, max(16, BLOCK_BYTES // (4 * n))))
    starts = list(range(0, n, rows))

    def block(s: int) -> int:
        q = every[s : s + rows]
        G = Xc[q] @ Xc.T
        _topk_rows(G, q, every, q, sq, k, out_idx, out_d, 0, len(q), 1)
        return len(q) * n

    def progress(done):
        report(done / n, f"exact {k}-nearest-neighbour graph: {done:,} of {n:,} rows")

    pairs = _in_pool(block, starts, lambda s: min(rows, n - s),
                     None if report is None else progress)
    return KnnGraph(out_idx.astype(np.int32), out_d, "exact", pairs)


def ivf_knn(Xc, sq, k: int, n_cells: int | None = None, probe_cells: int = PROBE_CELLS,
            probe_rows: int | None = None, seed: int = 0, report=None) -> KnnGraph:
    """Approximate k nearest neighbours by an inverted file (Jegou, Douze & Schmid 2011).

    Cells: ``n_cells`` (default ``2 sqrt(N)``) centres drawn from the rows, refined by a few
    Lloyd iterations on a sample; every row goes to its nearest centre. Each cell's rows are
    compared exactly with the rows of its nearest cells (by centre), taken in order until at
    least ``probe_cells`` cells and ``probe_rows`` rows (default ``32 k``) are searched.
    """
    n = len(Xc)
    if n_cells is None:
        n_cells = int(round(CELLS_PER_SQRT_N * math.sqrt(n)))
    n_cells = max(1, min(n_cells, n))
    probe_rows = PROBE_ROWS_PER_NEIGHBOUR * k if probe_rows is None else probe_rows
    rng = np.random.default_rng(seed)
    centres = np.ascontiguousarray(Xc[np.sort(rng.choice(n, n_cells, replace=False))])
    train = np.sort(rng.choice(n, min(n, max(20_000, LLOYD_SAMPLE * n_cells)), replace=False))
    Xt = np.ascontiguousarray(Xc[train])
    for it in range(LLOYD_ITERATIONS):
        _, lab = space.nearest(Xt, centres, "euclidean")
        sums, counts = centre_sums(Xt, lab, n_cells)
        full = counts > 0
        centres[full] = (sums[full] / counts[full, None]).astype(np.float32)
        if report is not None:
            report(0.1 * (it + 1) / LLOYD_ITERATIONS, "inverted file: cells")
    _, labels = space.nearest(Xc, centres, "euclidean")
    members_order = np.argsort(labels, kind="stable")
    ptr = np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=n_cells))])
    sizes = np.diff(ptr)
    cd = space.sq_distances(centres, centres)
    out_idx = np.empty((n, k), dtype=np.int64)
    out_d = np.empty((n, k), dtype=np.float32)
    target = max(probe_rows, k)

    def search_cell(c: int) -> int:
        near = np.argsort(cd[c], kind="stable")
        # own cell first: near candidates early keep the top-k heap calm (same result)
        near = np.concatenate([[c], near[(sizes[near] > 0) & (near != c)]])
        m = int(np.searchsorted(np.cumsum(sizes[near]), target) + 1)
        m = min(len(near), max(m, probe_cells))
        cands = np.concatenate([members_order[ptr[p] : ptr[p + 1]] for p in near[:m]])
        queries = members_order[ptr[c] : ptr[c + 1]]
        C = Xc[cands]
        rows = max(1, BLOCK_BYTES // (4 * len(cands)))
        for s in range(0, len(queries), rows):
            q = queries[s : s + rows]
            G = Xc[q] @ C.T
            _topk_rows(G, q, cands, np.arange(s, s + len(q)), sq, k, out_idx, out_d,
                       0, len(q), 1)
        return len(queries) * len(cands)

    cells = [c for c in range(n_cells) if sizes[c] > 0]

    def progress(done):
        report(0.1 + 0.9 * done / n, f"inverted file: {done:,} of {n:,} rows searched")

    searched = _in_pool(search_cell, cells, lambda c: int(sizes[c]),
                        None if report is None else progress)
    return KnnGraph(out_idx.astype(np.int32), out_d, "inverted-file", searched, labels)


@njit(cache=True, parallel=True, fastmath=True)
def _exact_sorted(Xc, found, out_idx, out_d):
    """Row i's neighbours ``found[i]`` (distinct rows, i among them) with their squared
    distances recomputed in float64 from the rows, sorted nearest first, ties to the lower
    row, i itself first; the first ``out_idx.shape[1]`` of them kept."""
    n, width = found.shape
    k = out_idx.shape[1]
    dim = Xc.shape[1]
    for i in prange(n):
        rows = found[i].copy()
        dist = np.empty(width, dtype=np.float64)
        for t in range(width):
            j = rows[t]
            s = 0.0
            if j != i:
                for c in range(dim):
                    d = np.float64(Xc[i, c]) - np.float64(Xc[j, c])
                    s += d * d
            dist[t] = -1.0 if j == i else s  # i itself sorts first
        for t in range(1, width):  # insertion sort: the lists arrive almost sorted
            d = dist[t]
            j = rows[t]
            u = t
            while u > 0 and (dist[u - 1] > d or (dist[u - 1] == d and rows[u - 1] > j)):
                dist[u] = dist[u - 1]
                rows[u] = rows[u - 1]
                u -= 1
            dist[u] = d
            rows[u] = j
        for t in range(k):
            out_idx[i, t] = rows[t]
            out_d[i, t] = np.float32(max(dist[t], 0.0))


def nn_descent_knn(Xc, sq, k: int, sample: int = SEARCH_DEFAULT, seed: int = 0,
                   report=None) -> KnnGraph:
    """Approximate k nearest neighbours: the inverted-file graph at ``NN_DESCENT_START``,
    refined by NN-descent comparing ``sample`` neighbours per row and round
    (``_nn_descent.refine``) on lists of at least ``NN_DESCENT_MIN_K``; distances
    recomputed from the rows at the end."""
    from . import _nn_descent

    n = len(Xc)
    wide = min(n, max(k, NN_DESCENT_MIN_K))
    start = ivf_knn(Xc, sq, wide, probe_cells=max(1, NN_DESCENT_START // 4),
                    probe_rows=NN_DESCENT_START * k, seed=seed,
                    report=None if report is None else lambda f, m: report(0.2 * f, m))
    # rows of one cell side by side: the rows a local join gathers are then mostly near in
    # memory (the graph is mapped back, and re-sorted by original row, below)
    order = np.argsort(start.cells, kind="stable")
    place = np.empty(n, dtype=np.int64)
    place[order] = np.arange(n)
    found, _, _ = _nn_descent.refine(
        np.ascontiguousarray(Xc[order]), sq[order], place[start.neighbors[order]],
        start.sqdist[order], sample=int(sample),
        report=None if report is None else lambda f, m: report(0.2 + 0.8 * f, m))
    out_idx = np.empty((n, k), dtype=np.int64)
    out_d = np.empty((n, k), dtype=np.float32)
    _exact_sorted(Xc, np.ascontiguousarray(order[found[place]]), out_idx, out_d)
    return KnnGraph(out_idx.astype(np.int32), out_d, "nn-descent", start.candidates)


def knn_graph(Xc, sq, k: int, method: str = "auto", report=None,
              search: int | None = None) -> KnnGraph:
    """The k-nearest-neighbour graph of the rows of ``Xc`` (see :func:`centred`), itself
    included; ``method``: "exact", "nn-descent", "inverted-file" or "auto" (exact up to
    ``EXACT_MAX_ROWS`` rows, NN-descent above). ``search`` is the approximate graph's recall
    knob: for NN-descent the neighbours compared per row and round (default
    ``SEARCH_DEFAULT``), for the inverted file the rows compared per neighbour (default
    ``IVF_SEARCH``). Time and recall@10 of each on real embeddings:
    benchmarks/bench_peers.py."""
    n = len(Xc)
    k = int(min(k, n))
    if method == "auto":
        method = "exact" if n <= EXACT_MAX_ROWS else "nn-descent"
    if method == "exact":
        return exact_knn(Xc, sq, k, report)
    if method == "nn-descent":
        return nn_descent_knn(Xc, sq, k, sample=search or SEARCH_DEFAULT, report=report)
    if method == "inverted-file":
        search = search or IVF_SEARCH
        return ivf_knn(Xc, sq, k, probe_cells=max(1, int(search) // 4),
                       probe_rows=int(search) * k, report=report)
    raise ValueError(f"unknown kNN method {method!r}; use 'auto', 'exact', 'nn-descent' or "
                     "'inverted-file'")


@njit(cache=True, nogil=True)
def _transpose(neighbors, values, n, indptr, rows, vals):
    fill = indptr[:-1].copy()
    for i in range(neighbors.shape[0]):
        for t in range(neighbors.shape[1]):
            j = neighbors[i, t]
            p = fill[j]
            rows[p] = i
            vals[p] = values[i, t]
            fill[j] = p + 1


def transpose(neighbors: np.ndarray, values: np.ndarray, n: int):
    """CSR of the transposed graph: for each row j, the rows i (ascending) that list j among
    their neighbours, and ``values[i, t]`` for that edge. Returns (indptr int64, rows int32,
    vals float32)."""
    counts = np.bincount(neighbors.ravel(), minlength=n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    rows = np.empty(indptr[-1], dtype=np.int32)
    vals = np.empty(indptr[-1], dtype=np.float32)
    _transpose(neighbors, np.ascontiguousarray(values, dtype=np.float32), n, indptr, rows, vals)
    return indptr, rows, vals
