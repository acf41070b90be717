"""Dimensions: choose k of the embedding's dimensions, each method against random dimensions."""

import streamlit as st

from explorer.ui import dimensions_view, engine_view, sidebar

data = sidebar.current_data()
st.title("Dimensions")
if data is None:
    st.info("Load a dataset in the sidebar to begin.")
    st.stop()
if engine_view.is_sharded(data):
    engine_view.not_on_shards("Choosing dimensions")
    st.stop()
st.caption("Random dimensions are a strong baseline too: each method keeps k of the "
           "embedding's dimensions, and is measured against random k-dimension subsets.")
dimensions_view.page(data)
