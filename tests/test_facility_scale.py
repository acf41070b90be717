"""Facility location at scale: the dense float32 kernel, the sparse k-nearest-neighbour kernel,
the compiled lazy greedy and the graphs, each against a plain float64 numpy reference on the
bundled real data (digits 1797 x 64, pydocs 1010 x 384)."""

from __future__ import annotations

import numba
import numpy as np
import pytest

import explorer
from explorer.errors import ExplorerError
from explorer.strategies import _facility_kernels as kernels
from explorer.strategies import _sparse, facility
from explorer.strategies._greedy import greedy


def rows_for(data, metric):
    X = data.embeddings.astype(np.float64)
    if metric == "cosine":
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
    return X


def sq_dist64(X):
    sq = np.einsum("ij,ij->i", X, X)
    D = np.maximum(sq[:, None] + sq[None, :] - 2.0 * X @ X.T, 0.0)
    np.fill_diagonal(D, 0.0)
    return D


def knn64(D, k):
    """Plain reference graph: each row's k nearest by (distance, row), itself first."""
    key = D.copy()
    np.fill_diagonal(key, -1.0)
    nbr = np.argsort(key, axis=1, kind="stable")[:, :k]
    return nbr, np.take_along_axis(D, nbr, axis=1)


def sparse_similarity64(data, metric, k):
    """The sparse objective's similarity as a plain N x N float64 matrix: M - D on each row's
    k nearest (euclidean: D = squared distance, M the largest in the graph; cosine:
    D = (1 - cos) / 2, M = 1) and 0 elsewhere. Row i holds the similarities i gets."""
    X = rows_for(data, metric)
    D = sq_dist64(X)
    if metric == "cosine":
        D = np.minimum(D / 4.0, 1.0)
    nbr, d = knn64(D, k)
    top = 1.0 if metric == "cosine" else d.max()
    S = np.zeros_like(D)
    np.put_along_axis(S, nbr, top - d, axis=1)
    return S


def dense_similarity64(data, metric):
    X = rows_for(data, metric)
    D = sq_dist64(X)
    if metric == "cosine":
        return 1.0 - np.minimum(D / 4.0, 1.0)
    return D.max() - D


def objective(S, picks):
    """sum_i max(0, max_{j in picks} S[i, j])."""
    if len(picks) == 0:
        return 0.0
    return float(np.maximum(S[:, picks].max(axis=1), 0.0).sum())


def naive_greedy(S, budget):
    cur = np.zeros(len(S))
    picks = []
    for _ in range(budget):
        g = np.maximum(S - cur[:, None], 0.0).sum(axis=0)
        g[picks] = -1.0
        j = int(np.argmax(g))  # ties: lowest row
        picks.append(j)
        cur = np.maximum(cur, S[:, j])
    return np.array(picks)


# ------------------------------------------------------------------------------ the graphs

def test_centred_rows_keep_grid_data_exact(digits):
    Xc, sq = _sparse.centred(digits.embeddings)
    assert np.abs(Xc.mean(axis=0)).max() < 0.2  # the common offset is gone
    G = (Xc @ Xc.T).astype(np.float64)
    D = sq[:, None] + sq[None, :] - 2 * G
    np.fill_diagonal(D, 0.0)
    # digits are multiples of 1/16: float32 products of the shifted rows are still exact
    assert np.array_equal(D, sq_dist64(digits.embeddings.astype(np.float64)))


def test_exact_graph_equals_the_plain_reference(digits):
    Xc, sq = _sparse.centred(digits.embeddings)
    g = _sparse.knn_graph(Xc, sq, 12, method="exact")
    nbr, d = knn64(sq_dist64(digits.embeddings.astype(np.float64)), 12)
    assert g.method == "exact" and g.neighbors.dtype == np.int32
    assert np.array_equal(g.neighbors, nbr)  # ties (duplicate digits) go to the lower row
    assert np.array_equal(g.sqdist.astype(np.float64), d)


def test_inverted_file_graph_is_close_to_exact(pydocs):
    X = pydocs.embeddings
    Xc, sq = _sparse.centred(X)
    k = 10
    approx = _sparse.ivf_knn(Xc, sq, k, n_cells=32, probe_cells=8)
    exact = _sparse.knn_graph(Xc, sq, k, method="exact")
    assert approx.method == "inverted-file"
    assert approx.candidates < 0.4 * len(X) ** 2  # it searched a fraction of the pairs
    assert np.array_equal(approx.neighbors[:, 0], np.arange(len(X)))  # self first
    recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(approx.neighbors,
                                                              exact.neighbors)])
    assert recall > 0.85  # real text embeddings: about 0.9 here
    # every listed distance is the true one, sorted, and never nearer than the exact k-th
    D = sq_dist64(X.astype(np.float64))
    true = np.take_along_axis(D, approx.neighbors.astype(np.int64), axis=1)
    np.testing.assert_allclose(approx.sqdist, true, atol=1e-5)
    assert np.all(np.diff(approx.sqdist, axis=1) >= 0)
    assert np.all(approx.sqdist[:, -1] >= exact.sqdist[:, -1] - 1e-6)


