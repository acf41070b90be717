"""Plotly figures the app and the command line's ``--plot`` share (the Explore page draws
ECharts options: ui/live_charts.py), and the colours every view uses. Figures take arrays and
frames; they compute no metric. Below both the app and the command line, so the command line
never imports :mod:`explorer.ui`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

SELECTED = "#d62728"
PINNED = "#2ca02c"
EXCLUDED = "#111111"
TARGET = "#9467bd"
GREY = "#c7c7c7"
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f", "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94",
           "#f7b6d2", "#9edae5", "#dbdb8d", "#393b79", "#637939", "#8c6d31"]


def budget_text(budget) -> str:
    """A budget as the page shows it: a count with thousands separators (1,000,000), a total
    cost with up to 6 significant digits (10.9)."""
    value = float(budget)
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.6g}"


def budget_axis(budgets) -> dict:
    """A log axis ticked at the compared budgets (its own ticks read "2 3 ... 100 2 3")."""
    values = sorted({float(b) for b in budgets})
    return dict(type="log", tickvals=values, ticktext=[budget_text(b) for b in values])


def curves_figure(table: pd.DataFrame, metric: str, higher_is_better: bool,
                  budget_title: str = "budget (rows selected)") -> go.Figure:
    """A metric against the budget: one line per strategy, random's 5-95 % band shaded."""
    fig = go.Figure()
    rnd = table[table["strategy"] == table["strategy"].iloc[0]].sort_values("budget")
    fig.add_trace(go.Scatter(x=rnd["budget"], y=rnd["random_p95"], mode="lines",
                             line=dict(width=0), showlegend=False, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=rnd["budget"], y=rnd["random_p05"], mode="lines",
                             line=dict(width=0), fill="tonexty", fillcolor="rgba(150,150,150,0.3)",
                             name="random 5–95%", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=rnd["budget"], y=rnd["random_mean"], mode="lines",
                             line=dict(color="#555", dash="dash"), name="random mean"))
    for j, (name, grp) in enumerate(table.groupby("strategy", sort=False)):
        grp = grp.sort_values("budget")
        marker = {}
        if "verdict" in grp:  # a star where the difference from random is statistically supported
            marker = dict(size=[13 if v == "better than random" else 7 for v in grp["verdict"]],
                          symbol=["star" if v == "better than random" else
                                  ("x" if v == "worse than random" else "circle")
                                  for v in grp["verdict"]])
        fig.add_trace(go.Scatter(x=grp["budget"], y=grp["value"], mode="lines+markers",
                                 name=name, line=dict(color=PALETTE[j % len(PALETTE)], width=2),
                                 marker=marker))
    if "verdict" in table:
        fig.add_annotation(text="★ better than random (Holm-corrected) · ✕ worse", xref="paper",
                           yref="paper", x=1, y=-0.18, showarrow=False, font=dict(size=11))
    fig.update_layout(
        height=420, margin=dict(l=10, r=10, t=40, b=40), plot_bgcolor="white",
        xaxis=dict(title=budget_title, **budget_axis(table["budget"])),
        yaxis=dict(title=f"{metric} ({'higher' if higher_is_better else 'lower'} is better)"),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    return fig


def jaccard_figure(matrix: pd.DataFrame, title: str) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=matrix.to_numpy(), x=list(matrix.columns), y=list(matrix.index),
                               zmin=0, zmax=1, colorscale="Blues",
                               text=np.round(matrix.to_numpy(), 2), texttemplate="%{text}"))
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=14)), height=360,
                      margin=dict(l=10, r=10, t=40, b=10))
    return fig


def similarity_histogram(similarity: np.ndarray, threshold: float) -> go.Figure:
    """Nearest-neighbour cosine similarity inside clusters, with the removal threshold."""
    fig = go.Figure(go.Histogram(x=similarity, nbinsx=60, marker_color="#1f77b4",
                                 name="rows"))
    fig.add_vline(x=threshold, line=dict(color=SELECTED, dash="dash"),
                  annotation_text=f"1 − eps = {threshold:.3f}", annotation_position="top left")
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=30, b=40), plot_bgcolor="white",
                      xaxis_title="similarity to nearest row in cluster",
                      yaxis_title="rows", showlegend=False)
    return fig


def front_figure(front: pd.DataFrame, score_name: str, weight: float) -> go.Figure:
    """Mean score against worst-case coverage over the quality-diversity weight."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=front["coverage_max"], y=front["mean_score"], mode="lines+markers+text",
        text=[f"{w:g}" for w in front["weight"]], textposition="top center",
        marker=dict(size=[14 if p else 8 for p in front["pareto"]],
                    color=[SELECTED if abs(w - weight) < 1e-9 else "#1f77b4"
                           for w in front["weight"]],
                    line=dict(width=[2 if p else 0 for p in front["pareto"]], color="#111")),
        line=dict(color="#999"), name="weight", hovertemplate="weight %{text}<br>worst "
        "coverage %{x:.3g}<br>mean score %{y:.3g}<extra></extra>"))
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=20, b=40), plot_bgcolor="white",
                      xaxis_title="worst-case coverage distance (lower is better)",
                      yaxis_title=f"mean {score_name} of the subset", showlegend=False)
    return fig
