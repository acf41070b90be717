"""The sidebar's sharded data source: a folder or glob of shards typed as a path.

What a visitor types stays below the allowed folders (:func:`explorer.data.paths.inside_roots`):
a folder is checked as typed, a glob's fixed leading folders are checked before anything is
listed (so a pattern cannot walk the server's disk), and every file the pattern or the folder
names (each shard, and the metadata beside a ``.npy`` shard) is checked again after its links
are resolved, so a link cannot lead outside. Opening reads only the shards' footers and
headers: the dataset is a :class:`~explorer.data.shards.ShardedDataset`, never concatenated.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import explorer
from explorer.data.paths import inside_roots
from explorer.data.shards import shard_files

from . import state
from .data import checked_folder

#: The data source's label in the sidebar's "Where is the data?" choice.
SHARDS_SOURCE = "Shards on disk (folder or glob)"
_GLOB_CHARS = "*?["


def source_widgets(sb) -> None:
    """The folder or glob of shards, and its optional id and embedding columns."""
    state.remembered(sb.text_input, "Folder or glob of shards", "shards_path",
                     placeholder="/data/shards/  or  /data/shards/part-*.parquet",
                     help="Parquet shards (an embedding list column, an id, metadata), or "
                     ".npy shards with a .parquet of metadata beside each. Opening reads only "
                     "the shards' footers; rows are read shard by shard on the engine chosen "
                     "below. Press Enter to open.")
    state.remembered(sb.text_input, "Id column (optional)", "shards_id")
    state.remembered(sb.text_input, "Embedding column (optional)", "shards_emb")


def checked_source(text: str, what: str = "Folder or glob of shards") -> str:
    """The folder or glob a visitor typed, as an absolute path or pattern, when it and every
    file it names lie below the allowed folders; else an ExplorerError that says why.

    A glob's fixed leading folders (``/data/shards`` of ``/data/shards/part-*.parquet``) are
    checked before the pattern is expanded."""
    text = os.path.expanduser(text.strip())
    if not any(c in text for c in _GLOB_CHARS):
        folder = checked_folder(text, what)
        if not folder.is_dir():
            raise explorer.ExplorerError(f"{text} ({what}): no such folder. Give a folder of "
                                         "shards, or a glob such as /data/shards/*.parquet.")
        source = str(folder)
    else:
        parts = Path(text).parts
        fixed = next(i for i, p in enumerate(parts) if any(c in p for c in _GLOB_CHARS))
        lead = Path(*parts[:fixed]) if fixed else Path(".")
        folder = checked_folder(str(lead), what)
        source = str(folder / Path(*parts[fixed:]))
    for path in shard_files(source):
        inside_roots(path, what)
    return source


def key_for_shards(text: str, id_column: str | None, embedding_column: str | None) -> tuple:
    """The cache key of a sharded dataset typed in the sidebar (checked: see
    :func:`checked_source`); its version is a digest of every shard's name, size and
    modification time, so a changed shard opens the dataset again."""
    source = checked_source(text)
    digest = hashlib.blake2b(digest_size=12)
    for path in shard_files(source):
        info = path.stat()
        digest.update(f"{path}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    return ("shards", source, None, id_column or None, embedding_column or None, False,
            digest.hexdigest())


def requested_key(session) -> tuple | None:
    """The key the shard widgets ask for (None while no path is typed)."""
    text = session.get("shards_path")
    if not text:
        return None
    return key_for_shards(text, session.get("shards_id") or None,
                          session.get("shards_emb") or None)
