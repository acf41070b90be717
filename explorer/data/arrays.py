""".npy and .npz files read safely: every header is checked before any data is read.

A ``.npy`` header is a few hundred bytes stating the dtype and shape, so the size of the data
is known before it is read. A truncated or malformed file, an object array (never
unpickled), or an array that would not fit in memory is refused by name before it costs time
or memory. An ``.npz`` is a zip of ``.npy`` members: each member's header is read from the
start of its compressed stream (a few kilobytes are inflated, never the data), so a zip bomb is
refused before it is decompressed, and members that are not used are never read.
"""

from __future__ import annotations

import ast
import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ExplorerError

NPY_MAGIC = b"\x93NUMPY"

#: numpy writes headers of about 128 bytes (its reader's own default limit is 10,000 bytes).
MAX_HEADER_BYTES = 10_000

#: Share of the memory available now that one file may take when read into memory.
MEMORY_SHARE = 0.5

#: An .npz whose used arrays inflate more than this many times (taken together) is refused.
#: Real embeddings are floats, which deflate (what np.savez_compressed uses) hardly shrinks,
#: and they are most of the bytes of a real archive; small integers stored as floats and
#: label columns shrink by about ten times. Only near-constant data (a sorted label column,
#: zeros) goes past a hundred, up to deflate's ceiling of about a thousand. An archive that
#: unpacks more than 100 times over is such data, no use to a selection, and is what a zip
#: bomb is. benchmarks/bench_npz_ratios.py measures the ratios of the bundled samples.
MAX_COMPRESSION_RATIO = 100

#: Below this many inflated bytes an archive is read whatever its ratio: it costs nothing.
RATIO_CHECK_FROM_BYTES = 64 << 20

_READ_CHUNK_BYTES = 16 << 20


@dataclass(frozen=True)
class NpyHeader:
    """What a .npy header declares: dtype, shape, memory order, and where the data starts."""

    dtype: np.dtype
    shape: tuple
    fortran_order: bool
    offset: int

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.count * self.dtype.itemsize


def human_bytes(n: float) -> str:
    """A byte count for people.

    >>> human_bytes(3_221_225_472), human_bytes(900)
    ('3.2 GB', '900 bytes')
    """
    if n < 1000:
        return f"{int(n)} bytes"
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        n /= 1000
        if n < 1000 or unit == "PB":
            return f"{n:.1f} {unit}" if n < 100 else f"{n:,.0f} {unit}"
    raise AssertionError("unreachable")


