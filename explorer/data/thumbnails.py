"""Small thumbnails of the rows' images, written as files a web server can serve, so that a map
can show the image of the point under the cursor without carrying every image in its data.

Two folders below one root (the app uses the ``static/`` folder Streamlit serves):

- ``thumbs/content/<key>.webp``: the cache. ``key`` is a hash of the source image's bytes and
  of the thumbnail's settings, so the same image (in two datasets, or twice in one) is decoded
  once and a changed file gets a new thumbnail. Bounded by :data:`MAX_FILES` and
  :data:`MAX_BYTES`: the least recently used thumbnails go first.
- ``thumbs/rows/<view>/<row>.webp``: one dataset's rows, hard links to the cache (copies where
  links fail). ``view`` is a hash of the image column's values, the folder relative paths start
  from and the allowed folders, so a map's tooltip can name a row's thumbnail by the row
  number it already carries (``.../<view>/{row}.webp``) and the map's data grows by nothing.
  At most :data:`MAX_VIEWS` of them are kept, the least recently used go first.

Only what :func:`explorer.data.previews.image_source` lets through is opened: ``data:image/``
URIs, and files that resolve (links followed) below the allowed folders and are regular files.
The file served is always a thumbnail re-encoded from decoded pixels, never the source's bytes.
A row whose image cannot be shown gets a grey placeholder and a one-line reason naming the
file, the row and the column; nothing raises.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import previews
from .paths import allowed_roots

#: The longest side of a thumbnail, in pixels (smaller images keep their size).
THUMBNAIL_SIDE = 96
#: Cache bounds: thumbnails kept (a map draws at most 20,000 background points plus its
#: highlighted rows) and their bytes.
MAX_FILES = 50_000
MAX_BYTES = 256 * 2**20
#: Row folders (datasets, or image columns of them) kept.
MAX_VIEWS = 8
#: A source image above this many bytes or pixels is not decoded.
MAX_SOURCE_BYTES = 64 * 2**20
MAX_SOURCE_PIXELS = 64_000_000
SUFFIX = ".webp"
#: Bumped when the way thumbnails are made changes, so old ones are not reused.
FORMAT_VERSION = "1"
PLACEHOLDER = "placeholder"


@dataclass(frozen=True)
class HoverThumbnails:
    """Where the thumbnails of one dataset's rows are, and which rows have none.

    ``folder`` is relative to the root given to :func:`hover_thumbnails`; the thumbnail of row
    ``r`` is ``folder/<r>.webp`` for every row asked for (a grey placeholder for the rows in
    ``problems``, which maps a row to the one-line reason)."""

    folder: str
    problems: dict[int, str] = field(default_factory=dict)
    made: int = 0      # thumbnails decoded and written by this call
    reused: int = 0    # rows whose thumbnail was in the cache

    def file_of(self, root, row: int) -> Path:
        return Path(root) / self.folder / f"{int(row)}{SUFFIX}"


#: (resolved path, size, modification time) -> cache key of a file already read, so a map
#: drawn again does not read every image again (cleared when it grows past MAX_FILES).
_FILE_KEYS: dict[tuple, str] = {}


def _file_identity(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:  # gone since it was checked: reading it says why
        return None
    return (str(path), st.st_size, st.st_mtime_ns)


def _source_bytes(source, what: str) -> tuple[bytes | None, str]:
    """The bytes of a ``data:image/`` URI or of a checked file, or why they cannot be had."""
    if isinstance(source, str):
        header, _, payload = source.partition(",")
        if not header.endswith(";base64"):
            return None, f"{what}: the data URI is not base64-encoded."
        try:
            return base64.b64decode(payload, validate=True), ""
        except (binascii.Error, ValueError):
            return None, f"{what}: the data URI is not valid base64."
    try:
        size = os.stat(source).st_size
        if size > MAX_SOURCE_BYTES:
            return None, (f"{source} ({what}): {size / 2**20:.0f} MB is too large for a "
                          f"thumbnail (at most {MAX_SOURCE_BYTES // 2**20} MB).")
        return Path(source).read_bytes(), ""
    except OSError as exc:
        return None, f"{source} ({what}): cannot be read ({exc.strerror or exc})."


def thumbnail_bytes(raw: bytes, side: int = THUMBNAIL_SIDE) -> bytes:
    """A WebP thumbnail (longest side at most ``side``) of an encoded image; ValueError, with
    the reason, when ``raw`` is not an image Pillow reads or is too large to decode.

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (400, 200), "red").save(buf, "PNG")
    >>> Image.open(io.BytesIO(thumbnail_bytes(buf.getvalue()))).size
    (96, 48)
    >>> thumbnail_bytes(b"not an image")
    Traceback (most recent call last):
    ...
    ValueError: not an image file Pillow can read
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.width * img.height > MAX_SOURCE_PIXELS:
                raise ValueError(f"{img.width} x {img.height} pixels is too large to decode "
                                 f"(at most {MAX_SOURCE_PIXELS:,})")
            img.draft("RGB", (side, side))  # JPEG: decode at a reduced scale (much faster)
            img = ImageOps.exif_transpose(img)
            img.thumbnail((side, side))
            img = img.convert("RGBA" if "A" in img.getbands() or "transparency" in img.info
                              else "RGB")
            out = io.BytesIO()
            img.save(out, "WEBP", quality=85, method=4)
            return out.getvalue()
    except UnidentifiedImageError:
        raise ValueError("not an image file Pillow can read") from None
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:  # truncated, corrupt
        raise ValueError(f"the image cannot be decoded ({exc})") from None


