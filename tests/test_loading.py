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
    (lambda p: (p / "x.csv").write_text("a,b\n1,2,3\n4,5,6\n"),  # was read shifted: a=2,5
     "x.csv: its rows have more fields than its header line names (2)"),
    (lambda p: (p / "x.csv").write_text("a,b\n1,2\n4,5,6\n"),
     "x.csv: could not be read as CSV (Error tokenizing data. C error: Expected 2 fields in "
     "line 3, saw 3)"),
])
def test_bad_files_get_clear_messages(tmp_path, make, message):
    make(tmp_path)
    path = next(p for p in tmp_path.iterdir())
    with pytest.raises(ExplorerError, match=None) as e:
        explorer.load(path)
    assert message in str(e.value)
    assert path.name in str(e.value)


def test_a_metadata_column_named_like_an_embedding_column_is_kept_and_said(tmp_path, X):
    frame = pd.DataFrame(X[:, :4], columns=[f"d{i}" for i in range(4)]).assign(id=range(len(X)))
    frame.to_csv(tmp_path / "data.csv", index=False)
    pd.DataFrame({"id": range(len(X)), "d0": np.arange(len(X)) * 10}).to_csv(
        tmp_path / "meta.csv", index=False)
    with pytest.warns(ExplorerWarning, match=r"meta.csv: column\(s\) d0 have the name of "
                      r"embedding column\(s\) of data.csv"):
        data = explorer.load(tmp_path / "data.csv", meta=tmp_path / "meta.csv", id_column="id")
    assert data.dim == 4 and data.metadata["d0"].tolist()[:3] == [0, 10, 20]


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


# ------------------------------------------------ columns that are metadata, never dimensions

def test_non_numeric_kinds_are_metadata_in_every_table_format(tmp_path, X):
    import datetime
    import decimal

    import pyarrow.feather as feather

    n = 6
    base = pd.DataFrame(X[:n, :4], columns=[f"d{j}" for j in range(4)])
    extra = {
        "flag": [True, False] * 3,
        "when": pd.date_range("2024-01-01", periods=n),
        "when_tz": pd.date_range("2024-01-01", periods=n, tz="Europe/Paris"),
        "price": [decimal.Decimal(f"{i}.10") for i in range(n)],
        "day": [datetime.date(2024, 1, i + 1) for i in range(n)],
        "clock": [datetime.time(i, 30) for i in range(n)],
        "wait": pd.to_timedelta(np.arange(n), unit="s"),
        "kind": pd.Categorical(["a", "b", "c"] * 2),
    }
    frame = base.assign(**extra)
    frame.to_parquet(tmp_path / "kinds.parquet")
    feather.write_feather(frame, tmp_path / "kinds.feather")
    base.assign(flag=extra["flag"], when=extra["when"]).to_csv(tmp_path / "kinds.csv",
                                                               index=False)
    for name in ("kinds.parquet", "kinds.feather", "kinds.csv"):
        data = explorer.load(tmp_path / name)
        assert data.dim == 4, name
        np.testing.assert_allclose(data.embeddings, X[:n, :4], rtol=1e-6)
        assert "flag" in data.metadata and "when" in data.metadata, name
    parquet = explorer.load(tmp_path / "kinds.parquet")
    assert set(extra) <= set(parquet.metadata.columns)
    assert parquet.metadata["price"][1] == decimal.Decimal("1.10")


def test_info_on_floats_and_a_true_false_column(tmp_path, X, capsys):
    from explorer import cli

    frame = pd.DataFrame(X[:20, :3], columns=["a", "b", "c"]).assign(ok=[True, False] * 10)
    frame.to_csv(tmp_path / "b.csv", index=False)  # exit 1 with an IndexError before
    assert cli.main(["info", str(tmp_path / "b.csv")]) == 0
    out = capsys.readouterr().out
    assert "dimensions   3" in out and "False: 10, True: 10" in out


