"""The Compare page: metric-vs-budget curves with the random band, small-multiple maps,
overlap between strategies and stability across seeds."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pandas as pd
import streamlit as st
from plotly.subplots import make_subplots

import explorer
from explorer.cost import estimate_sweep
from explorer.evaluate.compare import jaccard, log_budgets, stability
from explorer.evaluate.sweep import probe_sweep
from explorer.strategies import REGISTRY

from . import compute, figures, sidebar, state, strategy_panel
from .heavy import heavy_turn


@st.cache_data(show_spinner=False, max_entries=16)
def cached_sweep(data_key, strategies, budgets, seed, metric, label_column, group_column,
                 score_column, draws, probe="none", target=(), lock="", cost_column=None):
    """``lock`` (the locked split's digest) is part of the cache key only: a comparison
    cached before a split was locked is not shown after. With ``cost_column`` the budgets
    are total costs."""
    from .data import load_cached

    data = load_cached(*data_key)
    bar = st.progress(0.0, text="Comparing ...")
    table = probe_sweep(data, list(strategies), list(budgets), seed=seed, metric=metric,
                        label_column=label_column, group_column=group_column,
                        score_column=score_column, random_draws=draws, probe=probe,
                        target=np.asarray(target, dtype=np.int64) if target else None,
                        cost_column=cost_column,
                        progress=lambda f, m: bar.progress(min(1.0, f), text=m))
    bar.empty()
    sels = {f"{k[0]}@{k[1]}": np.asarray(v) for k, v in table.attrs["selections"].items()}
    notes = list(table.attrs.get("notes", []))
    table = table.copy()
    table.attrs = {}
    return table, sels, notes


def controls_and_results(data) -> None:
    cost_column = sidebar.cost_column()  # the sidebar's total-cost mode: budgets are costs
    costs = None if cost_column is None else data.metadata[cost_column].to_numpy(dtype=float)
    mean_cost = None if costs is None else float(np.mean(costs))
    usable = [n for n, s in REGISTRY.items()
              if not s.missing_inputs(strategy_panel.available_inputs()) and n != "random"
              and not (cost_column and s.sets_size)]
    default = [n for n in ("k-center", "k-means", "facility-location", "stratified")
               if n in usable]
    c1, c2, c3 = st.columns([2.2, 1.6, 0.8])
    # remembered (state.remembered), so a visit to another page keeps them
    names = state.remembered(c1.multiselect, "Strategies (2–6; random is the grey band)",
                             "cmp_strategies", options=usable, many=True, default=default,
                             max_selections=6)
    if cost_column is None:
        budgets_text = state.remembered(c2.text_input, "Budgets (log-spaced by default)",
                                        f"cmp_budgets:{data.n}",
                                        default=", ".join(map(str, log_budgets(data.n))))
    else:
        budgets_text = state.remembered(
            c2.text_input, f"Budgets (total {cost_column}, log-spaced by default)",
            f"cmp_cost_budgets:{data.fingerprint}:{cost_column}",
            default=", ".join(f"{b:g}" for b in cost_budgets(mean_cost, log_budgets(data.n))),
            help=f"Each budget is the most {cost_column} a subset may spend; every strategy "
            "and the random draws spend up to the same total.")
    draws = state.remembered(c3.number_input, "Random draws", "cmp_draws", 5, 500, default=30)
    has_labels = state.get("label_column") is not None
    probe_options = ["logistic", "knn", "none"] if has_labels else ["none"]
    probe = state.remembered(st.radio, "Downstream probe (trained on each subset, scored on a "
                             "held-out 20%)", "cmp_probe", options=probe_options,
                             horizontal=True,
                             help="logistic regression or k-nearest-neighbours on the "
                             "embeddings, predicting the label column; the held-out rows are "
                             "never selected. Needs a label column (sidebar)." if has_labels
                             else "Choose a label column in the sidebar to train a probe.")
    budgets = parse_budgets(budgets_text, data.n, costs)
    if isinstance(budgets, str):
        st.error(budgets)
        return
    if len(names) < 2:
        st.info("Choose at least two strategies to compare.")
        return
    args = (state.get("data_key"), tuple(names), tuple(budgets), int(state.get("seed")),
            state.get("metric"), state.get("label_column"), state.get("group_column"),
            state.get("score_column"), int(draws), probe,
            tuple(int(i) for i in state.get("target"))
            if any("target" in REGISTRY[n].needs for n in names) else (),
            compute.lock_digest(state.get("data_key")), cost_column)
    # the estimate wants counts: under a cost budget, the rows the mean cost buys
    counts = budgets if costs is None else \
        [max(1, min(data.n, round(b / mean_cost))) for b in budgets]
    pressed = st.button("Compare", type="primary", key="cmp_run")
    started = st.session_state.setdefault("cmp_started", set())  # sweeps the button started
    if pressed:
        started.add(args)
    elif args not in started:
        # a comparison starts by itself only when it is quick (it may start on arrival)
        est = estimate_sweep(names, data.n, data.dim, counts, random_draws=int(draws),
                             probe=probe)
        if est.heavy:
            st.warning(f"This comparison would take {est.describe()} Press **Compare** to "
                       "start it.")
            return
        if state.get("selection") is None and "cmp_done" not in st.session_state:
            st.caption("Press Compare to run every strategy at every budget.")
            return
    st.session_state["cmp_done"] = True
    est = estimate_sweep(names, data.n, data.dim, counts, random_draws=int(draws), probe=probe)
    try:
        with heavy_turn("this comparison", ("sweep",) + args) if est.heavy else nullcontext():
            table, sels, notes = cached_sweep(*args)
    except explorer.ExplorerError as exc:
        st.error(str(exc))
        return
    probe_metrics = list(dict.fromkeys(table.loc[table["kind"] == "probe", "metric"]))
    metrics = probe_metrics + [m for m in dict.fromkeys(table["metric"])
                               if m not in probe_metrics]  # the probe's accuracy first
    metric = st.selectbox("Metric", metrics, key="cmp_metric",
                          format_func=lambda m: f"{m} (probe)" if m in set(
                              table.loc[table["kind"] == "probe", "metric"]) else m)
    part = table[table["metric"] == metric]
    axis = "budget (rows selected)" if cost_column is None else f"budget (total {cost_column})"
    st.plotly_chart(figures.curves_figure(part, metric, bool(part["higher_is_better"].iloc[0]),
                                          budget_title=axis), key="cmp_curves")
    if cost_column is not None:
        st.markdown(f"**Rows bought** at each total {cost_column}: every strategy spends up to "
                    "the budget; the random draws are drawn at the same total")
        st.dataframe(rows_bought(table, cost_column), width="stretch")
    st.markdown("**Who beats random, with statistical support** — per budget, the strategies "
                "whose Holm-corrected p-value is below 0.05 (difference from the random mean "
                "in brackets)")
    st.dataframe(support_table(table), width="stretch")
    with st.expander("How these verdicts are made"):
        for note in notes:
            st.markdown(f"- {note}")
    b = st.select_slider("Budget for the maps and overlaps", budgets, value=budgets[len(budgets)
                                                                                  // 2],
                         key="cmp_budget")
    picks = {n: sels[f"{n}@{b}"] for n in names}
    _small_multiples(data, picks)
    c1, c2 = st.columns(2)
    said = f"budget {figures.budget_text(b)}" if cost_column is None else \
        f"{figures.budget_text(b)} {cost_column}"
    c1.plotly_chart(figures.jaccard_figure(jaccard(picks), f"Overlap between strategies at "
                                           f"{said} (Jaccard)"), key="cmp_jaccard")
    with c2:
        st.markdown("**Stability across seeds** (mean Jaccard overlap of 5 seeds; 1 = the seed "
                    "does not matter)")
        if st.button("Measure stability", key="cmp_stab"):
            rows = []
            for n in names:
                rows.append({"strategy": n, "stability": _stability(
                    state.get("data_key"), n, b, state.get("metric"),
                    state.get("label_column"), state.get("group_column"),
                    state.get("score_column"))})
            st.dataframe(rows, hide_index=True)


def cost_budgets(mean_cost: float, counts) -> list[float]:
    """Total-cost budgets that buy about ``counts`` rows at ``mean_cost`` (3 significant
    digits)."""
    return sorted({float(f"{c * mean_cost:.3g}") for c in counts})


def parse_budgets(text: str, n: int, costs=None):
    """The budgets typed on the page, sorted and distinct: whole numbers in 1..n, or with
    ``costs`` total costs above 0 and at most the whole data's cost; a one-line message (a
    str) when they are not."""
    try:
        values = [float(b) for b in text.replace(" ", "").split(",") if b]
    except ValueError:
        values = []
    if costs is None:
        if not values or any(not (1 <= v <= n and v.is_integer()) for v in values):
            return f"Budgets must be whole numbers between 1 and {n}, separated by commas."
        return sorted({int(v) for v in values})
    total = float(np.sum(costs))
    if not values or any(not 0 < v <= total for v in values):
        return (f"Budgets must be total costs above 0 and at most {total:g} (the whole "
                "data's), separated by commas.")
    return sorted(set(values))


def rows_bought(table, cost_column: str):
    """Budget x strategy: the rows each strategy bought and what they cost, and the random
    draws' mean count at the same total."""
    first = table.drop_duplicates(["strategy", "budget"])
    out = first.pivot(index="budget", columns="strategy", values="size")
    out = out.map(lambda v: f"{int(v):,}")
    spend = first.pivot(index="budget", columns="strategy", values="spend")
    for name in out.columns:
        out[name] = out[name] + spend[name].map(lambda v: f" ({v:,.6g})")
    randoms = first.groupby("budget")["random_size"].first()
    out["random (mean rows)"] = randoms.map(lambda v: f"{v:,.1f}")
    out.index.name = f"budget ({cost_column})"
    return out


