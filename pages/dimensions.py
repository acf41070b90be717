"""Dimensions: choose k of the embedding's dimensions, each method against random dimensions."""

import streamlit as st

from explorer.ui import dimensions_view, engine_view, sidebar

data = sidebar.page_data("Dimensions")
st.caption("Random dimensions are a strong baseline too: each method keeps k of the "
           "embedding's dimensions, and is measured against random k-dimension subsets.")
if engine_view.is_sharded(data):  # a uniform sample read on the sidebar's engine, on Run
    dimensions_view.sharded_page(data)
else:
    dimensions_view.page(data)
