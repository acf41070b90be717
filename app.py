"""Subset Explorer — the app's router. The data, budget and seed controls live here (in the
sidebar) so they persist across pages; each page is a short script in pages/.

Streamlit runs this file as ``__main__``. A Dask LocalCluster started from the sidebar spawns
its workers, and a spawned process runs the parent's ``__main__`` file again under the name
``__mp_main__``: so the app is drawn only when this file is the one being run, never in a
worker (each of which would otherwise run the whole page before it could start)."""


def main() -> None:
    import streamlit as st

    st.set_page_config(page_title="Subset Explorer", layout="wide")
    chart_code = request_chart_code(st)  # before the imports below, which take about a second
    from explorer import warmup
    from explorer.ui import compute, sidebar

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
    chart_code.empty()
    warmup.warm_in_background()  # numba's first compiles, once the first page is drawn


def request_chart_code(st):
    """On a session's first run, an empty chart of one pixel drawn before anything else, so
    that the browser fetches and compiles the chart library (every chart of the app is an
    ECharts chart: about 1.9 MB of script) while this run imports its modules, not after the
    map arrives; the run removes it when it ends (or the next run replaces it). Returns its
    placeholder."""
    slot = st.empty()
    if not st.session_state.get("chart_code_requested"):
        st.session_state["chart_code_requested"] = True
        slot.echarts_chart({"series": []}, height=1, key="chart_code")
    return slot


if __name__ == "__main__":
    main()
