"""The project's one atomic writer: outputs appear whole or not at all, together or not at all.

Every file the project writes (a subset, its manifest, a comparison table, a cached layout) is
written to a temp file beside its target, fsynced, then renamed over the target. On top of that:

- every target is checked before anything is written (:func:`check_targets`): its folder
  exists, it is not a folder / FIFO / device / socket (refused even with ``force``), it does not
  exist unless ``force``, and no two targets (nor a target and an input) are the same file;
- several files written together (:func:`write_together`, e.g. a subset and its manifest)
  are committed with a small journal, so a kill at any moment never leaves the subset without
  its manifest (see :func:`write_together` for the order and why);
- temp files and journals of ours left by a killed writer are removed, or rolled forward, at
  the next write beside them (:func:`tidy`).

Our temp files are named ``.NAME.PID-HOST.RANDOM.tmp``: the writer's process id and a short
tag of its host say whether the writer is still alive.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import socket
import stat
import time
from pathlib import Path

from ..errors import ExplorerError
from .paths import _kind

#: A temp file or journal of ours is stale when its writer process is gone (same host), or,
#: for one from another host or from before temp names carried a process id, when it has not
#: been modified for this long. Its writer is then dead or stuck: no export writes for an
#: hour, and a temp file being written is modified all the time.
STALE_SECONDS = 3600
TEMP_SUFFIX = ".tmp"
JOURNAL_SUFFIX = ".commit"
FILE_MODE = 0o644


def _host_tag() -> str:
    return hashlib.blake2b(socket.gethostname().encode(), digest_size=3).hexdigest()


def _writer_tag() -> str:
    return f"{os.getpid()}-{_host_tag()}"


def _label(path: Path, what: str) -> str:
    return f"{path} ({what})" if what else str(path)


def _identity(path: Path):
    """(device, inode) of an existing file (links followed), else its resolved path."""
    try:
        st = os.stat(path)
        return (st.st_dev, st.st_ino)
    except OSError:
        return os.path.realpath(path)


def _refuse_an_input(path: Path, here: str, inputs) -> None:
    """An output never replaces an input: refuse ``path`` (named ``here``) when it is the
    same file as one of ``inputs``, ``(path or None, what)`` pairs."""
    for source, source_what in inputs:
        if source is not None and Path(source).expanduser().exists() and \
                _identity(path) == _identity(Path(source).expanduser()):
            raise ExplorerError(f"{here}: is the input {_label(Path(source), source_what)}; an "
                                "output never replaces an input. Choose another name.")


def check_targets(targets, *, force: bool = False, inputs=()) -> list[Path]:
    """Check every output before any is written; return them as expanded Paths.

    ``targets`` and ``inputs`` are ``(path, what)`` pairs, ``what`` naming the option
    (``"--out"``) for the message. Refuses: a missing folder; an existing target that is not a
    regular file (even with ``force``); an existing file without ``force``; two targets that
    are one file (also through ``./``, ``..`` or links); a target that is one of ``inputs``.

    >>> check_targets([("/tmp", "--out")], force=True)
    Traceback (most recent call last):
    ...
    explorer.errors.ExplorerError: /tmp (--out): is a folder, not a regular file; give a file name (--force only replaces regular files).
    >>> check_targets([("/tmp/s.csv", "--out"), ("/tmp/../tmp/s.csv", "--manifest")],
    ...               force=True)
    Traceback (most recent call last):
    ...
    explorer.errors.ExplorerError: /tmp/../tmp/s.csv (--manifest) and /tmp/s.csv (--out) are the same file; give each output its own name.
    """
    checked: list[tuple[Path, str]] = []
    for path, what in targets:
        if path is None:
            continue
        p = Path(path).expanduser()
        here = _label(p, what)
        folder = p.parent
        if not folder.is_dir():
            missing = "is not a folder" if folder.exists() else "does not exist"
            raise ExplorerError(f"{here}: the folder {folder} {missing}; create it or write "
                                "somewhere else.")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ExplorerError(f"{here}: the folder {folder} is not writable; write somewhere "
                                "else.")
        try:
            link = os.lstat(p)
        except FileNotFoundError:
            link = None
        except OSError as exc:
            raise ExplorerError(f"{here}: cannot be checked ({exc.strerror}); write somewhere "
                                "else.") from None
        if link is not None:
            try:
                mode = os.stat(p).st_mode
            except OSError:  # a dangling or looping link: replacing it loses nothing
                mode = stat.S_IFREG
            if not stat.S_ISREG(mode):
                raise ExplorerError(f"{here}: is {_kind(mode)}, not a regular file; give a file "
                                    "name (--force only replaces regular files).")
        for other, other_what in checked:
            if _identity(p) == _identity(other):
                raise ExplorerError(f"{here} and {_label(other, other_what)} are the same "
                                    "file; give each output its own name.")
        _refuse_an_input(p, here, inputs)
        if link is not None and not force:
            raise ExplorerError(f"{here}: already exists; not overwritten. Choose another "
                                "name or pass --force (force=True) to replace it.")
        checked.append((p, what))
    return [p for p, _ in checked]


# --------------------------------------------------------------------------- stale files


def _writer_alive(tag: str | None) -> bool | None:
    """True / False for a writer tag (``PID-HOST``) of this host; None when it cannot be told
    (another host, or a name without a tag)."""
    pid_text, _, host = (tag or "").partition("-")
    if host != _host_tag() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    try:  # a killed child its parent has not reaped yet is dead too
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _is_stale(path: Path, tag: str | None, now: float) -> bool:
    alive = _writer_alive(tag)
    if alive is not None:
        return not alive
    try:
        return now - os.lstat(path).st_mtime > STALE_SECONDS
    except OSError:
        return False


def _temp_tag(name: str, target: str) -> str | None:
    """The writer tag of a temp file ``.TARGET.TAG.RANDOM.tmp``."""
    tag, dot, _ = name[len(target) + 2:-len(TEMP_SUFFIX)].partition(".")
    return tag if dot else None


def _journal_tag(name: str) -> str | None:
    """The writer tag of a journal ``.PRIMARY.TAG.RANDOM.commit``."""
    parts = name[:-len(JOURNAL_SUFFIX)].rsplit(".", 2)
    return parts[1] if len(parts) == 3 else None


def _remove(path) -> None:
    """Remove a file of ours if it is there; one we may not remove (another user's, in a
    shared folder) is left alone rather than failing the write."""
    with contextlib.suppress(OSError):
        os.unlink(path)


def _listing(folder: Path) -> list[str]:
    try:
        return [e.name for e in os.scandir(folder)]
    except OSError:
        return []


def tidy(targets) -> None:
    """Before writing ``targets``: finish (or abandon, see :func:`_recover`) the commits of
    dead writers in their folders, then remove stale temp files of ours beside each target
    (``.NAME.*.tmp``). Files of live writers are never touched; :data:`STALE_SECONDS` says
    what is stale and why."""
    targets = [Path(t) for t in targets]
    folders = list(dict.fromkeys(t.parent for t in targets))
    now = time.time()
    for folder in folders:  # journals first: they name the temp files they still need
        for name in _listing(folder):
            if name.startswith(".") and name.endswith(JOURNAL_SUFFIX):
                journal = folder / name
                if _is_stale(journal, _journal_tag(name), now):
                    _recover(journal)
    for target in targets:
        prefix = f".{target.name}."
        for name in _listing(target.parent):
            if name.startswith(prefix) and name.endswith(TEMP_SUFFIX) and \
                    len(name) > len(prefix) + len(TEMP_SUFFIX):
                temp = target.parent / name
                if _is_stale(temp, _temp_tag(name, target.name), now):
                    _remove(temp)


# --------------------------------------------------------------------------- writing


def _new_temp(target: Path) -> Path:
    """An empty file of ours beside ``target`` (mode 0600 until it is complete)."""
    while True:
        tmp = target.parent / f".{target.name}.{_writer_tag()}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            return tmp
        except FileExistsError:
            continue


def _seal(tmp: Path) -> None:
    """Flush a finished temp file to disk and give it the mode of an output."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, FILE_MODE)


