"""The Dimensions page: choose k of the embedding's dimensions by each method, see each
against random k-dimension subsets, and download the chosen dimensions. On a dataset in one
file (:func:`page`) the report runs in this process and is cached by Streamlit; on a sharded
one (:func:`sharded_page`) it is made from a uniform sample of the rows read on the sidebar's
engine when Run is pressed, and the session keeps it. Both draw the same controls and the
same report."""

from __future__ import annotations

import tempfile
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import explorer
from explorer.dimensions import (DIMENSION_METRICS, METHODS, SHARD_SAMPLE_ROWS,
                                 choose_dimensions, dimension_report, export_dimensions)

from . import engine_view, state

VERDICT_COLOUR = {"better than random": "#188038", "worse than random": "#d93025",
                  "within random's spread": "#5f6368", "not comparable": "#bdc1c6"}


@st.cache_data(show_spinner=False, max_entries=8)
def _report(data_key, k: int, methods: tuple, label_column, metric: str, draws: int,
            seed: int):
    from .data import load_cached

    bar = st.progress(0.0, text="Measuring ...")
    report = dimension_report(load_cached(*data_key), k, list(methods),
                              label_column=label_column, metric=metric, random_draws=draws,
                              seed=seed, progress=lambda f, m: bar.progress(min(1.0, f),
                                                                            text=m))
    bar.empty()
    return report


@st.cache_data(show_spinner="Writing the reduced matrix ...", max_entries=4)
def _files(data_key, k: int, method: str, label_column, metric: str, seed: int) -> dict:
    from .data import load_cached

    data = load_cached(*data_key)
    choice = choose_dimensions(data, k, method, label_column=label_column, metric=metric,
                               seed=seed)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / f"{data.name}-{method}-{k}d"
        export_dimensions(data, choice, base.with_suffix(".parquet"),
                          manifest=base.with_suffix(".json"))
        export_dimensions(data, choice, base.with_suffix(".npy"))
        for suffix in (".parquet", ".json", ".npy"):
            out[suffix] = base.with_suffix(suffix).read_bytes()
    out["indices"] = choice.indices.tolist()
    return out


