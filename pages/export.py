"""Export: downloads, the replayable manifest, and the local workspace of saved selections."""

import streamlit as st

from explorer.ui import confirm_view, engine_view, export_view, interchange_view, sidebar, state

data = sidebar.page_data("Export")
sel = state.get("selection")
if engine_view.is_sharded(data):  # the engine run's Parquet and manifest, as the CLI's
    engine_view.export_page(data, sel)
    export_view.workspace(data, sel)
    st.stop()
if sel is None or sel.fingerprint != data.fingerprint:
    st.info("Run a strategy on the **Explore** page first; its selection can then be "
            "downloaded here and saved to your workspace.")
else:
    export_view.downloads(data, sel)
interchange_view.rows_export(data, sel)
confirm_view.confirm_section(data, sel)
export_view.workspace(data, sel)
