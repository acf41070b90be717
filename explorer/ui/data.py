"""Loading datasets for the app: cached once per file and options, errors shown, not raised.

What a visitor gives the app is kept inside limits: a path on disk must lie below the allowed
folders (:func:`explorer.data.paths.inside_roots`) and name a regular file; an upload is kept
in a private folder of its session, under a cleaned name, and removed when the session ends.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import time
import unicodedata
from pathlib import Path

import streamlit as st

import explorer
from explorer.data.paths import inside_roots, regular_file
from explorer.data.samples import DESCRIPTIONS, SAMPLES

#: Longest stored upload name, in characters (suffix included) and in UTF-8 bytes (a file
#: system allows 255 bytes per name).
MAX_NAME_CHARS = 100
MAX_NAME_BYTES = 200

#: An upload folder of a session that is no longer in the server is removed after this many
#: seconds (Streamlit keeps a disconnected session for 120 s, so it can come back); any upload
#: folder not used for UPLOAD_MAX_AGE is removed even if its session still exists (the next
#: run of that session writes its files again).
UPLOAD_GRACE = 180.0
UPLOAD_MAX_AGE = 24 * 3600.0
_SWEEP_EVERY = 60.0
_last_sweep = [0.0]


@st.cache_resource(show_spinner="Loading the dataset ...", max_entries=4)
def load_cached(kind: str, path: str, meta: str | None, id_column: str | None,
                embedding_column: str | None, drop_invalid: bool, version,
                scores: tuple | None = None):
    """One Dataset per file + options (+ modification time or content digest); shared, never
    copied. With ``scores`` (see :func:`with_score_settings`), the same dataset with the
    per-row scores as metadata columns, so the filter builder, the map and the strategies
    see them as columns."""
    if scores is not None:
        from explorer.row_scores import with_scores

        base = (kind, path, meta, id_column, embedding_column, drop_invalid, version)
        found = cached_row_scores(base, scores)
        return with_scores(load_cached(*base), found, columns=DATASET_SCORE_COLUMNS)
    if kind == "sample":
        return explorer.load_sample(path)
    return explorer.load(path, meta=meta or None, id_column=id_column or None,
                         embedding_column=embedding_column or None, drop_invalid=drop_invalid)


#: The per-row scores kept as the app's dataset columns (the distance to the selected rows
#: changes with every selection: the Explore page measures it for the selection on screen).
DATASET_SCORE_COLUMNS = ("uniqueness", "typicality", "duplicate_group",
                         "duplicate_similarity", "cluster")


@st.cache_resource(show_spinner="Computing the per-row scores (neighbours, near-duplicates, "
                   "clusters) ...", max_entries=4)
def cached_row_scores(base_key: tuple, settings: tuple):
    """:func:`explorer.row_scores.row_scores` of the dataset ``base_key`` with ``settings``
    (metric, k, n_clusters, duplicate threshold), computed once per dataset and settings."""
    from explorer.row_scores import row_scores

    metric, k, n_clusters, threshold = settings
    data = load_cached(*base_key)
    return row_scores(data, k=min(int(k), data.n - 1), metric=metric,
                      n_clusters=min(int(n_clusters), data.n),
                      duplicate_threshold=float(threshold))


def base_key(key):
    """The dataset's own key, without the per-row score settings (or None)."""
    return None if key is None else tuple(key[:7])


def score_settings(key):
    """The per-row score settings a data key carries, or None."""
    return key[7] if key is not None and len(key) > 7 else None


def with_score_settings(key, settings) -> tuple:
    """``key`` asking for the per-row scores with ``settings`` (None: without them)."""
    return base_key(key) + ((settings,) if settings is not None else ())


def key_for_sample(name: str) -> tuple:
    return ("sample", name, None, None, None, False, 0.0)


def checked_path(text: str, what: str) -> Path:
    """The file a visitor typed, resolved, when it lies below the allowed folders and is a
    regular file; else an ExplorerError that says why (a FIFO or a device is refused before
    it is opened, so it cannot hang the session).

    >>> checked_path("data\\x00.npy", "Path on disk")
    Traceback (most recent call last):
    ...
    explorer.errors.ExplorerError: 'data\\x00.npy' (Path on disk): contains a control character; type the path again.
    """
    text = text.strip()
    if _has_control(text):
        raise explorer.ExplorerError(f"{text!r} ({what}): contains a control character; type "
                                     "the path again.")
    return regular_file(_inside(text, what), what)


