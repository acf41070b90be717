"""Dimensions against random dimensions: exact subsets, determinism, each method on a case
that can be checked by hand, the envelope, the export and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import explorer
from explorer.dimensions import (METHODS, apply_dimensions, choose_dimensions,
                                 dimension_report, export_dimensions, inf_fs_scores,
                                 nearest_neighbours, omp_order, pivoted_qr_order,
                                 read_dimensions, reduce)
from explorer.errors import ExplorerError

ROOT = Path(__file__).resolve().parents[1]
UNSUPERVISED = [m for m, (needs, _) in METHODS.items() if not needs]


@settings(max_examples=40, deadline=None)
@given(method=hs.sampled_from(list(METHODS)), k=hs.integers(1, 12),
       seed=hs.integers(0, 2**16), rows=hs.integers(15, 60), dim=hs.integers(12, 20))
def test_a_choice_is_k_distinct_columns_and_the_reduced_matrix_is_those_columns(
        method, k, seed, rows, dim):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(rows, dim)) * rng.uniform(0.1, 3, dim)).astype(np.float32)
    labels = rng.integers(0, 3, rows)
    choice = choose_dimensions(X, k, method, labels=labels, seed=seed)
    idx = choice.indices
    assert idx.dtype == np.int64 and len(idx) == k == choice.k
    assert len(set(idx.tolist())) == k and idx.min() >= 0 and idx.max() < dim
    assert np.array_equal(choice.reduce(X), X[:, idx])
    again = choose_dimensions(X, k, method, labels=labels, seed=seed)
    assert np.array_equal(again.indices, idx)  # deterministic


def test_reduce_keeps_rows_ids_and_metadata(digits):
    choice = choose_dimensions(digits, 10, "pivoted-qr")
    small = reduce(digits, choice)
    assert np.array_equal(small.embeddings, digits.embeddings[:, choice.indices])
    assert (small.ids == digits.ids).all() and small.metadata is digits.metadata
    assert small.fingerprint != digits.fingerprint
    other = explorer.Dataset.from_arrays(digits.embeddings[:5], digits.ids[:5])
    with pytest.raises(ExplorerError, match="made on other data"):
        reduce(other, choice)


def test_variance_by_hand():
    X = np.array([[0, 0, 0], [1, 10, 2], [2, 20, 4]], dtype=np.float32)  # variances 2/3, 200/3, 8/3
    assert choose_dimensions(X, 2, "variance").indices.tolist() == [1, 2]


def test_pivoted_qr_by_hand_skips_a_column_the_first_one_already_explains():
    a = np.array([1.0, -1.0, 2.0, 0.0, -2.0])
    b = np.array([0.0, 1.0, 0.0, -1.0, 0.0])  # orthogonal to a, smaller
    X = np.column_stack([a, b, 3 * a, 0.5 * a + 0.01 * b])
    # 3a is the longest column; then a and 0.5a + 0.01b add (almost) nothing: b comes next
    assert pivoted_qr_order(X).tolist()[:2] == [2, 1]
    assert choose_dimensions(X, 2, "pivoted-qr").indices.tolist() == [2, 1]


def test_inf_fs_is_the_sum_over_paths_of_every_length():
    rng = np.random.default_rng(1)
    f = rng.normal(size=300)
    X = np.column_stack([f, f + 0.01 * rng.normal(size=300), rng.normal(size=300),
                         0.2 * rng.normal(size=300)])
    scores = inf_fs_scores(X, alpha=0.5, factor=0.9)
    # built by hand: spread s_ij = max(std_i, std_j) rescaled to [0, 1]; c_ij = 1 - |rho_s|
    from scipy.stats import spearmanr

    std = X.std(axis=0)
    s = np.maximum.outer(std, std)
    s = (s - s.min()) / (s.max() - s.min())
    A = 0.5 * s + 0.5 * (1 - np.abs(spearmanr(X).statistic))
    r = 0.9 / np.max(np.linalg.eigvalsh(A))
    series, term = np.zeros_like(A), np.eye(4)
    for _ in range(400):  # sum_{l >= 1} (rA)^l, the paths of length l
        term = term @ (r * A)
        series += term
    assert np.allclose(scores, series.sum(axis=1), rtol=1e-6)
    # the independent, spread-out column wins; the two near-duplicates come last
    assert int(np.argmax(scores)) == 2 and set(np.argsort(scores)[:2].tolist()) == {0, 1}


def test_matryoshka_is_the_prefix():
    X = np.random.default_rng(0).normal(size=(20, 9))
    assert choose_dimensions(X, 5, "matryoshka").indices.tolist() == [0, 1, 2, 3, 4]


def test_omp_by_hand_finds_the_columns_that_carry_the_labels():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 8))
    y = (X[:, 5] > 0).astype(int) + 2 * (X[:, 1] > 0.5)
    order = omp_order(X, y, 3)
    assert set(order[:2].tolist()) == {1, 5}
    with pytest.raises(ExplorerError, match="'omp' dimension method needs labels"):
        choose_dimensions(X, 2, "omp")


def test_supervised_choice_sees_only_the_rows_it_is_given(digits):
    rows = np.arange(0, digits.n, 2)
    a = choose_dimensions(digits, 6, "omp", label_column="label", rows=rows)
    y = digits.metadata["label"].astype(str).to_numpy()
    X = np.asarray(digits.embeddings)
    assert a.indices.tolist() == omp_order(X[rows], y[rows], 6).tolist()


def test_bad_arguments_are_one_line_errors(digits):
    for k in (0, 65, 2.5, True):
        with pytest.raises(ExplorerError, match=r"'k' parameter of choose_dimensions must be "
                                                r"an int in \[1, 64\]"):
            choose_dimensions(digits, k, "variance")
    with pytest.raises(ExplorerError, match=r"^The 'method' parameter of choose_dimensions must "
                                            r"be a str among \{'variance', .*\}. Got 'pca'\.$"):
        choose_dimensions(digits, 4, "pca")
    with pytest.raises(ExplorerError, match="needs labels"):
        dimension_report(digits, 4, ["omp"])


def test_nearest_neighbours_against_sklearn(digits):
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(digits.embeddings[:400], dtype=np.float32)
    q = np.arange(0, 400, 7)
    ours = nearest_neighbours(X, q, 10)
    theirs = NearestNeighbors(n_neighbors=11).fit(X).kneighbors(X[q], return_distance=False)
    theirs = [row[row != i][:10] for row, i in zip(theirs, q)]
    agree = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ours, theirs)])
    assert agree > 0.99  # ties between equal distances may order differently


def test_the_envelope_on_digits(digits):
    report = dimension_report(digits, 16, ["variance", "matryoshka", "omp"],
                              label_column="label", random_draws=8, seed=0)
    frame = report.to_frame()
    assert set(frame["metric"]) == {"knn_recall", "probe_accuracy", "coverage_agreement"}
    for r in frame.itertuples():
        assert r.random_p05 <= r.random_mean <= r.random_p95
        assert 0 <= r.percentile <= 100 and 0 <= r.p_holm <= 1
    assert report.full["knn_recall"] == 1.0 and 0.9 < report.full["probe_accuracy"] <= 1.0
    # the random draws are SeedSequence-spawned and depend only on (D, k, R, seed)
    again = dimension_report(digits, 16, ["variance"], label_column="label",
                             random_draws=8, seed=0)
    assert np.array_equal(again.scores["variance"]["knn_recall"].random_values,
                          report.scores["variance"]["knn_recall"].random_values)
    # at k = D every method is the full space: recall 1, agreement 1
    whole = dimension_report(digits, 64, ["pivoted-qr"], random_draws=3)
    assert whole.scores["pivoted-qr"]["knn_recall"].value == pytest.approx(1.0)
    assert whole.scores["pivoted-qr"]["coverage_agreement"].value == pytest.approx(1.0)


def test_export_writes_the_reduced_matrix_and_a_checked_manifest(digits, tmp_path):
    choice = choose_dimensions(digits, 12, "inf-fs")
    export_dimensions(digits, choice, tmp_path / "r.parquet", manifest=tmp_path / "d.json")
    export_dimensions(digits, choice, tmp_path / "r.npy")
    table = pd.read_parquet(tmp_path / "r.parquet")
    assert table["id"].tolist() == digits.ids.tolist()
    assert np.array_equal(np.stack(table["embedding"]), digits.embeddings[:, choice.indices])
    assert np.array_equal(np.load(tmp_path / "r.npy"), digits.embeddings[:, choice.indices])
    doc = read_dimensions(tmp_path / "d.json")
    assert doc["indices"] == choice.indices.tolist() and doc["method"] == "inf-fs"
    assert np.array_equal(apply_dimensions(digits, doc).embeddings,
                          digits.embeddings[:, choice.indices])
    with pytest.raises(ExplorerError, match="already exists"):
        export_dimensions(digits, choice, tmp_path / "r.npy")
    bad = dict(doc, indices=doc["indices"][:-1] + [64])
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ExplorerError, match=r"bad.json: key 'indices\[11\]' is 64, outside"):
        read_dimensions(tmp_path / "bad.json")
    (tmp_path / "code.json").write_text(json.dumps(dict(doc, method="__import__('os')")))
    with pytest.raises(ExplorerError, match="key 'method' must be a dimension method"):
        read_dimensions(tmp_path / "code.json")


def test_cli_dimensions(tmp_path):
    data = str(ROOT / "sample_data" / "digits.parquet")
    done = subprocess.run(
        [sys.executable, "-m", "explorer", "dimensions", data, "--id-column", "id", "--k", "8",
         "--methods", "variance,omp", "--label-column", "label", "--random-draws", "5",
         "--choose", "omp", "--out", "r.npy", "--manifest", "d.json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "knn_recall" in done.stdout and "omp" in done.stdout
    assert np.load(tmp_path / "r.npy").shape == (1797, 8)
    assert len(json.loads((tmp_path / "d.json").read_text())["indices"]) == 8
    done = subprocess.run(
        [sys.executable, "-m", "explorer", "dimensions", data, "--id-column", "id", "--k",
         "99"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "must be an int in [1, 64]" in done.stderr


def test_a_sharded_dataset_is_reported_on_a_uniform_sample(digits, tmp_path, capsys):
    """On shards the report reads a uniform sample keyed by hash(seed, row id) into memory:
    the report of those same rows of the dataset in one file, whatever the shard layout."""
    from explorer.cli import main
    from explorer.data.shards import write_shards
    from explorer.dimensions import dimension_report
    from explorer.engine import drivers

    a, b = tmp_path / "three", tmp_path / "five"
    a.mkdir()
    b.mkdir()
    write_shards(digits, a, [0, 600, 600, 1797])
    write_shards(digits, b, [0, 1, 400, 800, 1200, 1797])
    three, five = (explorer.load(str(f), id_column="id") for f in (a, b))
    sample = drivers.sample_as_dataset(three, 900, seed=3, engine="local")
    assert sample.n == 900 and np.array_equal(
        sample.ids, drivers.sample_as_dataset(five, 900, seed=3, engine="local").ids)
    rows = digits.index_of_ids(sample.ids)
    assert np.array_equal(sample.embeddings, digits.embeddings[rows])
    assert sample.metadata["label"].tolist() == digits.metadata["label"].iloc[rows].tolist()

    on_shards = dimension_report(three, 8, ["variance", "omp"], label_column="label",
                                 random_draws=5, seed=3, engine="local")
    in_memory = dimension_report(drivers.sample_as_dataset(three, 50_000, 3, "local"), 8,
                                 ["variance", "omp"], label_column="label", random_draws=5,
                                 seed=3)
    assert on_shards.to_frame().equals(in_memory.to_frame())
    assert "uniform sample of 1,797 of the 1,797 rows" in on_shards.notes[0]

    code = main(["dimensions", str(b), "--id-column", "id", "--k", "8", "--methods",
                 "variance", "--random-draws", "5", "--format", "json"])
    assert code == 0, capsys.readouterr().err
    code = main(["dimensions", str(b), "--id-column", "id", "--k", "8", "--choose",
                 "variance", "--out", str(tmp_path / "r.npy")])
    err = capsys.readouterr().err
    assert code == 2 and "--choose and --selection need the dataset in one file" in err
