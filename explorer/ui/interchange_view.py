"""The Export page's "Export rows for other tools": the strategy's selection, the current
lasso or the rows the Explore filter keeps, as CSV, Parquet, a Hugging Face datasets folder
(zipped) or Label Studio tasks, with the map's x / y and cluster ids on request."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import streamlit as st

import explorer
from explorer.data import interchange
from explorer.errors import ExplorerError

from . import compute, state


def _choices(data, sel) -> dict:
    """What can be exported now: label -> (how, row indices or a Selection)."""
    out = {}
    if sel is not None and sel.fingerprint == data.fingerprint:
        out[f"the {sel.strategy} selection ({len(sel):,} rows)"] = ("selection", sel)
    lasso = state.get("lasso")
    if lasso:
        out[f"the current lasso ({len(lasso):,} rows)"] = ("lasso", np.asarray(lasso))
    where = state.get("filter_json")
    if where:
        try:
            rows = compute_filter_rows(state.get("data_key"), where)
        except ExplorerError as exc:
            st.caption(f"The Explore filter cannot be exported: {exc}")
        else:
            out[f"the rows the Explore filter keeps ({len(rows):,})"] = ("filter", rows)
    return out


@st.cache_data(show_spinner=False, max_entries=8)
def compute_filter_rows(data_key, where_json: str) -> np.ndarray:
    from explorer.data.rows import query_rows

    return query_rows(compute._data(data_key), json.loads(where_json), "filter")


def _map_layout(data_key):
    """The layout the Explore map shows (the chosen one when it is cached, else the PCA shown
    first)."""
    from explorer.projection import LABELS, METHOD_OF_LABEL

    label = state.get("layout_method") if "layout_method" in st.session_state else "UMAP"
    method = METHOD_OF_LABEL.get(label, "umap")
    nn = st.session_state.get("umap_nn", 15)
    md = st.session_state.get("umap_md", 0.1)
    metric = state.get("metric")
    if method != "pca" and compute.cached_layout(data_key, method, nn, md, metric):
        return compute.layout(data_key, method, nn, md, metric), LABELS[method]
    return compute.layout(data_key, "pca", 15, 0.1, metric), "PCA"


def _zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()


def other_tools_files(data, rows, stem: str, *, engine=None, layout=None, clusters=None,
                      step=None, **columns) -> dict:
    """The rows as a zipped Hugging Face datasets folder (``hf``) and as Label Studio tasks
    (``label-studio``), as bytes written by the library's own writers; a format that cannot be
    written gives its one-line reason instead (``hf_error``, ``label-studio_error``). A sharded
    dataset's rows are read on ``engine``; ``step(fraction, message)`` hears of each format
    begun; ``columns`` are label_studio_tasks' text / image / label columns."""
    say = step or (lambda fraction, message: None)
    out = {}
    say(0.0, "writing the Hugging Face folder")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            folder = interchange.export_as(data, rows, Path(tmp) / stem, "hf", layout=layout,
                                           clusters=clusters, engine=engine)
            out["hf"] = _zip_folder(folder)
        except ExplorerError as exc:
            out["hf_error"] = str(exc)
    say(0.5, "writing the Label Studio tasks")
    try:
        tasks = interchange.label_studio_tasks(data, rows, engine=engine, **columns)
        out["label-studio"] = (json.dumps(tasks, ensure_ascii=False) + "\n").encode()
    except ExplorerError as exc:
        out["label-studio_error"] = str(exc)
    return out


def files_for(data, rows, stem: str, layout=None, clusters=None,
              label_column: str | None = None) -> dict:
    """Every format of the export as bytes, written by the library's own writers."""
    out = {}
    extra = interchange.extra_columns(data, rows, layout=layout, clusters=clusters)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / stem
        for suffix in (".csv", ".parquet"):
            explorer.export(data, rows, base.with_suffix(suffix), columns=extra)
            out[suffix] = base.with_suffix(suffix).read_bytes()
    out.update(other_tools_files(data, rows, stem, layout=layout, clusters=clusters,
                                 label_column=label_column))
    return out


