"""Tables read from CSV, Parquet, Feather and JSON lines, and their metadata columns tidied.

Rules written once for the data file, the metadata file and the row files (``--pin``,
``--exclude``, ``--target``): the CSV separator, nested values, columns that are not
coordinates.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ExplorerError, ExplorerWarning, preview
from .arrays import check_fits_in_memory, human_bytes
from .json_values import json_safe

#: Bytes looked at to find a CSV's separator and decimal mark.
_SNIFF_BYTES = 1 << 16

#: A number written with a decimal comma, e.g. 0,126 or -12,5 (between separators).
_DECIMAL_COMMA = re.compile(r"(?:^|[;\t|])\s*\"?-?\d+,\d+\"?\s*(?=[;\t|]|$)", re.MULTILINE)

#: Column names that say a number is not a coordinate (compared in lower case).
NOT_COORDINATES = frozenset({"id", "ids", "idx", "index", "label", "labels", "target", "targets",
                             "class", "classes", "category", "cluster", "fold", "split", "y",
                             "row", "rowid", "row_id"})
_NOT_COORDINATE_SUFFIXES = ("_id", "_idx", "_index", "_label", "_class", "_target")


def note(notes: list | None, message: str) -> None:
    """Say ``message``: add it to ``notes`` for the caller to say and keep, or (without a
    list) warn it at once as an :class:`ExplorerWarning`."""
    if notes is None:
        warnings.warn(message, ExplorerWarning, stacklevel=3)
    else:
        notes.append(message)


def read_csv(path: Path, where: str, notes: list | None = None, **options) -> pd.DataFrame:
    """A CSV file as a frame. A file separated by ``;``, tabs or ``|`` is read as such; one
    whose numbers use decimal commas (``0,126``) is read with them, and :func:`note` says so
    (a comma may also be a thousands mark: the user should know).

    Every failure is an :class:`ExplorerError` naming ``where``.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise ExplorerError(f"{where}: cannot be read ({exc.strerror}).") from None
    if not head.strip():
        raise ExplorerError(f"{where}: is empty; a CSV needs a header line and rows.")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            raise ExplorerError(f"{where}: is not UTF-8 text (byte {head[exc.start]:#04x} at "
                                f"offset {exc.start}); save it as UTF-8 CSV.") from None
        text = head[:exc.start].decode("utf-8")
    sep, decimal = _separator(text)
    try:
        frame = pd.read_csv(path, sep=sep, decimal=decimal, **options)
    except UnicodeDecodeError as exc:
        raise ExplorerError(f"{where}: is not UTF-8 text ({exc.reason} at byte offset "
                            f"{exc.start}); save it as UTF-8 CSV.") from None
    except Exception as exc:  # pandas raises ParserError, EmptyDataError, ValueError, ...
        raise ExplorerError(f"{where}: could not be read as CSV ({_one_line(exc)}).") from None
    index = frame.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        # pandas takes the first fields of rows longer than the header as an index, shifting
        # every value one column to the right: refuse instead
        raise ExplorerError(f"{where}: its rows have more fields than its header line names "
                            f"({len(frame.columns)}); name every column in the header.")
    if decimal == ",":
        note(notes, f"{where}: read as {_SEP_NAMES[sep]}-separated with decimal commas (0,5 as "
                    "0.5). If the commas are thousands marks, save the file with commas between "
                    "fields and points in numbers.")
    return frame


_SEP_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}


def _separator(text: str):
    """(separator, decimal mark) of a CSV from its first bytes: the separator is the one the
    header line holds most of (a comma unless another is more frequent).

    >>> _separator("a;b;c\\n0,5;1,25;3\\n")
    (';', ',')
    >>> _separator("name,note\\nx,\\"a;b\\"\\n")
    (',', '.')
    """
    header = text.splitlines()[0] if text.splitlines() else ""
    counts = {s: header.count(s) for s in _SEP_NAMES}
    sep = max(counts, key=lambda s: (counts[s], s == ","))
    if counts[sep] == 0 or counts[sep] <= counts[","]:
        sep = ","
    body = "\n".join(text.splitlines()[1:50])
    decimal = "," if sep != "," and _DECIMAL_COMMA.search(body) else "."
    return sep, decimal


def _one_line(exc: Exception, limit: int = 160) -> str:
    text = " ".join(str(exc).split())
    return text[:limit] + ("…" if len(text) > limit else "")


def arrow_to_frame(table, where: str) -> pd.DataFrame:
    """A pyarrow Table as a frame; a column pandas cannot hold (dates out of range, ...) is
    named in the error."""
    names = table.column_names
    try:
        return table.to_pandas()
    except Exception as whole:  # pyarrow raises ArrowInvalid, OverflowError, KeyError, ...
        for name in names:
            try:
                table.select([name]).to_pandas()
            except Exception as exc:
                raise ExplorerError(f"{where}: column {name!r} cannot be read "
                                    f"({_one_line(exc)}); convert or drop it.") from None
        # every column converts alone: the table's own description (pandas metadata) is bad
        raise ExplorerError(f"{where}: its columns cannot be put together "
                            f"({type(whole).__name__}: {_one_line(whole)}); the file's "
                            "schema metadata is damaged. Write the file again.") from None


#: Bytes per value of Parquet's fixed-width physical types, as read into memory.
_PARQUET_WIDTHS = {"BOOLEAN": 1, "INT32": 4, "INT64": 8, "INT96": 12, "FLOAT": 4, "DOUBLE": 8}


