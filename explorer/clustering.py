"""k-means used by strategies and metrics alike (one place, one seed convention)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from . import space

#: Above this many rows k-means is trained on a sample (as faiss does by default), then every
#: row is assigned to its nearest centre.
MINIBATCH_ABOVE = 50_000
#: Training rows per cluster on large data (faiss caps at 256 and warns below 39; 64 keeps
#: 1M x 384 at k = 1,000 well under a minute on two cores, with centres within a few % of the
#: full fit's inertia).
SAMPLE_PER_CLUSTER = 64
#: ... but never fewer training rows than this.
MIN_SAMPLE = 10_000


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
    probability proportional to the squared distance to the nearest centre so far. One
    distance pass per centre (no greedy trials), so k = 1,000 on 64,000 rows takes seconds.

    >>> X = np.r_[np.zeros((50, 2)), np.full((50, 2), 9.0)].astype(np.float32)
    >>> C = kmeans_plus_plus(X, 2, np.random.default_rng(0))
    >>> sorted(C[:, 0].tolist())
    [0.0, 9.0]
    """
    X = np.asarray(X, dtype=np.float32)
    n = len(X)
    x_sq = space.sq_norms(X)
    centres = np.empty((k, X.shape[1]), dtype=np.float32)
    first = int(rng.integers(n))
    centres[0] = X[first]
    d = np.maximum(x_sq + x_sq[first] - 2.0 * (X @ X[first]).astype(np.float64), 0.0)
    for c in range(1, k):
        total = d.sum()
        j = int(rng.choice(n, p=d / total)) if total > 0 else int(rng.integers(n))
        centres[c] = X[j]
        np.minimum(d, np.maximum(x_sq + x_sq[j] - 2.0 * (X @ X[j]).astype(np.float64), 0.0),
                   out=d)
    return centres


def kmeans(X: np.ndarray, k: int, seed: int = 0, n_init: int = 1, max_iter: int = 100) -> Clustering:
    """k-means++ seeded k-means (Lloyd); above ``MINIBATCH_ABOVE`` rows it is trained on a
    seeded sample of max(10,000, 64 k) rows with at most 25 iterations (faiss's default
    recipe), then every row is assigned to its nearest centre.

    Rows are assigned to the nearest final centre by a blocked pass, so labels are exact for
    the returned centres whatever the training variant. Empty clusters are dropped.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.r_[np.zeros((5, 2)), np.ones((5, 2)) * 10].astype(np.float32)
    >>> kmeans(X, 2, seed=0).sizes.tolist()
    [5, 5]
    """
    from sklearn.cluster import KMeans

    n = X.shape[0]
    k = int(max(1, min(k, n)))
    if n > MINIBATCH_ABOVE:
        rng = np.random.default_rng(seed)
        m = min(n, max(MIN_SAMPLE, SAMPLE_PER_CLUSTER * k))
        fit_rows = np.sort(rng.choice(n, m, replace=False))
        sample = np.asarray(X[fit_rows], dtype=np.float32)
        init = kmeans_plus_plus(sample, k, rng)
        model = KMeans(n_clusters=k, random_state=seed, n_init=1, init=init,
                       max_iter=min(max_iter, 25))
        model.fit(sample)
    else:
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


#: Clusterings remembered by :func:`kmeans_of` (a few MB each at 100,000 rows).
MEMO_ENTRIES = 8
_memo: "OrderedDict[tuple, Clustering]" = OrderedDict()


def kmeans_of(X: np.ndarray, k: int, seed: int, fingerprint: str | None, metric: str,
              rows: np.ndarray | None = None) -> Clustering:
    """``kmeans(X[rows], k, seed)`` (all rows when ``rows`` is None), remembered per dataset
    fingerprint, metric, rows, k and seed: a strategy re-run at another budget on the same
    clusters (stratified, cluster-based quotas) does not cluster again. Without a
    fingerprint nothing is remembered."""
    if rows is not None and len(rows) == X.shape[0]:
        rows = None  # sorted distinct rows of full length: all of them
    if fingerprint is None:
        return kmeans(X if rows is None else np.asarray(X[rows]), k, seed=seed)
    digest = "all" if rows is None else hashlib.sha1(
        np.ascontiguousarray(rows, dtype=np.int64).tobytes()).hexdigest()
    key = (fingerprint, metric, digest, int(k), int(seed))
    hit = _memo.get(key)
    if hit is None:
        hit = kmeans(X if rows is None else np.asarray(X[rows]), k, seed=seed)
        for arr in (hit.labels, hit.centers, hit.sizes):
            arr.flags.writeable = False  # shared by later calls: nobody may change it
        _memo[key] = hit
        while len(_memo) > MEMO_ENTRIES:
            _memo.popitem(last=False)
    else:
        _memo.move_to_end(key)
    return hit
