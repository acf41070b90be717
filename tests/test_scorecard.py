"""Scorecard metrics on hand-computable cases, the random envelope, and real-data properties."""

from __future__ import annotations

import json

import numpy as np
import pytest

import explorer
from explorer import space
from explorer.errors import ExplorerError
from explorer.evaluate import metrics
from explorer.evaluate.scorecard import ScoringContext, random_subsets


def test_coverage_on_points_on_a_line():
    X = np.array([[0.0], [1.0], [2.0], [10.0]], dtype=np.float32)
    data = explorer.Dataset.from_arrays(X)
    ctx = ScoringContext.build(data, n_clusters=2)
    m = ctx.subset_metrics(np.array([0, 3]))
    assert m["coverage_max"] == pytest.approx(2.0)
    assert m["coverage_mean"] == pytest.approx((0 + 1 + 2 + 0) / 4)
    assert m["mean_pairwise_distance"] == pytest.approx(10.0)
    assert m["min_pairwise_distance"] == pytest.approx(10.0)
    # facility location: 1 - mean(d^2) / max d^2 = 1 - (0 + 1 + 4 + 0) / 4 / 100
    assert m["facility_location"] == pytest.approx(1 - 5 / 4 / 100)


def test_divergences_and_vendi_reference_values():
    assert metrics.kl_divergence(np.array([5, 5]), np.array([5, 5])) == pytest.approx(0.0)
    assert metrics.kl_divergence(np.array([1, 0]), np.array([1, 1])) == pytest.approx(np.log(2))
    assert metrics.js_divergence(np.array([1, 0]), np.array([0, 1])) == pytest.approx(np.log(2))
    assert metrics.vendi_score(np.eye(5, dtype=np.float32)) == pytest.approx(5.0)
    assert metrics.vendi_score(np.ones((7, 3), dtype=np.float32)) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    S = rng.standard_normal((40, 8)).astype(np.float32)
    Sn = S / np.linalg.norm(S, axis=1, keepdims=True)
    lam = np.linalg.eigvalsh(Sn @ Sn.T / 40)
    lam = lam[lam > 1e-12]
    assert metrics.vendi_score(S) == pytest.approx(np.exp(-(lam * np.log(lam)).sum()))
    assert metrics.percentile_of(5.0, np.array([1.0, 2.0, 3.0])) == 100.0
    assert metrics.percentile_of(0.0, np.array([1.0, 2.0, 3.0])) == 0.0


def test_mmd_of_the_population_to_itself_is_zero(digits):
    ctx = ScoringContext.build(digits, seed=0)
    m = ctx.subset_metrics(np.arange(digits.n))
    assert m["mmd"] == pytest.approx(0.0, abs=1e-6)
    assert m["coverage_max"] == 0.0 and m["facility_location"] == pytest.approx(1.0)
    assert m["cluster_kl"] == pytest.approx(0.0, abs=1e-12)


def test_random_envelope_matches_an_independent_computation(digits):
    sel = explorer.select(digits, "k-center", 60, seed=1)
    card = explorer.score(digits, sel, random_draws=12, seed=9)
    X = digits.embeddings.astype(np.float64)
    values = []
    for child in np.random.SeedSequence(9).spawn(12):
        idx = np.random.default_rng(child).choice(digits.n, 60, replace=False)
        d = np.sqrt(((X[:, None, :] - X[None, idx, :]) ** 2).sum(-1)).min(1)
        values.append(d.mean())
    m = card.metrics["coverage_mean"]
    assert m.random_mean == pytest.approx(np.mean(values), rel=1e-5)
    assert m.random_std == pytest.approx(np.std(values, ddof=1), rel=1e-4)
    assert len(m.random_values) == 12


