"""Loading datasets for the app: cached once per file and options, errors shown, not raised."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import streamlit as st

import explorer
from explorer.data.samples import DESCRIPTIONS, SAMPLES

UPLOAD_DIR = Path(tempfile.gettempdir()) / "subset-explorer-uploads"


@st.cache_resource(show_spinner="Loading the dataset ...", max_entries=4)
def load_cached(kind: str, path: str, meta: str | None, id_column: str | None,
                embedding_column: str | None, drop_invalid: bool, mtime: float):
    """One Dataset per file + options (+ modification time); shared, never copied."""
    if kind == "sample":
        return explorer.load_sample(path)
    return explorer.load(path, meta=meta or None, id_column=id_column or None,
                         embedding_column=embedding_column or None, drop_invalid=drop_invalid)


def key_for_sample(name: str) -> tuple:
    return ("sample", name, None, None, None, False, 0.0)


def key_for_path(path: str, meta: str | None, id_column: str | None,
                 embedding_column: str | None, drop_invalid: bool) -> tuple:
    p = Path(path).expanduser()
    mtime = p.stat().st_mtime if p.exists() else 0.0
    return ("path", str(p), meta, id_column, embedding_column, drop_invalid, mtime)


def save_upload(uploaded) -> Path:
    """Keep an uploaded file on disk (so it can be memory-mapped) under its own name, in a
    folder named by its content hash: messages and the dataset's name show the name the user
    gave, and two different files of one name do not meet."""
    data = uploaded.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:16]
    name = Path(uploaded.name).name
    folder = UPLOAD_DIR / digest
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{Path(name).stem}{Path(name).suffix.lower()}"
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    return target


def try_load(key: tuple):
    """(Dataset, None) or (None, message): bad input never becomes a traceback."""
    try:
        return load_cached(*key), None
    except explorer.ExplorerError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - shown to the user, not swallowed silently
        return None, f"Could not load this file: {type(exc).__name__}: {exc}"


__all__ = ["DESCRIPTIONS", "SAMPLES", "key_for_path", "key_for_sample", "load_cached",
           "save_upload", "try_load"]
