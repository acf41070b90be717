"""AppTest: the sidebar's "Embed text or images" source (real MiniLM) and the Export page's
"Export rows for other tools" (a selection, the lasso, the filter)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from app_pages import APP, texts
from streamlit.testing.v1 import AppTest

from explorer.data.samples import SAMPLES



@pytest.fixture()
def notes(tmp_path, monkeypatch):
    """40 short texts (the openings of pydocs paragraphs) in a CSV the app may read."""
    monkeypatch.setenv("SUBSET_EXPLORER_DATA_ROOTS", str(tmp_path))
    frame = pd.read_parquet(SAMPLES["pydocs"], columns=["id", "text", "label"]).head(40)
    frame["text"] = [" ".join(t.split()[:6]) for t in frame["text"]]
    path = tmp_path / "notes.csv"
    frame.to_csv(path, index=False)
    return path


def _sidebar_source():
    """The embed source alone (AppTest re-runs only the page after an app's first run, not
    app.py's sidebar, so its button is driven in a script of its own)."""
    import streamlit as st

    from explorer.ui import embed_view, state

    state.init()
    embed_view.embed_source(st.sidebar)
    st.write(f"key: {state.get('embedded_key')}")


def test_embed_a_text_column_from_the_sidebar(notes):
    at = AppTest.from_function(_sidebar_source, default_timeout=240)
    at.run()
    at.sidebar.text_input(key="w:embed_table").input(str(notes)).run()
    assert at.sidebar.selectbox(key="w:embed_column").value == "text"  # guessed by its name
    assert at.sidebar.selectbox(key="w:embed_id").value == "id"
    at.sidebar.button(key="embed_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    key = at.session_state["embedded_key"]
    assert key[0] == "path" and key[3] == "id" and Path(key[1]).name == "notes.parquet"

    # the app loads it as the dataset and says which model made the space
    app = AppTest.from_file(APP, default_timeout=240)
    app.session_state["source"] = "Embed text or images"
    app.session_state["embedded_key"] = key
    app.session_state["layout_method"] = "PCA"
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    caption = texts(app.sidebar.caption)
    assert "40 rows × 384 dims" in caption
    assert "text by all-MiniLM-L6-v2 (384 dims, mean pooling, L2-normalised)" in caption
    assert "Dataset **notes** · 40 rows" in texts(app.caption)
    assert "k-center: selected **50** of 40" not in texts(app.success)
    assert "selected" in texts(app.success)

    # a typed sentence lists the rows the library finds nearest to it with the same model
    import explorer
    from explorer.search import neighbours_of_text, query_model

    sentence = "open a file and read its lines"
    app.number_input(key="w:neighbour_k").set_value(5).run()
    app.text_input(key="w:neighbour_text").input(sentence).run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    shown = next(d.value for d in app.dataframe if "distance" in d.value.columns)
    data = explorer.load(key[1], id_column="id")
    want = neighbours_of_text(data, query_model(data), sentence, k=5,
                              metric=app.session_state["metric"])
    assert shown["row"].tolist() == want.indices.tolist()
    assert np.allclose(shown["distance"], np.round(want.distances, 4))
    assert f"nearest to {sentence!r}" in texts(app.caption)
    app.button(key="nb_pin").click().run()
    assert sorted(app.session_state["pinned"]) == sorted(want.indices.tolist())


def test_bad_input_to_the_embed_source_is_one_message(notes, tmp_path):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"id": ["a", "b", "c"], "text": ["fine", "", "also fine"]}).to_csv(bad)
    at = AppTest.from_function(_sidebar_source, default_timeout=240)
    at.run()
    at.sidebar.text_input(key="w:embed_table").input(str(bad)).run()
    at.sidebar.button(key="embed_run").click().run()
    assert not at.exception
    assert "bad.csv: 1 of 3 rows of column 'text' are empty or not text: row 1 (empty)" in \
        texts(at.sidebar.error)
    assert "key: None" in texts(at.markdown)
    at.sidebar.text_input(key="w:embed_table").input("/etc/hostname").run()
    assert "is outside the folders this app may use" in texts(at.sidebar.error)


def test_export_rows_offers_the_selection_the_lasso_and_the_filter(tmp_path):
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["layout_method"] = "PCA"  # the map at once, without UMAP's minute
    at.run()
    at.session_state["lasso"] = [3, 1, 4, 1500]
    at.session_state["filter_json"] = json.dumps({"op": "==", "column": "label",
                                                  "value": "7"})
    at.switch_page("pages/export.py").run()
    assert not at.exception, [e.value for e in at.exception]
    options = at.radio(key="w:export_rows").options
    assert options == ["the k-center selection (50 rows)", "the current lasso (4 rows)",
                       "the rows the Explore filter keeps (179)"]
    at.radio(key="w:export_rows").set_value(options[1]).run()
    at.checkbox(key="w:export_xy").check().run()
    at.checkbox(key="w:export_clusters").check().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "x / y of the" in texts(at.caption)


def test_the_export_files_load_in_other_tools(digits):
    import datasets

    from explorer.data.interchange import as_rows
    from explorer.ui.interchange_view import files_for

    rows = as_rows([3, 1, 4, 1500], digits, "lasso")
    layout = np.arange(digits.n * 2, dtype=np.float32).reshape(-1, 2)
    clusters = np.arange(digits.n) % 20
    files = files_for(digits, rows, "digits-lasso-4", layout, clusters, "label")
    frame = pd.read_csv(io.BytesIO(files[".csv"]))
    assert frame["index"].tolist() == [3, 1, 4, 1500]
    assert frame["x"].tolist() == layout[[3, 1, 4, 1500], 0].tolist()
    assert frame["cluster"].tolist() == [3, 1, 4, 0]
    with zipfile.ZipFile(io.BytesIO(files["hf"])) as archive, \
            __import__("tempfile").TemporaryDirectory() as tmp:
        archive.extractall(tmp)
        hf = datasets.load_from_disk(str(Path(tmp) / "digits-lasso-4"))
        assert hf["id"] == digits.ids[[3, 1, 4, 1500]].tolist() and hf["cluster"] == [3, 1, 4, 0]
        assert np.array_equal(np.asarray(hf.with_format("numpy")["embedding"]),
                              digits.embeddings[[3, 1, 4, 1500]])
    tasks = json.loads(files["label-studio"])
    assert [t["data"]["row_index"] for t in tasks] == [3, 1, 4, 1500]
    assert tasks[0]["data"]["image"].startswith("data:image/png;base64,")
    assert tasks[0]["data"]["label"] == digits.metadata["label"].iloc[3]