def _sync_folder(folder: Path) -> None:
    """Make renames in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _place(tmp: Path, target: Path, force: bool) -> None:
    """Rename ``tmp`` to ``target``. Without ``force`` the rename never replaces a file that
    appeared since the check: a hard link fails if the target exists (atomic), then the temp
    name is dropped."""
    if force:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise ExplorerError(f"{target}: already exists (written by someone else just now); not "
                            "overwritten. Choose another name or pass --force.") from None
    except OSError:  # a file system without hard links
        if os.path.lexists(target):
            raise ExplorerError(f"{target}: already exists; not overwritten. Choose another "
                                "name or pass --force.") from None
        os.replace(tmp, target)
        return
    _remove(tmp)


def prepare(targets, *, force: bool = False, inputs=()) -> list[Path]:
    """:func:`tidy` the targets' folders, then :func:`check_targets`."""
    paths = [Path(p).expanduser() for p, _ in targets if p is not None]
    tidy(p for p in paths if p.parent.is_dir())
    return check_targets(targets, force=force, inputs=inputs)


@contextlib.contextmanager
def atomic_path(path, force: bool = False, what: str = ""):
    """Yield a temp path beside ``path``; when the block ends without error, the temp file is
    fsynced and renamed over ``path``. On error it is removed and ``path`` is left as it was.

    Refuses (before the block runs) a missing folder, a non-regular target, and an existing
    file unless ``force``.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "a.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (folder / "a.txt").read_text(), sorted(p.name for p in folder.iterdir())
    ('hello', ['a.txt'])
    """
    [target] = prepare([(path, what)], force=force)
    tmp = _new_temp(target)
    try:
        yield tmp
        _seal(tmp)
        _place(tmp, target, force)
        _sync_folder(target.parent)
    finally:
        _remove(tmp)


