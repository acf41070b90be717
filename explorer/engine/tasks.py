"""Partitions and the per-partition tasks every engine runs.

A partition is one shard of a :class:`~explorer.data.shards.ShardedDataset` (read when the
task runs, on whichever worker runs it) or a slice of an in-memory matrix. Tasks are plain
module-level functions of picklable arguments, so Dask sends them by reference; each reads
its partition, works with the same kernels as the single-machine strategies
(``strategies.kcenter.kcenter_sweep``, ``space.nearest``, ``semdedup_cluster_profile``,
``leader_dedup``, the facility-location search) and returns a small result.

Randomness that must agree across partitions is keyed by (seed, row id)
(:func:`row_keys`), never by partition order or by which worker ran what.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import space
from ..data.shards import Block, block_digest, id_hashes, read_block

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (Steele, Lea & Flood, OOPSLA 2014), vectorised: a bijection of
    uint64 whose outputs look uniform."""
    with np.errstate(over="ignore"):
        z = (np.asarray(x, dtype=np.uint64) + _GOLDEN).astype(np.uint64)
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def row_keys(ids: np.ndarray, seed: int) -> np.ndarray:
    """A uniform 64-bit key per row from (seed, row id): the same for a row whatever shard
    or worker holds it, so the k smallest keys are a uniform sample that every engine agrees
    on.

    >>> a = row_keys(np.array(["x", "y", "z"]), 7)
    >>> bool((a == row_keys(np.array(["x", "y", "z"]), 7)).all()), bool(a[0] != a[1])
    (True, True)
    """
    seed_key = _mix64(np.array([seed], dtype=np.uint64))[0]
    return _mix64(id_hashes(ids) ^ seed_key)


