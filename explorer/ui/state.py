"""Every session-state key of the app, in one place, with its default."""

from __future__ import annotations

import streamlit as st

DEFAULTS = {
    "source": "Bundled sample",     # where the dataset comes from
    "sample": "digits",             # which bundled sample
    "data_key": None,               # (kind, path, options) of the loaded dataset
    "load_error": None,             # the last loading error, shown on top of the page
    "failed_key": None,             # the data key that failed (not retried until it changes)
    "upload_names": {},             # stored upload path -> the name the user gave (messages)
    "metric": "euclidean",
    "budget_mode": "count",         # "count", "percent" or "total cost"
    "budget_count": 50,
    "budget_percent": 5.0,
    "budget_cost": None,            # the total cost (None: 50 rows at the mean cost)
    "cost_column": None,            # the numeric column the total cost is counted in
    "cost_for": None,               # (fingerprint, column) the default total cost was set for
    "seed": 0,
    "label_column": None,
    "group_column": None,
    "score_column": None,
    "pinned": [],                   # row indices the user pinned (must include)
    "excluded": [],                 # row indices the user excluded
    "target": [],                   # row indices used as a target set
    "history": [],                  # undo stack of (pinned, excluded, target)
    "selection": None,              # the last Selection
    "selection_error": None,
    "lasso": [],                    # row indices in the current lasso / box
    "focus_row": None,              # the clicked point, shown in the detail panel
    "map_generation": 0,            # part of the map's key: a new one clears a drawn lasso
    "map_drawn": None,              # the MapChart on screen (turns a lasso event into rows)
    "map_event": None,              # the last lasso event taken (not taken twice)
    # (data key, method, neighbours, min_dist, metric, progress placeholder) of the layout
    # the map waits for, computed at the end of the page's run (explore_view.finish_layout)
    "layout_pending": None,
    "page_running": False,          # a run of the whole Explore page, not of one fragment
    # (data key, rows, static folder) of the hover thumbnails the map names but that are not
    # made yet: made at the end of the page's run (explore_view.finish_layout)
    "thumbnails_pending": None,
    "thumbnails_made": None,        # (signature of those rows, their problems) once made
    "strategy": "k-center",         # the Explore page's strategy
    "workspace_moved": None,        # where a damaged workspace file was just moved (said once)
    "filter_count": 0,              # conditions in the Explore page's filter builder
    "filter_join": "all conditions hold (and)",  # how the builder joins its conditions
    # each condition's widgets remember their values under "filter:<i>:..." (filter_view)
    "robust_space": None,           # the scorecard's "check in another embedding" choice
    "robust_path": "",              # ... when it is a file on disk
    "robust_request": None,         # the check last asked for (shown until the input changes)
    "dims_k": None,                 # Dimensions page: k (None: a default from the width)
    "dims_methods": None,           # ... the methods measured (None: all that apply)
    "dims_draws": 30,               # ... random k-dimension subsets
    "dims_request": None,           # ... the measurement last asked for
    "dims_export": None,            # ... the method whose dimensions are downloaded
    "confirm_fraction": 0.2,        # Export page: share of rows a new lock holds
    "confirm_result": None,         # ... the confirmation just made (a dict)
    "heavy_done": set(),            # heavy runs this session finished (cached: no queue again)
    "embed_error": None,            # the last error of the sidebar's Embed button
    "embedded_key": None,           # the data key of the last embedded output
    "filter_json": None,            # the Explore filter's JSON text (Export offers its rows)
    "search_column": None,          # the text column the Explore search looks in
    "search_text": "",              # the Explore search's literal text
    "neighbour_k": 10,              # how many nearest neighbours the Explore page lists
    "neighbour_text": "",           # a typed sentence whose neighbours are listed
    "score_k": 10,                  # per-row scores: neighbours of uniqueness / typicality
    "score_clusters": 20,           # per-row scores: k-means clusters
    "score_threshold": 0.05,        # per-row scores: near-duplicate threshold
    "scores_error": None,           # the last error of the per-row scores' button
    # a sharded dataset and the engine its runs go to (shard_source.py, engine_view.py)
    "shards_path": "",              # the folder or glob of shards typed in the sidebar
    "shards_id": "",                # ... its id column ('' : row numbers)
    "shards_emb": "",               # ... its embedding column ('' : found by its type)
    "engine_kind": "local",         # "local", "cluster" (a Dask LocalCluster), "scheduler"
    "engine_workers": 2,            # a LocalCluster's worker processes
    "engine_memory": "auto",        # ... each one's memory limit
    "engine_address": None,         # a scheduler's address (None: $DASK_SCHEDULER_ADDRESS)
    "engine_strategy": "k-center",  # the strategy run on the engine
    "engine_runs": {},              # run key -> (Selection, Scorecard), the last few
    "engine_error": None,           # why the last run on the engine failed
    "engine_scorecard": None,       # the scorecard of the run on screen (its manifest's)
    "engine_exports": {},           # the run on screen's Parquet and manifest, as bytes
    "engine_interchange": {},       # ... its zipped HF folder and Label Studio tasks, as bytes
    "engine_interchange_error": None,  # ... (its key, why it failed) of the last that failed
    "engine_compares": {},          # Compare on shards: its key -> (table, picks, notes)
    "engine_compare_error": None,   # ... (its key, why it failed) of the last one that failed
    "engine_dimensions": {},        # Dimensions on shards: its key -> DimensionReport
    "engine_dimensions_error": None,  # ... (its key, why it failed) of the last one that failed
    # (data key, name, Selection, the Explore run key it was first shown under) of a saved
    # run reloaded on Export: the current run until a run is made or a setting changes
    "engine_reloaded": None,
    "ws_overlaps": {},              # saved runs' checked indices, by what the entries hold
    "ws_overlap_error": None,       # ... (its key, why it failed) of the last that failed
    "engine_target": [],            # global row indices of the sharded map's target set
    "shard_lasso": [],              # ... rows of its current lasso
    "shard_map_event": None,        # ... its last lasso event taken (not taken twice)
    "shard_map_generation": 0,      # ... part of its key: a new one clears a drawn lasso
}


