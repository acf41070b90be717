"""Read embeddings (and optional metadata) from .npy, .npz, .parquet, .feather and .csv files.

Every problem is reported as an :class:`~explorer.errors.ExplorerError` naming the file, the
row / id / column and what to do. Nothing is ever unpickled (``allow_pickle=False``).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ExplorerError, ExplorerWarning, preview
from .arrays import NpzArchive, read_npy
from .dataset import Dataset, fingerprint
from .paths import regular_file
from .tables import (arrow_to_frame, nested_to_text, not_coordinates, note, read_arrow, read_csv,
                     read_json_lines)
from .provenance import read_record
from .validation import describe_bad_rows, invalid_rows, validate_ids, validate_matrix

#: A float32 .npy larger than this is memory-mapped instead of read into memory.
MMAP_THRESHOLD_BYTES = 64 << 20

FORMATS = (".npy", ".npz", ".parquet", ".feather", ".csv")
META_FORMATS = (".csv", ".parquet", ".feather", ".json", ".jsonl")


def load(
    path,
    *,
    meta=None,
    id_column: str | None = None,
    embedding_column: str | None = None,
    drop_invalid: bool = False,
    metric: str = "euclidean",
) -> Dataset:
    """Load a dataset of embeddings.

    Parameters
    ----------
    path : .npy, .npz, .parquet, .feather or .csv file; or a folder or glob of Parquet
        shards (or .npy shards with a .parquet of metadata beside each), which opens a
        :class:`~explorer.data.shards.ShardedDataset` (read one shard at a time).
    meta : optional metadata file (.csv, .parquet, .feather, .json lines), joined by
        ``id_column`` when given, else by row order.
    id_column : column holding unique row ids (in the data file, or in ``meta`` for arrays).
        Without it, ids are the row numbers 0..N-1.
    embedding_column : the list column holding the vectors (found automatically when there is
        exactly one list column); without a list column, all numeric columns are the vector.
    drop_invalid : drop rows with NaN / inf (and all-zero rows under ``metric="cosine"``) with
        a warning naming them, instead of refusing the file.
    metric : the metric the data will be used with ('cosine' also checks for all-zero rows).

    Examples
    --------
    >>> from explorer.data.samples import SAMPLES
    >>> load(SAMPLES["digits"], id_column="id").n
    1797
    """
    from .shards import is_sharded, open_shards

    if is_sharded(path):  # a folder or glob of shards: opened from footers, read on use
        if meta is not None or drop_invalid:
            raise ExplorerError(f"{path}: --meta and --drop-invalid are for single files; a "
                                "sharded dataset keeps its metadata in its shards.")
        return open_shards(path, id_column=id_column, embedding_column=embedding_column,
                           metric=metric)
    path = regular_file(path, "data file")
    where = path.name
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ExplorerError(
            f"{where}: unsupported file type {suffix or '(none)'!r}. Supported: "
            f"{', '.join(FORMATS)}."
        )
    if meta is not None:  # before the data is read: a FIFO or a device must not wait for it
        meta = regular_file(meta, "--meta")
    notes: list = []  # what was changed to make the input usable: warned, and kept
    table_columns: list = []
    if suffix == ".npy":
        X, frame = read_npy(path, where, mmap_from_bytes=MMAP_THRESHOLD_BYTES,
                            float32_copy=True), None
    elif suffix == ".npz":
        X, frame = _read_npz(path, where, notes)
    else:
        table = (read_csv(path, where, notes) if suffix == ".csv" else read_arrow(path, where))
        table_columns = [str(c) for c in (table.columns if suffix == ".csv"
                                          else table.column_names)]
        X, frame = _split_table(table, embedding_column, id_column, where, notes)
    X = validate_matrix(X, where=where)
    n = X.shape[0]
    if frame is None:
        frame = pd.DataFrame(index=pd.RangeIndex(n))
    frame = nested_to_text(frame, where, notes)

    if meta is not None:
        embedding_names = set(table_columns) - {str(c) for c in frame.columns}
        frame = _join_meta(frame, meta, id_column, n, where, notes, embedding_names)
    ids = _ids(frame, id_column, n, where)

    bad = invalid_rows(X, metric=metric)
    dropped: tuple = ()
    if len(bad):
        message = describe_bad_rows(X, ids, bad, where)
        if not drop_invalid:
            raise ExplorerError(message)
        keep = np.ones(n, dtype=bool)
        keep[bad] = False
        dropped = tuple(ids[bad].tolist())
        notes.append(
            f"{where}: dropped {len(bad)} invalid row(s) (NaN, inf"
            f"{' or all zeros' if metric == 'cosine' else ''}); ids: {preview(dropped)}.")
        X = np.ascontiguousarray(X[keep])
        ids = ids[keep]
        frame = frame.loc[keep].reset_index(drop=True)

    options = {
        "meta": None if meta is None else str(meta.resolve()),
        "id_column": id_column,
        "embedding_column": embedding_column,
        "drop_invalid": bool(drop_invalid),
        "metric": metric,
    }
    for message in notes:
        warnings.warn(message, ExplorerWarning, stacklevel=2)
    return Dataset(
        embeddings=X,
        ids=ids,
        metadata=frame.reset_index(drop=True),
        fingerprint=fingerprint(X, ids),
        source=str(path.resolve()),
        dropped_ids=dropped,
        options=options,
        notes=tuple(notes),
        embedding=read_record(path) if suffix == ".parquet" else None,
    )


def _read_npz(path: Path, where: str, notes: list):
    """Embeddings and per-row columns of an .npz; every header is checked and the cost of
    the used arrays measured before any of them is unpacked. Arrays that are not used are
    never read, and are named in a warning."""
    with NpzArchive(path, where) as archive:
        headers = {k: m.header for k, m in archive.members.items()}
        if "embeddings" in headers:
            key = "embeddings"
        else:
            two_d = [k for k, h in headers.items()
                     if len(h.shape) == 2 and h.dtype.kind in "fiu"]
            if len(two_d) != 1:
                raise ExplorerError(
                    f"{where}: found {len(two_d)} 2-D numeric arrays "
                    f"({', '.join(map(repr, two_d)) or 'none'}); name the embeddings array "
                    "'embeddings'.")
            key = two_d[0]
        shape = headers[key].shape
        n = shape[0] if shape else 0
        columns, ignored = [], []
        for k, h in headers.items():
            if k == key:
                continue
            why = _npz_column_problem(h, n)
            if why:
                ignored.append(f"{k!r} ({why})")
            else:
                columns.append(k)
        if ignored:
            notes.append(f"{where}: not read, as they are not one value per row: "
                         f"{preview(ignored)}.")
        copy = math.prod(shape) * 4 if headers[key].dtype != np.float32 else 0
        archive.check_cost([key] + columns, extra_bytes=copy)
        X = archive.read(key)
        frame = pd.DataFrame({k: archive.read(k) for k in columns}) if columns else None
    return X, frame


def _npz_column_problem(header, n: int) -> str:
    """Why an .npz array is no per-row metadata column ('' when it is one)."""
    if len(header.shape) != 1:
        return f"shape {header.shape}"
    if header.shape[0] != n:
        return f"{header.shape[0]} values for {n} rows"
    if header.dtype.hasobject:
        return "Python objects, never unpickled"
    if header.dtype.kind not in "biufcUSMm" or header.dtype.itemsize == 0:
        return f"dtype {header.dtype}"
    return ""


def _split_table(table, embedding_column, id_column, where, notes: list):
    """Matrix and metadata frame from a pyarrow Table (parquet/feather) or a DataFrame (csv).

    The vectors are a list column, or else the numeric columns; bool, date, time, timestamp,
    duration, decimal, categorical and text columns are always metadata."""
    import pyarrow as pa

    if isinstance(table, pa.Table):
        names = table.column_names
        list_cols = [c for c in names if _numeric_list_type(table.schema.field(c).type)]
        col = _choose_embedding_column(names, list_cols, embedding_column, where)
        if col is not None:
            kind = table.schema.field(col).type
            if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)
                    or pa.types.is_fixed_size_list(kind)):
                raise ExplorerError(
                    f"{where}: column {col!r} (--embedding-column) holds {kind} values, not "
                    "vectors; it must be a list column with one vector per row. Without "
                    "--embedding-column the numeric columns make the vector.")
            X = _matrix_from_arrow_list(table.column(col), col, where)
            frame = arrow_to_frame(table.drop([col]), where)
            return X, frame
        frame = arrow_to_frame(table, where)
    else:
        frame = table
        names = list(frame.columns)
        text_cols = [c for c in names if _is_text(frame[c])]
        json_cols = [c for c in text_cols if _looks_like_vectors(frame[c])]
        col = _choose_embedding_column(names, json_cols, embedding_column, where)
        if col is not None:
            if col not in text_cols:
                raise ExplorerError(
                    f"{where}: column {col!r} (--embedding-column) holds {frame[col].dtype} "
                    "values, not vectors; it must hold one JSON list of numbers per row. "
                    "Without --embedding-column the numeric columns make the vector.")
            X = _matrix_from_json(frame[col], col, where)
            return X, frame.drop(columns=[col])
    # a set of numeric columns (bool is a kind of its own, 'b': never a coordinate)
    skip = {id_column} if id_column else set()
    numeric = [c for c in frame.columns if c not in skip and frame[c].dtype.kind in "fiu"]
    labels = not_coordinates(frame, numeric)
    numeric = [c for c in numeric if c not in labels]
    other = [c for c in frame.columns if c not in numeric]
    if not numeric:
        why = (f"; {preview(map(repr, labels))} look like ids or labels, not coordinates"
               if labels else "")
        raise ExplorerError(
            f"{where}: found no embedding column{why}. Give a list column (--embedding-column) "
            f"or numeric columns; the columns are: {preview(frame.columns, 12)}."
        )
    if labels:
        notes.append(
            f"{where}: numeric column(s) {preview(map(repr, labels))} hold whole numbers under "
            f"a name for ids or labels, so they are kept as metadata, not embedding "
            f"dimensions ({len(numeric)} dimensions from the other numeric columns); rename "
            "them (e.g. 'label' to 'label_dim') to use them as dimensions.")
    for c in other:
        if c in skip or not _is_text(frame[c]):
            continue
        converted = pd.to_numeric(frame[c], errors="coerce")
        bad = np.flatnonzero((converted.isna() & frame[c].notna()).to_numpy())
        if len(bad) and converted.notna().mean() > 0.5:  # numbers spoilt by a few bad cells
            raise ExplorerError(
                f"{where}: column {c!r} has non-numeric value {str(frame[c].iloc[bad[0]])[:40]!r} "
                f"at row {bad[0]} ({len(bad)} such row(s)). Fix those cells or drop the column."
            )
    X = frame[numeric].to_numpy(dtype=np.float32, na_value=np.nan)
    return X, frame[other].copy()


def _numeric_list_type(kind) -> bool:
    """A list type whose values are numbers: a column of vectors."""
    import pyarrow as pa

    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)
            or pa.types.is_fixed_size_list(kind)):
        return False
    value = kind.value_type
    return pa.types.is_floating(value) or pa.types.is_integer(value)


def _is_text(series: pd.Series) -> bool:
    """A column of strings (pandas' str dtype, or objects that are all str or missing)."""
    if isinstance(series.dtype, pd.StringDtype):
        return True
    if series.dtype != object:
        return False
    return all(isinstance(v, str) for v in series.dropna())


def _looks_like_vectors(series: pd.Series, probe: int = 5) -> bool:
    """The first non-empty cells of a text column are JSON lists of numbers."""
    cells = series.dropna().head(probe).tolist()
    if not cells:
        return False
    for cell in cells:
        if not cell.lstrip().startswith("["):
            return False
        try:
            vec = json.loads(cell)
        except ValueError:
            return False
        if not isinstance(vec, list) or not all(_is_number(v) for v in vec):
            return False
    return True


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _choose_embedding_column(names, candidates, embedding_column, where):
    if embedding_column is not None:
        if embedding_column not in names:
            raise ExplorerError(
                f"{where}: no column {embedding_column!r} (--embedding-column). The columns are: "
                f"{preview(names, 12)}."
            )
        return embedding_column
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        raise ExplorerError(
            f"{where}: several list columns could hold the embeddings ({', '.join(candidates)}); "
            "choose one with --embedding-column."
        )
    return None


def _matrix_from_arrow_list(column, name, where, first_row: int = 0) -> np.ndarray:
    """The rows of a list column as a matrix; ``first_row`` is the file row of the column's
    first (a batch of a file), for the messages."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise ExplorerError(f"{where}: column {name!r} is empty at row {first_row + row}; "
                            "every row needs a vector (or drop the row).")
    if pa.types.is_fixed_size_list(column.type):
        width = column.type.list_size
        values = column.flatten()
    else:
        lengths = pc.list_value_length(column).to_numpy()
        width = int(lengths[0]) if len(lengths) else 0
        off = np.flatnonzero(lengths != width)
        if len(off):
            raise ExplorerError(
                f"{where}: rows of unequal length in column {name!r}: row "
                f"{first_row + off[0]} has {lengths[off[0]]} values, row {first_row} has "
                f"{width} ({len(off)} row(s) differ)."
            )
        values = column.flatten()
    if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
        raise ExplorerError(f"{where}: column {name!r} holds {values.type} values; the "
                            "embeddings must be numbers.")
    flat = values.to_numpy(zero_copy_only=False)
    if width == 0:
        raise ExplorerError(f"{where}: column {name!r} holds empty vectors.")
    return flat.reshape(len(column), width)


def _matrix_from_json(series: pd.Series, name, where) -> np.ndarray:
    rows = []
    width = None
    for i, cell in enumerate(series.tolist()):
        try:
            vec = json.loads(cell)
        except (TypeError, ValueError):
            raise ExplorerError(f"{where}: column {name!r}, row {i}: {str(cell)[:40]!r} is not a "
                                "JSON list of numbers.") from None
        if not isinstance(vec, list) or not all(isinstance(v, (int, float)) and
                                                not isinstance(v, bool) for v in vec):
            raise ExplorerError(f"{where}: column {name!r}, row {i}: expected a list of numbers.")
        if width is None:
            width = len(vec)
        elif len(vec) != width:
            raise ExplorerError(f"{where}: rows of unequal length in column {name!r}: row {i} "
                                f"has {len(vec)} values, row 0 has {width}.")
        rows.append(vec)
    return np.asarray(rows, dtype=np.float32)


def _join_meta(frame: pd.DataFrame, meta_path: Path, id_column, n: int, where: str,
               notes: list, embedding_names=frozenset()):
    """``frame`` with the metadata file's columns, joined by ``id_column`` or row order. A
    metadata column named like one of the data's embedding columns is kept, and said."""
    mname = meta_path.name
    suffix = meta_path.suffix.lower()
    if suffix == ".csv":
        meta = read_csv(meta_path, mname, notes)
    elif suffix in (".parquet", ".feather"):
        meta = arrow_to_frame(read_arrow(meta_path, mname), mname)
    elif suffix in (".json", ".jsonl"):
        meta = read_json_lines(meta_path, mname)
    else:
        raise ExplorerError(f"{mname}: unsupported metadata type {suffix or '(none)'!r}. "
                            f"Supported: {', '.join(META_FORMATS)}.")
    meta = nested_to_text(meta, mname, notes)
    if id_column is not None and id_column in frame.columns:
        if id_column not in meta.columns:
            raise ExplorerError(f"{mname}: no id column {id_column!r} to join on. Its columns "
                                f"are: {preview(meta.columns, 12)}.")
        dup = meta[id_column][meta[id_column].duplicated()]
        if len(dup):
            raise ExplorerError(f"{mname}: {len(dup)} id(s) occur more than once in column "
                                f"{id_column!r}: {preview(dup.unique())}.")
        keys = frame[id_column].astype(str)
        mkeys = meta[id_column].astype(str)
        missing = keys[~keys.isin(set(mkeys))]
        if len(missing):
            raise ExplorerError(f"{mname}: {len(missing)} id(s) of {where} have no metadata row: "
                                f"{preview(missing)}.")
        meta = meta.set_index(mkeys).loc[keys.to_numpy()].reset_index(drop=True)
        meta = meta.drop(columns=[id_column])
    elif len(meta) != n:
        raise ExplorerError(
            f"{mname}: has {len(meta)} rows but {where} has {n} embeddings. Metadata joined by "
            f"row order must match row for row; or join by an id column (--id-column)."
        )
    frame = frame.reset_index(drop=True)
    meta = meta.reset_index(drop=True)
    named_like = [str(c) for c in meta.columns if str(c) in embedding_names]
    if named_like:
        note(notes, f"{mname}: column(s) {preview(named_like)} have the name of embedding "
                    f"column(s) of {where}; they are kept as metadata, so a filter or a label "
                    "choice naming them reads the metadata's values, not the embedding's.")
    shared = [c for c in meta.columns if c in frame.columns]
    for c in shared:
        _same_column(frame[c], meta[c], c, where, mname)
    return pd.concat([frame, meta.drop(columns=shared)], axis=1)


def _same_column(ours: pd.Series, theirs: pd.Series, name, where: str, mname: str) -> None:
    """A column in both the data file and the metadata file must hold the same values (then
    it is kept once); otherwise which one is meant is unknown, so the load is refused."""
    if ours.dtype.kind in "iufb" and theirs.dtype.kind in "iufb":  # 1 and 1.0 agree
        a = ours.to_numpy(dtype=np.float64, na_value=np.nan)
        b = theirs.to_numpy(dtype=np.float64, na_value=np.nan)
        differs = (a != b) & ~(np.isnan(a) & np.isnan(b))
    else:
        a = ours.astype(str).where(ours.notna(), "")
        b = theirs.astype(str).where(theirs.notna(), "")
        differs = (a != b).to_numpy()
    diff = np.flatnonzero(differs)
    if len(diff):
        i = int(diff[0])
        raise ExplorerError(
            f"{where} and {mname} both have a column {name!r}, with different values (row {i}: "
            f"{str(ours.iloc[i])[:30]!r} and {str(theirs.iloc[i])[:30]!r}); rename or drop it in "
            "one of them.")


def _ids(frame: pd.DataFrame, id_column, n: int, where: str) -> np.ndarray:
    if id_column is None:
        return np.arange(n, dtype=np.int64)
    if id_column not in frame.columns:
        raise ExplorerError(f"{where}: no id column {id_column!r} (--id-column). The columns "
                            f"are: {preview(frame.columns, 12) or '(none)'}.")
    values = frame[id_column]
    if values.isna().any():
        rows = np.flatnonzero(values.isna().to_numpy())
        raise ExplorerError(f"{where}: id column {id_column!r} is empty at row(s) "
                            f"{preview(rows.tolist())}.")
    return validate_ids(values.to_numpy(), n, where=f"{where}, id column {id_column!r}")
