"""Loader fuzz: random bytes, truncations and byte mutations of valid files of every format.

Every load ends in a Dataset or an ExplorerError with a one-line message: never another
exception, never a hang (each case is bounded in time), never row indices outside the data.
Special files (a FIFO, a device) are refused through the command line within a second.
"""

from __future__ import annotations

import contextlib
import decimal
import faulthandler
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import explorer
from explorer import cli
from explorer.data.rows import load_target, rows_from_file
from explorer.errors import ExplorerError, ExplorerWarning

#: One load of these 12-row files takes milliseconds; a case still running after this is a hang.
CASE_SECONDS = 5
FUZZ = settings(max_examples=30, deadline=2000, database=None,
                suppress_health_check=[HealthCheck.too_slow])

ROWS, DIM = 12, 5


@contextlib.contextmanager
def bounded(seconds: float = CASE_SECONDS):
    """Fail the case with TimeoutError after ``seconds`` (SIGALRM, whose timer is handed back
    to pytest-timeout afterwards), and end the process if even that cannot interrupt it."""
    def alarm(signum, frame):
        raise TimeoutError(f"a load ran for more than {seconds} s")

    old_handler = signal.signal(signal.SIGALRM, alarm)
    old_timer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(seconds * 4, exit=True, file=sys.__stderr__)
    start = time.monotonic()
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_timer:
            signal.setitimer(signal.ITIMER_REAL, max(0.001, old_timer - (time.monotonic() -
                                                                        start)))


