"""Cached calls into the library for the pages (the pages themselves compute nothing)."""

from __future__ import annotations

import json

import numpy as np
import streamlit as st

import explorer
from explorer import cache, projection, space
from explorer.evaluate.scorecard import ScoringContext
from explorer.strategies import kcenter

#: What the app keeps for every session of this process (:mod:`explorer.cache`): k-center
#: traversals and k-means clusterings, so another budget on the same data is a slice or a
#: continuation, and the thread that continues the last traversal while the page is idle.
APP_CACHE = cache.Cache()


def _data(data_key):
    from .data import load_cached

    return load_cached(*data_key)


@st.cache_data(show_spinner=False, max_entries=8)
def column_levels(data_key) -> dict:
    """Number of distinct values of each metadata column, counted once per dataset (the
    sidebar and the map's colour choices ask on every run, and counting text columns of a
    large dataset is not free)."""
    meta = _data(data_key).metadata
    return {c: int(meta[c].nunique()) for c in meta.columns}


@st.cache_data(show_spinner=False, max_entries=16)
def layout(data_key, method: str, n_neighbors: int, min_dist: float, metric: str):
    data = _data(data_key)
    return projection.layout(data, method,
                             n_neighbors=n_neighbors if method == "umap" else None,
                             min_dist=min_dist, metric=metric)


@st.cache_data(show_spinner=False, max_entries=8)
def given_layout(data_key):
    """The layout the data carries (:func:`explorer.given_layout.given_layout`)."""
    from explorer.given_layout import given_layout as own

    return own(_data(data_key))


def compute_layout(data_key, method, n_neighbors, min_dist, metric, progress) -> None:
    """Compute a layout ('umap', 'pacmap', 'tsne') onto the disk cache, telling ``progress``
    (fraction, message); the next run reads it through :func:`layout`."""
    projection.layout(_data(data_key), method,
                      n_neighbors=n_neighbors if method == "umap" else None,
                      min_dist=min_dist, metric=metric, progress=progress)


def cached_layout(data_key, method, n_neighbors, min_dist, metric) -> bool:
    """Whether the layout is already on disk, without computing it."""
    data = _data(data_key)
    params = {"n_neighbors": n_neighbors if method == "umap" else None, "min_dist": min_dist,
              "metric": metric, "seed": 0}
    path = projection.cache_dir() / (
        projection.cache_key(data.fingerprint, method, projection._params(data, method, params))
        + ".npz")
    return path.exists()


@st.cache_resource(show_spinner="Preparing the scorecard (clusters, kernels) ...",
                   max_entries=4)
def scoring_context(data_key, metric: str, label_column: str | None):
    return ScoringContext.build(_data(data_key), metric=metric, label_column=label_column)


def run_selection(data_key, strategy, budget, seed, metric, params, pinned, excluded,
                  label_column, group_column, score_column, target, progress=None, where=None,
                  cost_column=None):
    """``where`` is a filter's JSON text (from the filter builder), read by
    :func:`explorer.data.filters.from_json`: JSON, never Python."""
    data = _data(data_key)
    with APP_CACHE.kept():
        return explorer.select(data, strategy, budget, seed=seed, metric=metric,
                               params=params, pinned=pinned or None,
                               excluded=excluded or None, label_column=label_column,
                               group_column=group_column, score_column=score_column,
                               target=target or None, progress=progress,
                               where=None if where is None else json.loads(where),
                               cost_column=cost_column)


def lock_digest(data_key) -> str:
    """The digest of the dataset's locked confirmation split ('' without one): part of the
    cache keys of selections and comparisons, so none made before a lock is shown after."""
    from explorer.data.ledger import Ledger

    lock = Ledger().locked(_data(data_key).fingerprint)
    return "" if lock is None else lock["digest"]


@st.cache_data(show_spinner=False, max_entries=64)
def cached_selection(data_key, strategy, budget, seed, metric, params_items, pinned, excluded,
                     label_column, group_column, score_column, target, where=None, lock="",
                     cost_column=None):
    sel = run_selection(data_key, strategy, budget, seed, metric, dict(params_items),
                        list(pinned), list(excluded), label_column, group_column,
                        score_column, list(target), where=where, cost_column=cost_column)
    return sel


def scorecard(data_key, selection, metric, label_column, draws: int = 30):
    ctx = scoring_context(data_key, metric, label_column)
    return _scorecard(data_key, selection, metric, label_column, draws, ctx)


