"""The app's filter builder and the workspace reload, through AppTest: a filter restricts the
selection; a planted workspace entry whose filter holds code is refused, and nothing runs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

import explorer
from app_pages import opened, texts
from explorer.data.workspace import Workspace



def test_the_filter_builder_restricts_the_selection_and_shows_its_text():
    at = opened()
    at.button(key="filter_add").click().run()
    at.selectbox(key="w:filter:0:column").set_value("label").run()
    at.selectbox(key="w:filter:0:op:text").set_value("is one of").run()
    at.multiselect(key="w:filter:0:label:is one of").set_value(["3", "8"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert "label in ['3', '8']" in [c.value for c in at.code]
    assert "357 of 1,797 rows pass" in texts(at.caption)
    sel = at.session_state["selection"]
    digits = explorer.load_sample("digits")
    assert len(sel) == 50 and sel.where == "label in ['3', '8']"
    assert set(digits.metadata["label"].to_numpy()[sel.indices]) == {"3", "8"}

    # a second condition joined with "and": a numeric range
    at.button(key="filter_add").click().run()
    at.selectbox(key="w:filter:1:column").set_value("difficulty").run()
    at.selectbox(key="w:filter:1:op:number").set_value("<").run()
    at.number_input(key="w:filter:1:difficulty:<").set_value(0.05).run()
    assert not at.exception, [e.value for e in at.exception]
    sel = at.session_state["selection"]
    assert sel.where == "label in ['3', '8'] and difficulty < 0.05"
    assert (digits.metadata["difficulty"].to_numpy()[sel.indices] < 0.05).all()


def _plant(folder: Path, name: str, where: str) -> None:
    """A workspace entry saved normally, whose manifest's filter is then replaced by
    ``where`` in the file itself, as someone handing over a workspace could."""
    digits = explorer.load_sample("digits")
    Workspace(folder).save(name, digits, explorer.select(digits, "k-center", 20,
                                                         where="label == '1'"))
    with sqlite3.connect(folder / "workspace.sqlite") as db:
        table = next(t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE "
                                               "type = 'table'")
                     if "manifest" in [c[1] for c in db.execute(f"PRAGMA table_info({t})")])
        (text,) = db.execute(f"SELECT manifest FROM {table} WHERE name = ?", (name,)).fetchone()
        doc = json.loads(text)
        doc["where"] = where
        db.execute(f"UPDATE {table} SET manifest = ? WHERE name = ?", (json.dumps(doc), name))


def test_reload_into_explore_refuses_a_planted_entry_whose_filter_holds_code(tmp_path):
    canary = tmp_path / "canary"
    folder = tmp_path / "ws"
    _plant(folder, "planted", f"__import__('os').system('touch {canary}')")
    _plant(folder, "planted-at", f"@pd.io.common.os.system('touch {canary}')")
    at = opened()
    at.switch_page("pages/export.py").run()
    at.text_input(key="w:ws_folder").set_value(str(folder)).run()
    for name, refused in (("planted", "the dunder name '__import__'"),
                          ("planted-at", "'@' (a reference to a Python variable)")):
        at.selectbox(key="ws_pick").set_value(name).run()
        at.button(key="ws_reload").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert f"not allowed: {refused}" in texts(at.error)
        assert "Reloaded" not in texts(at.success)
    assert not canary.exists()


def test_reload_into_explore_does_not_read_a_target_path_from_the_entry(tmp_path):
    digits = explorer.load_sample("digits")
    folder = tmp_path / "ws"
    target = tmp_path / "target.npy"
    np.save(target, np.asarray(digits.embeddings[:30]))
    Workspace(folder).save("with-path", digits,
                           explorer.select(digits, "dsir", 20, target=str(target)))
    at = opened()
    at.switch_page("pages/export.py").run()
    at.text_input(key="w:ws_folder").set_value(str(folder)).run()
    at.selectbox(key="ws_pick").set_value("with-path").run()
    at.button(key="ws_reload").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "may not make the app read files" in texts(at.error)
