"""Geometry of the embedding space: metric preparation, blocked distances, PCA.

Under the cosine metric rows are L2-normalised once (:func:`prepare`); then Euclidean geometry
on the normalised rows is equivalent (``|a - b|^2 = 2 - 2 cos``) and the cosine distance is
``1 - cos = |a - b|^2 / 2``. Kernels here take arrays and return arrays; no global state.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from .errors import ExplorerError, preview

BLOCK_BYTES = 64 << 20  # size of one distance block, so N x k matrices are never held whole


def prepare(X: np.ndarray, metric: str, ids=None, where: str = "the embeddings") -> np.ndarray:
    """The matrix strategies and metrics work on: ``X`` itself (euclidean, no copy) or its
    L2-normalised copy (cosine). All-zero rows under cosine are an error naming their ids."""
    if metric == "euclidean":
        return X
    if metric != "cosine":
        raise ExplorerError(f"Unknown metric {metric!r}; use 'euclidean' or 'cosine'.")
    out = np.empty(X.shape, dtype=np.float32)
    rows = max(1, BLOCK_BYTES // (4 * X.shape[1]))
    zero_rows = []
    for s in range(0, X.shape[0], rows):
        block = np.asarray(X[s : s + rows], dtype=np.float32)
        norms = np.sqrt(np.einsum("ij,ij->i", block, block, dtype=np.float64))
        zero = norms == 0
        if zero.any():
            zero_rows.extend((np.flatnonzero(zero) + s).tolist())
        norms[zero] = 1.0
        out[s : s + rows] = block / norms[:, None].astype(np.float32)
    if zero_rows:
        named = preview(np.asarray(ids)[zero_rows]) if ids is not None else preview(zero_rows)
        raise ExplorerError(
            f"{where}: {len(zero_rows)} row(s) are all zeros and have no direction under the "
            f"cosine metric (ids: {named}). Drop them (--drop-invalid) or use --metric euclidean."
        )
    return out


def sq_norms(X: np.ndarray) -> np.ndarray:
    """Squared row norms in float64, computed in blocks."""
    out = np.empty(X.shape[0], dtype=np.float64)
    rows = max(1, BLOCK_BYTES // (4 * X.shape[1]))
    for s in range(0, X.shape[0], rows):
        block = np.asarray(X[s : s + rows], dtype=np.float32)
        out[s : s + rows] = np.einsum("ij,ij->i", block, block, dtype=np.float64)
    return out


def sq_distances(A: np.ndarray, B: np.ndarray, a_sq=None, b_sq=None) -> np.ndarray:
    """Squared Euclidean distances (len(A), len(B)) by one matrix product, clipped at 0."""
    A = np.asarray(A, dtype=np.float32)
    B = np.asarray(B, dtype=np.float32)
    a_sq = np.einsum("ij,ij->i", A, A, dtype=np.float64) if a_sq is None else a_sq
    b_sq = np.einsum("ij,ij->i", B, B, dtype=np.float64) if b_sq is None else b_sq
    d = (A @ B.T).astype(np.float64)
    d *= -2.0
    d += a_sq[:, None]
    d += b_sq[None, :]
    np.maximum(d, 0.0, out=d)
    return d


def to_metric(sq: np.ndarray, metric: str) -> np.ndarray:
    """Turn squared Euclidean distances on prepared rows into distances of ``metric``."""
    if metric == "cosine":
        return sq / 2.0
    return np.sqrt(sq)


def pairwise(A: np.ndarray, B: np.ndarray, metric: str) -> np.ndarray:
    """Distances of ``metric`` between prepared rows (float64)."""
    return to_metric(sq_distances(A, B), metric)


#: Rows below which a compiled row pass runs in the calling thread (a thread's start costs
#: more than the pass over so few rows).
THREADED_MIN_ROWS = 2048

_ROW_POOL = None  # (pid, executor): one pool of worker threads for every over_row_ranges call
_ROW_POOL_LOCK = threading.Lock()
_IN_ROW_POOL = threading.local()


def _mark_row_worker() -> None:
    _IN_ROW_POOL.active = True


def _row_pool():
    """The process's pool for :func:`over_row_ranges`, made on first use with as many threads
    as numba may use at most (``NUMBA_NUM_THREADS``). The scorecard calls over_row_ranges once
    per block of rows, so a pool per call would start and join its threads at every block;
    one pool also caps the range threads of concurrent callers (sessions, the prefetch
    thread) at the core count. A process forked after the pool was made inherits no live
    threads, so it makes its own."""
    global _ROW_POOL
    import numba

    with _ROW_POOL_LOCK:
        if _ROW_POOL is None or _ROW_POOL[0] != os.getpid():
            _ROW_POOL = (os.getpid(), ThreadPoolExecutor(
                max(1, numba.config.NUMBA_NUM_THREADS), thread_name_prefix="explorer-rows",
                initializer=_mark_row_worker))
        return _ROW_POOL[1]


def over_row_ranges(n_rows: int, work) -> None:
    """Call ``work(lo, hi)`` on contiguous ranges covering rows 0 .. n_rows-1, one range per
    thread of numba's thread count (``NUMBA_NUM_THREADS``, ``numba.set_num_threads``), or in
    this thread when the rows are few. ``work`` runs a compiled kernel that releases the GIL
    and writes its own rows' results, so the ranges cannot change a result. The ranges run
    on one shared pool (:func:`_row_pool`); a call from inside that pool runs in its own
    thread, so a range never waits for a pool its caller occupies."""
    import numba

    threads = min(numba.get_num_threads(), n_rows // THREADED_MIN_ROWS)
    if threads <= 1 or getattr(_IN_ROW_POOL, "active", False):
        work(0, n_rows)
        return
    cuts = np.linspace(0, n_rows, threads + 1).astype(np.int64).tolist()
    futures = [_row_pool().submit(work, lo, hi) for lo, hi in zip(cuts[:-1], cuts[1:])]
    wait(futures)  # every range has stopped writing before this returns or raises
    for future in futures:
        future.result()  # re-raises a range's error here


def over_chunk_ranges(n_rows: int, chunk: int, work, min_chunks: int = 1) -> None:
    """Call ``work(u_lo, u_hi)`` on contiguous ranges of the fixed chunks of ``chunk`` rows
    covering rows 0 .. n_rows-1, threaded as :func:`over_row_ranges` (each range ends on a
    chunk boundary, so a kernel that keeps one result per chunk gives the same results
    whatever the thread count); in this thread when there are fewer than ``min_chunks``
    chunks."""
    n_chunks = -(-n_rows // chunk)
    if n_chunks < min_chunks:
        work(0, n_chunks)
        return
    over_row_ranges(n_rows, lambda lo, hi: work(-(-lo // chunk), -(-hi // chunk)))


def nearest(X: np.ndarray, C: np.ndarray, metric: str):
    """For each row of ``X``, the distance to its nearest row of ``C`` and that row's position.

    Blocked over ``X`` so memory stays at ``BLOCK_BYTES`` whatever N and len(C). The nearest
    row is found in float32 from one matrix product per block, then its distance recomputed
    exactly in float64 from the row difference, in one compiled pass (no float64 copies of
    the block's distance matrix).
    """
    from ._space_kernels import nearest_rows_from_gram

    C = np.ascontiguousarray(C, dtype=np.float32)
    c_sq = np.einsum("ij,ij->i", C, C, dtype=np.float64).astype(np.float32)
    n = X.shape[0]
    dist = np.empty(n, dtype=np.float64)
    arg = np.empty(n, dtype=np.int64)
    if len(C) == 0:
        raise ValueError("nearest: no rows to measure the distance to")
    rows = max(1, BLOCK_BYTES // (4 * max(len(C), X.shape[1])))
    for s in range(0, n, rows):
        block = np.ascontiguousarray(X[s : s + rows], dtype=np.float32)
        G = block @ C.T
        over_row_ranges(len(block), lambda lo, hi: nearest_rows_from_gram(
            G, block, C, c_sq, dist, arg, s, lo, hi))
    return to_metric(dist, metric), arg


def pca(X: np.ndarray, n_components: int, seed: int = 0, max_fit_rows: int = 50_000):
    """PCA projection (float32) fitted on at most ``max_fit_rows`` rows; returns (Z, explained).

    ``explained`` is the fraction of variance the components keep.
    """
    from sklearn.decomposition import PCA

    n, d = X.shape
    k = int(min(n_components, d, n))
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(n, max_fit_rows, replace=False)) if n > max_fit_rows else None
    model = PCA(n_components=k, random_state=seed, svd_solver="auto")
    model.fit(np.asarray(X[fit_rows] if fit_rows is not None else X, dtype=np.float32))
    rows = max(1, BLOCK_BYTES // (4 * d))
    Z = np.empty((n, k), dtype=np.float32)
    for s in range(0, n, rows):
        Z[s : s + rows] = model.transform(np.asarray(X[s : s + rows], dtype=np.float32))
    return Z, float(model.explained_variance_ratio_.sum())


def resolve_target(target, data, X_prepared: np.ndarray, metric: str) -> np.ndarray:
    """A target set as prepared embeddings: row indices / a boolean mask into ``data``, or an
    (M, D) array of embeddings of the same width."""
    arr = np.asarray(target)
    if arr.dtype == bool:
        if arr.shape != (data.n,):
            raise ExplorerError(f"target: a boolean mask must have {data.n} entries.")
        arr = np.flatnonzero(arr)
    if arr.ndim == 1:
        if arr.size == 0:
            raise ExplorerError("target: the target set is empty; give at least one row.")
        if arr.dtype.kind not in "iu":
            raise ExplorerError(f"target: expected row indices (integers), got {arr.dtype}.")
        bad = arr[(arr < 0) | (arr >= data.n)]
        if len(bad):
            raise ExplorerError(
                f"target: {len(bad)} index(es) outside 0..{data.n - 1}: {preview(bad.tolist())}."
            )
        return np.asarray(X_prepared[np.unique(arr)], dtype=np.float32)
    if arr.ndim == 2:
        if arr.shape[1] != data.dim:
            raise ExplorerError(
                f"target: the target embeddings have {arr.shape[1]} dimensions but the data "
                f"has {data.dim}; they must come from the same model."
            )
        if arr.shape[0] == 0:
            raise ExplorerError("target: the target set is empty; give at least one row.")
        if not np.isfinite(arr).all():
            raise ExplorerError("target: the target embeddings hold NaN or inf values.")
        return prepare(arr.astype(np.float32), metric, where="target")
    raise ExplorerError(f"target: expected indices or a 2-D embedding array, got {arr.ndim}-D.")