def test_batched_kernels_match_plain_numpy(pydocs):
    """The compiled one-pass kernels behind the random envelope (nearest pick of several
    subsets at once, kernel sums of several subsets at once) against float64 numpy."""
    Z = np.array(pydocs.embeddings, dtype=np.float32)  # 1,010 rows
    Z[10] = Z[20]  # an exact duplicate: its distance to a subset holding row 20 is 0
    subsets = [np.r_[20, np.arange(100, 139)], np.arange(500, 540), np.arange(960, 1000)]
    near = metrics.nearest_many(Z, subsets, block_bytes=1 << 16)  # several blocks
    X = Z.astype(np.float64)
    for t, idx in enumerate(subsets):
        d2 = ((X[:, None, :] - X[None, idx, :]) ** 2).sum(-1)
        np.testing.assert_allclose(near[t], d2.min(1), rtol=1e-6, atol=1e-9)
    assert near[0, 10] == 0.0
    z_sq = (X ** 2).sum(1)
    rows = np.arange(0, len(Z), 3)
    sums = metrics.kernel_sums(Z, z_sq, rows, subsets, 0.7, block_bytes=1 << 16)
    for t, idx in enumerate(subsets):
        d2 = ((X[rows][:, None, :] - X[None, idx, :]) ** 2).sum(-1)
        assert sums[t] == pytest.approx(np.exp(-0.7 * d2).sum(), rel=1e-6)  # float32 products
        assert metrics.kernel_sum(Z, z_sq, rows, idx, 0.7) == pytest.approx(sums[t], rel=1e-7)


def test_pairwise_summary_matches_plain_numpy(pydocs):
    """The subset's mean and min pairwise distance and mean kernel (one compiled pass per
    block) against float64 numpy, over several blocks, for both metrics; an exact duplicate
    pair gives a minimum of exactly 0."""
    from explorer import space

    for metric in ("euclidean", "cosine"):
        Z = space.prepare(np.array(pydocs.embeddings, dtype=np.float32), metric)
        S = np.ascontiguousarray(Z[:700])
        S[650] = S[3]
        X = S.astype(np.float64)
        d2 = np.maximum(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1), 0.0)
        off = ~np.eye(len(S), dtype=bool)
        dist = d2 / 2.0 if metric == "cosine" else np.sqrt(d2)
        mean, low, kern = metrics.pairwise_summary(S, metric, 0.7, block=256)  # three blocks
        assert mean == pytest.approx(dist[off].mean(), rel=1e-5)
        assert low == 0.0
        assert kern == pytest.approx(np.exp(-0.7 * d2).mean(), rel=1e-5)
        S[650] += 0.01  # no duplicate left: the minimum is the closest pair's distance
        X = S.astype(np.float64)
        d2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
        d2[~off] = np.inf
        low = metrics.pairwise_summary(S, metric, 0.7, block=256)[1]
        want = d2.min() / 2.0 if metric == "cosine" else np.sqrt(d2.min())
        assert low == pytest.approx(want, rel=1e-9)


def test_a_large_subset_has_its_pairwise_metrics_measured_on_a_stated_sample(digits,
                                                                            monkeypatch):
    """Above PAIRWISE_SAMPLE rows the pairwise metrics come from a seeded sample of the
    subset (the random draws the same way), close to the exact values, and the scorecard
    says so; below it nothing changes."""
    from explorer.evaluate import scorecard

    ctx = ScoringContext.build(digits)
    idx = np.random.default_rng(3).choice(digits.n, 1200, replace=False)
    exact = ctx.subset_metrics(idx)
    rows = idx[np.sort(np.random.default_rng(ctx.seed).choice(1200, 400, replace=False))]
    of_sample = ctx.subset_metrics(rows)
    monkeypatch.setattr(scorecard, "PAIRWISE_SAMPLE", 400)
    sampled = ctx.subset_metrics(idx)
    for name in ("mean_pairwise_distance", "min_pairwise_distance", "mmd"):
        assert sampled[name] == pytest.approx(of_sample[name], rel=1e-6)  # the sample's own
    assert sampled["mean_pairwise_distance"] == pytest.approx(exact["mean_pairwise_distance"],
                                                              rel=0.02)
    assert sampled["min_pairwise_distance"] >= exact["min_pairwise_distance"]
    for name in ("coverage_max", "coverage_mean", "vendi", "cluster_kl"):
        assert sampled[name] == exact[name]  # not pairwise: untouched
    card = explorer.score(digits, idx, random_draws=5, context=ctx)
    assert "pairwise metrics on a seeded sample of 400 of the 1,200 rows" in card.space
    small = explorer.score(digits, idx[:300], random_draws=5, context=ctx)
    assert "pairwise" not in small.space


