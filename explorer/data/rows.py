"""Row sets given by the user: files of row indices or ids, metadata queries, target sets."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ExplorerError, preview
from .dataset import Dataset


def rows_from_file(path, data: Dataset, what: str) -> np.ndarray:
    """Row indices from a ``.npy`` of integer row indices, or a ``.csv`` / ``.parquet`` with an
    ``index`` (row indices) or ``id`` column, or a ``.txt`` of ids one per line."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ExplorerError(f"{p}: no such file for {what}.")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        arr = np.load(p, allow_pickle=False)
        if arr.dtype.kind not in "iu" or arr.ndim != 1:
            raise ExplorerError(f"{p.name} ({what}): a .npy must hold a 1-D array of row "
                                "indices (integers).")
        return arr.astype(np.int64)
    if suffix in (".csv", ".parquet"):
        frame = pd.read_parquet(p) if suffix == ".parquet" else pd.read_csv(p)
        if "index" in frame.columns:
            return frame["index"].to_numpy(dtype=np.int64)
        if "id" in frame.columns:
            return data.index_of_ids(frame["id"].tolist(), where=f"{p.name} ({what})")
        if suffix == ".parquet" or frame.shape[1] != 1:
            raise ExplorerError(f"{p.name} ({what}): needs an 'id' or an 'index' column.")
    ids = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if ids and ids[0] == "id":
        ids = ids[1:]
    return data.index_of_ids(ids, where=f"{p.name} ({what})")


def query_rows(data: Dataset, expr, what: str = "query") -> np.ndarray:
    """Row indices where the filter ``expr`` over the metadata holds: text in the filter
    language of :mod:`explorer.data.filters` (never run as Python), a filter's JSON form, or
    a :class:`~explorer.data.filters.Filter`.

    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> len(query_rows(data, "label == '3'"))
    183
    """
    from .filters import evaluate

    return np.flatnonzero(evaluate(expr, data.metadata, what)).astype(np.int64)


def column_types(data: Dataset) -> str:
    """'label (text), difficulty (number), ...' — a hint for queries that match nothing."""
    kinds = {"f": "number", "i": "integer", "u": "integer", "b": "True/False"}
    return ", ".join(f"{c} ({kinds.get(data.metadata[c].dtype.kind, 'text')})"
                     for c in list(data.metadata.columns)[:12])


def load_target(path, data: Dataset):
    """A target set from a file: row indices into ``data`` (a 1-D integer ``.npy``, or a
    ``.csv`` with an ``index`` / ``id`` column), or a second embedding file of the same width
    (any format :func:`explorer.load` reads). Returns (indices or (M, D) array, record)."""
    from .loading import load

    p = Path(path).expanduser()
    if not p.exists():
        raise ExplorerError(f"{p}: no such target file.")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        head = np.load(p, mmap_mode="r", allow_pickle=False)
        if head.ndim == 1:
            rows = rows_from_file(p, data, "--target")
            return rows, {"indices": rows.tolist(), "path": str(p)}
    if suffix == ".csv":
        cols = pd.read_csv(p, nrows=0).columns
        if "index" in cols or ("id" in cols and len(cols) == 1):
            rows = rows_from_file(p, data, "--target")
            return rows, {"indices": rows.tolist(), "path": str(p)}
    other = load(p)
    if other.dim != data.dim:
        raise ExplorerError(f"{p.name} (--target): its embeddings have {other.dim} dimensions "
                            f"but the data has {data.dim}; they must come from the same model.")
    X = np.asarray(other.embeddings, dtype=np.float32)
    return X, {"path": str(p), "fingerprint": other.fingerprint, "shape": list(X.shape)}


def resolve_target_arg(data: Dataset, target=None, target_query=None):
    """A target set however it was given — row indices, a mask, an (M, D) array, a file path
    (:func:`load_target`) or a metadata filter — as (indices or embeddings, manifest record);
    (None, None) when neither is given. A filter is recorded in its canonical text."""
    if target is not None and target_query is not None:
        raise ExplorerError("Give the target set once: target or target_query, not both.")
    if target_query is not None:
        from .filters import as_filter

        query = as_filter(target_query, "target query")
        rows = query_rows(data, query, "target query")
        if len(rows) == 0:
            raise ExplorerError(f"target query {query.to_text()!r} matches no row. Columns: "
                                f"{column_types(data)}; quote text values.")
        return rows, {"query": query.to_text()}
    if isinstance(target, (str, Path)):
        return load_target(target, data)
    if target is not None:
        return target, target_record(target)
    return None, None


def target_record(target) -> dict:
    """How a target given to :func:`explorer.select` is recorded in the manifest."""
    arr = np.asarray(target)
    if arr.dtype == bool:
        return {"indices": np.flatnonzero(arr).tolist()}
    if arr.ndim == 1:
        return {"indices": arr.astype(np.int64).tolist()}
    digest = hashlib.blake2b(np.ascontiguousarray(arr, dtype=np.float32).tobytes(),
                             digest_size=8).hexdigest()
    return {"embeddings": digest, "shape": list(arr.shape)}
