"""Downstream probes, the held-out split, random envelopes and the statistics behind verdicts.

The probes are checked against scikit-learn trained here in the test on the same rows; the
statistics against textbook examples and a brute-force enumeration.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score, recall_score
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits

import explorer
from explorer.errors import ExplorerError, ExplorerWarning
from explorer.evaluate import probes, stats
from explorer.evaluate.sweep import probe_sweep
from explorer.evaluate.scorecard import random_subsets

SEED = 3
DRAWS = 10
BUDGETS = [30, 80]
STRATEGIES = ["random", "k-center", "facility-location", "sensitivity", "stratified",
              "k-means"]


def _quiet_sweep(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExplorerWarning)
        return probe_sweep(*args, **kw)


@pytest.fixture(scope="module")
def sweep(digits):
    return _quiet_sweep(digits, STRATEGIES, BUDGETS, label_column="label",
                        probe=["logistic", "knn"], random_draws=DRAWS, seed=SEED)


def _labels(data, column="label"):
    return data.metadata[column].astype(str).to_numpy()


# ----------------------------------------------------------------------------- the split


def test_holdout_split_is_stratified_disjoint_and_seeded(digits):
    pool, held = probes.holdout_split(digits, "label", fraction=0.2, seed=0)
    assert len(np.intersect1d(pool, held)) == 0
    assert len(pool) + len(held) == digits.n
    assert len(held) == round(0.2 * digits.n)
    y = _labels(digits)
    for label in np.unique(y):
        count = np.sum(y == label)
        assert abs(np.sum(y[held] == label) - 0.2 * count) <= 1, label
    again = probes.holdout_split(digits, "label", fraction=0.2, seed=0)
    assert np.array_equal(again[1], held)
    other = probes.holdout_split(digits, "label", fraction=0.2, seed=1)
    assert not np.array_equal(other[1], held)
    # Without a label column: a plain random split of the same size.
    p2, h2 = probes.holdout_split(digits, None, fraction=0.25, seed=0)
    assert len(h2) == round(0.25 * digits.n) and len(np.intersect1d(p2, h2)) == 0


def test_holdout_split_keeps_a_row_of_every_class_in_the_pool(digits):
    meta = digits.metadata.copy()
    meta["rare"] = np.where(np.arange(digits.n) < 2, "rare", "common")
    data = explorer.Dataset.from_arrays(digits.embeddings, digits.ids, meta)
    pool, held = probes.holdout_split(data, "rare", fraction=0.6, seed=0)
    assert np.isin([0, 1], pool).any()


def test_pool_dataset_holds_only_pool_rows(digits):
    pool, held = probes.holdout_split(digits, "label", seed=0)
    part = probes.take_rows(digits, pool)
    assert part.n == len(pool)
    assert not set(part.ids.tolist()) & set(digits.ids[held].tolist())
    assert np.array_equal(part.embeddings, digits.embeddings[pool])
    assert part.metadata["label"].tolist() == digits.metadata["label"].iloc[pool].tolist()
    assert part.fingerprint != digits.fingerprint


def test_held_out_rows_never_reach_a_strategy(digits, sweep):
    pool, held = sweep.attrs["pool_rows"], sweep.attrs["eval_rows"]
    assert len(held) > 0 and len(np.intersect1d(pool, held)) == 0
    selections = sweep.attrs["selections"]
    assert {name for name, _ in selections} == set(STRATEGIES)
    for (name, budget), rows in selections.items():
        assert len(rows) == budget, name
        assert len(np.intersect1d(rows, held)) == 0, name
        assert np.isin(rows, pool).all(), name
    # The strategies ran on the pool dataset itself (where held-out rows do not exist):
    # re-running one there gives the same rows.
    part = probes.take_rows(digits, pool)
    again = explorer.select(part, "k-center", 80, seed=SEED)
    assert np.array_equal(pool[again.indices], selections[("k-center", 80)])


# ----------------------------------------------------------------------------- the probes


def _standardised(digits, pool, held):
    X = np.asarray(digits.embeddings, dtype=np.float64)
    Xp, Xe = X[pool], X[held]
    mean, std = Xp.mean(axis=0), Xp.std(axis=0)
    std[std == 0] = 1.0
    return (Xp - mean) / std, (Xe - mean) / std


def test_random_envelope_mean_matches_sklearn_trained_here(digits, sweep):
    pool, held = sweep.attrs["pool_rows"], sweep.attrs["eval_rows"]
    y = _labels(digits)
    yp, ye = y[pool], y[held]
    Zp, Ze = _standardised(digits, pool, held)
    Xp = np.asarray(digits.embeddings, dtype=np.float64)[pool]
    Xe = np.asarray(digits.embeddings, dtype=np.float64)[held]
    classes = np.unique(ye)
    with threadpool_limits(1):
        for k in BUDGETS:
            draws = random_subsets(len(pool), k, DRAWS, SEED)
            got = {"logistic": [], "knn": []}
            for d in draws:
                preds = {
                    "logistic": LogisticRegression(max_iter=200).fit(Zp[d], yp[d]).predict(Ze),
                    "knn": KNeighborsClassifier(5).fit(Xp[d], yp[d]).predict(Xe),
                }
                for name, pred in preds.items():
                    got[name].append((
                        accuracy_score(ye, pred),
                        f1_score(ye, pred, labels=classes, average="macro", zero_division=0),
                        recall_score(ye, pred, labels=classes, average=None,
                                     zero_division=0).min()))
            for name, values in got.items():
                mean = np.mean(values, axis=0)
                for j, metric in enumerate(("accuracy", "macro_f1", "worst_recall")):
                    rows = sweep[(sweep.budget == k) & (sweep.metric == f"{name}_{metric}")]
                    assert len(rows) == len(STRATEGIES)
                    assert np.allclose(rows["random_mean"], mean[j], atol=1e-12), (name, metric)


def test_probe_is_reproducible_and_uses_only_the_given_rows(digits):
    pool, held = probes.holdout_split(digits, "label", seed=0)
    probe = probes.make_probe(digits, "logistic", pool, held, label_column="label")
    idx = np.arange(0, 400, 3)
    first, second = probe.run(idx), probe.run(idx)
    assert first == second
    assert set(first) == {"accuracy", "macro_f1", "worst_recall"}
    assert 0.5 < first["accuracy"] <= 1.0


def test_single_class_subset_predicts_that_class(digits):
    pool, held = probes.holdout_split(digits, "label", seed=0)
    y = _labels(digits)
    only_threes = np.flatnonzero(y[pool] == "3")[:6]
    ye = y[held]
    for name in ("logistic", "knn"):
        probe = probes.make_probe(digits, name, pool, held, label_column="label")
        out = probe.run(only_threes)
        assert out["accuracy"] == pytest.approx(np.mean(ye == "3"))
        assert out["worst_recall"] == 0.0
        pred = np.full(len(ye), "3")
        assert out["macro_f1"] == pytest.approx(
            f1_score(ye, pred, labels=np.unique(ye), average="macro", zero_division=0))


def test_knn_on_a_subset_smaller_than_k(digits):
    pool, held = probes.holdout_split(digits, "label", seed=0)
    y = _labels(digits)
    probe = probes.make_probe(digits, "knn", pool, held, label_column="label", n_neighbors=5)
    two = np.array([np.flatnonzero(y[pool] == "0")[0], np.flatnonzero(y[pool] == "1")[0]])
    out = probe.run(two)
    X = np.asarray(digits.embeddings, dtype=np.float64)
    pred = KNeighborsClassifier(2).fit(X[pool][two], y[pool][two]).predict(X[held])
    assert out["accuracy"] == pytest.approx(accuracy_score(y[held], pred))
    # A single row: one class, defined result.
    assert probes.make_probe(digits, "knn", pool, held, label_column="label").run([0])[
        "worst_recall"] == 0.0


def test_ridge_probe_uses_importance_weights(digits):
    pool, held = probes.holdout_split(digits, None, seed=0)
    part = probes.take_rows(digits, pool)
    sel = explorer.select(part, "sensitivity", 120, seed=0)
    assert sel.weights is not None and np.ptp(sel.weights) > 0
    probe = probes.make_probe(digits, "ridge", pool, held, target_column="difficulty")
    weighted = probe.run(sel.indices, sel.weights)
    plain = probe.run(sel.indices)
    assert weighted != plain
    Zp, Ze = _standardised(digits, pool, held)
    y = digits.metadata["difficulty"].to_numpy(dtype=np.float64)
    w = sel.weights * len(sel.weights) / sel.weights.sum()
    model = Ridge(alpha=1.0).fit(Zp[sel.indices], y[pool][sel.indices], sample_weight=w)
    resid = y[held] - model.predict(Ze)
    assert weighted["rmse"] == pytest.approx(np.sqrt(np.mean(resid**2)))
    assert weighted["r2"] == pytest.approx(
        1 - np.sum(resid**2) / np.sum((y[held] - y[held].mean()) ** 2))


def test_ridge_sweep_with_weights_on_difficulty(digits):
    table = _quiet_sweep(digits, ["sensitivity", "k-center"], [60], target_column="difficulty",
                         probe="ridge", random_draws=6, seed=0, geometry=False)
    assert set(table["metric"]) == {"ridge_r2", "ridge_rmse"}
    assert table[["value", "random_mean", "p_value"]].notna().all().all()
    rmse = table[table.metric == "ridge_rmse"].iloc[0]
    assert not rmse["higher_is_better"] and rmse["value"] > 0
    # No label column: the split is a plain random one of 20 %.
    assert len(table.attrs["eval_rows"]) == round(0.2 * digits.n)


# ----------------------------------------------------------------------------- the sweep


def test_sweep_is_reproducible_for_a_seed(digits):
    kw = dict(label_column="label", probe="knn", random_draws=5, geometry=False)
    calls = []
    a = _quiet_sweep(digits, ["k-means", "random"], [40], seed=1,
                     progress=lambda f, m: calls.append((f, m)), **kw)
    assert calls[-1][0] == 1.0 and all(0 < f <= 1 for f, _ in calls)
    b = _quiet_sweep(digits, ["k-means", "random"], [40], seed=1, **kw)
    pd.testing.assert_frame_equal(a, b)
    c = _quiet_sweep(digits, ["k-means", "random"], [40], seed=2, **kw)
    assert not np.array_equal(a.attrs["eval_rows"], c.attrs["eval_rows"])
    assert not np.allclose(a["random_mean"], c["random_mean"])


def test_sweep_table_shape_and_verdicts(sweep):
    required = ["strategy", "budget", "metric", "value", "random_mean", "random_p05",
                "random_p95", "percentile", "difference", "ci_low", "ci_high", "p_value",
                "p_holm", "verdict"]
    assert all(c in sweep.columns for c in required)
    metrics = set(sweep["metric"])
    assert {"logistic_accuracy", "knn_worst_recall", "coverage_max", "label_kl"} <= metrics
    per_metric = sweep.groupby("metric").size()
    assert (per_metric == len(STRATEGIES) * len(BUDGETS)).all()
    assert np.allclose(sweep["difference"], sweep["value"] - sweep["random_mean"])
    assert (sweep["ci_low"] <= sweep["ci_high"]).all()
    assert (sweep["p_holm"] >= sweep["p_value"] - 1e-15).all() and (sweep["p_holm"] <= 1).all()
    # Holm runs per metric over every (strategy, budget).
    for _, part in sweep.groupby("metric"):
        assert np.allclose(part["p_holm"], stats.holm(part["p_value"].to_numpy()))
    better = sweep["verdict"] == "better than random"
    assert (better == (sweep["p_holm"] < 0.05)).all()
    # 12 comparisons with 10 draws: rank p-values alone could never reach 0.05 after Holm
    # (a note says so); the prediction t-test can, where the gap is many random SDs wide.
    assert any("random_draws >= 240" in note for note in sweep.attrs["notes"])
    assert (sweep["p_rank"] >= 1 / 11 - 1e-12).all()
    z = (sweep["value"] - sweep["random_mean"]) / sweep["random_std"]
    z = np.where(sweep["higher_is_better"], z, -z)
    assert (z[better.to_numpy()] > 2).all()


def test_geometry_rows_agree_with_the_scorecard(digits, sweep):
    pool = sweep.attrs["pool_rows"]
    part = probes.take_rows(digits, pool)
    rows_full = sweep.attrs["selections"][("facility-location", 30)]
    pos = np.searchsorted(pool, rows_full)
    card = explorer.score(part, pos, label_column="label", random_draws=DRAWS, seed=SEED)
    table = sweep[(sweep.strategy == "facility-location") & (sweep.budget == 30)]
    for name, m in card.metrics.items():
        row = table[table.metric == name].iloc[0]
        assert row["value"] == pytest.approx(m.value)
        assert row["random_mean"] == pytest.approx(m.random_mean)
        assert row["percentile"] == pytest.approx(m.percentile)


def test_without_a_probe_nothing_is_held_out(digits):
    table = _quiet_sweep(digits, ["k-center"], [30], label_column="label", probe="none",
                         random_draws=5, seed=0)
    assert set(table["kind"]) == {"geometry"}
    assert len(table.attrs["eval_rows"]) == 0 and len(table.attrs["pool_rows"]) == digits.n
    card = explorer.score(digits, explorer.select(digits, "k-center", 30, seed=0),
                          label_column="label", random_draws=5, seed=0)
    row = table[table.metric == "coverage_max"].iloc[0]
    assert row["value"] == pytest.approx(card.metrics["coverage_max"].value)


def test_a_single_comparison_uses_the_prediction_t_test_and_reports_the_rank_p(digits):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExplorerWarning)
        table = probe_sweep(digits, ["k-means"], [100], label_column="label", probe="knn",
                              random_draws=20, seed=0, geometry=False)
    acc = table[table.metric == "knn_accuracy"].iloc[0]
    assert acc["p_rank"] == pytest.approx(1 / 21)  # better than all 20 draws
    env = _quiet_envelope(digits, table, 100, 20, 0)
    assert acc["p_value"] == pytest.approx(stats.prediction_p_value(acc["value"], env))
    assert acc["p_value"] < acc["p_rank"] and acc["p_holm"] == acc["p_value"]
    assert acc["verdict"] == "better than random"


def test_too_few_draws_for_rank_p_values_are_noted(digits):
    table = _quiet_sweep(digits, ["random", "k-center"], [20], label_column="label",
                         probe="knn", random_draws=5, geometry=False)
    assert any("random_draws >= 40" in note for note in table.attrs["notes"])


def test_several_seeds_use_a_permutation_test(digits):
    table = _quiet_sweep(digits, ["random", "top-score"], [40], label_column="label",
                         score_column="difficulty", probe="knn", seeds=3, random_draws=8,
                         seed=0, geometry=False)
    n_values = table.groupby("strategy")["n_values"].first()
    assert n_values["random"] == 3  # three seeds, three different subsets
    assert n_values["top-score"] == 1  # its seed only breaks ties: one run
    row = table[(table.strategy == "random") & (table.metric == "knn_accuracy")].iloc[0]
    res = stats.bootstrap_diff_ci(
        [_knn_accuracy_of_seed(digits, table, s) for s in (0, 1, 2)],
        _quiet_envelope(digits, table, 40, 8, 0), seed=0)
    assert row["p_value"] == pytest.approx(res.p_value)
    assert row["value"] == pytest.approx(res.difference + row["random_mean"])


def _knn_accuracy_of_seed(digits, table, seed):
    pool, held = table.attrs["pool_rows"], table.attrs["eval_rows"]
    sel = explorer.select(probes.take_rows(digits, pool), "random", 40, seed=seed)
    probe = probes.make_probe(digits, "knn", pool, held, label_column="label")
    return probe.run(sel.indices)["accuracy"]


def _quiet_envelope(digits, table, size, draws, seed):
    pool, held = table.attrs["pool_rows"], table.attrs["eval_rows"]
    probe = probes.make_probe(digits, "knn", pool, held, label_column="label")
    return probes.random_envelope(probe, size, draws, seed)["accuracy"].to_numpy()


def test_pydocs_cosine_knn_sweep(pydocs):
    table = _quiet_sweep(pydocs, ["k-center", "random"], [0.05], label_column="label",
                         probe="knn", metric="cosine", random_draws=6, seed=0)
    held = table.attrs["eval_rows"]
    y = _labels(pydocs)
    for label in np.unique(y):
        assert abs(np.sum(y[held] == label) - 0.2 * np.sum(y == label)) <= 1
    pool = table.attrs["pool_rows"]
    assert set(table["budget"]) == {round(0.05 * len(pool))}
    for rows in table.attrs["selections"].values():
        assert len(np.intersect1d(rows, held)) == 0
    acc = table[table.metric == "knn_accuracy"]
    assert acc["value"].between(0, 1).all() and acc["random_mean"].between(0.2, 1).all()
    assert "coverage_max" in set(table["metric"])


def test_sweep_errors_name_the_problem(digits):
    with pytest.raises(ExplorerError, match=r"^The 'probe' parameter of probe_sweep must be "
                       r".* Got 'svm'\.$"):
        probe_sweep(digits, ["random"], [10], label_column="label", probe="svm")
    with pytest.raises(ExplorerError, match="needs a label column"):
        probe_sweep(digits, ["random"], [10], probe="knn")
    with pytest.raises(ExplorerError, match="'group'.*must be numeric"):
        probe_sweep(digits, ["random"], [10], target_column="group", probe="ridge")
    with pytest.raises(ExplorerError, match="budget 1700 exceeds the 1438 rows of the pool"):
        probe_sweep(digits, ["random"], [1700], label_column="label")
    with pytest.raises(ExplorerError, match="'fraction' parameter of holdout_split"):
        probes.holdout_split(digits, "label", fraction=1.5)
    with pytest.raises(ExplorerError, match="repeats"):
        probes.take_rows(digits, [1, 1])
    with pytest.raises(ExplorerError, match="held-out evaluation set"):
        pool, held = probes.holdout_split(digits, "label", seed=0)
        probe_sweep(digits, ["dsir"], [10], label_column="label", target=held[:5])


# ----------------------------------------------------------------------------- statistics


def test_holm_textbook_example():
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.6]).tolist() == [1.0, 1.0]
    out = stats.holm([0.02, np.nan, 0.01])
    assert np.isnan(out[1]) and out[[0, 2]] == pytest.approx([0.02, 0.02])


def _holm_rejections(p, alpha):
    """Holm's procedure as stated: walk up the sorted p-values, reject while
    p_(i) <= alpha / (m - i + 1)."""
    order = np.argsort(p, kind="stable")
    rejected = np.zeros(len(p), dtype=bool)
    for i, j in enumerate(order):
        if p[j] > alpha / (len(p) - i):
            break
        rejected[j] = True
    return rejected


def test_holm_adjusted_p_values_match_the_step_down_procedure():
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = rng.uniform(0, 0.2, size=rng.integers(1, 12))
        adj = stats.holm(p)
        assert (adj >= p).all() and (adj <= 1).all()
        order = np.argsort(p, kind="stable")
        assert (np.diff(adj[order]) >= -1e-15).all()  # monotone in the sorted order
        for alpha in (0.01, 0.05, 0.1):
            assert np.array_equal(adj <= alpha, _holm_rejections(p, alpha))


def test_rank_p_value_counts_draws_at_least_as_good():
    draws = np.arange(1.0, 20.0)  # 19 draws: 1..19
    assert stats.rank_p_value(25.0, draws) == pytest.approx(1 / 20)
    assert stats.rank_p_value(19.0, draws) == pytest.approx(2 / 20)  # a tie counts
    assert stats.rank_p_value(0.5, draws, higher_is_better=False) == pytest.approx(1 / 20)
    assert stats.rank_p_value(0.5, draws) == 1.0


def test_bootstrap_diff_ci_is_seeded_and_centred():
    rng = np.random.default_rng(1)
    randoms = rng.normal(0.8, 0.02, size=30)
    a = stats.bootstrap_diff_ci(0.9, randoms, seed=5)
    b = stats.bootstrap_diff_ci(0.9, randoms, seed=5)
    c = stats.bootstrap_diff_ci(0.9, randoms, seed=6)
    assert a == b and (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)
    assert a.difference == pytest.approx(0.9 - randoms.mean())
    assert a.ci_low < a.difference < a.ci_high
    assert a.p_rank == pytest.approx(1 / 31)
    assert a.p_value == pytest.approx(stats.prediction_p_value(0.9, randoms)) and a.p_value < 1e-3
    assert a.p_worse > 0.999
    lower = stats.bootstrap_diff_ci(0.9, randoms, higher_is_better=False, seed=5)
    assert lower.p_value > 0.999 and lower.p_worse == pytest.approx(a.p_value)
    # The interval narrows as the random draws multiply.
    wide = stats.bootstrap_diff_ci(0.9, randoms[:8], seed=5)
    assert wide.ci_high - wide.ci_low > a.ci_high - a.ci_low


def test_permutation_p_value_matches_exact_enumeration():
    values = np.array([0.81, 0.86])
    randoms = np.array([0.80, 0.79, 0.84, 0.83, 0.78, 0.82])
    both = np.concatenate([values, randoms])
    observed = values.mean() - randoms.mean()
    differences = []
    for pick in itertools.combinations(range(len(both)), 2):
        mask = np.zeros(len(both), bool)
        mask[list(pick)] = True
        differences.append(both[mask].mean() - both[~mask].mean())
    exact = np.mean(np.array(differences) >= observed - 1e-12)
    res = stats.bootstrap_diff_ci(values, randoms, seed=0, n_permutations=20000)
    assert res.method == "permutation"
    assert res.p_value == pytest.approx(exact, abs=0.01)
    below = np.mean(np.array(differences) <= observed + 1e-12)
    assert res.p_worse == pytest.approx(below, abs=0.01)


def test_draws_needed_and_verdicts():
    for m in (1, 3, 12, 25):
        r = stats.draws_needed(m)
        assert m / (r + 1) < 0.05 <= m / r
    assert stats.verdict(0.01, 0.99) == "better than random"
    assert stats.verdict(0.99, 0.01) == "worse than random"
    assert stats.verdict(0.06, 0.9) == "within random's spread"


def test_prediction_p_value_matches_the_t_formula_and_its_calibration():
    from scipy.stats import t as student_t

    randoms = np.array([0.80, 0.82, 0.85, 0.79, 0.81])
    m, sd = randoms.mean(), randoms.std(ddof=1)
    t = (0.9 - m) / (sd * np.sqrt(1 + 1 / 5))
    assert stats.prediction_p_value(0.9, randoms) == pytest.approx(student_t.sf(t, 4))
    # calibrated: a new draw from the same normal distribution gets p < 0.05 about 5% of
    # the time
    rng = np.random.default_rng(0)
    hits = [stats.prediction_p_value(rng.normal(), rng.normal(size=30)) < 0.05
            for _ in range(4000)]
    assert abs(np.mean(hits) - 0.05) < 0.012
