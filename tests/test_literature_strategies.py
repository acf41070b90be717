"""What each strategy from the literature promises, checked on the bundled real data.

One test per promise: targeted strategies move toward their target far beyond random,
coverage-centric selection covers the score range where top-score does not, SemDeDup leaves
no near-duplicate pair inside a cluster, group quotas are met exactly, herding matches the
data's mean embedding better than random, and so on.
"""

from __future__ import annotations

import numpy as np
import pytest

import explorer
from explorer import space
from explorer.clustering import kmeans
from explorer.errors import ExplorerError
from explorer.data.rows import query_rows
from explorer.evaluate.compare import quality_coverage_front


def random_values(data, k, fn, draws=20, seed=0):
    rng = np.random.default_rng(seed)
    return np.array([fn(rng.choice(data.n, k, replace=False)) for _ in range(draws)])


# ---- targeted -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["dsir", "ot-target"])
@pytest.mark.parametrize("sample,query", [("digits", "label == '3'"),
                                          ("pydocs", "label == 'debugger'")])
def test_targeted_strategies_land_far_closer_to_the_target_than_random(name, sample, query):
    data = explorer.load_sample(sample)
    target = query_rows(data, query)
    k = 60
    params = {"mode": "fixed"} if name == "ot-target" else None
    sel = explorer.select(data, name, k, target_query=query, params=params, seed=1)
    card = explorer.score(data, sel, target=target, random_draws=20)
    for metric in ("target_mmd", "target_ot"):
        m = card.metrics[metric]
        assert m.value < m.random_p05, (metric, m.value, m.random_p05)
        assert m.value < 0.5 * m.random_mean, (metric, m.value, m.random_mean)
    # (on a broad target, e.g. pydocs' 'built-in types' at 22% of the rows, dsir's
    # Gaussian density ratio is mode-seeking: target_ot still falls, target_mmd does not)
    assert sel.target == {"query": query}


def test_dsir_reports_a_kl_reduction_and_importance_weights(digits):
    sel = explorer.select(digits, "dsir", 80, target_query="label == '0'")
    assert sel.info["kl_reduction"] > 0
    assert sel.info["kl_target_selected"] < sel.info["kl_target_pool"]
    assert sel.weights is not None and np.all(sel.weights > 0)


def test_ot_target_proposes_its_own_budget_where_the_transport_cost_is_lowest(digits):
    sel = explorer.select(digits, "ot-target", 400, target_query="label == '7'")
    curve = np.array(sel.info["ot_curve"])
    best = int(curve[np.argmin(curve[:, 1]), 0])
    assert len(sel) == best == sel.info["proposed_budget"]
    assert len(sel) < 400
    fixed = explorer.select(digits, "ot-target", 400, target_query="label == '7'",
                            params={"mode": "fixed"})
    assert len(fixed) == 400
    assert list(fixed.indices[: len(sel)]) == list(sel.indices)


def test_a_second_embedding_file_can_be_the_target(digits, tmp_path):
    rows = np.flatnonzero(digits.metadata["label"].to_numpy() == "5")
    path = tmp_path / "target.npy"
    np.save(path, np.asarray(digits.embeddings)[rows] + 0.01)
    sel = explorer.select(digits, "dsir", 50, target=str(path))
    assert sel.target["path"] == str(path) and "fingerprint" in sel.target
    share = np.mean(digits.metadata["label"].to_numpy()[sel.indices] == "5")
    assert share > 0.8
    np.save(tmp_path / "narrow.npy", np.zeros((3, 5), np.float32))
    with pytest.raises(ExplorerError, match="5 dimensions but the data has 64"):
        explorer.select(digits, "dsir", 50, target=str(tmp_path / "narrow.npy"))


# ---- score-based ----------------------------------------------------------------------

def test_ccs_covers_the_score_range_where_top_score_does_not(pydocs):
    scores = pydocs.metadata["difficulty"].to_numpy()
    k = 100
    ccs = explorer.select(pydocs, "ccs", k, score_column="difficulty", seed=0)
    top = explorer.select(pydocs, "top-score", k, score_column="difficulty")
    edges = np.quantile(scores, np.linspace(0, 1, 11))
    def deciles_hit(idx):
        return len(np.unique(np.clip(np.searchsorted(edges, scores[idx], side="right") - 1,
                                     0, 9)))
    assert deciles_hit(ccs.indices) >= 9
    assert deciles_hit(top.indices) <= 2
    # the hardest beta = 10% are dropped first
    cut = np.quantile(scores, 0.9)
    assert np.all(scores[ccs.indices] <= cut + 1e-12)
    assert np.all(scores[top.indices] >= np.sort(scores)[-k])


