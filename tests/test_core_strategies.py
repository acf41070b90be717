"""The first-set strategies against plain references, a peer (apricot) and their guarantees."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import explorer
from explorer.errors import ExplorerError
from explorer.strategies import facility


def kcenter_reference(X, start, budget):
    """Plain float64 farthest-point traversal (ties: lowest index)."""
    X = np.asarray(X, dtype=np.float64)
    order = list(start)
    mind = np.full(len(X), np.inf)
    for c in order:
        mind = np.minimum(mind, np.sqrt(((X - X[c]) ** 2).sum(1)))
    while len(order) < budget:
        cand = mind.copy()
        cand[order] = -1
        c = int(np.argmax(cand))
        order.append(c)
        mind = np.minimum(mind, np.sqrt(((X - X[c]) ** 2).sum(1)))
    return np.array(order)


def test_kcenter_matches_plain_reference_on_digits(digits):
    sel = explorer.select(digits, "k-center", 200, pinned=[0, 1000])
    ref = kcenter_reference(digits.embeddings, [0, 1000], 200)
    assert np.array_equal(sel.indices, ref)
    # gains are the pick-time distances, non-increasing after the start
    g = sel.gains[2:]
    assert np.all(np.diff(g) <= 1e-9)
    X = digits.embeddings.astype(np.float64)
    d = np.sqrt(((X[:, None, :] - X[None, sel.indices[:150], :]) ** 2).sum(-1)).min(1)
    assert np.isclose(d.max(), sel.gains[150])  # the next pick is at the current radius


def test_kcenter_continues_and_slices_a_kept_traversal(digits):
    """Inside a cache, budgets asked in any order (smaller: a slice; larger: the walk
    continues) give what a fresh run gives, including the distance-evaluation count and the
    cosine copy of X."""
    from explorer.cache import Cache
    from explorer.strategies import kcenter

    for metric in ("euclidean", "cosine"):
        kept = Cache()
        with kept.kept():
            runs = {b: explorer.select(digits, "k-center", b, seed=3, metric=metric)
                    for b in (40, 10, 120, 60)}
        assert kept.size(kcenter.TRAVERSALS) == 1  # one traversal served all four budgets
        for b, sel in runs.items():
            fresh = explorer.select(digits, "k-center", b, seed=3, metric=metric)
            assert np.array_equal(sel.indices, fresh.indices)
            np.testing.assert_array_equal(sel.gains, fresh.gains)
            assert sel.info == fresh.info
        with kept.kept():
            excluded = explorer.select(digits, "k-center", 40, seed=3, excluded=range(100))
        assert excluded.indices.min() >= 100  # other allowed rows: another traversal
        assert kept.size(kcenter.TRAVERSALS) == 2


def test_kcenter_prefetch_in_the_background_changes_no_selection(digits):
    """The app continues the last traversal while idle (kcenter.prefetch): a larger budget
    then finds its picks done, and every selection equals a fresh run's."""
    from explorer.cache import Cache
    from explorer.strategies import kcenter

    for metric in ("euclidean", "cosine"):
        kept = Cache()
        with kept.kept():
            first = explorer.select(digits, "k-center", 30, seed=5, metric=metric, pinned=[7])
        assert kcenter.prefetch(kept, 100, fingerprint=digits.fingerprint)
        kept.join_background()
        walk = kept.served(kcenter.TRAVERSALS)["walk"]
        assert len(walk.picks) == 29 + 100  # the start (the pinned row) is not a pick
        with kept.kept():
            later = explorer.select(digits, "k-center", 130, seed=5, metric=metric,
                                    pinned=[7])
        assert later.info["distance_evaluations"] == walk.evaluations[128]
        kcenter.prefetch(kept, 2000)  # more than there are rows: stops when every row is picked
        kept.join_background()
        assert len(walk.picks) == digits.n - 1
        kept.stop_background()
        assert not kcenter.prefetch(kept, 10, fingerprint="another dataset")
        assert kept.served(kcenter.TRAVERSALS) == {}  # that let go of this dataset's matrix
        for sel in (first, later):
            fresh = explorer.select(digits, "k-center", len(sel), seed=5, metric=metric,
                                    pinned=[7])
            assert np.array_equal(sel.indices, fresh.indices)
            np.testing.assert_array_equal(sel.gains, fresh.gains)
            assert sel.info == fresh.info


def test_kcenter_cosine_matches_reference_on_normalised_rows():
    data = explorer.load_sample("pydocs")
    sel = explorer.select(data, "k-center", 60, metric="cosine", seed=4)
    Xn = data.embeddings / np.linalg.norm(data.embeddings, axis=1, keepdims=True)
    ref = kcenter_reference(Xn, [sel.indices[0]], 60)
    assert np.array_equal(sel.indices, ref)
    assert np.all((sel.gains[1:] > 0) & (sel.gains[1:] <= 2.0))  # cosine distances


@settings(max_examples=40, deadline=None)
@given(arrays(np.int8, st.tuples(st.integers(5, 40), st.integers(1, 4)),
              elements=st.integers(-3, 3)), st.integers(0, 10**6))
def test_kcenter_equals_reference_with_ties_and_duplicates(M, seed):
    X = M.astype(np.float32)  # small integers: every distance is exact, so ties are real
    data = explorer.Dataset.from_arrays(X)
    budget = min(len(X), 6)
    sel = explorer.select(data, "k-center", budget, seed=seed)
    assert np.array_equal(sel.indices, kcenter_reference(X, [sel.indices[0]], budget))


