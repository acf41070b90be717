"""A layout that comes with the data: the bundled samples ship theirs, the common column names
are honoured, and an unusable one is named and replaced by a computed layout."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import explorer
from explorer import projection
from explorer.data.samples import SAMPLES
from explorer.errors import ExplorerWarning
from explorer.given_layout import LAYOUT_COLUMNS, given_layout

#: The samples' fingerprints (embeddings and ids) before they carried a layout: adding the
#: x / y columns keeps them, so every cache and manifest keyed by them still holds.
FINGERPRINTS = {"digits": "b9a4ea2e1ec744bd8d55c7f267b7d1f5",
                "pydocs": "789f6f3163b542e0c5731a8e404373bd"}


@pytest.fixture
def no_umap(monkeypatch):
    """UMAP made to fail: a layout that comes with the data must not need it."""
    def refuse(*args, **kwargs):
        raise AssertionError("UMAP was computed")

    monkeypatch.setattr(projection, "_umap", refuse)


@pytest.mark.parametrize("name", sorted(FINGERPRINTS))
def test_each_sample_ships_its_map_and_the_map_uses_it_without_umap(name, no_umap, tmp_path,
                                                                    monkeypatch):
    monkeypatch.setenv("SUBSET_EXPLORER_CACHE", str(tmp_path))  # an empty layout cache
    data = explorer.load_sample(name)
    assert data.fingerprint == FINGERPRINTS[name]
    xy = projection.layout(data, "umap")
    assert xy.shape == (data.n, 2) and np.isfinite(xy).all()
    assert np.array_equal(xy, data.metadata[["x", "y"]].to_numpy(np.float32))
    # a real map: a point's nearest point on it mostly shares its label
    d = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    labels = data.metadata["label"].to_numpy()
    assert (labels[d.argmin(axis=1)] == labels).mean() > (0.9 if name == "digits" else 0.6)
    # what it was made with is recorded: the app's default UMAP of these very rows
    record = json.loads(pq.read_schema(SAMPLES[name]).metadata[b"subset_explorer.layout"])
    assert record["method"] == "umap"
    assert record["params"] == projection.layout_record(data)["params"]
    monkeypatch.setattr(projection, "_versions", lambda method: record["versions"])
    assert record["cache_key"] == projection.cache_key(data.fingerprint, "umap",
                                                       record["params"])
    assert not list(tmp_path.iterdir())  # nothing computed, nothing cached


@pytest.mark.parametrize("columns", LAYOUT_COLUMNS)
def test_each_common_layout_name_is_honoured(columns, no_umap, digits):
    xy = np.random.default_rng(0).normal(size=(60, 2))
    if len(columns) == 2:
        meta = pd.DataFrame({columns[0]: xy[:, 0], columns[1]: xy[:, 1]})
    else:
        meta = pd.DataFrame({"layout": list(xy)})
    data = explorer.Dataset.from_arrays(digits.embeddings[:60], metadata=meta)
    assert np.allclose(projection.layout(data, "umap"), xy.astype(np.float32))
    assert given_layout(data).columns == columns


def test_a_2_wide_layout_column_in_a_parquet_file_is_honoured(no_umap, digits, tmp_path):
    xy = np.random.default_rng(1).normal(size=(80, 2)).astype(np.float32)
    table = pa.table({"id": [f"r{i}" for i in range(80)],
                      "embedding": pa.FixedSizeListArray.from_arrays(
                          pa.array(digits.embeddings[:80].ravel()), 64),
                      "layout": pa.FixedSizeListArray.from_arrays(pa.array(xy.ravel()), 2)})
    pq.write_table(table, tmp_path / "with_layout.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExplorerWarning)  # the list column kept as text
        data = explorer.load(tmp_path / "with_layout.parquet", id_column="id",
                             embedding_column="embedding")
    assert np.allclose(projection.layout(data, "umap"), xy)


@pytest.mark.parametrize("meta, says", [
    (lambda xy: pd.DataFrame({"x": np.where(np.arange(60) == 7, np.nan, xy[:, 0]),
                              "y": xy[:, 1]}),
     "columns 'x', 'y' is not used: in row 7 (id 7), a coordinate is missing or infinite"),
    (lambda xy: pd.DataFrame({"umap_x": xy[:, 0].astype(str), "umap_y": xy[:, 1]}),
     "columns 'umap_x', 'umap_y' is not used: in row 0 (id 0), column 'umap_x' holds text"),
    (lambda xy: pd.DataFrame({"layout": [list(r) + ([1.0] if i == 3 else [])
                                         for i, r in enumerate(xy)]}),
     "column 'layout' is not used: in row 3 (id 3), the value holds 3 numbers, not 2"),
    (lambda xy: pd.DataFrame({"layout": ["[1, 2]"] * 5 + ["left"] * 55}),
     "column 'layout' is not used: in row 5 (id 5), the value is text"),
])
def test_a_bad_given_layout_is_named_and_a_layout_is_computed_instead(meta, says, digits,
                                                                        tmp_path, monkeypatch):
    monkeypatch.setenv("SUBSET_EXPLORER_CACHE", str(tmp_path))
    xy = np.random.default_rng(2).normal(size=(60, 2))
    data = explorer.Dataset.from_arrays(digits.embeddings[:60], metadata=meta(xy))
    problem = given_layout(data).problem
    assert says in problem and "The map computes its own layout" in problem
    with pytest.warns(ExplorerWarning, match="is not used"):
        computed = projection.layout(data, "umap", n_neighbors=10)  # real UMAP, 60 rows
    assert computed.shape == (60, 2) and np.isfinite(computed).all()
    assert not np.allclose(computed, xy)


def test_pca_and_an_explicit_refusal_ignore_the_given_layout(digits, no_umap):
    data = explorer.load_sample("digits")
    pca = projection.layout(data, "pca", use_cache=False)
    assert not np.allclose(pca, data.metadata[["x", "y"]].to_numpy(np.float32))
    with pytest.raises(AssertionError, match="UMAP was computed"):
        projection.layout(data, "umap", use_cache=False, given=False)
