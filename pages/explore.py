"""Explore: the map, the strategy panel, and the scorecard against random."""

import streamlit as st

from explorer.ui import (compute, curate_view, engine_view, explore_view, filter_view,
                         results_view, sidebar, state, strategy_panel)

explore_view.start_page()
data = sidebar.page_data("Explore")
if engine_view.is_sharded(data):  # rows read shard by shard on the sidebar's engine
    engine_view.explore_page(data)
    explore_view.finish_layout()
    st.stop()

map_first = explore_view.map_before_selection()
left, right = st.columns([2.6, 1.2], gap="medium")
with right:
    st.subheader("Strategy")
    spec, params, missing = strategy_panel.strategy_picker()
    explore_view.strategy_insights(data, spec, params)
    where = filter_view.filter_builder(data)
    state.put("filter_json", filter_view.where_json(where))
    curate_view.search_panel(data)
    auto = state.remembered(st.toggle, "Update as I change settings", "auto_run",
                            default=data.n <= 200_000,
                            help="Off: press Run. Results are cached, so going back is instant.")
    run = st.button("Run", type="primary", disabled=bool(missing), width="stretch")
    if not map_first:
        explore_view.run_if_needed(data, spec, params, missing, auto or run, pressed=run,
                                   where=where)
with left:
    explore_view.map_section(data)
    curate_view.scores_panel(data)
if map_first:
    with right:
        explore_view.run_if_needed(data, spec, params, missing, auto or run, pressed=run,
                                   where=where)

sel = state.get("selection")
if sel is not None:
    results_view.selection_summary(sel, data)
    explore_view.scorecard_section(data, sel)
    compute.prefetch_after(sel)  # the page is drawn: continue k-center while it is idle
elif state.get("selection_error"):
    st.error(state.get("selection_error"))
else:
    st.info("Choose a strategy and a budget, then press **Run** to see which rows it picks "
            "and how they compare with random subsets of the same size.")
explore_view.finish_layout(redraw=map_first)  # the map's layout, after the scorecard
