"""The confirmation ledger: each dataset's locked confirmation split, what was explored on it
since, and the confirmations made on it.

One SQLite file, ``ledger.sqlite``, in the workspace folder (``$SUBSET_EXPLORER_HOME``,
default ``~/.subset-explorer``), shared by the library, the command line and the app, keyed
by the dataset's fingerprint (embeddings + ids). Three tables:

* ``locks`` — one per dataset: the locked rows (seeded, recorded with the seed, fraction and
  label column), never replaced;
* ``explorations`` — one row per strategy x budget tried on a locked dataset: every
  :func:`explorer.select` on it (the app's Explore page, ``explorer select``) and every
  strategy x budget of a comparison (:func:`~explorer.evaluate.sweep.probe_sweep`: the
  Compare page, ``explorer compare``). Nothing is logged for a dataset without a lock;
* ``confirmations`` — each use of the split by ``explorer confirm`` (the second is refused
  unless asked for, and then flagged).

:func:`locked_rows` is what every exploration entry point asks; with no ledger file it costs
one ``stat``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ExplorerError
from .sqlite_session import BUSY_SECONDS, session

LEDGER_NAME = "ledger.sqlite"
SCHEMA_VERSION = 1
_TABLES = (
    "CREATE TABLE IF NOT EXISTS locks (fingerprint TEXT PRIMARY KEY, dataset TEXT, "
    "created TEXT, seed INTEGER, fraction REAL, label_column TEXT, n INTEGER, digest TEXT, "
    "rows TEXT)",
    "CREATE TABLE IF NOT EXISTS explorations (id INTEGER PRIMARY KEY, fingerprint TEXT, "
    "at TEXT, entry TEXT, strategy TEXT, budget INTEGER)",
    "CREATE INDEX IF NOT EXISTS explorations_by_data ON explorations (fingerprint)",
    "CREATE TABLE IF NOT EXISTS confirmations (id INTEGER PRIMARY KEY, fingerprint TEXT, "
    "at TEXT, strategy TEXT, budget INTEGER, record TEXT)",
)


def _create_tables(db) -> None:
    """Create the ledger's tables in a new file (inside the first write transaction)."""
    if db.execute("PRAGMA user_version").fetchone()[0] == 0:
        for statement in _TABLES:
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def ledger_folder() -> Path:
    """The workspace folder, read at each call (``$SUBSET_EXPLORER_HOME`` or
    ``~/.subset-explorer``)."""
    from .workspace import default_folder

    return default_folder()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def rows_digest(rows) -> str:
    """A 16-digit hash of a set of row indices (order ignored), recorded with a lock.

    >>> rows_digest([3, 1, 2]) == rows_digest([1, 2, 3])
    True
    """
    arr = np.sort(np.asarray(rows, dtype=np.int64))
    return hashlib.blake2b(arr.tobytes(), digest_size=8).hexdigest()


def already_locked(dataset: str, lock: dict, path) -> str:
    """The one-line refusal of a second lock."""
    return (f"{dataset}: a confirmation split was locked on {lock['created']} ({lock['n']} "
            f"rows, seed {lock['seed']}) and is kept for good (a split that exploration may "
            f"have seen confirms nothing); its record is in {path}.")


