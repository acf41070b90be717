"""Sharded datasets: a folder or glob of Parquet shards, or of ``.npy`` shards with a
``.parquet`` of metadata beside each, read one shard at a time and never concatenated.

Opening reads only footers and headers (row counts, the embedding column, its width), so a
dataset larger than memory opens in a moment. :func:`read_block` reads one shard, checked as
a single file is (:func:`explorer.data.paths.regular_file`, the Parquet footer's size check,
the ``.npy`` header check) and then row by row: a null, ragged, NaN / inf or (under cosine)
all-zero vector, or a width unlike the other shards', is an error naming the shard and the row.
An empty shard is kept (it contributes no rows).

Rows are numbered across the shards in file-name order: the global index of row ``r`` of a
shard is ``shard.offset + r``. Ids come from ``id_column``, else they are the global indices.
"""

from __future__ import annotations

import glob as _glob
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ExplorerError, preview
from .paths import regular_file

SHARD_KINDS = ("parquet", "npy")


@dataclass(frozen=True)
class Shard:
    """One file of a sharded dataset: ``path`` (a .parquet, or a .npy with its metadata
    ``meta`` beside it), its number of ``rows`` and the global index of its first row."""

    path: str
    kind: str
    rows: int
    offset: int
    meta: str | None = None

    @property
    def name(self) -> str:
        return Path(self.path).name


@dataclass(frozen=True, eq=False)
class Block:
    """The rows of one shard in memory: float32 ``X``, their global ``index``, their ``ids``
    and the metadata ``columns`` asked for (name -> array)."""

    X: np.ndarray
    index: np.ndarray
    ids: np.ndarray
    columns: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])


@dataclass(frozen=True, eq=False)
class ShardedDataset:
    """A dataset spread over shards. Holds no rows; :func:`read_block` reads one shard.

    ``fingerprint`` is filled by the first engine run that reads every shard (BLAKE2b of the
    shards' own digests of embeddings and ids, in order); see
    :func:`explorer.engine.drivers.fingerprint`.
    """

    source: str
    shards: tuple
    dim: int
    embedding_column: str | None
    id_column: str | None
    columns: tuple
    options: dict = field(default_factory=dict)
    _digest: dict = field(default_factory=dict, repr=False)

    #: What loading changed to make the input usable, as a Dataset's ``notes``: opening
    #: shards changes nothing (a bad row is an error, never dropped).
    notes = ()
    #: The model that made the embeddings, as a Dataset's ``embedding``: shards carry none.
    embedding = None

    @property
    def n(self) -> int:
        return int(sum(s.rows for s in self.shards))

    def __len__(self) -> int:
        return self.n

    @property
    def name(self) -> str:
        return Path(self.source.rstrip("/*")).name or "shards"

    @property
    def fingerprint(self) -> str | None:
        return self._digest.get("fingerprint")

    def __repr__(self) -> str:
        return (f"ShardedDataset({self.n} x {self.dim} in {len(self.shards)} shards, "
                f"source={self.source!r})")


def is_sharded(path) -> bool:
    """Whether ``path`` names a sharded dataset: a folder, or a glob pattern."""
    text = str(path)
    return any(c in text for c in "*?[") or Path(text).expanduser().is_dir()


def _files(source: str) -> list[Path]:
    text = str(Path(source).expanduser()) if not any(c in source for c in "*?[") else source
    if Path(text).is_dir():
        found = sorted(p for p in Path(text).iterdir()
                       if p.suffix.lower() in (".parquet", ".npy") and not p.name.startswith("."))
        npy = [p for p in found if p.suffix.lower() == ".npy"]
        if npy:  # .npy shards; the .parquet files beside them are their metadata
            found = npy
    else:
        found = sorted(Path(p) for p in _glob.glob(text))
    if not found:
        raise ExplorerError(f"{source}: no .parquet or .npy shards found there.")
    kinds = {p.suffix.lower() for p in found}
    if len(kinds) > 1:
        raise ExplorerError(f"{source}: holds both .npy and .parquet files; a sharded dataset is "
                            "Parquet shards, or .npy shards with a .parquet of metadata beside "
                            "each (same name).")
    if kinds - {".parquet", ".npy"}:
        raise ExplorerError(f"{source}: shards must be .parquet or .npy files; got "
                            f"{preview(sorted(kinds))}.")
    return [regular_file(p, "shard") for p in found]


