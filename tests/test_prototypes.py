"""prototype-distance (Sorscher et al. 2022) on the bundled samples, cross-checked with
scikit-learn's KMeans."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

import explorer


def test_hard_rows_are_far_and_easy_rows_near_their_prototype_by_sklearns_kmeans_too(digits):
    X = np.asarray(digits.embeddings, dtype=np.float64)
    peer = KMeans(n_clusters=50, n_init=3, random_state=0).fit(X)
    to_centre = np.min(peer.transform(X), axis=1)  # distance to the nearest sklearn centre
    hard = explorer.select(digits, "prototype-distance", 150, seed=4)
    easy = explorer.select(digits, "prototype-distance", 150, seed=4, params={"keep": "easy"})
    assert not set(hard.indices) & set(easy.indices)
    # our k-means and sklearn's differ, but the rows they call atypical mostly agree
    q25, q75 = np.quantile(to_centre, [0.25, 0.75])
    assert np.median(to_centre[hard.indices]) > q75
    assert np.median(to_centre[easy.indices]) < q25
    # picks come in order of their distance to their own prototype
    assert np.all(np.diff(hard.gains) <= 1e-12) and np.all(np.diff(easy.gains) >= -1e-12)


def test_prunes_inside_the_filtered_pool_under_cosine(pydocs):
    pool = np.flatnonzero(pydocs.metadata["label"].to_numpy() != "simple statements")
    sel = explorer.select(pydocs, "prototype-distance", 30, seed=1, metric="cosine",
                          where="label != 'simple statements'")
    assert np.isin(sel.indices, pool).all() and len(sel) == 30
    assert np.isfinite(sel.gains).all() and (sel.gains > 0).all()
