"""The map of a dataset too large to draw: a uniform sample of its rows plus every selected
row, laid out by a projection fitted on the sample.

The sample is the ``rows`` rows with the smallest keys hash(seed, row id)
(:func:`explorer.engine.tasks.row_keys`), the uniform sample every engine agrees on, so the
map shows the same rows whatever the engine, the number of shards or the selection. It is
read in one pass (:func:`smallest_key_rows`, also the drivers' uniform samples): each
partition sends back only its rows whose key lies below a threshold set a little above the
expected ``rows``-th smallest key, and the ``rows`` smallest of those are kept. Only the
sample and the selected rows are ever in memory.

The layout is a projection fitted on the sample (:func:`fit_projection`): a PCA, or UMAP
(McInnes, Healy & Melville, 2018). Every other row (a selected row outside the sample) is
placed by the same fitted projection (UMAP: among its nearest sample rows, as
:func:`explorer.projection.place_rows` does), so the sample's picture does not move when the
selection changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import tasks

#: Rows of the map's uniform sample: as many as the map draws as background points
#: (``explorer.ui.live_charts.MAP_POINT_LIMIT``).
MAP_SAMPLE_ROWS = 20_000
#: The sample's own seed: fixed, so the map shows the same rows whatever seed a run uses.
MAP_SAMPLE_SEED = 0
#: Standard deviations of a binomial count the threshold is set above the expected count,
#: so one pass almost always brings back enough rows (else the threshold doubles).
_MARGIN_SD = 6.0


@dataclass(frozen=True, eq=False)
class MapSample:
    """The map's uniform sample: global row ``index`` (ascending), ``ids``, prepared
    vectors ``X`` (float32), the metadata ``columns`` asked for, and ``total`` rows in the
    dataset it was drawn from."""

    index: np.ndarray
    ids: np.ndarray
    X: np.ndarray
    columns: dict
    total: int
    seed: int = MAP_SAMPLE_SEED

    @property
    def n(self) -> int:
        return int(len(self.index))


#: The projections a map's sample can be laid out by.
MAP_METHODS = ("pca", "umap")


@dataclass(frozen=True, eq=False)
class SampleProjection:
    """A 2-D projection fitted on a map's sample: the sample's own positions ``sample_xy``
    (in the sample's row order) and :meth:`place` for any other row. ``explained``: the share
    of the sample's variance a PCA keeps (None for UMAP)."""

    method: str
    sample_xy: np.ndarray
    model: object
    explained: float | None

    def place(self, X: np.ndarray) -> np.ndarray:
        """2-D positions (float32) of the rows ``X`` (prepared vectors)."""
        if len(X) == 0:
            return np.zeros((0, 2), np.float32)
        if self.method == "umap":
            from ..projection import place_rows

            return place_rows(self.model, np.asarray(X, dtype=np.float32))
        return _two_wide(self.model.transform(np.asarray(X, dtype=np.float32)))


def _two_wide(xy: np.ndarray) -> np.ndarray:
    xy = np.asarray(xy, dtype=np.float32)
    if xy.shape[1] < 2:
        xy = np.column_stack([xy, np.zeros((len(xy), 2 - xy.shape[1]), np.float32)])
    return xy


def fit_projection(sample: MapSample, method: str = "pca", progress=None) -> SampleProjection:
    """The map's projection fitted on ``sample``: 'pca' (2 components) or 'umap' (15
    neighbours, min_dist 0.1, seed 0: the one-file map's settings); ``progress(fraction,
    message)`` hears UMAP's stages."""
    if method not in MAP_METHODS:
        raise ValueError(f"unknown map projection {method!r}: one of {', '.join(MAP_METHODS)}")
    X = sample.X
    if method == "umap" and sample.n >= 5:
        from ..projection import umap_reducer

        report = progress or (lambda fraction, message: None)
        reducer = umap_reducer(sample.n, 15, 0.1, 0, report)
        report(0.02, "finding each sample row's nearest neighbours ...")
        reducer.fit(np.asarray(X, dtype=np.float32))
        report(1.0, "done")
        return SampleProjection("umap", np.asarray(reducer.embedding_, np.float32), reducer,
                                None)
    from sklearn.decomposition import PCA

    k = int(min(2, X.shape[1], max(sample.n, 1)))
    model = PCA(n_components=k, random_state=0).fit(X)
    return SampleProjection("pca", _two_wide(model.transform(X)), model,
                            float(model.explained_variance_ratio_.sum()))


@dataclass(frozen=True, eq=False)
class MapLayout:
    """What the map draws: the rows (global ``index``, ``ids``), their 2-D ``xy``, which of
    them are ``selected`` (positions into these rows), their metadata ``columns``, how many
    came from the sample (``sample_rows``) of how many in the dataset (``total``), the
    projection's ``method`` and the share of variance a PCA keeps (``explained``; None for
    UMAP)."""

    index: np.ndarray
    ids: np.ndarray
    xy: np.ndarray
    selected: np.ndarray
    columns: dict
    sample_rows: int
    total: int
    explained: float | None
    method: str = "pca"
    extra: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(len(self.index))


def keys_below(part, metric: str, seed: int, limit: int, columns=()):
    """The rows of ``part`` whose key hash(seed, id) is at most ``limit``: (keys, global
    index, ids, prepared vectors, {column: values})."""
    block = tasks.load(part, metric, columns)
    keys = tasks.row_keys(block.ids, seed)
    keep = np.flatnonzero(keys <= np.uint64(limit))
    return (keys[keep], block.index[keep], block.ids[keep], block.X[keep],
            {c: v[keep] for c, v in block.columns.items()})


def _limit(fraction: float) -> int:
    """The key below which a row is kept with probability ``fraction``."""
    return 2**64 - 1 if fraction >= 1.0 else int(fraction * 2**64)


def smallest_key_rows(run, seed: int, m: int, columns=(), what: str = ""):
    """The ``m`` rows ``run`` sees with the smallest keys hash(seed, row id), ties by index,
    in one pass: (keys, global index, ids, prepared vectors, {column: values}), in key
    order. Each partition sends back only its rows whose key lies below a threshold set
    ``_MARGIN_SD`` binomial standard deviations above the expected ``m``-th smallest key;
    in the rare pass that brings back fewer than ``m`` rows the threshold doubles. All
    rows when ``m`` is at least the rows seen."""
    n = run.n_seen
    m = int(min(max(m, 0), n))
    fraction = 1.0 if m >= n else min(1.0, (m + _MARGIN_SD * math.sqrt(m) + 32) / n)
    while True:
        found = run.map(keys_below, int(seed), _limit(fraction), tuple(columns), what=what)
        if sum(len(f[0]) for f in found) >= m or fraction >= 1.0:
            break
        fraction = min(1.0, 2 * fraction)
    keys = np.concatenate([f[0] for f in found])
    index = np.concatenate([f[1] for f in found])
    ids = np.concatenate([np.asarray(f[2]) for f in found])
    X = np.concatenate([f[3] for f in found])
    cols = {c: np.concatenate([f[4][c] for f in found]) for c in columns}
    chosen = np.lexsort((index, keys))[:m]
    return (keys[chosen], index[chosen], ids[chosen], X[chosen],
            {c: v[chosen] for c, v in cols.items()})


def read_map_sample(data, *, engine=None, rows: int = MAP_SAMPLE_ROWS,
                    metric: str = "euclidean", columns=(), seed: int = MAP_SAMPLE_SEED,
                    progress=None) -> MapSample:
    """The uniform sample of ``rows`` rows of ``data`` (a sharded or an in-memory dataset)
    the map shows: the rows with the ``rows`` smallest keys hash(seed, row id), ties by
    index, as :meth:`explorer.engine.drivers.Run.smallest` finds them; read shard by shard
    on ``engine`` with the metadata ``columns``. All rows when the dataset has fewer.

    ``progress(fraction, message)`` hears the shards as they are read.
    """
    from . import engine_in_use
    from .drivers import Run

    with engine_in_use(engine) as eng:
        run = Run(data, eng, metric, progress)
        m = int(min(max(rows, 1), run.n))
        _, index, ids, X, cols = smallest_key_rows(
            run, seed, m, columns,
            what=f"map: reading a uniform sample of {m:,} of {run.n:,} rows")
        order = np.argsort(index)  # in row order
        return MapSample(index=index[order], ids=ids[order],
                         X=np.ascontiguousarray(X[order], dtype=np.float32),
                         columns={c: v[order] for c, v in cols.items()}, total=run.n,
                         seed=int(seed))


def map_layout(data, sample: MapSample, selected=None, *, also=None, engine=None,
               metric: str = "euclidean", projection: SampleProjection | None = None
               ) -> MapLayout:
    """The map's rows, the sample's, every ``selected`` row and every row of ``also`` (global
    indices: a target set, drawn but not selected), placed by ``projection`` (fitted on the
    sample; a PCA by default). Rows outside the sample are read (with the sample's columns)
    on ``engine`` from the shards that hold them, and only those."""
    from . import engine_in_use
    from .drivers import Run

    if projection is None:
        projection = fit_projection(sample, "pca")
    selected = np.unique(np.asarray([] if selected is None else selected, dtype=np.int64))
    extra = np.asarray([] if also is None else also, dtype=np.int64)
    missing = np.setdiff1d(np.union1d(selected, extra), sample.index)
    index, ids, xy = sample.index, sample.ids, projection.sample_xy
    columns = dict(sample.columns)
    if len(missing):
        with engine_in_use(engine) as eng:
            got = Run(data, eng, metric).rows(missing, columns=tuple(columns), vectors=True)
        index = np.concatenate([index, missing])
        ids = np.concatenate([np.asarray(ids), np.asarray(got["ids"])])
        xy = np.concatenate([xy, projection.place(np.asarray(got["X"], dtype=np.float32))])
        columns = {c: np.concatenate([np.asarray(v), np.asarray(got["columns"][c])])
                   for c, v in columns.items()}
    order = np.argsort(index, kind="stable")
    index, ids, xy = index[order], np.asarray(ids)[order], xy[order]
    columns = {c: np.asarray(v)[order] for c, v in columns.items()}
    positions = np.searchsorted(index, selected)
    return MapLayout(index=index, ids=ids, xy=xy, selected=positions.astype(np.int64),
                     columns=columns, sample_rows=sample.n, total=sample.total,
                     explained=projection.explained, method=projection.method)
