"""The Compare page's "How many rows do I need?": learning curves of a probe for each strategy
and for random, their fits (explorer.evaluate.advisor), random's band and the advice."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import explorer
from explorer.cost import estimate_sweep
from explorer.evaluate.advisor import LAW, Advice, advise, rows
from explorer.strategies import REGISTRY

from . import compute, figures, state, strategy_panel
from .heavy import heavy_turn


@st.cache_data(show_spinner=False, max_entries=8)
def cached_advice(data_key, strategies, eps, probe, seeds, draws, seed, metric, label_column,
                  lock=""):
    """``lock`` (the locked split's digest) is part of the cache key only."""
    from .data import load_cached

    data = load_cached(*data_key)
    bar = st.progress(0.0, text="Measuring learning curves ...")
    advice = advise(data, list(strategies), label_column=label_column, eps=eps, probe=probe,
                    seeds=seeds, random_draws=draws, seed=seed, space_metric=metric,
                    progress=lambda f, m: bar.progress(min(1.0, f), text=m))
    bar.empty()
    return advice


def advice_figure(advice: Advice) -> go.Figure:
    """Measured points, fitted curves (dotted past the largest budget), random's 5-95 % band,
    the full-pool value and the target, and each budget with its interval on the target:
    the whole curves on the left, the region around the target enlarged on the right."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.07,
                        subplot_titles=["the learning curves",
                                        "around the target (the budgets and their 5–95 %)"])
    band = sorted(advice.band.items())
    xs = [b for b, _ in band]
    curves = [("random", advice.random, "#555")] + [
        (name, adv, figures.PALETTE[j % len(figures.PALETTE)])
        for j, (name, adv) in enumerate(advice.strategies.items())]
    right = advice.largest
    for name, adv, color in curves:
        if adv.fit.ok and np.isfinite(adv.budget):
            right = max(right, min(adv.high if np.isfinite(adv.high) else adv.budget,
                                   3 * advice.largest))
    right *= 1.15
    for col in (1, 2):
        first = col == 1
        fig.add_trace(go.Scatter(x=xs, y=[hi for _, (lo, hi) in band], mode="lines",
                                 line=dict(width=0), showlegend=False, hoverinfo="skip"),
                      row=1, col=col)
        fig.add_trace(go.Scatter(x=xs, y=[lo for _, (lo, hi) in band], mode="lines",
                                 line=dict(width=0), fill="tonexty",
                                 fillcolor="rgba(150,150,150,0.3)", name="random 5–95%",
                                 legendgroup="band", showlegend=first, hoverinfo="skip"),
                      row=1, col=col)
        for name, adv, color in curves:
            fig.add_trace(go.Scatter(x=adv.budgets, y=adv.means, mode="markers", name=name,
                                     legendgroup=name, showlegend=first,
                                     marker=dict(color=color, size=8),
                                     hovertemplate=f"{name}: %{{y:.3f}} at %{{x}} rows"
                                     "<extra></extra>"), row=1, col=col)
            if not adv.fit.ok:
                continue
            inside = np.geomspace(min(adv.budgets) / 1.3, advice.largest, 80)
            beyond = np.geomspace(advice.largest, right, 40)
            fig.add_trace(go.Scatter(x=inside, y=adv.fit.predict(inside), mode="lines",
                                     line=dict(color=color, width=2), legendgroup=name,
                                     showlegend=False, hoverinfo="skip"), row=1, col=col)
            fig.add_trace(go.Scatter(x=beyond, y=adv.fit.predict(beyond), mode="lines",
                                     line=dict(color=color, width=2, dash="dot"),
                                     legendgroup=name, showlegend=False, hoverinfo="skip"),
                          row=1, col=col)
            if np.isfinite(adv.budget) and np.isfinite(adv.low) and np.isfinite(adv.high):
                fig.add_trace(go.Scatter(
                    x=[adv.budget], y=[advice.target], mode="markers", legendgroup=name,
                    showlegend=False, marker=dict(color=color, size=13, symbol="diamond",
                                                  line=dict(color="white", width=1)),
                    error_x=dict(type="data", symmetric=False, color=color, thickness=2,
                                 width=6, array=[adv.high - adv.budget],
                                 arrayminus=[adv.budget - adv.low]),
                    hovertemplate=f"{name}: ~{rows(adv.budget)} rows [{rows(adv.low)}, "
                    f"{rows(adv.high)}]<extra></extra>"), row=1, col=col)
        words = {} if first else {
            "full": dict(annotation_text=f"whole pool {advice.full_value:.3f}",
                         annotation_position="top left"),
            "target": dict(annotation_text=f"target: {advice.eps:g} point"
                           f"{'s' if advice.eps != 1 else ''} below",
                           annotation_position="bottom left")}
        fig.add_hline(y=advice.full_value, line=dict(color="#222", width=1), row=1, col=col,
                      **words.get("full", {}))
        fig.add_hline(y=advice.target, line=dict(color=figures.SELECTED, width=1, dash="dash"),
                      row=1, col=col, **words.get("target", {}))
    lowest = min(min(a.means) for _, a, _ in curves if a.means)
    fig.update_xaxes(type="log", gridcolor="#eee", title="budget (rows); dotted: the fit "
                     "beyond the largest budget measured")
    fig.update_xaxes(range=[np.log10(advice.largest / 5), np.log10(right)], row=1, col=2)
    fig.update_yaxes(gridcolor="#eee")
    fig.update_yaxes(title=f"{advice.metric} of the probe on held-out rows", row=1, col=1,
                     range=[max(0.0, lowest - 0.03), min(1.0, advice.full_value + 0.02)])
    span = max(0.01, advice.eps / 100)
    fig.update_yaxes(range=[advice.target - 2.5 * span, advice.full_value + span], row=1,
                     col=2)
    fig.update_layout(height=480, margin=dict(l=10, r=10, t=60, b=40), plot_bgcolor="white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.08, x=0))
    return fig


def fits_table(advice: Advice) -> pd.DataFrame:
    out = []
    for name, adv in [("random", advice.random), *advice.strategies.items()]:
        ratio = advice.ratios.get(name)
        out.append({"curve": name, "a (level)": round(adv.fit.a, 4),
                    "b": round(adv.fit.b, 3), "c (rate)": round(adv.fit.c, 3),
                    "rows needed": rows(adv.budget) if np.isfinite(adv.budget) else "—",
                    "5–95 %": (f"{rows(adv.low)} – {rows(adv.high)}"
                               if np.isfinite(adv.low) else "—"),
                    "x fewer than random": f"{ratio[0]:.1f}" if ratio else "—",
                    "answer": adv.status if adv.status != "ok" else "a budget"})
    return pd.DataFrame(out)


def budget_advice(data) -> None:
    st.subheader("How many rows do I need?")
    label = state.get("label_column")
    if label is None:
        st.info("Choose a label column in the sidebar: the advice follows a probe's held-out "
                "accuracy as the budget grows.")
        return
    usable = [n for n, s in REGISTRY.items()
              if not s.missing_inputs(strategy_panel.available_inputs()) and n != "random"
              and "target" not in s.needs]
    default = [n for n in ("k-means", "k-center") if n in usable]
    c1, c2, c3 = st.columns([2.2, 0.8, 1.2])
    names = state.remembered(c1.multiselect, "Strategies (random is always measured)",
                             "adv_strategies", options=usable, many=True, default=default,
                             max_selections=4)
    eps = state.remembered(c2.number_input, "Within (accuracy points)", "adv_eps", 0.1, 20.0,
                           default=1.0, step=0.5)
    probe = state.remembered(c3.radio, "Probe", "adv_probe", options=["logistic", "knn"],
                             default="logistic", horizontal=True)
    st.caption(f"Budgets: 8 log-spaced from 2 % to half of the pool; 20 random draws and 2 "
               f"seeds per budget; each curve is fitted as {LAW}.")
    args = (state.get("data_key"), tuple(names), float(eps), probe, 2, 20,
            int(state.get("seed")), state.get("metric"), label,
            compute.lock_digest(state.get("data_key")))
    started = st.session_state.setdefault("adv_started", set())  # fits the button started
    if st.button("Fit learning curves", key="adv_run"):
        started.add(args)
    elif args not in started:
        return
    n_pool = int(0.8 * data.n)
    est = estimate_sweep(names or ["random"], data.n, data.dim,
                         [int(n_pool * f) for f in (0.02, 0.05, 0.12, 0.3, 0.5)],
                         random_draws=20, probe=probe)
    try:
        with heavy_turn("these learning curves", ("advise",) + args) if est.heavy \
                else nullcontext():
            advice = cached_advice(*args)
    except explorer.ExplorerError as exc:
        st.error(str(exc))
        return
    for line in advice.sentences():
        st.markdown(f"- {line}")
    st.plotly_chart(advice_figure(advice), key="adv_curves")
    st.dataframe(fits_table(advice), hide_index=True, width="stretch")