def test_nested_metadata_becomes_json_text(tmp_path, X):
    np.save(tmp_path / "x.npy", X[:3])
    rows = [{"s": {"a": 1}, "l": [[1, 2], [3]], "t": ["x"]}, {"s": {"a": 2}, "l": [], "t": []},
            {"s": None, "l": [[0]], "t": ["y", "z"]}]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.warns(ExplorerWarning, match=r"'s', 'l', 't' hold nested values .* JSON text"):
        data = explorer.load(tmp_path / "x.npy", meta=tmp_path / "m.jsonl")
    assert data.metadata["s"].tolist()[:2] == ['{"a": 1}', '{"a": 2}']
    assert data.metadata["l"][0] == "[[1, 2], [3]]" and data.metadata["t"][2] == '["y", "z"]'
    pq.write_table(pa.table({"m": pa.array([[("k", 1)], [], [("k", 2)]],
                                           pa.map_(pa.string(), pa.int64()))}),
                   tmp_path / "map.parquet")
    with pytest.warns(ExplorerWarning, match="'m' hold nested values"):
        data = explorer.load(tmp_path / "x.npy", meta=tmp_path / "map.parquet")
    assert data.metadata["m"][0] == '[["k", 1]]'


def test_numeric_id_and_label_columns_stay_metadata_with_a_warning(tmp_path, X):
    frame = pd.DataFrame(X[:30, :4], columns=["d0", "d1", "d2", "d3"])
    frame.insert(0, "id", np.arange(30) + 100)
    frame["label"] = np.arange(30) % 3
    frame["score"] = np.linspace(0, 1, 30)  # not a name for ids: a dimension
    frame.to_csv(tmp_path / "f.csv")  # the pandas index too, as 'Unnamed: 0'
    with pytest.warns(ExplorerWarning) as caught:
        data = explorer.load(tmp_path / "f.csv")
    message = str(caught[0].message)
    assert "'Unnamed: 0', 'id', 'label' hold whole numbers" in message
    assert "rename them" in message and "5 dimensions" in message
    assert data.notes == (message,)  # kept for the app, which shows them
    assert data.dim == 5 and data.metadata["label"].tolist() == (np.arange(30) % 3).tolist()
    with warnings.catch_warnings():  # named as the ids, 'id' is no dimension and no warning
        warnings.simplefilter("error")
        frame.drop(columns=["label"]).to_csv(tmp_path / "g.csv", index=False)
        assert explorer.load(tmp_path / "g.csv", id_column="id").dim == 5
    pd.DataFrame({"x": [1, 2, 3], "y": [4, 5, 6]}).to_csv(tmp_path / "xy.csv", index=False)
    assert explorer.load(tmp_path / "xy.csv").dim == 2  # y beside x is a coordinate


def test_semicolon_csv_with_decimal_commas(tmp_path, X):
    cols = pd.DataFrame(X[:10, :3], columns=["a", "b", "c"]).assign(name=[f"n{i}" for i in
                                                                         range(10)])
    cols.to_csv(tmp_path / "eu.csv", sep=";", decimal=",", index=False)
    with pytest.warns(ExplorerWarning, match="eu.csv: read as semicolon-separated with decimal "
                                             "commas"):
        data = explorer.load(tmp_path / "eu.csv")  # was a 1-D embedding of fragments
    assert data.dim == 3
    np.testing.assert_allclose(data.embeddings, X[:10, :3], rtol=1e-6)
    cols.to_csv(tmp_path / "semi.csv", sep=";", index=False)  # points: read, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert explorer.load(tmp_path / "semi.csv").dim == 3


