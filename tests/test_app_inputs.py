"""The data sidebar against bad input (AppTest): every case ends in a clean load or one clear
st.error, never an exception or a server folder on screen, and the session keeps working."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
from app_pages import opened, texts
from streamlit.testing.v1 import AppTest

from explorer.ui import data as uidata



def npy_bytes(n=60, d=8, seed=0) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32))
    return buf.getvalue()


def opened_on(source: str) -> AppTest:
    """The app with the sidebar on ``source`` from the first run (AppTest re-runs only the
    page after that, so the sidebar's uploader must be drawn then), its map a PCA (a new
    dataset's UMAP is not what these tests are about)."""
    return opened(source=source, layout_method="PCA")


def shows_no_server_folder(at) -> None:
    on_screen = texts(at.error) + texts(at.caption) + texts(at.markdown)
    assert str(uidata.upload_base()) not in on_screen
    assert "Traceback" not in on_screen


def _sidebar_page():
    # the app's data sidebar and the top of a page, as every page draws them
    from explorer.ui import sidebar

    sidebar.sidebar_data()
    sidebar.current_data()


def test_odd_upload_names_load_cleanly_or_say_why():
    # (the sidebar alone, which AppTest re-runs every time: in the whole app it re-runs only
    # the page after the first run, so the sidebar's uploader takes one file per test)
    at = AppTest.from_function(_sidebar_page, default_timeout=120)
    at.session_state["source"] = "Upload a file"
    at.run()
    rows = 60
    cases = [  # (name the user gave, bytes, what the page shows)
        ("a" * 300 + ".npy", npy_bytes(rows), "ok"),
        ("my\x00file.npy", npy_bytes(rows + 1), "ok"),
        ("données-" + "数据" * 150 + ".npy", npy_bytes(rows + 2), "ok"),
        ("../../../../etc/cron.d/evil.npy", npy_bytes(rows + 3), "ok"),
        (".hidden.npy", npy_bytes(rows + 4), "ok"),
        ("empty.npy", b"", "empty.npy: the uploaded embeddings file is empty"),
        ("notes.txt", b"hello", "notes.txt: unsupported type for the embeddings file"),
        ("b" * 300 + ".npy", b"not an array", "b" * 300 + ".npy"),  # named as given
        ("nul\x00.npy", b"\x00" * 64, "nul?.npy"),
    ]
    for i, (name, content, expect) in enumerate(cases):
        at.file_uploader(key="upload").set_value((name, content, "application/octet-stream"))
        at.run()
        assert not at.exception, (name, [e.value for e in at.exception])
        shows_no_server_folder(at)
        if expect == "ok":
            assert not at.error, (name, texts(at.error))
            assert f"{rows + i:,} rows × 8 dims" in texts(at.caption), name
            stored = Path(at.session_state["data_key"][1])
            assert stored.parent.parent.parent == uidata.upload_base()  # base/session/hash
            assert stored.name == uidata.safe_name(name)
            for folder in (stored.parent, stored.parent.parent, uidata.upload_base()):
                assert os.stat(folder).st_mode & 0o777 == 0o700
        else:
            assert expect in texts(at.error), (name, texts(at.error))
            assert "The previous dataset is still loaded" in texts(at.caption)
    # the session keeps working: a good file loads again
    at.file_uploader(key="upload").set_value(("again.npy", npy_bytes(75), "x"))
    at.run()
    assert not at.error and "75 rows × 8 dims" in texts(at.caption)
    uidata._remove_folder(Path(at.session_state["data_key"][1]).parent.parent)


def test_the_whole_app_loads_a_long_odd_name_and_runs_a_strategy_on_it():
    at = opened_on("Upload a file")
    name = "ünïcode\x00" + "z" * 300 + ".npy"
    at.file_uploader(key="upload").set_value((name, npy_bytes(90), "x"))
    at.run()
    assert not at.exception and not at.error, texts(at.error)
    shows_no_server_folder(at)
    assert "90 rows × 8 dims" in texts(at.caption)
    assert "k-center: selected **50** of 90 rows" in texts(at.success)
    uidata._remove_folder(Path(at.session_state["data_key"][1]).parent.parent)


def test_bad_paths_on_disk_say_why_and_keep_the_dataset(tmp_path, escaping):
    at = opened_on("Path on disk")
    good = tmp_path / "good.npy"
    good.write_bytes(npy_bytes(40))
    cases = {  # path typed -> words of the one-line error
        str(escaping.fifo): "is a named pipe (FIFO), not a regular file",
        "/dev/zero": "outside the folders this app may use",
        str(tmp_path): "is a folder",
        str(escaping.secret): "outside the folders this app may use",
        str(tmp_path / ".." / ".." / ".." / ".." / "etc" / "passwd"):
            "outside the folders this app may use",
        str(escaping.link): "outside the folders this app may use",
        str(good) + "\x00": "contains a control character",
    }
    for path, words in cases.items():
        at.session_state["disk_path"] = path
        at.run()
        assert not at.exception, (path, [e.value for e in at.exception])
        assert words in texts(at.error), (path, texts(at.error))
        assert "The previous dataset is still loaded: **digits**" in texts(at.caption)
    at.session_state["disk_path"] = str(good)
    at.session_state["disk_meta"] = str(escaping.secret)
    at.run()
    assert "tokens.csv (Metadata file): is outside the folders" in texts(at.error)
    at.session_state["disk_meta"] = ""
    at.run()
    assert not at.error and "40 rows × 8 dims" in texts(at.caption)
    assert "k-center: selected" in texts(at.success)


def test_a_workspace_folder_outside_the_roots_is_refused_and_not_created():
    at = opened_on("Bundled sample")
    at.switch_page("pages/export.py").run()
    target = Path(tempfile.gettempdir()) / "serving-ws-outside" / "deep"
    at.text_input(key="w:ws_folder").set_value(str(target)).run()
    assert not at.exception
    assert "(Workspace folder): is outside the folders this app may use" in texts(at.error)
    assert not target.parent.exists()
