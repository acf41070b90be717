"""Per-row scores against brute force (scikit-learn's NearestNeighbors, a plain leader scan),
their records, and their use by filters, score-based strategies and exports."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import NearestNeighbors

import explorer
from explorer import row_scores
from explorer.data import filters
from explorer.data.interchange import as_rows, export_as, export_frame


def _brute_knn(X, k, metric):
    nn = NearestNeighbors(n_neighbors=k + 1, metric=metric, algorithm="brute").fit(X)
    d, _ = nn.kneighbors(X)
    return d[:, 1:]  # drop the row itself (distance 0, first)


@pytest.fixture(scope="module")
def digit_scores(digits):
    return row_scores.row_scores(digits, k=10, metric="euclidean", n_clusters=10,
                        duplicate_threshold=0.8, selected=np.arange(0, 1797, 60))


@pytest.mark.parametrize("sample,metric", [("digits", "euclidean"), ("pydocs", "cosine")])
def test_uniqueness_and_typicality_match_brute_force(sample, metric, request):
    data = request.getfixturevalue(sample)
    k = 7
    s = row_scores.row_scores(data, k=k, metric=metric, n_clusters=5).frame
    X = np.asarray(data.embeddings, dtype=np.float64)
    d = _brute_knn(X, k, metric)
    np.testing.assert_allclose(s["uniqueness"], d[:, -1], rtol=1e-4, atol=1e-4)
    mean = d.mean(axis=1)
    finite = mean > 1e-9
    np.testing.assert_allclose(s["typicality"][finite], 1.0 / mean[finite], rtol=1e-3)
    assert np.isinf(s["typicality"][~finite]).all()


def test_duplicate_groups_follow_the_dedup_strategy(digits, digit_scores):
    s = digit_scores.frame
    kept = explorer.select(digits, "dedup", None, params={"threshold": 0.8}).indices
    # the group ids are exactly the rows the dedup strategy keeps, each its own group
    assert set(s["duplicate_group"].unique()) == set(kept.tolist())
    assert (s["duplicate_group"].to_numpy()[kept] == kept).all()
    # every row is within the threshold of its group's kept row, and of no closer kept row
    X = np.asarray(digits.embeddings, dtype=np.float64)
    g = s["duplicate_group"].to_numpy()
    own = np.linalg.norm(X - X[g], axis=1)
    assert own.max() <= 0.8 + 1e-9
    to_kept = NearestNeighbors(n_neighbors=1).fit(X[kept]).kneighbors(X)[0][:, 0]
    np.testing.assert_allclose(own, to_kept, atol=1e-6)
    cos = np.einsum("ij,ij->i", X, X[g]) / (np.linalg.norm(X, axis=1) *
                                            np.linalg.norm(X[g], axis=1))
    np.testing.assert_allclose(s["duplicate_similarity"], cos, atol=1e-6)
    assert (s["duplicate_similarity"].to_numpy()[kept] == 1.0).all()


def test_clusters_and_distance_to_selected(digits, digit_scores):
    s = digit_scores.frame
    from explorer.clustering import kmeans_of

    labels = kmeans_of(np.asarray(digits.embeddings), 10, 0, digits.fingerprint,
                       "euclidean").labels
    assert (s["cluster"].to_numpy() == labels).all()
    sel = np.arange(0, 1797, 60)
    X = np.asarray(digits.embeddings, dtype=np.float64)
    nn = NearestNeighbors(n_neighbors=1).fit(X[sel])
    np.testing.assert_allclose(s["distance_to_selected"], nn.kneighbors(X)[0][:, 0],
                               rtol=1e-6, atol=1e-6)
    assert (s["distance_to_selected"].to_numpy()[sel] == 0).all()
    none = row_scores.with_selection(digit_scores, digits, None, "euclidean").frame
    assert none["distance_to_selected"].isna().all()


def test_each_score_says_how_it_was_computed(digits, digit_scores):
    rec = digit_scores.records
    assert set(rec) == set(row_scores.SCORE_NAMES) == set(digit_scores.frame.columns)
    u = rec["uniqueness"]
    assert (u.k, u.metric, u.fingerprint) == (10, "euclidean", digits.fingerprint)
    assert u.settings["graph"] == "exact"
    assert "10th nearest" in u.caption() and digits.fingerprint[:12] in u.caption()
    assert "threshold = 0.8" in rec["duplicate_group"].caption()
    assert "n_clusters = 10" in rec["cluster"].caption()
    json.dumps({k: r.to_dict() for k, r in rec.items()})  # plain data


def test_the_nn_descent_graph_is_used_above_its_limit():
    """Above 10,000 rows the kNN graph is NN-descent's, its knob recorded; its
    uniqueness is never below the exact value (it can only miss neighbours) and is mostly
    equal on clustered (synthetic) data."""
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(40, 8)) * 6)[rng.integers(0, 40, 10_500)] + \
        rng.normal(size=(10_500, 8))
    data = explorer.Dataset.from_arrays(X.astype(np.float32))
    s = row_scores.row_scores(data, k=5, n_clusters=4, graph_search=16)
    assert s.records["uniqueness"].settings == {"graph": "nn-descent", "graph_search": 16}
    exact = _brute_knn(np.asarray(data.embeddings, np.float64), 5, "euclidean")[:, -1]
    got = s.frame["uniqueness"].to_numpy()
    assert (got >= exact - 1e-4).all()
    assert np.mean(np.isclose(got, exact, rtol=1e-4, atol=1e-4)) > 0.95


def test_bad_settings_are_one_line_errors(digits):
    with pytest.raises(explorer.ExplorerError, match=r"^The 'k' parameter of row_scores must be "
                       r"an int in \[1, 1796\] \(fewer than the 1797 rows\)\. Got 0\.$"):
        row_scores.row_scores(digits, k=0)
    with pytest.raises(explorer.ExplorerError, match="'n_clusters' parameter of row_scores"):
        row_scores.row_scores(digits, n_clusters=0)
    clash = explorer.Dataset.from_arrays(np.eye(4, dtype=np.float32),
                                         metadata=pd.DataFrame({"cluster": [1, 2, 3, 4]}))
    with pytest.raises(explorer.ExplorerError, match="already has a column named 'cluster'"):
        row_scores.with_scores(clash, row_scores.row_scores(clash, k=1, n_clusters=2))


def test_scores_are_columns_for_filters_and_score_strategies(digits, digit_scores):
    scored = row_scores.with_scores(digits, digit_scores)
    assert scored.fingerprint == digits.fingerprint
    assert filters.column_kind(scored.metadata["uniqueness"]) == "number"
    mask = filters.evaluate(filters.parse("uniqueness > 1.6"), scored.metadata, "where")
    assert mask.sum() == (digit_scores.frame["uniqueness"] > 1.6).sum() > 0
    top = explorer.select(scored, "top-score", 25, score_column="uniqueness")
    expected = np.lexsort((np.arange(digits.n), -digit_scores.frame["uniqueness"].to_numpy()))
    assert top.indices.tolist() == expected[:25].tolist()


def test_exports_write_the_scores(digits, digit_scores, tmp_path):
    sel = explorer.select(digits, "k-center", 20, seed=0)
    scores = row_scores.with_selection(digit_scores, digits, sel.indices, "euclidean")
    frame = export_frame(digits, sel, scores=scores)
    for name in row_scores.SCORE_NAMES:
        np.testing.assert_array_equal(frame[name].to_numpy(),
                                      scores.frame[name].to_numpy()[sel.indices])
    assert (frame["distance_to_selected"] == 0).all()
    out = export_as(digits, as_rows([3, 1, 2], digits, "lasso"), tmp_path / "hf", "hf",
                    scores=scores)
    import datasets

    loaded = datasets.load_from_disk(str(out))
    assert loaded["uniqueness"] == pytest.approx(
        scores.frame["uniqueness"].to_numpy()[[3, 1, 2]].tolist())
    assert "score columns" in loaded.info.description


def test_select_with_scores_on_the_command_line(tmp_path):
    from explorer.cli import main

    out = tmp_path / "subset.csv"
    from explorer.data.samples import SAMPLES

    assert main(["select", str(SAMPLES["digits"]), "--strategy", "top-score", "--score-column",
                 "uniqueness", "--budget", "15", "--with-scores", "--out", str(out),
                 "--quiet"]) == 0
    table = pd.read_csv(out)
    data = explorer.load_sample("digits")
    s = row_scores.row_scores(data, metric="euclidean")
    top = np.lexsort((np.arange(data.n), -s.frame["uniqueness"].to_numpy()))[:15]
    assert table["index"].tolist() == top.tolist()
    assert set(row_scores.SCORE_NAMES) <= set(table.columns)
    assert (table["distance_to_selected"] == 0).all()
    np.testing.assert_allclose(table["typicality"], s.frame["typicality"].to_numpy()[top])
