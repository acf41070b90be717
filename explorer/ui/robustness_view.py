"""The scorecard's "Check in another embedding": the selection scored in a second embedding
of the same rows, verdicts side by side, and the strategy re-run there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import explorer
from explorer.data.samples import OTHER_SPACES
from explorer.evaluate.robustness import check_in_other_space, other_space

from . import state

FILE_ON_DISK = "a file on disk (the same ids)"
FLIP_TEXT = {"reversed": "reversed", "lost": "lost", "gained": "gained", "": ""}


def space_choices(data) -> dict:
    """Menu label -> ('file', path) or ('column', name): the bundled second spaces of the
    sample, the metadata's list columns, and a file on disk."""
    key = state.get("data_key")
    out = {}
    if key and key[0] == "sample":
        for name, path in OTHER_SPACES.get(key[1], {}).items():
            out[f"{name}, bundled"] = ("file", str(path))
    meta = data.metadata
    for column in meta.columns:
        first = meta[column].iloc[0] if len(meta) else None
        if isinstance(first, (list, np.ndarray)) and len(first) > 1:
            out[f"the list column {column!r}"] = ("column", column)
    out[FILE_ON_DISK] = ("path", None)
    return out


@st.cache_data(show_spinner="Scoring in both embeddings and re-running the strategy ...",
               max_entries=16,
               hash_funcs={explorer.Selection: lambda s: (s.fingerprint, s.indices.tobytes(),
                                                          s.strategy, s.seed, str(s.params),
                                                          s.metric, s.pinned, s.excluded)})
def _report(data_key, sel, kind: str, value: str, label_column, name: str):
    from .data import load_cached

    data = load_cached(*data_key)
    other = other_space(data, value, name=name) if kind == "file" else \
        other_space(data, column=value, name=name)
    return check_in_other_space(data, sel, other, label_column=label_column)


def check_in_another_embedding(data, sel) -> None:
    """The expander under the scorecard."""
    with st.expander("Check in another embedding"):
        st.caption("Would these verdicts hold in another model of the same rows? The "
                   "selection is scored in both embeddings against the same random subsets, "
                   "and the strategy is run again, with the same settings, in the second one.")
        choices = space_choices(data)
        pick = state.remembered(st.selectbox, "Second embedding", "robust_space",
                                options=list(choices))
        kind, value = choices[pick]
        name = value if kind == "column" else pick.removesuffix(", bundled")
        if kind == "path":
            value = state.remembered(st.text_input, "Path of the second embedding file",
                                     "robust_path", default="",
                                     placeholder="/data/vectors-other-model.parquet")
            if not value:
                return
            from explorer.data.paths import inside_roots

            try:
                value = str(inside_roots(value, "second embedding"))
            except explorer.ExplorerError as exc:
                st.error(str(exc))
                return
            kind, name = "file", Path(value).name
        request = (state.get("data_key"), kind, value, state.scored_key(sel),
                   state.get("label_column"))
        if st.button("Check in this embedding", key="robust_run"):
            state.put("robust_request", request)
        if state.get("robust_request") != request:
            return
        try:
            report = _report(state.get("data_key"), sel, kind, value,
                             state.get("label_column"), name)
        except explorer.ExplorerError as exc:
            st.error(str(exc))
            return
        show_report(report)


def show_report(report) -> None:
    first, second = (str(s) for s in report.spaces)
    frame = report.verdicts()
    flips = report.flips
    st.markdown(f"**{len(frame) - len(flips)} of {len(frame)} verdicts hold** in {second}"
                + (f"; **{len(flips)} change**: {', '.join(flips)}." if flips else "."))
    shown = pd.DataFrame({
        "metric": frame["metric"],
        f"{first}": [f"{v:.4g} ({p:.0f})" for v, p in zip(frame["first"],
                                                        frame["first_percentile"])],
        f"verdict in {first}": frame["first_verdict"],
        f"{second}": [f"{v:.4g} ({p:.0f})" for v, p in zip(frame["second"],
                                                         frame["second_percentile"])],
        f"verdict in {second}": frame["second_verdict"],
        "change": [FLIP_TEXT[f] for f in frame["flip"]],
    })

    def highlight(row):
        colour = {"reversed": "#f8d0d0", "lost": "#fbe7c6", "gained": "#d8ecf8"}.get(
            row["change"], "")
        return [f"background-color: {colour}" if colour else "" for _ in row]

    st.dataframe(shown.style.apply(highlight, axis=1), hide_index=True, width="stretch",
                 height=38 + 35 * len(shown))
    st.caption("Value (percentile among the random subsets) in each embedding. Changed "
               "verdicts: red reversed (better in one, worse in the other), amber lost "
               "(outside random's band only in the first), blue gained (only in the second).")
    st.plotly_chart(overlap_figure(report), key="robust_overlap")
    st.caption(report.summary())


def overlap_figure(report) -> go.Figure:
    """The random pairs' Jaccard (box and points) with the re-run's overlap, and the next
    seed's, as markers."""
    r = report.random_overlap
    fig = go.Figure()
    fig.add_trace(go.Box(x=r, name="two random subsets", boxpoints="all", jitter=0.4,
                         pointpos=0, marker={"color": "#9aa0a6", "size": 5},
                         line={"color": "#80868b"}, fillcolor="rgba(154,160,166,0.25)",
                         orientation="h", hoverinfo="x"))
    markers = [  # (overlap, legend, symbol, size, colour); None: not measured
        (report.overlap, f"{report.strategy} here vs re-run in {report.spaces[1]}",
         "diamond", 16, "#d93025"),
        (report.seed_overlap, f"{report.strategy} with the next seed, same embedding",
         "circle", 13, "#1a73e8")]
    markers = [m for m in markers if m[0] is not None]
    for value, name, symbol, size, colour in markers:
        fig.add_trace(go.Scatter(
            x=[value], y=["two random subsets"], mode="markers", name=name,
            marker={"symbol": symbol, "size": size, "color": colour,
                    "line": {"color": "white", "width": 1}}))
    shown = [*r, *(m[0] for m in markers)]
    right = min(1.02, max(0.1, 1.15 * max(shown)))
    fig.update_layout(height=230, margin={"l": 10, "r": 10, "t": 40, "b": 40},
                      title={"text": "Rows shared (Jaccard) with the selection", "font":
                             {"size": 14}},
                      xaxis={"title": "Jaccard overlap (1 = the same rows)",
                             "range": [0, right], "gridcolor": "#eee"},
                      yaxis={"showticklabels": False}, plot_bgcolor="white",
                      legend={"orientation": "h", "y": -0.45})
    return fig