def _temp_beside(target: Path) -> Path:
    """A temp name beside ``target`` of this process and thread (the app's sessions are
    threads of one process and may write the same thumbnail at once)."""
    return target.with_name(f".{target.name}.{os.getpid()}-{threading.get_ident()}.tmp")


def _write_atomic(target: Path, payload: bytes) -> None:
    tmp = _temp_beside(target)
    tmp.write_bytes(payload)
    os.replace(tmp, target)


def _link_atomic(target: Path, source: Path) -> None:
    """``target`` becomes a hard link to ``source`` (a copy where links are not possible)."""
    tmp = _temp_beside(target)
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def _placeholder(side: int) -> bytes:
    """A light grey square with a darker cross: no image for this row."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (side, side), "#eeeeee")
    draw = ImageDraw.Draw(img)
    draw.line([(0, 0), (side - 1, side - 1)], fill="#bbbbbb", width=2)
    draw.line([(0, side - 1), (side - 1, 0)], fill="#bbbbbb", width=2)
    out = io.BytesIO()
    img.save(out, "WEBP", quality=85)
    return out.getvalue()


def _digest(*parts: bytes) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def view_key(data, column: str, side: int = THUMBNAIL_SIDE) -> str:
    """The name of a dataset's row folder: a hash of everything that decides which file each
    row shows (the column's values, the folder relative paths start from, the allowed
    folders, the thumbnail's settings)."""
    values = pd.util.hash_pandas_object(data.metadata[column].astype("string"), index=False)
    base = str(Path(data.source).expanduser().parent) if data.source else ""
    roots = os.pathsep.join(str(r) for r in allowed_roots())
    return _digest(FORMAT_VERSION.encode(), str(side).encode(), column.encode(),
                   np.ascontiguousarray(values.to_numpy()).tobytes(), base.encode(),
                   roots.encode())


def view_folder(data, column: str, side: int = THUMBNAIL_SIDE) -> Path:
    """Where a dataset's row files go, relative to the served root: ``thumbs/rows/<view>``."""
    return Path("thumbs") / "rows" / view_key(data, column, side)


def _thumbnail_of(source, content: Path, settings: bytes, side: int, what: str
                  ) -> tuple[Path | None, str, bool]:
    """(the cached thumbnail of ``source``, why there is none, whether it was made now)."""
    identity = _file_identity(source) if isinstance(source, Path) else None
    key = _FILE_KEYS.get(identity) if identity is not None else None
    if key is not None and (content / f"{key}{SUFFIX}").exists():
        cached = content / f"{key}{SUFFIX}"
        os.utime(cached)
        return cached, "", False
    raw, problem = _source_bytes(source, what)
    if raw is None:
        return None, problem, False
    key = _digest(settings, raw)
    cached = content / f"{key}{SUFFIX}"
    new = not cached.exists()
    if new:
        try:
            _write_atomic(cached, thumbnail_bytes(raw, side))
        except ValueError as exc:
            name = source if isinstance(source, Path) else "the data URI"
            return None, f"{name} ({what}): {exc}.", False
    else:
        os.utime(cached)  # recently used: pruned last
    if identity is not None:
        if len(_FILE_KEYS) > MAX_FILES:
            _FILE_KEYS.clear()
        _FILE_KEYS[identity] = key
    return cached, "", new


def hover_thumbnails(data, rows: Sequence[int], root, *, side: int = THUMBNAIL_SIDE,
                     progress: Callable[[int, int], None] | None = None
                     ) -> HoverThumbnails | None:
    """Write the thumbnails of ``rows`` (the points a map draws) below ``root``; None when the
    dataset has no image column (:func:`explorer.data.previews.image_column`).

    Lazy: only images not in the cache are decoded; a file read before and unchanged since
    (same size and modification time) costs a ``stat``, a data URI a hash. ``progress``
    is called with (rows done, rows) every 200 rows.
    """
    column = previews.image_column(data)
    if column is None:
        return None
    root = Path(root)
    content = root / "thumbs" / "content"
    folder = view_folder(data, column, side)
    view = root / folder
    content.mkdir(parents=True, exist_ok=True)
    view.mkdir(parents=True, exist_ok=True)
    os.utime(view)  # most recently used view
    placeholder = content / f"{PLACEHOLDER}-{side}{SUFFIX}"
    if not placeholder.exists():
        _write_atomic(placeholder, _placeholder(side))
    settings = f"{FORMAT_VERSION}/{side}".encode()
    problems: dict[int, str] = {}
    made = reused = 0
    rows = [int(r) for r in np.unique(np.asarray(rows, dtype=np.int64))]
    for done, row in enumerate(rows):
        if progress is not None and done % 200 == 0:
            progress(done, len(rows))
        target = view / f"{row}{SUFFIX}"
        source, problem = previews.image_source(data, row)
        cached = None
        if source is not None:
            cached, problem, new = _thumbnail_of(source, content, settings, side,
                                                 f"row {row}, column {column}")
            made, reused = made + new, reused + (cached is not None and not new)
        if cached is None:
            if source is None and not problem:
                problem = f"row {row} has no image in column {column}."
            problems[row] = problem
            cached = placeholder
        if not (target.exists() and os.path.samefile(target, cached)):
            _link_atomic(target, cached)
    if progress is not None:
        progress(len(rows), len(rows))
    prune(root)
    return HoverThumbnails(folder.as_posix(), problems, made, reused)


def prune(root, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES,
          max_views: int = MAX_VIEWS) -> int:
    """Keep the cache below ``root`` within its bounds: the least recently used row folders
    beyond ``max_views``, then the least recently used thumbnails beyond ``max_files`` or
    ``max_bytes``, are removed. Returns how many thumbnails were removed.

    A thumbnail removed from the cache while a kept row folder links to it stays on disk
    until that folder goes (the folders are bounded in number, and each holds one map's
    rows)."""
    root = Path(root) / "thumbs"
    views = sorted((p for p in (root / "rows").glob("*") if p.is_dir()),
                   key=lambda p: p.stat().st_mtime, reverse=True)
    for old in views[max_views:]:
        shutil.rmtree(old, ignore_errors=True)
    files = []
    for p in (root / "content").glob(f"*{SUFFIX}"):
        if p.name.startswith(PLACEHOLDER):
            continue
        try:
            st = p.stat()
        except FileNotFoundError:  # removed by another session's prune
            continue
        files.append((st.st_mtime, st.st_size, p))
    total = sum(size for _, size, _ in files)
    if len(files) <= max_files and total <= max_bytes:
        return 0
    files.sort()  # oldest use first
    removed = 0
    for _, size, p in files:
        if len(files) - removed <= max_files and total <= max_bytes:
            break
        p.unlink(missing_ok=True)
        total -= size
        removed += 1
    return removed