def available_memory() -> int | None:
    """Bytes of memory this process can still take: the smaller of the system's available
    memory and the room left under a cgroup limit; None when neither can be read."""
    found = []
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if limit != "max":
            found.append(max(0, int(limit) - int(used)))
    except (OSError, ValueError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return None
    return min(found)


def memory_budget() -> int:
    """Bytes one file may take in memory: :data:`MEMORY_SHARE` of :func:`available_memory`
    (8 GB when it cannot be read)."""
    avail = available_memory()
    return int(avail * MEMORY_SHARE) if avail else 8 * 10**9


def check_fits_in_memory(nbytes: int, where: str, what: str) -> None:
    """Refuse ``nbytes`` of ``what`` when they exceed :func:`memory_budget`."""
    budget = memory_budget()
    if nbytes > budget:
        raise ExplorerError(
            f"{where}: {what} needs {human_bytes(nbytes)} in memory, more than this machine "
            f"can give one file now ({human_bytes(budget)}, {MEMORY_SHARE:.0%} of the memory "
            "available); use a smaller file, or a float32 .npy, which is memory-mapped.")


def read_header(fp, where: str) -> NpyHeader:
    """The header at the start of the open binary stream ``fp``, which is left at the data.

    Every defect is an :class:`ExplorerError` naming ``where``: an empty stream, a stream that
    is not .npy, a header that is cut short or malformed.

    >>> import io
    >>> buf = io.BytesIO(); np.save(buf, np.zeros((2, 3), np.float32)); _ = buf.seek(0)
    >>> read_header(buf, "x.npy").shape
    (2, 3)
    >>> read_header(io.BytesIO(b"PK\\x03\\x04 not numpy"), "x.npy")
    Traceback (most recent call last):
    ...
    explorer.errors.ExplorerError: x.npy: not a .npy file (it does not start with numpy's magic bytes). Save the array with np.save.
    """
    start = fp.read(8)
    if not start:
        raise ExplorerError(f"{where}: is empty (0 bytes); save the array again with np.save.")
    if len(start) < 8 or not start.startswith(NPY_MAGIC):
        raise ExplorerError(f"{where}: not a .npy file (it does not start with numpy's magic "
                            "bytes). Save the array with np.save.")
    major = start[6]
    if major not in (1, 2, 3):
        raise ExplorerError(f"{where}: unknown .npy format version {major}.{start[7]}; save the "
                            "array again with np.save.")
    width = 2 if major == 1 else 4
    size_bytes = fp.read(width)
    size = int.from_bytes(size_bytes, "little")
    if len(size_bytes) < width or size > MAX_HEADER_BYTES:
        raise ExplorerError(f"{where}: malformed .npy header (declared length {size} bytes); "
                            "save the array again with np.save.")
    raw = fp.read(size)
    if len(raw) < size:
        raise ExplorerError(f"{where}: the .npy header is cut short ({len(raw)} of {size} "
                            "bytes); the file is truncated.")
    header = _parse_header(raw, "utf-8" if major == 3 else "latin-1", where)
    return NpyHeader(header[0], header[1], header[2], 8 + width + size)


def _parse_header(raw: bytes, encoding: str, where: str):
    bad = (f"{where}: malformed .npy header; it must be a dict with 'descr', 'fortran_order' "
           "and 'shape'. Save the array again with np.save.")
    try:
        # a literal (dict of strings, bools and tuples), parsed as data: nothing is evaluated
        fields = ast.literal_eval(raw.decode(encoding))
    except Exception:  # SyntaxError, ValueError, RecursionError, MemoryError: all mean garbage
        raise ExplorerError(bad) from None
    if not isinstance(fields, dict) or set(fields) != {"descr", "fortran_order", "shape"}:
        raise ExplorerError(bad)
    shape, fortran = fields["shape"], fields["fortran_order"]
    if (not isinstance(shape, tuple) or not isinstance(fortran, bool)
            or not all(type(s) is int and s >= 0 for s in shape)):
        raise ExplorerError(bad)
    try:
        dtype = np.lib.format.descr_to_dtype(fields["descr"])
    except Exception:  # numpy raises TypeError, ValueError, ... for a descr it cannot read
        raise ExplorerError(f"{where}: malformed .npy header: the dtype "
                            f"{str(fields['descr'])[:40]!r} is not one numpy knows.") from None
    return dtype, shape, fortran


def _refuse_objects(header: NpyHeader, where: str) -> None:
    if header.dtype.hasobject:
        raise ExplorerError(f"{where}: holds Python objects, which are never unpickled. Save "
                            "a numeric array instead (np.save with a float array).")


def _from_stream(fp, header: NpyHeader, where: str) -> np.ndarray:
    """Read the data ``header`` declares from ``fp`` (positioned at the data) in chunks."""
    arr = np.empty(header.count, dtype=header.dtype)
    raw = arr.view(np.uint8).reshape(-1) if header.nbytes else np.empty(0, np.uint8)
    pos = 0
    while pos < header.nbytes:
        got = fp.readinto(memoryview(raw[pos:pos + _READ_CHUNK_BYTES]))
        if not got:
            raise ExplorerError(f"{where}: the data is cut short ({human_bytes(pos)} of "
                                f"{human_bytes(header.nbytes)}); the file is truncated.")
        pos += got
    return _shaped(arr, header)


def _shaped(flat: np.ndarray, header: NpyHeader) -> np.ndarray:
    if header.fortran_order:
        return flat.reshape(header.shape[::-1]).transpose()
    return flat.reshape(header.shape)


def npy_header(path: Path, where: str) -> NpyHeader:
    """The checked header of the .npy file at ``path``; its data must be there, whole."""
    try:
        with open(path, "rb") as fp:
            header = read_header(fp, where)
    except OSError as exc:
        raise ExplorerError(f"{where}: cannot be read ({exc.strerror}).") from None
    _refuse_objects(header, where)
    held = path.stat().st_size - header.offset
    if held != header.nbytes:
        raise ExplorerError(
            f"{where}: the header declares {header.shape} {header.dtype} "
            f"({human_bytes(header.nbytes)} of data) but the file holds {human_bytes(held)}; it "
            "is truncated or was not written by np.save.")
    return header


def read_npy(path, where: str, *, mmap_from_bytes: int | None = None,
             float32_copy: bool = False) -> np.ndarray:
    """The array in the .npy file ``path``, checked header first.

    A 2-D float32 array of at least ``mmap_from_bytes`` bytes is memory-mapped (read-only,
    never copied whole); anything else is read into memory when it fits (with room for a
    float32 copy of another dtype when ``float32_copy``), else refused.
    """
    path = Path(path)
    header = npy_header(path, where)
    if (mmap_from_bytes is not None and header.dtype == np.float32 and len(header.shape) == 2
            and header.nbytes >= mmap_from_bytes):
        return np.memmap(path, dtype=header.dtype, mode="r", offset=header.offset,
                         shape=header.shape, order="F" if header.fortran_order else "C")
    if header.dtype.itemsize == 0 and header.count:
        raise ExplorerError(f"{where}: holds {header.dtype} values of no width; save numbers.")
    extra_bytes = header.count * 4 if float32_copy and header.dtype != np.float32 else 0
    check_fits_in_memory(header.nbytes + extra_bytes, where,
                         f"the array ({header.shape} {header.dtype})")
    with open(path, "rb") as fp:
        fp.seek(header.offset)
        return _from_stream(fp, header, where)


@dataclass(frozen=True)
class NpzMember:
    """One array of an .npz: its key, zip entry and checked header."""

    key: str
    info: zipfile.ZipInfo
    header: NpyHeader


_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
               RuntimeError, NotImplementedError, ValueError, OverflowError)


