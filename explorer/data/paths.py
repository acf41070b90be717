"""Which paths may be read: regular files only, and (in the app) only below allowed folders.

A FIFO, a socket or a device blocks or never ends when it is read, so every input file is
checked with :func:`regular_file` before it is opened. The app, which serves people who do not
own the server, also keeps every path it is given below :func:`allowed_roots`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import ExplorerError

#: Folders the app may read from and write to, separated by os.pathsep (':' on Linux).
ROOTS_VARIABLE = "SUBSET_EXPLORER_DATA_ROOTS"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def regular_file(path, what: str = "file") -> Path:
    """``path`` as a Path when it names an existing regular file (symlinks followed).

    >>> regular_file("/dev/null", "--meta")
    Traceback (most recent call last):
    ...
    explorer.errors.ExplorerError: /dev/null (--meta): is a device, not a regular file; give a file.
    """
    p = Path(path).expanduser()
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        raise ExplorerError(f"{p} ({what}): no such file. Check the path (relative paths start "
                            f"at {Path.cwd()}).") from None
    except OSError as exc:
        raise ExplorerError(f"{p} ({what}): cannot be read ({exc.strerror}).") from None
    if not stat.S_ISREG(mode):
        raise ExplorerError(f"{p} ({what}): is {_kind(mode)}, not a regular file; give a file.")
    return p


def allowed_roots() -> list[Path]:
    """The folders the app may read and write below: ``$SUBSET_EXPLORER_DATA_ROOTS``
    (separated by ``os.pathsep``), else the home folder and the working folder."""
    text = os.environ.get(ROOTS_VARIABLE, "")
    roots = [Path(p).expanduser() for p in text.split(os.pathsep) if p.strip()]
    if not roots:
        roots = [Path.home(), Path.cwd()]
    return [r.resolve() for r in roots]


def inside_roots(path, what: str = "path", roots=None) -> Path:
    """The resolved ``path`` when it lies below one of ``roots`` (default
    :func:`allowed_roots`); symlinks are resolved first, so a link cannot lead outside.

    >>> inside_roots("/etc/hostname", "Path on disk", roots=[Path("/srv/data")])
    Traceback (most recent call last):
    ...
    explorer.errors.ExplorerError: /etc/hostname (Path on disk): is outside the folders this app may use (/srv/data); move the file there, or set SUBSET_EXPLORER_DATA_ROOTS where the app is started.
    """
    roots = allowed_roots() if roots is None else [Path(r) for r in roots]
    real = Path(path).expanduser().resolve()
    if any(real == r or r in real.parents for r in roots):
        return real
    raise ExplorerError(f"{path} ({what}): is outside the folders this app may use "
                        f"({', '.join(str(r) for r in roots)}); move the file there, or set "
                        f"{ROOTS_VARIABLE} where the app is started.")
