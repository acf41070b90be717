"""The sidebar every page shares: where the data comes from (a bundled sample, an upload, a
path on disk, items to embed), the metric, the budget (rows, percent or a total cost), the
seed and the label / group / score columns. It keeps the loaded dataset in session state;
the pages read it with ``current_data`` and the budget with ``budget_value``."""

from __future__ import annotations

import numpy as np
import streamlit as st

import explorer
from explorer.data.provenance import describe
from explorer.params import budget_count

from . import data as uidata
from . import shard_source, state
from .compute import column_levels
from .engine_view import engine_sidebar, is_sharded
from .strategy_panel import sets_own_size

UPLOAD_TYPES = ["npy", "npz", "parquet", "feather", "csv"]
META_TYPES = ["csv", "parquet", "feather", "jsonl"]
EMBED_SOURCE = "Embed text or images"


def sidebar_data():
    """Dataset, metric, budget and seed controls (they persist across pages).

    Returns the loaded Dataset (the previous one stays loaded when a new file is bad).
    """
    state.init()
    uidata.sweep_now_and_then()  # upload folders of sessions that have ended
    sb = st.sidebar
    sb.header("Data")
    source = state.remembered(sb.radio, "Where is the data?", "source",
                              options=["Bundled sample", "Upload a file", "Path on disk",
                                       shard_source.SHARDS_SOURCE, EMBED_SOURCE],
                              help="Samples ship with the app; a path on disk is "
                              "memory-mapped, so large files are not copied; shards (a folder "
                              "or glob of files) are read one at a time, for data larger than "
                              "memory.")
    if source == "Bundled sample":
        state.remembered(sb.selectbox, "Sample", "sample", options=uidata.SAMPLES,
                         format_func=lambda s: f"{s} — {uidata.DESCRIPTIONS[s]}")
    elif source == "Upload a file":
        limit = st.get_option("server.maxUploadSize")
        # no ``type=``: Streamlit would refuse an odd name (a NUL byte) with an exception of
        # its own before this script runs; the name is cleaned and its type checked here
        sb.file_uploader(f"Embeddings file ({', '.join('.' + t for t in UPLOAD_TYPES)}; up to "
                         f"{limit} MB)", key="upload", help="Limit set by "
                         "server.maxUploadSize in .streamlit/config.toml. Larger files: use "
                         "'Path on disk'.")
        sb.file_uploader(f"Metadata file, optional ({', '.join('.' + t for t in META_TYPES)})",
                         key="upload_meta")
        sb.text_input("Id column (optional)", key="upload_id")
        sb.checkbox("Drop rows with NaN / inf / zeros", key="upload_drop")
    elif source == EMBED_SOURCE:
        from .embed_view import embed_source

        embed_source(sb)
    elif source == shard_source.SHARDS_SOURCE:
        shard_source.source_widgets(sb)
    else:
        state.remembered(sb.text_input, "Path to the embeddings file", "disk_path", default="",
                         placeholder="/data/vectors.npy", help="Press Enter to load.")
        state.remembered(sb.text_input, "Metadata file (optional)", "disk_meta", default="")
        state.remembered(sb.text_input, "Id column (optional)", "disk_id", default="")
        state.remembered(sb.text_input, "Embedding column (optional)", "disk_emb", default="")
        state.remembered(sb.checkbox, "Drop rows with NaN / inf / zeros", "disk_drop",
                         default=False)
    sync_dataset()
    key = state.get("data_key")
    if key is None:  # the empty state: open on the first sample
        key = uidata.key_for_sample("digits")
        state.put("data_key", key)
    data, error = _try_load(key)
    if error:
        sb.error(error)
        return None
    sb.caption(f"**{data.name}**: {data.n:,} rows × {data.dim} dims"
               + (f" · {describe(data.embedding)}" if data.embedding else ""))

    sb.header("Selection")
    state.remembered(sb.selectbox, "Metric", "metric", options=explorer.DISTANCES,
                     help="Distances for strategies and metrics: euclidean, or cosine (1 − cos).")
    sharded = is_sharded(data)  # its rows are not in memory: its columns are names only
    # the strategy widget (drawn later, on Explore) holds this run's choice
    chooser = "engine_strategy" if sharded else "strategy"
    strategy = st.session_state.get(state.widget_key(chooser), state.get(chooser))
    free = sets_own_size(strategy)
    why = (f"{strategy} decides how many rows it keeps, so the budget does not apply."
           if free else None)
    numeric_columns = [] if sharded else \
        [c for c in data.metadata.columns if data.metadata[c].dtype.kind in "fiu"]
    modes = ["count", "percent"] + (["total cost"] if numeric_columns else [])
    mode = state.remembered(sb.radio, "Budget as", "budget_mode", options=modes,
                            horizontal=True, disabled=free,
                            help="total cost: rows cost different amounts (tokens, labelling "
                            "seconds, bytes in a numeric column); the budget is what the "
                            "selection may spend, and random is drawn at the same total cost.")
    if mode == "total cost" and not free:
        _cost_budget(sb, data, numeric_columns)
    elif mode == "count":
        if state.get("budget_count") > data.n:
            state.put("budget_count", data.n)
        state.remembered(sb.number_input, "Budget (rows)", "budget_count", min_value=1,
                         max_value=data.n, step=10, disabled=free, help=why)
    else:
        state.remembered(sb.number_input, "Budget (% of rows)", "budget_percent",
                         min_value=0.1, max_value=100.0, step=1.0, disabled=free, help=why)
    if free:
        sb.caption(why)
    state.remembered(sb.number_input, "Seed", "seed", min_value=0, step=1,
                     help="The same data, strategy, parameters and seed give the same rows.")
    if sharded:
        names = ["(none)"] + [c for c in data.columns if c != data.id_column]
        _column_select(sb, "Label column", "label_column", names, "label")
        _column_select(sb, "Group column", "group_column", names, "group")
        engine_sidebar(sb)
        return data
    levels = column_levels(state.get("data_key"))
    categorical = ["(none)"] + [c for c in data.metadata.columns
                                if levels[c] <= max(50, data.n // 20)]
    numeric = ["(none)"] + [c for c in data.metadata.columns
                            if data.metadata[c].dtype.kind in "fiu"]
    _column_select(sb, "Label column", "label_column", categorical, "label")
    _column_select(sb, "Group column", "group_column", categorical, "group")
    _column_select(sb, "Score column", "score_column", numeric, "difficulty")
    return data


def _requested_key():
    """The dataset the data widgets ask for, from their session-state keys (or None).

    Raises ExplorerError for a path outside the allowed folders, a file that is not a regular
    file, an empty upload, and other input the app refuses before loading."""
    ss = st.session_state
    source = ss.get("source", "Bundled sample")
    if source == "Bundled sample":
        return uidata.key_for_sample(ss.get("sample", "digits"))
    if source == "Upload a file":
        up = ss.get("upload")
        if up is None:
            return None
        meta_up = ss.get("upload_meta")
        key = uidata.key_for_upload(up, meta_up, ss.get("upload_id") or None,
                                    bool(ss.get("upload_drop")), UPLOAD_TYPES, META_TYPES)
        names = dict(state.get("upload_names"))
        names[key[1]] = uidata.display_name(up.name)
        if meta_up is not None:
            names[key[2]] = uidata.display_name(meta_up.name)
        state.put("upload_names", names)
        return key
    if source == EMBED_SOURCE:
        return ss.get("embedded_key")
    if source == shard_source.SHARDS_SOURCE:
        return shard_source.requested_key(ss)
    path = ss.get("disk_path")
    if not path:
        return None
    return uidata.key_for_path(path, ss.get("disk_meta") or None, ss.get("disk_id") or None,
                               ss.get("disk_emb") or None, bool(ss.get("disk_drop")))


def _try_load(key):
    return uidata.try_load(key, state.get("upload_names"))


def sync_dataset() -> None:
    """Load what the data widgets ask for; on failure keep the previous dataset and record
    the message (shown on the page)."""
    state.init()
    try:
        new_key = _requested_key()
    except explorer.ExplorerError as exc:
        state.put("load_error", uidata.user_words(str(exc), state.get("upload_names")))
        return
    except Exception as exc:  # noqa: BLE001 - e.g. a full disk: said, never a traceback
        state.put("load_error", f"Could not read this input: {type(exc).__name__}: "
                  f"{uidata.user_words(str(exc), state.get('upload_names'))}")
        return
    if new_key == uidata.base_key(state.get("data_key")):
        state.put("load_error", None)  # back on the loaded dataset: nothing to report
        return
    if new_key is None or new_key == state.get("failed_key"):
        return
    data, error = _try_load(new_key)
    if error:
        state.put("load_error", error)
        state.put("failed_key", new_key)
    else:
        state.put("load_error", None)
        state.put("failed_key", None)
        state.put("data_key", new_key)
        state.reset_for_new_data()


def current_data():
    """The dataset the sidebar loaded (cached), or None; a loading error is shown on top of
    the page, with a reminder that the previous dataset is still the one loaded."""
    sync_dataset()
    key = state.get("data_key")
    data = None
    if key is not None:
        data, _ = _try_load(key)
    if state.get("load_error"):
        st.error(state.get("load_error"))
        if data is not None:
            st.caption(f"The previous dataset is still loaded: **{data.name}**, "
                       f"{data.n:,} rows.")
    if data is not None:
        st.caption(f"Dataset **{data.name}** · {data.n:,} rows × {data.dim} dims · "
                   f"{state.get('metric')} metric")
        for note in data.notes:  # what the loader changed (columns kept as metadata, ...)
            st.warning(note)
    return data


def page_data(title: str):
    """The loaded dataset, under the page's ``title``. The page stops with a one-line reason
    when none is loaded."""
    data = current_data()
    st.title(title)
    if data is None:
        st.info("Load a dataset in the sidebar to begin.")
        st.stop()
    return data


def _cost_budget(sb, data, numeric_columns) -> None:
    """The cost column and the total cost (default: 50 rows at the column's mean cost)."""
    column = state.remembered(sb.selectbox, "Cost column", "cost_column",
                              options=numeric_columns,
                              help="Each row's cost (finite, > 0), e.g. tokens per text.")
    values = data.metadata[column].to_numpy(dtype=float)
    if state.get("budget_cost") is None or state.get("cost_for") != (data.fingerprint, column):
        mean = float(np.nanmean(values)) if np.isfinite(values).any() else 1.0
        state.put("budget_cost", round(50 * mean, 6) if mean > 0 else 1.0)
        state.put("cost_for", (data.fingerprint, column))
    state.remembered(sb.number_input, f"Budget (total {column})", "budget_cost",
                     min_value=0.0, format="%g",
                     help=f"The most {column} the selection may spend, pinned rows "
                     f"included. The rows cost {np.nanmin(values):g} to {np.nanmax(values):g}"
                     f" (mean {np.nanmean(values):g}).")


def cost_column():
    """The cost column when the budget is a total cost, else None."""
    return state.get("cost_column") if state.get("budget_mode") == "total cost" else None


def budget_value(data):
    """The budget the sidebar sets: a total cost (float) in cost mode, else a row count."""
    if cost_column() is not None:
        return float(state.get("budget_cost"))
    if state.get("budget_mode") == "count":
        return int(min(state.get("budget_count"), data.n))
    pct = float(state.get("budget_percent"))
    return data.n if pct >= 100 else budget_count(pct / 100, data.n)


def _column_select(sb, label, key, options, guess):
    # the choice itself, "(none)" included, is remembered (so a deliberate "(none)" is not
    # replaced by the guess); ``key`` holds the column name or None
    fallback = guess if guess in options else "(none)"
    choice = state.remembered(sb.selectbox, label, state.column_choice_key(key),
                              options=options, default=fallback,
                              index=options.index(fallback))
    state.put(key, None if choice == "(none)" else choice)