def other_tools_buttons(hf_slot, tasks_slot, files: dict, stem: str, key: str) -> None:
    """The download buttons of :func:`other_tools_files`' formats in ``hf_slot`` and
    ``tasks_slot`` (widget keys ``{key}_hf``, ``{key}_ls``), and why a format is missing."""
    hf_slot.download_button("Hugging Face (zip)", files.get("hf", b""), f"{stem}.zip",
                            "application/zip", key=f"{key}_hf", disabled="hf" not in files,
                            help="Unzip, then datasets.load_from_disk('" + stem + "'): the "
                            "rows, their metadata and an 'embedding' column (and a "
                            "selection's manifest).")
    tasks_slot.download_button("Label Studio tasks", files.get("label-studio", b""),
                               f"{stem}-label-studio.json", "application/json", key=f"{key}_ls",
                               disabled="label-studio" not in files,
                               help="Label Studio's task import JSON: text or image, row_id, "
                               "row_index, rank (and the label column).")
    for problem in ("hf_error", "label-studio_error"):
        if problem in files:
            st.caption(files[problem])


def task_column_choice(data) -> dict:
    """The column a Label Studio task shows and as what (text or image), when the dataset has
    more than one to choose from, starting from the library's default
    (:func:`explorer.data.interchange.task_columns`): label_studio_tasks' keyword for it, or {}
    for the library's default (which, when there is none, says so and names the columns)."""
    text, image = interchange.task_columns(data)
    guess = text or image
    columns = [c for c in interchange.metadata_columns(data) if c != data.id_column]
    options = columns if guess in columns else ["(none)"] + columns
    if len(options) == 1:
        return {}
    c1, c2 = st.columns([2, 1])
    column = state.remembered(c1.selectbox, "Column the Label Studio tasks show",
                              "ls_task_column", options=options,
                              index=options.index(guess if guess in columns else "(none)"),
                              help="Each task's text or image; its label is the sidebar's "
                              "label column.")
    if column == "(none)":
        return {}
    shown_as = state.remembered(c2.radio, "Shown as", f"ls_task_kind:{column}",
                                options=["text", "image"], horizontal=True,
                                default="image" if column == image else "text")
    return {f"{shown_as}_column": column}


def rows_export(data, sel) -> None:
    st.subheader("Export rows for other tools")
    choices = _choices(data, sel)
    if not choices:
        st.info("Run a strategy, draw a lasso on the Explore map or set a filter there; its "
                "rows can then be exported here.")
        return
    label = state.remembered(st.radio, "Rows to export", "export_rows", options=list(choices))
    how, rows = choices[label]
    c1, c2 = st.columns(2)
    add_xy = state.remembered(c1.checkbox, "Add the map's x / y", "export_xy", default=False)
    add_clusters = state.remembered(c2.checkbox, "Add k-means cluster ids (the map's 20 "
                                    "clusters)", "export_clusters", default=False)
    key = state.get("data_key")
    layout = clusters = None
    if add_xy:
        layout, method = _map_layout(key)
        c1.caption(f"x / y of the {method} map.")
    if add_clusters:
        clusters = compute.cluster_labels(key, state.get("metric"))
    if how != "selection":
        rows = interchange.as_rows(rows, data, how)
    stem = f"{data.name}-{how}-{len(rows.indices)}"
    files = files_for(data, rows, stem, layout, clusters, state.get("label_column"))
    c = st.columns(4)
    c[0].download_button("Rows as CSV", files[".csv"], f"{stem}.csv", "text/csv", key="rx_csv",
                         help="rank, index, id, metadata, and the columns asked for")
    c[1].download_button("Rows as Parquet", files[".parquet"], f"{stem}.parquet",
                         "application/octet-stream", key="rx_parquet")
    other_tools_buttons(c[2], c[3], files, stem, "rx")
