"""Near-duplicate removal at a distance threshold, one representative per duplicate group."""

from __future__ import annotations

import numpy as np

from ..cost import CostModel
from ..params import Interval, Options, Param
from .base import Picks, Problem, register

#: Rows per block of the leader scan: a block's rows are screened in parallel against the rows
#: kept before it, then resolved among themselves in order.
BLOCK = 2048
#: Principal directions the screen projects the rows on, and the rows they are fitted to.
PROJECTED_DIMS = 16
PCA_ROWS = 20_000
#: When more than this share of sampled pairs passes the projected bound without being
#: duplicates, the projection does not prune (a threshold near the typical distance) and
#: blocked matrix products screen the pairs instead.
MAX_FALSE_PASS = 0.05
#: Kept rows per matrix product of the product screen (memory: BLOCK x this, float64).
KEPT_CHUNK = 8192


def _sq64(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Squared distances in float64 by one matrix product (a screen: the expansion
    |a|^2 + |b|^2 - 2 a.b rounds differently from the exact rule, so it only proposes)."""
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    d = A @ B.T
    d *= -2.0
    d += np.einsum("ij,ij->i", A, A)[:, None]
    d += np.einsum("ij,ij->i", B, B)[None, :]
    return np.maximum(d, 0.0, out=d)


class _Projection:
    """The rows projected on their leading principal directions (float32), with the bound a
    projected squared distance must exceed for the pair to be certainly no duplicate.

    An orthonormal projection never lengthens a difference, so |P(a - b)| <= |a - b|. The
    bound is the threshold widened by far more than the rounding of the projection (float64
    products stored as float32: relative error about 1e-7 of the centred row's length) and of
    the float32 sums over the projected coordinates.
    """

    def __init__(self, X: np.ndarray, rows: np.ndarray, limit_sq: float):
        n, dim = len(rows), X.shape[1]
        rng = np.random.default_rng(0)  # which rows fit the axes changes speed, never results
        fit = rows if n <= PCA_ROWS else rows[np.sort(rng.choice(n, PCA_ROWS, replace=False))]
        S = np.asarray(X[fit], dtype=np.float64)
        mean = S.mean(axis=0)
        S -= mean
        m = min(PROJECTED_DIMS, dim)
        _, vectors = np.linalg.eigh(S.T @ S)
        axes = np.ascontiguousarray(vectors[:, ::-1][:, :m])
        Y = np.zeros((n, max(m, 2)), dtype=np.float32)  # at least two columns for the index
        radius = 0.0
        step = max(1, (16 << 20) // (8 * dim))
        for s in range(0, n, step):
            B = np.asarray(X[rows[s : s + step]], dtype=np.float64) - mean
            Y[s : s + step, :m] = B @ axes
            radius = max(radius, float(np.sqrt(np.einsum("ij,ij->i", B, B).max())))
        self.Y = Y
        self.bound = np.float32((np.sqrt(limit_sq) + 1e-5 * radius) ** 2 * (1 + 1e-4))
        self.window = np.float32(np.sqrt(float(self.bound)) * (1 + 1e-6))

    def prunes(self, X: np.ndarray, rows: np.ndarray, limit_sq: float) -> bool:
        """Whether the projected bound rules out most pairs that are no duplicates, on a
        seeded sample of pairs (a threshold near the typical distance lets most through)."""
        n = len(rows)
        rng = np.random.default_rng(1)
        a = rng.choice(n, min(n, 256), replace=False)
        b = rng.choice(n, min(n, 2048), replace=False)
        Ya, Yb = self.Y[a].astype(np.float64), self.Y[b].astype(np.float64)
        projected = _sq64(Ya, Yb) <= self.bound
        duplicate = _sq64(X[rows[a]], X[rows[b]]) <= limit_sq
        return float((projected & ~duplicate).mean()) <= MAX_FALSE_PASS


def _scan_projected(X, rows, n_first, proj: _Projection, limit_sq, report):
    """The leader scan with the projected index (see ``_dedup_kernels.screen_block``)."""
    from ._dedup_kernels import resolve_block, screen_block

    n = len(rows)
    Y = proj.Y
    lo0 = float(Y[:, 0].min())
    spread = float(Y[:, 0].max()) - lo0
    window = float(proj.window)
    # bins at least a window wide (with room for rounding): a row's candidates lie in its
    # own bin or the next one on either side (bins are one monotone function of the
    # coordinate, computed once here)
    n_bins = 1 if spread <= 0 or window <= 0 else \
        int(min(max(1, n // 4), max(1.0, np.floor(spread / (window * 1.001)))))
    width = spread / n_bins if spread > 0 else 1.0
    bins = np.minimum(((Y[:, 0] - lo0) / width).astype(np.int64), n_bins - 1)
    index = np.lexsort((Y[:, 1], bins))
    starts = np.searchsorted(bins[index], np.arange(n_bins + 1)).astype(np.int64)
    Ys = np.ascontiguousarray(Y[index])
    ys0 = np.ascontiguousarray(Ys[:, 0])
    ys1 = np.ascontiguousarray(Ys[:, 1])
    sorted_rows = rows[index]
    where = np.empty(n, dtype=np.int64)
    where[index] = np.arange(n)
    kept_sorted = np.zeros(n, dtype=bool)
    kept_sorted[where[:n_first]] = True
    kept = [np.arange(n_first, dtype=np.int64)]
    for s in range(n_first, n, BLOCK):
        queries = np.arange(s, min(n, s + BLOCK), dtype=np.int64)
        hit = np.zeros(len(queries), dtype=np.bool_)
        screen_block(queries, X, rows, Y, bins, Ys, ys0, ys1, sorted_rows, starts,
                     kept_sorted, proj.window, proj.bound, limit_sq, hit)
        chosen = queries[resolve_block(queries, hit, X, rows, Y, proj.bound, limit_sq)]
        kept_sorted[where[chosen]] = True
        kept.append(chosen)
        if report is not None:
            report(min(1.0, (s + BLOCK - n_first) / max(1, n - n_first)),
                   "dedup: scanning rows")
    return rows[np.concatenate(kept)]


def _scan_products(X, rows, n_first, limit_sq, report):
    """The leader scan screened by blocked float64 matrix products (for thresholds the
    projection cannot prune): pairs the product puts within the threshold plus a margin
    far above its rounding are decided by the exact rule."""
    from ._dedup_kernels import first_exact_hit, resolve_block_close

    n = len(rows)
    top = float(np.max(np.einsum("ij,ij->i", X[rows[:1]], X[rows[:1]]))) if n else 0.0
    for s in range(0, n, 65536):
        B = np.asarray(X[rows[s : s + 65536]], dtype=np.float64)
        top = max(top, float(np.einsum("ij,ij->i", B, B).max()))
    margin = 1e-12 * 4.0 * top + 1e-300
    chunks = [rows[:n_first]] if n_first else []  # kept rows, in pieces of <= KEPT_CHUNK
    chunk_X = [np.asarray(X[rows[:n_first]], dtype=np.float64)] if n_first else []
    kept = [rows[:n_first]]
    for s in range(n_first, n, BLOCK):
        q = rows[s : s + BLOCK]
        Xq = np.asarray(X[q], dtype=np.float64)
        hit = np.zeros(len(q), dtype=np.bool_)
        for K, KX in zip(chunks, chunk_X):
            alive = np.flatnonzero(~hit)
            if not len(alive):
                break
            i, j = np.nonzero(_sq64(Xq[alive], KX) <= limit_sq + margin)
            ptr = np.searchsorted(i, np.arange(len(alive) + 1)).astype(np.int64)
            sub = np.zeros(len(alive), dtype=np.bool_)
            first_exact_hit(X, q[alive], ptr, K[j], limit_sq, sub)
            hit[alive] = sub
        close = _sq64(Xq, Xq) <= limit_sq + margin
        chosen = q[resolve_block_close(q, hit, X, close, limit_sq)]
        kept.append(chosen)
        if len(chosen):
            if chunks and len(chunks[-1]) + len(chosen) <= KEPT_CHUNK:
                chunks[-1] = np.concatenate([chunks[-1], chosen])
                chunk_X[-1] = np.concatenate([chunk_X[-1], Xq[np.isin(q, chosen)]])
            else:
                chunks.append(chosen)
                chunk_X.append(Xq[np.isin(q, chosen)])
        if report is not None:
            report(min(1.0, (s + BLOCK - n_first) / max(1, n - n_first)),
                   "dedup: scanning rows")
    return np.concatenate(kept)


def leader_dedup(X: np.ndarray, order: np.ndarray, limit_sq: float, kept_first: np.ndarray,
                 report=None, method: str = "auto") -> np.ndarray:
    """Scan rows in ``order``; keep a row iff no kept row is within ``limit_sq`` (squared
    distance, by the exact rule of ``_dedup_kernels.exact_sq``). ``kept_first`` rows are kept
    before the scan. Returns kept rows in keep order.

    Blocked: each block of rows is screened in parallel against the rows kept before it,
    then resolved among itself in order. ``method`` chooses the screen: "projected" (an
    index on the rows' leading principal coordinates skips every pair whose projected
    distance already exceeds the threshold, so at small thresholds only a few pairs per row
    are compared in full), "products" (blocked matrix products with every kept row), or
    "auto" (projected unless a sample of pairs shows it would not prune). Both screens only
    skip pairs that cannot be duplicates: the kept rows are the same.
    """
    X = np.asarray(X)
    if X.dtype != np.float32 or not X.flags.c_contiguous:
        X = np.ascontiguousarray(X, dtype=np.float32)
    rows = np.concatenate([np.asarray(kept_first, dtype=np.int64),
                           np.asarray(order, dtype=np.int64)])
    n_first = len(kept_first)
    if len(rows) == 0:
        return rows
    if method not in ("auto", "projected", "products"):
        raise ValueError(f"unknown dedup screen {method!r}")
    limit_sq = float(limit_sq)
    if method != "products":
        proj = _Projection(X, rows, limit_sq)
        if method == "projected" or proj.prunes(X, rows, limit_sq):
            return _scan_projected(X, rows, n_first, proj, limit_sq, report)
    return _scan_products(X, rows, n_first, limit_sq, report)


@register(
    "dedup",
    summary="Removes near-duplicates: keeps one point of every group of points closer than "
    "a threshold.",
    family="deduplication",
    paper="Broder, On the resemblance and containment of documents, 1997; Lee et al., "
    "Deduplicating Training Data Makes Language Models Better, ACL 2022.",
    params=(
        Param("threshold", Interval("float", 0, None), 0.05,
              "Two points at this distance or closer are duplicates (for cosine: 1 - "
              "similarity, so 0.05 means similarity 0.95 or more)."),
        Param("keep", Options(("first", "random")), "first",
              "Which point of a duplicate group stays: the first row, or a seeded random one."),
    ),
    exact_budget=False,
    sets_size=True,
    randomized=False,
    cost=CostModel(
        # the principal-coordinates screen leaves few pairs to compare when duplicates and
        # far rows separate well (clustered data: near a few passes); on real embeddings with
        # many close non-duplicates it compares many more, up to every pair: the bound
        # a block's rows are also resolved among themselves in order: every pair of a block's
        # kept rows is checked on its projected coordinates (both read)
        seconds=lambda s: 20 * s.one_pass + s.product(s.n, 16) + s.k * s.n * 8 / s.bandwidth
        + s.n * min(s.n, BLOCK) / 2 * 2 * 4 * PROJECTED_DIMS / s.bandwidth,
        bound=lambda s: s.product(s.n, s.n),
        # the principal-coordinates fit in float64, the screened blocks and the kept rows'
        # copies grow with the matrix (tracemalloc: 12-14 bytes per element), plus fixed blocks
        memory=lambda s: 16 * s.matrix / 4 + (4 << 20),
        advice="Select from a sample, or deduplicate with a smaller threshold first."),
)
def dedup(problem: Problem, threshold: float, keep: str) -> Picks:
    """Near-duplicate removal by a greedy leader scan.

    Rows are scanned in order (row order, or a seeded random order); a row is kept iff no
    already-kept row is within ``threshold`` (distance in the problem's metric: Euclidean, or
    cosine distance 1 - cos). Pinned rows are always kept, first. The result contains no pair
    at distance <= threshold, and every removed row is within the threshold of a kept row.
    Returns every representative (at most ``budget``, in keep order); ``info`` says how many
    were removed. Exact: pairs are decided by the float64 distance of their float32 values;
    a screen on the rows' leading principal coordinates skips only pairs that cannot be
    duplicates (see :func:`leader_dedup`). Cost: at small thresholds a few full distance
    evaluations per row plus a scan of the projected neighbourhood, O(N^2) cheap steps (100,000
    x 384 real docstrings: seconds, benchmarks/bench_peers.py); at thresholds near the typical
    distance N x (kept rows) evaluations in blocked matrix products.

    References
    ----------
    A. Z. Broder, "On the resemblance and containment of documents", SEQUENCES 1997.
    K. Lee et al., "Deduplicating Training Data Makes Language Models Better", ACL 2022.

    Examples
    --------
    >>> import numpy as np, explorer
    >>> X = np.array([[0.0], [0.01], [1.0], [1.02], [3.0]], dtype=np.float32)
    >>> data = explorer.Dataset.from_arrays(X)
    >>> explorer.select(data, "dedup", None, params={"threshold": 0.05}).indices
    array([0, 2, 4])
    """
    limit_sq = threshold**2 if problem.metric == "euclidean" else 2.0 * threshold
    candidates = np.flatnonzero(problem.allowed)
    if keep == "random":
        candidates = problem.rng.permutation(candidates)
    kept = leader_dedup(problem.X, candidates, limit_sq, problem.pinned, problem.report)
    n_pool = len(candidates) + len(problem.pinned)
    info = {"threshold": threshold, "n_representatives": int(len(kept)),
            "n_removed": int(n_pool - len(kept))}
    return Picks(kept[: problem.budget], info=info)
