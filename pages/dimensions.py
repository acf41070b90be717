"""Dimensions: choose k of the embedding's dimensions, each method against random dimensions."""

import streamlit as st

from explorer.ui import dimensions_view, sidebar

data = sidebar.page_data("Dimensions", whole_data_for="Choosing dimensions")
st.caption("Random dimensions are a strong baseline too: each method keeps k of the "
           "embedding's dimensions, and is measured against random k-dimension subsets.")
dimensions_view.page(data)
