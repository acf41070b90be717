"""A local workspace of saved selections: one SQLite file in a folder of the user's choosing
(default ``~/.subset-explorer``). Saving never overwrites a saved selection silently."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ExplorerError
from .export import manifest_dict

DB_NAME = "workspace.sqlite"


def default_folder() -> Path:
    return Path(os.environ.get("SUBSET_EXPLORER_HOME") or Path.home() / ".subset-explorer")


class Workspace:
    """Saved selections by name. Each entry keeps the full manifest (so it can be replayed)."""

    def __init__(self, folder=None):
        self.folder = Path(folder).expanduser() if folder else default_folder()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExplorerError(f"{self.folder}: cannot create the workspace folder ({exc}).") \
                from None
        self.path = self.folder / DB_NAME
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS selections (name TEXT PRIMARY KEY, "
                       "saved TEXT, strategy TEXT, budget INTEGER, rows INTEGER, "
                       "dataset TEXT, fingerprint TEXT, manifest TEXT)")

    def _connect(self):
        return sqlite3.connect(self.path, timeout=10)

    def save(self, name: str, data, selection, scorecard=None, *, replace: bool = False) -> None:
        name = (name or "").strip()
        if not name:
            raise ExplorerError("Give the selection a name to save it under.")
        doc = manifest_dict(data, selection, scorecard)
        with self._connect() as db:
            exists = db.execute("SELECT 1 FROM selections WHERE name = ?", (name,)).fetchone()
            if exists and not replace:
                raise ExplorerError(f"A selection named {name!r} is already saved in "
                                    f"{self.path}; choose another name or replace it "
                                    "explicitly.")
            db.execute("INSERT OR REPLACE INTO selections VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (name, datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        selection.strategy, int(selection.budget), len(selection),
                        data.name, data.fingerprint, json.dumps(doc)))

    def list(self) -> pd.DataFrame:
        with self._connect() as db:
            return pd.read_sql_query("SELECT name, saved, strategy, budget, rows, dataset, "
                                     "fingerprint FROM selections ORDER BY saved DESC, name", db)

    def manifest(self, name: str) -> dict:
        with self._connect() as db:
            row = db.execute("SELECT manifest FROM selections WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise ExplorerError(f"No saved selection named {name!r} in {self.path}.")
        return json.loads(row[0])

    def indices(self, name: str, data) -> np.ndarray:
        doc = self.manifest(name)
        if doc["dataset"]["fingerprint"] != data.fingerprint:
            raise ExplorerError(f"{name!r} was saved on other data ({doc['dataset']['path']}); "
                                "load that dataset to use it.")
        return np.asarray(doc["selection"]["indices"], dtype=np.int64)

    def delete(self, name: str) -> None:
        with self._connect() as db:
            cur = db.execute("DELETE FROM selections WHERE name = ?", (name,))
            if cur.rowcount == 0:
                raise ExplorerError(f"No saved selection named {name!r} to delete.")
