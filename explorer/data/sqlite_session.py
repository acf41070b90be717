"""The one way the project's small SQLite files (the workspace, the confirmation ledger) are
opened: autocommit connections that wait a while for another process's lock, and write
transactions that take the write lock at their start."""

from __future__ import annotations

import contextlib
import sqlite3

#: How long a connection waits for another process's lock before it gives up.
BUSY_SECONDS = 10


@contextlib.contextmanager
def session(path, *, write: bool, error, prepare=None):
    """A connection to the SQLite file ``path``. With ``write``, one transaction that holds
    the write lock from its start (``BEGIN IMMEDIATE``), begun with ``prepare(db)`` when
    given (creating the schema), committed at the end or rolled back on any error.
    ``error(exc)`` turns an ``sqlite3.Error`` into the exception raised instead."""
    try:
        db = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None)
    except sqlite3.Error as exc:
        raise error(exc) from None
    try:
        if write:
            db.execute("BEGIN IMMEDIATE")
            if prepare is not None:
                prepare(db)
        yield db
        if write:
            db.execute("COMMIT")
    except BaseException as exc:
        if db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise error(exc) from None
        raise
    finally:
        db.close()
