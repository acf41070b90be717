"""The saved-selections workspace on a sharded dataset (the digits as Parquet shards, the local
engine): a run saved and reloaded without running its strategy again, its ids checked against
the shards that hold its rows only, a tampered or misplaced entry refused in one line; and the
Export page on shards: save, list, compare, reload as the current run, delete."""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pytest

import explorer
from explorer.data.shards import write_shards
from explorer.data.workspace import Workspace
from explorer.engine import drivers
from explorer.errors import ExplorerError
from explorer.evaluate.compare import jaccard

from app_pages import texts
from test_app_shards import opened


@pytest.fixture(scope="module")
def shards(digits, tmp_path_factory):
    """The digits in 3 Parquet shards, one of them empty, as test_app_shards makes them (in
    a folder of another name: its tests name the dataset by its folder, digit-shards0)."""
    folder = tmp_path_factory.mktemp("ws-digit-shards")
    write_shards(digits, folder, [0, 700, 700, 1797])
    return str(folder)


def test_a_run_on_shards_is_saved_checked_and_reloaded_without_running_again(shards, digits,
                                                                               tmp_path):
    data = explorer.load(shards, id_column="id")
    sel = explorer.select(data, "k-center", 30, seed=3, engine="local")
    ws = Workspace(tmp_path)
    assert ws.save("kc", data, sel) == "saved"
    listed = ws.list()
    assert listed["name"].tolist() == ["kc"] and listed["fingerprint"][0] == data.fingerprint
    doc = ws.manifest("kc")
    assert doc["engine"]["name"] == "local" and doc["engine"]["partitions"] == 3
    assert doc["selection"]["ids"] == digits.ids[sel.indices].tolist()

    fresh = explorer.load(shards, id_column="id")  # no run has read its shards yet
    assert fresh.fingerprint is None
    assert ws.indices("kc", fresh, engine="local").tolist() == sel.indices.tolist()
    assert fresh.fingerprint == data.fingerprint  # read once to check it is the same data
    again = ws.saved_run("kc", fresh)
    assert again.indices.tolist() == sel.indices.tolist()
    assert again.row_ids.tolist() == sel.row_ids.tolist()
    assert (again.strategy, again.seed, again.metric, again.budget, again.params) == \
        (sel.strategy, sel.seed, sel.metric, sel.budget, sel.params)
    assert again.engine == sel.engine and again.fingerprint == sel.fingerprint
    assert again.seconds == pytest.approx(sel.seconds)  # recorded, not measured again
    # the reloaded run exports as the run itself does
    assert drivers.selection_rows(fresh, again)["id"].tolist() == \
        drivers.selection_rows(data, sel)["id"].tolist()

    one_file = explorer.select(digits, "random", 10, seed=1)
    ws.save("one-file", digits, one_file)
    with pytest.raises(ExplorerError, match="'one-file' was not made on an engine; replay"):
        ws.saved_run("one-file", data)
    with pytest.raises(ExplorerError, match="made on other data than"):
        ws.save("wrong", digits, sel)


def test_only_the_shards_holding_the_saved_rows_are_read(shards, tmp_path):
    folder = tmp_path / "shards"
    shutil.copytree(shards, folder)
    data = explorer.load(str(folder), id_column="id")
    first = sorted(folder.glob("*.parquet"))[0]
    sel = explorer.select(data, "random", 20, seed=0, engine="local",
                          excluded=np.arange(700, 1797))  # every pick in the first shard
    assert sel.indices.max() < 700
    ws = Workspace(tmp_path / "ws")
    ws.save("first-shard", data, sel)
    for other in sorted(folder.glob("*.parquet"))[1:]:
        other.write_bytes(b"not parquet any more")  # read, it would fail
    assert ws.indices("first-shard", data).tolist() == sel.indices.tolist()
    first.write_bytes(b"not parquet any more")
    with pytest.raises(ExplorerError):
        ws.indices("first-shard", data)


def _stored(ws: Workspace, name: str, doc: dict) -> None:
    """Write ``doc`` as ``name``'s manifest straight into the SQLite file (a stranger's edit)."""
    db = sqlite3.connect(ws.path)
    db.execute("UPDATE selections SET manifest = ? WHERE name = ?", (json.dumps(doc), name))
    db.commit()
    db.close()