def test_a_column_in_both_files_must_agree(tmp_path, X):
    ids = [f"r{i}" for i in range(5)]
    pq.write_table(pa.table({"id": ids, "v": pa.array([r.tolist() for r in X[:5]]),
                             "label": list("abcab")}), tmp_path / "x.parquet")
    pd.DataFrame({"id": ids, "label": list("abcab"), "note": list("vwxyz")}).to_csv(
        tmp_path / "same.csv", index=False)
    data = explorer.load(tmp_path / "x.parquet", meta=tmp_path / "same.csv", id_column="id")
    assert list(data.metadata.columns) == ["id", "label", "note"]
    np.savez(tmp_path / "x.npz", embeddings=X[:5], n=np.arange(5))
    pd.DataFrame({"n": [0.0, 1.0, 2.0, 3.0, 4.0]}).to_csv(tmp_path / "n.csv", index=False)
    assert explorer.load(tmp_path / "x.npz", meta=tmp_path / "n.csv").metadata["n"][4] == 4
    pd.DataFrame({"id": ids, "label": list("abXab")}).to_csv(tmp_path / "other.csv",
                                                             index=False)
    with pytest.raises(ExplorerError, match=r"x.parquet and other.csv both have a column "
                                            r"'label', with different values \(row 2: 'c' and "
                                            r"'X'\); rename or drop it"):
        explorer.load(tmp_path / "x.parquet", meta=tmp_path / "other.csv", id_column="id")