def _inside(text: str, what: str) -> Path:
    try:
        return inside_roots(text, what)
    except (RuntimeError, OSError, ValueError) as exc:  # e.g. '~nobody/x': no such home
        raise explorer.ExplorerError(f"{text!r} ({what}): cannot be resolved ({exc}); give "
                                     "the full path.") from None


def checked_folder(text: str, what: str) -> Path:
    """A folder a visitor typed, resolved, when it lies below the allowed folders (it may not
    exist yet); else an ExplorerError that says why."""
    text = text.strip()
    if not text or _has_control(text):
        raise explorer.ExplorerError(f"{text!r} ({what}): give a folder name without control "
                                     "characters.")
    return _inside(text, what)


def key_for_path(path: str, meta: str | None, id_column: str | None,
                 embedding_column: str | None, drop_invalid: bool) -> tuple:
    """The cache key of a file typed in 'Path on disk' (checked: see :func:`checked_path`)."""
    p = checked_path(path, "Path on disk")
    m = str(checked_path(meta, "Metadata file")) if meta else None
    return ("path", str(p), m, id_column, embedding_column, drop_invalid, p.stat().st_mtime)


def key_for_app_output(path, id_column: str | None) -> tuple:
    """The cache key of a file the app wrote itself (an embedding in the cache folder): not a
    path a visitor typed, so it is not held to the allowed folders."""
    p = regular_file(path, "embedded output")
    return ("path", str(p), None, id_column, None, False, p.stat().st_mtime)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in text)


def safe_name(name: str) -> str:
    """A file name for an upload: the last path part, without control characters or leading
    dots, at most MAX_NAME_CHARS characters and MAX_NAME_BYTES bytes, its suffix kept.

    >>> safe_name("../../etc/passwd.csv")
    'passwd.csv'
    >>> safe_name("..\\\\evil\\x00name.npy")
    'evilname.npy'
    >>> safe_name(".hidden.parquet")
    'hidden.parquet'
    >>> n = safe_name("a" * 300 + ".NPY"); len(n), n[-4:]
    (100, '.npy')
    >>> safe_name("\\x00"), safe_name("..")
    ('upload', 'upload')
    """
    name = unicodedata.normalize("NFC", str(name))
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if not _has_control(ch))
    name = name.strip().lstrip(". ")
    stem, dot, suffix = name.rpartition(".")
    if not dot or not re.fullmatch(r"[A-Za-z0-9]{1,10}", suffix):
        stem, suffix = name, ""
    suffix = f".{suffix.lower()}" if suffix else ""
    stem = stem[:MAX_NAME_CHARS - len(suffix)]
    while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return (stem.rstrip(". ") or "upload") + suffix


def display_name(name: str) -> str:
    """The name the user gave, for messages: control characters shown as '?'."""
    return "".join("?" if _has_control(ch) else ch for ch in str(name)) or "(no name)"


def _base_path() -> Path:
    return Path(tempfile.gettempdir()) / f"subset-explorer-uploads-{os.getuid()}"


def upload_base() -> Path:
    """The folder that holds every session's uploads: private to this user (0700), under the
    system's temporary folder; refused when someone else made it or it is a link."""
    base = _base_path()
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(base)
    except OSError as exc:
        raise explorer.ExplorerError(f"Cannot prepare the upload folder ({exc.strerror}); "
                                     "use 'Path on disk' instead.") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise explorer.ExplorerError("The upload folder is not this app's own (a link, or made "
                                     "by another user); use 'Path on disk' instead.")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(base, 0o700)
    return base


def _session_id() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    sid = ctx.session_id if ctx is not None else "no-session"
    return re.sub(r"[^A-Za-z0-9_-]", "_", sid)[:80] or "no-session"


def _remove_folder(folder) -> None:
    shutil.rmtree(folder, ignore_errors=True)


@st.cache_resource(scope="session", on_release=_remove_folder, show_spinner=False)
def _session_folder(session_id: str) -> str:
    """The session's upload folder; Streamlit releases it (and so it is removed) when the
    session disconnects."""
    folder = upload_base() / session_id
    folder.mkdir(mode=0o700, exist_ok=True)
    return str(folder)


def session_folder() -> Path:
    """This session's private upload folder (created 0700; removed when the session ends)."""
    sid = _session_id()
    folder = Path(_session_folder(sid))
    # made again if a sweep or an earlier release removed it while the session lives on
    folder.mkdir(mode=0o700, parents=False, exist_ok=True)
    os.utime(folder)  # in use: the age limit counts from the last use
    return folder


