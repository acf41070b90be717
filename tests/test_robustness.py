"""Robustness to the embedding: a selection scored in a second space of the same rows (the
real pair: pydocs in MiniLM space and in the TF-IDF + SVD space of the same paragraphs)."""

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
from explorer.data.samples import OTHER_SPACES
from explorer.errors import ExplorerError
from explorer.evaluate.robustness import (check_in_other_space, flip, jaccard_of,
                                          other_space, random_jaccard)

TFIDF = OTHER_SPACES["pydocs"]["TF-IDF + SVD (128-D)"]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tfidf(pydocs):
    return other_space(pydocs, TFIDF)


def test_the_second_space_is_the_same_rows_in_another_model(pydocs, tfidf):
    assert tfidf.n == pydocs.n and tfidf.dim == 128
    assert (tfidf.ids == pydocs.ids).all() and tfidf.metadata is pydocs.metadata
    assert tfidf.fingerprint != pydocs.fingerprint
    norms = np.linalg.norm(tfidf.embeddings, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)
    # a real second space: the label is as predictable from it as from MiniLM, yet the
    # two spaces disagree about which rows are neighbours
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    y = pydocs.metadata["label"].to_numpy()
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    acc = cross_val_score(LogisticRegression(max_iter=500), tfidf.embeddings, y, cv=folds).mean()
    assert acc > 0.6
    A = pydocs.embeddings @ pydocs.embeddings.T
    B = tfidf.embeddings @ tfidf.embeddings.T
    np.fill_diagonal(A, -9)
    np.fill_diagonal(B, -9)
    same_nearest = float(np.mean(A.argmax(1) == B.argmax(1)))
    assert 0.05 < same_nearest < 0.6


def test_rows_are_matched_by_id_in_any_order(pydocs, tmp_path):
    frame = pd.read_parquet(TFIDF)
    order = np.random.default_rng(0).permutation(len(frame))
    shuffled = tmp_path / "shuffled.parquet"
    frame.iloc[order].to_parquet(shuffled)
    a, b = other_space(pydocs, TFIDF), other_space(pydocs, shuffled)
    assert np.array_equal(a.embeddings, b.embeddings)
    frame.iloc[order[:-3]].to_parquet(tmp_path / "short.parquet")
    with pytest.raises(ExplorerError, match=r"short.parquet: 3 id\(s\) of pydocs are not in") \
            as err:
        other_space(pydocs, tmp_path / "short.parquet")
    assert "\n" not in str(err.value)


def test_a_list_column_of_the_data_is_a_second_space(digits):
    meta = digits.metadata.assign(mirror=list(-digits.embeddings[:, ::-1]))
    data = explorer.Dataset.from_arrays(digits.embeddings, digits.ids, meta)
    second = other_space(data, column="mirror")
    assert np.array_equal(second.embeddings, -digits.embeddings[:, ::-1])
    with pytest.raises(ExplorerError, match="not both"):
        other_space(data, TFIDF, column="mirror")
    with pytest.raises(ExplorerError, match="'label' .*one list of numbers per row"):
        other_space(data.__class__(data.embeddings, data.ids,
                                   meta.assign(label=["x"] * data.n), data.fingerprint),
                    column="label")


def test_in_the_same_space_nothing_flips_and_the_rerun_is_the_selection(digits):
    sel = explorer.select(digits, "k-center", 30)
    same = other_space(digits, digits)
    report = check_in_other_space(digits, sel, same, random_draws=10)
    assert report.flips == [] and report.overlap == 1.0
    frame = report.verdicts()
    assert np.allclose(frame["first"], frame["second"])


def test_the_real_pair(pydocs, tfidf):
    sel = explorer.select(pydocs, "k-means", 40, metric="cosine", label_column="label")
    report = check_in_other_space(pydocs, sel, tfidf, label_column="label", random_draws=20)
    frame = report.verdicts().set_index("metric")
    # the same random draws in both spaces: the label mix does not depend on the embedding,
    # so its value, random values and verdict are identical
    a, b = report.first.metrics["label_kl"], report.second.metrics["label_kl"]
    assert a.value == b.value and np.array_equal(a.random_values, b.random_values)
    assert frame.loc["label_kl", "flip"] == ""
    # a flip is flagged exactly where the verdicts differ
    assert set(report.flips) == set(frame.index[frame["first_verdict"] !=
                                                frame["second_verdict"]])
    assert report.flips, "MiniLM and TF-IDF disagree on some of k-means' verdicts"
    # the re-run is k-means in the TF-IDF space: the same size, other rows
    assert len(report.rerun) == 40 and report.overlap == jaccard_of(sel.indices, report.rerun)
    env = report.overlap_envelope()
    assert env["random_p05"] <= env["random_mean"] <= env["random_p95"]
    assert report.overlap < 0.5
    assert report.seed_overlap is not None  # k-means is randomized: the seed's own effect
    doc = report.to_dict()
    json.dumps(doc)
    assert doc["flips"] == report.flips and "k-means (40 rows)" in doc["summary"]


