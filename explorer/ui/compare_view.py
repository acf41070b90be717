"""The Compare page: metric-vs-budget curves with the random band, small-multiple maps,
overlap between strategies and stability across seeds. On a dataset in one file
(:func:`controls_and_results`) the sweep runs in this process and is cached by Streamlit; on
a sharded one (:func:`sharded_controls_and_results`) it runs on the sidebar's engine when
the Compare button is pressed, and the session keeps its result. Both draw the same
controls and the same results."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pandas as pd
import streamlit as st
from plotly.subplots import make_subplots

import explorer
from explorer.cost import estimate_sweep
from explorer.evaluate.compare import jaccard, log_budgets, stability
from explorer.evaluate.sweep import NO_PROBE_ON_SHARDS, probe_sweep
from explorer.strategies import REGISTRY

from . import compute, engine_view, figures, sidebar, state, strategy_panel
from .heavy import heavy_turn

#: The strategies a comparison starts with, those of them that can run.
DEFAULT_STRATEGIES = ("k-center", "k-means", "facility-location", "stratified")


def split_sweep(table):
    """(table, selections, notes) of a :func:`probe_sweep` table: the selections by
    "strategy@budget", the notes, and the table without its ``attrs`` (the values behind
    each row, which no view here reads)."""
    sels = {f"{k[0]}@{k[1]}": np.asarray(v) for k, v in table.attrs["selections"].items()}
    notes = list(table.attrs.get("notes", []))
    table = table.copy()
    table.attrs = {}
    return table, sels, notes


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
    return split_sweep(table)


def comparable(specs, available: set, cost_column=None) -> list[str]:
    """The names of the ``specs`` a comparison may run, in their order: not random (it is
    the grey band), none that needs an input the sidebar does not give (``available``), and
    under a cost budget none that decides its own size."""
    return [s.name for s in specs if s.name != "random" and not s.missing_inputs(available)
            and not (cost_column and s.sets_size)]


def comparison_controls(data, usable: list, strategies_key: str, cost_column=None,
                        costs=None, strategies_help=None):
    """The strategies (remembered under ``strategies_key``), the budgets' text and the
    random draws, side by side; remembered (state.remembered), so a visit to another page
    keeps them. Returns (names, budgets_text, draws)."""
    default = [n for n in DEFAULT_STRATEGIES if n in usable]
    c1, c2, c3 = st.columns([2.2, 1.6, 0.8])
    names = state.remembered(c1.multiselect, "Strategies (2–6; random is the grey band)",
                             strategies_key, options=usable, many=True, default=default,
                             max_selections=6, help=strategies_help)
    if cost_column is None:
        budgets_text = state.remembered(c2.text_input, "Budgets (log-spaced by default)",
                                        f"cmp_budgets:{data.n}",
                                        default=", ".join(map(str, log_budgets(data.n))))
    else:
        mean_cost = float(np.mean(costs))
        budgets_text = state.remembered(
            c2.text_input, f"Budgets (total {cost_column}, log-spaced by default)",
            f"cmp_cost_budgets:{data.fingerprint}:{cost_column}",
            default=", ".join(f"{b:g}" for b in cost_budgets(mean_cost, log_budgets(data.n))),
            help=f"Each budget is the most {cost_column} a subset may spend; every strategy "
            "and the random draws spend up to the same total.")
    draws = state.remembered(c3.number_input, "Random draws", "cmp_draws", 5, 500, default=30)
    return names, budgets_text, int(draws)


def checked_budgets(names, budgets_text: str, n: int, costs=None):
    """The budgets typed (:func:`parse_budgets`), or None after saying in one line what
    stops the comparison: budgets that are not, or fewer than two strategies."""
    budgets = parse_budgets(budgets_text, n, costs)
    if isinstance(budgets, str):
        st.error(budgets)
        return None
    if len(names) < 2:
        st.info("Choose at least two strategies to compare.")
        return None
    return budgets


def target_rows(names, key: str) -> tuple:
    """The target rows kept in session state under ``key`` when a strategy of ``names``
    needs a target set, else ()."""
    if not any("target" in REGISTRY[n].needs for n in names):
        return ()
    return tuple(int(i) for i in state.get(key))


def controls_and_results(data) -> None:
    cost_column = sidebar.cost_column()  # the sidebar's total-cost mode: budgets are costs
    costs = None if cost_column is None else data.metadata[cost_column].to_numpy(dtype=float)
    mean_cost = None if costs is None else float(np.mean(costs))
    usable = comparable(REGISTRY.values(), strategy_panel.available_inputs(), cost_column)
    names, budgets_text, draws = comparison_controls(data, usable, "cmp_strategies",
                                                     cost_column, costs)
    has_labels = state.get("label_column") is not None
    probe_options = ["logistic", "knn", "none"] if has_labels else ["none"]
    probe = state.remembered(st.radio, "Downstream probe (trained on each subset, scored on a "
                             "held-out 20%)", "cmp_probe", options=probe_options,
                             horizontal=True,
                             help="logistic regression or k-nearest-neighbours on the "
                             "embeddings, predicting the label column; the held-out rows are "
                             "never selected. Needs a label column (sidebar)." if has_labels
                             else "Choose a label column in the sidebar to train a probe.")
    budgets = checked_budgets(names, budgets_text, data.n, costs)
    if budgets is None:
        return
    args = (state.get("data_key"), tuple(names), tuple(budgets), int(state.get("seed")),
            state.get("metric"), state.get("label_column"), state.get("group_column"),
            state.get("score_column"), draws, probe, target_rows(names, "target"),
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
        est = estimate_sweep(names, data.n, data.dim, counts, random_draws=draws,
                             probe=probe)
        if est.heavy:
            st.warning(f"This comparison would take {est.describe()} Press **Compare** to "
                       "start it.")
            return
        if state.get("selection") is None and "cmp_done" not in st.session_state:
            st.caption("Press Compare to run every strategy at every budget.")
            return
    st.session_state["cmp_done"] = True
    est = estimate_sweep(names, data.n, data.dim, counts, random_draws=draws, probe=probe)
    try:
        with heavy_turn("this comparison", ("sweep",) + args) if est.heavy else nullcontext():
            table, sels, notes = cached_sweep(*args)
    except explorer.ExplorerError as exc:
        st.error(str(exc))
        return
    verdicts(table, notes, cost_column)
    b, picks = budget_picks(budgets, names, sels)
    xy = compute.layout(*_layout_args("umap")) if compute.cached_layout(*_layout_args("umap")) \
        else compute.layout(*_layout_args("pca"))
    base = np.arange(data.n)
    if data.n > 20_000:  # the maps' grey background: at most 20,000 rows
        base = np.sort(np.random.default_rng(0).choice(data.n, 20_000, replace=False))
    small_multiples(xy[base], {n: xy[idx] for n, idx in picks.items()})
    c1, c2 = st.columns(2)
    overlap_chart(c1, picks, b, cost_column)
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


def sharded_controls_and_results(data) -> None:
    """The comparison on a sharded dataset: the strategies with a distributed form, run on
    the sidebar's engine when **Compare** is pressed (never by itself: it reads every
    shard), measured by the engine's scorecard over every row (no probe); the session keeps
    the last few results, so a revisit shows them without a rerun. The maps are drawn on
    the Explore map's uniform sample; stability across seeds is left out."""
    engine = engine_view.engine_header(data)
    usable = comparable(engine_view.engine_strategies(), engine_view.engine_inputs())
    names, budgets_text, draws = comparison_controls(
        data, usable, "cmp_engine_strategies",
        strategies_help="On a sharded dataset: the strategies with a distributed form (the "
        "same picks on every engine). A strategy that needs a target set is offered once the "
        "Explore page's map has one.")
    st.caption(f"The scorecard's metrics, measured over every row on the engine. No "
               f"downstream probe: {NO_PROBE_ON_SHARDS}.")
    budgets = checked_budgets(names, budgets_text, data.n)
    if budgets is None:
        return
    pressed = st.button("Compare", type="primary", key="cmp_engine_run",
                        disabled=engine is None)
    if engine is None:
        return  # the header said why
    key = (state.get("data_key"), tuple(names), tuple(budgets), int(state.get("seed")),
           state.get("metric"), state.get("label_column"), state.get("group_column"), draws,
           target_rows(names, "engine_target"), engine_view.engine_spec())
    done = engine_view.pressed_run(
        engine, "engine_compares", "engine_compare_error", key, pressed, "this comparison",
        "Compare", _sweep_on_engine(data, engine, key),
        f"Press **Compare** to run every strategy at every budget on the {engine.name} "
        "engine. It reads every shard, so it never starts by itself.")
    if done is None:
        return
    table, sels, notes = done
    verdicts(table, notes)
    b, picks = budget_picks(budgets, names, sels)
    try:
        sample, picked_xy = engine_view.picks_on_the_map(data, engine, picks)
    except explorer.ExplorerError as exc:
        st.error(str(exc))
    else:
        small_multiples(sample.xy, picked_xy)
        st.caption(f"Each map: a uniform sample of **{sample.sample_rows:,} of "
                   f"{sample.total:,} rows** (grey), placed by a {sample.method.upper()} "
                   "fitted on the sample as on the Explore page, and every row the strategy "
                   "picked at this budget (red), placed by the same projection.")
    c1, c2 = st.columns(2)
    overlap_chart(c1, picks, b)
    c2.caption("**Stability across seeds** is left out on a sharded dataset: it would run "
               "each strategy with 5 seeds, each run reading every shard. The budget advisor "
               "(How many rows do I need?) is left out too: it follows a probe's accuracy.")