def test_transpose_lists_who_has_each_row_as_neighbour():
    rng = np.random.default_rng(0)
    n, k = 50, 4
    nbr = np.stack([rng.choice(n, k, replace=False) for _ in range(n)]).astype(np.int32)
    vals = rng.random((n, k)).astype(np.float32)
    indptr, rows, v = _sparse.transpose(nbr, vals, n)
    for j in range(n):
        i, t = np.nonzero(nbr == j)
        got = rows[indptr[j] : indptr[j + 1]]
        assert np.array_equal(got, i)  # ascending rows
        assert np.array_equal(v[indptr[j] : indptr[j + 1]], vals[i, t])


def test_sqdist_kernel_against_numpy():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 7)).astype(np.float32)  # 150: three tiles, a partial one
    sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    G = X @ X.T
    ref = np.maximum(sq[:, None] + sq[None, :] - 2 * G.astype(np.float64), 0) * 0.25
    ref = np.minimum(ref, 1.0)
    np.fill_diagonal(ref, 0)
    G[np.triu_indices(150, 1)] = np.nan  # only the lower triangle is read (as syrk fills)
    top = kernels.sqdist_from_gram(G, sq, 0.25, 1.0)
    np.testing.assert_allclose(G, ref, rtol=1e-6, atol=1e-7)
    assert np.array_equal(G, G.T) and top == G.max()
    Xc, _ = _sparse.centred(X)
    low = facility.gram_lower(Xc)
    np.testing.assert_allclose(np.tril(low), np.tril(Xc @ Xc.T), rtol=1e-5, atol=1e-4)


# ------------------------------------------------------------------ the sparse objective

@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_sparse_picks_are_the_greedy_of_the_reference_objective(digits, metric):
    k, budget = 8, 40
    sel = explorer.select(digits, "facility-location", budget, metric=metric,
                          params={"kernel": "sparse", "neighbors": k})
    assert sel.info["kernel"] == "sparse" and sel.info["neighbors"] == k
    S = sparse_similarity64(digits, metric, k)
    ref = naive_greedy(S, budget)
    if metric == "euclidean":  # digits distances are exact: the picks must be the same
        assert np.array_equal(sel.indices, ref)
    else:  # cosine is float32 here: allow a departure at a near-tie late on
        assert np.array_equal(sel.indices[:20], ref[:20])
    # the reported gains add up to the objective computed here from scratch
    value = objective(S, sel.indices)
    assert sel.info["objective"] == pytest.approx(value, rel=1e-6)
    assert sel.gains.sum() == pytest.approx(value, rel=1e-6)
    steps = np.diff([objective(S, sel.indices[:t]) for t in range(0, 11)])
    np.testing.assert_allclose(sel.gains[:10], steps, rtol=1e-5)


def test_sparse_on_text_embeddings_valid_prefix_and_objective(pydocs):
    k = 10
    params = {"kernel": "sparse", "neighbors": k}
    pinned, excluded = [3, 500], list(range(100, 160))
    small = explorer.select(pydocs, "facility-location", 30, metric="cosine", params=params,
                            pinned=pinned, excluded=excluded)
    large = explorer.select(pydocs, "facility-location", 60, metric="cosine", params=params,
                            pinned=pinned, excluded=excluded)
    idx = large.indices
    assert len(idx) == 60 and len(np.unique(idx)) == 60
    assert idx[:2].tolist() == pinned and not np.isin(idx, excluded).any()
    assert np.array_equal(idx[:30], small.indices)  # budget b is a prefix of budget 2b
    assert np.all(np.diff(large.gains[2:]) <= 1e-6)  # greedy gains never increase
    S = sparse_similarity64(pydocs, "cosine", k)
    assert large.gains.sum() == pytest.approx(objective(S, idx), rel=1e-5)
    assert large.info["objective_normalised"] == pytest.approx(objective(S, idx) / len(S),
                                                               rel=1e-5)  # cosine: M = 1


@pytest.mark.parametrize("metric,k", [("euclidean", 100), ("cosine", 200)])
def test_sparse_is_close_to_dense_with_many_neighbours(pydocs, metric, k):
    budget = 50
    dense = explorer.select(pydocs, "facility-location", budget, metric=metric)
    sparse = explorer.select(pydocs, "facility-location", budget, metric=metric,
                             params={"kernel": "sparse", "neighbors": k})
    assert dense.info["kernel"] == "dense"  # auto on small data
    S = dense_similarity64(pydocs, metric)
    assert objective(S, sparse.indices) >= 0.97 * objective(S, dense.indices)