#: The sidebar's column choices (a column name or None).
COLUMN_KEYS = ("label_column", "group_column", "score_column")


def init() -> None:
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            fresh = isinstance(value, (list, dict, set))  # a copy of its own per session
            st.session_state[key] = type(value)(value) if fresh else value


def get(key):
    init()
    return st.session_state[key]


def put(key, value) -> None:
    st.session_state[key] = value


def push_history() -> None:
    hist = get("history")
    hist.append((list(get("pinned")), list(get("excluded")), list(get("target"))))
    del hist[:-50]


def undo() -> bool:
    hist = get("history")
    if not hist:
        return False
    pinned, excluded, target = hist.pop()
    put("pinned", pinned)
    put("excluded", excluded)
    put("target", target)
    return True


def reset_for_new_data() -> None:
    for key in ("pinned", "excluded", "target", "history", "lasso", "engine_target",
                "shard_lasso"):
        put(key, [])
    for key in ("selection", "selection_error", "focus_row", "engine_error",
                "engine_scorecard") + COLUMN_KEYS:
        put(key, None)
    for key in COLUMN_KEYS:  # the guesses apply again on the new data
        st.session_state.pop(column_choice_key(key), None)
    put("search_column", None)  # the search and the neighbours named the old data's rows
    put("search_text", "")
    put("neighbour_text", "")
    put("scores_error", None)
    put("filter_count", 0)  # the filter named the old data's columns
    put("filter_json", None)
    for key in [k for k in st.session_state if str(k).startswith(("filter:", "w:filter:"))]:
        st.session_state.pop(key, None)
    put("map_drawn", None)
    put("map_generation", get("map_generation") + 1)


def new_chart_selection(event, part: str, key: str):
    """``event["selection"][part]`` of a chart's selection event when it is new, else None.
    Each rerun returns the chart's last event again: the one taken is remembered under the
    state ``key``, so it is taken once."""
    try:
        found = event["selection"][part]
    except (KeyError, TypeError):
        return None
    signature = repr(found)
    if signature == get(key):
        return None
    put(key, signature)
    return found


def column_choice_key(key: str) -> str:
    """Where the column widget's own choice ("(none)" included) is remembered."""
    return f"{key}:choice"


def widget_key(key: str) -> str:
    """The Streamlit key of the widget that edits the remembered value ``key``."""
    return f"w:{key}"


def remembered(widget, label: str, key: str, *args, default=None, options=None, many=False,
               **kwargs):
    """Draw ``widget`` (st.selectbox, st.number_input, ... or their sidebar forms) for the
    value remembered in session state under ``key``, and remember what it returns.

    The value lives under ``key`` itself, never as widget state, because Streamlit drops a
    widget's state when a page does not draw it (a strategy chosen on Explore came back as
    k-center after a visit to Export) and, after a page change under load, the browser can
    re-create a sidebar widget from its default and send that (a budget input sends its
    minimum, 1). Passing the remembered value as the widget's default makes a
    re-created widget show it. ``options`` (selectbox, radio) are matched by value;
    ``default`` is the value for a key without an entry in DEFAULTS; ``many`` marks a
    multiselect (its value is a list of options).
    """
    init()
    current = st.session_state.get(key, DEFAULTS.get(key, default))
    if options is None:
        value = widget(label, *args, value=current, key=widget_key(key), **kwargs)
    else:
        options = list(options)
        if many:
            kwargs["default"] = [v for v in current if v in options]
        else:  # ``index`` (default 0) is the fallback when the value is not an option
            fallback = kwargs.pop("index", 0)
            kwargs["index"] = options.index(current) if current in options else fallback
        value = widget(label, options, *args, key=widget_key(key), **kwargs)
    st.session_state[key] = value
    return value


def scored_key(sel) -> tuple:
    """Identifies a selection among those whose long scorecard the user asked for."""
    import hashlib

    return (sel.fingerprint, sel.strategy, sel.metric,
            hashlib.sha1(sel.indices.tobytes()).hexdigest())


def may_score(sel, heavy: bool) -> bool:
    """A scorecard is computed by itself unless it is heavy; a heavy one once asked for."""
    return not heavy or scored_key(sel) in st.session_state.setdefault("scored", set())


def allow_scoring(sel) -> None:
    st.session_state.setdefault("scored", set()).add(scored_key(sel))
