"""Row sets given by the user: files of row indices or ids, metadata queries, target sets."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ExplorerError, preview
from .arrays import npy_header, read_npy
from .dataset import Dataset
from .paths import regular_file
from .tables import arrow_to_frame, read_arrow, read_csv


def rows_from_file(path, data: Dataset, what: str) -> np.ndarray:
    """Row indices from a ``.npy`` of integer row indices, or a ``.csv`` / ``.parquet`` with an
    ``index`` (row indices) or ``id`` column, or a ``.txt`` of ids one per line.

    Every index must be a whole number in 0..N-1 and every id one of the dataset's, each
    given once; the first that is not is named with its row, and the file is refused.

    >>> import explorer, tempfile, os
    >>> data = explorer.load_sample("digits")
    >>> path = os.path.join(tempfile.mkdtemp(), "pins.csv")
    >>> _ = open(path, "w").write("index\\n3\\n1.5\\n")
    >>> rows_from_file(path, data, "--pin")
    Traceback (most recent call last):
    ...
    explorer.errors.ExplorerError: pins.csv (--pin): row 1 (line 3): 1.5 is not a whole row index; give whole numbers 0..1796.
    """
    p = regular_file(path, what)
    where = f"{p.name} ({what})"
    suffix = p.suffix.lower()
    if suffix == ".npy":
        arr = read_npy(p, where)
        if arr.ndim != 1 or arr.dtype.kind not in "iuf":
            kind = "True/False values" if arr.dtype.kind == "b" else f"{arr.dtype} values"
            raise ExplorerError(f"{where}: holds a {arr.ndim}-D array of {kind}; a .npy must "
                                "hold a 1-D array of row indices (integers).")
        return _checked_indices(pd.Series(arr), data.n, where, "element {i}")
    if suffix in (".csv", ".parquet"):
        if suffix == ".csv":
            # a blank line inside the list is an empty value, named below; blank lines at the
            # end are an editor's, and dropped
            frame = read_csv(p, where, dtype=str, keep_default_na=False, skip_blank_lines=False)
            lines = p.read_bytes().splitlines()
            blank_tail = next((i for i, ln in enumerate(reversed(lines)) if ln.strip()),
                              len(lines))
            frame = frame.iloc[: max(len(frame) - blank_tail, 0)]
        else:
            frame = arrow_to_frame(read_arrow(p, where), where)
        line = "row {i} (line {line})" if suffix == ".csv" else "row {i}"
        if "index" in frame.columns:
            return _checked_indices(frame["index"], data.n, where, line)
        if "id" in frame.columns:
            return _checked_ids(frame["id"], data, where, line)
        if suffix == ".parquet" or frame.shape[1] != 1:
            raise ExplorerError(f"{where}: needs an 'id' or an 'index' column; its columns are "
                                f"{preview(frame.columns, 12) or '(none)'}.")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ExplorerError(f"{where}: is not UTF-8 text ({exc.reason} at byte offset "
                            f"{exc.start}); give one id per line.") from None
    lines = [(i, ln.strip()) for i, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    if lines and lines[0][1] == "id":
        lines = lines[1:]
    ids = pd.Series([ln for _, ln in lines], index=[i for i, _ in lines], dtype=object)
    return _checked_ids(ids, data, where, "line {line}", line_is_index=True)


def _place(template: str, i: int, line=None) -> str:
    """Where the ``i``-th value of a row file sits, e.g. 'row 3 (line 5)' for a CSV, whose
    line is ``i + 2`` after its header unless ``line`` is known."""
    return template.format(i=i, line=i + 2 if line is None else line)


def _checked_indices(values: pd.Series, n: int, where: str, template: str) -> np.ndarray:
    """Whole row indices in 0..n-1, each once, from a column of numbers or number text."""
    values = values.reset_index(drop=True)
    if len(values) == 0:
        raise ExplorerError(f"{where}: holds no row indices; give at least one, or leave the "
                            "option out.")
    if values.dtype.kind == "b":
        raise ExplorerError(f"{where}: holds True/False values; give row indices (whole "
                            f"numbers 0..{n - 1}).")
    text = values.astype(str).str.strip() if values.dtype.kind not in "iuf" else None
    numbers = pd.to_numeric(text if text is not None else values, errors="coerce")
    numbers = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    for i in np.flatnonzero(~np.isfinite(numbers) | (numbers != np.round(numbers)))[:1]:
        shown = values.iloc[i]
        what = ("is empty" if text is not None and text.iloc[i] == ""
                else f"{str(shown)[:30]!r} is not a row index" if not np.isfinite(numbers[i])
                else f"{shown} is not a whole row index")
        raise ExplorerError(f"{where}: {_place(template, i)}: {what}; give whole numbers "
                            f"0..{n - 1}.")
    out = (numbers < 0) | (numbers >= n)
    for i in np.flatnonzero(out)[:1]:
        raise ExplorerError(f"{where}: {_place(template, i)}: index {int(numbers[i])} is "
                            f"outside 0..{n - 1} ({int(out.sum())} such index(es)); the data "
                            f"has {n} rows.")
    rows = numbers.astype(np.int64)
    _refuse_repeats(rows, where, template, "index")
    return rows


def _checked_ids(values: pd.Series, data: Dataset, where: str, template: str,
                 line_is_index: bool = False) -> np.ndarray:
    """Row indices of the dataset's ids listed in ``values``, each once."""
    labels = list(values.index) if line_is_index else [None] * len(values)
    values = values.reset_index(drop=True)
    if len(values) == 0:
        raise ExplorerError(f"{where}: holds no ids; give at least one, or leave the option "
                            "out.")
    missing = np.flatnonzero(values.isna().to_numpy() | (values.astype(str) == "").to_numpy())
    for i in missing[:1]:
        raise ExplorerError(f"{where}: {_place(template, i, labels[i])}: the id is empty.")
    rows = data.index_of_ids(values.astype(str).tolist() if data.ids.dtype.kind in "OUS"
                             or values.dtype.kind not in "iu" else values.tolist(), where=where)
    _refuse_repeats(rows, where, template, "id", labels, values)
    return rows


def _refuse_repeats(rows: np.ndarray, where: str, template: str, what: str, labels=None,
                    values=None) -> None:
    labels = labels or [None] * len(rows)
    seen: dict = {}
    for i, r in enumerate(rows.tolist()):
        if r in seen:
            j = seen[r]
            shown = repr(str(values.iloc[i])[:40]) if values is not None else r
            raise ExplorerError(f"{where}: {what} {shown} is given twice "
                                f"({_place(template, j, labels[j])} and "
                                f"{_place(template, i, labels[i])}); give each row once.")
        seen[r] = i


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

    p = regular_file(path, "--target")
    suffix = p.suffix.lower()
    if suffix == ".npy" and len(npy_header(p, f"{p.name} (--target)").shape) == 1:
        rows = rows_from_file(p, data, "--target")
        return rows, {"indices": rows.tolist(), "path": str(p)}
    if suffix == ".csv":
        cols = read_csv(p, f"{p.name} (--target)", nrows=0).columns
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
