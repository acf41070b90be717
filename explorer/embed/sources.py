"""What to embed: a text column, an image column (paths, data URIs or bytes) or a folder of
images. Every item is checked before any model runs; the bad ones are named in one line with
their count, or left out on request (``skip_invalid``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ExplorerError, ExplorerWarning, preview
from ..data.paths import regular_file

TABLE_FORMATS = (".csv", ".parquet", ".feather", ".jsonl", ".json")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")
TEXT_SUFFIXES = (".txt", ".md", ".rst")


@dataclass
class Items:
    """The rows to embed: their content (text, or image bytes read lazily), a content hash
    each, and the table that goes into the output beside the vectors."""

    kind: str                      # "text" or "image"
    frame: pd.DataFrame            # output columns, one row per item
    content: list                  # text, or a zero-argument callable giving image bytes
    hashes: list[str]              # BLAKE2b of each item's content
    column: str | None             # the input column (None for a folder)
    source: str                    # the input path, for the record
    id_column: str | None = None
    skipped: list = field(default_factory=list)  # (row or file, reason) left out

    def __len__(self) -> int:
        return len(self.hashes)

    def get(self, i: int):
        item = self.content[i]
        return item() if callable(item) else item


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def read_table(path) -> pd.DataFrame:
    """A .csv / .parquet / .feather / .jsonl table (never unpickled, regular files only)."""
    path = regular_file(path, "DATA")
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise ExplorerError(f"{path.name}: unsupported table type {suffix or '(none)'!r} for "
                            f"embedding. Supported: {', '.join(TABLE_FORMATS)}.")
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            # list columns (old vectors) are not text; they are kept out of the frame
            keep = [f.name for f in table.schema if not _is_list(f.type)]
            return table.select(keep).to_pandas()
        if suffix == ".feather":
            return pd.read_feather(path)
        return pd.read_json(path, lines=True)
    except ExplorerError:
        raise
    except Exception as exc:  # noqa: BLE001 - a file we cannot parse is bad input
        raise ExplorerError(f"{path.name}: could not be read as {suffix} ({exc}).") from None


def _is_list(arrow_type) -> bool:
    import pyarrow as pa

    return (pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)
            or pa.types.is_fixed_size_list(arrow_type))


def _column(frame: pd.DataFrame, column: str, option: str, where: str) -> pd.Series:
    if column not in frame.columns:
        raise ExplorerError(f"{where}: no column {column!r} ({option}). Its columns are: "
                            f"{preview(map(str, frame.columns), 12) or '(none)'}.")
    return frame[column]


def _refuse_or_skip(bad: list, n: int, what: str, where: str, skip: bool, fix: str) -> None:
    """One line naming the first bad rows or files and how many there are."""
    if not bad:
        return
    named = preview([f"{at} ({why})" for at, why in bad], 3)
    if not skip:
        raise ExplorerError(f"{where}: {len(bad)} of {n} {what}: {named}. {fix}, or pass "
                            "--skip-invalid (skip_invalid=True) to leave them out.")
    warnings.warn(f"{where}: left out {len(bad)} of {n} {what}: {named}.", ExplorerWarning,
                  stacklevel=3)


def text_items(path, column: str, *, id_column: str | None = None,
               skip_invalid: bool = False) -> Items:
    """The text of ``column`` in the table at ``path``; empty, missing and non-text cells are
    refused (naming the rows and their count) unless ``skip_invalid``."""
    frame = read_table(path)
    where = Path(path).name
    values = _column(frame, column, "--text-column", where)
    if id_column is not None:
        _column(frame, id_column, "--id-column", where)
    bad = []
    for row, value in enumerate(values.tolist()):
        if not isinstance(value, str):
            why = "empty" if value is None or (isinstance(value, float) and np.isnan(value)) \
                else f"not text: {str(value)[:20]!r}"
            bad.append((f"row {row}", why))
        elif not value.strip():
            bad.append((f"row {row}", "blank"))
    _refuse_or_skip(bad, len(frame), f"rows of column {column!r} are empty or not text", where,
                    skip_invalid, "Fill them")
    keep = np.ones(len(frame), dtype=bool)
    keep[[int(at.split()[1]) for at, _ in bad]] = False
    frame = frame.loc[keep].reset_index(drop=True)
    texts = frame[column].tolist()
    return Items("text", frame, texts, [_digest(t.encode("utf-8", "surrogatepass"))
                                        for t in texts],
                 column, str(Path(path).resolve()), id_column, bad)


def _image_bytes(value, folder: Path):
    """(bytes, None) or (None, reason) for one cell: a path (relative to the table's folder),
    a data: URI, bytes, or a {"bytes": ..., "path": ...} record."""
    if isinstance(value, dict):
        if value.get("bytes"):
            value = value["bytes"]
        elif value.get("path"):
            value = value["path"]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), None
    if not isinstance(value, str) or not value.strip():
        return None, "empty"
    if value.startswith("data:"):
        head, _, payload = value.partition(",")
        if ";base64" not in head:
            return None, "a data: URI that is not base64"
        try:
            return base64.b64decode(payload, validate=True), None
        except (binascii.Error, ValueError):
            return None, "a data: URI with damaged base64"
    p = Path(value).expanduser()
    p = p if p.is_absolute() else folder / p
    try:
        return regular_file(p, "image").read_bytes(), None
    except ExplorerError as exc:
        return None, str(exc).split(": ", 1)[-1].split(";")[0].split(".")[0]
    except OSError as exc:
        return None, exc.strerror or "unreadable"


def _check_image(blob: bytes) -> str | None:
    """None when ``blob`` is an image PIL can read, else why not."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(blob)) as image:
                image.verify()
        return None
    except UnidentifiedImageError:
        return "not an image"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "too many pixels"
    except Exception as exc:  # noqa: BLE001 - PIL raises many kinds for damaged files
        return f"damaged image ({type(exc).__name__})"


def image_items(path, column: str, *, id_column: str | None = None,
                skip_invalid: bool = False) -> Items:
    """Images named or held by ``column`` of the table at ``path``; every one is opened and
    checked first, and unreadable or non-image cells are refused (rows and count)."""
    frame = read_table(path)
    where = Path(path).name
    values = _column(frame, column, "--image-column", where)
    if id_column is not None:
        _column(frame, id_column, "--id-column", where)
    folder = Path(path).expanduser().resolve().parent
    bad, blobs = [], []
    for row, value in enumerate(values.tolist()):
        blob, why = _image_bytes(value, folder)
        why = why or _check_image(blob)
        if why:
            bad.append((f"row {row}", why))
        blobs.append(None if why else blob)
    _refuse_or_skip(bad, len(frame), f"images of column {column!r} could not be read", where,
                    skip_invalid, "Fix those cells")
    keep = np.array([b is not None for b in blobs], dtype=bool)
    frame = frame.loc[keep].reset_index(drop=True)
    kept = [b for b in blobs if b is not None]
    return Items("image", frame, kept, [_digest(b) for b in kept], column,
                 str(Path(path).resolve()), id_column, bad)


def _reader(p: Path):
    return lambda: p.read_bytes()


def _files(folder, option: str, suffixes) -> tuple[Path, list[Path]]:
    """The files below ``folder`` with one of ``suffixes`` (sorted by relative path; hidden
    files and folders left out); other files are ignored with a warning naming them."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ExplorerError(f"{folder} ({option}): "
                            f"{'is not a folder' if root.exists() else 'no such folder'}.")
    root = root.resolve()
    files, others = [], []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if any(part.startswith(".") for part in rel.split("/")) or p.is_dir():
            continue
        (files if p.suffix.lower() in suffixes else others).append(p)
    kind = "images" if suffixes == IMAGE_SUFFIXES else "texts"
    if others:
        warnings.warn(f"{root.name}: ignored {len(others)} file(s) that are not {kind} by "
                      f"name: {preview(p.relative_to(root).as_posix() for p in others)}.",
                      ExplorerWarning, stacklevel=3)
    if not files:
        raise ExplorerError(f"{root} ({option}): holds no {kind[:-1]} files "
                            f"({', '.join(suffixes)}).")
    return root, files


def folder_items(folder, *, skip_invalid: bool = False) -> Items:
    """Every image file below ``folder`` (by suffix, sorted by relative path; hidden files and
    folders left out). Files with other suffixes are ignored with a warning; image files that
    cannot be read are refused (files and count). Ids are the relative paths."""
    root, files = _files(folder, "--image-dir", IMAGE_SUFFIXES)
    bad, good, hashes = [], [], []
    for p in files:
        rel = p.relative_to(root).as_posix()
        try:
            blob = regular_file(p, "image").read_bytes()
        except (ExplorerError, OSError) as exc:
            bad.append((rel, getattr(exc, "strerror", None) or "not a regular file"))
            continue
        why = _check_image(blob)
        if why:
            bad.append((rel, why))
            continue
        good.append(p)
        hashes.append(_digest(blob))
    _refuse_or_skip(bad, len(files), "image files could not be read", root.name, skip_invalid,
                    "Remove or replace them")
    frame = pd.DataFrame({"id": [p.relative_to(root).as_posix() for p in good],
                          "path": [str(p) for p in good]})
    return Items("image", frame, [_reader(p) for p in good], hashes, None, str(root), "id", bad)


def text_folder_items(folder, *, skip_invalid: bool = False) -> Items:
    """Every text file below ``folder`` (.txt, .md, .rst; sorted by relative path), one row
    each: ``id`` (the relative path), ``path`` and ``text`` (the file's UTF-8 content). Empty,
    unreadable or non-UTF-8 files are refused (files and count) unless ``skip_invalid``."""
    root, files = _files(folder, "--text-dir", TEXT_SUFFIXES)
    bad, rows = [], []
    for p in files:
        rel = p.relative_to(root).as_posix()
        try:
            text = regular_file(p, "text file").read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            bad.append((rel, "not UTF-8 text"))
            continue
        except (ExplorerError, OSError) as exc:
            bad.append((rel, getattr(exc, "strerror", None) or "not a regular file"))
            continue
        if not text.strip():
            bad.append((rel, "empty"))
            continue
        rows.append((rel, str(p), text))
    _refuse_or_skip(bad, len(files), "text files could not be used", root.name, skip_invalid,
                    "Fix or remove them")
    frame = pd.DataFrame(rows, columns=["id", "path", "text"])
    texts = frame["text"].tolist()
    return Items("text", frame, texts, [_digest(t.encode("utf-8", "surrogatepass"))
                                        for t in texts], "text", str(root), "id", bad)
