"""The workspace: WAL, one-transaction saves that never replace silently (also across two
processes), the schema version and its migration, and every kind of damaged file or row
reported in one clear line, with the file moved aside on request and nothing deleted."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

import explorer
from explorer.data.workspace import (DB_NAME, SCHEMA_VERSION, CorruptWorkspace, Workspace,
                                     move_aside)
from explorer.errors import ExplorerError

ROOT = Path(__file__).resolve().parents[1]
LEGACY_TABLE = ("CREATE TABLE selections (name TEXT PRIMARY KEY, saved TEXT, strategy TEXT, "
                "budget INTEGER, rows INTEGER, dataset TEXT, fingerprint TEXT, manifest TEXT)")


def saved_workspace(folder: Path, digits, names=("a", "b")) -> Workspace:
    ws = Workspace(folder)
    for i, name in enumerate(names):
        ws.save(name, digits, explorer.select(digits, "random", 40, seed=i))
    return ws


def test_wal_mode_schema_version_and_saving_without_replacing(tmp_path, digits):
    ws = saved_workspace(tmp_path, digits)
    with sqlite3.connect(ws.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    other = explorer.select(digits, "k-center", 40, seed=5)
    with pytest.raises(ExplorerError, match="'a' is already saved"):
        ws.save("a", digits, other)
    assert ws.manifest("a")["strategy"] == "random"
    assert ws.save("a", digits, other, replace=True) == "replaced"
    assert ws.manifest("a")["strategy"] == "k-center"
    assert ws.indices("a", digits).tolist() == other.indices.tolist()
    assert sorted(ws.list()["name"]) == ["a", "b"]
    for bad in ("", "   ", "x" * 201, "nul\x00byte", "new\nline"):
        with pytest.raises(ExplorerError, match="name"):
            ws.save(bad, digits, other)
    ws.delete("b")
    with pytest.raises(ExplorerError, match="No saved selection named 'b'"):
        ws.delete("b")


def test_an_unversioned_workspace_is_migrated_and_keeps_its_rows(tmp_path, digits):
    sel = explorer.select(digits, "random", 10, seed=3)
    doc = explorer.data.export.manifest_dict(digits, sel)
    with sqlite3.connect(tmp_path / DB_NAME) as db:  # the first release's file
        db.execute(LEGACY_TABLE)
        db.execute("INSERT INTO selections VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   ("old", "2024-01-01T00:00:00+00:00", "random", 10, 10, "digits",
                    digits.fingerprint, json.dumps(doc)))
    db.close()
    ws = Workspace(tmp_path)
    with sqlite3.connect(ws.path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert ws.list()["name"].tolist() == ["old"]
    assert ws.indices("old", digits).tolist() == sel.indices.tolist()
    # an empty file is a new workspace, not a damaged one
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / DB_NAME).write_bytes(b"")
    assert Workspace(tmp_path / "empty").list().empty


# ------------------------------------------------------------------ damaged files

def _sqlite_file(path: Path, *statements) -> None:
    db = sqlite3.connect(path)
    for s in statements:
        db.execute(s)
    db.commit()
    db.close()


def _damaged_page(path: Path, digits) -> None:
    saved_workspace(path.parent, digits, names=[f"n{i}" for i in range(6)])
    data = bytearray(path.read_bytes())
    data[4096:8192] = os.urandom(4096)  # page 2: the table's own b-tree page
    path.write_bytes(bytes(data))


def _truncated(path: Path, digits) -> None:
    saved_workspace(path.parent, digits, names=[f"n{i}" for i in range(10)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


FILES = {
    "random bytes": (lambda p, d: p.write_bytes(np.random.default_rng(1).bytes(5000)),
                     "is not an SQLite file"),
    "a text file": (lambda p, d: p.write_text("name,saved\na,b\n"), "is not an SQLite file"),
    "header then garbage": (lambda p, d: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000),
                            "is damaged or not a workspace"),
    "truncated": (_truncated, "is damaged or not a workspace"),
    "a damaged page": (_damaged_page, "is damaged or not a workspace"),
    "wrong columns": (lambda p, d: _sqlite_file(p, "CREATE TABLE selections (a, b)"),
                      "its selections table has the columns (a, b)"),
    "someone else's tables": (lambda p, d: _sqlite_file(p, "CREATE TABLE users (x)"),
                              "holds other tables (users)"),
    "a folder": (lambda p, d: p.mkdir(), "is a folder, not a workspace file"),
    "a FIFO": (lambda p, d: os.mkfifo(p), "is a named pipe (FIFO), not a workspace file"),
    "a device": (lambda p, d: p.symlink_to("/dev/zero"), "is a device, not a workspace file"),
    "a link loop (unreadable)": (lambda p, d: p.symlink_to(p.name),
                                 "cannot be read (Too many levels of symbolic links)"),
    "a broken link": (lambda p, d: p.symlink_to("gone.sqlite"),
                      "is a link to a file that does not exist"),
}


def open_and_read(folder: Path, digits) -> None:
    """Everything the Export page does with a workspace."""
    ws = Workspace(folder)
    for name in ws.list()["name"]:
        ws.manifest(name)
        ws.indices(name, digits)


@pytest.mark.parametrize("variant", list(FILES))
def test_a_damaged_workspace_file_gets_one_clear_message_and_can_be_moved_aside(
        tmp_path, digits, variant):
    make, expected = FILES[variant]
    path = tmp_path / DB_NAME
    make(path, digits)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(CorruptWorkspace) as caught:
        open_and_read(tmp_path, digits)
    message = str(caught.value)
    assert expected in message and str(path) in message and "Move it aside" in message
    assert "\n" not in message and caught.value.path == path
    assert sorted(os.listdir(tmp_path)) == before  # nothing changed by looking
    kept = move_aside(path)
    assert kept.name.startswith(f"{DB_NAME}.corrupt-") and os.path.lexists(kept)
    assert not os.path.lexists(path)
    ws = Workspace(tmp_path)  # a new one starts
    ws.save("fresh", digits, explorer.select(digits, "random", 5))
    assert ws.list()["name"].tolist() == ["fresh"]
    assert os.path.lexists(kept)  # the old file is kept


def test_a_workspace_from_a_newer_version_is_refused_not_changed(tmp_path):
    _sqlite_file(tmp_path / DB_NAME, LEGACY_TABLE, "PRAGMA user_version = 7")
    with pytest.raises(ExplorerError, match=r"written by a newer Subset Explorer \(workspace "
                                            r"version 7; this one reads up to 1\)"):
        Workspace(tmp_path)
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 7


# ------------------------------------------------------------------ damaged rows

ROWS = {
    "manifest not JSON": ("'{not json'", "manifest", "has a manifest that is not JSON"),
    "manifest a JSON list": ("'[1, 2]'", "manifest", "not a JSON object"),
    "manifest with NaN": ("'{\"seed\": NaN}'", "manifest", "NaN is not a JSON number"),
    "manifest missing": ("NULL", "manifest", "has no manifest"),
    "manifest nested too deep": ("'" + "[" * 100_000 + "]" * 100_000 + "'", "manifest",
                                 "not JSON (RecursionError"),
    # the rest fail the manifest's schema check before anything reads them
    "no dataset": ("'{\"selection\": {\"indices\": [1]}}'", "indices",
                   "fails its check (saved selection 'a': not a Subset Explorer manifest"),
    "indices out of range": (None, "indices", "is 5000, outside the 1797 rows of the dataset"),
    "indices not integers": (None, "indices", "fails its check"),
}


@pytest.mark.parametrize("variant", list(ROWS))
def test_a_damaged_row_gets_a_clear_message_and_can_be_deleted(tmp_path, digits, variant):
    value, operation, expected = ROWS[variant]
    ws = saved_workspace(tmp_path, digits)
    if value is None:
        doc = ws.manifest("a")
        doc["selection"]["indices"] = [0, 5_000] if "range" in variant else [0.0, 1.5]
        value = "'" + json.dumps(doc) + "'"
    _sqlite_file(ws.path, f"UPDATE selections SET manifest = {value} WHERE name = 'a'")
    assert sorted(ws.list()["name"]) == ["a", "b"]  # the list still shows every row
    with pytest.raises(ExplorerError) as caught:
        ws.manifest("a") if operation == "manifest" else ws.indices("a", digits)
    message = str(caught.value)
    assert expected in message and "'a'" in message and "delete it" in message
    assert "\n" not in message and not isinstance(caught.value, CorruptWorkspace)
    assert len(ws.indices("b", digits)) == 40  # the other rows are untouched
    ws.delete("a")
    assert ws.list()["name"].tolist() == ["b"]


# ------------------------------------------------------------------ two processes

def test_a_changed_digit_in_stored_indices_is_caught_not_returned(tmp_path, digits):
    """SQLite keeps no checksums: a stored index changed to another valid row (1528 -> 1028)
    must not come back as the selection; the ids saved beside the indices catch it."""
    ws = Workspace(tmp_path)
    sel = explorer.select(digits, "k-center", 5)
    ws.save("one", digits, sel)
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    raw = bytearray((tmp_path / DB_NAME).read_bytes())
    first = f"[{sel.indices[0]}, {sel.indices[1]}".encode()
    at = raw.find(first)
    assert at > 0 and sel.indices[0] >= 100
    raw[at + 2] = ord("0") if raw[at + 2] != ord("0") else ord("1")  # still a row number
    (tmp_path / DB_NAME).write_bytes(bytes(raw))
    with pytest.raises(ExplorerError, match="indices and ids that disagree"):
        Workspace(tmp_path).indices("one", digits)


# Each racer saves the names the test sends it; the test sends every name to both at once and
# waits for both answers, so the two processes try each name at the same moment.
RACER = textwrap.dedent("""
    import sys
    import explorer
    from explorer.data.workspace import Workspace
    data = explorer.load_sample("digits")
    sel = explorer.select(data, "random", 5, seed=int(sys.argv[2]))
    print("ready", flush=True)
    ws = None
    for line in sys.stdin:
        ws = ws or Workspace(sys.argv[1])  # the first name: both create the file at once
        name = line.strip()
        try:
            print(name, ws.save(name, data, sel), flush=True)
        except explorer.ExplorerError as exc:
            assert "already saved" in str(exc), exc
            print(name, "taken", flush=True)