def test_sparse_with_every_neighbour_is_the_dense_kernel(digits):
    n = digits.n
    dense = explorer.select(digits, "facility-location", 60, params={"kernel": "dense"})
    full = explorer.select(digits, "facility-location", 60,
                           params={"kernel": "sparse", "neighbors": n + 5})
    assert full.info["neighbors"] == n
    assert np.array_equal(dense.indices, full.indices)
    np.testing.assert_array_equal(dense.gains, full.gains)


# ------------------------------------------------------------------- dense and the search

def test_dense_kernel_matches_the_float64_objective(pydocs):
    sel = explorer.select(pydocs, "facility-location", 40, params={"kernel": "dense"})
    S = dense_similarity64(pydocs, "euclidean")
    ref = naive_greedy(S, 40)
    assert np.array_equal(sel.indices, ref)
    np.testing.assert_allclose(sel.gains[1:], np.diff([objective(S, ref[:t])
                                                        for t in range(1, 41)]), rtol=1e-4)


@pytest.mark.parametrize("kernel", ["dense", "sparse"])
def test_compiled_lazy_equals_plain_heap_and_naive(pydocs, kernel):
    X = pydocs.embeddings
    n = len(X)

    def fresh():
        if kernel == "dense":
            D, top = facility.dense_distances(X, "euclidean")
            return facility.FacilityLocationObjective(n, top, D=D)
        Xc, sq = _sparse.centred(X)
        g = _sparse.knn_graph(Xc, sq, 15)
        return facility.FacilityLocationObjective(
            n, float(g.sqdist.max()), graph=_sparse.transpose(g.neighbors, g.sqdist, n))

    mask = np.ones(n, dtype=bool)
    mask[::7] = False
    fast = greedy(fresh(), 80, mask, "lazy")
    plain = greedy(fresh(), 80, mask, "lazy", compiled=False)
    naive = greedy(fresh(), 80, mask, "naive")
    assert np.array_equal(fast[0], plain[0]) and np.array_equal(fast[0], naive[0])
    np.testing.assert_allclose(fast[1], plain[1], rtol=1e-12)
    assert mask[fast[0]].all()


def test_results_do_not_depend_on_the_thread_count(pydocs):
    params = {"kernel": "sparse", "neighbors": 12}
    Xc, sq = _sparse.centred(pydocs.embeddings)

    def run():
        return (explorer.select(pydocs, "facility-location", 50, params=params),
                explorer.select(pydocs, "facility-location", 50),
                _sparse.ivf_knn(Xc, sq, 12, n_cells=30))

    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run()
    finally:
        numba.set_num_threads(before)
    many = run()
    assert np.array_equal(one[0].indices, many[0].indices)
    assert np.array_equal(one[0].gains, many[0].gains)
    assert np.array_equal(one[1].indices, many[1].indices)
    assert np.array_equal(one[1].gains, many[1].gains)
    assert np.array_equal(one[2].neighbors, many[2].neighbors)
    assert np.array_equal(one[2].sqdist, many[2].sqdist)


def test_stochastic_on_the_sparse_kernel_is_seeded_and_near_lazy(digits):
    params = {"kernel": "sparse", "neighbors": 16}
    lazy = explorer.select(digits, "facility-location", 60, params=params)
    a = explorer.select(digits, "facility-location", 60, seed=2,
                        params={**params, "optimizer": "stochastic", "epsilon": 0.05})
    b = explorer.select(digits, "facility-location", 60, seed=2,
                        params={**params, "optimizer": "stochastic", "epsilon": 0.05})
    assert np.array_equal(a.indices, b.indices)
    assert a.info["objective"] >= 0.95 * lazy.info["objective"]


# ----------------------------------------------------------------------- choosing a kernel

def test_auto_is_dense_on_small_data_and_sparse_when_memory_is_short(digits, monkeypatch):
    assert explorer.select(digits, "facility-location", 5).info["kernel"] == "dense"
    monkeypatch.setattr(facility, "available_memory_bytes", lambda: 10 << 20)
    sel = explorer.select(digits, "facility-location", 5)
    assert sel.info["kernel"] == "sparse" and sel.info["neighbors"] == 64
    with pytest.raises(ExplorerError, match=r"dense 1797 x 1797 similarity matrix needs .*"
                                            r"kernel='sparse'"):
        explorer.select(digits, "facility-location", 5, params={"kernel": "dense"})


def test_auto_above_the_row_limit_is_sparse(monkeypatch):
    monkeypatch.setattr(facility, "AUTO_DENSE_MAX_ROWS", 100)
    X = np.random.default_rng(0).normal(size=(150, 5)).astype(np.float32)
    sel = explorer.select(explorer.Dataset.from_arrays(X), "facility-location", 5)
    assert sel.info["kernel"] == "sparse"