def _sweep_on_engine(data, engine, key):
    """The work(bar) that runs the comparison ``key`` names on ``engine``, feeding the
    progress bar: (table, selections, notes)."""
    data_key, names, budgets, seed, metric, label_column, group_column, draws, target, _ = key

    def sweep(bar):
        table = probe_sweep(data, list(names), list(budgets), seed=seed, metric=metric,
                            label_column=label_column, group_column=group_column,
                            random_draws=draws, probe="none",
                            target=np.asarray(target, dtype=np.int64) if target else None,
                            engine=engine,
                            progress=engine_view.progress_callback(bar, "Comparing"))
        return split_sweep(table)

    return sweep


def _layout_args(method: str) -> tuple:
    """The one-file map's layout of the loaded dataset by ``method``, as compute.layout
    takes it."""
    return state.get("data_key"), method, 15, 0.1, state.get("metric")


def verdicts(table, notes, cost_column=None) -> None:
    """A metric's curves against the budget with the random band (the probes' metrics
    first), the rows bought under a cost budget, who beats random at each budget, and how
    the verdicts are made."""
    probe_metrics = list(dict.fromkeys(table.loc[table["kind"] == "probe", "metric"]))
    metrics = probe_metrics + [m for m in dict.fromkeys(table["metric"])
                               if m not in probe_metrics]  # the probe's accuracy first
    metric = st.selectbox("Metric", metrics, key="cmp_metric",
                          format_func=lambda m: f"{m} (probe)" if m in probe_metrics else m)
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