def write_together(writes, *, force: bool = False, inputs=()) -> list[Path]:
    """Write several files as one commit: all of them, or (on an error) none.

    ``writes`` is a list of ``(path, what, fill)``; ``fill(tmp)`` writes the content into the
    temp path ``tmp``. The last entry is the primary file, the one the others describe (the
    subset, whose manifest comes first). ``inputs`` as in :func:`check_targets`.

    Renaming two files is two steps, and a kill can fall between them. The order makes every
    moment safe, and a journal finishes the commit afterwards:

    1. every temp file is written and fsynced; then a journal naming each temp, its target
       and its inode is written (itself atomically) beside the primary;
    2. an existing primary is removed (``force``), the other files are renamed into place,
       the primary last; then the journal is removed.

    So what a reader can see at any moment is the old pair, the new files other than the
    primary (a manifest without its subset), or the new pair: never a subset without its
    manifest, and never a subset beside another run's manifest. A kill after the journal is
    written is finished by the next write beside it (:func:`tidy`), which leaves the new pair;
    a kill before it leaves the old files and temp files that the next write removes.
    Recovery by one step of renames was chosen over keeping both versions in a folder per
    commit so that outputs stay plain files at the names the user gave.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> out = write_together([(folder / "m.json", "manifest", lambda t: t.write_text("{}")),
    ...                       (folder / "s.csv", "out", lambda t: t.write_text("a\\n1\\n"))])
    >>> sorted(p.name for p in folder.iterdir())
    ['m.json', 's.csv']
    """
    targets = prepare([(p, w) for p, w, _ in writes], force=force, inputs=inputs)
    if not targets:
        return []
    fills = [fill for p, _, fill in writes if p is not None]
    temps: list[Path] = []
    journal = None
    try:
        for target, fill in zip(targets, fills):
            temps.append(_new_temp(target))
            fill(temps[-1])
            _seal(temps[-1])
        if len(targets) == 1:
            _place(temps[0], targets[0], force)
            _sync_folder(targets[0].parent)
            return targets
        journal = _write_journal(targets, temps, force)
        _finish(list(zip(temps, targets)), force)
        _remove(journal)
        _sync_folder(journal.parent)
        return targets
    except BaseException:
        for tmp in temps:
            _remove(tmp)
        if journal is not None:
            _remove(journal)
        raise


def _write_journal(targets, temps, force: bool) -> Path:
    primary = targets[-1]
    entries = []
    for tmp, target in zip(temps, targets):
        st = os.stat(tmp)
        entries.append({"temp": str(Path(tmp).absolute()), "target": str(target.absolute()),
                        "inode": [st.st_dev, st.st_ino]})
    journal = primary.parent / f".{primary.name}.{_writer_tag()}.{secrets.token_hex(4)}" \
                               f"{JOURNAL_SUFFIX}"
    tmp = primary.parent / f"{journal.name}{TEMP_SUFFIX}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"force": force, "entries": entries}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, journal)
    _sync_folder(journal.parent)
    return journal


def _finish(pairs, force: bool) -> None:
    """Step 2 of :func:`write_together`: the primary (last) goes out first and in last."""
    if not pairs:
        return
    primary_tmp, primary = pairs[-1]
    if force and os.path.lexists(primary) and os.path.exists(primary_tmp):
        _remove(primary)
    for tmp, target in pairs:
        _place(tmp, target, force)
    for folder in dict.fromkeys(target.parent for _, target in pairs):
        _sync_folder(folder)


