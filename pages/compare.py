"""Compare: several strategies across budgets, against the random band; overlap, stability."""

import streamlit as st

from explorer.ui import advisor_view, compare_view, panels

data = panels.current_data()
st.title("Compare strategies")
if data is None:
    st.info("Load a dataset in the sidebar to begin.")
    st.stop()
st.caption("Each metric against the budget, one line per strategy; the grey band is where 90% "
           "of random subsets of the same size fall. A line outside the band, on the good "
           "side, beats random.")
compare_view.controls_and_results(data)
advisor_view.budget_advice(data)