def test_what_cannot_be_rerun_is_said(digits):
    first = explorer.select(digits, "dedup", None, params={"threshold": 1.0})
    piped = explorer.select(digits, "k-center", 20, after=first)
    report = check_in_other_space(digits, piped, digits, random_draws=5)
    assert report.overlap is None and "pipeline" in report.note
    assert "Re-run not measured" in report.summary()
    idx_only = check_in_other_space(digits, piped.indices, digits, random_draws=5)
    assert idx_only.overlap is None and "Selection" in idx_only.note


def test_flip_kinds():
    b, w, i = "better than random", "worse than random", "within random's spread"
    assert [flip(b, w), flip(w, b), flip(b, i), flip(i, w), flip(i, i), flip(b, b)] == \
        ["reversed", "reversed", "lost", "gained", "", ""]


@settings(max_examples=60, deadline=None)
@given(hs.sets(hs.integers(0, 40), max_size=20), hs.sets(hs.integers(0, 40), max_size=20))
def test_jaccard_is_a_symmetric_share(a, b):
    j = jaccard_of(sorted(a), sorted(b))
    assert 0.0 <= j <= 1.0 and j == jaccard_of(sorted(b), sorted(a))
    assert (j == 1.0) == (a == b)


def test_random_pairs_match_the_expected_overlap_and_respect_pins():
    r = random_jaccard(500, 50, pairs=400, seed=3)
    expected = (50**2 / 500) / (100 - 50**2 / 500)
    assert abs(r.mean() - expected) < 0.01
    pinned = random_jaccard(500, 50, pairs=50, seed=3, pinned=list(range(10)),
                            excluded=list(range(10, 400)))
    assert pinned.min() >= 10 / 90  # the 10 pinned rows are in every subset


def test_cli_robustness_json_and_errors(tmp_path, pydocs):
    data = str(ROOT / "sample_data" / "pydocs.parquet")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "explorer", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)

    sel = explorer.select(pydocs, "k-center", 30, metric="cosine")
    explorer.export(pydocs, sel, tmp_path / "s.csv", manifest=tmp_path / "s.json")
    done = run("robustness", data, "--id-column", "id", "--selection", "s.json", "--other",
               str(TFIDF), "--random-draws", "10", "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["strategy"] == "k-center" and doc["overlap"] is not None
    assert set(doc["metrics"]["coverage_max"]) >= {"first_verdict", "second_verdict", "flip"}
    done = run("robustness", data, "--id-column", "id", "--selection", "s.csv", "--other",
               str(ROOT / "sample_data" / "digits.parquet"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "digits.parquet: 1010 id(s) of pydocs are not in the second embedding" in \
        done.stderr


def test_the_script_regenerates_the_tfidf_space(tmp_path, monkeypatch):
    """The same ids in the same order and the same vectors up to BLAS rounding (the SVD's
    last bits differ between CPUs and BLAS builds, so the bytes may differ)."""
    import pyarrow.parquet as pq

    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import make_sample_pydocs_tfidf as script

    script.main(out=tmp_path)
    made, shipped = pq.read_table(tmp_path / "pydocs_tfidf.parquet"), pq.read_table(TFIDF)
    assert made.schema == shipped.schema
    assert made.column("id").to_pylist() == shipped.column("id").to_pylist()
    a = np.stack(made.column("embedding").to_numpy(zero_copy_only=False))
    b = np.stack(shipped.column("embedding").to_numpy(zero_copy_only=False))
    assert a.shape == b.shape == (1010, 128)
    assert float(np.abs(a - b).max()) <= 1e-6 * float(np.abs(b).max())