def test_a_text_column_is_no_embedding_column(tmp_path, X):
    pq.write_table(pa.table({"name": ["a", "b"], "v": pa.array([[1.0], [2.0]])}),
                   tmp_path / "t.parquet")
    with pytest.raises(ExplorerError, match=r"t.parquet: column 'name' \(--embedding-column\) "
                                            r"holds string values, not vectors"):
        explorer.load(tmp_path / "t.parquet", embedding_column="name")
    pd.DataFrame({"name": ["a", "b"], "x": [1.0, 2.0]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ExplorerError, match=r"t.csv: column 'x' \(--embedding-column\) holds "
                                            r"float64 values, not vectors"):
        explorer.load(tmp_path / "t.csv", embedding_column="x")


# ------------------------------------------------------------------ .npy and .npz, header first

def _npy_bytes(arr) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


@pytest.mark.parametrize("content,message", [
    (b"", "x.npy: is empty (0 bytes)"),
    (b"\x00" * 300, "x.npy: not a .npy file (it does not start with numpy's magic bytes)"),
    (_npy_bytes(np.zeros((2, 2)))[:9], "x.npy: malformed .npy header (declared length"),
    (_npy_bytes(np.zeros((2, 2)))[:20], "x.npy: the .npy header is cut short"),
    (_npy_bytes(np.zeros((2, 2))).replace(b"'descr'", b"'descx'"), "malformed .npy header"),
    (_npy_bytes(np.zeros((2, 2))).replace(b"(2, 2)", b"(2, (2)"), "malformed .npy header"),
    (_npy_bytes(np.zeros((2, 2))).replace(b"'<f8'", b"'<q9'"),
     "the dtype '<q9' is not one numpy knows"),
    (_npy_bytes(np.zeros((2, 2)))[:-8], "the header declares (2, 2) float64 (32 bytes of data) "
                                         "but the file holds 24 bytes; it is truncated"),
    (_npy_bytes(np.zeros((2, 2))).replace(b"(2, 2)", b"(9999999999, 9999999999)"),
     "float64 (800,000 PB of data) but the file holds"),
])
def test_broken_npy_files_are_named(tmp_path, content, message):
    (tmp_path / "x.npy").write_bytes(content)
    with pytest.raises(ExplorerError) as e:
        explorer.load(tmp_path / "x.npy")
    assert message in str(e.value)


def _zip(path, members: dict, method=None):
    import zipfile

    with zipfile.ZipFile(path, "w", method or zipfile.ZIP_STORED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)


def test_npz_members_checked_by_header(tmp_path, X):
    _zip(tmp_path / "a.npz", {"embeddings.npy": _npy_bytes(X), "notes.txt": b"hello"})
    with pytest.raises(ExplorerError, match="a.npz: member 'notes.txt' is not a .npy array"):
        explorer.load(tmp_path / "a.npz")
    _zip(tmp_path / "b.npz", {"embeddings.npy": b"\x00" * 64})
    with pytest.raises(ExplorerError, match="b.npz, array 'embeddings': not a .npy file"):
        explorer.load(tmp_path / "b.npz")
    _zip(tmp_path / "c.npz", {"embeddings.npy": _npy_bytes(X)[:-40]})
    with pytest.raises(ExplorerError, match="c.npz, array 'embeddings': the header declares "
                                            r"\(200, 64\) float32 .* but the archive holds"):
        explorer.load(tmp_path / "c.npz")
    (tmp_path / "d.npz").write_bytes(b"PK\x03\x04" + b"\x00" * 50)
    with pytest.raises(ExplorerError, match="d.npz: not a readable .npz file"):
        explorer.load(tmp_path / "d.npz")


def test_npz_arrays_not_one_per_row_are_named_and_never_read(tmp_path, X):
    import zipfile

    # 'junk' is damaged after its header: reading it would fail its CRC check
    junk = bytearray(_npy_bytes(np.arange(10_000.0)))
    junk[5000] ^= 0xFF
    np.savez(tmp_path / "z.npz", embeddings=X, label=np.arange(len(X)), short=np.arange(5),
             grid=np.zeros((2, 2)))
    with zipfile.ZipFile(tmp_path / "z.npz", "a") as zf:
        zf.writestr("junk.npy", _npy_bytes(np.arange(10_000.0)))
    raw = (tmp_path / "z.npz").read_bytes()
    at = raw.rindex(_npy_bytes(np.arange(10_000.0))[:200]) + 5000
    (tmp_path / "z.npz").write_bytes(raw[:at] + bytes([raw[at] ^ 0xFF]) + raw[at + 1:])
    with pytest.warns(ExplorerWarning, match=r"z.npz: not read, as they are not one value per "
                                             r"row: 'short' \(5 values for 200 rows\), 'grid' "
                                             r"\(shape \(2, 2\)\), 'junk' \(10000 values"):
        data = explorer.load(tmp_path / "z.npz")
    assert list(data.metadata.columns) == ["label"]


def test_npz_bombs_are_refused_before_unpacking(tmp_path, monkeypatch):
    import zipfile

    from explorer.data import arrays

    zeros = np.zeros((4096, 128), np.float32)  # 2 MB that deflate packs to about 2 kB
    _zip(tmp_path / "bomb.npz", {"embeddings.npy": _npy_bytes(zeros)}, zipfile.ZIP_DEFLATED)
    monkeypatch.setattr(arrays, "RATIO_CHECK_FROM_BYTES", 1 << 20)
    with pytest.raises(ExplorerError, match=r"bomb.npz, array 'embeddings': 2.\d kB packed would "
                                            r"unpack to 2.1 MB \(\d+ times more; real data packs"
                                            r" at most ~100 times\).*refused without unpacking"):
        explorer.load(tmp_path / "bomb.npz")
    monkeypatch.setattr(arrays, "RATIO_CHECK_FROM_BYTES", 64 << 20)
    assert explorer.load(tmp_path / "bomb.npz").n == 4096  # small: read whatever its ratio
    monkeypatch.setattr(arrays, "MEMORY_SHARE", 1e-12)
    with pytest.raises(ExplorerError, match=r"bomb.npz, array 'embeddings': the used arrays "
                                            r"\(2.1 MB unpacked.*more than this machine can "
                                            "give one file now"):
        explorer.load(tmp_path / "bomb.npz")
    np.save(tmp_path / "big.npy", zeros.astype(np.float64))
    with pytest.raises(ExplorerError, match=r"big.npy: the array \(\(4096, 128\) float64\) "
                                            r"needs 6.3 MB in memory"):  # and its float32 copy
        explorer.load(tmp_path / "big.npy")


def test_random_bytes_are_not_called_python_objects(tmp_path):
    rng = np.random.default_rng(3)
    (tmp_path / "r.npy").write_bytes(rng.integers(0, 256, 500, dtype=np.uint8).tobytes())
    with pytest.raises(ExplorerError, match="r.npy: not a .npy file"):
        explorer.load(tmp_path / "r.npy")
    np.save(tmp_path / "o.npy", np.array([None, 1], dtype=object), allow_pickle=True)
    with pytest.raises(ExplorerError, match="o.npy: holds Python objects, which are never "
                                            "unpickled"):
        explorer.load(tmp_path / "o.npy")


# --------------------------------------------------------------- --pin / --exclude / --target

def _rows(tmp_path, name, content, data, what="--pin"):
    from explorer.data.rows import rows_from_file

    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content, allow_pickle=content.dtype == object)
    else:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return rows_from_file(path, data, what)


