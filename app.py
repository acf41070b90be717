"""Subset Explorer — the app's router. The data, budget and seed controls live here (in the
sidebar) so they persist across pages; each page is a short script in pages/.

Streamlit runs this file as ``__main__``. A Dask LocalCluster started from the sidebar spawns
its workers, and a spawned process runs the parent's ``__main__`` file again under the name
``__mp_main__``: so the app is drawn only when this file is the one being run, never in a
worker (each of which would otherwise run the whole page before it could start)."""


def main() -> None:
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


if __name__ == "__main__":
    main()
