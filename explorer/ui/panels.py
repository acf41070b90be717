"""Streamlit building blocks shared by the pages: the data sidebar, the strategy panel built
from the registry specs, and the scorecard view."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

import explorer
from explorer.data.provenance import describe
from explorer.params import Boolean, Interval, Options, Pairs, Text, budget_count
from explorer.strategies import INPUTS, REGISTRY, list_strategies

from . import data as uidata
from . import state
from .compute import column_levels

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
                                       EMBED_SOURCE],
                              help="Samples ship with the app; a path on disk is "
                              "memory-mapped, so large files are not copied.")
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
    # the strategy widget (drawn later, on Explore) holds this run's choice
    strategy = st.session_state.get(state.widget_key("strategy"), state.get("strategy"))
    free = sets_own_size(strategy)
    why = (f"{strategy} decides how many rows it keeps, so the budget does not apply."
           if free else None)
    numeric_columns = [c for c in data.metadata.columns if data.metadata[c].dtype.kind in "fiu"]
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


def _column_select(sb, label, key, options, guess):
    # the choice itself, "(none)" included, is remembered (so a deliberate "(none)" is not
    # replaced by the guess); ``key`` holds the column name or None
    fallback = guess if guess in options else "(none)"
    choice = state.remembered(sb.selectbox, label, state.column_choice_key(key),
                              options=options, default=fallback,
                              index=options.index(fallback))
    state.put(key, None if choice == "(none)" else choice)


def sets_own_size(name) -> bool:
    """Whether the registered strategy ``name`` decides its own size (the budget does not
    apply); False for an unknown name."""
    spec = REGISTRY.get(name) if isinstance(name, str) else None
    return spec is not None and spec.sets_size


def budget_value(data):
    if cost_column() is not None:
        return float(state.get("budget_cost"))
    if state.get("budget_mode") == "count":
        return int(min(state.get("budget_count"), data.n))
    pct = float(state.get("budget_percent"))
    return data.n if pct >= 100 else budget_count(pct / 100, data.n)


def available_inputs() -> set:
    out = set()
    if state.get("label_column"):
        out.add("labels")
    if state.get("group_column"):
        out.add("groups")
    if state.get("score_column"):
        out.add("scores")
    if state.get("target"):
        out.add("target")
    return out


def strategy_picker(key: str = "strategy"):
    """A strategy chosen by family, its description, needed inputs and parameters.

    Returns (spec, params, missing) where ``missing`` lists inputs it needs and lacks.
    """
    specs = list_strategies()
    labels = {s.name: f"{s.family} · {s.name}" for s in specs}
    name = state.remembered(st.selectbox, "Strategy", key, options=[s.name for s in specs],
                            format_func=lambda n: labels[n], default="k-center")
    spec = next(s for s in specs if s.name == name)
    st.caption(spec.summary)
    missing = spec.missing_inputs(available_inputs())
    if spec.needs:
        st.caption("Needs: " + ", ".join(INPUTS[n] for n in spec.needs))
    if missing:
        st.warning(f"{spec.name} is unavailable: it needs {' and '.join(missing)}. Choose the "
                   "column in the sidebar (or lasso a target on the map).")
    params = param_widgets(spec, key)
    with st.expander("Paper"):
        st.write(spec.paper)
    return spec, params, missing


def param_widgets(spec, key: str) -> dict:
    """A widget per parameter of ``spec``; each value is remembered per strategy."""
    params = {}
    for p in spec.params.params:
        wkey = f"{key}:{spec.name}:{p.name}"
        c = p.constraint
        label = p.name.replace("_", " ")
        if p.optional:
            auto = state.remembered(st.checkbox, f"{label}: automatic", wkey + ":auto",
                                    default=p.default is None, help=p.help)
            if auto:
                params[p.name] = None
                continue
        if isinstance(c, Options):
            params[p.name] = state.remembered(st.selectbox, label, wkey, options=c.values,
                                              default=p.default, help=p.help)
        elif isinstance(c, Boolean):
            params[p.name] = state.remembered(st.checkbox, label, wkey,
                                              default=bool(p.default), help=p.help)
        elif isinstance(c, Interval):
            default = p.default if p.default is not None else (c.low or 1)
            if c.kind == "int":
                lo = int(c.low) if c.low is not None else None
                hi = int(c.high) if c.high is not None else None
                params[p.name] = int(state.remembered(
                    st.number_input, label, wkey, min_value=lo, max_value=hi,
                    default=int(default), step=1, help=p.help))
            else:
                lo = float(c.low) if c.low is not None else None
                hi = float(c.high) if c.high is not None else None
                if lo is not None and c.closed in ("neither", "right"):
                    lo = lo + 1e-6
                if hi is not None and c.closed in ("neither", "left"):
                    hi = hi - 1e-6
                params[p.name] = float(state.remembered(
                    st.number_input, label, wkey, min_value=lo, max_value=hi,
                    default=float(default), help=p.help, format="%.4g"))
        elif spec.nested is not None and p.name == spec.nested.strategy:  # runs another
            params[p.name] = state.remembered(st.selectbox, label, wkey,
                                              options=spec.inner_choices(),
                                              default=p.default, help=p.help)
        elif isinstance(c, (Text, Pairs)):  # named values are typed as their text form
            params[p.name] = state.remembered(st.text_input, label, wkey,
                                              default=p.default or "", help=p.help)
    return params


def scorecard_view(card, data, strategy: str = "") -> None:
    """The metric table with verdicts (descriptions on hover) and the balance charts."""
    from explorer.evaluate.scorecard import DESCRIPTION

    from .live_charts import balance_chart, scorecard_chart

    frame = card.to_frame()
    better = int((frame["verdict"] == "better than random").sum())
    worse = int((frame["verdict"] == "worse than random").sum())
    of = f" of {strategy}" if strategy else ""
    same = "size" if card.cost is None else f"total {card.cost['column']}"
    st.markdown(f"**Scorecard{of}** — {card.budget:,} rows against {card.random_draws} random "
                f"subsets of the same {same}: **{better}** metrics better than random, "
                f"**{worse}** worse, {len(frame) - better - worse} within random's spread. "
                f"<span style='color:#777'>Measured in the {card.space}.</span>",
                unsafe_allow_html=True)
    if card.cost is not None:
        st.markdown(f"**Spend:** {card.describe_cost()}")
    # keyed ECharts charts keep their identity: a new selection redraws them in place
    st.echarts_chart(scorecard_chart(frame), key="scorecard_chart",
                     height=90 + 30 * len(frame))
    lost = frame.loc[frame["verdict"] == "not comparable", "metric"].tolist()
    st.caption("Dot colour: green better than random, red worse, grey within random's "
               f"spread (5–95 % of {card.random_draws} random subsets)."
               + (f" Not comparable, so not drawn: {', '.join(lost)} (no finite value for "
                  "this subset or its random draws; one-row subsets have no pairwise "
                  "distances)." if lost else ""))
    show = frame.assign(**{"random 5–95%": [f"{a:.4g} – {b:.4g}" for a, b in
                                            zip(frame["random_p05"], frame["random_p95"])]})
    show = show[["metric", "value", "random_mean", "random 5–95%", "percentile", "better",
                 "verdict"]]
    st.dataframe(
        show, hide_index=True, width="stretch",
        column_config={
            "metric": st.column_config.TextColumn(
                "metric", help="; ".join(f"{k}: {v}" for k, v in DESCRIPTION.items())),
            "value": st.column_config.NumberColumn("this subset", format="%.4g"),
            "random_mean": st.column_config.NumberColumn("random mean", format="%.4g"),
            "percentile": st.column_config.NumberColumn(
                "percentile", format="%.0f",
                help="Share of random subsets below this subset's value (ties count half)."),
            "better": st.column_config.TextColumn("better is"),
        })
    with st.expander("What the metrics mean"):
        for name in frame["metric"]:
            st.markdown(f"- **{name}** — {DESCRIPTION[name]}")
    tabs = st.tabs(["Balance by cluster", "Balance by label"])
    with tabs[0]:
        st.echarts_chart(balance_chart(card.balance("cluster"),
                                       f"k-means clusters ({card.n_clusters}), most "
                                       "under-represented first"), key="balance_clusters",
                         height=340)
    with tabs[1]:
        if card.label_counts is not None:
            st.echarts_chart(balance_chart(card.balance("label"), "labels, most "
                                           "under-represented first"), key="balance_labels",
                             height=340)
        else:
            st.info("Choose a label column in the sidebar to see the label balance.")


def selection_summary(sel, data) -> None:
    spent = "" if sel.cost is None else \
        (f", spending **{sel.spend:,.6g}** of {sel.cost_budget:,.6g} "
         f"{sel.columns['cost_column']}")
    st.success(f"{sel.strategy}: selected **{len(sel):,}** of {data.n:,} rows{spent} in "
               f"{sel.seconds:.2f} s (seed {sel.seed}, {sel.metric}).")
    if sel.info:
        st.caption(", ".join(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}"
                             for k, v in sel.info.items()))


def detail_panel(data, row: int) -> None:
    """What one row is: id, label, text or thumbnail (fetched on click, not sent per point)."""
    meta = data.metadata.iloc[row]
    st.markdown(f"**id {data.ids[row]}** (row {row})")
    for col in data.metadata.columns:
        value = meta[col]
        if isinstance(value, str) and value.startswith("data:image/"):
            st.image(value, width=96)
        elif col == "text":
            st.write(str(value)[:600])
        elif col not in ("id",):
            st.caption(f"{col}: {value}")


def frame_of_rows(data, rows) -> pd.DataFrame:
    rows = np.asarray(rows, dtype=np.int64)
    out = pd.DataFrame({"row": rows, "id": data.ids[rows]})
    for col in [c for c in ("label", "group") if c in data.metadata.columns]:
        out[col] = data.metadata[col].to_numpy()[rows]
    return out


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
