"""Files and commands from a stranger, run as a user would run them, with each outcome counted.

Every case runs in its own process (the command line, or a few lines of Python for the
library), in a scratch folder, with a time limit. Outcomes, worst first:

- code executed: a payload's canary file exists afterwards, or the host name leaked;
- data lost: a file that had to survive was changed, replaced or removed;
- hang: the process did not end within the limit, or grew past the memory limit;
- exit 1: a traceback, or an exit status other than 0 and 2, or an error of several lines;
- silent wrong: the command succeeded where it had to refuse, or its answer is wrong;
- clear error: exit 2 with one line naming what is wrong;
- handled: a plausible input read correctly (a stated warning where it is ambiguous).

    python benchmarks/hostile_inputs.py [--only 1,8] [--timeout 60] [--verbose]

It prints one row per item of issue 12 and the totals. Nothing here is timed as a benchmark;
it lives in benchmarks/ because it takes minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUTCOMES = ["handled", "clear error", "exit 1", "hang", "silent wrong", "data lost",
            "code executed"]
MEMORY_LIMIT_MB = 1500
HOSTNAME = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else "\0"


@dataclass
class Case:
    item: int
    name: str
    argv: list | None = None           # arguments of `explorer`, or None with `python`
    python: str | None = None          # a Python snippet (ExplorerError -> exit 2)
    expect: str = "error"              # "error": must refuse; "ok": must succeed
    check: object = None               # callable(result, workdir) -> str | None (why wrong)
    keep: list = field(default_factory=list)    # files that must survive unchanged
    canary: str | None = None          # a file the payload would create
    stdin_pipe_head: bool = False      # run as `explorer ... | head -1`


@dataclass
class Result:
    code: int | None
    out: str
    err: str
    seconds: float
    rss_mb: float


PYTHON_WRAPPER = textwrap.dedent("""
    import sys
    from explorer.errors import ExplorerError
    try:
    {body}
    except ExplorerError as exc:
        print(f"error: {{exc}}", file=sys.stderr)
        sys.exit(2)
""")


def run_case(case: Case, work: Path, timeout: float) -> Result:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(work / "home"),
               SUBSET_EXPLORER_HOME=str(work / "home" / "ws"),
               SUBSET_EXPLORER_CACHE=str(work / "home" / "cache"), PYTHONUNBUFFERED="1")
    if case.python is not None:
        body = textwrap.indent(textwrap.dedent(case.python), "    ")
        cmd = [sys.executable, "-c", PYTHON_WRAPPER.format(body=body)]
    else:
        cmd = [sys.executable, "-m", "explorer", *case.argv]
    start = time.perf_counter()
    if case.stdin_pipe_head:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        head = subprocess.run(["head", "-1"], stdin=proc.stdout, capture_output=True)
        proc.stdout.close()
        try:
            err = proc.stderr.read().decode(errors="replace")
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code, err = None, ""
        return Result(code, head.stdout.decode(errors="replace"), err,
                      time.perf_counter() - start, 0.0)
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    chunks = {"out": [], "err": []}
    readers = [threading.Thread(target=lambda s, k: chunks[k].append(s.read()), args=(s, k))
               for s, k in ((proc.stdout, "out"), (proc.stderr, "err"))]
    for t in readers:
        t.start()
    code, rss_kb = None, 0
    while time.perf_counter() - start < timeout:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            code, rss_kb = os.waitstatus_to_exitcode(status), usage.ru_maxrss
            proc.returncode = code
            break
        time.sleep(0.02)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for t in readers:
        t.join()
    return Result(code, b"".join(chunks["out"]).decode(errors="replace"),
                  b"".join(chunks["err"]).decode(errors="replace"),
                  time.perf_counter() - start, rss_kb / 1024.0)


def digest(path: Path):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISREG(st.st_mode):
        return ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    if stat.S_ISDIR(st.st_mode):
        return ("dir",)
    return (stat.S_IFMT(st.st_mode), st.st_rdev)


def classify(case: Case, res: Result, work: Path, kept: dict) -> tuple[str, str]:
    if case.canary and (work / case.canary).exists():
        return "code executed", f"{case.canary} was created"
    if HOSTNAME and HOSTNAME in (res.out + res.err) and "hostname" in " ".join(
            map(str, case.argv or [])) + (case.python or ""):
        return "code executed", "the host name leaked into the output"
    for path, before in kept.items():
        if digest(path) != before:
            return "data lost", f"{path.name} changed or vanished"
    if res.code is None:
        return "hang", f"no end within the limit ({res.seconds:.0f} s)"
    if res.rss_mb > MEMORY_LIMIT_MB:
        return "hang", f"peak memory {res.rss_mb:.0f} MB"
    lines = [ln for ln in res.err.splitlines() if ln.strip() and not ln.startswith("warning:")
             and not ln.startswith("note:") and "%" not in ln[:5]]
    from explorer.cli import CLOSED_PIPE

    if case.stdin_pipe_head and res.code == CLOSED_PIPE and not res.err.strip() \
            and res.out.strip():
        # the reader went first: 128 + SIGPIPE, quietly, as `seq 100000 | head -1` gives
        # (whether the command still had output to write when head left is a race)
        return "handled", f"exit {CLOSED_PIPE} without a word, the first line read"
    if res.code not in (0, 2) or "Traceback" in res.err:
        return "exit 1", (lines[-1] if lines else f"exit {res.code}")[:160]
    if res.code == 2:
        if case.expect == "ok":
            return "silent wrong" if not lines else "exit 1", \
                f"refused a valid input: {(lines or [''])[0][:160]}"
        if len(lines) != 1 or not lines[0].startswith("error:"):
            return "exit 1", f"{len(lines)} lines: {' | '.join(lines)[:160]}"
        why = case.check(res, work) if case.check else None
        return ("silent wrong", why) if why else ("clear error", lines[0][:160])
    if case.expect == "error":
        return "silent wrong", "succeeded where it had to refuse"
    why = case.check(res, work) if case.check else None
    return ("silent wrong", why) if why else ("handled", (res.err.strip()[:160] or "ok"))


# ------------------------------------------------------------------------------- the inputs


def write_npy_header(fh, shape, dtype="<f4") -> None:
    header = {"descr": dtype, "fortran_order": False, "shape": tuple(shape)}
    text = repr(header).encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    text += b" " * pad + b"\n"
    fh.write(b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text)


def zip_bomb_npz(path: Path, embeddings: np.ndarray, bomb_name: str, bomb_shape,
                 bomb_bytes: int) -> None:
    """A .npz holding real embeddings and a member that declares ``bomb_shape`` and holds
    ``bomb_bytes`` zero bytes, compressed (about 1000:1)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        if embeddings is not None:
            with zf.open("embeddings.npy", "w") as fh:
                np.lib.format.write_array(fh, embeddings)
        with zf.open(bomb_name + ".npy", "w", force_zip64=True) as fh:
            write_npy_header(fh, bomb_shape)
            chunk = bytes(1 << 24)
            left = bomb_bytes
            while left > 0:
                fh.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)