def test_facility_location_golden_ranking_against_apricot(digits):
    from apricot import FacilityLocationSelection

    lazy = explorer.select(digits, "facility-location", 100)
    naive = explorer.select(digits, "facility-location", 100, params={"optimizer": "naive"})
    assert np.array_equal(lazy.indices, naive.indices)
    X = digits.embeddings.astype(np.float64)
    ap_naive = FacilityLocationSelection(100, metric="euclidean", optimizer="naive").fit(X)
    assert np.array_equal(lazy.indices, ap_naive.ranking)
    np.testing.assert_allclose(lazy.gains, ap_naive.gains, rtol=1e-9)
    ap_lazy = FacilityLocationSelection(100, metric="euclidean", optimizer="lazy").fit(X)
    np.testing.assert_allclose(lazy.gains, ap_lazy.gains, rtol=1e-9)
    # apricot's lazy heap breaks exact ties by insertion order, ours by lowest index (as
    # naive greedy does): where the rankings differ the gains must tie exactly
    differ = np.flatnonzero(lazy.indices != ap_lazy.ranking)
    for i in differ:
        tie = np.flatnonzero(lazy.gains == lazy.gains[i])
        assert len(tie) >= 2 and set(lazy.indices[tie]) == set(ap_lazy.ranking[tie])
    assert len(differ) <= 4


def test_facility_location_stochastic_is_seeded_and_near_lazy(digits):
    lazy = explorer.select(digits, "facility-location", 80)
    a = explorer.select(digits, "facility-location", 80, seed=5,
                        params={"optimizer": "stochastic", "epsilon": 0.05})
    b = explorer.select(digits, "facility-location", 80, seed=5,
                        params={"optimizer": "stochastic", "epsilon": 0.05})
    assert np.array_equal(a.indices, b.indices)
    assert a.info["objective"] >= 0.97 * lazy.info["objective"]


def test_facility_location_refuses_when_dense_matrix_does_not_fit(digits, monkeypatch):
    monkeypatch.setattr(facility, "available_memory_bytes", lambda: 10 << 20)
    with pytest.raises(ExplorerError, match=r"dense 1797 x 1797 similarity matrix needs"):
        explorer.select(digits, "facility-location", 10, params={"kernel": "dense"})


def test_kmeans_cluster_sampling_covers_the_classes(digits):
    labels = digits.metadata["label"].to_numpy()
    hits = []
    for seed in range(3):
        sel = explorer.select(digits, "k-means", 10, seed=seed)
        hits.append(len(set(labels[sel.indices])))
    rng = np.random.default_rng(0)
    rand = [len(set(labels[rng.choice(len(labels), 10, replace=False)])) for _ in range(200)]
    assert np.mean(hits) > np.mean(rand)  # one pick per cluster finds more digits than chance


def test_kmeans_nearest_picks_are_nearest_to_their_centroid(digits):
    from explorer.clustering import kmeans

    sel = explorer.select(digits, "k-means", 30, seed=2, params={"n_clusters": 10})
    assert len(sel) == 30 and sel.info["n_clusters"] == 10
    # with 'nearest', each cluster's picks are its rows closest to the centre: the selection
    # must therefore score better on mean distance-to-centre than 'random'
    rnd = explorer.select(digits, "k-means", 30, seed=2,
                          params={"n_clusters": 10, "pick": "random"})
    cl = kmeans(digits.embeddings, 10, seed=0)
    def spread(idx):
        d = ((digits.embeddings[idx, None, :] - cl.centers[None]) ** 2).sum(-1)
        return d.min(1).mean()
    assert spread(sel.indices) < spread(rnd.indices)


def test_kmeans_equal_allocation_balances_clusters(digits):
    sel = explorer.select(digits, "k-means", 40, params={"n_clusters": 8, "allocation": "equal"})
    assert len(sel) == 40


def brute_sq(X):
    X = X.astype(np.float64)
    return ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)


@settings(max_examples=40, deadline=None)
@given(arrays(np.int8, st.tuples(st.integers(2, 40), st.integers(1, 3)),
              elements=st.integers(-4, 4)), st.floats(0, 3), st.sampled_from(["first", "random"]))
def test_dedup_leaves_no_close_pair_and_is_maximal(M, threshold, keep):
    X = M.astype(np.float32)
    data = explorer.Dataset.from_arrays(X)
    sel = explorer.select(data, "dedup", None, params={"threshold": threshold, "keep": keep})
    D = np.sqrt(brute_sq(X))
    kept = sel.indices
    sub = D[np.ix_(kept, kept)]
    np.fill_diagonal(sub, np.inf)
    assert (sub > threshold).all()  # no pair at the threshold or closer
    removed = np.setdiff1d(np.arange(len(X)), kept)
    if len(removed):
        assert (D[np.ix_(removed, kept)].min(1) <= threshold).all()  # each removal is covered
    assert sel.info["n_removed"] == len(removed)


def test_dedup_on_real_text_with_pins_and_budget_cap():
    data = explorer.load_sample("pydocs")
    full = explorer.select(data, "dedup", None, metric="cosine", params={"threshold": 0.2})
    Xn = data.embeddings / np.linalg.norm(data.embeddings, axis=1, keepdims=True)
    k = full.indices
    S = Xn[k] @ Xn[k].T
    np.fill_diagonal(S, -1)
    assert (1 - S.max()) > 0.2 - 1e-6
    assert full.info["n_removed"] > 0
    capped = explorer.select(data, "dedup", 100, metric="cosine", params={"threshold": 0.2},
                             pinned=[7])
    assert len(capped) == 100 and capped.indices[0] == 7