def test_one_shared_product_gives_the_same_coverage_and_kernel_sums(pydocs):
    """nearest_and_kernel_sums (one product per block for both metrics, kernel rows among the
    coverage rows, contiguous or not) against nearest_many and kernel_sums."""
    Z = np.array(pydocs.embeddings, dtype=np.float32)
    z_sq = (Z.astype(np.float64) ** 2).sum(1)
    subsets = [np.arange(100, 140), np.arange(500, 540), np.r_[3, np.arange(961, 1000)]]
    for at in (np.arange(0, 600), np.arange(0, len(Z), 7)):
        near, sums = metrics.nearest_and_kernel_sums(Z, subsets, Z, at, z_sq[at], 0.7,
                                               block_bytes=1 << 16)  # several blocks
        np.testing.assert_array_equal(near, metrics.nearest_many(Z, subsets, block_bytes=1 << 16))
        np.testing.assert_allclose(sums, metrics.kernel_sums(Z, z_sq, at, subsets, 0.7), rtol=1e-9)


def test_above_the_coverage_limit_the_mmd_sample_is_part_of_the_coverage_sample():
    from explorer.evaluate import scorecard

    X = np.random.default_rng(0).normal(size=(scorecard.COVERAGE_ABOVE + 500, 8)).astype(np.float32)
    data = explorer.Dataset.from_arrays(X)
    ctx = ScoringContext.build(data)
    uniform = ctx.coverage_rows[: ctx.coverage_uniform]
    assert len(ctx.mmd_rows) == min(scorecard.MMD_SAMPLE, len(uniform))
    np.testing.assert_array_equal(uniform[ctx.mmd_at], ctx.mmd_rows)
    idx = np.arange(0, data.n, 97)
    ksp = metrics.kernel_sum(ctx.Z, ctx.z_sq, ctx.mmd_rows, idx, ctx.gamma)
    near = metrics.nearest_many(ctx._coverage_Z(), [idx], ctx.Z)[0]
    direct = ctx.subset_metrics(idx, near, ksp)
    shared = ctx.subset_metrics(idx)
    for name, value in direct.items():
        assert shared[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_nearest_row_kernel_matches_plain_numpy(pydocs):
    """space.nearest (float32 arg-min from one product, exact float64 distance of the winner,
    compiled) against float64 numpy: the same row up to float32 near-ties, the exact
    distance, and 0 for a row that is one of the centres."""
    Z = np.array(pydocs.embeddings, dtype=np.float32)  # 1,010 rows
    C = Z[::7]
    for metric in ("euclidean", "cosine"):
        d, arg = space.nearest(Z, C, metric)
        X = Z.astype(np.float64)
        d2 = ((X[:, None, :] - C.astype(np.float64)[None, :, :]) ** 2).sum(-1)
        best = d2.min(1)
        chosen = d2[np.arange(len(Z)), arg]
        np.testing.assert_allclose(chosen, best, rtol=1e-5, atol=1e-9)  # nearest, or a tie
        assert (arg == d2.argmin(1)).mean() > 0.99
        np.testing.assert_allclose(d, space.to_metric(chosen, metric), rtol=1e-12)
        assert (d[::7] == 0).all()  # each centre is its own nearest, at distance 0


def test_random_draws_respect_pins_and_exclusions():
    draws = random_subsets(100, 10, 5, 0, pinned=[3, 4], excluded=range(50, 100))
    for d in draws:
        assert d[:2].tolist() == [3, 4] and len(set(d)) == 10 and (d < 50).all()


def test_kcenter_beats_random_on_worst_case_coverage_and_k_means_on_mean(digits):
    kc = explorer.score(digits, explorer.select(digits, "k-center", 100), random_draws=20)
    km = explorer.score(digits, explorer.select(digits, "k-means", 100), random_draws=20)
    assert kc.metrics["coverage_max"].verdict == "better than random"
    assert kc.metrics["coverage_max"].percentile == 0.0
    assert km.metrics["coverage_mean"].verdict == "better than random"


def test_scorecard_json_form_and_label_counts(digits):
    sel = explorer.select(digits, "stratified", 50, label_column="label")
    card = explorer.score(digits, sel, label_column="label", random_draws=10)
    out = json.loads(json.dumps(card.to_dict()))
    assert out["budget"] == 50
    for name, m in out["metrics"].items():
        assert {"value", "random_mean", "random_std", "random_p05", "random_p95", "percentile",
                "higher_is_better"} <= set(m), name
    assert "label_kl" in out["metrics"]
    assert card.label_counts["subset"].sum() == 50
    assert card.label_counts["population"].sum() == digits.n
    assert out["space"].startswith("full embedding space")
    bal = card.balance("label")
    assert bal["difference"].is_monotonic_increasing
    assert bal["subset_share"].sum() == pytest.approx(1.0)


def test_pca_space_is_recorded_and_determinism():
    data = explorer.load_sample("pydocs")
    sel = explorer.select(data, "random", 40, seed=2)
    a = explorer.score(data, sel, space="pca", random_draws=5, seed=1)
    b = explorer.score(data, sel, space="pca", random_draws=5, seed=1)
    assert a.space.startswith("PCA 64 of 384 dims")
    assert a.to_dict() == b.to_dict()
    full = explorer.score(data, sel, space="full", random_draws=5, seed=1)
    assert full.space == "full embedding space (384 dims)"


def test_bad_selections_are_refused(digits):
    with pytest.raises(ExplorerError, match="outside 0..1796"):
        explorer.score(digits, np.array([0, 5000]))
    with pytest.raises(ExplorerError, match="repeated rows"):
        explorer.score(digits, np.array([1, 1]))
    with pytest.raises(ExplorerError, match="'random_draws' parameter of score"):
        explorer.score(digits, np.array([1, 2]), random_draws=1)


def test_row_passes_on_threads_give_the_same_bits_as_one_thread():
    """The scorecard's compiled row passes run one range of rows per thread
    (space.over_row_ranges); each writes its own rows, so the thread count changes nothing."""
    import numba

    from explorer.evaluate import metrics as subset_metrics

    rng = np.random.default_rng(3)
    X = rng.standard_normal((3 * space.THREADED_MIN_ROWS + 17, 24)).astype(np.float32)
    subsets = [rng.choice(len(X), 40, replace=False) for _ in range(3)]
    z_sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    kernel_at = np.sort(rng.choice(len(X), 2500, replace=False))
    before = numba.get_num_threads()
    got = []
    try:
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            near, sums = subset_metrics.nearest_and_kernel_sums(X, subsets, X, kernel_at,
                                                                z_sq[kernel_at], 0.05)
            pairs = subset_metrics.pairwise_summary(X[:5000], "euclidean", 0.05)
            dist, arg = space.nearest(X, X[subsets[0]], "euclidean")
            got.append((near, sums, pairs, dist, arg))
    finally:
        numba.set_num_threads(before)
    one, two = got
    for a, b in zip(one, two):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    # and the nearest rows are the plain numpy answer
    d2 = ((X[:, None, :] - X[subsets[0]][None, :, :]) ** 2).sum(-1)
    assert np.array_equal(one[4], d2.argmin(axis=1))


def test_row_ranges_share_one_pool_and_report_errors(monkeypatch):
    """over_row_ranges runs its ranges on one pool for the process (not a pool per call),
    covers every row once, runs a call made from inside that pool in its own thread (no
    range waits for the pool it occupies), and re-raises a range's error."""
    import threading

    import numba

    monkeypatch.setattr(numba, "get_num_threads", lambda: 2)
    n = 2 * space.THREADED_MIN_ROWS
    seen, threads, inner = [], set(), []

    def work(lo, hi):
        seen.append((lo, hi))
        threads.add(threading.current_thread().name)
        space.over_row_ranges(n, lambda a, b: inner.append(
            (a, b, threading.current_thread().name)))

    space.over_row_ranges(n, work)
    pool = space._ROW_POOL[1]
    space.over_row_ranges(n, lambda lo, hi: None)
    assert space._ROW_POOL[1] is pool
    assert sorted(seen) == [(0, n // 2), (n // 2, n)]
    assert threads and all(name.startswith("explorer-rows") for name in threads)
    # each nested call ran whole, in the pool thread that made it
    assert len(inner) == 2 and all((a, b) == (0, n) and name in threads
                                   for a, b, name in inner)

    def fail(lo, hi):
        if lo > 0:
            raise ValueError("range failed")

    with pytest.raises(ValueError, match="range failed"):
        space.over_row_ranges(n, fail)
