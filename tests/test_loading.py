"""Loading every format, and a clear message for every kind of bad input."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import explorer
from explorer.data import loading
from explorer.errors import ExplorerError, ExplorerWarning


@pytest.fixture
def X(digits):
    return np.asarray(digits.embeddings[:200])


def test_every_format_gives_the_same_matrix(tmp_path, X, digits):
    ids = np.array([f"r{i}" for i in range(len(X))])
    np.save(tmp_path / "a.npy", X)
    np.savez(tmp_path / "b.npz", embeddings=X.astype(np.float64), label=np.arange(len(X)))
    np.savez(tmp_path / "c.npz", vectors=X.astype(np.float16))
    table = pa.table({"id": ids, "vec": pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()),
                                                                             X.shape[1])})
    pq.write_table(table, tmp_path / "d.parquet")
    lists = pa.table({"id": ids, "vec": pa.array([row.tolist() for row in X])})
    pq.write_table(lists, tmp_path / "e.parquet")
    import pyarrow.feather as feather

    feather.write_feather(lists, tmp_path / "f.feather")
    cols = pd.DataFrame(X, columns=[f"d{j}" for j in range(X.shape[1])])
    cols.insert(0, "id", ids)
    cols.to_csv(tmp_path / "g.csv", index=False)
    pd.DataFrame({"id": ids, "emb": [json.dumps(r.tolist()) for r in X]}).to_csv(
        tmp_path / "h.csv", index=False)
    cols.to_parquet(tmp_path / "i.parquet")
    for name, kw in [("a.npy", {}), ("b.npz", {}), ("d.parquet", {"id_column": "id"}),
                     ("e.parquet", {"id_column": "id"}), ("f.feather", {"id_column": "id"}),
                     ("g.csv", {"id_column": "id"}), ("h.csv", {"id_column": "id"}),
                     ("i.parquet", {"id_column": "id"})]:
        data = explorer.load(tmp_path / name, **kw)
        assert data.embeddings.dtype == np.float32, name
        np.testing.assert_allclose(data.embeddings, X, rtol=1e-6, err_msg=name)
        if kw:
            assert data.ids.tolist() == ids.tolist(), name
    f16 = explorer.load(tmp_path / "c.npz")
    np.testing.assert_allclose(f16.embeddings, X.astype(np.float16), rtol=1e-3)
    b = explorer.load(tmp_path / "b.npz")
    assert b.metadata["label"].tolist() == list(range(len(X)))  # 1-D arrays become columns


def test_large_npy_is_memory_mapped_not_copied(tmp_path, X, monkeypatch):
    np.save(tmp_path / "big.npy", X)
    monkeypatch.setattr(loading, "MMAP_THRESHOLD_BYTES", 1000)
    data = explorer.load(tmp_path / "big.npy")
    assert isinstance(data.embeddings, np.memmap)
    assert not data.embeddings.flags.writeable
    sel = explorer.select(data, "k-center", 10)  # strategies read the mapped rows in place
    assert len(sel) == 10


def test_metadata_joined_by_id_and_by_row_order(tmp_path, X):
    ids = [f"r{i}" for i in range(len(X))]
    meta = pd.DataFrame({"id": ids, "label": np.arange(len(X)) % 3})
    # the data file has ids: a metadata file in another order is joined by id
    lists = pa.table({"id": ids, "vec": pa.array([row.tolist() for row in X])})
    pq.write_table(lists, tmp_path / "x.parquet")
    meta.iloc[::-1].to_csv(tmp_path / "m.csv", index=False)
    d = explorer.load(tmp_path / "x.parquet", meta=tmp_path / "m.csv", id_column="id")
    assert d.ids[5] == "r5" and d.metadata["label"][5] == 5 % 3
    meta.iloc[:-1].to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(ExplorerError, match=r"1 id\(s\) of x.parquet have no metadata row: r199"):
        explorer.load(tmp_path / "x.parquet", meta=tmp_path / "short.csv", id_column="id")
    # a bare array has no ids: its metadata is joined by row order and may carry the ids
    np.save(tmp_path / "x.npy", X)
    meta.to_csv(tmp_path / "m2.csv", index=False)
    d2 = explorer.load(tmp_path / "x.npy", meta=tmp_path / "m2.csv", id_column="id")
    assert d2.metadata["label"].tolist() == meta["label"].tolist()
    assert d2.ids.tolist() == ids


def test_nan_rows_are_named_and_can_be_dropped(tmp_path, X):
    bad = X.copy()
    bad[[3, 7]] = np.nan
    bad[9, 0] = np.inf
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ExplorerError) as e:
        explorer.load(tmp_path / "nan.npy")
    assert "nan.npy: 3 row(s) hold NaN or inf (ids: 3, 7, 9)" in str(e.value)
    assert "--drop-invalid" in str(e.value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = explorer.load(tmp_path / "nan.npy", drop_invalid=True)
    assert d.n == len(X) - 3 and d.dropped_ids == (3, 7, 9)
    assert any(issubclass(w.category, ExplorerWarning) and "dropped 3" in str(w.message)
               for w in caught)


def test_zero_rows_under_cosine(tmp_path, X):
    z = X.copy()
    z[4] = 0
    np.save(tmp_path / "z.npy", z)
    assert explorer.load(tmp_path / "z.npy").n == len(X)  # fine for euclidean
    with pytest.raises(ExplorerError, match=r"1 row\(s\) are all zeros, .* \(ids: 4\)"):
        explorer.load(tmp_path / "z.npy", metric="cosine")


@pytest.mark.parametrize("make,message", [
    (lambda p: np.save(p / "x.npy", np.arange(5.0)), "expected a 2-D array"),
    (lambda p: np.save(p / "x.npy", np.zeros((0, 4))), "the array is empty"),
    (lambda p: np.save(p / "x.npy", np.array([{"a": 1}], dtype=object)),
     "holds Python objects, which are never unpickled"),
    (lambda p: (p / "x.txt").write_text("1,2"), "unsupported file type '.txt'"),
    (lambda p: pq.write_table(pa.table({"v": pa.array([[1.0, 2.0], [1.0]])}), p / "x.parquet"),
     "rows of unequal length in column 'v': row 1 has 1 values"),
    (lambda p: pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0] * 5 + [5.0],
                             "b": ["1", "2", "x"] + ["3"] * 18}).to_csv(p / "x.csv",
                                                                            index=False),
     "column 'b' has non-numeric value 'x' at row 2"),
    (lambda p: pd.DataFrame({"e": ["[1, 2]", "[1, 2, 3]"]}).to_csv(p / "x.csv", index=False),
     "rows of unequal length in column 'e': row 1"),
])
def test_bad_files_get_clear_messages(tmp_path, make, message):
    make(tmp_path)
    path = next(p for p in tmp_path.iterdir())
    with pytest.raises(ExplorerError, match=None) as e:
        explorer.load(path)
    assert message in str(e.value)
    assert path.name in str(e.value)


def test_ids_columns_and_metadata_mismatches(tmp_path, X):
    frame = pd.DataFrame({"id": ["a", "b", "a"], "x": [1.0, 2.0, 3.0], "y": [0.0, 1.0, 2.0]})
    frame.to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(ExplorerError, match=r"1 id\(s\) occur more than once: a"):
        explorer.load(tmp_path / "dup.csv", id_column="id")
    with pytest.raises(ExplorerError, match="no id column 'key'.*The columns are: id"):
        explorer.load(tmp_path / "dup.csv", id_column="key")
    with pytest.raises(ExplorerError, match="no column 'emb' \\(--embedding-column\\)"):
        explorer.load(tmp_path / "dup.csv", embedding_column="emb")
    np.save(tmp_path / "x.npy", X)
    pd.DataFrame({"label": [1, 2]}).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(ExplorerError, match=f"short.csv: has 2 rows but x.npy has {len(X)}"):
        explorer.load(tmp_path / "x.npy", meta=tmp_path / "short.csv")
    with pytest.raises(ExplorerError, match="no such file"):
        explorer.load(tmp_path / "missing.npy")


def test_fingerprint_depends_on_content_and_ids(X):
    a = explorer.Dataset.from_arrays(X)
    b = explorer.Dataset.from_arrays(X.copy())
    c = explorer.Dataset.from_arrays(X, ids=[f"x{i}" for i in range(len(X))])
    Y = X.copy()
    Y[0, 0] += 1
    d = explorer.Dataset.from_arrays(Y)
    assert a.fingerprint == b.fingerprint
    assert len({a.fingerprint, c.fingerprint, d.fingerprint}) == 3