def ends_well(load):
    """Run ``load``: it returns a result or raises an ExplorerError with a one-line message."""
    with bounded(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return load()
        except ExplorerError as exc:
            message = str(exc)
            assert message and "\n" not in message and "\r" not in message, repr(message)
            return exc


def check_dataset(result) -> None:
    if isinstance(result, ExplorerError):
        return
    assert isinstance(result, explorer.Dataset)
    assert result.embeddings.ndim == 2 and result.embeddings.dtype == np.float32
    assert np.isfinite(np.asarray(result.embeddings)).all()
    assert len(result.ids) == len(result.metadata) == result.n >= 1


def check_rows(result, n: int) -> None:
    if isinstance(result, ExplorerError):
        return
    if isinstance(result, tuple):  # load_target: (rows or embeddings, record)
        result = result[0]
        if result.ndim == 2:
            return
    assert result.dtype == np.int64 and result.ndim == 1 and len(result)
    assert result.min() >= 0 and result.max() < n and len(np.unique(result)) == len(result)


# ---------------------------------------------------------------- valid files of every format

def _valid_files() -> dict:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(ROWS, DIM)).astype(np.float32)
    ids = [f"r{i:02d}" for i in range(ROWS)]
    files = {}

    def save(name, write):
        buf = io.BytesIO()
        write(buf)
        files[name] = buf.getvalue()

    save("data.npy", lambda b: np.save(b, X))
    save("data.npz", lambda b: np.savez(b, embeddings=X, label=np.arange(ROWS) % 3,
                                        name=np.array(ids)))
    save("packed.npz", lambda b: np.savez_compressed(b, vectors=X.astype(np.float64)))
    table = pa.table({
        "id": ids,
        "vec": pa.array([row.tolist() for row in X], pa.list_(pa.float32())),
        "label": pa.array(np.arange(ROWS) % 3),
        "flag": pa.array([i % 2 == 0 for i in range(ROWS)]),
        "when": pa.array(pd.date_range("2024-01-01", periods=ROWS, tz="UTC")),
        "price": pa.array([decimal.Decimal(f"{i}.25") for i in range(ROWS)],
                          pa.decimal128(6, 2)),
        "tags": pa.array([{"k": i} for i in range(ROWS)]),
    })
    save("data.parquet", lambda b: pq.write_table(table, b))
    save("data.feather", lambda b: feather.write_feather(table, b))
    frame = pd.DataFrame(X, columns=[f"d{j}" for j in range(DIM)])
    frame.insert(0, "id", ids)
    frame["flag"] = [True, False] * (ROWS // 2)
    files["data.csv"] = frame.to_csv(index=False).encode()
    files["lists.csv"] = pd.DataFrame({"id": ids, "emb": [json.dumps(r.tolist()) for r in X]}
                                      ).to_csv(index=False).encode()
    files["semicolon.csv"] = frame.drop(columns=["flag"]).to_csv(
        index=False, sep=";", decimal=",").encode()
    files["meta.jsonl"] = "".join(json.dumps({"id": i, "label": f"c{k % 3}", "n": {"a": [k]}})
                                  + "\n" for k, i in enumerate(ids)).encode()
    files["meta.csv"] = pd.DataFrame({"id": ids, "label": np.arange(ROWS) % 3}
                                     ).to_csv(index=False).encode()
    save("pins.npy", lambda b: np.save(b, np.array([0, 3, 5])))
    files["pins.csv"] = b"index\n0\n3\n5\n"
    files["ids.csv"] = b"id\nr01\nr04\n"
    files["ids.txt"] = b"r01\nr04\n"
    save("pins.parquet", lambda b: pq.write_table(pa.table({"index": [1, 2]}), b))
    return files


VALID = _valid_files()
DATA = ["data.npy", "data.npz", "packed.npz", "data.parquet", "data.feather", "data.csv",
        "lists.csv", "semicolon.csv"]
META = ["meta.jsonl", "meta.csv"]
ROW_FILES = ["pins.npy", "pins.csv", "ids.csv", "ids.txt", "pins.parquet"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A valid 12-row dataset with string ids, for metadata and row files to refer to."""
    folder = tmp_path_factory.mktemp("fuzz-base")
    (folder / "data.parquet").write_bytes(VALID["data.parquet"])
    with pytest.warns(ExplorerWarning, match="'tags' hold nested values"):
        return explorer.load(folder / "data.parquet", id_column="id")


def _load_kwargs(name: str) -> dict:
    return {} if name.endswith((".npy", ".npz")) else {"id_column": "id"}


def load_bytes(name: str, content: bytes, **kwargs):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        return ends_well(lambda: explorer.load(path, **kwargs))


def test_the_valid_files_load(base):
    for name in DATA:
        data = load_bytes(name, VALID[name], **_load_kwargs(name))
        assert isinstance(data, explorer.Dataset), (name, data)
        assert data.n == ROWS and data.dim == DIM, name
    parquet = load_bytes("data.parquet", VALID["data.parquet"], id_column="id")
    # bool, timestamp, decimal and struct columns are metadata, never dimensions
    assert {"flag", "when", "price", "tags"} <= set(parquet.metadata.columns)
    assert parquet.metadata["tags"][0] == '{"k": 0}'
    for name in META:
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "x.npy").write_bytes(VALID["data.npy"])
            (Path(folder) / name).write_bytes(VALID[name])
            data = ends_well(lambda: explorer.load(Path(folder) / "x.npy",
                                                   meta=Path(folder) / name, id_column="id"))
        assert isinstance(data, explorer.Dataset) and "label" in data.metadata, (name, data)
    for name in ROW_FILES:
        rows = rows_bytes(name, VALID[name], base)
        assert isinstance(rows, np.ndarray) and len(rows) in (2, 3), (name, rows)


def rows_bytes(name: str, content: bytes, data, target: bool = False):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        if target:
            return ends_well(lambda: load_target(path, data))
        return ends_well(lambda: rows_from_file(path, data, "--pin"))


def _interesting_offsets(content: bytes) -> list:
    """Ends of the magic, the header length and the header of a .npy (and of a zip's first
    local header), the middle, and the last bytes."""
    n = len(content)
    cuts = {0, 1, 6, 8, 10, 12, 30, 64, 128, n // 2, n - 8, n - 4, n - 1}
    if content.startswith(b"\x93NUMPY"):
        start = 10 + int.from_bytes(content[8:10], "little")
        cuts |= {start - 1, start, start + 1}
    return sorted(c for c in cuts if 0 <= c < n)


@pytest.mark.parametrize("name", DATA + META + ROW_FILES)
def test_truncated_at_every_interesting_offset(name, base):
    content = VALID[name]
    for cut in _interesting_offsets(content):
        check_file(name, content[:cut], base)


def check_file(name: str, content: bytes, base) -> None:
    if name in DATA:
        check_dataset(load_bytes(name, content, **_load_kwargs(name)))
    elif name in META:
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "x.npy").write_bytes(VALID["data.npy"])
            (Path(folder) / name).write_bytes(content)
            check_dataset(ends_well(lambda: explorer.load(
                Path(folder) / "x.npy", meta=Path(folder) / name, id_column="id")))
    else:
        check_rows(rows_bytes(name, content, base), base.n)
        check_rows(rows_bytes(name, content, base, target=True), base.n)


@FUZZ
@given(name=st.sampled_from(DATA + META + ROW_FILES), data=st.data())
def test_truncations_anywhere(name, data, base):
    content = VALID[name]
    cut = data.draw(st.integers(0, len(content) - 1), label="cut")
    check_file(name, content[:cut], base)


@FUZZ
@given(name=st.sampled_from(DATA + META + ROW_FILES), data=st.data())
def test_byte_mutations(name, data, base):
    content = bytearray(VALID[name])
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        pos = data.draw(st.integers(0, len(content) - 1), label="at")
        content[pos] = data.draw(st.integers(0, 255), label="byte")
    check_file(name, bytes(content), base)


@FUZZ
@given(name=st.sampled_from(DATA + META + ROW_FILES), junk=st.binary(max_size=600))
def test_random_bytes(name, junk, base):
    check_file(name, junk, base)


@FUZZ
@given(name=st.sampled_from(DATA + META + ROW_FILES), data=st.data())
def test_random_bytes_after_a_valid_header(name, data, base):
    """The first bytes (magic, header) intact, the rest replaced: the reader gets past the
    cheap checks."""
    content = VALID[name]
    keep = data.draw(st.integers(1, max(1, min(len(content) - 1, 160))), label="keep")
    check_file(name, content[:keep] + data.draw(st.binary(max_size=400), label="tail"), base)


# ---------------------------------------------------------------- special files on the CLI

def _run_cli(args, capsys):
    """``explorer ARGS`` in this process: (exit status, stderr, seconds)."""
    start = time.monotonic()
    with bounded(10):
        code = cli.main(args)
    seconds = time.monotonic() - start
    return code, capsys.readouterr().err, seconds


@pytest.fixture
def npy(tmp_path):
    path = tmp_path / "x.npy"
    path.write_bytes(VALID["data.npy"])
    return path


def test_fifo_as_data_or_meta_exits_2_at_once(tmp_path, npy, capsys):
    fifo = tmp_path / "pipe.npy"
    os.mkfifo(fifo)
    # a writer that never writes: a reader that opened the FIFO would wait for ever
    code, err, seconds = _run_cli(["info", str(fifo)], capsys)
    assert code == 2 and seconds < 1, (code, err, seconds)
    assert err.strip() == f"error: {fifo} (data file): is a named pipe (FIFO), not a regular " \
                          "file; give a file."
    meta = tmp_path / "meta.csv"
    os.mkfifo(meta)
    code, err, seconds = _run_cli(["info", str(npy), "--meta", str(meta)], capsys)
    assert code == 2 and seconds < 1 and "(--meta): is a named pipe (FIFO)" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_exit_2_at_once(device, npy, tmp_path, capsys):
    code, err, seconds = _run_cli(["info", str(npy), "--meta", device], capsys)
    assert code == 2 and seconds < 1 and f"{device} (--meta): is a device" in err
    code, err, seconds = _run_cli(["info", device], capsys)
    assert code == 2 and seconds < 1 and "is a device" in err
    out = tmp_path / "s.csv"
    for option in ("--pin", "--exclude", "--target"):
        code, err, seconds = _run_cli(["select", str(npy), "--strategy", "random", "--budget",
                                       "3", "--out", str(out), option, device], capsys)
        assert code == 2 and seconds < 1 and f"{device} ({option}): is a device" in err
        assert not out.exists()


def test_a_fifo_never_hangs_the_process(tmp_path):
    """The same through a real process: it ends, with exit status 2, while nobody writes."""
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    # nothing opens the write end, so a reader that opened the FIFO would wait for ever
    proc = subprocess.run([sys.executable, "-m", "explorer", "info", str(fifo)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(Path(explorer.__file__).parents[1])})
    assert proc.returncode == 2 and "is a named pipe (FIFO)" in proc.stderr
