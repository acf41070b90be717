"""Serving: the app binds 127.0.0.1, upload names are cleaned, upload folders are private and
swept, typed paths stay below the allowed folders, and the command line ends cleanly when its
reader goes away."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import explorer
from explorer.ui import data as uidata

ROOT = Path(__file__).resolve().parents[1]


def test_the_config_binds_loopback_only():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["client"]["showErrorDetails"] == "type"  # a bug's traceback stays in the log


def _listening(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_the_app_started_as_run_app_does_listens_on_127_0_0_1_only():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # the options ./run app gives, and no address: the one in .streamlit/config.toml applies
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py",
                             "--server.headless", "true", "--server.port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        listening = _listening(port)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert listening == {"0100007F"}, listening  # 127.0.0.1, little-endian hex; no 0.0.0.0


@settings(max_examples=300, deadline=None)
@given(hs.text(min_size=0, max_size=400))
def test_a_cleaned_upload_name_is_one_short_plain_file_name(name):
    clean = uidata.safe_name(name)
    assert clean and clean not in (".", "..")
    assert "/" not in clean and "\\" not in clean and "\x00" not in clean
    assert not clean.startswith((".", " "))
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in clean)
    assert len(clean) <= uidata.MAX_NAME_CHARS
    assert len(clean.encode("utf-8")) <= uidata.MAX_NAME_BYTES
    assert uidata.safe_name(clean) == clean  # cleaning twice changes nothing


@pytest.mark.parametrize("name, stored", [
    ("vectors.npy", "vectors.npy"),
    ("../../etc/passwd.npy", "passwd.npy"),
    ("C:\\Users\\me\\data.PARQUET", "data.parquet"),
    ("bad\x00name.csv", "badname.csv"),
    ("...npz", "npz"),
    ("x" * 300 + ".feather", "x" * 92 + ".feather"),
    ("é" * 150 + ".npy", "é" * 96 + ".npy"),
    ("数据" * 100 + ".npy", "数据" * 32 + "数.npy"),  # 196 bytes of name + 4 of suffix
])
def test_upload_names_keep_their_suffix_and_lose_what_is_unsafe(name, stored):
    assert uidata.safe_name(name) == stored


def test_uploads_are_private_and_swept_when_their_session_is_gone_or_old():
    base = uidata.upload_base()
    assert stat.S_IMODE(os.stat(base).st_mode) == 0o700
    now = time.time()
    folders = {}
    for sid, age in [("live-old", 3600), ("gone-new", 10), ("gone-old", 3600),
                     ("live-stale", uidata.UPLOAD_MAX_AGE + 60)]:
        folder = base / f"test-sweep-{sid}"
        folder.mkdir(mode=0o700, exist_ok=True)
        (folder / "x.npy").write_bytes(b"data")
        os.utime(folder, (now - age, now - age))
        folders[sid] = folder
    try:
        removed = uidata.sweep_uploads(now, live=lambda s: "live" in s or
                                       not s.startswith("test-sweep-"))
        assert set(removed) == {folders["gone-old"], folders["live-stale"]}
        assert folders["live-old"].exists() and folders["gone-new"].exists()
        assert not folders["gone-old"].exists()
    finally:
        for folder in folders.values():
            uidata._remove_folder(folder)


def test_a_planted_upload_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / f"subset-explorer-uploads-{os.getuid()}").symlink_to(elsewhere)
    with pytest.raises(explorer.ExplorerError, match="not this app's own"):
        uidata.upload_base()


def test_typed_paths_stay_below_the_allowed_folders(tmp_path, allowed_roots, escaping):
    good = tmp_path / "v.npy"
    good.write_bytes(b"x")
    assert uidata.checked_path(str(good), "Path on disk") == good.resolve()
    cases = {
        str(escaping.secret): "outside the folders",
        str(escaping.link): "outside the folders",  # a link is followed before the check
        str(tmp_path / ".." / ".." / ".." / "etc" / "hostname"): "outside the folders",
        "/dev/zero": "outside the folders",
        str(escaping.fifo): "named pipe",
        str(tmp_path): "is a folder",
        str(tmp_path / "missing.npy"): "no such file",
        str(good) + "\x00.csv": "control character",
        "~no-such-user-here/v.npy": "cannot be resolved",
    }
    for text, words in cases.items():
        with pytest.raises(explorer.ExplorerError, match=words):
            uidata.checked_path(text, "Path on disk")
    folder = escaping.outside / "ws"
    with pytest.raises(explorer.ExplorerError, match="outside the folders"):
        uidata.checked_folder(str(folder), "Workspace folder")
    assert not folder.exists()


def _explorer(*args, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "explorer", *args], cwd=ROOT, env=env, **kw)


def test_info_into_a_closed_pipe_ends_quietly_with_141():
    # the reader is gone before anything is written: every write meets a broken pipe
    proc = _explorer("info", "sample_data/digits.parquet", "--id-column", "id",
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141
    assert err.decode() == ""


def test_info_piped_into_head_prints_one_line_and_no_error():
    proc = _explorer("info", "sample_data/digits.parquet", "--id-column", "id",
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-n", "1"], stdin=proc.stdout, stdout=subprocess.PIPE)
    proc.stdout.close()  # head is the only reader, as in a shell pipeline
    out, _ = head.communicate(timeout=120)
    err = proc.communicate(timeout=120)[1].decode()
    assert out.decode().startswith("file ") and out.count(b"\n") == 1
    assert err == "" and proc.returncode in (0, 141)  # 0 when it all fit in the pipe first


def test_heavy_runs_take_turns_first_come_and_waiters_are_told_their_place():
    import threading

    from explorer.ui.heavy import TurnQueue

    q = TurnQueue()
    order, told, inside = [], {}, []
    first_in = threading.Event()
    release = threading.Event()

    def run(name):
        def on_wait(ahead):
            told.setdefault(name, []).append(ahead)
        with q.turn(on_wait, poll=0.01):
            inside.append(name)
            assert len(inside) == 1  # never two heavy runs at once
            order.append(name)
            if name == "a":
                first_in.set()
                release.wait(10)
            time.sleep(0.01)
            inside.remove(name)

    threads = [threading.Thread(target=run, args=("a",))]
    threads[0].start()
    assert first_in.wait(10)
    for name in ("b", "c"):
        threads.append(threading.Thread(target=run, args=(name,)))
        threads[-1].start()
        while q.waiting() < len(threads):
            time.sleep(0.005)
    release.set()
    for t in threads:
        t.join(10)
    assert order == ["a", "b", "c"]
    assert told["b"][0] == 1 and told["c"][0] == 2  # runs ahead, as the page says
    assert q.waiting() == 0


def test_a_waiter_that_gives_up_leaves_the_queue():
    import threading

    from explorer.ui.heavy import TurnQueue

    q = TurnQueue()
    holding = threading.Event()
    done = threading.Event()

    def hold():
        with q.turn(lambda ahead: None):
            holding.set()
            done.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    assert holding.wait(10)

    def leave(ahead):  # a page's rerun interrupts the wait
        raise RuntimeError("rerun")

    with pytest.raises(RuntimeError):
        with q.turn(leave):
            pass
    assert q.waiting() == 1
    done.set()
    t.join(10)
    with q.turn(lambda ahead: None):  # the next one goes straight in
        assert q.waiting() == 1


def test_a_pressed_heavy_run_queues_behind_another_visitors_heavy_run(monkeypatch):
    import threading

    from streamlit.testing.v1 import AppTest

    from explorer import cost
    from explorer.ui.heavy import HEAVY_RUNS

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.session_state["layout_method"] = "PCA"
    at.run()
    monkeypatch.setattr(cost, "SLOW_SECONDS", 1e-6)  # every run counts as heavy
    at.selectbox(key="w:strategy").set_value("random").run()
    assert "Press **Run** to start it anyway" in " ".join(w.value for w in at.warning)
    holding, seen = threading.Event(), []

    def other_visitor():  # holds the turn until this session's run has joined the queue
        with HEAVY_RUNS.turn(lambda ahead: None):
            holding.set()
            deadline = time.time() + 60
            while HEAVY_RUNS.waiting() < 2 and time.time() < deadline:
                time.sleep(0.05)
            seen.append(HEAVY_RUNS.waiting())
            time.sleep(0.5)

    t = threading.Thread(target=other_visitor)
    t.start()
    assert holding.wait(10)
    [b for b in at.button if b.label == "Run"][0].click().run()
    t.join(60)
    assert seen == [2]  # the pressed run waited in the queue, behind the other one
    assert not at.exception
    assert "random: selected **50**" in " ".join(s.value for s in at.success)
    assert HEAVY_RUNS.waiting() == 0