def shard_files(source) -> list[Path]:
    """Every file that opening ``source`` (a folder or glob of shards) reads: the shards, in
    the order :func:`open_shards` numbers their rows, and the ``.parquet`` of metadata beside
    each ``.npy`` shard that has one. Lists names only; opens nothing (an app checks each
    against its allowed folders before the dataset is opened)."""
    shards = _files(str(source))
    beside = [p.with_suffix(".parquet") for p in shards if p.suffix.lower() == ".npy"]
    return shards + [p for p in beside if p.exists()]


def _embedding_field(schema, embedding_column, where):
    from .loading import _choose_embedding_column, _numeric_list_type

    names = schema.names
    lists = [c for c in names if _numeric_list_type(schema.field(c).type)]
    col = _choose_embedding_column(names, lists, embedding_column, where)
    if col is None:
        raise ExplorerError(f"{where}: no list column holds the embeddings (columns: "
                            f"{preview(names, 12)}); a Parquet shard needs one vector per row "
                            "in a list or fixed-size-list column (--embedding-column).")
    if col not in lists:
        raise ExplorerError(f"{where}: column {col!r} (--embedding-column) holds "
                            f"{schema.field(col).type} values, not vectors.")
    return col


def _first_width(path: Path, col: str, where: str) -> int | None:
    """Width of the first vector in the shard (None when it has no rows)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    kind = pf.schema_arrow.field(col).type
    if pa.types.is_fixed_size_list(kind):
        return int(kind.list_size)
    for g in range(pf.metadata.num_row_groups):
        part = pf.read_row_group(g, columns=[col]).column(0)
        for value in part:
            if value.is_valid:
                return len(value)
    return None


def open_shards(source, *, id_column: str | None = None, embedding_column: str | None = None,
                metric: str = "euclidean") -> ShardedDataset:
    """Open a folder or glob of shards from their footers and headers only.

    Every shard must have the embedding column (found as the one list column, or named by
    ``embedding_column``), the ``id_column`` when given, and the same width; a shard that
    does not is named. A ``.npy`` shard needs a ``.parquet`` of the same name beside it when
    ``id_column`` is given (its metadata); without one its rows have no metadata.

    Examples
    --------
    >>> import tempfile, numpy as np, pyarrow as pa, pyarrow.parquet as pq
    >>> folder = tempfile.mkdtemp()
    >>> for i in range(3):
    ...     X = np.full((2, 4), i, np.float32)
    ...     pq.write_table(pa.table({"id": [f"r{i}{j}" for j in range(2)],
    ...                              "emb": list(X)}), f"{folder}/part-{i}.parquet")
    >>> data = open_shards(folder, id_column="id")
    >>> data.n, data.dim, [s.offset for s in data.shards]
    (6, 4, [0, 2, 4])
    """
    import pyarrow.parquet as pq

    from .arrays import npy_header
    from .tables import _check_parquet_cost

    source = str(source)
    files = _files(source)
    shards, widths, columns = [], {}, None
    offset = 0
    emb = embedding_column
    for path in files:
        where = f"shard {path.name}"
        meta = None
        if path.suffix.lower() == ".npy":
            header = npy_header(path, where)
            if len(header.shape) != 2 or header.dtype.kind not in "fiu":
                raise ExplorerError(f"{where}: holds a {header.dtype} array of shape "
                                    f"{header.shape}; a shard holds one numeric vector per row.")
            rows, width = int(header.shape[0]), int(header.shape[1])
            beside = path.with_suffix(".parquet")
            if beside.exists():
                meta = str(regular_file(beside, "shard metadata"))
                meta_rows = pq.ParquetFile(beside).metadata.num_rows
                if meta_rows != rows:
                    raise ExplorerError(f"{where}: {rows} vectors but its metadata "
                                        f"{beside.name} has {meta_rows} rows; they must match "
                                        "row for row.")
                names = tuple(pq.ParquetFile(beside).schema_arrow.names)
            elif id_column is not None:
                raise ExplorerError(f"{where}: no metadata file {beside.name} beside it for the "
                                    f"id column {id_column!r}.")
            else:
                names = ()
            kind = "npy"
        else:
            try:
                pf = pq.ParquetFile(path)
                schema = pf.schema_arrow
                rows = int(pf.metadata.num_rows)
            except Exception as exc:  # a damaged footer: pyarrow raises OSError, ArrowInvalid
                raise ExplorerError(f"{where}: could not be read as .parquet ({exc}).") from None
            _check_parquet_cost(path, where)
            emb = _embedding_field(schema, emb, where)
            names = tuple(c for c in schema.names if c != emb)
            width = _first_width(path, emb, where) if rows else None
            kind = "parquet"
        if id_column is not None and id_column not in names:
            raise ExplorerError(f"{where}: no id column {id_column!r} (--id-column). Its columns "
                                f"are: {preview(names, 12) or '(none)'}.")
        if columns is None:
            columns = names
        elif set(names) != set(columns) and kind == "parquet":
            missing = sorted(set(columns) - set(names)) or sorted(set(names) - set(columns))
            raise ExplorerError(f"{where}: its columns differ from the first shard's (column "
                                f"{missing[0]!r}); every shard needs the same columns.")
        if width is not None:
            widths[path.name] = width
        shards.append(Shard(str(path.resolve()), kind, rows, offset, meta))
        offset += rows
    if not widths:
        raise ExplorerError(f"{source}: every shard is empty; there are no rows to select from.")
    first = next(iter(widths))
    for name, width in widths.items():
        if width != widths[first]:
            raise ExplorerError(f"shard {name}: vectors of width {width}, but shard {first} has "
                                f"{widths[first]}; every shard must come from the same model.")
    options = {"sharded": True, "id_column": id_column, "embedding_column": emb,
               "metric": metric}
    return ShardedDataset(source=source, shards=tuple(shards), dim=int(widths[first]),
                          embedding_column=emb, id_column=id_column,
                          columns=tuple(c for c in (columns or ()) if c != id_column),
                          options=options)


#: Rows a Parquet shard's vectors are decoded in at a time: pyarrow's decoder of a whole
#: list column peaks at about five times the column's size, a batch at a time at about one
#: batch beside the result (and faster).
READ_BATCH_ROWS = 8192


def _read_vectors(path: str, column: str, rows: int, dim: int, where: str) -> np.ndarray:
    """The float32 vectors of the list column ``column`` of a Parquet shard expected to hold
    ``rows`` rows of width ``dim``, decoded in batches into one array; an error names the
    shard and the first bad row."""
    import pyarrow.parquet as pq

    from .loading import _matrix_from_arrow_list

    X = np.empty((rows, dim), np.float32)
    at = 0
    with pq.ParquetFile(path) as f:
        for batch in f.iter_batches(batch_size=READ_BATCH_ROWS, columns=[column],
                                    use_threads=False):
            part = _matrix_from_arrow_list(batch.column(0), column, where, first_row=at)
            if part.shape[1] != dim:
                raise ExplorerError(f"{where}: vectors of width {part.shape[1]} (row {at}), but "
                                    f"the dataset's are {dim}; every shard must come from the "
                                    "same model.")
            if at + len(part) > rows:
                at += len(part)
                break
            X[at : at + len(part)] = part
            at += len(part)
    if at != rows:
        held = f"more than {rows:,}" if at > rows else f"{at:,}"
        raise ExplorerError(f"{where}: holds {held} rows; it had {rows:,} when the dataset was "
                            "opened. Do not change shards during a run.")
    return X


def read_block(data: ShardedDataset, shard: Shard, columns=(), metric: str = "euclidean"
               ) -> Block:
    """The rows of ``shard``, checked: every vector present, of the dataset's width, finite
    (and not all zeros under cosine); an error names the shard and the first bad row."""
    import pyarrow.parquet as pq

    from .tables import arrow_to_frame

    where = f"shard {shard.name}"
    path = regular_file(shard.path, "shard")
    columns = [c for c in columns if c]
    for c in columns:
        if c not in data.columns and c != data.id_column:
            raise ExplorerError(f"Column {c!r} is not in the shards of {data.source}. Their "
                                f"columns are: {preview(data.columns, 12) or '(none)'}.")
    wanted = list(dict.fromkeys(([data.id_column] if data.id_column else []) + columns))
    if shard.kind == "npy":
        from .arrays import read_npy

        X = np.ascontiguousarray(read_npy(path, where), dtype=np.float32)
        table = None
        if wanted:
            meta = regular_file(shard.meta, "shard metadata")
            table = pq.read_table(meta, columns=wanted)
    else:
        from .tables import _check_parquet_cost

        _check_parquet_cost(path, where)
        try:
            table = pq.read_table(path, columns=wanted) if wanted else None
            X = _read_vectors(path, data.embedding_column, shard.rows, data.dim, where)
        except ExplorerError:
            raise
        except Exception as exc:  # damaged pages: pyarrow raises OSError, ArrowInvalid, ...
            raise ExplorerError(f"{where}: could not be read as .parquet ({exc}).") from None
    n = X.shape[0]
    if n != shard.rows:
        raise ExplorerError(f"{where}: holds {n} rows; it had {shard.rows} when the dataset was "
                            "opened. Do not change shards during a run.")
    if n and X.shape[1] != data.dim:
        raise ExplorerError(f"{where}: vectors of width {X.shape[1]} (row 0), but the dataset's "
                            f"are {data.dim}; every shard must come from the same model.")
    index = np.arange(shard.offset, shard.offset + n, dtype=np.int64)
    frame = arrow_to_frame(table, where) if table is not None else None
    if data.id_column:
        ids_col = frame[data.id_column]
        if ids_col.isna().any():
            row = int(np.flatnonzero(ids_col.isna().to_numpy())[0])
            raise ExplorerError(f"{where}: id column {data.id_column!r} is empty at row {row}.")
        ids = ids_col.to_numpy()
        if ids.dtype == object:
            ids = ids.astype(str)
    else:
        ids = index
    bad = ~np.isfinite(X).all(axis=1)
    if metric == "cosine":
        bad |= ~X.any(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        what = "holds NaN or inf" if not np.isfinite(X[row]).all() else "is all zeros (no " \
            "direction under the cosine metric)"
        raise ExplorerError(f"{where}: row {row} (id {ids[row]}) {what}; {int(bad.sum())} row(s) "
                            "of this shard are invalid. Fix or drop them.")
    cols = {c: frame[c].to_numpy() for c in columns} if columns else {}
    return Block(X, index, np.asarray(ids), cols)


def id_hashes(ids: np.ndarray) -> np.ndarray:
    """A 64-bit hash of every id, the same for the same id whatever shard holds it: integer
    ids are their own value, text ids the first 8 bytes of their BLAKE2b.

    >>> id_hashes(np.array([3, 4])).tolist()
    [3, 4]
    """
    ids = np.asarray(ids)
    if ids.dtype.kind in "iu":
        return ids.astype(np.int64).view(np.uint64)
    out = np.empty(len(ids), dtype=np.uint64)
    for i, v in enumerate(ids.tolist()):
        out[i] = int.from_bytes(hashlib.blake2b(str(v).encode("utf-8"), digest_size=8).digest(),
                                "little")
    return out


def block_digest(block: Block) -> str:
    """BLAKE2b of one block's embeddings and ids (as the single-file fingerprint takes them)."""
    from .dataset import fingerprint

    if block.n == 0:
        return hashlib.blake2b(b"empty", digest_size=16).hexdigest()
    return fingerprint(block.X, block.ids)