@st.cache_data(show_spinner="Scoring against random subsets ...",
               max_entries=64,
               hash_funcs={ScoringContext: lambda c: (c.fingerprint, c.metric, c.label_column),
                           explorer.Selection: lambda s: (s.fingerprint, s.indices.tobytes(),
                                                          s.pinned, s.excluded, s.metric,
                                                          s.cost_budget,
                                                          s.columns.get("cost_column"))})
def _scorecard(data_key, selection, metric, label_column, draws, ctx):
    return explorer.score(_data(data_key), selection, metric=metric,
                          label_column=label_column, random_draws=draws, context=ctx)


@st.cache_data(show_spinner=False, max_entries=16)
def coverage_distances(data_key, indices: tuple, metric: str):
    """Distance of every row to its nearest selected row, in the embedding space."""
    data = _data(data_key)
    X = space.prepare(data.embeddings, metric, ids=data.ids)
    d, _ = space.nearest(X, X[np.asarray(indices)], metric)
    return d.astype(np.float32)


@st.cache_data(show_spinner=False, max_entries=8)
def cluster_labels(data_key, metric: str, k: int = 20):
    from explorer.clustering import kmeans

    data = _data(data_key)
    X = space.prepare(data.embeddings, metric, ids=data.ids)
    return kmeans(X, k, seed=0).labels


@st.cache_data(show_spinner="Measuring near-duplicates inside clusters ...", max_entries=8)
def semdedup_profile(data_key, n_clusters: int, seed: int):
    from explorer.strategies.semdedup import semdedup_profile as profile

    return profile(np.asarray(_data(data_key).embeddings), n_clusters, seed)


@st.cache_data(show_spinner="Tracing the quality-coverage front ...", max_entries=8)
def quality_front(data_key, budget: int, score_column: str, metric: str,
                  higher_is_better: bool, seed: int):
    from explorer.evaluate.compare import quality_coverage_front

    return quality_coverage_front(_data(data_key), budget, score_column, metric=metric,
                                  higher_is_better=higher_is_better, seed=seed)


def prefetch_after(sel) -> None:
    """While the page is idle after a k-center selection, continue its traversal up to four
    times the budget, at least 200 picks more (at most 5 s of work), so a larger budget next
    is ready; stopped when the next run starts (:func:`stop_background_work`)."""
    if sel is not None and sel.strategy == "k-center":
        kcenter.prefetch(APP_CACHE, max(3 * len(sel.indices), 200),
                         fingerprint=sel.fingerprint)


def stop_background_work() -> None:
    """Called first in every run: the run gets the machine to itself."""
    APP_CACHE.stop_background()


@st.cache_data(show_spinner=False, max_entries=32)
def search_matches(data_key, column: str, text: str):
    """Rows whose ``column`` contains ``text`` (literal, any case)."""
    from explorer.search import text_matches

    return text_matches(_data(data_key), column, text)


@st.cache_data(show_spinner=False, max_entries=64)
def row_neighbours(data_key, row: int, k: int, metric: str):
    from explorer.search import neighbours_of_row

    return neighbours_of_row(_data(data_key), row, k, metric)


@st.cache_resource(show_spinner="Loading the text model that embedded this dataset ...",
                   max_entries=2)
def query_model(data_key):
    """The dataset's own text model (loaded once per dataset, offline)."""
    from explorer.search import query_model as load

    return load(_data(data_key))


@st.cache_data(show_spinner="Embedding the sentence ...", max_entries=64)
def text_neighbours(data_key, text: str, k: int, metric: str):
    from explorer.search import neighbours_of_text

    return neighbours_of_text(_data(data_key), query_model(data_key), text, k, metric)


def row_scores(data_key):
    """The per-row scores the data key asks for (cached with the dataset), or None."""
    from .data import base_key, cached_row_scores, score_settings

    settings = score_settings(data_key)
    return None if settings is None else cached_row_scores(base_key(data_key), settings)


@st.cache_data(show_spinner=False, max_entries=16)
def selection_distances(data_key, indices: tuple, metric: str):
    """Distance of every row to the nearest selected row (the row scores' own measure)."""
    from explorer.row_scores import distance_to_selected

    data = _data(data_key)
    X = space.prepare(data.embeddings, metric, ids=data.ids)
    return distance_to_selected(X, np.asarray(indices, dtype=np.int64), metric)
