"""Subset Explorer — the app's router. The data, budget and seed controls live here (in the
sidebar) so they persist across pages; each page is a short script in pages/."""

import streamlit as st

from explorer import warmup
from explorer.ui import compute, sidebar

st.set_page_config(page_title="Subset Explorer", layout="wide")
compute.stop_background_work()  # work done while the page was idle stops for this run

pages = [
    st.Page("pages/explore.py", title="Explore", default=True),
    st.Page("pages/compare.py", title="Compare"),
    st.Page("pages/dimensions.py", title="Dimensions"),
    st.Page("pages/export.py", title="Export"),
]
nav = st.navigation(pages, position="top")
sidebar.sidebar_data()
nav.run()
warmup.warm_in_background()  # numba's first compiles, once the first page is drawn