def test_quality_diversity_spans_top_score_and_k_center(digits):
    top = explorer.select(digits, "top-score", 30, score_column="difficulty")
    q1 = explorer.select(digits, "quality-diversity", 30, score_column="difficulty",
                         params={"weight": 1.0})
    assert sorted(q1.indices) == sorted(top.indices)
    q0 = explorer.select(digits, "quality-diversity", 30, score_column="difficulty",
                         params={"weight": 0.0})
    kc = explorer.select(digits, "k-center", 30, pinned=[int(q0.indices[0])])
    assert list(q0.indices) == list(kc.indices)
    front = quality_coverage_front(digits, 30, "difficulty", weights=(0.0, 0.5, 1.0))
    assert front["mean_score"].is_monotonic_increasing
    assert front["coverage_max"].iloc[0] <= front["coverage_max"].iloc[-1]
    assert front["pareto"].any()


# ---- clustering -----------------------------------------------------------------------

def test_cluster_complexity_gives_complex_clusters_more_and_every_cluster_its_minimum(pydocs):
    sel = explorer.select(pydocs, "cluster-complexity", 60, seed=2,
                          params={"n_clusters": 12, "min_per_cluster": 2})
    per = np.asarray(sel.info["per_cluster"])
    size = np.asarray(sel.info["cluster_size"])
    cx = np.asarray(sel.info["complexity"])
    assert len(sel) == 60 and per.sum() == 60 and per.min() >= 2
    # per pick of its size, a complex cluster gets more than a simple one
    rate = per / size
    assert rate[np.argmax(cx)] > rate[np.argmin(cx)]
    flat = explorer.select(pydocs, "cluster-complexity", 60, seed=2,
                           params={"n_clusters": 12, "min_per_cluster": 2,
                                   "temperature": 1000.0})
    # a very high temperature spreads the budget evenly over the clusters
    assert flat.info["per_cluster"] == [5] * 12


def test_sensitivity_weights_give_an_unbiased_mean_estimate(digits):
    X = np.asarray(digits.embeddings, dtype=np.float64)
    truth = X.mean(axis=0)
    errs_w, errs_u = [], []
    for seed in range(8):
        sel = explorer.select(digits, "sensitivity", 100, seed=seed, params={"n_clusters": 10})
        w = sel.weights
        assert w is not None and np.all(w > 0)
        est = (w[:, None] * X[sel.indices]).sum(axis=0) / w.sum()
        errs_w.append(np.linalg.norm(est - truth))
        errs_u.append(np.linalg.norm(X[sel.indices].mean(axis=0) - truth))
    # the weighted estimate corrects the sampling bias toward far-from-centre rows
    assert np.mean(errs_w) < np.mean(errs_u)


def test_k_means_kmq_equal_allocation_and_score_refinement(pydocs):
    eq = explorer.select(pydocs, "k-means-kmq", 40, params={"n_clusters": 8,
                                                            "allocation": "equal"})
    assert len(eq) == 40
    hi = explorer.select(pydocs, "k-means-kmq", 80, score_column="difficulty",
                         params={"n_clusters": 8, "iterations": 3, "prefer": "high"})
    lo = explorer.select(pydocs, "k-means-kmq", 80, score_column="difficulty",
                         params={"n_clusters": 8, "iterations": 3, "prefer": "low"})
    s = pydocs.metadata["difficulty"].to_numpy()
    assert s[hi.indices].mean() > s[lo.indices].mean()


# ---- deduplication ----------------------------------------------------------------------

def test_semdedup_leaves_no_pair_above_the_threshold_inside_a_cluster(pydocs):
    eps = 0.15
    sel = explorer.select(pydocs, "semdedup", None, params={"eps": eps, "n_clusters": 10},
                          seed=3)
    assert 0 < sel.info["n_removed"] < pydocs.n
    X = np.asarray(pydocs.embeddings, dtype=np.float64)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    # the clusters semdedup used: k-means on the unit rows with its seed
    seed = int(np.random.default_rng(3).integers(2**31))
    labels = kmeans(X.astype(np.float32), 10, seed=seed).labels
    kept = sel.indices
    sim = X[kept] @ X[kept].T
    same = labels[kept][:, None] == labels[kept][None, :]
    np.fill_diagonal(same, False)
    assert not np.any(sim[same] > 1 - eps + 1e-9)
    # and it did remove pairs that were above it
    full = X @ X.T
    np.fill_diagonal(full, 0)
    assert (full > 1 - eps).sum() > 0


