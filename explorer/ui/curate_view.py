"""The Explore page's curation panels: per-row scores (captions and a sortable table), the
literal text search, and the nearest neighbours of a clicked row or a typed sentence with
buttons to pin, exclude or target them. Everything is computed by the library through
:mod:`explorer.ui.compute`; this module only draws."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

import explorer
from explorer.data import previews
from explorer.data.filters import column_kind

from . import compute, state
from . import data as uidata

#: Rows shown in the scores table (sorted by the chosen score first).
TABLE_ROWS = 2_000


# ---- per-row scores

def scores_panel(data) -> None:
    """Settings and button for the per-row scores; once computed, each score's caption and
    a table of the rows sortable by any score (restricted to the filter's rows)."""
    key = state.get("data_key")
    settings = uidata.score_settings(key)
    with st.expander("Per-row scores", expanded=settings is not None):
        c = st.columns(3)
        k = state.remembered(c[0].number_input, "Neighbours k", "score_k", min_value=1,
                             max_value=max(1, min(200, data.n - 1)), step=1,
                             help="Uniqueness is the distance to the k-th nearest row; "
                             "typicality 1 / the mean distance to the k nearest.")
        clusters = state.remembered(c[1].number_input, "Clusters", "score_clusters",
                                    min_value=1, max_value=min(500, data.n), step=1)
        threshold = state.remembered(c[2].number_input, "Duplicate threshold",
                                     "score_threshold", min_value=0.0, step=0.01,
                                     format="%.3f", help="Rows this close or closer (in "
                                     "the metric) are near-duplicates, as for dedup.")
        wanted = (state.get("metric"), int(k), int(clusters), float(threshold))
        label = "Compute per-row scores" if settings is None else "Recompute with these settings"
        if st.button(label, key="scores_run", disabled=settings == wanted):
            _switch_scores(key, wanted)
        if settings is not None and st.button("Remove the score columns", key="scores_off"):
            state.put("data_key", uidata.with_score_settings(key, None))
            st.rerun()
        if state.get("scores_error"):
            st.error(state.get("scores_error"))
        scores = compute.row_scores(key)
        if scores is None:
            st.caption("Uniqueness, typicality, near-duplicate groups, k-means clusters and "
                       "the distance to the selection, as columns: colour the map by them, "
                       "filter and sort by them, use one as a strategy's score column.")
            return
        for name in scores.frame.columns:
            if name != "distance_to_selected":
                st.caption(scores.caption(name))
        _scores_table(data, scores)


def _switch_scores(key, settings) -> None:
    new_key = uidata.with_score_settings(key, settings)
    try:
        uidata.load_cached(*new_key)
    except explorer.ExplorerError as exc:
        state.put("scores_error", str(exc))
        return
    state.put("scores_error", None)
    state.put("data_key", new_key)
    st.rerun()


def _scores_table(data, scores) -> None:
    frame = scores.frame.copy()
    sel = state.get("selection")
    if sel is not None and sel.fingerprint == data.fingerprint:
        frame["distance_to_selected"] = compute.selection_distances(
            state.get("data_key"), tuple(int(i) for i in sel.indices), sel.metric)
        st.caption(f"distance_to_selected: distance to the nearest of the {len(sel):,} "
                   f"selected rows ({sel.metric} metric).")
    else:
        frame = frame.drop(columns=["distance_to_selected"])
    rows = np.arange(data.n)
    where = state.get("filter_json")
    if where:
        from explorer.data.filters import evaluate

        rows = np.flatnonzero(evaluate(json.loads(where), data.metadata, "filter"))
    order_by = state.remembered(st.selectbox, "Sort the table by", "score_sort",
                                options=list(frame.columns), default="uniqueness")
    descending = state.remembered(st.toggle, "Highest first", "score_desc", default=True)
    values = frame[order_by].to_numpy()[rows]
    order = np.lexsort((rows, -values if descending else values))
    shown = rows[order][:TABLE_ROWS]
    table = pd.DataFrame({"row": shown, "id": data.ids[shown]})
    for col in [c for c in ("label",) if c in data.metadata.columns]:
        table[col] = data.metadata[col].to_numpy()[shown]
    if previews.text_column(data):
        table["text"] = [previews.snippet(data, r, 80) for r in shown]
    for col in frame.columns:
        table[col] = frame[col].to_numpy()[shown]
    st.dataframe(table, hide_index=True, height=260, key="scores_table")
    st.caption(f"{len(shown):,} of {len(rows):,} rows"
               + (" that pass the filter" if where else "")
               + "; click a column header to sort by it. The scores are columns of the "
               "dataset now: the filter, the map's colours and the score column list them.")


# ---- text search

def text_columns(data) -> list[str]:
    return [c for c in data.metadata.columns if column_kind(data.metadata[c]) == "text"
            and not str(data.metadata[c].dropna().head(1).astype(str).str.cat())
            .startswith("data:image/")]


def search_panel(data) -> None:
    """A literal, case-insensitive search over a text column; the matches are ringed on the
    map and listed."""
    columns = text_columns(data)
    if not columns:
        return
    guess = previews.text_column(data)
    with st.expander("Search text", expanded=bool(state.get("search_text"))):
        c = st.columns([1, 2])
        state.remembered(c[0].selectbox, "Column", "search_column", options=columns,
                         index=columns.index(guess) if guess in columns else 0)
        state.remembered(c[1].text_input, "Contains", "search_text", default="",
                         placeholder="literal text, any case", max_chars=500)
        found = matches(data)
        if state.get("search_text"):
            st.caption(f"**{len(found):,}** rows contain “{state.get('search_text')}”; "
                       "they are ringed on the map.")
            if len(found):
                st.dataframe(pd.DataFrame({
                    "row": found[:200], "id": data.ids[found[:200]],
                    "text": [_cell(data, state.get("search_column"), r) for r in found[:200]]}),
                    hide_index=True, height=180, key="search_table")


def _cell(data, column, row) -> str:
    value = data.metadata[column].iat[int(row)]
    return "" if value is None or value != value else " ".join(str(value).split())[:120]


def matches(data) -> np.ndarray:
    """The rows the search finds (empty without a search)."""
    column, text = state.get("search_column"), state.get("search_text")
    if not text or column not in data.metadata.columns:
        return np.zeros(0, dtype=np.int64)
    try:
        return compute.search_matches(state.get("data_key"), column, text)
    except explorer.ExplorerError as exc:
        st.error(str(exc))
        return np.zeros(0, dtype=np.int64)


# ---- nearest neighbours

def typed_sentence_allowed(data) -> bool:
    record = getattr(data, "embedding", None) or {}
    return record.get("kind") == "text"


def neighbours(data):
    """The listed nearest neighbours: of the typed sentence when there is one, else of the
    clicked row; None when neither."""
    k = int(state.get("neighbour_k"))
    metric = state.get("metric")
    key = state.get("data_key")
    text = state.get("neighbour_text")
    if text and typed_sentence_allowed(data):
        return compute.text_neighbours(key, text, k, metric)
    focus = state.get("focus_row")
    if focus is not None and 0 <= focus < data.n:
        return compute.row_neighbours(key, int(focus), k, metric)
    return None


def neighbours_panel(data, apply) -> None:
    """Nearest neighbours of the clicked row (or of a typed sentence, when the dataset was
    embedded by a known text model) as a list or a gallery, with buttons that pin them,
    exclude them or make them the target (``apply(kind, rows)``)."""
    st.markdown("**Nearest neighbours**")
    c = st.columns([1, 3])
    state.remembered(c[0].number_input, "How many", "neighbour_k", min_value=1,
                     max_value=max(1, min(100, data.n - 1)), step=1)
    if typed_sentence_allowed(data):
        state.remembered(c[1].text_input, "Of a sentence (embedded by "
                         f"{data.embedding.get('model')})", "neighbour_text", default="",
                         placeholder="type a sentence, or leave empty and click a point",
                         max_chars=2000)
    else:
        c[1].caption("Click a point on the map to list its nearest rows (a typed sentence "
                     "needs a dataset embedded by a known text model: see Embed in the "
                     "sidebar).")
    try:
        found = neighbours(data)
    except explorer.ExplorerError as exc:
        st.error(str(exc))
        return
    if found is None:
        st.caption("Click a point on the map to list its nearest rows.")
        return
    rows = [int(r) for r in found.indices]
    st.caption(f"The {len(rows)} rows nearest to {found.query!r} in the embedding space "
               f"({found.metric} distance); ringed on the map.")
    if previews.image_column(data) is not None:
        cols = st.columns(min(len(rows), 8) or 1)
        for j, (r, d) in enumerate(zip(rows, found.distances)):
            img = previews.image(data, r)
            with cols[j % len(cols)]:
                if img is not None:
                    st.image(str(img), width=56)
                st.caption(f"{data.ids[r]} · {d:.3g}")
    else:
        st.dataframe(pd.DataFrame({"row": rows, "id": data.ids[rows],
                                   "distance": np.round(found.distances, 4),
                                   "text": [previews.snippet(data, r) for r in rows]}),
                     hide_index=True, height=min(38 + 35 * len(rows), 320),
                     key="neighbours_table")
    b = st.columns(3)
    if b[0].button("Pin these", key="nb_pin", help="They must be selected."):
        apply("pinned", rows)
    if b[1].button("Exclude these", key="nb_exclude", help="They are never selected."):
        apply("excluded", rows)
    if b[2].button("Use as target", key="nb_target", help="A target set for target-driven "
                   "strategies."):
        apply("target", rows)