def support_table(table):
    """Budget x metric: the strategies that beat random there (or a dash)."""
    probe_rows = table[table["kind"] == "probe"]
    part = probe_rows if len(probe_rows) else table
    out = {}
    for (budget, metric), grp in part.groupby(["budget", "metric"], sort=True):
        wins = grp[grp["verdict"] == "better than random"]
        out.setdefault(metric, {})[budget] = ", ".join(
            f"{r.strategy} ({r.difference:+.3g})" for r in wins.itertuples()) or "—"
    frame = pd.DataFrame(out)
    frame.index.name = "budget"
    return frame


@st.cache_data(show_spinner="Running 5 seeds ...", max_entries=32)
def _stability(data_key, name, budget, metric, label_column, group_column, score_column):
    from .data import load_cached

    return stability(load_cached(*data_key), name, budget, metric=metric,
                     label_column=label_column, group_column=group_column,
                     score_column=score_column)


def _small_multiples(data, picks) -> None:
    key = state.get("data_key")
    xy = compute.layout(key, "umap", 15, 0.1, state.get("metric")) if compute.cached_layout(
        key, "umap", 15, 0.1, state.get("metric")) else compute.layout(key, "pca", 15, 0.1,
                                                                       state.get("metric"))
    names = list(picks)
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, shared_xaxes=True,
                        shared_yaxes=True, horizontal_spacing=0.02, vertical_spacing=0.08)
    rng = np.random.default_rng(0)
    base = np.arange(data.n)
    if data.n > 20_000:
        base = np.sort(rng.choice(data.n, 20_000, replace=False))
    import plotly.graph_objects as go

    for i, n in enumerate(names):
        r, c = i // cols + 1, i % cols + 1
        fig.add_trace(go.Scattergl(x=xy[base, 0], y=xy[base, 1], mode="markers",
                                   marker=dict(size=3, color=figures.GREY), showlegend=False,
                                   hoverinfo="skip"), row=r, col=c)
        idx = picks[n]
        fig.add_trace(go.Scattergl(x=xy[idx, 0], y=xy[idx, 1], mode="markers",
                                   marker=dict(size=6, color=figures.SELECTED),
                                   showlegend=False, hoverinfo="skip"), row=r, col=c)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_layout(height=300 * rows, margin=dict(l=10, r=10, t=30, b=10),
                      plot_bgcolor="white")
    st.plotly_chart(fig, key="cmp_maps")
