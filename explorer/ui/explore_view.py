"""The Explore page's sections: running a strategy, the map with its lasso, the scorecard."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import streamlit as st

import explorer
from explorer import projection
from explorer.cost import estimate_score

from . import (compute, curate_view, figures, filter_view, live_charts, results_view,
               robustness_view, sidebar, state)
from . import hover as hover_view
from .heavy import heavy_turn


def _selection_args(data, spec, params, where=None):
    return dict(
        data_key=state.get("data_key"), strategy=spec.name, budget=sidebar.budget_value(data),
        seed=int(state.get("seed")), metric=state.get("metric"),
        params_items=tuple(sorted(params.items())), pinned=tuple(state.get("pinned")),
        excluded=tuple(state.get("excluded")), label_column=state.get("label_column"),
        group_column=state.get("group_column"), score_column=state.get("score_column"),
        target=tuple(state.get("target")), where=filter_view.where_json(where),
        lock=compute.lock_digest(state.get("data_key")), cost_column=sidebar.cost_column())


def run_if_needed(data, spec, params, missing, go: bool, pressed: bool = False,
                  where=None) -> None:
    """Run (or fetch from cache) the chosen strategy, among the rows that pass ``where`` (the
    filter builder's Filter); errors become a message, not a trace.

    A run the estimate calls heavy (long, or much memory) does not start by itself: the
    page says how long it would take and what is faster, and waits for the Run button."""
    if not go or missing:
        return
    args = _selection_args(data, spec, params, where)
    from explorer.cost import estimate

    count = args["budget"]
    if args["cost_column"] is not None:  # the estimate wants the count the cost buys
        values = data.metadata[args["cost_column"]].to_numpy(dtype=float)
        mean = float(np.nanmean(values)) if np.isfinite(values).any() else 1.0
        count = max(1, min(data.n, int(count / mean))) if mean > 0 else data.n
    est = estimate(spec.name, data.n, data.dim, count, params)
    if est.heavy and not pressed:
        st.warning(f"{spec.name} at this size would take {est.describe()} Press **Run** to "
                   "start it anyway.")
        return
    budget = args["budget"]
    if spec.sets_size:
        budget = None  # the strategy decides how many rows it keeps
        args["budget"] = budget
        args["cost_column"] = None  # and sets its own size: a cost budget does not apply
    try:
        with heavy_turn(f"{spec.name}") if est.heavy else nullcontext(), \
                st.spinner(f"Running {spec.name} ..."):
            sel = compute.cached_selection(**args)
        state.put("selection", sel)
        state.put("selection_error", None)
    except explorer.ExplorerError as exc:
        state.put("selection", None)
        state.put("selection_error", str(exc))


def layout_lead(label: str) -> str:
    return f"PCA layout shown while {label} computes (once; then it is cached on disk)"


UMAP_LEAD = layout_lead("UMAP")
UMAP_DEFAULTS = (15, 0.1)  # (n_neighbors, min_dist) until the page's UMAP settings change them
COLOUR_CHOICES = ("label", "group", "k-means cluster", "coverage (distance to nearest pick)",
                  "none")


@st.fragment
def map_section(data) -> None:
    """The 2-D map (UMAP, PaCMAP or t-SNE, with PCA at once while they compute; or PCA) with
    lasso actions."""
    c1, c2, c3 = st.columns([1, 1.6, 1])
    offered = projection.available_methods()
    label = state.remembered(c1.selectbox, "Layout", "layout_method",
                             options=[projection.LABELS[m] for m in offered],
                             help="For looking only: every metric is computed in the "
                             "embedding space, never on this map. PaCMAP is faster than "
                             "UMAP, t-SNE keeps neighbourhoods better and is slower "
                             "(docs/bench_peers.md).")
    method = projection.METHOD_OF_LABEL[label]
    levels = compute.column_levels(state.get("data_key"))
    layout_columns = compute.given_layout(state.get("data_key")).columns
    extra = [c for c in data.metadata.columns if c not in layout_columns and (
             c not in ("label", "group", "id") and data.metadata[c].dtype.kind in "fiub" or
             (c not in ("label", "group", "id", "text", "image") and levels[c] <= 40))]
    choices = [c for c in COLOUR_CHOICES if c not in ("label", "group")
               or c in data.metadata.columns] + extra
    colour_by = state.remembered(c2.selectbox, "Colour by", "colour_by", options=choices)
    nn, md = UMAP_DEFAULTS  # the other layouts take no settings from the page
    if method == "umap":
        with c3.popover("UMAP settings"):
            nn = state.remembered(st.slider, "neighbours", "umap_nn", 5, 100,
                                  default=UMAP_DEFAULTS[0])
            md = state.remembered(st.slider, "min_dist", "umap_md", 0.0, 0.99,
                                  default=UMAP_DEFAULTS[1])
    metric = state.get("metric")
    key = state.get("data_key")
    own = compute.given_layout(key)
    if own.problem:
        st.warning(own.problem)
    state.put("layout_pending", None)
    if method == "umap" and own.xy is not None:
        xy = own.xy
        c3.caption(f"The data's own layout (columns {', '.join(own.columns)}).")
    elif method != "pca" and not compute.cached_layout(key, method, nn, md, metric):
        xy = compute.layout(key, "pca", 15, 0.1, metric)
        # the layout's progress bar, above the map; the layout itself runs after the page's
        # selection and scorecard are drawn (finish_layout)
        note = st.empty()
        note.progress(0.0, text=f"{layout_lead(label)} ...")
        state.put("layout_pending", (key, method, nn, md, metric, note))
    else:
        xy = compute.layout(key, method, nn, md, metric)
    sel = state.get("selection")
    selected = sel.indices if sel is not None and sel.fingerprint == data.fingerprint else None
    colour, name, continuous = _colour(data, key, colour_by, selected, metric)
    scores = compute.row_scores(key)
    if scores is not None and colour_by in scores.records:
        st.caption(f"Colour: {scores.caption(colour_by)}")
    try:
        near = curate_view.neighbours(data)
    except explorer.ExplorerError:
        near = None  # said in the neighbours panel below the map
    shown = dict(selected=selected, pinned=state.get("pinned"), excluded=state.get("excluded"),
                 target=state.get("target"), found=curate_view.matches(data),
                 neighbours=() if near is None else near.indices)
    hover = hover_view.hover_for(data, key, live_charts.drawn_rows(data.n, **shown))
    meta = data.metadata

    def details(r: int) -> str:  # hover line of a highlighted row (escaped by the chart)
        parts = [f"label {meta['label'].iloc[r]}"] if "label" in meta.columns else []
        if hover.notes is not None:
            parts.append(hover.notes(r))
        return " · ".join(p for p in parts if p)

    chart = live_charts.map_chart(xy, data.ids, colour=colour, colour_name=name,
                                  continuous=continuous, details=details, notes=hover.notes,
                                  image_folder=hover.image_folder, **shown)
    if hover.problems:
        st.caption(f"{hover.problems:,} of the drawn rows have no thumbnail; hover one for "
                   "the reason.")
    # A keyed chart keeps its identity, so a new selection redraws the canvas in place. The
    # lasso arrives on the run after it was drawn: read it against the chart then on screen.
    drawn = state.get("map_drawn")
    event = st.echarts_chart(chart.option, key=f"map-{state.get('map_generation')}",
                             on_select="rerun", height=640)
    # only the rows of each series are kept (the option's nested lists would make every run's
    # garbage collection walk some 20,000 small lists)
    state.put("map_drawn", live_charts.MapChart({}, chart.series_rows))
    _take_lasso(event, drawn if drawn is not None else chart)
    lasso_actions(data)
    if not state.get("page_running") and (state.get("layout_pending") is not None or
                                          state.get("thumbnails_pending") is not None):
        st.rerun()  # asked for in this fragment's run: the page's end makes them


def start_page() -> None:
    """Mark a run of the whole page (finish_layout, at its end, clears the mark)."""
    state.put("page_running", True)


def map_before_selection() -> bool:
    """Whether this run of the page draws the map before it computes the selection: only
    before the session's first selection, which may wait for numba's first compile (seconds
    on a fresh install) while the map does not need it. ``finish_layout(redraw=True)`` then
    redraws the page, so that the map shows the picks."""
    return state.get("selection") is None and state.get("selection_error") is None


def finish_layout(redraw: bool = False) -> None:
    """Make the hover thumbnails the map names (if pending) and compute the layout it is
    waiting for (if any), showing the layout's progress above the map, then redraw the page
    with it. Called last, so the selection and its scorecard are on screen before either
    starts. ``redraw``: redraw the page first once there is a selection (the map was drawn
    before it)."""
    state.put("page_running", False)
    pending = state.get("layout_pending")
    if pending is None:
        if redraw and state.get("selection") is not None:
            st.rerun()  # the picks first: the thumbnails follow at the end of that run
        if hover_view.make_pending_thumbnails():
            st.rerun()  # some rows have no thumbnail: the map's hover says why
        return
    hover_view.make_pending_thumbnails()
    key, method, nn, md, metric, note = pending
    state.put("layout_pending", None)
    lead = layout_lead(projection.LABELS[method])
    compute.compute_layout(key, method, nn, md, metric,
                           lambda f, m: note.progress(min(1.0, max(0.0, f)),
                                                      text=f"{lead}: {m}"))
    note.empty()
    st.rerun()


def _take_lasso(event, drawn) -> None:
    """A new lasso, box or click on the map becomes the current lasso (a click on one point
    also opens its details); an event already taken is not taken again."""
    selected = state.new_chart_selection(event, "selected", "map_event")
    if selected is None:
        return
    rows = drawn.rows_of(selected)
    state.put("lasso", rows)
    if len(rows) == 1:
        state.put("focus_row", rows[0])


def _colour(data, key, colour_by, selected, metric):
    meta = data.metadata
    if colour_by in ("label", "group"):
        return meta[colour_by].astype(str).to_numpy(), colour_by, False
    if colour_by == "k-means cluster":
        return compute.cluster_labels(key, metric), "cluster", False
    if colour_by.startswith("coverage"):
        if selected is None or len(selected) == 0:
            return None, "", False
        d = compute.coverage_distances(key, tuple(int(i) for i in selected), metric)
        return d, "distance to nearest pick", True
    if colour_by in meta.columns:
        col = meta[colour_by]
        if col.dtype.kind in "fc":
            return col.to_numpy(dtype=float), colour_by, True
        return col.astype(str).to_numpy(), colour_by, False
    return None, "", False


def lasso_actions(data) -> None:
    lasso = state.get("lasso")
    pinned, excluded, target = state.get("pinned"), state.get("excluded"), state.get("target")
    st.caption(f"Lasso or box: choose the tool at the map's top right and draw around points "
               f"({len(lasso)} in the current lasso); click a point for its details, scroll to "
               f"zoom. Pinned: **{len(pinned)}** · excluded: **{len(excluded)}** · target: "
               f"**{len(target)}**")
    b = st.columns(5)
    if b[0].button("Pin lassoed", disabled=not lasso, help="These rows must be selected.",
                   key="act_pin"):
        _apply("pinned", lasso)
    if b[1].button("Exclude lassoed", disabled=not lasso, help="These rows are never selected.",
                   key="act_exclude"):
        _apply("excluded", lasso)
    if b[2].button("Use as target", disabled=not lasso, help="A target set for target-driven "
                   "strategies.", key="act_target"):
        _apply("target", lasso)
    if b[3].button("Undo", disabled=not state.get("history"), key="act_undo"):
        state.undo()
        st.rerun()
    if b[4].button("Clear all", disabled=not (pinned or excluded or target), key="act_clear"):
        state.push_history()
        for k in ("pinned", "excluded", "target"):
            state.put(k, [])
        st.rerun()
    if pinned or excluded or target:
        with st.expander("Pinned, excluded and target rows"):
            for name, rows in (("pinned", pinned), ("excluded", excluded), ("target", target)):
                if rows:
                    st.markdown(f"**{name}** ({len(rows)})")
                    st.dataframe(results_view.frame_of_rows(data, rows), hide_index=True,
                                 height=150)
    focus = state.get("focus_row")
    if focus is not None and focus < data.n:
        with st.container(border=True):
            results_view.detail_panel(data, focus)
    with st.container(border=True):
        curate_view.neighbours_panel(data, _apply)


def _apply(kind: str, rows) -> None:
    state.push_history()
    rows = [int(r) for r in rows]
    others = [k for k in ("pinned", "excluded") if k != kind]
    if kind in ("pinned", "excluded"):
        for other in others:  # a row cannot be both pinned and excluded
            state.put(other, [r for r in state.get(other) if r not in set(rows)])
        state.put(kind, sorted(set(state.get(kind)) | set(rows)))
    else:
        state.put(kind, sorted(set(rows)))
    state.put("lasso", [])
    state.put("map_generation", state.get("map_generation") + 1)  # clears the drawn lasso
    st.rerun()


@st.fragment
def scorecard_section(data, sel) -> None:
    if sel.fingerprint != data.fingerprint:
        return
    est = estimate_score(data.n, data.dim, len(sel.indices))
    if not state.may_score(sel, est.heavy):
        st.info(f"Scoring these {len(sel.indices):,} rows against 30 random subsets of the "
                f"same size would take {est.describe()}")
        if not st.button("Score against random", key="score_run"):
            return
        state.allow_scoring(sel)
    with heavy_turn("scoring", state.scored_key(sel)) if est.heavy else nullcontext():
        card = compute.scorecard(state.get("data_key"), sel, sel.metric,
                                 state.get("label_column"))
    results_view.scorecard_view(card, data, sel.strategy)
    robustness_view.check_in_another_embedding(data, sel)


EPS_STEPS = (0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3)


def strategy_insights(data, spec, params) -> None:
    """Helpers for choosing a strategy's key parameter: SemDeDup's eps, the quality weight."""
    if spec.name == "semdedup":
        with st.expander("Choose eps: near-duplicates in this data", expanded=False):
            _semdedup_report(data, params)
    elif spec.name == "quality-diversity" and state.get("score_column"):
        with st.expander("Quality against coverage, over the weight", expanded=False):
            # a count: under a cost budget the front is drawn at the sidebar's row count
            count = sidebar.budget_value(data) if sidebar.cost_column() is None else \
                int(state.get("budget_count"))
            front = compute.quality_front(state.get("data_key"), count,
                                          state.get("score_column"), state.get("metric"),
                                          bool(params.get("higher_is_better", True)),
                                          int(state.get("seed")))
            st.plotly_chart(figures.front_figure(front, state.get("score_column"),
                                                 float(params.get("weight", 0.5))),
                            key="qd_front")
            st.caption("Each point is the subset at one weight; the ringed ones are Pareto-"
                       "optimal (no other weight has both a higher mean score and a smaller "
                       "worst-case coverage distance).")


def _semdedup_report(data, params) -> None:
    eps = float(params.get("eps", 0.05))
    prof = compute.semdedup_profile(state.get("data_key"), int(params.get("n_clusters", 20)),
                                    int(state.get("seed")))
    best, nearest, partner = prof["best"], prof["nearest"], prof["partner"]
    removed = [{"eps": e, "similarity above": round(1 - e, 3),
                "rows removed": int((best > 1 - e).sum())}
               for e in EPS_STEPS]
    st.plotly_chart(figures.similarity_histogram(nearest[np.isfinite(nearest)], 1 - eps),
                    key="semdedup_hist")
    st.dataframe(removed, hide_index=True, width="stretch")
    st.caption(f"At eps {eps:g}, {int((best > 1 - eps).sum()):,} of {data.n:,} rows go: each "
               "has a more atypical row of its cluster with cosine similarity above "
               f"{1 - eps:.3f}.")
    finite = np.isfinite(best)
    above = np.flatnonzero(finite & (best > 1 - eps))
    below = np.flatnonzero(finite & (best <= 1 - eps))
    above = above[np.argsort(best[above])][:3]          # just above the threshold: removed
    below = below[np.argsort(-best[below])][:3]         # just below it: kept
    for title, rows in (("Just above the threshold (removed)", above),
                        ("Just below the threshold (kept)", below)):
        st.markdown(f"**{title}**")
        if len(rows) == 0:
            st.caption("none")
        for r in rows:
            _pair(data, int(r), int(partner[r]), float(best[r]))


def _pair(data, a: int, b: int, sim: float) -> None:
    meta = data.metadata
    ids = data.ids
    cols = st.columns([1, 1])
    for col, row in zip(cols, (a, b)):
        if "image" in meta.columns and str(meta["image"].iloc[row]).startswith("data:image"):
            col.image(str(meta["image"].iloc[row]), width=48)
        text = str(meta["text"].iloc[row])[:160] if "text" in meta.columns else ""
        col.caption(f"id {ids[row]} · {text}" if text else f"id {ids[row]}")
    st.caption(f"cosine similarity {sim:.4f}")