class Ledger:
    """The ledger file in ``folder`` (default: the workspace folder).

    >>> import tempfile
    >>> ledger = Ledger(tempfile.mkdtemp())
    >>> ledger.lock("f" * 32, "digits", [4, 9], seed=7, fraction=0.2)["n"]
    2
    >>> ledger.locked("f" * 32)["rows"].tolist(), ledger.locked("0" * 32)
    ([4, 9], None)
    """

    def __init__(self, folder=None):
        self.folder = Path(folder).expanduser() if folder else ledger_folder()
        self.path = self.folder / LEDGER_NAME

    def _error(self, exc: sqlite3.Error) -> ExplorerError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return ExplorerError(f"{self.path}: busy: another process kept it locked for "
                                 f"{BUSY_SECONDS} s; try again.")
        return ExplorerError(f"{self.path}: the confirmation ledger cannot be used (SQLite: "
                             f"{text}). Move it aside (explorer.data.workspace.move_aside) only "
                             "if you accept losing the record of locked splits.")

    @contextlib.contextmanager
    def _session(self, write: bool = False):
        if write:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ExplorerError(f"{self.folder}: cannot create the workspace folder "
                                    f"({exc.strerror or exc}).") from None
        from .paths import _kind

        if os.path.lexists(self.path) and not self.path.is_file():
            raise ExplorerError(f"{self.path}: is {_kind(os.stat(self.path).st_mode)}, not the "
                                "confirmation ledger; move it away.")
        with session(self.path, write=write, error=self._error, prepare=_create_tables) as db:
            yield db

    def _ready(self) -> bool:
        return self.path.exists()

    # ----------------------------------------------------------------- locks

    def lock(self, fingerprint: str, dataset: str, rows, *, seed: int, fraction: float,
             label_column: str | None = None) -> dict:
        """Record ``rows`` as the dataset's locked split; refused when it has one."""
        rows = np.sort(np.asarray(rows, dtype=np.int64))
        record = {"fingerprint": fingerprint, "dataset": dataset, "created": now(),
                  "seed": int(seed), "fraction": float(fraction),
                  "label_column": label_column, "n": int(len(rows)),
                  "digest": rows_digest(rows)}
        with self._session(write=True) as db:
            had = db.execute("SELECT created, n, seed FROM locks WHERE fingerprint = ?",
                             (fingerprint,)).fetchone()
            if had is not None:
                raise ExplorerError(already_locked(
                    dataset, dict(zip(("created", "n", "seed"), had)), self.path))
            db.execute("INSERT INTO locks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (*record.values(), json.dumps(rows.tolist())))
        return dict(record, rows=rows)

    def locked(self, fingerprint: str) -> dict | None:
        """The dataset's lock (with ``rows`` as an int64 array), or None."""
        if not self._ready():
            return None
        with self._session() as db:
            if db.execute("PRAGMA user_version").fetchone()[0] == 0:
                return None
            row = db.execute("SELECT fingerprint, dataset, created, seed, fraction, "
                             "label_column, n, digest, rows FROM locks WHERE fingerprint = ?",
                             (fingerprint,)).fetchone()
        if row is None:
            return None
        keys = ("fingerprint", "dataset", "created", "seed", "fraction", "label_column", "n",
                "digest")
        out = dict(zip(keys, row[:-1]))
        rows = np.asarray(json.loads(row[-1]), dtype=np.int64)
        if len(rows) != out["n"] or rows_digest(rows) != out["digest"]:
            raise ExplorerError(f"{self.path}: the locked rows of {out['dataset']} do not match "
                                "their recorded digest; the ledger was edited or damaged.")
        out["rows"] = rows
        return out

    # ----------------------------------------------------------------- explorations

    def record(self, fingerprint: str, entry: str, runs) -> None:
        """Log ``runs`` ((strategy, budget) pairs) tried through ``entry``."""
        at = now()
        with self._session(write=True) as db:
            db.executemany("INSERT INTO explorations (fingerprint, at, entry, strategy, budget) "
                           "VALUES (?, ?, ?, ?, ?)",
                           [(fingerprint, at, entry, str(s), int(b)) for s, b in runs])

    def explorations(self, fingerprint: str) -> pd.DataFrame:
        """at, entry, strategy, budget of every logged run on the dataset, oldest first."""
        columns = ["at", "entry", "strategy", "budget"]
        if not self._ready():
            return pd.DataFrame(columns=columns)
        with self._session() as db:
            rows = db.execute("SELECT at, entry, strategy, budget FROM explorations WHERE "
                              "fingerprint = ? ORDER BY id", (fingerprint,)).fetchall()
        return pd.DataFrame(rows, columns=columns)

    # ----------------------------------------------------------------- confirmations

    def confirmations(self, fingerprint: str) -> list[dict]:
        """Every confirmation recorded on the dataset's split, oldest first."""
        if not self._ready():
            return []
        with self._session() as db:
            rows = db.execute("SELECT record FROM confirmations WHERE fingerprint = ? ORDER BY "
                              "id", (fingerprint,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def add_confirmation(self, fingerprint: str, record: dict, *, again: bool) -> int:
        """Record a confirmation; returns its attempt number (1 for the first). A second one
        is refused unless ``again`` (checked inside the write transaction, so two processes
        cannot both make the first)."""
        with self._session(write=True) as db:
            done = db.execute("SELECT at, strategy, budget FROM confirmations WHERE "
                              "fingerprint = ? ORDER BY id", (fingerprint,)).fetchall()
            if done and not again:
                at, strategy, budget = done[0]
                raise ExplorerError(f"The confirmation split of this dataset was already used "
                                    f"on {at} ({strategy}, {budget} rows): a second look is no "
                                    "longer a confirmation. Pass --again (again=True) to run "
                                    "it anyway; the result is then flagged.")
            attempt = len(done) + 1
            record = dict(record, attempt=attempt, flagged=attempt > 1)
            db.execute("INSERT INTO confirmations (fingerprint, at, strategy, budget, record) "
                       "VALUES (?, ?, ?, ?, ?)", (fingerprint, record["confirmed_at"],
                                                  record.get("strategy", ""),
                                                  int(record.get("budget", 0)),
                                                  json.dumps(record)))
        return attempt


def locked_rows(data, folder=None) -> np.ndarray:
    """The rows of ``data`` in its locked confirmation split (sorted), or an empty array
    (the ledger in ``folder``, default the workspace folder).

    >>> import tempfile, explorer
    >>> locked_rows(explorer.load_sample("digits"), tempfile.mkdtemp()).size  # a new folder
    0
    """
    ledger = Ledger(folder)
    if not ledger._ready():
        return np.zeros(0, dtype=np.int64)
    found = ledger.locked(data.fingerprint)
    if found is None:
        return np.zeros(0, dtype=np.int64)
    if found["rows"].size and found["rows"].max() >= data.n:
        raise ExplorerError(f"{ledger.path}: the locked rows do not fit {data.name}'s {data.n} "
                            "rows; the ledger was edited or damaged.")
    return found["rows"]


def note_exploration(data, entry: str, runs) -> None:
    """Log that ``runs`` ((strategy, budget) pairs) were tried on ``data`` through ``entry``
    ('select', 'compare', ...), when ``data`` has a locked split; else nothing."""
    ledger = Ledger()
    if ledger._ready() and ledger.locked(data.fingerprint) is not None:
        ledger.record(data.fingerprint, entry, runs)
