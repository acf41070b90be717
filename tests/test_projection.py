"""The 2-D layout: cached on disk, and above the fit limit fitted on a sample with the other
rows transformed into the same map."""

from __future__ import annotations

import re

import numpy as np

import explorer
from explorer import projection


def test_layout_above_the_fit_limit_places_transformed_rows_among_their_own_kind(monkeypatch):
    data = explorer.load_sample("digits")
    monkeypatch.setattr(projection, "UMAP_FIT_LIMIT", 600)
    xy = projection.layout(data, "umap", n_neighbors=15, min_dist=0.1, metric="euclidean",
                           given=False)  # not the sample's shipped map: compute one
    assert xy.shape == (data.n, 2) and np.isfinite(xy).all()
    # rows the fit never saw land next to rows of the same digit: 5-NN label vote in 2-D
    labels = data.metadata["label"].to_numpy()
    d = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1)[:, :5]
    agree = (labels[nn] == labels[:, None]).mean()
    assert agree > 0.85
    again = projection.layout(data, "umap", n_neighbors=15, min_dist=0.1, metric="euclidean",
                              given=False)
    assert np.array_equal(xy, again)  # from the disk cache


def test_layout_above_the_fit_limit_on_wide_embeddings_goes_through_a_pca(monkeypatch, pydocs):
    monkeypatch.setattr(projection, "UMAP_FIT_LIMIT", 400)
    calls = []
    real_pca = projection.space.pca
    monkeypatch.setattr(projection.space, "pca",
                        lambda X, k, seed=0: calls.append(k) or real_pca(X, k, seed=seed))
    heard = []
    xy = projection.layout(pydocs, "umap", n_neighbors=15, min_dist=0.1, metric="euclidean",
                           use_cache=False, progress=lambda f, m: heard.append((f, m)),
                           given=False)
    assert calls == [projection.UMAP_PCA_DIMS]  # 384 dims -> 64 before UMAP
    # the app's progress bar: neighbours, then every few epochs of UMAP's own loop (read
    # from its progress bar), then placing the rest; never backwards, ending at 1
    fractions = [f for f, _ in heard]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    epochs = [re.fullmatch(r"laying out the map, epoch (\d+) of (\d+)", m) for _, m in heard]
    epochs = [(int(e[1]), int(e[2])) for e in epochs if e]
    assert len(epochs) >= 2 and epochs[-1][0] == epochs[-1][1] > 0  # the last epoch heard
    assert any(m.startswith("placing the other") for _, m in heard)
    assert xy.shape == (pydocs.n, 2) and np.isfinite(xy).all()
    # placed rows sit inside the map the fit drew, not at its edge or origin
    lo, hi = np.percentile(xy, 1, axis=0), np.percentile(xy, 99, axis=0)
    assert ((xy >= lo - (hi - lo)) & (xy <= hi + (hi - lo))).all()


def test_pacmap_layout_keeps_digits_apart_is_seeded_and_cached(tmp_path, monkeypatch):
    """PaCMAP (the ``[layouts]`` extra): the same seed gives the same map; rows of one digit
    are each other's neighbours on it; the second call is read from the disk cache."""
    from sklearn.manifold import trustworthiness

    monkeypatch.setenv("SUBSET_EXPLORER_CACHE", str(tmp_path))
    digits = explorer.load_sample("digits")
    data = explorer.Dataset.from_arrays(digits.embeddings[:600],
                                        metadata=digits.metadata.iloc[:600].reset_index(drop=True))
    xy = projection.layout(data, "pacmap")
    assert xy.shape == (data.n, 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    assert np.array_equal(xy, projection.layout(data, "pacmap", use_cache=False))
    assert len(list(tmp_path.glob("*.npz"))) == 1
    labels = data.metadata["label"].to_numpy()
    d = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    agree = (labels[np.argsort(d, axis=1)[:, :5]] == labels[:, None]).mean()
    assert agree > 0.9
    assert trustworthiness(data.embeddings, xy, n_neighbors=10) > 0.95
    # the parameters key the cache: another neighbour count is another map
    assert projection.cache_key(data.fingerprint, "pacmap",
                                projection._params(data, "pacmap", {})) != \
        projection.cache_key(data.fingerprint, "pacmap",
                             projection._params(data, "pacmap", {"n_neighbors": 20}))
    small = explorer.Dataset.from_arrays(data.embeddings[:6])
    assert projection.layout(small, "pacmap", use_cache=False).shape == (6, 2)


def test_tsne_layout_keeps_digits_apart_is_seeded_and_cached(tmp_path, monkeypatch):
    """t-SNE (openTSNE, the ``[layouts]`` extra): seeded, cached, and on digits the rows of
    one digit are each other's neighbours on the map, more trustworthy than PCA's."""
    from sklearn.manifold import trustworthiness

    monkeypatch.setenv("SUBSET_EXPLORER_CACHE", str(tmp_path))
    digits = explorer.load_sample("digits")
    data = explorer.Dataset.from_arrays(digits.embeddings[:600],
                                        metadata=digits.metadata.iloc[:600].reset_index(drop=True))
    heard = []
    xy = projection.layout(data, "tsne", progress=lambda f, m: heard.append((f, m)))
    assert xy.shape == (data.n, 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    assert np.array_equal(xy, projection.layout(data, "tsne", use_cache=False))
    assert len(list(tmp_path.glob("*.npz"))) == 1
    assert [f for f, _ in heard] == sorted(f for f, _ in heard) and heard[-1][0] == 1.0
    assert any("iteration" in m for _, m in heard)
    labels = data.metadata["label"].to_numpy()
    d = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (labels[np.argsort(d, axis=1)[:, :5]] == labels[:, None]).mean() > 0.9
    pca = projection.layout(data, "pca", use_cache=False)
    assert trustworthiness(data.embeddings, xy, n_neighbors=10) > \
        trustworthiness(data.embeddings, pca, n_neighbors=10)
    assert projection.layout(explorer.Dataset.from_arrays(data.embeddings[:6]), "tsne",
                             use_cache=False).shape == (6, 2)
    assert projection.available_methods() == ["umap", "pacmap", "tsne", "pca"]