def budget_picks(budgets, names, sels):
    """The budget chosen for the maps and overlaps (the middle one at first), and each
    strategy's picks there: (budget, {name: row indices})."""
    b = st.select_slider("Budget for the maps and overlaps", budgets,
                         value=budgets[len(budgets) // 2], key="cmp_budget")
    return b, {n: sels[f"{n}@{b}"] for n in names}


def overlap_chart(where, picks, budget, cost_column=None) -> None:
    """The Jaccard overlap between every two strategies' picks at ``budget``, drawn in
    ``where`` (a column)."""
    said = f"budget {figures.budget_text(budget)}" if cost_column is None else \
        f"{figures.budget_text(budget)} {cost_column}"
    where.plotly_chart(figures.jaccard_figure(jaccard(picks), f"Overlap between strategies "
                                              f"at {said} (Jaccard)"), key="cmp_jaccard")


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


def small_multiples(background_xy, picked_xy: dict) -> None:
    """One small map per strategy: the ``background_xy`` points in grey, the strategy's
    picks (``picked_xy[name]``, placed by the same layout) in red; three to a row."""
    import plotly.graph_objects as go

    names = list(picked_xy)
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, shared_xaxes=True,
                        shared_yaxes=True, horizontal_spacing=0.02, vertical_spacing=0.08)
    for i, n in enumerate(names):
        r, c = i // cols + 1, i % cols + 1
        fig.add_trace(go.Scattergl(x=background_xy[:, 0], y=background_xy[:, 1],
                                   mode="markers", marker=dict(size=3, color=figures.GREY),
                                   showlegend=False, hoverinfo="skip"), row=r, col=c)
        fig.add_trace(go.Scattergl(x=picked_xy[n][:, 0], y=picked_xy[n][:, 1], mode="markers",
                                   marker=dict(size=6, color=figures.SELECTED),
                                   showlegend=False, hoverinfo="skip"), row=r, col=c)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_layout(height=300 * rows, margin=dict(l=10, r=10, t=30, b=10),
                      plot_bgcolor="white")
    st.plotly_chart(fig, key="cmp_maps")