# ---- probabilistic / diversity ------------------------------------------------------------

def _logdet_rbf(X, idx, gamma):
    S = X[idx]
    K = np.exp(-gamma * space.sq_distances(S.astype(np.float32), S.astype(np.float32)))
    return np.linalg.slogdet(K + 1e-9 * np.eye(len(idx)))[1]


def test_dpp_map_and_dpp_are_more_diverse_than_random(digits):
    X = np.asarray(digits.embeddings, dtype=np.float64)
    from explorer.strategies._rbf_features import median_gamma

    gamma = median_gamma(space.prepare(digits.embeddings, "euclidean"),
                         np.random.default_rng(0))
    k = 40
    rand = random_values(digits, k, lambda i: _logdet_rbf(X, i, gamma))
    greedy = _logdet_rbf(X, explorer.select(digits, "dpp-map", k).indices, gamma)
    sampled = np.mean([_logdet_rbf(X, explorer.select(digits, "dpp", k, seed=s).indices, gamma)
                       for s in range(5)])
    assert greedy > rand.max()
    assert sampled > np.median(rand)
    assert greedy >= sampled


def test_max_min_keeps_picks_farther_apart_than_random(pydocs):
    X = space.prepare(pydocs.embeddings, "cosine")
    def min_pair(idx):
        d = space.pairwise(X[idx], X[idx], "cosine")
        np.fill_diagonal(d, np.inf)
        return d.min()
    sel = explorer.select(pydocs, "max-min", 50, metric="cosine")
    assert min_pair(sel.indices) > random_values(pydocs, 50, min_pair).max()
    assert sel.info["min_pairwise_distance"] == pytest.approx(min_pair(sel.indices), rel=1e-6)


def test_herding_matches_the_mean_embedding_better_than_random(digits):
    card = explorer.score(digits, explorer.select(digits, "herding", 50), random_draws=20)
    assert card.metrics["mmd"].value < card.metrics["mmd"].random_p05


def _vote_k_reference(X, k, budget, rho=10.0):
    """A direct transcription of fast vote-k: recompute every score from scratch each step."""
    n = len(X)
    d = space.sq_distances(X, X)
    np.fill_diagonal(d, np.inf)
    N = np.lexsort((np.tile(np.arange(n), (n, 1)), d), axis=1)[:, :k]
    chosen = []
    for _ in range(budget):
        best, best_s = -1, -np.inf
        for u in range(n):
            if u in chosen:
                continue
            voters = [v for v in range(n) if u in N[v] and v not in chosen]
            s = sum(rho ** -len(set(N[v]) & set(chosen)) for v in voters)
            if s > best_s:
                best, best_s = u, s
        chosen.append(best)
    return chosen


def test_vote_k_matches_a_direct_transcription_and_covers_like_the_paper(digits):
    rows = np.arange(0, 1797, 12)  # 150 real rows: the reference is O(n^3)
    sub = explorer.Dataset.from_arrays(np.asarray(digits.embeddings)[rows])
    sel = explorer.select(sub, "vote-k", 12, params={"neighbors": 6})
    X = space.prepare(sub.embeddings, "euclidean")
    assert list(sel.indices) == _vote_k_reference(X, 6, 12)
    card = explorer.score(digits, explorer.select(digits, "vote-k", 60), random_draws=20)
    assert card.metrics["coverage_mean"].value < card.metrics["coverage_mean"].random_p05


# ---- fairness -----------------------------------------------------------------------------

@pytest.mark.parametrize("allocation", ["proportional", "equal"])
def test_group_quota_meets_every_quota_exactly(digits, allocation):
    groups = digits.metadata["group"].astype(str).to_numpy()
    names, sizes = np.unique(groups, return_counts=True)
    sel = explorer.select(digits, "group-quota", 91, group_column="group",
                          params={"inner": "k-center", "allocation": allocation})
    got = {g: int(np.sum(groups[sel.indices] == g)) for g in names}
    assert got == sel.info["quotas"] and sum(got.values()) == 91
    if allocation == "equal":
        assert max(got.values()) - min(got.values()) <= 1
    else:
        expect = sizes / sizes.sum() * 91
        assert all(abs(got[g] - e) < 1 for g, e in zip(names, expect))