def unit_uniform(keys: np.ndarray) -> np.ndarray:
    """Keys as floats in (0, 1) (53 bits), for Gumbel noise."""
    return ((keys >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


@dataclass(frozen=True, eq=False)
class Part:
    """A partition: rows ``offset .. offset + rows - 1`` of the dataset, named for messages.
    ``excluded`` (sorted global indices inside that range) are rows the run must not see:
    :func:`load` leaves them out, as a one-machine strategy leaves out ``excluded`` rows."""

    name: str
    offset: int
    rows: int
    excluded: np.ndarray | None = None

    @property
    def rows_seen(self) -> int:
        """The rows :func:`load` gives: ``rows`` less the excluded ones."""
        return self.rows - (0 if self.excluded is None else len(self.excluded))

    def read(self, metric: str, columns=()) -> Block:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class ShardPart(Part):
    data: object = None
    shard: object = None

    def read(self, metric: str, columns=()) -> Block:
        return read_block(self.data, self.shard, columns, metric=metric)


@dataclass(frozen=True, eq=False)
class ArrayPart(Part):
    X: np.ndarray = None
    ids: np.ndarray = None
    frame: object = None

    def read(self, metric: str, columns=()) -> Block:
        cols = {c: self.frame[c].to_numpy() for c in columns if c} if columns else {}
        index = np.arange(self.offset, self.offset + self.rows, dtype=np.int64)
        return Block(np.asarray(self.X, dtype=np.float32), index, self.ids, cols)


def load(part: Part, metric: str, columns=(), every_row: bool = False) -> Block:
    """The partition's rows, prepared for ``metric`` (cosine: unit rows, as
    :func:`explorer.space.prepare` makes them on one machine); without its excluded rows
    unless ``every_row`` (reading rows by index: :func:`take_rows`)."""
    block = part.read(metric, columns)
    if not every_row and part.excluded is not None and len(part.excluded):
        keep = ~np.isin(block.index, part.excluded)
        block = Block(block.X[keep], block.index[keep], block.ids[keep],
                      {c: v[keep] for c, v in block.columns.items()})
    if block.n == 0 or metric == "euclidean":
        return block
    return Block(space.prepare(block.X, metric, ids=block.ids, where=f"shard {part.name}"),
                 block.index, block.ids, block.columns)


# --- reading and sampling ---------------------------------------------------------------


def scan(part: Part, metric: str) -> dict:
    """Read and check every row; the rows, the digest of embeddings and ids."""
    block = part.read(metric)
    return {"rows": block.n, "digest": block_digest(block)}


def smallest_keys(part: Part, metric: str, seeds, k: int) -> list:
    """Per seed, the ``k`` rows with the smallest keys (key, global index, id), in key
    order. Several seeds share one read (the random draws of a scorecard)."""
    block = load(part, metric)
    out = []
    for seed in seeds:
        keys = row_keys(block.ids, seed)
        order = np.lexsort((block.index, keys))[:k]
        out.append((keys[order], block.index[order], block.ids[order]))
    return out


def merge_smallest(pieces, k: int):
    """The ``k`` smallest (key, index, ...) over partitions' results, ties by index."""
    pieces = [p for p in pieces if len(p[0])]
    if not pieces:
        return tuple(np.zeros(0) for _ in range(3))
    cols = [np.concatenate([p[j] for p in pieces]) for j in range(len(pieces[0]))]
    order = np.lexsort((cols[1], cols[0]))[:k]
    return tuple(c[order] for c in cols)


def take_rows(part: Part, metric: str, index: np.ndarray, columns=(), vectors: bool = True
              ) -> dict:
    """Rows of this partition whose global index is in ``index`` (sorted): their index, id,
    prepared vector (unless ``vectors`` is False) and the metadata ``columns``."""
    block = load(part, metric, columns, every_row=True)
    pos = np.flatnonzero(np.isin(block.index, index))
    return {"index": block.index[pos], "ids": block.ids[pos],
            "X": block.X[pos] if vectors else None,
            "columns": {c: v[pos] for c, v in block.columns.items()}}


def rows_where(part: Part, metric: str, node: dict) -> np.ndarray:
    """Global indices of this partition's rows where the filter (a JSON node of
    :mod:`explorer.data.filters`, read by its whitelisted grammar) holds."""
    import pandas as pd

    from ..data.filters import evaluate, from_json

    flt = from_json(node)
    block = part.read(metric, sorted(flt.columns()))
    if block.n == 0:
        return np.zeros(0, np.int64)
    mask = evaluate(flt, pd.DataFrame(block.columns), "target query")
    return block.index[mask]


# --- groups (strata, clusters) ----------------------------------------------------------


def _codes(block: Block, how: tuple):
    """Group code of every row, and its distance to its centre (None for a column)."""
    if how[0] == "column":
        _, name, values = how
        col = np.asarray(block.columns[name])
        missing = np.flatnonzero(col == None) if col.dtype == object else []  # noqa: E711
        if len(missing):
            from ..errors import ExplorerError

            raise ExplorerError(f"Column {name!r} is empty at global row "
                                f"{int(block.index[missing[0]])}; fill it or drop the row.")
        col = col.astype(str)
        if values is None:
            return col, None
        return np.searchsorted(values, col), None
    _, centres, unit = how
    X = _unit(block.X) if unit else block.X
    dist, labels = space.nearest(X, centres, "euclidean")
    return labels.astype(np.int64), dist


def group_counts(part: Part, metric: str, how: tuple):
    """Rows per group: (values, counts) for a column, counts per centre otherwise."""
    block = load(part, metric, [how[1]] if how[0] == "column" else ())
    codes, _ = _codes(block, how)
    if how[0] == "column":
        return np.unique(codes, return_counts=True)
    return np.bincount(codes, minlength=len(how[1]))


def grouped_smallest(part: Part, metric: str, how: tuple, quota: np.ndarray, order: str,
                     seed: int):
    """Per group g, this partition's ``quota[g]`` first rows by ``order``: 'key' (the
    (seed, id) key: a uniform sample of the group) or 'distance' (nearest the group's centre,
    ties by index). Returns (group, score, index, id) arrays."""
    block = load(part, metric, [how[1]] if how[0] == "column" else ())
    codes, dist = _codes(block, how)
    if order == "key":
        score = row_keys(block.ids, seed)
    else:
        score = dist
    ranked = np.lexsort((block.index, score, codes))
    codes_r = codes[ranked]
    starts = np.searchsorted(codes_r, np.arange(len(quota)))
    within = np.arange(len(ranked)) - starts[codes_r]
    keep = ranked[within < np.asarray(quota)[codes_r]]
    return codes[keep], score[keep], block.index[keep], block.ids[keep]


# --- k-center -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadEachTime:
    """A partition that a task reads when it runs, instead of a Block held in memory."""

    part: Part
    metric: str


@dataclass(frozen=True, eq=False)
class OnLocalDisk:
    """A partition's prepared rows written once, as raw float32, to the disk of the worker
    that read them; each task that needs them maps the file into memory (what fits stays in
    the operating system's page cache, outside the worker's memory limit)."""

    part: Part
    metric: str
    path: str
    index: np.ndarray
    ids: np.ndarray


#: A partition is copied to local disk only while the disk keeps this much free beside it.
DISK_MARGIN_BYTES = 1 << 30


def _scratch_folder() -> str:
    """The running Dask worker's own folder (removed with the worker), else the system's
    temporary folder (the local engine)."""
    import sys
    import tempfile

    if "distributed" in sys.modules:
        from distributed import get_worker

        try:
            return get_worker().local_directory
        except ValueError:  # not inside a worker
            pass
    return tempfile.gettempdir()


def _has_room(folder: str, nbytes: int) -> bool:
    """Whether ``folder``'s disk keeps :data:`DISK_MARGIN_BYTES` free beside ``nbytes``."""
    import shutil

    return shutil.disk_usage(folder).free >= nbytes + DISK_MARGIN_BYTES


def _write_rows(folder: str, X: np.ndarray) -> str:
    """``X`` as a raw float32 ``.npy`` file of its own in ``folder``; its path."""
    import os
    import tempfile

    fd, path = tempfile.mkstemp(dir=folder, prefix="explorer-rows-", suffix=".npy")
    with os.fdopen(fd, "wb") as f:
        np.save(f, np.ascontiguousarray(X, dtype=np.float32))
    return path


def to_local_disk(part: Part, metric: str):
    """Read the partition once and write its prepared rows to this worker's disk
    (:class:`OnLocalDisk`); :class:`ReadEachTime` when the disk has no room for them."""
    block = load(part, metric)
    folder = _scratch_folder()
    if not _has_room(folder, block.X.nbytes):
        return ReadEachTime(part, metric)
    return OnLocalDisk(part, metric, _write_rows(folder, block.X), block.index, block.ids)


def drop_local_copy(source) -> None:
    """Remove an :class:`OnLocalDisk` partition's file (nothing for other sources)."""
    import os

    if isinstance(source, OnLocalDisk):
        try:
            os.remove(source.path)
        except FileNotFoundError:
            pass


def block_of(source) -> Block:
    """A partition's rows: a Block held in memory, mapped from its copy on local disk
    (:class:`OnLocalDisk`; read from the shard again when the copy is not on this machine),
    or read now (:class:`ReadEachTime`). The k-center rounds hold the blocks in the
    workers' memory when the data fits there, else copy them to the workers' disks."""
    if isinstance(source, OnLocalDisk):
        try:  # copy-on-write: a writable view that never changes the file
            X = np.load(source.path, mmap_mode="c")
        except OSError:  # written by a worker on another machine
            return load(source.part, source.metric)
        return Block(np.asarray(X), source.index, source.ids)
    if isinstance(source, ReadEachTime):
        return load(source.part, source.metric)
    return source


def local_position(block: Block, index: int) -> int:
    """The position of global row ``index`` in ``block`` (its rows ascending, with gaps
    where rows are excluded), or -1 when the block does not hold it."""
    at = int(np.searchsorted(block.index, index))
    return at if at < block.n and int(block.index[at]) == index else -1


def kcenter_start(rows: int) -> dict:
    """Per-partition k-center state for ``rows`` rows: nearest distance, nearest centre,
    candidacy."""
    return {"mind": np.full(rows, np.inf), "assign": np.full(rows, -1, np.int64),
            "candidate": np.ones(rows, dtype=bool), "evaluations": 0, "best": None}


def kcenter_round(source, state: dict, centre: np.ndarray, centre_index: int,
                  cc: np.ndarray, k: int) -> dict:
    """Add the k-th centre (vector ``centre``, global row ``centre_index``; ``cc`` its
    distances to the earlier centres) to a copy of ``state``: the one-machine kernel
    :func:`~explorer.strategies.kcenter.kcenter_sweep` over this partition (``source``, see
    :func:`block_of`). The state keeps the partition's farthest candidate after the round
    (:func:`kcenter_best`), so no other task needs the rows."""
    from ..strategies.kcenter import kcenter_sweep

    block = block_of(source)
    out = {"mind": state["mind"].copy(), "assign": state["assign"].copy(),
           "candidate": state["candidate"].copy(), "evaluations": state["evaluations"]}
    if block.n == 0:
        out["best"] = (-1.0, -1, None, out["evaluations"])
        return out
    local = local_position(block, centre_index)
    if local >= 0:
        out["candidate"][local] = False
    j, dist, evaluations = kcenter_sweep(block.X, np.ascontiguousarray(centre, np.float32),
                                         cc, out["mind"], out["assign"], out["candidate"], k)
    out["evaluations"] += evaluations
    if j < 0:  # no candidate left in this partition
        out["best"] = (-1.0, -1, None, out["evaluations"])
    else:  # ties: lowest index, as on one machine
        out["best"] = (dist, int(block.index[j]), block.X[j].copy(), out["evaluations"])
    return out


def kcenter_best(state: dict):
    """This partition's farthest candidate after the last round: (distance, global index,
    vector, evaluations)."""
    return state["best"]


def row_vector(source, index: int):
    """The vector of global row ``index`` when this partition (``source``, see
    :func:`block_of`) holds it, else None."""
    block = block_of(source)
    local = local_position(block, index)
    return block.X[local].copy() if local >= 0 else None


def local_traversal(part: Part, metric: str, seed: int, m: int):
    """Farthest-first traversal inside the partition (``m`` picks, from its row with the
    smallest (seed, id) key): the partition's part of the k-center core-set."""
    from ..strategies.kcenter import farthest_point_order

    block = load(part, metric)
    if block.n == 0:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    start = int(np.lexsort((block.index, row_keys(block.ids, seed)))[0])
    m = min(m, block.n)
    cand = np.ones(block.n, dtype=bool)
    picks, _, _ = farthest_point_order(block.X, np.array([start]), m - 1, cand)
    local = np.concatenate([[start], picks]).astype(np.int64)
    return block.index[local], block.X[local].copy()


def farthest_distance(part: Part, metric: str, centres: np.ndarray):
    """(largest, sum of) each row's distance to its nearest centre: the k-center radius."""
    block = load(part, metric)
    if block.n == 0:
        return 0.0, 0.0, 0
    d, _ = space.nearest(block.X, centres, "euclidean")
    return float(d.max()), float(d.sum()), block.n


# --- deduplication ------------------------------------------------------------------------


def _unit(A: np.ndarray) -> np.ndarray:
    from ..strategies.semdedup import _unit as unit

    return unit(A)


@dataclass(frozen=True)
class Shuffle:
    """How the shuffle splits every partition: rows prepared for ``metric`` (unit rows when
    ``unit``), each to the bucket of its nearest of ``centres`` (cluster mod ``buckets``)."""

    metric: str
    centres: np.ndarray
    unit: bool
    buckets: int


@dataclass(frozen=True, eq=False)
class Piece:
    """One bucket's rows of one partition: their cluster, global index and id in memory, and
    their vectors either in a raw float32 file on the disk of the worker that split the
    partition (``path``) or, when that disk had no room, here (``X``)."""

    part: Part
    bucket: int
    labels: np.ndarray
    index: np.ndarray
    ids: np.ndarray
    path: str | None = None
    X: np.ndarray | None = None


def _split(part: Part, shuffle: Shuffle):
    """The partition's rows, their clusters and buckets."""
    block = load(part, shuffle.metric)
    if block.n == 0:
        return block, np.zeros(0, np.int64), np.zeros(0, np.int64)
    labels, _ = _codes(block, ("centres", shuffle.centres, shuffle.unit))
    return block, labels, labels % shuffle.buckets


def cluster_pieces(part: Part, shuffle: Shuffle) -> list:
    """This partition's rows split by bucket, in row order: a :class:`Piece` per bucket, its
    vectors written to this worker's disk (so the shuffle holds about nothing but ids in the
    workers' memory; data larger than their memory passes through their disks once)."""
    block, labels, bucket = _split(part, shuffle)
    folder = _scratch_folder()
    on_disk = block.n > 0 and _has_room(folder, block.X.nbytes)
    out = []
    for b in range(shuffle.buckets):
        m = bucket == b
        X = block.X[m]
        keep = {"path": _write_rows(folder, X)} if on_disk and len(X) else {"X": X}
        out.append(Piece(part, b, labels[m], block.index[m], block.ids[m], **keep))
    return out


def piece(pieces: list, b: int, shuffle: Shuffle) -> Piece:
    """Bucket ``b`` of :func:`cluster_pieces`' result with its vectors in memory, read from
    this worker's disk (the file is removed: the bucket's task is its only reader). A task
    of its own, run where the partition was split, just before its bucket's task, so only
    that bucket's rows move. Split again from the partition when the file is not on this
    machine (the task was moved, or a failed try read it)."""
    import os

    p = pieces[b]
    if p.path is None:
        return p
    try:
        X = np.load(p.path)
    except OSError:
        block, _, bucket = _split(p.part, shuffle)
        X = np.ascontiguousarray(block.X[bucket == b])
    else:
        os.remove(p.path)
    return Piece(p.part, b, p.labels, p.index, p.ids, X=X)


def _bucket_rows(pieces):
    labels = np.concatenate([p.labels for p in pieces])
    index = np.concatenate([p.index for p in pieces])
    ids = np.concatenate([np.asarray(p.ids) for p in pieces])
    order = np.argsort(index, kind="stable")  # global row order, as on one machine
    at = np.empty_like(order)
    at[order] = np.arange(len(order))
    X = np.empty((len(order), pieces[0].X.shape[1]), np.float32)
    start = 0
    for p in pieces:  # each piece straight to its rows' places: one copy of the bucket
        X[at[start : start + len(p.X)]] = p.X
        start += len(p.X)
    return labels[order], index[order], ids[order], X


def semdedup_bucket(centres: np.ndarray, *pieces):
    """SemDeDup's per-row profile for the clusters of one bucket: every row's largest cosine
    similarity to an earlier row of its cluster (rows ordered farthest from the centroid
    first) and that row (:func:`~explorer.strategies.semdedup.semdedup_cluster_profile`, the
    one-machine kernel). Returns (cluster, index, id, best, partner index) and the pairs
    compared per cluster."""
    from ..strategies.semdedup import semdedup_cluster_profile

    labels, index, ids, X = _bucket_rows(pieces)
    best = np.full(len(index), -np.inf)
    partner = np.full(len(index), -1, dtype=np.int64)
    pairs = {}
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        order, b, p = semdedup_cluster_profile(X[members], centres[c])
        best[members[order]] = b
        partner[members[order]] = np.where(p >= 0, index[members[np.maximum(p, 0)]], -1)
        pairs[int(c)] = len(members) * (len(members) - 1) // 2
    return labels, index, ids, best, partner, pairs


def dedup_bucket(limit_sq: float, *pieces):
    """Leader dedup (the one-machine :func:`~explorer.strategies.dedup.leader_dedup`) inside
    each cluster of one bucket, rows scanned in global order. Returns the kept global indices
    and ids, and the pairs bound per cluster (rows compared with each kept row)."""
    from ..strategies.dedup import leader_dedup

    labels, index, ids, X = _bucket_rows(pieces)
    kept = []
    sizes = {}
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        keep = leader_dedup(X[members], np.arange(len(members)), limit_sq,
                            np.zeros(0, np.int64))
        kept.append(members[keep])
        sizes[int(c)] = len(members)
    kept = np.sort(np.concatenate(kept)) if kept else np.zeros(0, np.int64)
    return index[kept], ids[kept], sizes


# --- facility location (GreeDi) -----------------------------------------------------------


def local_facility(part: Part, metric: str, budget: int, params: dict, seed: int):
    """The one-machine facility-location strategy on this partition alone (``budget``
    picks): its global indices and vectors, for the union of GreeDi's second round."""
    from ..strategies.base import Problem
    from ..strategies.facility import facility_location

    block = load(part, metric)
    if block.n == 0:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    k = min(budget, block.n)
    problem = Problem(X=block.X, metric=metric, budget=k,
                      rng=np.random.default_rng(seed), pinned=np.zeros(0, np.int64),
                      excluded=np.zeros(0, np.int64), allowed=np.ones(block.n, dtype=bool))
    picks = facility_location(problem, **params)
    local = np.asarray(picks.indices, dtype=np.int64)
    return block.index[local], block.X[local].copy()


# --- DSIR ------------------------------------------------------------------------------------


def projected_moments(part, metric, model):
    """Count, sum and sum of outer products of the rows projected by ``model``."""
    block = load(part, metric)
    Z = (block.X.astype(np.float64) - model[1]) @ model[0].T
    return block.n, Z.sum(axis=0), Z.T @ Z


def dsir_keys(part, metric, model, target, pool, seed, k):
    """Per row log w = log p_target - log p_pool plus Gumbel noise from hash(seed, id); the
    partition's k largest."""
    from ..strategies.targeted import _gaussian_logpdf

    block = load(part, metric)
    if block.n == 0:
        return np.zeros(0), np.zeros(0, np.int64), np.zeros(0)
    Z = (block.X.astype(np.float64) - model[1]) @ model[0].T
    logw = _gaussian_logpdf(Z, *target) - _gaussian_logpdf(Z, *pool)
    u = unit_uniform(row_keys(block.ids, seed))
    score = logw - np.log(-np.log(u))
    top = np.lexsort((block.index, -score))[:k]
    return score[top], block.index[top], block.ids[top]


# --- scorecard ----------------------------------------------------------------------------


def coverage(part: Part, metric: str, subsets: list):
    """Per subset (an array of prepared vectors): the largest and the sum of every row's
    distance (in ``metric``) to its nearest subset row. One matrix product per subset."""
    block = load(part, metric)
    out = []
    for S in subsets:
        if block.n == 0:
            out.append((0.0, 0.0))
            continue
        d, _ = space.nearest(block.X, S, metric)
        out.append((float(d.max()), float(d.sum())))
    return out, block.n


def feature_sum(part: Part, metric: str, W: np.ndarray, b: np.ndarray):
    """Sum over the partition's rows of their random Fourier features (Rahimi & Recht 2007):
    the population side of the MMD."""
    block = load(part, metric)
    if block.n == 0:
        return np.zeros(W.shape[1]), 0
    Z = np.cos(block.X.astype(np.float64) @ W + b) * np.sqrt(2.0 / W.shape[1])
    return Z.sum(axis=0), block.n
