"""Per-row scores as columns, each with a record of how it was computed.

FiftyOne Brain writes per-sample uniqueness and representativeness; here every score says
its neighbours, its metric and its space (the dataset's fingerprint and, when known, the
model that made the embeddings), and reuses the library's own kernels:

- ``uniqueness``: distance to the k-th nearest other row (the kNN graph of
  ``strategies._sparse.knn_graph``, exact up to 10,000 rows, NN-descent above whose
  recall knob is ``graph_search``);
- ``typicality``: the inverse of the mean distance to the k nearest other rows, the
  typicality of Hacohen, Dekel & Weinshall (2022) (a kNN density: dense regions score high;
  a row whose k nearest rows coincide with it scores ``inf``);
- ``duplicate_group`` and ``duplicate_similarity``: the leader scan of the ``dedup`` strategy
  (``strategies.dedup.leader_dedup``) at a threshold keeps one row per group; every row
  belongs to the group of its nearest kept row (the kept row's index is the group id) and
  ``duplicate_similarity`` is its cosine similarity to that kept row (1 for the kept row);
- ``cluster``: k-means cluster id (``clustering.kmeans_of``);
- ``distance_to_selected``: distance to the nearest selected row (the scorecard's coverage
  kernel, ``evaluate.metrics.nearest_many``), NaN without a selection.

:func:`row_scores` is pure (no cache); the app caches its result per dataset and settings.
:func:`with_scores` adds the columns to a Dataset's metadata, so filters, score-based
strategies (``score_column=``) and exports see them like any other column.

References
----------
G. Hacohen, A. Dekel and D. Weinshall, "Active Learning on a Budget: Opposite Strategies
Suit High and Low Budgets", ICML 2022 (typicality: inverse mean distance to the K nearest
neighbours).
B. Sorscher et al., "Beyond neural scaling laws: beating power law scaling via data
pruning", NeurIPS 2022 (prototypicality; here the cluster id and the kNN measures stand in).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from . import space
from .errors import ExplorerError
from .strategies._sparse import GRAPH_SEARCH_RANGE
from .params import (METRIC, OPTIONAL_CALLBACK, SEED, InstanceOf, Interval, SequenceOf, Text,
                     check_param, validate_params)

#: The score columns, in the order they are written.
SCORE_NAMES = ("uniqueness", "typicality", "duplicate_group", "duplicate_similarity",
               "cluster", "distance_to_selected")


@dataclass(frozen=True)
class ScoreRecord:
    """How one score column was computed: what it measures, the neighbours (``k``), the
    metric, the space (``fingerprint`` and the embedding ``model``, when known) and any other
    setting (``settings``)."""

    name: str
    measures: str
    metric: str
    fingerprint: str
    model: str | None = None
    k: int | None = None
    settings: dict = field(default_factory=dict)

    def caption(self) -> str:
        """One sentence: what the score is and how it was computed.

        >>> ScoreRecord("uniqueness", "distance to the 10th nearest row", "cosine",
        ...             "abcdef0123456789", k=10).caption()
        'uniqueness: distance to the 10th nearest row; cosine metric, k = 10, in the space of dataset abcdef012345.'
        """
        parts = [f"{self.metric} metric"]
        if self.k is not None:
            parts.append(f"k = {self.k}")
        parts += [f"{key} = {value}" for key, value in self.settings.items()]
        where = f"dataset {self.fingerprint[:12]}" + (f" embedded by {self.model}"
                                                      if self.model else "")
        return f"{self.name}: {self.measures}; {', '.join(parts)}, in the space of {where}."

    def to_dict(self) -> dict:
        return {"name": self.name, "measures": self.measures, "metric": self.metric,
                "fingerprint": self.fingerprint, "model": self.model, "k": self.k,
                "settings": dict(self.settings)}


@dataclass(frozen=True, eq=False)
class RowScores:
    """Per-row scores: ``frame`` (N rows, one column per score in :data:`SCORE_NAMES`) and
    ``records`` (name -> :class:`ScoreRecord`)."""

    frame: pd.DataFrame
    records: dict

    def caption(self, name: str) -> str:
        return self.records[name].caption()

    def columns_for(self, indices) -> dict:
        """The score columns of the given rows (for an export): name -> values."""
        idx = np.asarray(indices, dtype=np.int64)
        return {c: self.frame[c].to_numpy()[idx] for c in self.frame.columns}


def _ordinal(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def _model(data) -> str | None:
    record = getattr(data, "embedding", None) or {}
    return record.get("model")


@validate_params({"metric": [METRIC], "duplicate_threshold": [Interval("float", 0, None)], "seed": [SEED],
                  "graph_search": [GRAPH_SEARCH_RANGE, None],
                  "progress": OPTIONAL_CALLBACK})
def row_scores(data, *, k: int = 10, metric: str = "euclidean", n_clusters: int = 20,
               duplicate_threshold: float = 0.05, selected=None, seed: int = 0,
               graph_search: int | None = None, progress=None) -> RowScores:
    """Per-row scores of ``data`` (see the module docstring), computed in ``metric`` on the
    full embeddings.

    Parameters
    ----------
    data : Dataset
    k : neighbours for uniqueness and typicality (at least 1, fewer than the rows).
    metric : "euclidean" or "cosine" (1 - cos).
    n_clusters : k of the k-means cluster ids.
    duplicate_threshold : two rows this close or closer (in ``metric``) are near-duplicates,
        as the ``dedup`` strategy's ``threshold``.
    selected : row indices of a selection, for ``distance_to_selected`` (NaN without one).
    seed : the k-means seed.
    graph_search : the kNN graph's recall knob above 10,000 rows (default: the graph's own).
    progress : callable(fraction, message) or None.

    Examples
    --------
    >>> import numpy as np, explorer
    >>> X = np.array([[0.0], [0.1], [0.3], [5.0], [5.0]], dtype=np.float32)
    >>> s = row_scores(explorer.Dataset.from_arrays(X), k=1, n_clusters=2,
    ...                duplicate_threshold=0.15, selected=[0])
    >>> s.frame["uniqueness"].round(3).tolist()
    [0.1, 0.1, 0.2, 0.0, 0.0]
    >>> s.frame["duplicate_group"].tolist()
    [0, 0, 2, 3, 3]
    >>> s.frame["distance_to_selected"].round(3).tolist()
    [0.0, 0.1, 0.3, 5.0, 5.0]
    """
    from .clustering import kmeans_of
    from .strategies import _sparse
    from .strategies.dedup import leader_dedup

    n = data.n  # k and n_clusters are bounded by the rows: checked here, not declared above
    check_param("row_scores", "k", k, [Interval("int", 1, n - 1)], f"fewer than the {n} rows")
    check_param("row_scores", "n_clusters", n_clusters, [Interval("int", 1, n)],
                f"at most the {n} rows")
    k = int(k)

    def report(lo, hi):
        if progress is None:
            return None
        return lambda f, m="": progress(lo + (hi - lo) * min(1.0, max(0.0, f)), m)

    X = space.prepare(data.embeddings, metric, ids=data.ids)
    Xc, sq = _sparse.centred(X)
    graph = _sparse.knn_graph(Xc, sq, k + 1, report=report(0.0, 0.6),
                              search=graph_search or _sparse.SEARCH_DEFAULT)
    dist = space.to_metric(graph.sqdist[:, 1:].astype(np.float64), metric)
    uniqueness = dist[:, -1]
    with np.errstate(divide="ignore"):
        typicality = 1.0 / dist.mean(axis=1)

    limit_sq = duplicate_threshold ** 2 if metric == "euclidean" else 2.0 * duplicate_threshold
    kept = leader_dedup(X, np.arange(n), limit_sq, np.zeros(0, np.int64),
                        report(0.6, 0.8))
    _, nearest_kept = space.nearest(X, np.asarray(X[kept]), metric)
    group = kept[nearest_kept]
    group[kept] = kept
    U = X if metric == "cosine" else space.prepare(np.where(
        np.einsum("ij,ij->i", X, X)[:, None] > 0, X, 1.0).astype(np.float32), "cosine")
    similarity = np.einsum("ij,ij->i", np.asarray(U, np.float64),
                           np.asarray(U[group], np.float64))
    similarity[kept] = 1.0

    if progress is not None:
        progress(0.8, "k-means cluster ids")
    clusters = kmeans_of(X, int(n_clusters), seed, data.fingerprint, metric).labels
    to_selected = distance_to_selected(X, selected, metric)
    if progress is not None:
        progress(1.0, "per-row scores done")

    frame = pd.DataFrame({
        "uniqueness": uniqueness, "typicality": typicality,
        "duplicate_group": group.astype(np.int64),
        "duplicate_similarity": np.clip(similarity, -1.0, 1.0),
        "cluster": np.asarray(clusters, dtype=np.int64), "distance_to_selected": to_selected})
    common = dict(metric=metric, fingerprint=data.fingerprint, model=_model(data))
    graph_settings = {"graph": graph.method}
    if graph.method != "exact":
        graph_settings["graph_search"] = graph_search or _sparse.SEARCH_DEFAULT
    records = {
        "uniqueness": ScoreRecord("uniqueness", f"distance to the {_ordinal(k)} nearest other "
                                  "row (higher: more unique)", k=k, settings=graph_settings,
                                  **common),
        "typicality": ScoreRecord("typicality", f"1 / mean distance to the {k} nearest other "
                                  "rows (Hacohen et al. 2022; higher: denser region)", k=k,
                                  settings=graph_settings, **common),
        "duplicate_group": ScoreRecord("duplicate_group", "row index of the kept row of its "
                                       "near-duplicate group (the dedup strategy's leader scan "
                                       "in row order)",
                                       settings={"threshold": duplicate_threshold}, **common),
        "duplicate_similarity": ScoreRecord("duplicate_similarity", "cosine similarity to the "
                                            "kept row of its near-duplicate group",
                                            settings={"threshold": duplicate_threshold},
                                            **common),
        "cluster": ScoreRecord("cluster", "k-means cluster id", settings={
            "n_clusters": int(n_clusters), "seed": seed}, **common),
        "distance_to_selected": ScoreRecord(
            "distance_to_selected", "distance to the nearest selected row"
            + ("" if selected is not None else " (no selection: empty)"),
            settings={"selected": 0 if selected is None else int(len(selected))}, **common),
    }
    return RowScores(frame, records)


@validate_params({"metric": [METRIC]})
def distance_to_selected(X: np.ndarray, selected, metric: str) -> np.ndarray:
    """Distance of every prepared row of ``X`` to its nearest row among ``selected`` (the
    scorecard's coverage kernel), NaN everywhere when nothing is selected.

    >>> X = np.array([[0.0, 0.0], [3.0, 4.0]], dtype=np.float32)
    >>> distance_to_selected(X, [0], "euclidean").tolist()
    [0.0, 5.0]
    """
    from .evaluate.metrics import nearest_many

    if selected is None or len(selected) == 0:
        return np.full(X.shape[0], np.nan)
    idx = np.asarray(selected, dtype=np.int64)
    return space.to_metric(nearest_many(X, [idx])[0], metric)


@validate_params({"scores": [InstanceOf((RowScores,), "RowScores (from row_scores)")],
                  "metric": [METRIC]})
def with_selection(scores: RowScores, data, selected, metric: str) -> RowScores:
    """``scores`` with ``distance_to_selected`` measured to ``selected`` (the rest kept)."""
    X = space.prepare(data.embeddings, metric, ids=data.ids)
    frame = scores.frame.assign(distance_to_selected=distance_to_selected(X, selected, metric))
    records = dict(scores.records)
    records["distance_to_selected"] = replace(
        records["distance_to_selected"], metric=metric,
        measures="distance to the nearest selected row",
        settings={"selected": 0 if selected is None else int(len(selected))})
    return RowScores(frame, records)


@validate_params({"scores": [InstanceOf((RowScores,), "RowScores (from row_scores)")],
                  "columns": [SequenceOf((Text(),)), None]})
def with_scores(data, scores: RowScores, columns=None):
    """``data`` with the score columns (all, or those named in ``columns``) added to its
    metadata (same embeddings, ids and fingerprint), so filters, ``score_column=`` and
    exports see them. A metadata column of the same name is an error: rename it, or leave
    the scores out."""
    if columns is not None:
        scores = RowScores(scores.frame[list(columns)],
                           {c: scores.records[c] for c in columns})
    clash = [c for c in scores.frame.columns if c in data.metadata.columns]
    if clash:
        raise ExplorerError(f"The metadata of {data.name} already has a column named "
                            f"{clash[0]!r}, as a per-row score; rename that column.")
    if len(scores.frame) != data.n:
        raise ExplorerError(f"The per-row scores have {len(scores.frame)} rows but the data "
                            f"has {data.n}; compute them on this dataset.")
    meta = pd.concat([data.metadata.reset_index(drop=True), scores.frame], axis=1)
    return replace(data, metadata=meta)