def write_shards(data, folder, cuts, *, embedding_column: str = "embedding",
                 id_column: str = "id", force: bool = False) -> list[Path]:
    """Write a Dataset as Parquet shards ``part-00000.parquet``, ... in ``folder``: shard i
    holds rows ``cuts[i]:cuts[i + 1]`` (an equal cut is an empty shard) with the ids, the
    metadata and the vectors as a fixed-size-list column. Each file through
    :func:`explorer.data.atomic.atomic_path`.

    >>> import tempfile, explorer
    >>> folder = Path(tempfile.mkdtemp())
    >>> d = explorer.Dataset.from_arrays(np.eye(3, dtype=np.float32))
    >>> [p.name for p in write_shards(d, folder, [0, 2, 3])]
    ['part-00000.parquet', 'part-00001.parquet']
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .atomic import atomic_path

    folder = Path(folder)
    written = []
    for i in range(len(cuts) - 1):
        a, b = int(cuts[i]), int(cuts[i + 1])
        X = np.ascontiguousarray(data.embeddings[a:b], dtype=np.float32)
        flat = pa.array(X.reshape(-1), type=pa.float32())
        emb = pa.FixedSizeListArray.from_arrays(flat, X.shape[1])
        meta = data.metadata.iloc[a:b].reset_index(drop=True)
        rest = pa.Table.from_pandas(meta.drop(columns=[c for c in meta.columns
                                                       if c == id_column]),
                                    preserve_index=False)
        table = pa.table({id_column: pa.array(np.asarray(data.ids[a:b]).tolist())})
        for name, column in zip(rest.column_names, rest.columns):  # none: a table of ids
            table = table.append_column(name, column)
        table = table.append_column(embedding_column, emb)
        target = folder / f"part-{i:05d}.parquet"
        with atomic_path(target, force=force, what="shard") as tmp:
            pq.write_table(table, tmp)
        written.append(target)
    return written
