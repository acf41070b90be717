"""k-means used by strategies and metrics alike (one place, one seed convention)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from . import cache, space

#: Above this many rows k-means is trained on a sample (as faiss does by default), then every
#: row is assigned to its nearest centre.
MINIBATCH_ABOVE = 50_000
#: Training rows per cluster on large data (faiss caps at 256 and warns below 39; 64 keeps
#: a million rows at k = 1,000 fast while the centres stay close to the full fit's inertia:
#: docs/bench_peers.md).
SAMPLE_PER_CLUSTER = 64
#: ... but never fewer training rows than this.
MIN_SAMPLE = 10_000
#: k-means++ seeds from a seeded subset of the training rows: max(10,000, 2 k) of them
#: (seeding costs k passes over its rows; Lloyd's iterations on the full training sample
#: then move the centres, and seeds from a subset end no worse than seeds from all of it).
SEED_PER_CLUSTER = 2
#: Lloyd iterations on large data stop when the inertia falls by less than this fraction.
LLOYD_TOL = 1e-4


@dataclass(frozen=True, eq=False)
class Clustering:
    """``labels`` (N,) int64 cluster of each row, ``centers`` (k, D) float32, ``sizes`` (k,),
    ``distances`` (N,) float64: each row's Euclidean distance to its own centre."""

    labels: np.ndarray
    centers: np.ndarray
    sizes: np.ndarray
    distances: np.ndarray

    @property
    def k(self) -> int:
        return int(len(self.centers))


