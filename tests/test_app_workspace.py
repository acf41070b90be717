"""The Export page with a damaged workspace: one st.error naming the file, never a traceback,
and a button that moves the file aside (kept) and starts a new workspace."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from app_pages import APP, texts
from streamlit.testing.v1 import AppTest

import explorer
from explorer.data.paths import ROOTS_VARIABLE
from explorer.data.workspace import DB_NAME, Workspace
from test_workspace import FILES  # every damaged file of the library's tests



def export_page(folder: Path, monkeypatch) -> AppTest:
    """The app on the digits sample, its Export page pointed at ``folder``."""
    monkeypatch.setenv(ROOTS_VARIABLE, os.pathsep.join([str(folder.parent), os.getcwd()]))
    at = AppTest.from_file(APP, default_timeout=240)
    at.run()
    at.switch_page("pages/export.py").run()
    at.text_input(key="w:ws_folder").set_value(str(folder)).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


DAMAGE = {name: make for name, (make, _) in FILES.items()}


@pytest.mark.parametrize("variant", list(DAMAGE))
def test_a_damaged_workspace_is_shown_and_moved_aside_on_request(tmp_path, digits,
                                                                  monkeypatch, variant):
    folder = tmp_path / "ws"
    folder.mkdir()
    DAMAGE[variant](folder / DB_NAME, digits)
    at = export_page(folder, monkeypatch)
    errors = texts(at.error)
    assert str(folder / DB_NAME) in errors and "Move it aside" in errors
    assert len(at.error) == 1
    at.button(key="ws_move_aside").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, texts(at.error)
    kept = [n for n in os.listdir(folder) if n.startswith(f"{DB_NAME}.corrupt-")]
    assert len(kept) == 1 and f"kept as {folder / kept[0]}" in texts(at.success)
    at.text_input(key="ws_name").set_value("after").run()  # the new workspace works
    at.button(key="ws_save").click().run()
    assert "Saved 'after'" in texts(at.success)
    assert Workspace(folder).list()["name"].tolist() == ["after"]


def test_damaged_rows_are_reported_where_they_are_used(tmp_path, digits, monkeypatch):
    folder = tmp_path / "ws"
    ws = Workspace(folder)
    for name in ("good", "not-json", "bad-indices"):
        ws.save(name, digits, explorer.select(digits, "random", 30, seed=len(name)))
    doc = ws.manifest("bad-indices")
    doc["selection"]["indices"] = [1, 10**9]
    with sqlite3.connect(ws.path) as db:
        db.execute("UPDATE selections SET manifest = '{oops' WHERE name = 'not-json'")
        db.execute("UPDATE selections SET manifest = ? WHERE name = 'bad-indices'",
                   (explorer.data.export.json.dumps(doc),))
    db.close()
    at = export_page(folder, monkeypatch)
    # the overlap chart needs every chosen row's indices: the damaged ones are named
    assert "the saved selection" in texts(at.error) and "delete it" in texts(at.error)
    at.selectbox(key="ws_pick").set_value("not-json").run()
    at.button(key="ws_reload").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "'not-json' has a manifest that is not JSON" in texts(at.error)
    at.checkbox(key="ws_confirm").check().run()
    at.button(key="ws_delete").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert sorted(Workspace(folder).list()["name"]) == ["bad-indices", "good"]


def test_the_workspace_folder_is_kept_across_pages(tmp_path, digits, monkeypatch):
    """A folder typed on Export is still the workspace after a visit to another page (a
    widget's own state is dropped by Streamlit when its page is not drawn)."""
    folder = tmp_path / "ws"
    Workspace(folder).save("kept", digits, explorer.select(digits, "random", 30, seed=0))
    at = export_page(folder, monkeypatch)
    assert at.text_input(key="w:ws_folder").value == str(folder)
    at.switch_page("pages/explore.py").run()
    at.switch_page("pages/export.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.text_input(key="w:ws_folder").value == str(folder)
    assert "kept" in at.selectbox(key="ws_pick").options
