"""Read embeddings (and optional metadata) from .npy, .npz, .parquet, .feather and .csv files.

Every problem is reported as an :class:`~explorer.errors.ExplorerError` naming the file, the
row / id / column and what to do. Nothing is ever unpickled (``allow_pickle=False``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ExplorerError, ExplorerWarning, preview
from .dataset import Dataset, fingerprint
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
    path : .npy, .npz, .parquet, .feather or .csv file.
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
    path = Path(path).expanduser()
    where = path.name
    if not path.exists():
        raise ExplorerError(f"{path}: no such file. Check the path (relative paths start at "
                            f"{Path.cwd()}).")
    if path.is_dir():
        raise ExplorerError(f"{path}: is a folder; give the embeddings file inside it.")
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ExplorerError(
            f"{where}: unsupported file type {suffix or '(none)'!r}. Supported: "
            f"{', '.join(FORMATS)}."
        )
    if suffix == ".npy":
        X, frame = _read_npy(path), None
    elif suffix == ".npz":
        X, frame = _read_npz(path)
    else:
        table = _read_table(path)
        X, frame = _split_table(table, embedding_column, id_column, where)
    X = validate_matrix(X, where=where)
    n = X.shape[0]
    if frame is None:
        frame = pd.DataFrame(index=pd.RangeIndex(n))

    if meta is not None:
        frame = _join_meta(frame, Path(meta).expanduser(), id_column, n, where)
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
        warnings.warn(
            f"{where}: dropped {len(bad)} invalid row(s) (NaN, inf"
            f"{' or all zeros' if metric == 'cosine' else ''}); ids: {preview(dropped)}.",
            ExplorerWarning,
            stacklevel=2,
        )
        X = np.ascontiguousarray(X[keep])
        ids = ids[keep]
        frame = frame.loc[keep].reset_index(drop=True)

    options = {
        "meta": None if meta is None else str(Path(meta).expanduser().resolve()),
        "id_column": id_column,
        "embedding_column": embedding_column,
        "drop_invalid": bool(drop_invalid),
        "metric": metric,
    }
    return Dataset(
        embeddings=X,
        ids=ids,
        metadata=frame.reset_index(drop=True),
        fingerprint=fingerprint(X, ids),
        source=str(path.resolve()),
        dropped_ids=dropped,
        options=options,
        embedding=read_record(path) if suffix == ".parquet" else None,
    )


def _read_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise ExplorerError(
                f"{path.name}: holds Python objects, which are never unpickled. Save a numeric "
                "array instead (np.save with a float array)."
            ) from None
        raise ExplorerError(f"{path.name}: not a readable .npy file ({exc}).") from None
    except OSError as exc:
        raise ExplorerError(f"{path.name}: not a readable .npy file ({exc}).") from None
    if arr.dtype == np.float32 and arr.ndim == 2 and arr.nbytes > MMAP_THRESHOLD_BYTES:
        return arr  # memory-mapped, read-only, never copied whole
    return np.array(arr)


def _read_npz(path: Path):
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ExplorerError(f"{path.name}: not a readable .npz file ({exc}).") from None
    with archive:
        arrays = {}
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except ValueError:
                raise ExplorerError(
                    f"{path.name}: array {key!r} holds Python objects, which are never "
                    "unpickled. Store numbers or fixed-width strings."
                ) from None
    if "embeddings" in arrays:
        key = "embeddings"
    else:
        two_d = [k for k, a in arrays.items() if a.ndim == 2 and a.dtype.kind in "fiu"]
        if len(two_d) != 1:
            raise ExplorerError(
                f"{path.name}: found {len(two_d)} 2-D numeric arrays ({', '.join(two_d) or 'none'})"
                "; name the embeddings array 'embeddings'."
            )
        key = two_d[0]
    X = arrays.pop(key)
    n = X.shape[0] if X.ndim >= 1 else 0
    columns = {k: a for k, a in arrays.items() if a.ndim == 1 and len(a) == n}
    frame = pd.DataFrame(columns) if columns else None
    return X, frame


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if suffix == ".feather":
            import pyarrow.feather as feather

            return feather.read_table(path)
        return pd.read_csv(path)
    except ExplorerError:
        raise
    except Exception as exc:
        raise ExplorerError(f"{path.name}: could not be read as {suffix} ({exc}).") from None


def _split_table(table, embedding_column, id_column, where):
    """Matrix and metadata frame from a pyarrow Table (parquet/feather) or a DataFrame (csv)."""
    import pyarrow as pa

    if isinstance(table, pa.Table):
        names = table.column_names
        list_cols = [c for c in names if pa.types.is_list(table.schema.field(c).type)
                     or pa.types.is_fixed_size_list(table.schema.field(c).type)
                     or pa.types.is_large_list(table.schema.field(c).type)]
        col = _choose_embedding_column(names, list_cols, embedding_column, where)
        if col is not None:
            X = _matrix_from_arrow_list(table.column(col), col, where)
            frame = table.drop([col]).to_pandas()
            return X, frame
        frame = table.to_pandas()
    else:
        frame = table
        names = list(frame.columns)
        json_cols = [c for c in names if frame[c].dtype == object or str(frame[c].dtype) == "str"]
        json_cols = [c for c in json_cols
                     if frame[c].dropna().astype(str).str.lstrip().str.startswith("[").all()
                     and frame[c].notna().any()]
        col = _choose_embedding_column(names, json_cols, embedding_column, where)
        if col is not None:
            X = _matrix_from_json(frame[col], col, where)
            return X, frame.drop(columns=[col])
    # a set of numeric columns
    skip = {id_column} if id_column else set()
    numeric = [c for c in frame.columns if c not in skip and frame[c].dtype.kind in "fiu"]
    other = [c for c in frame.columns if c not in numeric]
    if not numeric:
        raise ExplorerError(
            f"{where}: found no embedding column. Give a list column (--embedding-column) or "
            f"numeric columns; the columns are: {preview(frame.columns, 12)}."
        )
    text_like = [c for c in other if c not in skip]
    for c in text_like:
        converted = pd.to_numeric(frame[c], errors="coerce")
        if converted.notna().mean() > 0.5:  # a numeric column spoilt by a few bad cells
            bad = np.flatnonzero(converted.isna() & frame[c].notna())
            raise ExplorerError(
                f"{where}: column {c!r} has non-numeric value {frame[c].iloc[bad[0]]!r} at row "
                f"{bad[0]} ({len(bad)} such row(s)). Fix those cells or drop the column."
            )
    X = frame[numeric].to_numpy(dtype=np.float32)
    return X, frame[other].copy()


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


def _matrix_from_arrow_list(column, name, where) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise ExplorerError(f"{where}: column {name!r} is empty at row {row}; every row needs "
                            "a vector (or drop the row).")
    if pa.types.is_fixed_size_list(column.type):
        width = column.type.list_size
        values = column.flatten()
    else:
        lengths = pc.list_value_length(column).to_numpy()
        width = int(lengths[0]) if len(lengths) else 0
        off = np.flatnonzero(lengths != width)
        if len(off):
            raise ExplorerError(
                f"{where}: rows of unequal length in column {name!r}: row {off[0]} has "
                f"{lengths[off[0]]} values, row 0 has {width} ({len(off)} row(s) differ)."
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


def _join_meta(frame: pd.DataFrame, meta_path: Path, id_column, n: int, where: str):
    if not meta_path.exists():
        raise ExplorerError(f"{meta_path}: no such metadata file.")
    suffix = meta_path.suffix.lower()
    try:
        if suffix == ".csv":
            meta = pd.read_csv(meta_path)
        elif suffix == ".parquet":
            meta = pd.read_parquet(meta_path)
        elif suffix == ".feather":
            meta = pd.read_feather(meta_path)
        elif suffix in (".json", ".jsonl"):
            meta = pd.read_json(meta_path, lines=True)
        else:
            raise ExplorerError(f"{meta_path.name}: unsupported metadata type {suffix!r}. "
                                f"Supported: {', '.join(META_FORMATS)}.")
    except ExplorerError:
        raise
    except Exception as exc:
        raise ExplorerError(f"{meta_path.name}: could not be read ({exc}).") from None
    mname = meta_path.name
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
        clash = [c for c in meta.columns if c in frame.columns]
        return pd.concat([frame.reset_index(drop=True), meta.drop(columns=clash)], axis=1)
    if len(meta) != n:
        raise ExplorerError(
            f"{mname}: has {len(meta)} rows but {where} has {n} embeddings. Metadata joined by "
            f"row order must match row for row; or join by an id column (--id-column)."
        )
    clash = [c for c in meta.columns if c in frame.columns]
    return pd.concat([frame.reset_index(drop=True), meta.drop(columns=clash)
                      .reset_index(drop=True)], axis=1)


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
