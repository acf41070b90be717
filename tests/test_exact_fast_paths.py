"""The fast paths of issue 17 against plain-numpy references: the same rows, picks or
graph quality as the slow, obvious code, on the bundled data and on hypothesis' examples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import explorer
from explorer.strategies import dedup as dedup_module

SCREENS = ("projected", "products", "auto")


def leader_reference(X, order, limit_sq, first):
    """The leader scan in plain numpy: a row is kept iff no kept row is within the limit
    (float64 squared differences of the float32 values)."""
    X = np.asarray(X, dtype=np.float64)
    kept = [int(r) for r in first]
    for r in order:
        if kept and (((X[kept] - X[r]) ** 2).sum(axis=1) <= limit_sq).any():
            continue
        kept.append(int(r))
    return np.asarray(kept, dtype=np.int64)


@settings(max_examples=60, deadline=None)
@given(arrays(np.int8, st.tuples(st.integers(1, 120), st.integers(1, 6)),
              elements=st.integers(-3, 3)),
       st.sampled_from([0.1, 1.0, 7.0]), st.floats(0, 4), st.integers(0, 2**16), st.integers(0, 3))
def test_dedup_screens_keep_the_reference_rows(M, scale, threshold, seed, n_first):
    X = (M * scale).astype(np.float32)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(X))
    first, order = perm[:n_first], perm[n_first:]
    limit_sq = (threshold * scale) ** 2
    ref = leader_reference(X, order, limit_sq, first)
    for screen in SCREENS:
        got = dedup_module.leader_dedup(X, order, limit_sq, first, method=screen)
        np.testing.assert_array_equal(got, ref, err_msg=screen)


@pytest.mark.parametrize("threshold", [0.005, 0.2, 0.6])
def test_dedup_screens_on_real_text_keep_the_reference_rows(pydocs, threshold):
    """Real MiniLM vectors under cosine: every screen keeps the reference's rows, through
    select() too (pins first, a random scan order)."""
    X = explorer.space.prepare(pydocs.embeddings, "cosine")
    order = np.random.default_rng(3).permutation(len(X))
    ref = leader_reference(X, order, 2 * threshold, [])
    for screen in SCREENS:
        got = dedup_module.leader_dedup(X, order, 2 * threshold, [], method=screen)
        np.testing.assert_array_equal(got, ref, err_msg=screen)
    sel = explorer.select(pydocs, "dedup", None, metric="cosine", pinned=[5, 900],
                          params={"threshold": threshold})
    allowed = np.setdiff1d(np.arange(len(X)), [5, 900])
    np.testing.assert_array_equal(sel.indices,
                                  leader_reference(X, allowed, 2 * threshold, [5, 900]))


def test_dedup_auto_screen_follows_whether_the_projection_prunes(pydocs):
    """A small threshold is screened by the projection; one near the typical distance (the
    projection lets most pairs through) by matrix products; both give the reference."""
    X = explorer.space.prepare(pydocs.embeddings, "cosine")
    rows = np.arange(len(X))
    assert dedup_module._Projection(X, rows, 2 * 0.01).prunes(X, rows, 2 * 0.01)
    assert not dedup_module._Projection(X, rows, 2 * 0.7).prunes(X, rows, 2 * 0.7)


def test_dedup_boundary_pairs_follow_the_exact_rule():
    """Pairs at exactly the threshold are duplicates; a hair beyond, not (float32 values
    whose float64 differences are exact)."""
    X = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0], [6.0, 8.0 + 2**-10]], dtype=np.float32)
    for screen in SCREENS:
        kept = dedup_module.leader_dedup(X, np.arange(4), 25.0, [], method=screen)
        np.testing.assert_array_equal(kept, [0, 2], err_msg=screen)
        kept = dedup_module.leader_dedup(X, np.arange(4), 24.999, [], method=screen)
        np.testing.assert_array_equal(kept, [0, 1, 2], err_msg=screen)


# --- k-means: seeding and Lloyd against plain numpy ------------------------------------------

def kmeans_plus_plus_reference(X, k, rng):
    """k-means++ in plain numpy (the project's earlier implementation): one integer, then one
    draw by weight per centre, ``rng.choice(n, p=d / d.sum())``."""
    X = np.asarray(X, dtype=np.float64)
    first = int(rng.integers(len(X)))
    chosen = [first]
    d = ((X - X[first]) ** 2).sum(1)
    for _ in range(1, k):
        j = int(rng.choice(len(X), p=d / d.sum()))
        chosen.append(j)
        d = np.minimum(d, ((X - X[j]) ** 2).sum(1))
    return np.asarray(chosen)


@pytest.mark.parametrize("k", [1, 10, 60])
def test_kmeans_plus_plus_draws_the_reference_rows(digits, pydocs, k):
    """The compiled seeding (with its triangle-inequality skips) draws the same rows as the
    plain-numpy k-means++ from the same generator."""
    from explorer.clustering import kmeans_plus_plus

    for X in (digits.embeddings, pydocs.embeddings):
        rows = kmeans_plus_plus_reference(X, k, np.random.default_rng(7))
        got = kmeans_plus_plus(X, k, np.random.default_rng(7))
        np.testing.assert_array_equal(got, X[rows])


def test_lloyd_step_is_the_reference_step(digits):
    """One Lloyd iteration from data rows on digits (small integers: float32 products are
    exact) equals plain numpy's: arg-min of the full distance matrix, then the means."""
    from explorer.clustering import lloyd

    X = digits.embeddings
    start = X[np.random.default_rng(0).choice(len(X), 12, replace=False)]
    D = ((X[:, None, :].astype(np.float64) - start[None]) ** 2).sum(-1)
    labels = D.argmin(1)
    want = np.stack([X[labels == c].mean(0) if (labels == c).any() else start[c]
                     for c in range(12)]).astype(np.float32)
    np.testing.assert_allclose(lloyd(X, start, 1), want, rtol=1e-6, atol=1e-6)


def test_large_data_kmeans_is_no_worse_than_scikit_learn(pydocs, monkeypatch):
    """The large-data path (subset seeding, own Lloyd with its stopping rule, exact final
    assignment), forced on the bundled text, ends within 2 % of scikit-learn's inertia from
    its own k-means++ with the same iteration cap, for several seeds."""
    from sklearn.cluster import KMeans

    from explorer import clustering

    monkeypatch.setattr(clustering, "MINIBATCH_ABOVE", 100)
    monkeypatch.setattr(clustering, "MIN_SAMPLE", 300)
    X = pydocs.embeddings
    ours = [float((clustering.kmeans(X, 20, seed=s).distances ** 2).sum()) for s in range(3)]
    theirs = [KMeans(20, n_init=1, max_iter=25, random_state=s).fit(X).inertia_
              for s in range(3)]
    assert np.median(ours) <= 1.02 * np.median(theirs)


# --- the neighbour graph's recall knob -------------------------------------------------------

def test_graph_search_knob_raises_recall_up_to_the_exact_graph(pydocs):
    """The inverted file's recall@10 grows with ``search`` on real text vectors; searching
    every cell gives the exact graph (same neighbours, same distances)."""
    from explorer.strategies import _sparse

    Xc, sq = _sparse.centred(explorer.space.prepare(pydocs.embeddings, "cosine"))
    exact = _sparse.knn_graph(Xc, sq, 16, method="exact")

    def recall(g):
        return np.mean([len(np.intersect1d(g.neighbors[i, 1:11], exact.neighbors[i, 1:11]))
                        for i in range(len(Xc))]) / 10

    values = [recall(_sparse.knn_graph(Xc, sq, 16, method="inverted-file", search=s))
              for s in (4, 16, 64)]
    assert values[0] < values[1] <= values[2] and values[2] > 0.97
    full = _sparse.knn_graph(Xc, sq, 16, method="inverted-file", search=10_000)
    np.testing.assert_array_equal(full.neighbors, exact.neighbors)
    np.testing.assert_allclose(full.sqdist, exact.sqdist, rtol=1e-5, atol=1e-6)


def test_nn_descent_graph_is_the_exact_graph_on_real_text(pydocs):
    """NN-descent from the inverted file, on real MiniLM vectors: recall@10 of the exact
    graph at least 0.97 at the default knob, higher with a larger one; every listed
    distance the true one, rows sorted, the row itself first; the same graph on one thread
    and on several (Dong, Charikar & Li 2011, as _nn_descent follows it)."""
    import numba

    from explorer.strategies import _sparse

    Xc, sq = _sparse.centred(explorer.space.prepare(pydocs.embeddings, "cosine"))
    k = 16
    exact = _sparse.knn_graph(Xc, sq, k, method="exact")

    def recall(g):
        return np.mean([len(np.intersect1d(g.neighbors[i, 1:11], exact.neighbors[i, 1:11]))
                        for i in range(len(Xc))]) / 10

    start = _sparse.knn_graph(Xc, sq, k, method="inverted-file", search=4)
    small = _sparse.knn_graph(Xc, sq, k, method="nn-descent", search=4)
    default = _sparse.knn_graph(Xc, sq, k, method="nn-descent")
    assert default.method == "nn-descent"
    assert recall(start) < recall(small) <= recall(default) and recall(default) >= 0.97
    assert np.array_equal(default.neighbors[:, 0], np.arange(len(Xc)))
    assert all(len(set(row)) == k for row in default.neighbors.tolist())
    D = ((Xc[:, None, :].astype(np.float64) - Xc[None, :, :]) ** 2).sum(-1)
    true = np.take_along_axis(D, default.neighbors.astype(np.int64), axis=1)
    np.testing.assert_allclose(default.sqdist, true, rtol=1e-5, atol=1e-6)
    assert np.all(np.diff(default.sqdist, axis=1) >= 0)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        alone = _sparse.knn_graph(Xc, sq, k, method="nn-descent")
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(alone.neighbors, default.neighbors)