def kmeans_plus_plus(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): each next centre is drawn with
    probability proportional to the squared distance to the nearest centre so far.

    One compiled pass per centre that skips the rows the triangle inequality proves the new
    centre cannot come nearer to (Raff, Exact acceleration of k-means++ and k-means||, IJCAI
    2021), so most rows are not read once the centres are many. Draws: one integer, then one
    uniform per centre, from ``rng``.

    >>> X = np.r_[np.zeros((50, 2)), np.full((50, 2), 9.0)].astype(np.float32)
    >>> C = kmeans_plus_plus(X, 2, np.random.default_rng(0))
    >>> sorted(C[:, 0].tolist())
    [0.0, 9.0]
    """
    from ._cluster_kernels import (SEED_CHUNK, THREADED_UNITS, draw_by_weight, seeding_gaps,
                                   seeding_units)

    def seeding_add(X, c, centres, k, nearest, owner, unit_sums, gaps):
        seeding_gaps(X, c, centres, k, gaps)
        centres[k] = c
        space.over_chunk_ranges(len(X), SEED_CHUNK, lambda lo, hi: seeding_units(
            X, c, k, gaps, nearest, owner, unit_sums, lo, hi), min_chunks=THREADED_UNITS)

    X = np.ascontiguousarray(X, dtype=np.float32)
    n = len(X)
    nearest = np.full(n, np.inf)
    owner = np.full(n, -1, dtype=np.int64)
    centres = np.empty(k, dtype=np.int64)
    gaps = np.empty(k, dtype=np.float64)
    unit_sums = np.empty((n + SEED_CHUNK - 1) // SEED_CHUNK, dtype=np.float64)
    seeding_add(X, int(rng.integers(n)), centres, 0, nearest, owner, unit_sums, gaps)
    for c in range(1, k):
        j = draw_by_weight(nearest, unit_sums, rng.random())
        if j < 0:  # every row sits on a centre: any row will do
            j = int(rng.integers(n))
        seeding_add(X, j, centres, c, nearest, owner, unit_sums, gaps)
    return X[centres].copy()


def lloyd(X: np.ndarray, centres: np.ndarray, max_iter: int, tol: float = LLOYD_TOL
          ) -> np.ndarray:
    """Lloyd's k-means iterations from ``centres`` (float32 rows): each assigns every row to
    its nearest centre (one float32 matrix product per block of rows and a compiled
    arg-min), then moves each centre to the mean of its rows (an empty cluster keeps its
    centre). Stops after ``max_iter`` iterations or when the inertia falls by less than
    ``tol`` of itself. Returns the centres.

    >>> X = np.r_[np.zeros((4, 2)), np.full((4, 2), 4.0)].astype(np.float32)
    >>> lloyd(X + np.float32([[0], [1], [0], [1], [0], [1], [0], [1]]), X[[0, 7]], 10).tolist()
    [[0.5, 0.5], [4.5, 4.5]]
    """
    from ._cluster_kernels import centre_sums

    X = np.ascontiguousarray(X, dtype=np.float32)
    centres = np.array(centres, dtype=np.float32)
    last = np.inf
    for _ in range(max_iter):
        d, labels = space.nearest(X, centres, "euclidean")
        inertia = float(np.dot(d, d))
        sums, counts = centre_sums(X, labels, len(centres))
        full = counts > 0
        centres[full] = (sums[full] / counts[full, None]).astype(np.float32)
        if last - inertia <= tol * inertia:
            break
        last = inertia
    return centres


def kmeans(X: np.ndarray, k: int, seed: int = 0, n_init: int = 1, max_iter: int = 100) -> Clustering:
    """k-means++ seeded k-means (Lloyd); above ``MINIBATCH_ABOVE`` rows it is trained on a
    seeded sample of max(10,000, 64 k) rows with at most 25 iterations (faiss's default
    recipe; faiss takes up to 256 rows per centre and seeds at random), seeded by k-means++
    on max(10,000, 2 k) of them, then every row is assigned to its nearest centre. Up to
    ``MINIBATCH_ABOVE`` rows it is scikit-learn's KMeans.

    Rows are assigned to the nearest final centre by a blocked pass, so labels are exact for
    the returned centres whatever the training variant. Empty clusters are dropped.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.r_[np.zeros((5, 2)), np.ones((5, 2)) * 10].astype(np.float32)
    >>> kmeans(X, 2, seed=0).sizes.tolist()
    [5, 5]
    """
    n = X.shape[0]
    k = int(max(1, min(k, n)))
    if n > MINIBATCH_ABOVE:
        rng = np.random.default_rng(seed)
        m = min(n, max(MIN_SAMPLE, SAMPLE_PER_CLUSTER * k))
        fit_rows = np.sort(rng.choice(n, m, replace=False))
        sample = np.ascontiguousarray(X[fit_rows], dtype=np.float32)
        seed_rows = min(m, max(MIN_SAMPLE, SEED_PER_CLUSTER * k))
        seeds = sample if seed_rows == m else \
            sample[np.sort(rng.choice(m, seed_rows, replace=False))]
        centers = lloyd(sample, kmeans_plus_plus(seeds, k, rng), min(max_iter, 25))
    else:
        from sklearn.cluster import KMeans

        model = KMeans(n_clusters=k, random_state=seed, n_init=n_init, max_iter=max_iter)
        model.fit(np.asarray(X, dtype=np.float32))
        centers = model.cluster_centers_.astype(np.float32)
    distances, labels = space.nearest(X, centers, "euclidean")
    sizes = np.bincount(labels, minlength=len(centers))
    keep = np.flatnonzero(sizes > 0)
    if len(keep) < len(centers):
        remap = -np.ones(len(centers), dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        labels = remap[labels]
        centers = centers[keep]
        sizes = sizes[keep]
    return Clustering(labels.astype(np.int64), centers, sizes.astype(np.int64),
                      np.asarray(distances, dtype=np.float64))


#: The kind of result a :class:`explorer.cache.Cache` keeps clusterings under, and how many
#: (a few MB each at 100,000 rows).
CLUSTERINGS = "k-means clusterings"
KEPT_CLUSTERINGS = 8


def kmeans_of(X: np.ndarray, k: int, seed: int, fingerprint: str | None, metric: str,
              rows: np.ndarray | None = None) -> Clustering:
    """``kmeans(X[rows], k, seed)`` (all rows when ``rows`` is None), kept in the calling
    thread's cache (:func:`explorer.cache.current`) per dataset fingerprint, metric, rows, k
    and seed: a strategy re-run at another budget on the same clusters (stratified,
    cluster-based quotas) does not cluster again. Without a fingerprint or a cache nothing
    is kept. The arrays of a fingerprinted clustering are read-only (a kept one is shared)."""
    if rows is not None and len(rows) == X.shape[0]:
        rows = None  # sorted distinct rows of full length: all of them
    if fingerprint is None:
        return kmeans(X if rows is None else np.asarray(X[rows]), k, seed=seed)

    def make() -> Clustering:
        made = kmeans(X if rows is None else np.asarray(X[rows]), k, seed=seed)
        for arr in (made.labels, made.centers, made.sizes):
            arr.flags.writeable = False  # shared by later calls: nobody may change it
        return made

    kept = cache.current()
    if kept is None:
        return make()
    digest = "all" if rows is None else hashlib.sha1(
        np.ascontiguousarray(rows, dtype=np.int64).tobytes()).hexdigest()
    key = (fingerprint, metric, digest, int(k), int(seed))
    return kept.get_or_make(CLUSTERINGS, key, make, keep=KEPT_CLUSTERINGS)
