"""A local workspace of saved selections: one SQLite file in a folder of the user's choosing
(default ``~/.subset-explorer``). Saving never replaces a saved selection unless asked to.

The file is in WAL journal mode (readers never wait for a writer) and carries its schema
version in ``PRAGMA user_version``; an older file is migrated when it is opened. A file that
cannot be used (not SQLite, damaged, a folder, unreadable, someone else's tables) raises
:class:`CorruptWorkspace`, whose message names the file and says what to do;
:func:`move_aside` keeps such a file under another name so that a new workspace can start.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sqlite3
import stat
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ExplorerError
from .export import manifest_dict, strict_json
from .manifest import validate_manifest
from .paths import _kind
from .sqlite_session import BUSY_SECONDS, session

DB_NAME = "workspace.sqlite"
#: The version this code writes. 0 is the unversioned table of the first release (same
#: columns, rollback journal); 1 adds WAL mode and the index behind :meth:`Workspace.list`.
SCHEMA_VERSION = 1
COLUMNS = ("name", "saved", "strategy", "budget", "rows", "dataset", "fingerprint", "manifest")
#: How long an operation waits for another process's write before saying the file is busy.
SQLITE_MAGIC = b"SQLite format 3\x00"
NAME_LIMIT = 200


def _sharded(data) -> bool:
    from .shards import ShardedDataset

    return isinstance(data, ShardedDataset)


def _fingerprint(data, engine=None) -> str:
    """``data``'s fingerprint; a sharded dataset's is read on ``engine`` when unknown."""
    if not _sharded(data):
        return data.fingerprint
    from ..engine.drivers import dataset_fingerprint

    return dataset_fingerprint(data, engine)


def _ids(data, rows: np.ndarray, engine=None) -> list:
    """The ids of ``data``'s rows ``rows``; a sharded dataset's read from its shards."""
    if not _sharded(data):
        return data.ids[rows].tolist()
    from ..engine.drivers import row_ids

    return np.asarray(row_ids(data, rows, engine)).tolist()


class WorkspaceBusy(ExplorerError):
    """Another process held the workspace file longer than :data:`BUSY_SECONDS`."""


def default_folder() -> Path:
    return Path(os.environ.get("SUBSET_EXPLORER_HOME") or Path.home() / ".subset-explorer")


class CorruptWorkspace(ExplorerError):
    """The workspace file cannot be used as it is. ``path`` names it; :func:`move_aside` keeps
    it under another name, after which a new workspace starts."""

    def __init__(self, path, why: str):
        self.path = Path(path)
        super().__init__(f"{path}: {why}. Move it aside to start a new workspace (the Export "
                         "page's button, or explorer.data.workspace.move_aside): it is kept "
                         f"as {self.path.name}.corrupt-<UTC time>, nothing is deleted.")


def move_aside(path) -> Path:
    """Rename the workspace file ``path`` (and its ``-wal`` / ``-shm`` companions) to
    ``<name>.corrupt-<UTC time>`` beside it; returns the new name. Nothing is deleted.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / DB_NAME).write_bytes(b"not a database")
    >>> kept = move_aside(folder / DB_NAME)
    >>> kept.name.startswith("workspace.sqlite.corrupt-"), (folder / DB_NAME).exists()
    (True, False)
    """
    path = Path(path)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    kept = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while os.path.lexists(kept) or os.path.lexists(f"{kept}-wal"):
        n += 1
        kept = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    try:
        os.rename(path, kept)
        for side in ("-wal", "-shm"):  # SQLite finds them by name: they move with the file
            if os.path.lexists(f"{path}{side}"):
                os.rename(f"{path}{side}", f"{kept}{side}")
    except OSError as exc:
        raise ExplorerError(f"{path}: could not be moved aside ({exc.strerror}); rename it "
                            "yourself, or choose another workspace folder.") from None
    return kept


class Workspace:
    """Saved selections by name. Each entry keeps the full manifest (so it can be replayed).

    >>> import tempfile, explorer
    >>> data = explorer.load_sample("digits")
    >>> ws = Workspace(tempfile.mkdtemp())
    >>> ws.save("first", data, explorer.select(data, "random", 5, seed=1))
    'saved'
    >>> ws.save("first", data, explorer.select(data, "random", 5, seed=2))
    Traceback (most recent call last):
    ...
    explorer.errors.ExplorerError: A selection named 'first' is already saved in ...
    >>> ws.list()["name"].tolist(), len(ws.indices("first", data))
    (['first'], 5)
    """

    def __init__(self, folder=None):
        self.folder = Path(folder).expanduser() if folder else default_folder()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExplorerError(f"{self.folder}: cannot create the workspace folder "
                                f"({exc.strerror or exc}).") from None
        self.path = self.folder / DB_NAME
        self._open()

    # ------------------------------------------------------------------ opening the file

    def _check_file(self) -> None:
        """Refuse what SQLite must not open: a folder, FIFO or device (a FIFO would block), an
        unreadable file, or a file that is not SQLite. No file, or an empty one, is new."""
        try:
            os.lstat(self.path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise CorruptWorkspace(self.path, f"cannot be read ({exc.strerror})") from None
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            raise CorruptWorkspace(self.path, "is a link to a file that does not exist") \
                from None
        except OSError as exc:
            raise CorruptWorkspace(self.path, f"cannot be read ({exc.strerror})") from None
        if not stat.S_ISREG(mode):
            raise CorruptWorkspace(self.path, f"is {_kind(mode)}, not a workspace file")
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(len(SQLITE_MAGIC))
        except OSError as exc:
            raise CorruptWorkspace(self.path, f"cannot be read ({exc.strerror})") from None
        if head and head != SQLITE_MAGIC:
            raise CorruptWorkspace(self.path, "is not an SQLite file (it does not start with "
                                   "SQLite's header)")

    def _error(self, exc: sqlite3.Error) -> ExplorerError:
        text = str(exc)
        if isinstance(exc, sqlite3.OperationalError):
            if "locked" in text or "busy" in text:
                return WorkspaceBusy(f"{self.path}: busy: another process kept it locked for "
                                     f"{BUSY_SECONDS} s; try again.")
            if "unable to open" in text or "readonly" in text or "read-only" in text:
                return ExplorerError(f"{self.path}: cannot be opened for writing ({text}); "
                                     f"check that {self.folder} is writable, or choose another "
                                     "folder.")
        return CorruptWorkspace(self.path, f"is damaged or not a workspace (SQLite: {text})")

    @contextlib.contextmanager
    def _session(self, write: bool = False):
        """A connection; with ``write``, one transaction that holds the write lock from its
        start (``BEGIN IMMEDIATE``), committed at the end or rolled back on any error."""
        self._check_file()
        with session(self.path, write=write, error=self._error) as db:
            yield db

    def _open(self) -> None:
        """:meth:`_open_once`, tried again while another process holds the file. SQLite answers
        'locked' at once, without waiting, when two processes switch a new file to WAL at the
        same moment (each holds a read lock the other's switch needs), so the wait is ours."""
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            try:
                return self._open_once()
            except WorkspaceBusy:
                if time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.01, 0.1))

    def _open_once(self) -> None:
        """WAL mode; create the table, or check it and migrate it to :data:`SCHEMA_VERSION`."""
        with self._session() as db:
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")  # kept in the file
            if self._version(db) == SCHEMA_VERSION:
                self._check_columns(db)
                return
        with self._session(write=True) as db:  # migrations hold the write lock
            version = self._version(db)
            if version == 0:
                tables = [r[0] for r in db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")]
                if "selections" not in tables and tables:
                    raise CorruptWorkspace(self.path, "holds other tables "
                                           f"({', '.join(map(str, tables[:5]))}) and no saved "
                                           "selections: it is not a Subset Explorer workspace")
                db.execute("CREATE TABLE IF NOT EXISTS selections (name TEXT PRIMARY KEY, "
                           "saved TEXT, strategy TEXT, budget INTEGER, rows INTEGER, "
                           "dataset TEXT, fingerprint TEXT, manifest TEXT)")
                self._check_columns(db)
                db.execute("CREATE INDEX IF NOT EXISTS selections_by_time "
                           "ON selections (saved DESC, name)")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _version(self, db) -> int:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ExplorerError(f"{self.path}: was written by a newer Subset Explorer (workspace "
                                f"version {version}; this one reads up to {SCHEMA_VERSION}). "
                                "Upgrade, or choose another workspace folder.")
        return version

    def _check_columns(self, db) -> None:
        found = tuple(r[1] for r in db.execute("PRAGMA table_info(selections)"))
        if found != COLUMNS:
            raise CorruptWorkspace(self.path, f"its selections table has the columns "
                                   f"({', '.join(map(str, found)) or 'none'}), not "
                                   f"({', '.join(COLUMNS)})")

    # ------------------------------------------------------------------ entries

    def save(self, name: str, data, selection, scorecard=None, *, replace: bool = False,
             engine=None) -> str:
        """Save ``selection`` under ``name``: ``'saved'``, or ``'replaced'`` when ``replace``
        and the name was taken. One transaction: a plain INSERT, so of two processes saving
        one name at once exactly one succeeds, and the other is told it is taken (or, with
        ``replace``, updates that row explicitly). On a sharded dataset ``selection`` is a run
        on its shards (``explorer.select(shards, ..., engine=)``); when no run has read every
        shard of ``data`` yet, its fingerprint is read first on ``engine``."""
        name = (name or "").strip()
        if not name:
            raise ExplorerError("Give the selection a name to save it under.")
        if len(name) > NAME_LIMIT or not name.isprintable():
            raise ExplorerError(f"{name[:40]!r}...: a saved selection's name is printable text "
                                f"of at most {NAME_LIMIT} characters; choose another name.")
        fingerprint = _fingerprint(data, engine)
        if selection.fingerprint and selection.fingerprint != fingerprint:
            raise ExplorerError(f"This {selection.strategy} selection was made on other data "
                                f"than {data.name}; save it with the dataset it was made on.")
        doc = manifest_dict(data, selection, scorecard)
        values = (datetime.now(timezone.utc).isoformat(timespec="seconds"), selection.strategy,
                  int(selection.budget), len(selection), data.name, data.fingerprint,
                  json.dumps(doc))
        with self._session(write=True) as db:
            try:
                db.execute(f"INSERT INTO selections ({', '.join(COLUMNS)}) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (name, *values))
                return "saved"
            except sqlite3.IntegrityError:
                if not replace:
                    raise ExplorerError(f"A selection named {name!r} is already saved in "
                                        f"{self.path}; choose another name or replace it "
                                        "explicitly.") from None
            db.execute(f"UPDATE selections SET {', '.join(c + ' = ?' for c in COLUMNS[1:])} "
                       "WHERE name = ?", (*values, name))
            return "replaced"

    def list(self) -> pd.DataFrame:
        """name, saved, strategy, budget, rows, dataset, fingerprint; newest first."""
        shown = COLUMNS[:-1]
        with self._session() as db:
            rows = db.execute(f"SELECT {', '.join(shown)} FROM selections "
                              "ORDER BY saved DESC, name").fetchall()
        return pd.DataFrame(rows, columns=list(shown))

    def _bad_entry(self, name, why: str) -> ExplorerError:
        return ExplorerError(f"{self.path}: the saved selection {name!r} {why}; delete it (the "
                             "Export page's Delete button, or Workspace.delete) and save it "
                             "again.")

    def manifest(self, name: str) -> dict:
        """The saved manifest of ``name`` (a JSON object)."""
        with self._session() as db:
            row = db.execute("SELECT manifest FROM selections WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise ExplorerError(f"No saved selection named {name!r} in {self.path}.")
        if not isinstance(row[0], (str, bytes)):
            raise self._bad_entry(name, "has no manifest")
        try:
            doc = strict_json(row[0])
        except (ValueError, RecursionError) as exc:
            raise self._bad_entry(name, f"has a manifest that is not JSON "
                                  f"({type(exc).__name__}: {str(exc)[:80]})") from None
        if not isinstance(doc, dict):
            raise self._bad_entry(name, "has a manifest that is not a JSON object")
        try:
            return validate_manifest(doc, f"saved selection {name!r}")
        except ExplorerError as exc:
            raise self._bad_entry(name, f"has a manifest that fails its check ({exc})") from None

    def indices(self, name: str, data, engine=None) -> np.ndarray:
        """The saved selection's row indices into ``data`` (which must be the data it was
        saved on), checked against it: its fingerprint, the indices in range, and the ids
        saved beside them equal to the rows' ids. On a sharded dataset the ids are read on
        ``engine`` from the shards that hold the saved rows only, and a fingerprint no run has
        read yet is read first (every shard once, one at a time)."""
        return self._checked_rows(name, self.manifest(name), data, engine)

    def _checked_rows(self, name: str, doc: dict, data, engine=None) -> np.ndarray:
        """:meth:`indices` of the entry ``name`` whose checked manifest is ``doc``."""
        dataset, chosen = doc.get("dataset"), doc.get("selection")
        if not isinstance(dataset, dict) or not isinstance(chosen, dict):
            raise self._bad_entry(name, "has a manifest without its dataset or selection")
        other = ExplorerError(f"{name!r} was saved on other data ({dataset.get('path')}); "
                              "load that dataset to use it.")
        if dataset.get("shape") != [data.n, data.dim]:  # said before a fingerprint is read
            raise other
        if dataset.get("fingerprint") != _fingerprint(data, engine):
            raise other
        raw = chosen.get("indices")
        if not isinstance(raw, list) or not all(type(v) is int and 0 <= v < data.n
                                                for v in raw):
            raise self._bad_entry(name, f"has selection indices that are not row numbers of "
                                  f"its {data.n:,}-row dataset")
        rows = np.asarray(raw, dtype=np.int64)
        recorded = chosen.get("ids")
        if not isinstance(recorded, list) or len(recorded) != len(rows) or \
                [str(v) for v in recorded] != [str(v) for v in _ids(data, rows, engine)]:
            # SQLite keeps no checksums: a changed byte in the stored indices shows here
            raise self._bad_entry(name, "has selection indices and ids that disagree (the "
                                  "file was changed outside Subset Explorer)")
        return rows

    def saved_run(self, name: str, data, engine=None):
        """The saved engine run ``name`` as a :class:`~explorer.selection.Selection` on
        ``data``, without running its strategy again: the saved indices, checked as
        :meth:`indices` checks them, with the strategy, parameters, seed, metric, budget,
        columns, excluded rows, engine record and info its manifest holds (per-pick gains
        are not saved). For runs made on an engine (a sharded dataset's); a selection of one
        file replays (:func:`explorer.replay`)."""
        from ..selection import Selection

        doc = self.manifest(name)
        if not doc.get("engine"):
            raise ExplorerError(f"{name!r} was not made on an engine; replay it "
                                "(explorer.replay) to get its selection.")
        rows = self._checked_rows(name, doc, data, engine)
        if doc.get("steps") or doc.get("where") or doc.get("target") or doc.get("cost") or \
                (doc.get("pinned") or {}).get("indices"):
            raise self._bad_entry(name, "records pipeline steps, a filter, a target, a cost or "
                                  "pins, which no run on an engine makes")
        return Selection(indices=rows, strategy=doc["strategy"], params=dict(doc["params"]),
                         seed=doc["seed"], metric=doc["metric"],
                         budget=doc["budget"] if type(doc["budget"]) is int else len(rows),
                         columns=dict(doc.get("columns") or {}),
                         excluded=tuple((doc.get("excluded") or {}).get("indices") or ()),
                         info=dict(doc.get("info") or {}), fingerprint=data.fingerprint,
                         seconds=float(doc.get("seconds") or 0.0), engine=dict(doc["engine"]),
                         row_ids=np.asarray(doc["selection"]["ids"]))

    def delete(self, name: str) -> None:
        with self._session(write=True) as db:
            if db.execute("DELETE FROM selections WHERE name = ?", (name,)).rowcount == 0:
                raise ExplorerError(f"No saved selection named {name!r} in {self.path} to "
                                    "delete.")