@pytest.mark.parametrize("name,content,message", [
    ("p.csv", "index\n3\n1.5\n", "p.csv (--pin): row 1 (line 3): 1.5 is not a whole row index; "
                                 "give whole numbers 0..1796."),
    ("p.csv", "index\n3\ncat\n", "row 1 (line 3): 'cat' is not a row index"),
    ("p.csv", "index\n", "p.csv (--pin): holds no row indices"),
    ("p.csv", "index\n1,5\n2,6\n", "p.csv (--pin): its rows have more fields than its header "
                                    "line names (1)"),
    ("p.csv", "index,x\n3,1\n,2\n", "row 1 (line 3): is empty; give whole numbers"),
    ("p.csv", "index\n-1\n", "row 0 (line 2): index -1 is outside 0..1796 (1 such index(es))"),
    ("p.csv", "index\n2\n1797\n", "row 1 (line 3): index 1797 is outside 0..1796"),
    ("p.csv", "index\n1\n\n3\n", "row 1 (line 3): is empty; give whole numbers"),
    ("p.csv", "index\n2\n2\n", "index 2 is given twice (row 0 (line 2) and row 1 (line 3))"),
    ("p.csv", "", "p.csv (--pin): is empty; a CSV needs a header line and rows."),
    ("p.csv", b"\xff\xfe\x00junk", "p.csv (--pin): is not UTF-8 text"),
    ("p.csv", "id\ndigit-0001\n\"\"\n", "row 1 (line 3): the id is empty."),
    ("p.csv", "id\ndigit-0001\ndigit-0001\n", "id 'digit-0001' is given twice"),
    ("p.csv", "id\nnope\n", "p.csv (--pin): 1 id(s) are not in the dataset: nope."),
    ("p.txt", "digit-0001\n\ndigit-0002\ndigit-0001\n",
     "id 'digit-0001' is given twice (line 1 and line 4)"),
    ("p.txt", b"\xc3\x28binary", "p.txt (--pin): is not UTF-8 text"),
    ("p.txt", "", "p.txt (--pin): holds no ids"),
    ("p.npy", np.array([1.0, 2.5]), "p.npy (--pin): element 1: 2.5 is not a whole row index"),
    ("p.npy", np.array([[1, 2]]), "holds a 2-D array of int64 values; a .npy must hold a 1-D"),
    ("p.npy", np.array([True, False]), "holds a 1-D array of True/False values"),
    ("p.npy", np.array([1, None], dtype=object), "p.npy (--pin): holds Python objects"),
    ("p.npy", np.array([5, -2]), "element 1: index -2 is outside 0..1796"),
    ("p.npy", np.zeros(0, np.int64), "p.npy (--pin): holds no row indices"),
    ("p.npy", b"", "p.npy (--pin): is empty (0 bytes)"),
    ("p.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': '<i8'}", "malformed .npy header"),
    ("p.parquet", b"PAR1 not really", "p.parquet (--pin): could not be read as .parquet"),
])
def test_garbage_row_files_are_refused_by_row(tmp_path, digits, name, content, message):
    with pytest.raises(ExplorerError) as e:
        _rows(tmp_path, name, content, digits)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_good_row_files(tmp_path, digits):
    assert _rows(tmp_path, "a.csv", "index\n5\n2.0\n 7\n", digits).tolist() == [5, 2, 7]
    assert _rows(tmp_path, "b.npy", np.array([3.0, 1.0]), digits).tolist() == [3, 1]
    assert _rows(tmp_path, "c.csv", "id\ndigit-0009\n", digits).tolist() == [9]
    assert _rows(tmp_path, "c2.csv", "id\ndigit-0009\n\n\n", digits).tolist() == [9]
    assert _rows(tmp_path, "d.txt", "id\ndigit-0004\n digit-0002 \n", digits).tolist() == [4, 2]
    pq.write_table(pa.table({"index": [4, 1]}), tmp_path / "e.parquet")
    from explorer.data.rows import rows_from_file

    assert rows_from_file(tmp_path / "e.parquet", digits, "--exclude").tolist() == [4, 1]