def prepare(work: Path) -> dict:
    """The valid files every case starts from."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    (work / "home").mkdir()
    shutil.copy(ROOT / "sample_data" / "digits.parquet", work / "digits.parquet")
    frame = pd.read_parquet(work / "digits.parquet")
    X = np.stack(frame["embedding"].to_numpy()).astype(np.float32)
    np.save(work / "digits.npy", X)
    frame.drop(columns=["embedding", "image"]).to_csv(work / "meta.csv", index=False)
    files = {"X": X, "frame": frame}
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(work / "home"),
               SUBSET_EXPLORER_HOME=str(work / "home" / "ws"))

    def cli(*args):
        subprocess.run([sys.executable, "-m", "explorer", *args], cwd=work, env=env,
                       check=True, capture_output=True)

    cli("select", "digits.parquet", "--id-column", "id", "--strategy", "k-center", "--budget",
        "10", "--out", "base.csv", "--manifest", "base.json")
    cli("select", "digits.parquet", "--id-column", "id", "--strategy", "dedup", "--param",
        "threshold=0.5", "--then", "k-center", "--budget", "10", "--out", "pipe.csv",
        "--manifest", "pipe.json")
    cli("select", "digits.parquet", "--id-column", "id", "--strategy", "dsir", "--budget", "10",
        "--target-query", "label == '3'", "--out", "dsir.csv", "--manifest", "dsir.json")
    cli("select", "digits.parquet", "--id-column", "id", "--strategy", "random", "--budget",
        "10", "--where", "label == '3'", "--out", "where.csv", "--manifest", "where.json")
    tbl = pa.table({"id": frame["id"], "embedding": pa.array(list(X), pa.list_(pa.float32(), 64))})
    pq.write_table(tbl, work / "plain.parquet")
    return files


def injection_payloads(c: str) -> list[str]:
    """Text that ran code, wrote files or read files through DataFrame.eval, and more."""
    return [
        f"@Path('{c}').touch() == 0",
        f"@pd.io.common.os.system('touch {c}') == 0",
        f"@np.savetxt('{c}', @np.zeros(1)) == 0",
        f"@data.metadata.to_csv('{c}') == 0",
        f"@meta.to_pickle('{c}') == 0",
        "label.__class__.__init__.__globals__['__builtins__']['__import__']('os')"
        f".system('touch {c}') == 0",
        f"__import__('os').system('touch {c}') == 0",
        f"open('{c}', 'w').close() == 0",
        "label == @Path('/etc/hostname').read_text().strip()",
        f"label.apply(lambda v: __import__('os').system('touch {c}')) == 0",
        f"(lambda: __import__('os').system('touch {c}'))() == 0",
        f"[__import__('os').system('touch {c}') for _ in 'x'] == 0",
        f"label.pipe(lambda s: open('{c}', 'w')) == 0",
        "label.__class__.__mro__[-1].__subclasses__() == 0",
        f"exec(\"open('{c}','w')\") == 0",
        f"label.str.__class__.__init__.__globals__['os'].system('touch {c}') == 0",
        "label == 'x' * 1000000000",
        "(" * 500 + "label == '3'" + ")" * 500,
        " or ".join(["label == '3'"] * 6000),  # below Linux's 128 KiB per argument
        f"label.str.contains('3', regex=__import__('os').system('touch {c}'))",
    ]


def item1_cases(work: Path) -> list[Case]:
    cases = []
    base = json.loads((work / "base.json").read_text())
    pipe = json.loads((work / "pipe.json").read_text())
    dsir = json.loads((work / "dsir.json").read_text())
    data = ["digits.parquet", "--id-column", "id"]
    n = 0
    for entry in ("select --where", "select --target-query", "score --target-query",
                  "replay where", "replay steps[0].where", "replay target.query",
                  "workspace reload"):
        for payload in injection_payloads("CANARY"):
            n += 1
            canary = f"CANARY{n}"
            p = payload.replace("CANARY", canary)
            name = f"{entry}: {p[:60]}"
            if entry == "select --where":
                case = Case(1, name, ["select", *data, "--strategy", "random", "--budget", "5",
                                      "--where", p, "--out", f"o{n}.csv"])
            elif entry == "select --target-query":
                case = Case(1, name, ["select", *data, "--strategy", "dsir", "--budget", "5",
                                      "--target-query", p, "--out", f"o{n}.csv"])
            elif entry == "score --target-query":
                case = Case(1, name, ["score", *data, "--selection", "base.csv",
                                      "--target-query", p, "--random-draws", "2"])
            elif entry.startswith("replay"):
                doc = json.loads(json.dumps({"replay where": base, "replay steps[0].where": pipe,
                                             "replay target.query": dsir}[entry]))
                if entry == "replay where":
                    doc["where"] = p
                elif entry == "replay steps[0].where":
                    doc["steps"][0]["where"] = p
                else:
                    doc["target"] = {"query": p}
                (work / f"m{n}.json").write_text(json.dumps(doc))
                case = Case(1, name, ["select", "--replay", f"m{n}.json", "--out", f"o{n}.csv"])
            else:
                doc = dict(base, where=p)
                (work / f"w{n}.json").write_text(json.dumps(doc))
                case = Case(1, name, python=f"""
                    import json, sqlite3, explorer
                    from explorer.data.workspace import Workspace
                    from explorer.data.export import replay
                    data = explorer.load("digits.parquet", id_column="id")
                    ws = Workspace("ws{n}")
                    sel = explorer.select(data, "k-center", 10)
                    ws.save("planted", data, sel)
                    db = sqlite3.connect(ws.path)
                    db.execute("UPDATE selections SET manifest = ? WHERE name = 'planted'",
                               (open("w{n}.json").read(),))
                    db.commit(); db.close()
                    replay(ws.manifest("planted"), data=data)
                """)
            case.canary = canary
            cases.append(case)
    return cases


def item3_cases(work: Path, files) -> list[Case]:
    import decimal

    import pandas as pd
    import pyarrow as pa
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    X = files["X"][:200, :8]
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    n = len(frame)
    extra = {
        "bool": np.arange(n) % 2 == 0,
        "timestamp": pd.date_range("2024-01-01", periods=n, freq="h"),
        "timestamp_tz": pd.date_range("2024-01-01", periods=n, freq="h", tz="Europe/Paris"),
        "decimal": [decimal.Decimal(i) / 7 for i in range(n)],
        "category": pd.Categorical(np.array(["a", "b"])[np.arange(n) % 2]),
        "duration": pd.to_timedelta(np.arange(n), unit="s"),
        "date": [pd.Timestamp("2024-01-01").date()] * n,
    }
    cases = []

    def dims_are(k):
        def check(res, work):
            return None if f"dimensions   {k}" in res.out else \
                f"expected {k} dimensions: {res.out[:200]!r}"
        return check

    for col, values in extra.items():
        f = frame.copy()
        f[col] = values
        for fmt in ("csv", "parquet", "feather"):
            path = work / f"meta3_{col}.{fmt}"
            if fmt == "csv":
                if col in ("decimal", "duration", "date"):
                    continue
                f.to_csv(path, index=False)
            elif fmt == "parquet":
                pq.write_table(pa.Table.from_pandas(f, preserve_index=False), path)
            else:
                feather.write_feather(pa.Table.from_pandas(f, preserve_index=False), path)
            cases.append(Case(3, f"{col} column in .{fmt}", ["info", path.name], expect="ok",
                              check=dims_are(8)))
    # the repro: float columns plus a True/False column, as text
    text = "a,b,c,flag\n" + "\n".join(f"{i * .1},{i * .2},{i * .3},{'True' if i % 2 else 'False'}"
                                       for i in range(50)) + "\n"
    (work / "bool.csv").write_text(text)
    cases.append(Case(3, "floats plus True/False text column (csv)", ["info", "bool.csv"],
                      expect="ok", check=dims_are(3)))
    return cases


def item4_cases(work: Path, files) -> list[Case]:
    X = files["X"][:100]
    zip_bomb_npz(work / "bomb_unused.npz", X, "padding", (800_000_000,), 3_200_000_000)
    zip_bomb_npz(work / "bomb_claims.npz", None, "embeddings", (15_000_000, 100), 1_000_000)
    zip_bomb_npz(work / "bomb_big.npz", None, "embeddings", (3_000_000, 500), 6_000_000_000)
    with zipfile.ZipFile(work / "bomb_nested.npz", "w") as zf:
        zf.writestr("embeddings.npy", (work / "digits.npy").read_bytes())
        zf.writestr("inner.zip", zlib.compress(bytes(10_000_000)))
    return [Case(4, "unused 3.2 GB zero member (3 MB file)", ["info", "bomb_unused.npz"],
                 expect="any"),
            Case(4, "member claiming 6 GB with 1 MB of data", ["info", "bomb_claims.npz"]),
            Case(4, "6 GB of zeros as the embeddings (6 MB file)", ["info", "bomb_big.npz"]),
            Case(4, "a member that is not .npy", ["info", "bomb_nested.npz"], expect="any")]


def item5_cases(work: Path) -> list[Case]:
    cases = []
    variants = {
        "garbage bytes": "open(p, 'wb').write(os.urandom(4096))",
        "text file": "open(p, 'w').write('not a database\\n' * 100)",
        "truncated database": "good(); b = open(p, 'rb').read(); open(p, 'wb').write(b[:1500])",
        "header only": "good(); b = open(p, 'rb').read(); open(p, 'wb').write(b[:100])",
        "flipped bytes in page 1's free space": "good(); b = bytearray(open(p, 'rb').read()); b[2000:2100] = os.urandom(100); open(p, 'wb').write(bytes(b))",
        "an index changed to another row": "good(); import sqlite3, re; db = sqlite3.connect(p); db.execute('PRAGMA wal_checkpoint(TRUNCATE)'); db.close(); b = bytearray(open(p, 'rb').read()); m = re.search(rb'\"indices\": \[(\d)(\d)', b); b[m.start(2)] = ord('0') if b[m.start(2)] != ord('0') else ord('1'); open(p, 'wb').write(bytes(b))",
        "wrong columns": "import sqlite3; db = sqlite3.connect(p); db.execute('CREATE TABLE selections (x)'); db.commit()",
        "manifest not JSON": "good(); import sqlite3; db = sqlite3.connect(p); db.execute(\"UPDATE selections SET manifest = '{oops'\"); db.commit()",
        "manifest a JSON list": "good(); import sqlite3; db = sqlite3.connect(p); db.execute(\"UPDATE selections SET manifest = '[1, 2]'\"); db.commit()",
        "manifest with bad indices": "good(); import sqlite3, json; db = sqlite3.connect(p); m = json.loads(db.execute('SELECT manifest FROM selections').fetchone()[0]); m['selection']['indices'] = ['x', -5]; db.execute('UPDATE selections SET manifest = ?', (json.dumps(m),)); db.commit()",
        "a folder in its place": "os.makedirs(p)",
        "future schema version": "good(); import sqlite3; db = sqlite3.connect(p); db.execute('PRAGMA user_version = 999'); db.commit()",
    }
    # bytes 2000-2100 of this 16 KB file are page 1's unused space (integrity_check says ok):
    # the selection must come back unchanged; every other variant must be refused
    intact = {"flipped bytes in page 1's free space"}
    for label, make in variants.items():
        check = "\n            assert list(ws.indices('one', data)) == list(explorer.select(" \
            "data, 'k-center', 5).indices)" if label in intact else ""
        cases.append(Case(5, f"corrupt workspace: {label}", expect="ok" if label in intact
                          else "error", python=f"""
            import os, explorer
            from explorer.data.workspace import Workspace
            folder = os.path.abspath("ws5-{abs(hash(label)) % 10**8}")
            os.makedirs(folder, exist_ok=True)
            p = os.path.join(folder, "workspace.sqlite")
            data = explorer.load("digits.parquet", id_column="id")
            def good():
                ws = Workspace(folder)
                ws.save("one", data, explorer.select(data, "k-center", 5))
            {make}
            ws = Workspace(folder)
            ws.list()
            ws.indices("one", data){check}
        """))
    cases.append(Case(5, "journal mode is WAL", expect="ok", python="""
        import sqlite3, explorer
        from explorer.data.workspace import Workspace
        ws = Workspace("ws-wal")
        mode = sqlite3.connect(ws.path).execute("PRAGMA journal_mode").fetchone()[0]
        print(mode)
    """, check=lambda res, work: None if res.out.strip() == "wal" else
        f"journal mode {res.out.strip()!r}"))
    cases.append(Case(5, "two processes saving the same 100 names", expect="ok", python="""
        import multiprocessing as mp, explorer
        from explorer.data.workspace import Workspace
        def worker(tag, q):
            data = explorer.load("digits.parquet", id_column="id")
            sel = explorer.select(data, "random", 5, seed=tag)
            ws = Workspace("ws-race")
            saved = []
            for i in range(100):
                try:
                    ws.save(f"n{i}", data, sel)
                    saved.append(i)
                except explorer.ExplorerError:
                    pass
            q.put(saved)
        if __name__ == "__main__":
            pass
        q = mp.get_context("fork").Queue()
        ps = [mp.get_context("fork").Process(target=worker, args=(t, q)) for t in (1, 2)]
        [p.start() for p in ps]
        a, b = q.get(timeout=300), q.get(timeout=300)
        [p.join() for p in ps]
        print(len(set(a) & set(b)), len(set(a) | set(b)))
    """, check=lambda res, work: None if res.out.split()[:2] == ["0", "100"] else
        f"saved by both / saved: {res.out.strip()}"))
    return cases


def item6_cases(work: Path) -> list[Case]:
    for name in ("fifo.npy", "fifo.csv", "fifo_meta.csv", "fifo.parquet", "fifo_pin.npy"):
        os.mkfifo(work / name)
    os.symlink("/dev/zero", work / "zero.npy")
    os.symlink("/dev/urandom", work / "urandom.csv")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(work / "sock.npy"))
    data = ["digits.parquet", "--id-column", "id"]
    return [Case(6, "FIFO as .npy data", ["info", "fifo.npy"]),
            Case(6, "FIFO as .csv data", ["info", "fifo.csv"]),
            Case(6, "FIFO as .parquet data", ["info", "fifo.parquet"]),
            Case(6, "FIFO as --meta", ["info", "digits.npy", "--meta", "fifo_meta.csv"]),
            Case(6, "FIFO as --pin", ["select", *data, "--strategy", "random", "--budget", "5",
                                      "--pin", "fifo_pin.npy", "--out", "o6.csv"]),
            Case(6, "/dev/zero (symlinked as zero.npy)", ["info", "zero.npy"]),
            Case(6, "/dev/urandom as --meta", ["info", "digits.npy", "--meta", "urandom.csv"]),
            Case(6, "a socket as data", ["info", "sock.npy"]),
            Case(6, "a folder named like data", ["info", "home"])]


def item8_cases(work: Path) -> list[Case]:
    data = ["digits.parquet", "--id-column", "id", "--strategy", "random", "--budget", "5"]
    (work / "same.csv").write_text("precious\n")
    (work / "kept.csv").write_text("precious\n")
    os.mkfifo(work / "fifo_out.csv")
    os.mknod(work / "null_out.csv", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    (work / "dir_out.csv").mkdir()
    old = work / ".stale.csv.abc123.tmp"
    old.write_text("half")
    os.utime(old, (time.time() - 7200, time.time() - 7200))

    def no_out(name):
        return lambda res, work: f"{name} was written" if (work / name).exists() else None

    def stale_gone(res, work):
        return ".stale.csv.abc123.tmp is still there" if old.exists() else None

    return [
        Case(8, "--out equal to --manifest, with --force",
             ["select", *data, "--out", "same.csv", "--manifest", "same.csv", "--force"],
             keep=["same.csv"]),
        Case(8, "--out equal to --manifest through ./",
             ["select", *data, "--out", "same.csv", "--manifest", "./same.csv", "--force"],
             keep=["same.csv"]),
        Case(8, "--manifest in a missing folder", ["select", *data, "--out", "lone.csv",
                                                    "--manifest", "missing/m.json"],
             check=no_out("lone.csv")),
        Case(8, "--force onto a FIFO", ["select", *data, "--out", "fifo_out.csv", "--force"],
             keep=["fifo_out.csv"]),
        Case(8, "--force onto a device", ["select", *data, "--out", "null_out.csv", "--force"],
             keep=["null_out.csv"]),
        Case(8, "a folder as --out", ["select", *data, "--out", "dir_out.csv", "--force"],
             keep=["dir_out.csv"]),
        Case(8, "an existing --out without --force", ["select", *data, "--out", "kept.csv"],
             keep=["kept.csv"]),
        Case(8, "a stale temp file of ours is removed at the next write",
             ["select", *data, "--out", "stale.csv"], expect="ok", check=stale_gone),
        Case(8, "SIGKILL during 20 exports: never a CSV without its manifest", expect="ok",
             python=KILL_SCRIPT, check=lambda res, work: None if res.out.strip() == "ok"
             else res.out.strip()[-200:]),
    ]


KILL_SCRIPT = """
import os, random, signal, subprocess, sys, time, glob
env = dict(os.environ)
random.seed(0)
bad = []
for trial in range(20):
    for f in glob.glob("kill*.csv") + glob.glob("kill*.json"):
        os.unlink(f)
    p = subprocess.Popen([sys.executable, "-m", "explorer", "select", "digits.parquet",
                          "--id-column", "id", "--strategy", "random", "--budget", "5",
                          "--out", "kill.csv", "--manifest", "kill.json"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.uniform(0.5, 4.0))
    p.send_signal(signal.SIGKILL)
    p.wait()
    csv, js = os.path.exists("kill.csv"), os.path.exists("kill.json")
    if csv != js:
        bad.append(f"trial {trial}: csv={csv} json={js}")
    if csv and js:
        import json
        json.loads(open("kill.json").read())
print("ok" if not bad else "; ".join(bad))
"""


def item9_cases(work: Path, files) -> list[Case]:
    X = files["X"]
    data = ["digits.parquet", "--id-column", "id"]
    sel = [*data, "--strategy", "random", "--budget", "5"]
    (work / "badheader.npy").write_bytes(b"\x93NUMPY\x01\x00\x20\x00{'descr': '<f4', 'shape': (" +
                                         b" " * 10 + b"\n" + bytes(100))
    (work / "empty.npy").write_bytes(b"")
    with zipfile.ZipFile(work / "notnpy.npz", "w") as zf:
        zf.writestr("embeddings.npy", b"this is not an npy member")
    with zipfile.ZipFile(work / "txtmember.npz", "w") as zf:
        zf.writestr("embeddings.npy", (work / "digits.npy").read_bytes())
        zf.writestr("notes.txt", b"hello")
    lines = []
    for i in range(len(X)):
        lines.append(json.dumps({"s": {"a": i, "b": [1, 2]}, "m": [[i, 1]], "l": [[1, [2]]]}))
    (work / "nested.jsonl").write_text("\n".join(lines) + "\n")
    cases = [
        Case(9, "malformed .npy header", ["info", "badheader.npy"]),
        Case(9, "empty .npy", ["info", "empty.npy"]),
        Case(9, ".npz member that is not .npy", ["info", "notnpy.npz"]),
        Case(9, ".npz with a text member beside the embeddings", ["info", "txtmember.npz"],
             expect="any"),
        Case(9, "struct, map and nested JSONL columns", ["info", "digits.npy", "--meta",
                                                         "nested.jsonl"], expect="any"),
        Case(9, "a string --embedding-column", ["info", "digits.parquet", "--embedding-column",
                                                "label"]),
        Case(9, "info | head", ["info", "digits.parquet", "--id-column", "id"], expect="ok",
             stdin_pipe_head=True),
    ]
    garbage = {
        "empty.npy": b"",
        "junk.npy": os.urandom(300),
        "floats.npy": None,
        "fractions.npy": None,
        "negative.npy": None,
        "out_of_range.npy": None,
        "twod.npy": None,
        "object.npy": None,
        "empty.csv": b"",
        "junk.csv": os.urandom(300),
        "textindex.csv": b"index\nabc\ndef\n",
        "unknown_ids.csv": b"id\nnope-1\nnope-2\n",
        "dup.csv": b"index\n1\n1\n",
        "nan.csv": b"index\n1\n\n3\n",
        "junk.parquet": os.urandom(500),
        "binary.txt": os.urandom(500),
        "huge_index.csv": b"index\n99999999999999999999999\n",
        "nul.txt": b"digit-0001\x00\n",
    }
    arrays = {"floats.npy": np.array([1.0, 2.0]), "fractions.npy": np.array([1.0, 2.5]), "negative.npy": np.array([-1, 3]),
              "out_of_range.npy": np.array([5, 100000]), "twod.npy": np.zeros((2, 2), int)}
    for name, content in garbage.items():
        p = work / f"g_{name}"
        if name in arrays:
            np.save(p, arrays[name])
        elif name == "object.npy":
            p.write_bytes(b"\x93NUMPY\x01\x00v\x00" + b"{'descr': '|O', 'fortran_order': False, "
                          b"'shape': (2,), }".ljust(117) + b"\n" + b"\x80\x04N." * 2)
        else:
            p.write_bytes(content)
        for opt in ("--pin", "--exclude", "--target"):
            if opt == "--target":
                argv = ["select", *data, "--strategy", "dsir", "--budget", "5", opt, p.name,
                        "--out", f"o9_{name}{opt}.csv"]
            else:
                argv = ["select", *sel, opt, p.name, "--out", f"o9_{name}{opt}.csv"]
            # repeated indices are a plausible list (pinned once), and whole numbers stored as
            # floats are row numbers; every other file is garbage
            cases.append(Case(9, f"{opt} {name}", argv,
                              expect="any" if name in ("dup.csv", "floats.npy") else "error"))
    bad_manifests = manifest_variants(json.loads((work / "base.json").read_text()))
    for i, (label, doc) in enumerate(bad_manifests.items()):
        p = work / f"bad_manifest_{i}.json"
        p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
        cases.append(Case(9, f"manifest: {label}", ["select", "--replay", p.name, "--out",
                                                    f"o9m{i}.csv"]))
    return cases


def manifest_variants(base: dict) -> dict:
    def edit(path, value):
        doc = json.loads(json.dumps(base))
        node = doc
        for key in path[:-1]:
            node = node[key]
        if value is KeyError:
            del node[path[-1]]
        else:
            node[path[-1]] = value
        return doc

    return {
        "not JSON": "{oops",
        "a JSON list": "[1, 2, 3]",
        "empty object": "{}",
        "wrong format": edit(["format"], "something-else"),
        "future version": edit(["version"], 99),
        "no strategy": edit(["strategy"], KeyError),
        "unknown strategy": edit(["strategy"], "no-such"),
        "strategy a number": edit(["strategy"], 3),
        "budget text": edit(["budget"], "ten"),
        "budget negative": edit(["budget"], -5),
        "budget huge": edit(["budget"], 10 ** 30),
        "seed text": edit(["seed"], "x"),
        "seed float": edit(["seed"], 1.5),
        "metric unknown": edit(["metric"], "manhattan"),
        "params a list": edit(["params"], [1, 2]),
        "params unknown key": edit(["params"], {"bogus": 1}),
        "dataset missing": edit(["dataset"], KeyError),
        "dataset path a number": edit(["dataset", "path"], 5),
        "dataset options garbage": edit(["dataset", "options"], "x"),
        "selection ids not a list": edit(["selection", "ids"], "abc"),
        "pinned indices text": edit(["pinned", "indices"], ["a"]),
        "pinned indices out of range": edit(["pinned", "indices"], [10 ** 9]),
        "excluded negative": edit(["excluded", "indices"], [-1]),
        "steps not a list": edit(["steps"], {"a": 1}),
        "steps with garbage": edit(["steps"], [{"strategy": None}]),
        "where a number": edit(["where"], 5),
        "target a list": edit(["target"], [1, 2]),
        "target path": edit(["target"], {"path": "/etc/passwd"}),
        "unknown key": edit(["unknown"], 1),
        "columns garbage": edit(["columns"], {"label_column": ["x"]}),
        "NaN budget": json.dumps(edit(["budget"], 0)).replace('"budget": 0', '"budget": NaN'),
        "deep nesting": "[" * 100000 + "]" * 100000,
        "NUL in where": edit(["where"], "label == '3'\x00"),
    }


def item10_cases(work: Path, files) -> list[Case]:
    import pandas as pd

    X = files["X"][:100, :6]
    frame = pd.DataFrame(X, columns=[f"d{i}" for i in range(6)])
    p = work / "pin15.csv"
    p.write_text("index\n1.5\n3\n")
    semi = work / "semicolon.csv"
    semi.write_text("a;b;c\n" + "\n".join(f"{i},5;{i},25;{i},75" for i in range(30)) + "\n")
    f = frame.copy()
    f.insert(0, "id", np.arange(100) + 1000)
    f["label"] = np.arange(100) % 3
    f.to_csv(work / "numeric_id.csv", index=False)
    np.savez(work / "wronglen.npz", embeddings=X, label=np.arange(99), group=np.arange(100))
    meta = pd.DataFrame({"id": frame.index, "d0": np.arange(100), "note": "x"})
    frame.assign(id=frame.index).to_csv(work / "clashdata.csv", index=False)
    meta.to_csv(work / "clashmeta.csv", index=False)
    (work / "random.npy").write_bytes(os.urandom(2000))
    # replay after a metadata change: edit the column the where used
    where = json.loads((work / "where.json").read_text())
    meta_csv = work / "meta_changed.csv"
    m = files["frame"].drop(columns=["embedding", "image"]).copy()
    np.save(work / "digits_for_meta.npy", files["X"])
    m.to_csv(meta_csv, index=False)
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(work / "home"))
    subprocess.run([sys.executable, "-m", "explorer", "select", "digits_for_meta.npy", "--meta",
                    "meta_changed.csv", "--strategy", "random", "--budget", "5", "--where",
                    "label == 3", "--out", "metawhere.csv", "--manifest", "metawhere.json"],
                   cwd=work, env=env, capture_output=True)
    m["label"] = np.roll(m["label"].to_numpy(), 7)
    m.to_csv(meta_csv, index=False)
    del where

    def not_objects(res, work):
        return "called random bytes 'Python objects'" if "Python objects" in res.err else None

    def names_column(res, work):
        return None if "label" in res.err and "version" not in res.err.lower() else \
            f"does not name the changed column: {res.err.strip()[:200]}"

    def numeric_id_kept(res, work):
        return None if "dimensions   6" in res.out else f"not 6 dimensions: {res.out[:120]!r}"

    def warns_or_refuses_lengths(res, work):
        return None if "label" in res.err else "the 99-long 'label' went unmentioned"

    def warns_decimal_commas(res, work):  # plausible but ambiguous: read, with a warning
        return None if "decimal commas" in res.err else "read without a word about the commas"

    def clash_said(res, work):
        return None if "d0" in res.err else "the clashing column d0 went unmentioned"

    sel = ["digits.parquet", "--id-column", "id", "--strategy", "random", "--budget", "5"]
    return [
        Case(10, "index 1.5 in a pin file", ["select", *sel, "--pin", "pin15.csv", "--out",
                                            "o10a.csv"]),
        Case(10, "semicolon CSV with decimal commas", ["info", "semicolon.csv"], expect="any",
             check=warns_decimal_commas),
        Case(10, "numeric id and label columns without --id-column", ["info", "numeric_id.csv"],
             expect="ok", check=numeric_id_kept),
        Case(10, ".npz arrays of the wrong length", ["info", "wronglen.npz"], expect="any",
             check=warns_or_refuses_lengths),
        Case(10, "metadata column with a data column's name",
             ["info", "clashdata.csv", "--meta", "clashmeta.csv", "--id-column", "id"],
             expect="any", check=clash_said),
        Case(10, "random bytes as .npy", ["info", "random.npy"], check=not_objects),
        Case(10, "replay after the where column changed",
             ["select", "--replay", "metawhere.json", "--out", "o10r.csv"], check=names_column),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="items to run, e.g. 1,8")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    only = {int(x) for x in args.only.split(",")} if args.only else None
    work = Path(tempfile.mkdtemp(prefix="hostile-"))
    files = prepare(work)
    builders = {1: lambda: item1_cases(work), 3: lambda: item3_cases(work, files),
                4: lambda: item4_cases(work, files), 5: lambda: item5_cases(work),
                6: lambda: item6_cases(work), 8: lambda: item8_cases(work),
                9: lambda: item9_cases(work, files), 10: lambda: item10_cases(work, files)}
    counts: dict[int, Counter] = {}
    bad_rows = []
    start = time.time()
    for item, build in builders.items():
        if only and item not in only:
            continue
        counts[item] = Counter()
        for case in build():
            kept = {work / k: digest(work / k) for k in case.keep}
            res = run_case(case, work, args.timeout)
            if case.expect == "any":
                case.expect = "ok" if res.code == 0 else "error"
            outcome, why = classify(case, res, work, kept)
            counts[item][outcome] += 1
            line = f"[{item}] {outcome:<13} {case.name[:70]:<70} {why}"
            if outcome not in ("handled", "clear error"):
                bad_rows.append(line)
            if args.verbose or outcome not in ("handled", "clear error"):
                print(line, flush=True)
    print(f"\n{'item':<6}{'cases':>6}" + "".join(f"{o:>15}" for o in OUTCOMES))
    total = Counter()
    for item, c in counts.items():
        total.update(c)
        print(f"{item:<6}{sum(c.values()):>6}" + "".join(f"{c[o]:>15}" for o in OUTCOMES))
    print(f"{'all':<6}{sum(total.values()):>6}" + "".join(f"{total[o]:>15}" for o in OUTCOMES))
    print(f"\n{len(bad_rows)} case(s) outside 'handled' / 'clear error'; "
          f"{time.time() - start:.0f} s; load average {os.getloadavg()[0]:.2f}; "
          f"scratch folder {work}")


if __name__ == "__main__":
    main()
