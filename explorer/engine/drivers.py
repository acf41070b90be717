"""Distributed forms of the strategies and the scorecard, written once for every engine.

Each driver runs rounds of per-partition tasks (:mod:`explorer.engine.tasks`) on an engine
and merges their small results here. The local engine runs the same tasks in this process,
one partition at a time, so the local and the Dask engine give the same result by
construction, and the tests check it.

=================  =====================================================  =================
strategy           distributed form                                       equal to one
                                                                          machine
=================  =====================================================  =================
random,            keys from hash(seed, row id), per-partition smallest   identical ids
stratified, dsir   keys (per stratum; DSIR: log-weight + Gumbel key),
                   merged
k-center exact     farthest-first across partitions: per round the new    identical ids (and
                   centre is sent to every partition, which lowers its    to ``select``'s
                   rows' nearest distances with the one-machine kernel    k-center)
                   and returns its farthest row; the driver takes the
                   farthest of those
k-center coreset   farthest-first inside each partition (4 k picks), then radius <= 4 x the
                   farthest-first on their union                          optimum (proved)
k-means            k-means fitted on a uniform sample (256 rows per       identical ids for
                   centroid), every row assigned where it is, per-cluster the same centroids
                   picks by distance or key, merged
facility-location  RandGreeDi: the one-machine greedy in each partition   objective measured
                   (2 k picks), greedy on the union scored on a uniform   against one machine
                   sample of the whole, the better of that and the best
                   partition's picks
dedup, semdedup    k-means on a sample, rows shuffled to buckets of       semdedup identical;
                   clusters, the one-machine kernel per cluster, a        dedup identical with
                   stored (id, nearest earlier id, similarity) profile    one cluster
=================  =====================================================  =================
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

import numpy as np

from .. import space
from ..errors import ExplorerError
from ..params import Interval, Param, ParamSet, parameter_error
from . import tasks

#: Rows per in-memory partition when an in-memory dataset runs on an engine.
ARRAY_PART_ROWS = 100_000
#: Rows per centroid in the uniform sample that k-means is fitted on.
SAMPLE_PER_CENTROID = 256
#: Rows of the uniform sample that GreeDi's union greedy is scored on.
FACILITY_SAMPLE = 5_000


@dataclass(frozen=True)
class Form:
    """How a strategy runs on an engine: its modes (first: the default), the bound each
    mode keeps, and parameters only the distributed form has."""

    modes: tuple
    bounds: dict
    extra: tuple = ()
    refuse: dict = field(default_factory=dict)  # param -> values the form cannot take


FORMS = {
    "random": Form(("exact",), {"exact": "identical ids on every engine (keys from hash(seed, "
                                          "row id))"}),
    "stratified": Form(("exact",), {"exact": "identical ids on every engine (per-stratum "
                                              "smallest keys)"}),
    "dsir": Form(("exact",), {"exact": "identical ids on every engine (Gumbel keys from "
                                        "hash(seed, row id))"}),
    "k-center": Form(("exact", "coreset"), {
        "exact": "identical to one machine's farthest-first: radius <= 2 x optimal "
                 "(Gonzalez 1985)",
        "coreset": "radius <= 4 x optimal: farthest-first on the union of each partition's "
                   "farthest-first picks (Malkomes et al., NeurIPS 2015)"}),
    "k-means": Form(("exact",), {"exact": "identical ids for the same centroids (fitted on a "
                                           "uniform sample of 256 rows per centroid)"},
                    refuse={"pick": ("median",)}),
    "facility-location": Form(("greedi",), {
        "greedi": "RandGreeDi (Barbosa et al., ICML 2015): (1 - 1/e) / 2 of optimal in "
                  "expectation when rows are spread over partitions at random; objective "
                  "scored on a uniform sample"}),
    "dedup": Form(("exact",), {
        "exact": "leader dedup inside k-means clusters: identical to one machine with one "
                 "cluster; pairs in different clusters are not compared"},
        extra=(Param("clusters", Interval("int", 1, None), 1,
                     "k-means clusters the rows are split into before the leader scan; "
                     "pairs in different clusters are not compared."),),
        refuse={"keep": ("random",)}),
    "semdedup": Form(("exact",), {
        "exact": "SemDeDup (Abbas et al. 2023) per k-means cluster, as on one machine; pairs "
                 "in different clusters are not compared (as in the paper)"}),
}


def supported() -> tuple:
    return tuple(FORMS)


def check_form(strategy: str) -> None:
    """Refuse a strategy that has no distributed form, naming those that have one (an
    unknown name gets the registry's message)."""
    if strategy not in FORMS:
        from ..strategies import get_strategy

        get_strategy(strategy)  # an unknown name: the registry's message
        raise ExplorerError(f"Strategy {strategy!r} has no distributed form; on an engine or a "
                            f"sharded dataset use one of: {', '.join(FORMS)}.")


def _merge_params(strategy: str, params: dict | None):
    """The strategy's own parameters (checked by its registry entry) and the distributed
    form's extra ones (checked by theirs)."""
    from ..strategies import get_strategy

    spec = get_strategy(strategy)
    form = FORMS[strategy]
    params = dict(params or {})
    extra_names = {p.name for p in form.extra}
    own = {k: v for k, v in params.items() if k not in extra_names}
    resolved = spec.params.resolve(own)
    extra = ParamSet(strategy, form.extra).resolve(
        {k: v for k, v in params.items() if k in extra_names}) if form.extra else {}
    for name, values in form.refuse.items():
        if resolved.get(name) in values:
            raise ExplorerError(f"{strategy}: {name}={resolved[name]!r} has no distributed form "
                                f"yet; use another {name}, or --engine local on one file.")
    return spec, resolved, extra


class Run:
    """One run of a driver: the engine, the partitions, the metric and the progress.

    ``excluded`` (global row indices) are rows the run does not see, as a one-machine
    strategy does not see ``select``'s excluded rows: they are neither picked, nor sampled,
    nor counted, nor measured (each partition drops its own when it loads). ``n`` is every
    row (the range of global indices); ``n_seen`` the rows the run sees."""

    def __init__(self, data, engine, metric: str, progress=None, excluded=None):
        from dataclasses import replace

        from ..data.shards import ShardedDataset

        self.data = data
        self.engine = engine
        self.metric = metric
        self.progress = progress
        if isinstance(data, ShardedDataset):
            self.parts = [tasks.ShardPart(s.name, s.offset, s.rows, data=data, shard=s)
                          for s in data.shards]
        else:
            n = data.n
            size = max(1, min(ARRAY_PART_ROWS, math.ceil(n / max(2, 2 * engine.workers))))
            X = space.prepare(data.embeddings, "euclidean")
            self.parts = [tasks.ArrayPart(f"rows {s}-{min(n, s + size) - 1}", s,
                                          min(n, s + size) - s, X=X[s : s + size],
                                          ids=data.ids[s : s + size],
                                          frame=data.metadata.iloc[s : s + size])
                          for s in range(0, n, size)]
        self.n = int(sum(p.rows for p in self.parts))
        self.excluded = np.unique(np.asarray([] if excluded is None else excluded, np.int64))
        if len(self.excluded):
            self.parts = [replace(p, excluded=self.excluded[
                (self.excluded >= p.offset) & (self.excluded < p.offset + p.rows)])
                for p in self.parts]
        self.n_seen = self.n - len(self.excluded)
        if self.n_seen == 0:
            raise ExplorerError(f"Every one of the {self.n} rows is excluded; nothing is left "
                                "to select from or measure.")
        self.timings: dict = {}

    def seen_row(self, position: int) -> int:
        """The global index of the ``position``-th row the run sees (rows in order, the
        excluded ones skipped): what one machine's ``rng.choice`` over the allowed rows
        returns for that position."""
        if len(self.excluded) == 0:
            return int(position)
        # the answer r satisfies r - (excluded rows below r) = position, r not excluded
        shifted = self.excluded - np.arange(len(self.excluded))
        return int(position + np.searchsorted(shifted, position, side="right"))

    def say(self, fraction: float, message: str) -> None:
        if self.progress is not None:
            self.progress(float(min(max(fraction, 0.0), 1.0)), message)

    def map(self, func, *args, what: str = "", parts=None):
        """``func(part, metric, *args)`` on every partition; results in partition order."""
        start = time.perf_counter()
        parts = self.parts if parts is None else parts
        handles = [self.engine.submit(func, p, self.metric, *args,
                                      label=f"{func.__name__}-{p.name}") for p in parts]
        out = self.engine.gather(handles, progress=(lambda f, m: self.say(f, m)) if what
                                 else None, what=what)
        self.timings[func.__name__] = self.timings.get(func.__name__, 0.0) + \
            time.perf_counter() - start
        return out

    # shared steps --------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """Read and check every partition once; the dataset's fingerprint (BLAKE2b of the
        partitions' digests in order). Remembered on a sharded dataset."""
        import hashlib

        from ..data.shards import ShardedDataset

        if not isinstance(self.data, ShardedDataset):
            return self.data.fingerprint
        if self.data.fingerprint:
            return self.data.fingerprint
        found = self.map(tasks.scan, what="reading and checking every shard")
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{self.n}x{self.data.dim}:sharded\n".encode())
        for part, item in zip(self.parts, found):
            h.update(f"{part.name}:{item['rows']}:{item['digest']}\n".encode())
        self.data._digest.update(fingerprint=h.hexdigest())
        return self.data._digest["fingerprint"]

    def smallest(self, seed: int, k: int):
        """The k rows with the smallest (seed, id) keys: (keys, index, ids), keys only:
        each partition sends its k smallest, merged here (random picks and draws)."""
        found = self.map(tasks.smallest_keys, [seed], k)
        return tasks.merge_smallest([f[0] for f in found], k)

    def rows(self, index: np.ndarray, columns=(), vectors: bool = True) -> dict:
        """Vectors (prepared; None without ``vectors``), ids and metadata ``columns`` of the
        global rows ``index``, in the order given."""
        index = np.asarray(index, dtype=np.int64)
        want = np.unique(index)
        starts = np.array([p.offset for p in self.parts])
        holders = sorted(set(np.searchsorted(starts, want, side="right") - 1))
        parts = [self.parts[i] for i in holders if self.parts[i].rows]
        found = self.map(tasks.take_rows, want, tuple(columns), vectors, parts=parts)
        got_index = np.concatenate([f["index"] for f in found]) if found else np.zeros(0, int)
        pos = np.searchsorted(got_index, index)
        X = np.concatenate([f["X"] for f in found])[pos] if vectors else None
        ids = np.concatenate([np.asarray(f["ids"]) for f in found])[pos]
        cols = {c: np.concatenate([f["columns"][c] for f in found])[pos] for c in columns}
        return {"X": X, "ids": ids, "columns": cols}

    def sample(self, seed: int, m: int) -> tuple[np.ndarray, np.ndarray]:
        """A uniform sample of ``m`` rows (the smallest (seed, id) keys, as :meth:`smallest`
        finds them), in row order: (global indices, prepared vectors), read in one pass
        (:func:`~explorer.engine.sample_map.smallest_key_rows`). All rows when ``m`` is at
        least the rows seen."""
        from .sample_map import smallest_key_rows

        _, index, _, X, _ = smallest_key_rows(self, seed, m)
        order = np.argsort(index)
        return index[order], np.asarray(X[order], dtype=np.float32)


# --- strategies ------------------------------------------------------------------------


def _random(run: Run, k: int, seed: int, **_):
    keys, index, ids = run.smallest(seed, k)
    return index, ids, None, {}


def _quota_picks(run: Run, how: tuple, quota: np.ndarray, order: str, seed: int):
    """Per group, the quota[g] first rows by ``order`` over all partitions:
    [(scores, index, ids) per group]."""
    found = run.map(tasks.grouped_smallest, how, quota, order, seed)
    codes = np.concatenate([f[0] for f in found])
    score = np.concatenate([f[1] for f in found])
    index = np.concatenate([f[2] for f in found])
    ids = np.concatenate([np.asarray(f[3]) for f in found])
    out = []
    for g in range(len(quota)):
        m = np.flatnonzero(codes == g)
        o = m[np.lexsort((index[m], score[m]))][: int(quota[g])]
        out.append((score[o], index[o], ids[o]))
    return out


def _stratified(run: Run, k: int, seed: int, by: str, allocation: str, n_clusters: int,
                label_column=None, group_column=None, **_):
    from ..strategies._allocation import allocate

    if by == "auto":
        by = "label" if label_column else ("group" if group_column else "clusters")
    if by in ("label", "group"):
        column = label_column if by == "label" else group_column
        if column is None:
            raise ExplorerError(f"stratified with by={by!r} needs "
                                f"--{'label' if by == 'label' else 'group'}-column.")
        values, counts = column_counts(run, column)
        how = ("column", column, values)
        strata = f"{by} column {column!r}"
    else:
        centres = _fit_centres(run, n_clusters, seed, unit=False)
        how = ("centres", centres, False)
        counts = np.sum(run.map(tasks.group_counts, how), axis=0)
        strata = "clusters"
    quota = allocate(counts, k, allocation)
    picks = _quota_picks(run, how, quota, "key", seed)
    keys = np.concatenate([p[0] for p in picks])
    index = np.concatenate([p[1] for p in picks])
    ids = np.concatenate([p[2] for p in picks])
    order = np.lexsort((index, keys))  # one random order over the strata
    return index[order], ids[order], None, {"strata": strata, "n_strata": int(len(counts))}


def column_counts(run: Run, column: str, what: str = "") -> tuple[np.ndarray, np.ndarray]:
    """The values of metadata ``column`` (as text, sorted) and their rows, counted in each
    partition and summed."""
    found = run.map(tasks.group_counts, ("column", column, None), what=what)
    values = np.unique(np.concatenate([f[0] for f in found]))
    counts = np.zeros(len(values), np.int64)
    for vals, cnt in found:
        counts[np.searchsorted(values, vals)] += cnt
    return values, counts


def _fit_centres(run: Run, n_clusters: int, seed: int, unit: bool, draw: bool = True):
    """k-means centres fitted on a uniform sample of ``SAMPLE_PER_CENTROID`` rows per
    centroid (all rows when fewer), with the k-means of one machine
    (:func:`explorer.clustering.kmeans`) and the seed it would draw. With the sample being
    every row this is the one-machine clustering itself."""
    from ..clustering import kmeans

    km_seed = int(np.random.default_rng(seed).integers(2**31)) if draw else seed
    m = min(run.n_seen, SAMPLE_PER_CENTROID * max(1, n_clusters))
    _, X = run.sample(seed, m)
    if unit:
        X = tasks._unit(X)
    run.say(0.0, f"k-means: fitting {n_clusters} centroids on {len(X):,} sampled rows")
    return kmeans(X, min(n_clusters, len(X)), seed=km_seed).centers


def _kmeans(run: Run, k: int, seed: int, n_clusters, pick: str, allocation: str, **_):
    from ..strategies._allocation import allocate
    from ..strategies.kmeans import round_robin

    n_k = k if n_clusters is None else min(n_clusters, run.n_seen)
    centres = _fit_centres(run, max(1, min(n_k, run.n_seen)), seed, unit=False)
    how = ("centres", centres, False)
    sizes = np.sum(run.map(tasks.group_counts, how, what="k-means: assigning rows"), axis=0)
    quota = allocate(sizes, k, allocation if n_clusters is not None else "equal")
    picks = _quota_picks(run, how, quota, "distance" if pick == "nearest" else "key", seed)
    groups = [p[1] for p in picks]
    index = round_robin(groups, sizes)
    lookup = dict(zip(np.concatenate(groups).tolist(),
                      np.concatenate([p[2] for p in picks]).tolist()))
    ids = np.asarray([lookup[i] for i in index.tolist()])
    return index, ids, None, {"n_clusters": int(len(centres)),
                              "largest_cluster": int(sizes.max())}


#: k-center exact keeps every partition's rows in the workers' memory across its rounds
#: when they take at most this share of it (the rest is for the states, the libraries and
#: distributed's own margins), else copies each partition once to its worker's disk and maps
#: it in every round (:func:`tasks.to_local_disk`).
HOLD_FRACTION = 0.5


def _kcenter(run: Run, k: int, seed: int, mode: str, **_):
    rng = np.random.default_rng(seed)
    # what select's k-center draws: rng.choice over the allowed rows
    first = run.seen_row(int(rng.integers(run.n_seen)))
    if mode == "coreset":
        return _kcenter_coreset(run, k, seed, first)
    eng = run.engine
    t0 = time.perf_counter()
    held = run.n * run.data.dim * 4 <= HOLD_FRACTION * eng.memory_bytes()
    if held:  # the rows stay in the workers' memory for every round
        blocks = [eng.submit(tasks.load, p, run.metric, label=f"load-{p.name}")
                  for p in run.parts]
    else:  # larger than the workers' memory: each partition copied once to a worker's disk
        blocks = [eng.submit(tasks.to_local_disk, p, run.metric, label=f"to-disk-{p.name}")
                  for p in run.parts]
    try:
        index, dists, rounds, evaluations = _kcenter_rounds(run, k, first, blocks)
    finally:
        if not held:
            try:
                eng.gather([eng.submit(tasks.drop_local_copy, b, label=f"drop-{p.name}")
                            for b, p in zip(blocks, run.parts)])
            except Exception:  # a failed run's error comes first; the copies live in the
                pass  # workers' own folders, removed with them
        eng.release(blocks)
    index = np.asarray(index[:k], np.int64)
    ids = run.rows(index)["ids"]
    gains = np.concatenate([[np.nan], space.to_metric(np.asarray(dists[1:k]) ** 2,
                                                       run.metric)])
    info = {"radius": float(gains[-1]) if k > 1 else float("nan"),
            "distance_evaluations": int(evaluations),
            "round_seconds": _spread(rounds), "seconds_total": time.perf_counter() - t0,
            "rows_held_in_memory": bool(held)}
    return index, ids, gains, info


def _kcenter_rounds(run: Run, k: int, first: int, blocks: list):
    """Exact farthest-first over the partitions' ``blocks`` from global row ``first``: the
    picks, their squared distances when picked, each round's seconds, the evaluations."""
    from ..strategies._kernels import sqdist_vectors

    eng = run.engine
    states = [eng.submit(tasks.kcenter_start, p.rows_seen, label=f"kc-start-{p.name}")
              for p in run.parts]
    holder = [eng.submit(tasks.row_vector, b, first, label=f"kc-first-{p.name}")
              for b, p in zip(blocks, run.parts)]
    vec = next(v for v in eng.gather(holder) if v is not None)
    centres = [np.asarray(vec, np.float32)]
    index = [first]
    dists = [np.nan]
    cc = np.empty(k + 1, np.float64)
    rounds = []
    evaluations = 0
    for r in range(k - 1):
        tr = time.perf_counter()
        c = centres[-1]
        for j in range(len(centres) - 1):
            cc[j] = math.sqrt(sqdist_vectors(centres[j], c))
        new = [eng.submit(tasks.kcenter_round, b, s, c, index[-1], cc[: len(centres)].copy(),
                          len(centres) - 1, label=f"kc-round{r}-{p.name}")
               for b, s, p in zip(blocks, states, run.parts)]
        eng.release(states)
        states = new
        best = eng.gather([eng.submit(tasks.kcenter_best, s, label=f"kc-best{r}-{p.name}")
                           for s, p in zip(states, run.parts)])
        val, gidx, v = -1.0, -1, None
        for bv, bi, bx, _ in best:  # partitions in row order: ties go to the lowest index
            if bi >= 0 and bv > val:
                val, gidx, v = bv, bi, bx
        if gidx < 0:
            raise ExplorerError(f"k-center: only {len(index)} rows can be picked.")
        evaluations = sum(b[3] for b in best)
        centres.append(np.asarray(v, np.float32))
        index.append(gidx)
        dists.append(val)
        rounds.append(time.perf_counter() - tr)
        run.say((r + 1) / (k - 1), f"k-center (exact): {r + 1} of {k - 1} rounds")
    eng.release(states)
    return index, dists, rounds, evaluations


def _spread(values) -> dict:
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return {}
    return {"rounds": int(len(v)), "mean": float(v.mean()), "median": float(np.median(v)),
            "max": float(v.max())}


def _kcenter_coreset(run: Run, k: int, seed: int, first: int):
    from ..strategies.kcenter import farthest_point_order

    m = 4 * k
    found = run.map(tasks.local_traversal, seed, m, what="k-center (coreset): local picks")
    union_index = np.concatenate([f[0] for f in found])
    union_X = np.concatenate([f[1] for f in found if len(f[0])])
    if first not in set(union_index.tolist()):
        extra = run.rows(np.array([first]))
        union_index = np.concatenate([[first], union_index])
        union_X = np.concatenate([extra["X"], union_X])
    order = np.argsort(union_index)
    union_index, union_X = union_index[order], np.ascontiguousarray(union_X[order])
    start = int(np.searchsorted(union_index, first))
    cand = np.ones(len(union_index), dtype=bool)
    picks, dists, _ = farthest_point_order(union_X, np.array([start]), k - 1, cand)
    local = np.concatenate([[start], picks]).astype(np.int64)
    index = union_index[local]
    centres = union_X[local]
    radius = run.map(tasks.farthest_distance, centres, what="k-center (coreset): radius")
    r = max(x[0] for x in radius)
    ids = run.rows(index)["ids"]
    gains = np.concatenate([[np.nan], space.to_metric(dists**2, run.metric)])
    return index, ids, gains, {"radius": float(space.to_metric(np.array(r) ** 2, run.metric)),
                               "coreset_rows": int(len(union_index))}


def _facility(run: Run, k: int, seed: int, **params):
    """RandGreeDi: the one-machine greedy in every partition (2 k picks), then greedy on
    their union, scored on a uniform sample; the better of that and the best partition's
    own picks (Barbosa, Ene, Nguyen & Ward, ICML 2015)."""
    from ..strategies import get_strategy

    own = {p.name: params[p.name] for p in get_strategy("facility-location").params.params}
    found = run.map(tasks.local_facility, 2 * k, own, seed,
                    what="facility-location: greedy in each partition")
    _, S = run.sample(seed, min(run.n_seen, FACILITY_SAMPLE))
    union_index = np.concatenate([f[0] for f in found])
    union_X = np.concatenate([f[1] for f in found if len(f[0])])
    sim = _facility_similarity(S, union_X, run.metric)
    picks, value = _greedy_on_sample(sim, k)
    best_local, best_value = None, -1.0
    start = 0
    for f in found:
        if len(f[0]):
            cols = np.arange(start, start + min(k, len(f[0])))
            v = float(np.maximum(sim[:, cols].max(axis=1), 0).sum())
            if v > best_value:
                best_local, best_value = cols, v
            start += len(f[0])
    chosen = "union"
    if best_value > value:
        picks, value, chosen = best_local, best_value, "best partition"
    index = union_index[picks]
    ids = run.rows(index)["ids"]
    return index, ids, None, {"objective_sample": value, "sample_rows": int(len(S)),
                              "union_rows": int(len(union_index)), "greedi_choice": chosen}


def _facility_similarity(S: np.ndarray, C: np.ndarray, metric: str) -> np.ndarray:
    """Similarities (sample x candidates) in the one-machine convention: cosine
    (1 + cos) / 2 on unit rows; euclidean the largest squared distance minus the squared
    distance (apricot's)."""
    d = space.sq_distances(S, C)
    if metric == "cosine":
        return 1.0 - d / 4.0
    return d.max() - d


def _greedy_on_sample(sim: np.ndarray, k: int):
    """Lazy greedy (Minoux 1978) for sum over sample rows of max(0, max over picks of sim)."""
    r = np.zeros(sim.shape[0])
    gains = np.maximum(sim, 0).sum(axis=0)
    heap = [(-g, j) for j, g in enumerate(gains)]
    heapq.heapify(heap)
    picks, value = [], 0.0
    while heap and len(picks) < k:
        _, j = heapq.heappop(heap)
        g = float(np.maximum(sim[:, j] - r, 0).sum())
        if not heap or g >= -heap[0][0]:
            picks.append(j)
            value += g
            np.maximum(r, sim[:, j], out=r)
        else:
            heapq.heappush(heap, (-g, j))
    return np.asarray(picks, np.int64), value


#: A bucket of the shuffle takes at most this share of one worker's memory limit: the worker
#: that gathers it holds its pieces, their rows in row order and the pairwise blocks of its
#: largest cluster, beside the next bucket's pieces and what the libraries keep.
BUCKET_SHARE = 0.04


def bucket_count(rows: int, dim: int, clusters: int, workers: int, memory: float) -> int:
    """Buckets of the shuffle (a bucket holds whole clusters: cluster mod B): four per
    worker, more when that would make a bucket larger than :data:`BUCKET_SHARE` of a
    worker's ``memory`` (the workers' limits summed), at most one per cluster.

    >>> bucket_count(10_000_000, 384, 1000, 2, 2 * 4 * 2**30)  # 15.4 GB on 2 x 4 GiB
    90
    >>> bucket_count(1_797, 64, 20, 2, 2 * 4 * 2**30)
    8
    """
    workers = max(1, workers)
    per_worker = memory / workers
    by_memory = math.ceil(4.0 * rows * dim / (BUCKET_SHARE * per_worker)) \
        if math.isfinite(per_worker) else 1
    return max(1, min(clusters, max(4 * workers, by_memory)))


#: Buckets whose rows are on their way or being compared, per worker: the driver submits
#: the next bucket when the oldest of these has finished.
BUCKETS_IN_FLIGHT = 1


def _by_bucket(run: Run, centres: np.ndarray, unit: bool, task, *args, what: str):
    """``task(*args, *pieces)`` on each bucket of clusters (cluster mod B,
    :func:`bucket_count`), the rows moved there from every partition (the shuffle); the
    results in bucket order, and B. Each partition is split once, its pieces written to its
    worker's disk (:func:`tasks.cluster_pieces`); a bucket's pieces are read back only when
    its turn comes (:data:`BUCKETS_IN_FLIGHT` per worker), so the workers hold a few buckets'
    rows at a time, whatever the size of the data."""
    eng = run.engine
    buckets = bucket_count(run.n, run.data.dim, len(centres), eng.workers, eng.memory_bytes())
    shuffle = tasks.Shuffle(run.metric, centres, unit, buckets)
    split = [eng.submit(tasks.cluster_pieces, p, shuffle, label=f"shuffle-{p.name}")
             for p in run.parts]
    name = task.__name__.replace("_", "-")
    window = BUCKETS_IN_FLIGHT * max(1, eng.workers)
    results: list = [None] * buckets
    in_flight: dict = {}  # handle -> bucket
    done = 0
    for b in range(buckets):
        if len(in_flight) >= window:  # the next bucket when any of these has finished
            done += _collect(eng, eng.finished(list(in_flight)), in_flight, results)
            run.say(done / buckets, what)
        pieces = [eng.submit(tasks.piece, h, b, shuffle, label=f"piece{b}-{p.name}")
                  for h, p in zip(split, run.parts)]
        in_flight[eng.submit(task, *args, *pieces, label=f"{name}{b}")] = b
        eng.release(pieces)
    _collect(eng, list(in_flight), in_flight, results)
    eng.release(split)
    return results, buckets


def _collect(eng, handles: list, in_flight: dict, results: list) -> int:
    """The results of finished bucket ``handles`` into ``results`` (a failed task raises its
    error here), out of ``in_flight``; how many."""
    for handle, value in zip(handles, eng.gather(handles)):
        results[in_flight.pop(handle)] = value
    eng.release(handles)
    return len(handles)


@dataclass(frozen=True, eq=False)
class DedupProfile:
    """A stored SemDeDup run: for every row its cluster, its largest cosine similarity to an
    earlier row of its cluster (``best``) and that row (``partner``, a global index; -1 for
    the first row of a cluster). Another eps is a filter of it, not a rerun
    (:meth:`kept`)."""

    index: np.ndarray
    ids: np.ndarray
    cluster: np.ndarray
    best: np.ndarray
    partner: np.ndarray
    n_clusters: int

    def kept(self, eps: float) -> np.ndarray:
        """Global indices SemDeDup keeps at ``eps``, interleaved over clusters (largest
        first), as the one-machine strategy orders them."""
        from ..strategies.kmeans import round_robin

        keep = ~(self.best > 1.0 - eps)
        groups = [np.sort(self.index[keep & (self.cluster == c)]) for c in range(self.n_clusters)]
        return round_robin(groups, np.array([len(g) for g in groups]))

    def removed(self, eps: float) -> int:
        return int(np.count_nonzero(self.best > 1.0 - eps))


#: The last SemDeDup profiles, by (fingerprint, metric, n_clusters, seed, digest of the
#: excluded rows): another eps on the same run is a filter of its profile (the app's eps
#: chooser at scale).
_profiles: dict = {}


def semdedup_profile(run: Run, n_clusters: int, seed: int) -> tuple[DedupProfile, dict]:
    """SemDeDup's profile of every row, distributed (remembered for the last two runs);
    with facts for the report."""
    key = (run.fingerprint(), run.metric, int(n_clusters), int(seed),
           _rows_digest(run.excluded))
    if key in _profiles:
        return _profiles[key]
    _profiles[key] = _semdedup_profile(run, n_clusters, seed)
    while len(_profiles) > 2:
        _profiles.pop(next(iter(_profiles)))
    return _profiles[key]


def stored_semdedup_profile(data, metric: str, n_clusters: int, seed: int):
    """The SemDeDup profile a run on ``data`` already made (see :func:`semdedup_profile`),
    with its facts, or None: looking costs nothing, so a chooser of eps can show every eps's
    count without reading a shard."""
    fingerprint = getattr(data, "fingerprint", None)
    if fingerprint is None:
        return None
    return _profiles.get((fingerprint, metric, int(n_clusters), int(seed),
                          _rows_digest(np.zeros(0, np.int64))))


def _rows_digest(rows: np.ndarray) -> str:
    """A short digest of sorted global row indices ('' for none)."""
    import hashlib

    if len(rows) == 0:
        return ""
    return hashlib.blake2b(np.ascontiguousarray(rows, np.int64).tobytes(),
                           digest_size=8).hexdigest()


def _semdedup_profile(run: Run, n_clusters: int, seed: int) -> tuple[DedupProfile, dict]:
    centres = _fit_centres(run, n_clusters, seed, unit=True)
    results, buckets = _by_bucket(run, centres, True, tasks.semdedup_bucket, centres,
                                  what="semdedup: comparing rows inside clusters")
    cols = [np.concatenate([np.asarray(r[j]) for r in results]) for j in range(5)]
    order = np.argsort(cols[1])
    labels, index, ids, best, partner = (c[order] for c in cols)
    pairs = {c: p for r in results for c, p in r[5].items()}
    sizes = np.bincount(labels, minlength=len(centres))
    facts = {"n_clusters": int(len(centres)), "largest_cluster": int(sizes.max()),
             "pairs_compared": int(sum(pairs.values())), "buckets": buckets}
    return DedupProfile(index, ids, labels, best, partner, len(centres)), facts


def _semdedup(run: Run, k: int, seed: int, eps: float, n_clusters: int, **_):
    profile, facts = semdedup_profile(run, n_clusters, seed)
    kept = profile.kept(eps)[:k]
    lookup = np.searchsorted(profile.index, kept)
    facts.update(eps=eps, n_removed=profile.removed(eps), n_kept=int(len(profile.kept(eps))))
    return kept, profile.ids[lookup], None, facts


def _dedup(run: Run, k: int, seed: int, threshold: float, keep: str, clusters: int, **_):
    limit_sq = threshold**2 if run.metric == "euclidean" else 2.0 * threshold
    if clusters == 1:
        centres = np.zeros((1, run.data.dim), np.float32)
    else:
        centres = _fit_centres(run, clusters, seed, unit=False)
    results, _ = _by_bucket(run, centres, False, tasks.dedup_bucket, limit_sq,
                            what="dedup: leader scan inside clusters")
    index = np.concatenate([r[0] for r in results])
    ids = np.concatenate([np.asarray(r[1]) for r in results])
    order = np.argsort(index)  # keep order of the one-machine scan: row order
    sizes = {c: s for r in results for c, s in r[2].items()}
    info = {"threshold": threshold, "n_representatives": int(len(index)),
            "n_removed": int(run.n_seen - len(index)), "n_clusters": int(len(centres)),
            "largest_cluster": int(max(sizes.values())),
            "cross_cluster_pairs": "not compared" if len(centres) > 1 else "none (one cluster)"}
    return index[order][:k], ids[order][:k], None, info


def _dsir(run: Run, k: int, seed: int, dims: int, ridge: float, target_rows=None, **_):
    """DSIR on a cluster: Gaussians of the pool and the target in a PCA space fitted on a
    uniform sample and the target; per-row log importance weights; Gumbel top-k with keys
    from hash(seed, id) (Xie et al., NeurIPS 2023)."""
    from sklearn.decomposition import PCA

    from ..strategies.targeted import _fit_gaussian, gaussian_kl

    if target_rows is None or len(target_rows) == 0:
        raise ExplorerError("dsir needs a target set (--target-query or target row indices).")
    T = run.rows(np.asarray(target_rows, np.int64))["X"]
    _, pool = run.sample(seed, min(run.n_seen, 50_000))
    n_comp = int(min(dims, pool.shape[1], len(pool) + len(T) - 1))
    pca = PCA(n_components=n_comp, random_state=0).fit(np.concatenate([pool, T]))
    model = (pca.components_.astype(np.float64), pca.mean_.astype(np.float64))
    moments = run.map(tasks.projected_moments, model, what="dsir: pool moments")
    count = sum(m[0] for m in moments)
    mean = sum(m[1] for m in moments) / count
    second = sum(m[2] for m in moments) / count
    cov = (second - np.outer(mean, mean)) * count / max(1, count - 1)
    cov = cov + ridge * np.eye(len(mean)) * max(np.trace(cov) / len(mean), 1e-12)
    Zt = (T.astype(np.float64) - model[1]) @ model[0].T
    mt, ct = _fit_gaussian(Zt, ridge)
    found = run.map(tasks.dsir_keys, model, (mt, ct), (mean, cov), seed, k,
                    what="dsir: weights")
    score = np.concatenate([f[0] for f in found])
    index = np.concatenate([f[1] for f in found])
    ids = np.concatenate([np.asarray(f[2]) for f in found])
    order = np.lexsort((index, -score))[:k]
    return index[order], ids[order], None, {
        "kl_target_pool": gaussian_kl(mt, ct, mean, cov), "target_rows": int(len(T))}


def selection_rows(data, selection, engine=None) -> "pd.DataFrame":
    """rank, index, id, [gain], then the metadata of the selected rows of a sharded dataset,
    read shard by shard (no vectors)."""
    import pandas as pd

    from . import engine_in_use

    idx = np.asarray(selection.indices, dtype=np.int64)
    with engine_in_use(engine) as eng:
        got = Run(data, eng, "euclidean").rows(idx, columns=data.columns, vectors=False)
    frame = pd.DataFrame({"rank": np.arange(len(idx)), "index": idx, "id": got["ids"]})
    if selection.gains is not None:
        frame["gain"] = selection.gains
    for c, v in got["columns"].items():
        if c not in frame.columns:
            frame[c] = v
    return frame


def row_ids(data, index, engine=None) -> np.ndarray:
    """The ids of the global rows ``index`` of a sharded dataset, in that order, read on
    ``engine`` from the shards that hold them only (shard by shard, no vectors returned)."""
    from . import engine_in_use

    idx = np.asarray(index, dtype=np.int64)
    if len(idx) == 0:
        return np.zeros(0, dtype=object)
    with engine_in_use(engine) as eng:
        return Run(data, eng, "euclidean").rows(idx, vectors=False)["ids"]


def dataset_fingerprint(data, engine=None) -> str:
    """``data``'s fingerprint: a sharded dataset's is read on ``engine`` (every shard once,
    one at a time) when no run has read it yet, then remembered (:meth:`Run.fingerprint`)."""
    from . import engine_in_use

    if data.fingerprint:
        return data.fingerprint
    with engine_in_use(engine) as eng:
        return Run(data, eng, "euclidean").fingerprint()


def rows_as_dataset(data, index, engine=None):
    """The global rows ``index`` of a sharded dataset, in that order, as a
    :class:`~explorer.data.dataset.Dataset` in memory: their ids, raw vectors and every
    metadata column, read shard by shard. For what needs the rows themselves and only a few
    of them (an export other tools open)."""
    import pandas as pd

    from ..data.dataset import Dataset
    from . import engine_in_use

    idx = np.asarray(index, dtype=np.int64)
    with engine_in_use(engine) as eng:
        got = Run(data, eng, "euclidean").rows(idx, columns=data.columns, vectors=True)
    meta = pd.DataFrame({c: v for c, v in got["columns"].items()})
    return Dataset.from_arrays(got["X"], ids=got["ids"], metadata=meta, source=data.source,
                               options={"id_column": data.id_column})


def sample_as_dataset(data, m: int, seed: int, engine=None):
    """A uniform sample of ``m`` rows of a sharded dataset (the smallest hash(seed, row id)
    keys, so the same rows on any engine and partitioning), in row order, as a Dataset in
    memory (:func:`rows_as_dataset`). All rows when there are at most ``m``."""
    from . import engine_in_use

    with engine_in_use(engine) as eng:
        _, index, _ = Run(data, eng, "euclidean").smallest(seed, m)
        return rows_as_dataset(data, np.sort(index), eng)


def rows_where(data, query, engine=None, metric: str = "euclidean") -> np.ndarray:
    """Global indices of the rows where the metadata filter ``query`` holds, read shard by
    shard (the filter is data: :mod:`explorer.data.filters`)."""
    from ..data.filters import as_filter
    from . import engine_in_use

    node = as_filter(query, "target query").to_json()
    with engine_in_use(engine) as eng:
        found = Run(data, eng, metric).map(tasks.rows_where, node)
    rows = np.concatenate(found) if found else np.zeros(0, np.int64)
    if len(rows) == 0:
        raise ExplorerError(f"target query {query!r}: no row matches.")
    return rows


DRIVERS = {"random": _random, "stratified": _stratified, "k-center": _kcenter,
           "k-means": _kmeans, "facility-location": _facility, "dedup": _dedup,
           "semdedup": _semdedup, "dsir": _dsir}


def select(data, strategy: str, budget, *, engine=None, seed: int = 0,
           metric: str = "euclidean", params: dict | None = None, mode: str | None = None,
           label_column: str | None = None, group_column: str | None = None,
           target_rows=None, excluded=None, progress=None):
    """Run ``strategy`` in its distributed form on ``engine``; a
    :class:`~explorer.selection.Selection` whose ``engine`` records the engine, the number
    of partitions, the mode and its bound. ``excluded`` (global row indices) are rows the
    run does not see (:class:`Run`), as ``select(..., excluded=)`` on one machine."""
    from ..data.rows import row_indices
    from ..selection import DISTANCES, Selection, resolve_budget
    from . import engine_in_use

    check_form(strategy)
    if metric not in DISTANCES:
        raise ExplorerError(f"Unknown metric {metric!r}; use 'euclidean' or 'cosine'.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ExplorerError(f"A distributed run needs an int seed >= 0 (keys are hashed from "
                            f"it); got {seed!r}.")
    seed = int(seed)
    form = FORMS[strategy]
    mode = mode or form.modes[0]
    if mode not in form.modes:
        raise ExplorerError(f"{strategy}: mode {mode!r} is not one of {', '.join(form.modes)}.")
    spec, resolved, extra = _merge_params(strategy, params)
    excl = row_indices(np.zeros(0, np.int64) if excluded is None else excluded, data.n,
                       "excluded", repeats="drop", allow_empty=True)
    excl = np.unique(np.asarray(excl, np.int64))
    if target_rows is not None and len(np.intersect1d(target_rows, excl)):
        raise ExplorerError(f"{len(np.intersect1d(target_rows, excl))} target row(s) are "
                            "excluded rows, which the run must not see; give target rows "
                            "outside the excluded ones.")
    with engine_in_use(engine) as eng:
        run = Run(data, eng, metric, progress, excluded=excl)
        start = time.perf_counter()
        fp = run.fingerprint()
        if budget is None:
            if spec.exact_budget:
                raise parameter_error("budget", strategy,
                                      "an int in [1, inf) or a float in (0, 1)", None)
            k = run.n_seen
        else:
            k = resolve_budget(budget, run.n_seen, run.n, owner=strategy)
        out = DRIVERS[strategy](run, k, seed, mode=mode, label_column=label_column,
                                group_column=group_column, target_rows=target_rows,
                                **resolved, **extra)
        index, ids, gains, info = out
        seconds = time.perf_counter() - start
        record = {"name": eng.name, "partitions": len(run.parts), "mode": mode,
                  "bound": form.bounds[mode], "workers": int(eng.workers)}
        columns = {k2: v for k2, v in (("label_column", label_column),
                                       ("group_column", group_column)) if v is not None}
        sel = Selection(indices=np.asarray(index, np.int64), strategy=strategy,
                        params={**resolved, **extra}, seed=seed, metric=metric, budget=k,
                        gains=None if gains is None else np.asarray(gains, np.float64),
                        columns=columns, info=dict(info), fingerprint=fp, seconds=seconds,
                        engine=record, row_ids=np.asarray(ids),
                        excluded=tuple(int(i) for i in excl))
        return sel


# --- scorecard -------------------------------------------------------------------------

#: Random Fourier features of the MMD's kernel (Rahimi & Recht, NIPS 2007).
MMD_FEATURES = 1024


@dataclass(frozen=True, eq=False)
class Population:
    """The population side of the engine's scorecard, computed once per run and shared by
    every subset it measures: k-means centres fitted on a uniform sample and every row's
    count per centre, the MMD's bandwidth (median heuristic on a sample), its random Fourier
    features (``W``, ``b``) and their mean over every row (``mu``)."""

    centres: np.ndarray
    counts: np.ndarray
    gamma: float
    W: np.ndarray
    b: np.ndarray
    mu: np.ndarray
    n: int


def population(run: Run, seed: int, n_clusters: int = 30) -> Population:
    """:class:`Population` of ``run``'s data, seeded by ``seed``."""
    centres = _fit_centres(run, n_clusters, seed, unit=False, draw=False)
    how = ("centres", centres, False)
    counts = np.sum(run.map(tasks.group_counts, how, what="scorecard: clusters"), axis=0)
    _, sample = run.sample(seed, min(run.n_seen, 2000))
    d2 = space.sq_distances(sample[:1000], sample[1000:2000] if len(sample) > 1000
                            else sample)
    gamma = 1.0 / max(float(np.median(d2[d2 > 0])) if (d2 > 0).any() else 1.0, 1e-12)
    rng = np.random.default_rng(seed)
    W = rng.normal(scale=math.sqrt(2 * gamma), size=(run.data.dim, MMD_FEATURES))
    b = rng.uniform(0, 2 * np.pi, MMD_FEATURES)
    sums = run.map(tasks.feature_sum, W, b, what="scorecard: MMD features")
    n = int(sum(s[1] for s in sums))
    return Population(centres=centres, counts=counts, gamma=gamma, W=W, b=b,
                      mu=sum(s[0] for s in sums) / n, n=n)


def random_draw_rows(run: Run, k: int, draws: int, seed: int) -> list:
    """The global row indices of ``draws`` random subsets of ``k`` rows, in key order: draw
    r holds the k smallest keys of hash(seed_r, row id), seed_r from
    ``np.random.SeedSequence(seed).spawn(draws)``; so the draws depend on the seed, k and
    the ids only, never on the engine or the partitions."""
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(draws)]
    drawn = run.map(tasks.smallest_keys, seeds, k, what="scorecard: random draws")
    return [np.asarray(tasks.merge_smallest([f[r] for f in drawn], k)[1], np.int64)
            for r in range(draws)]


def subset_values(run: Run, pop: Population, subsets: list) -> tuple[dict, list]:
    """Every metric of the engine's scorecard for each subset (an array of prepared
    vectors): ({name: (values, one per subset; higher_is_better; description)}, each
    subset's count per cluster). Coverage is one pass over every row for all subsets."""
    from ..evaluate import metrics as subset_metrics

    cov = run.map(tasks.coverage, subsets, what="scorecard: coverage over every row")
    cmax = np.array([max(c[0][s][0] for c in cov) for s in range(len(subsets))])
    cmean = np.array([sum(c[0][s][1] for c in cov) / pop.n for s in range(len(subsets))])
    sub_counts = [np.bincount(space.nearest(S, pop.centres, "euclidean")[1],
                              minlength=len(pop.centres)) for S in subsets]

    def mmd(S):
        f = np.cos(S.astype(np.float64) @ pop.W + pop.b) * math.sqrt(2.0 / MMD_FEATURES)
        return float(np.linalg.norm(pop.mu - f.mean(axis=0)))

    values = {
        "coverage_max": (cmax, False, "largest distance from any row to its nearest pick"),
        "coverage_mean": (cmean, False, "mean distance from a row to its nearest pick"),
        "cluster_kl": (np.array([subset_metrics.kl_divergence(c + 1e-12, pop.counts)
                                 for c in sub_counts]),
                       False, "KL(subset || population) over k-means clusters"),
        "cluster_js": (np.array([subset_metrics.js_divergence(c, pop.counts)
                                 for c in sub_counts]), False,
                       "Jensen-Shannon divergence over k-means clusters"),
        "clusters_hit": (np.array([np.count_nonzero(c) for c in sub_counts], float), True,
                         "clusters with at least one pick"),
        "mmd": (np.array([mmd(S) for S in subsets]), False,
                f"MMD to the population ({MMD_FEATURES} random Fourier features)"),
    }
    pair = [subset_metrics.pairwise_summary(S, run.metric, pop.gamma) for S in subsets]
    values["mean_pairwise_distance"] = (np.array([p[0] for p in pair]), True,
                                        "mean distance between picks")
    values["min_pairwise_distance"] = (np.array([p[1] for p in pair]), True,
                                       "smallest distance between two picks")
    values["vendi"] = (np.array([subset_metrics.vendi_score(S) for S in subsets]), True,
                       "Vendi score of the picks (cosine kernel)")
    return values, sub_counts


def _check_rows(indices: np.ndarray, n: int) -> None:
    if len(indices) == 0 or indices.min() < 0 or indices.max() >= n:
        raise ExplorerError(f"The selection's row indices must lie in 0..{n - 1}.")


def score(data, selection, *, engine=None, metric: str | None = None, random_draws: int = 10,
          seed: int = 0, n_clusters: int = 30, label_column: str | None = None,
          progress=None):
    """A :class:`~explorer.evaluate.scorecard.Scorecard` computed partition by partition:
    coverage over every row (largest and mean distance to the nearest subset row), cluster
    balance (k-means fitted on a uniform sample, every row assigned), the MMD by random
    Fourier features (bandwidth: median heuristic on a sample) and the subset's own
    diversity; next to ``random_draws`` random subsets of the same size (keys from
    hash(seed_r, row id)). Exact over all rows; no metric is sampled but the fit of the
    clusters and the MMD's bandwidth. With ``label_column`` the label balance too
    (``balance("label")``): every label's rows counted per partition, and the subset's
    and each draw's from their rows' labels, exact as on one machine.
    """
    from ..evaluate import metrics as subset_metrics
    from ..evaluate.scorecard import MetricScore, Scorecard, balance_frame
    from . import engine_in_use

    indices = np.asarray(getattr(selection, "indices", selection), dtype=np.int64)
    metric = metric or getattr(selection, "metric", None) or "euclidean"
    with engine_in_use(engine) as eng:
        start = time.perf_counter()
        run = Run(data, eng, metric, progress)
        run.fingerprint()
        k = len(indices)
        _check_rows(indices, run.n)
        draw_rows = random_draw_rows(run, k, random_draws, seed)
        every = np.unique(np.concatenate([indices] + draw_rows))
        # one read for the subset's rows and every draw's, with their labels
        got = run.rows(every, columns=(label_column,) if label_column else ())
        X = np.asarray(got["X"], np.float32)
        at = [np.searchsorted(every, rows) for rows in [indices] + draw_rows]
        pop = population(run, seed, n_clusters)
        values, sub_counts = subset_values(run, pop, [X[pos] for pos in at])
        scores = {}
        for name, (v, higher, description) in values.items():
            rnd = v[1:]
            scores[name] = MetricScore(
                name=name, value=float(v[0]), random_mean=float(rnd.mean()),
                random_std=float(rnd.std()), random_p05=float(np.percentile(rnd, 5)),
                random_p95=float(np.percentile(rnd, 95)),
                percentile=subset_metrics.percentile_of(float(v[0]), rnd), higher_is_better=higher,
                random_values=rnd, description=description)
        clusters = balance_frame("cluster", np.arange(len(pop.centres)), pop.counts,
                                 sub_counts[0], np.array(sub_counts[1:]))
        labels = None
        if label_column:
            names, counts = column_counts(run, label_column, what="scorecard: labels")
            codes = np.searchsorted(names, np.asarray(got["columns"][label_column]).astype(str))
            per = [np.bincount(codes[pos], minlength=len(names)) for pos in at]
            labels = balance_frame("label", names, counts, per[0], np.array(per[1:]))
        return Scorecard(budget=k, metric=metric, metrics=scores, random_draws=random_draws,
                         seed=seed, space=engine_space(data, eng), n_clusters=len(pop.centres),
                         label_counts=labels, cluster_counts=clusters,
                         seconds=time.perf_counter() - start)


def engine_space(data, engine) -> str:
    """Where the engine's scorecard measures (the ``space`` of its Scorecard)."""
    return f"full embedding space ({data.dim} dims), every row on the {engine.name} engine"


def sweep_scores(data, selections: list, sizes, *, engine=None, metric: str = "euclidean",
                 random_draws: int = 30, seed: int = 0, n_clusters: int = 30, progress=None,
                 excluded=None, geometry: bool = True, measure=None):
    """The engine's scorecard of many selections at once (a comparison): each selection's
    metrics, and per size in ``sizes`` the metrics of ``random_draws`` random subsets of
    that size. The population side, the random draws of a size and one coverage pass are
    shared, so each value is the one :func:`score` gives that selection (same seed).

    ``excluded`` rows (global indices: a probe's held-out rows) are outside the population
    and never drawn (:class:`Run`). ``measure(rows) -> {metric: value}`` (a probe, run in
    this process on global row indices) adds its metrics for every selection and draw;
    without ``geometry`` only those are measured.

    Returns
    -------
    (values, envelopes, direction) : one {metric: value} per selection; {size: DataFrame
        with one row per draw, one column per metric}; {metric: higher_is_better} of the
        scorecard's metrics (``measure``'s directions are its caller's).
    """
    import pandas as pd

    from . import engine_in_use

    selections = [np.asarray(s, dtype=np.int64) for s in selections]
    with engine_in_use(engine) as eng:
        run = Run(data, eng, metric, progress, excluded=excluded)
        run.fingerprint()
        for idx in selections:
            _check_rows(idx, run.n)
        sizes = [int(k) for k in sizes]
        drawn_rows = [d for k in sizes for d in random_draw_rows(run, k, random_draws, seed)]
        values, direction = {}, {}
        if geometry:
            subsets = selections + drawn_rows
            wanted = np.unique(np.concatenate(subsets))
            X = np.asarray(run.rows(wanted)["X"], np.float32)  # one read for every subset
            pop = population(run, seed, n_clusters)
            found, _ = subset_values(run, pop, [X[np.searchsorted(wanted, idx)]
                                                for idx in subsets])
            values = {m: v[0] for m, v in found.items()}
            direction = {m: v[1] for m, v in found.items()}
        if measure is not None:
            extra = [measure(idx) for idx in selections + drawn_rows]
            for m in extra[0]:
                values[m] = np.array([e[m] for e in extra])
        per_selection = [{m: float(v[i]) for m, v in values.items()}
                         for i in range(len(selections))]
        envelopes = {}
        for j, k in enumerate(sizes):
            at = len(selections) + j * random_draws
            envelopes[k] = pd.DataFrame({m: v[at : at + random_draws]
                                         for m, v in values.items()})
        return per_selection, envelopes, direction