def test_group_quota_named_quotas_pins_and_inner_params(digits):
    groups = digits.metadata["group"].astype(str).to_numpy()
    names = np.unique(groups)
    pin = int(np.flatnonzero(groups == names[0])[0])
    sel = explorer.select(digits, "group-quota", 40, group_column="group", pinned=[pin],
                          params={"inner": "k-means", "quotas": f"{names[0]}=25",
                                  "inner_params": "pick=median"})
    assert sel.indices[0] == pin
    assert np.sum(groups[sel.indices] == names[0]) == 25
    assert len(sel) == 40
    with pytest.raises(ExplorerError, match="cannot run per group"):
        explorer.select(digits, "group-quota", 40, group_column="group",
                        params={"inner": "dedup"})
    with pytest.raises(ExplorerError, match="is not a group"):
        explorer.select(digits, "group-quota", 40, group_column="group",
                        params={"quotas": "nope=3"})


def test_equitable_allocation_favours_the_group_that_learns_faster(digits):
    # two groups of real digits: '0' vs '1' is learnt at once, '3' vs '5' vs '8' is harder
    labels = digits.metadata["label"].astype(str).to_numpy()
    easy = np.isin(labels, ["0", "1"])
    hard = np.isin(labels, ["3", "5", "8", "9"])
    rows = np.flatnonzero(easy | hard)
    meta = digits.metadata.iloc[rows].reset_index(drop=True).copy()
    meta["group"] = np.where(easy[rows], "easy", "hard")
    sub = explorer.Dataset.from_arrays(np.asarray(digits.embeddings)[rows], metadata=meta)
    sel = explorer.select(sub, "group-quota", 120, group_column="group", label_column="label",
                          params={"allocation": "equitable"})
    q = sel.info["quotas"]
    assert q["hard"] > q["easy"] and sum(q.values()) == 120
    with pytest.raises(ExplorerError, match="needs a label column"):
        explorer.select(sub, "group-quota", 120, group_column="group",
                        params={"allocation": "equitable"})


# ---- pipelines ------------------------------------------------------------------------------

def test_pipeline_dedup_then_k_center_replays_from_its_manifest(pydocs, tmp_path):
    first = explorer.select(pydocs, "dedup", None, metric="cosine",
                            params={"threshold": 0.3})
    assert len(first) < pydocs.n
    then = explorer.select(pydocs, "k-center", 40, metric="cosine", after=first)
    assert set(then.indices) <= set(first.indices)
    assert then.steps[0]["strategy"] == "dedup" and then.steps[0]["selected"] == len(first)
    path = explorer.write_manifest(tmp_path / "m.json", pydocs, then)
    data, again = explorer.replay(path, data=pydocs)
    assert list(again.indices) == list(then.indices)
    assert again.steps[0]["selected"] == len(first)


def test_where_filter_restricts_candidates_and_is_recorded(digits):
    sel = explorer.select(digits, "k-center", 30, where="label in ['1', '7']")
    assert set(digits.metadata["label"].to_numpy()[sel.indices]) <= {"1", "7"}
    assert sel.where == "label in ['1', '7']"
    with pytest.raises(ExplorerError, match="column 'label' holds text; quote the value"):
        explorer.select(digits, "k-center", 30, where="label == 1")
    with pytest.raises(ExplorerError, match="unknown column 'lable'. Did you mean 'label'"):
        explorer.select(digits, "k-center", 30, where="lable == '1'")


def test_semdedup_profile_predicts_the_rows_removed_at_every_eps(pydocs):
    from explorer.strategies.semdedup import semdedup_profile

    prof = semdedup_profile(np.asarray(pydocs.embeddings), 20, seed=4)
    for eps in (0.03, 0.1, 0.2):
        sel = explorer.select(pydocs, "semdedup", None, params={"eps": eps}, seed=4)
        gone = np.setdiff1d(np.arange(pydocs.n), sel.indices)
        assert set(gone) == set(np.flatnonzero(prof["best"] > 1 - eps))
    # every removed row's partner is in its cluster and at least that similar
    X = np.asarray(pydocs.embeddings, dtype=np.float64)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    for r in np.flatnonzero(prof["best"] > 0.9)[:20]:
        p = prof["partner"][r]
        assert prof["cluster"][p] == prof["cluster"][r]
        assert X[r] @ X[p] == pytest.approx(prof["best"][r], abs=1e-5)
        assert prof["nearest"][r] >= prof["best"][r] - 1e-6