def _check_parquet_cost(path: Path, where: str) -> None:
    """Refuse, from the footer alone, a Parquet file whose values would not fit in memory.

    Run-length and dictionary encoding and compression let a small file hold many rows (a
    million equal values take a few bytes); the footer states every column's count of values
    and its decoded page size. Counted: values x width (text: its decoded pages, a lower
    bound), twice (the Arrow table and the pandas frame made from it).
    """
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
        need: dict = {}
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for j in range(group.num_columns):
                chunk = group.column(j)
                width = _PARQUET_WIDTHS.get(chunk.physical_type,
                                            meta.schema.column(j).length or 0)
                cost = chunk.num_values * width + chunk.total_uncompressed_size
                need[chunk.path_in_schema] = need.get(chunk.path_in_schema, 0) + cost
    except Exception as exc:  # a damaged footer: pyarrow raises OSError, ArrowInvalid, ...
        raise ExplorerError(f"{where}: could not be read as .parquet ({_one_line(exc)})."
                            ) from None
    if need:
        largest = max(need, key=need.get)
        check_fits_in_memory(2 * sum(need.values()), f"{where}, column {largest!r}",
                             f"the table ({meta.num_rows:,} rows; {largest!r} alone "
                             f"{human_bytes(need[largest])})")


def read_arrow(path: Path, where: str):
    """A Parquet or Feather file as a pyarrow Table (a Parquet file is sized from its footer
    first, see :func:`_check_parquet_cost`)."""
    if path.suffix.lower() == ".parquet":
        _check_parquet_cost(path, where)
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        else:
            import pyarrow.feather as feather

            table = feather.read_table(path)
        # a damaged file can decode into invalid values (text that is not UTF-8, offsets out
        # of range) that fail later, far from here: check every value once
        table.validate(full=True)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for a damaged file
        raise ExplorerError(f"{where}: could not be read as {path.suffix.lower()} "
                            f"({_one_line(exc)}).") from None
    names = table.column_names
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:  # columns are found by name: a repeated one is ambiguous
        raise ExplorerError(f"{where}: column {dup[0]!r} occurs {names.count(dup[0])} times; "
                            "rename or drop the copies.")
    return table


def read_json_lines(path: Path, where: str) -> pd.DataFrame:
    """JSON lines (one object per line), or a JSON array of objects, as a frame."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise ExplorerError(f"{where}: is not UTF-8 text ({exc.reason} at byte offset "
                            f"{exc.start}).") from None
    rows = []
    stripped = text.lstrip()
    try:
        if stripped.startswith("["):
            rows = json.loads(stripped)
            if not isinstance(rows, list):
                raise ValueError("not a list")
            numbered = list(enumerate(rows, start=1))
        else:
            numbered = []
            for i, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    numbered.append((i, json.loads(line)))
    except (ValueError, RecursionError) as exc:
        line = getattr(exc, "lineno", None)
        at = f" at line {line}" if line else ""
        raise ExplorerError(f"{where}: not valid JSON lines{at} ({_one_line(exc, 80)}).") from None
    for line, row in numbered:
        if not isinstance(row, dict):
            raise ExplorerError(f"{where}: line {line} is a JSON {type(row).__name__}, not an "
                                "object; give one object per line ({\"id\": ..., ...}).")
    if not numbered:
        raise ExplorerError(f"{where}: holds no rows.")
    return pd.DataFrame([row for _, row in numbered])


def nested_to_text(frame: pd.DataFrame, where: str, notes: list | None = None) -> pd.DataFrame:
    """Columns holding dicts, lists or arrays (JSON objects, Parquet structs, maps and lists)
    become their JSON text, with one :func:`note` naming them.

    Text can be shown, filtered with ``str.contains`` and exported to any format; a nested
    value can do none of these.

    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     nested_to_text(pd.DataFrame({"tags": [["a"], ["b", "c"]]}), "m.jsonl")["tags"].tolist()
    ['["a"]', '["b", "c"]']
    """
    nested = []
    for c in frame.columns:
        if frame[c].dtype != object:
            continue
        if any(isinstance(v, (dict, list, tuple, set, np.ndarray)) for v in frame[c]):
            nested.append(c)
    if not nested:
        return frame
    frame = frame.copy()
    for c in nested:
        frame[c] = [v if _is_missing(v) else _json_text(v) for v in frame[c]]
    note(notes, f"{where}: column(s) {preview(map(repr, nested))} hold nested values (objects "
                "or lists); they are kept as JSON text.")
    return frame


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _json_text(value) -> str:
    return json.dumps(json_safe(value), ensure_ascii=False)


def not_coordinates(frame: pd.DataFrame, numeric: list) -> list:
    """The numeric columns whose name says they are ids, labels or targets and whose values
    are whole numbers: they are no embedding dimensions. ``y`` counts only without an ``x``.
    An unnamed first column of 0, 1, 2, ... (a saved pandas index) counts too.

    >>> f = pd.DataFrame({"x": [0.5, 1.5], "y": [1.0, 2.0], "label": [0, 1], "d": [1, 2]})
    >>> not_coordinates(f, ["x", "y", "label", "d"])
    ['label']
    """
    lower = {str(c).strip().lower() for c in numeric}
    found = []
    for c in numeric:
        name = str(c).strip().lower()
        named = (name in NOT_COORDINATES or name.endswith(_NOT_COORDINATE_SUFFIXES)
                 or name.startswith("unnamed:"))
        if name == "y" and "x" in lower:
            named = False
        if named and _whole_numbers(frame[c]):
            found.append(c)
    return found


def _whole_numbers(series: pd.Series) -> bool:
    if series.dtype.kind in "iu":
        return True
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[~np.isnan(values)]
    return bool(len(values)) and bool(np.all(np.isfinite(values)) and
                                      np.all(values == np.round(values)))