def test_target_files(tmp_path, digits):
    from explorer.data.rows import load_target

    (tmp_path / "t.csv").write_text("index\n1\n1.5\n")
    with pytest.raises(ExplorerError, match=r"t.csv \(--target\): row 1 \(line 3\): 1.5"):
        load_target(tmp_path / "t.csv", digits)
    (tmp_path / "t.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ExplorerError, match=r"t.npy \(--target\): unknown .npy format"):
        load_target(tmp_path / "t.npy", digits)
    np.save(tmp_path / "e.npy", np.asarray(digits.embeddings[:5]))
    X, record = load_target(tmp_path / "e.npy", digits)
    assert X.shape == (5, 64) and record["shape"] == [5, 64]


def test_damaged_arrow_tables(tmp_path):
    import pyarrow.feather as feather

    twice = pa.Table.from_arrays([pa.array([[1.0], [2.0]]), pa.array([1, 2]), pa.array([3, 4])],
                                 names=["v", "x", "x"])
    feather.write_feather(twice, tmp_path / "twice.feather")
    with pytest.raises(ExplorerError, match="twice.feather: column 'x' occurs 2 times; rename"):
        explorer.load(tmp_path / "twice.feather")
    pq.write_table(twice, tmp_path / "twice.parquet")  # refused by pyarrow's own reader
    with pytest.raises(ExplorerError, match="twice.parquet: could not be read as .parquet"):
        explorer.load(tmp_path / "twice.parquet")
    # text that is not UTF-8 inside a Feather file: found when read, not when first used
    good = pa.table({"v": pa.array([[1.0], [2.0]]), "name": ["abcdef", "ghijkl"]})
    feather.write_feather(good, tmp_path / "t.feather", compression="uncompressed")
    raw = (tmp_path / "t.feather").read_bytes()
    (tmp_path / "t.feather").write_bytes(raw.replace(b"abcdef", b"ab\xff\xfeef"))
    with pytest.raises(ExplorerError, match=r"t.feather: could not be read as .feather \(.*"
                                            r"UTF8"):
        explorer.load(tmp_path / "t.feather")


def test_parquet_sized_from_its_footer(tmp_path, monkeypatch):
    from explorer.data import arrays

    # two million equal values: a few kB on disk, 16 MB as int64 (and again in pandas)
    table = pa.table({"v": pa.array([[0.5, 1.5]] * 10), "z": pa.array(np.zeros(10, np.int64))})
    pq.write_table(table, tmp_path / "small.parquet")
    many = pa.table({"v": pa.array([[0.5, 1.5]] * 2_000_000),
                     "z": pa.array(np.zeros(2_000_000, np.int64))})
    pq.write_table(many, tmp_path / "many.parquet")
    assert (tmp_path / "many.parquet").stat().st_size < 100_000
    monkeypatch.setattr(arrays, "MEMORY_SHARE", 50e6 / arrays.available_memory())  # ~50 MB
    with pytest.raises(ExplorerError, match=r"many.parquet, column 'v.list.element': the table "
                                            r"\(2,000,000 rows; 'v.list.element' alone 33.0 MB\)"
                                            r" needs 98.1 MB in memory, more than"):
        explorer.load(tmp_path / "many.parquet")
    assert explorer.load(tmp_path / "small.parquet").n == 10