def controls(data):
    """k, the methods (those the sidebar's label column allows) and the random subsets, side
    by side and remembered across pages. Returns (k, methods, draws, label column)."""
    label = state.get("label_column")
    usable = [m for m, (needs, _) in METHODS.items() if label or not needs]
    c1, c2, c3 = st.columns([1, 2.4, 1])
    if state.get("dims_k") is None or state.get("dims_k") > data.dim:
        state.put("dims_k", min(64, max(1, data.dim // 4)))  # pydocs: 64 of 384
    if state.get("dims_methods") is None:
        state.put("dims_methods", usable)
    k = int(state.remembered(c1.number_input, "k (dimensions kept)", "dims_k", min_value=1,
                             max_value=data.dim, step=1))
    methods = state.remembered(c2.multiselect, "Methods", "dims_methods", options=usable,
                               many=True,
                               help="; ".join(f"{m}: {text}" for m, (_, text) in
                                              METHODS.items()))
    draws = int(state.remembered(c3.number_input, "Random subsets", "dims_draws",
                                 min_value=5, max_value=1000, step=5))
    if not label:
        st.caption("Choose a label column in the sidebar for the probe accuracy and the "
                   "supervised method (omp).")
    return k, methods, draws, label


def page(data) -> None:
    """The page for a dataset in one file: measured when the button is pressed, then cached;
    the chosen dimensions can be downloaded."""
    k, methods, draws, label = controls(data)
    request = (state.get("data_key"), k, tuple(methods), label, state.get("metric"), draws,
               int(state.get("seed")))
    if st.button("Measure against random dimensions", type="primary", key="dims_run",
                 disabled=not methods):
        state.put("dims_request", request)
    if state.get("dims_request") != request:
        st.info(f"Each method chooses {k} of the {data.dim} dimensions; pressing the button "
                f"measures every choice against {draws} random {k}-dimension subsets "
                "(neighbour recall, probe accuracy, coverage agreement).")
        return
    try:
        report = _report(*request)
    except explorer.ExplorerError as exc:
        st.error(str(exc))
        return
    show_report(report)
    downloads(data, report, request)


def sharded_page(data) -> None:
    """The page for a sharded dataset: the report of a uniform sample of
    :data:`SHARD_SAMPLE_ROWS` rows, read on the sidebar's engine when **Run** is pressed
    (never by itself: it reads every shard), kept in the session by its settings and the
    engine. The download of the chosen dimensions is left out: it writes every row's reduced
    vector, which needs the dataset in one file."""
    engine = engine_view.engine_header(data)
    k, methods, draws, label = controls(data)
    rows = min(SHARD_SAMPLE_ROWS, data.n)
    st.caption("No download of the chosen dimensions here: it writes every row's reduced "
               "vector, which needs the dataset in one file.")
    pressed = st.button("Run", type="primary", key="dims_engine_run",
                        disabled=not methods or engine is None)
    if engine is None:
        return  # the header said why
    key = (state.get("data_key"), k, tuple(methods), label, draws, int(state.get("seed")),
           state.get("metric"), engine_view.engine_spec())
    report = engine_view.pressed_run(
        engine, "engine_dimensions", "engine_dimensions_error", key, pressed,
        "the dimension report", "Run", _report_on_engine(data, engine, key),
        f"Press **Run** to read a uniform sample of {rows:,} rows on the {engine.name} engine "
        f"and measure each method's {k} dimensions against {draws} random {k}-dimension "
        "subsets. It reads every shard, so it never starts by itself.")
    if report is None:
        return
    sampled, *_ = report.notes  # the report's first note says which rows it measured
    st.caption(f"{sampled[0].upper()}{sampled[1:]}.")
    show_report(report)


def _report_on_engine(data, engine, key):
    """The work(bar) that makes the report ``key`` names, its sample read on ``engine``."""
    _, k, methods, label_column, draws, seed, metric, _ = key

    def report(bar):
        bar.progress(0.0, text=f"Reading a uniform sample of "
                     f"{min(SHARD_SAMPLE_ROWS, data.n):,} rows from the shards ...")
        return dimension_report(data, k, list(methods), label_column=label_column,
                                metric=metric, random_draws=draws, seed=seed, engine=engine,
                                progress=engine_view.progress_callback(bar, "Measuring"))

    return report


def show_report(report) -> None:
    frame = report.to_frame()
    st.markdown(f"**{report.k} of {report.dim} dimensions**, each method against "
                f"{report.random_draws} random {report.k}-dimension subsets. "
                + " ".join(f"**{m}**: better than random for "
                           f"{', '.join(part.loc[part['verdict'] == 'better than random', 'method']) or 'none'}."
                           for m, part in frame.groupby("metric", sort=False)))
    st.plotly_chart(envelope_figure(report), key="dims_figure")
    st.caption("Grey band: where 90 % of the random subsets fall (the line: their mean; the "
               "ticks: each subset). Dots: each method, green when better than every random "
               "subset but 5 %, red when worse, grey inside the band. Dashed: the probe in the "
               "full space (neighbour recall and coverage agreement are 1 there by definition).")
    shown = frame.assign(**{"random 5–95%": [f"{a:.3f} – {b:.3f}" for a, b in
                                            zip(frame["random_p05"], frame["random_p95"])]})
    st.dataframe(shown[["method", "metric", "value", "random_mean", "random 5–95%",
                        "percentile", "p_holm", "verdict", "full_space"]], hide_index=True,
                 width="stretch", height=38 + 35 * len(shown),
                 column_config={"value": st.column_config.NumberColumn(format="%.3f"),
                                "random_mean": st.column_config.NumberColumn(
                                    "random mean", format="%.3f"),
                                "percentile": st.column_config.NumberColumn(format="%.0f"),
                                "p_holm": st.column_config.NumberColumn(
                                    "p (Holm)", format="%.3g",
                                    help="One-sided p-value, better than random, "
                                    "Holm-corrected across the methods."),
                                "full_space": st.column_config.NumberColumn(
                                    "full space", format="%.3f")})
    with st.expander("What the measures mean"):
        for name, (_, text) in DIMENSION_METRICS.items():
            st.markdown(f"- **{name}** — {text}")
        for note in report.notes:
            st.caption(note)


def envelope_figure(report) -> go.Figure:
    """One panel per measure: the random band, the random subsets, each method's value."""
    frame = report.to_frame()
    names = [n for n in DIMENSION_METRICS if n in set(frame["metric"])]
    methods = list(report.scores)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, shared_yaxes=True,
                        horizontal_spacing=0.04)
    rows = ["random"] + methods
    for c, name in enumerate(names, start=1):
        part = frame[frame["metric"] == name].set_index("method")
        first = report.scores[methods[0]][name]
        fig.add_trace(go.Scatter(x=first.random_values, y=["random"] * len(first.random_values),
                                 mode="markers", marker={"symbol": "line-ns-open", "size": 12,
                                                         "color": "#80868b"},
                                 showlegend=False, hoverinfo="x"), row=1, col=c)
        fig.add_trace(go.Scatter(
            x=part["value"].reindex(methods), y=methods, mode="markers",
            marker={"size": 13, "color": [VERDICT_COLOUR[v] for v in
                                          part["verdict"].reindex(methods)],
                    "line": {"color": "white", "width": 1}},
            showlegend=False, hovertemplate="%{y}: %{x:.3f}<extra></extra>"), row=1, col=c)
        # shapes after the traces: plotly leaves out shapes of subplots without data
        fig.add_vrect(x0=first.random_p05, x1=first.random_p95, fillcolor="#dadce0",
                      opacity=0.7, line_width=0, layer="below", row=1, col=c)
        fig.add_vline(x=first.random_mean, line={"color": "#80868b", "width": 1}, row=1, col=c)
        if name == "probe_accuracy":  # the others are 1 in the full space by definition
            fig.add_vline(x=report.full[name], line={"color": "#202124", "width": 1,
                                                     "dash": "dash"}, row=1, col=c,
                          annotation_text="full space", annotation_position="top left",
                          annotation_font_size=11)
    fig.update_yaxes(categoryorder="array", categoryarray=rows[::-1], gridcolor="#eee")
    fig.update_xaxes(gridcolor="#eee")
    fig.update_layout(height=120 + 42 * len(rows), margin={"l": 10, "r": 10, "t": 40, "b": 30},
                      plot_bgcolor="white")
    return fig


def downloads(data, report, request) -> None:
    st.subheader("Download chosen dimensions")
    method = state.remembered(st.selectbox, "Method", "dims_export",
                              options=list(report.scores))
    _, k, _, label, metric, _, seed = request
    files = _files(state.get("data_key"), k, method, label, metric, seed)
    st.caption(f"{method}'s {k} dimensions: {', '.join(map(str, files['indices'][:16]))}"
               + (" …" if k > 16 else ""))
    stem = f"{data.name}-{method}-{k}d"
    c = st.columns(3)
    c[0].download_button("Reduced matrix (.npy)", files[".npy"], f"{stem}.npy",
                         "application/octet-stream", key="dims_dl_npy")
    c[1].download_button("Reduced matrix with ids (.parquet)", files[".parquet"],
                         f"{stem}.parquet", "application/octet-stream", key="dims_dl_parquet")
    c[2].download_button("Chosen indices (JSON)", files[".json"], f"{stem}.json",
                         "application/json", key="dims_dl_json",
                         help="The dimensions manifest: method, k, indices and the dataset's "
                         "fingerprint.")
