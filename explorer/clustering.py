"""k-means used by strategies and metrics alike (one place, one seed convention)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import space

#: Above this many rows k-means is trained with mini-batches (as faiss and sklearn advise).
MINIBATCH_ABOVE = 50_000


@dataclass(frozen=True, eq=False)
class Clustering:
    """``labels`` (N,) int64 cluster of each row, ``centers`` (k, D) float32, ``sizes`` (k,)."""

    labels: np.ndarray
    centers: np.ndarray
    sizes: np.ndarray

    @property
    def k(self) -> int:
        return int(len(self.centers))


def kmeans(X: np.ndarray, k: int, seed: int = 0, n_init: int = 1, max_iter: int = 100) -> Clustering:
    """k-means++ seeded k-means; mini-batch training above ``MINIBATCH_ABOVE`` rows.

    Rows are assigned to the nearest final centre by a blocked pass, so labels are exact for
    the returned centres whatever the training variant. Empty clusters are dropped.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.r_[np.zeros((5, 2)), np.ones((5, 2)) * 10].astype(np.float32)
    >>> kmeans(X, 2, seed=0).sizes.tolist()
    [5, 5]
    """
    from sklearn.cluster import KMeans, MiniBatchKMeans

    n = X.shape[0]
    k = int(max(1, min(k, n)))
    if n > MINIBATCH_ABOVE:
        model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=n_init,
                                batch_size=max(4096, 4 * k), max_iter=max_iter,
                                init_size=min(n, max(3 * k, 20_000)))
        rng = np.random.default_rng(seed)
        fit_rows = np.sort(rng.choice(n, min(n, max(256 * k, 100_000)), replace=False))
        model.fit(np.asarray(X[fit_rows], dtype=np.float32))
    else:
        model = KMeans(n_clusters=k, random_state=seed, n_init=n_init, max_iter=max_iter)
        model.fit(np.asarray(X, dtype=np.float32))
    centers = model.cluster_centers_.astype(np.float32)
    _, labels = space.nearest(X, centers, "euclidean")
    sizes = np.bincount(labels, minlength=len(centers))
    keep = np.flatnonzero(sizes > 0)
    if len(keep) < len(centers):
        remap = -np.ones(len(centers), dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        labels = remap[labels]
        centers = centers[keep]
        sizes = sizes[keep]
    return Clustering(labels.astype(np.int64), centers, sizes.astype(np.int64))