class NpzArchive:
    """An .npz opened for reading: members sized from their headers, read one by one.

    Use as a context manager; :meth:`read` reads a member whose header was checked on opening.
    """

    def __init__(self, path, where: str):
        self.where = where
        try:
            self._zip = zipfile.ZipFile(path)
        except _ZIP_ERRORS as exc:
            raise ExplorerError(f"{where}: not a readable .npz file ({exc}); save the arrays "
                                "with np.savez.") from None
        try:
            self.members = self._headers()
        except BaseException:
            self._zip.close()
            raise

    def _headers(self) -> dict:
        members = {}
        for info in self._zip.infolist():
            name = info.filename
            if not name.endswith(".npy"):
                raise ExplorerError(f"{self.where}: member {name!r} is not a .npy array; an .npz "
                                    "holds only arrays saved by np.savez.")
            key = name[:-len(".npy")]
            if key in members:
                raise ExplorerError(f"{self.where}: member {name!r} occurs twice; save the "
                                    "arrays again with np.savez.")
            where = f"{self.where}, array {key!r}"
            try:
                with self._zip.open(info) as fp:
                    header = read_header(fp, where)
            except ExplorerError:
                raise
            except _ZIP_ERRORS as exc:
                raise ExplorerError(f"{where}: cannot be read ({exc}).") from None
            if header.offset + header.nbytes != info.file_size:
                raise ExplorerError(
                    f"{where}: the header declares {header.shape} {header.dtype} "
                    f"({human_bytes(header.nbytes)}) but the archive holds "
                    f"{human_bytes(max(0, info.file_size - header.offset))}; the file is "
                    "damaged or was not written by np.savez.")
            members[key] = NpzMember(key, info, header)
        return members

    def check_cost(self, keys, extra_bytes: int = 0) -> None:
        """Refuse, before inflating anything, members ``keys`` that together would not fit in
        memory (with ``extra_bytes`` more) or that inflate more than a real file can."""
        chosen = [self.members[k] for k in keys]
        inflated = sum(m.info.file_size for m in chosen)
        compressed = sum(m.info.compress_size for m in chosen)
        largest = max(chosen, key=lambda m: m.info.file_size)
        check_fits_in_memory(inflated + extra_bytes, f"{self.where}, array {largest.key!r}",
                             f"the used arrays ({human_bytes(inflated)} unpacked; "
                             f"{largest.key!r} {largest.header.shape} {largest.header.dtype})")
        if inflated > RATIO_CHECK_FROM_BYTES and inflated > MAX_COMPRESSION_RATIO * compressed:
            worst = max(chosen, key=lambda m: m.info.file_size / max(1, m.info.compress_size))
            raise ExplorerError(
                f"{self.where}, array {worst.key!r}: {human_bytes(compressed)} packed would "
                f"unpack to {human_bytes(inflated)} ({inflated / max(1, compressed):,.0f} times "
                f"more; real data packs at most ~{MAX_COMPRESSION_RATIO} times), which is what a "
                "zip bomb looks like; refused without unpacking it.")

    def read(self, key: str) -> np.ndarray:
        member = self.members[key]
        where = f"{self.where}, array {key!r}"
        _refuse_objects(member.header, where)
        try:
            with self._zip.open(member.info) as fp:
                fp.read(member.header.offset)
                return _from_stream(fp, member.header, where)
        except ExplorerError:
            raise
        except _ZIP_ERRORS as exc:
            raise ExplorerError(f"{where}: cannot be read ({exc}); the file is damaged.") from None

    def close(self) -> None:
        self._zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
