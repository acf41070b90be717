"""The views of a result: the selection's one-line summary, the scorecard (verdict table
and balance charts), and one row's details or a table of rows for the map's click and lasso."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st


def selection_summary(sel, data) -> None:
    spent = "" if sel.cost is None else \
        (f", spending **{sel.spend:,.6g}** of {sel.cost_budget:,.6g} "
         f"{sel.columns['cost_column']}")
    st.success(f"{sel.strategy}: selected **{len(sel):,}** of {data.n:,} rows{spent} in "
               f"{sel.seconds:.2f} s (seed {sel.seed}, {sel.metric}).")
    if sel.info:
        st.caption(", ".join(f"{k}: {info_value(v)}" for k, v in sel.info.items()))


def info_value(value) -> str:
    """A value of a selection's ``info`` as the summary shows it: floats to 4 significant
    digits, a dict (an engine run's per-round seconds) as its items.

    >>> info_value({"rounds": 49, "mean": 0.0224266})
    '(rounds 49, mean 0.02243)'
    """
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k} {info_value(v)}" for k, v in value.items()) + ")"
    return str(value)


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
    by, share_of = "rows", "rows"
    if card.cost is not None:
        spend = f"{card.cost['column']} spent"
        chosen = st.radio("Balance as shares of", ["rows", spend], horizontal=True,
                          key="balance_by",
                          help="Under a cost budget a subset can hold a group's share of the "
                          "rows while spending more or less than its share on it; random "
                          "subsets drawn at the same total cost give the band either way.")
        if chosen == spend:
            by, share_of = "spend", spend
    tabs = st.tabs(["Balance by cluster", "Balance by label"])
    with tabs[0]:
        st.echarts_chart(balance_chart(card.balance("cluster", by=by),
                                       f"k-means clusters ({card.n_clusters}), most "
                                       "under-represented first", share_of=share_of),
                         key="balance_clusters", height=340)
    with tabs[1]:
        if card.label_counts is not None:
            st.echarts_chart(balance_chart(card.balance("label", by=by), "labels, most "
                                           "under-represented first", share_of=share_of),
                             key="balance_labels", height=340)
        else:
            st.info("Choose a label column in the sidebar to see the label balance.")


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
