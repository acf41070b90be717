"""Compare: several strategies across budgets, against the random band; overlap, stability."""

import streamlit as st

from explorer.ui import advisor_view, compare_view, engine_view, sidebar

data = sidebar.page_data("Compare strategies")
same = "size" if sidebar.cost_column() is None else f"total {sidebar.cost_column()}"
st.caption("Each metric against the budget, one line per strategy; the grey band is where 90% "
           f"of random subsets of the same {same} fall. A line outside the band, on the good "
           "side, beats random.")
if engine_view.is_sharded(data):  # run on the sidebar's engine, when Compare is pressed
    compare_view.sharded_controls_and_results(data)
    st.stop()
compare_view.controls_and_results(data)
advisor_view.budget_advice(data)