""")


def test_two_processes_saving_the_same_names_never_both_succeed(tmp_path, digits):
    script = tmp_path / "racer.py"
    script.write_text(RACER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    racers = {seed: subprocess.Popen([sys.executable, str(script), str(tmp_path / "ws"),
                                      str(seed)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)
              for seed in (11, 22)}
    deadline = threading.Timer(120, lambda: [p.kill() for p in racers.values()])
    deadline.start()  # bounded: a hung racer is killed, and its empty answer fails the test
    try:
        for proc in racers.values():
            assert proc.stdout.readline().strip() == "ready"
        winners = {}
        for i in range(200):
            name = f"name-{i}"
            for proc in racers.values():
                proc.stdin.write(name + "\n")
                proc.stdin.flush()
            answers = {seed: proc.stdout.readline().split() for seed, proc in racers.items()}
            assert all(a[0] == name for a in answers.values()), answers
            won = [seed for seed, a in answers.items() if a[1] == "saved"]
            assert len(won) == 1, (name, answers)  # exactly one process saved each name
            winners[name] = won[0]
    finally:
        deadline.cancel()
        for proc in racers.values():
            proc.stdin.close()
            proc.wait(timeout=30)
    ws = Workspace(tmp_path / "ws")
    assert len(ws.list()) == 200
    for name, seed in winners.items():
        assert ws.manifest(name)["seed"] == seed  # what is stored is the reporter's
    print("names won per process:", {s: list(winners.values()).count(s) for s in racers})