def sweep_uploads(now: float | None = None, live=None) -> list[Path]:
    """Remove upload folders of sessions that are gone (not live and untouched for
    UPLOAD_GRACE seconds) and any untouched for UPLOAD_MAX_AGE; returns what was removed.

    ``live(session_id) -> bool`` says whether a session is still in the server (default: ask
    Streamlit's runtime; without one, only the age limit applies)."""
    now = time.time() if now is None else now
    if live is None:
        live = _runtime_live()
    removed = []
    if not _base_path().is_dir():
        return removed
    try:
        entries = list(upload_base().iterdir())
    except (OSError, explorer.ExplorerError):
        return removed
    for folder in entries:
        try:
            age = now - os.lstat(folder).st_mtime
        except OSError:
            continue
        gone = live is not None and not live(folder.name) and age > UPLOAD_GRACE
        if gone or age > UPLOAD_MAX_AGE:
            _remove_folder(folder)
            removed.append(folder)
    return removed


def _runtime_live():
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return None
    runtime = Runtime.instance()
    return lambda sid: runtime.is_active_session(sid)


def sweep_now_and_then() -> None:
    """:func:`sweep_uploads`, at most once a minute in the server (called on every run)."""
    now = time.time()
    if now - _last_sweep[0] >= _SWEEP_EVERY:
        _last_sweep[0] = now
        sweep_uploads(now)


def save_upload(uploaded) -> tuple[Path, str]:
    """Keep an uploaded file on disk (so it can be memory-mapped) in this session's private
    folder, under a cleaned name, in a sub-folder named by its content hash (two different
    files of one name do not meet). Returns the stored path and the content digest."""
    data = uploaded.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = session_folder() / digest
    folder.mkdir(mode=0o700, exist_ok=True)
    target = folder / safe_name(uploaded.name)
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    return target, digest


def key_for_upload(uploaded, meta_uploaded, id_column: str | None, drop_invalid: bool,
                   types=None, meta_types=None) -> tuple:
    """The cache key of an upload (and its optional metadata upload), each checked for its
    type (``types``: suffixes without the dot) and emptiness; the content digests stand in
    for the modification time, so writing the same files again keeps the key."""
    path, digest = _checked_upload(uploaded, types, "embeddings file")
    meta, meta_digest = (None, None)
    if meta_uploaded is not None:
        meta_path, meta_digest = _checked_upload(meta_uploaded, meta_types, "metadata file")
        meta = str(meta_path)
    return ("upload", str(path), meta, id_column, None, drop_invalid, (digest, meta_digest))


def _checked_upload(uploaded, types, what: str) -> tuple[Path, str]:
    shown = display_name(uploaded.name)
    suffix = Path(safe_name(uploaded.name)).suffix.lstrip(".")
    if types and suffix not in types:
        raise explorer.ExplorerError(
            f"{shown}: unsupported type for the {what} ({'.' + suffix if suffix else 'none'}); "
            f"upload one of {', '.join('.' + t for t in types)}.")
    if uploaded.size == 0:
        raise explorer.ExplorerError(f"{shown}: the uploaded {what} is empty; upload the "
                                     "file again.")
    return save_upload(uploaded)


def user_words(message: str, names: dict) -> str:
    """``message`` with each stored upload path (and its file name) replaced by the name the
    user gave, so no server folder shows and the messages name the user's file.

    >>> user_words("/tmp/u/ab/x.npy: bad; see x.npy", {"/tmp/u/ab/x.npy": "my x.npy"})
    'my x.npy: bad; see my x.npy'
    """
    swaps = {}
    for stored, given in names.items():
        swaps[stored] = given
        swaps.setdefault(Path(stored).name, given)
    if not swaps:
        return message
    pattern = "|".join(re.escape(s) for s in sorted(swaps, key=len, reverse=True))
    return re.sub(pattern, lambda m: swaps[m.group(0)], message)


def try_load(key: tuple, names: dict | None = None):
    """(Dataset, None) or (None, message): bad input never becomes a traceback. ``names``
    maps stored upload paths to the names the user gave (see :func:`user_words`)."""
    try:
        return load_cached(*key), None
    except explorer.ExplorerError as exc:
        return None, user_words(str(exc), names or {})
    except Exception as exc:  # noqa: BLE001 - shown to the user, not swallowed silently
        return None, user_words(f"Could not load this file: {type(exc).__name__}: {exc}",
                                names or {})


__all__ = ["DESCRIPTIONS", "SAMPLES", "checked_folder", "checked_path", "display_name", "key_for_app_output", "key_for_path",
           "key_for_sample", "key_for_upload", "load_cached", "base_key", "score_settings",
           "with_score_settings", "cached_row_scores", "safe_name", "save_upload",
           "session_folder", "sweep_now_and_then", "sweep_uploads", "try_load", "user_words"]