@pytest.mark.parametrize("change", ["an id", "an index"])
def test_a_tampered_entry_is_refused_in_one_line(shards, tmp_path, change):
    data = explorer.load(shards, id_column="id")
    sel = explorer.select(data, "k-center", 12, engine="local")
    ws = Workspace(tmp_path)
    ws.save("kc", data, sel)
    ws.save("untouched", data, explorer.select(data, "random", 12, seed=2, engine="local"))
    doc = ws.manifest("kc")
    if change == "an id":
        doc["selection"]["ids"][3] = "digit-0000"
    else:  # still a row number of the data, so only the ids beside it can tell
        doc["selection"]["indices"][3] = (doc["selection"]["indices"][3] + 1) % data.n
    _stored(ws, "kc", doc)
    for use in (ws.indices, ws.saved_run):
        with pytest.raises(ExplorerError) as caught:
            use("kc", data)
        message = str(caught.value)
        assert message == (f"{ws.path}: the saved selection 'kc' has selection indices and "
                           "ids that disagree (the file was changed outside Subset Explorer); "
                           "delete it (the Export page's Delete button, or Workspace.delete) "
                           "and save it again.")
    assert len(ws.indices("untouched", data)) == 12  # the other entry is untouched


def test_an_entry_of_other_shards_is_refused(shards, digits, tmp_path):
    data = explorer.load(shards, id_column="id")
    ws = Workspace(tmp_path / "ws")
    ws.save("kc", data, explorer.select(data, "k-center", 12, engine="local"))
    folder = tmp_path / "other"
    folder.mkdir()
    write_shards(digits, folder, [0, 900, 1797])  # the same rows, other shards
    other = explorer.load(str(folder), id_column="id")
    with pytest.raises(ExplorerError, match=r"^'kc' was saved on other data \(.*\); load "
                                            r"that dataset to use it\.$"):
        ws.indices("kc", other)


def test_export_page_on_shards_saves_lists_compares_reloads_and_deletes(shards, tmp_path,
                                                                         monkeypatch):
    folder = tmp_path / "ws"
    # the default folder: a typed one is not kept across pages (its widget is not remembered)
    monkeypatch.setenv("SUBSET_EXPLORER_HOME", str(folder))
    at = opened(shards, budget_count=30)
    at.button(key="engine_run").click().run()
    first = at.session_state["selection"]
    at.switch_page("pages/export.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "No saved selections yet." in texts(at.info)
    at.text_input(key="ws_name").set_value("kc-30").run()
    at.button(key="ws_save").click().run()
    assert f"Saved 'kc-30' in {folder / 'workspace.sqlite'}" in texts(at.success)

    at.switch_page("pages/explore.py").run()
    at.session_state["budget_count"] = 20  # AppTest re-runs the page, not the sidebar
    at.button(key="engine_run").click().run()
    second = at.session_state["selection"]
    assert len(second) == 20
    at.switch_page("pages/export.py").run()
    at.text_input(key="ws_name").set_value("kc-20").run()
    at.button(key="ws_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    listed = at.dataframe[0].value
    assert sorted(listed["name"]) == ["kc-20", "kc-30"]
    assert set(listed["strategy"]) == {"k-center"} and sorted(listed["rows"]) == [20, 30]

    # the overlap: checked against the shards on request, k-center's 20 picks a prefix of 30
    assert "Press **Compare overlap**" in texts(at.info)
    at.button(key="ws_overlap").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, texts(at.error)
    checked, = at.session_state["ws_overlaps"].values()
    assert checked["kc-30"].tolist() == first.indices.tolist()
    assert checked["kc-20"].tolist() == second.indices.tolist()
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert figure["layout"]["title"]["text"] == "Jaccard overlap of saved selections"
    assert sorted(figure["data"][0]["x"]) == ["kc-20", "kc-30"]
    assert jaccard(checked).loc["kc-20", "kc-30"] == pytest.approx(20 / 30)

    # reload: the saved run becomes the current one, not run again
    runs = len(at.session_state["engine_runs"])
    at.selectbox(key="ws_pick").set_value("kc-30").run()
    at.button(key="ws_reload").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, texts(at.error)
    now = at.session_state["selection"]
    assert now.indices.tolist() == first.indices.tolist() and now is not first
    assert now.seconds == pytest.approx(first.seconds)  # the saved record, not a new run
    assert len(at.session_state["engine_runs"]) == runs
    assert "Reloaded 'kc-30': 30 rows" in texts(at.success)
    assert "**k-center**, 30 rows of" in texts(at.markdown)  # the downloads are of it now
    at.switch_page("pages/explore.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "k-center: selected **30** of 1,797 rows" in texts(at.success)
    assert "Reloaded from the workspace as **kc-30**" in texts(at.info)
    assert at.session_state["selection"] is now  # Explore's run key (budget 20) has a run too
    at.session_state["budget_count"] = 25  # a setting changes: the panel's runs again
    at.run()
    assert "Reloaded from the workspace" not in texts(at.info)
    assert "press **Run**" in texts(at.info)

    at.switch_page("pages/export.py").run()
    at.selectbox(key="ws_pick").set_value("kc-20").run()
    at.checkbox(key="ws_confirm").check().run()
    at.button(key="ws_delete").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert Workspace(folder).list()["name"].tolist() == ["kc-30"]
    assert at.dataframe[0].value["name"].tolist() == ["kc-30"]