def _recover(journal: Path) -> None:
    """Finish a dead writer's commit if every file it needs is still there and nobody has
    written a target since; otherwise drop its leftovers (what is visible stays as it is,
    which the order of renames keeps safe). The journal is removed either way."""
    try:
        doc = json.loads(journal.read_text(encoding="utf-8"))
        force = bool(doc["force"])
        entries = [(Path(e["temp"]), Path(e["target"]), tuple(e["inode"]))
                   for e in doc["entries"]]
        began = os.lstat(journal).st_mtime_ns
    except (OSError, ValueError, KeyError, TypeError):
        _remove(journal)  # not readable as ours: its temp files age out as stale
        return
    pending = []
    abandon = False
    for tmp, target, inode in entries:
        if _identity(target) == inode:  # already renamed (or linked) into place
            _remove(tmp)
            continue
        if not os.path.exists(tmp):
            abandon = True  # a temp file is gone: the commit cannot be finished
            continue
        try:
            if os.lstat(target).st_mtime_ns > began:
                abandon = True  # someone wrote this target after the commit began
        except FileNotFoundError:
            pass
        pending.append((tmp, target))
    try:
        if not abandon:
            _finish(pending, force)
    except (OSError, ExplorerError):
        abandon = True
    if abandon:
        for tmp, _ in pending:
            _remove(tmp)
    _remove(journal)
    _sync_folder(journal.parent)


# --------------------------------------------------------------------------- folders

FOLDER_SUFFIX = ".tmpdir"


@contextlib.contextmanager
def atomic_folder(path, force: bool = False, what: str = "", *, inputs=(), looks_ours=None):
    """Yield a temp folder beside ``path``; when the block ends without error it is renamed
    to ``path`` (a folder output, such as a Hugging Face dataset). On error it is removed.

    An existing ``path`` is replaced only with ``force``, only when it is a folder and, with
    ``looks_ours(path)``, only when that says it is an output of the same kind (so --force
    never deletes an unrelated folder); the old folder is renamed aside first and removed
    after the new one is in place. Temp folders of dead writers (``.NAME.PID-HOST.RANDOM
    .tmpdir``) are removed first.

    >>> import tempfile
    >>> base = Path(tempfile.mkdtemp())
    >>> with atomic_folder(base / "out") as tmp:
    ...     _ = (tmp / "a.txt").write_text("hi")
    >>> sorted(p.name for p in base.iterdir()), (base / "out" / "a.txt").read_text()
    (['out'], 'hi')
    """
    target = Path(path).expanduser()
    here = _label(target, what)
    folder = target.parent
    if not folder.is_dir():
        raise ExplorerError(f"{here}: the folder {folder} does not exist; create it or write "
                            "somewhere else.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ExplorerError(f"{here}: the folder {folder} is not writable; write somewhere "
                            "else.")
    _refuse_an_input(target, here, inputs)
    now = time.time()
    prefix = f".{target.name}."
    for name in _listing(folder):
        if name.startswith(prefix) and name.endswith(FOLDER_SUFFIX):
            tag = name[len(prefix):-len(FOLDER_SUFFIX)].partition(".")[0]
            if _is_stale(folder / name, tag, now):
                shutil.rmtree(folder / name, ignore_errors=True)

    def check_existing() -> bool:
        if not os.path.lexists(target):
            return False
        if not force:
            raise ExplorerError(f"{here}: already exists; not overwritten. Choose another name "
                                "or pass --force (force=True) to replace it.")
        if target.is_symlink() or not target.is_dir():
            raise ExplorerError(f"{here}: exists and is not a folder; give a new name.")
        if looks_ours is not None and not looks_ours(target):
            raise ExplorerError(f"{here}: is a folder that is not an earlier export of this "
                                "kind; --force replaces only those. Give a new name.")
        return True

    check_existing()
    tmp = folder / f"{prefix}{_writer_tag()}.{secrets.token_hex(4)}{FOLDER_SUFFIX}"
    os.mkdir(tmp, 0o700)
    try:
        yield tmp
        for root, _, names in os.walk(tmp):
            for name in names:
                _seal(Path(root) / name)
        os.chmod(tmp, 0o755)
        if check_existing():
            old = folder / f"{prefix}{_writer_tag()}.{secrets.token_hex(4)}.old{FOLDER_SUFFIX}"
            os.rename(target, old)
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                os.rename(tmp, target)
            except OSError:  # the name appeared (as a non-empty folder) meanwhile
                raise ExplorerError(f"{here}: already exists (written by someone else just "
                                    "now); not overwritten.") from None
        _sync_folder(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
