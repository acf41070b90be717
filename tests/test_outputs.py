"""Outputs: targets checked before anything is written, non-regular targets refused, a subset
and its manifest committed together (also across SIGKILLs), stale temp files removed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import explorer
from explorer.cli import main
from explorer.data import atomic
from explorer.data.samples import SAMPLES
from explorer.errors import ExplorerError

DIGITS = str(SAMPLES["digits"])
ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def select_argv(out, *more):
    return ["select", DIGITS, "--strategy", "random", "--budget", "5", "--out", str(out), *more]


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_out_equal_to_manifest_is_refused_in_every_spelling(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link.json").symlink_to(tmp_path / "s.csv")
    (tmp_path / "sub").mkdir()
    for manifest in ["s.csv", "./s.csv", str(tmp_path / "s.csv"), "sub/../s.csv", "link.json"]:
        for force in ([], ["--force"]):
            code, _, err = run(capsys, *select_argv("s.csv", "--manifest", manifest, *force))
            assert code == 2 and "are the same file" in one_line_error(err), manifest
    assert not (tmp_path / "s.csv").exists()
    # once the file exists, a hard link to it is the same file as well
    assert run(capsys, *select_argv("s.csv"))[0] == 0
    os.link(tmp_path / "s.csv", tmp_path / "hard.json")
    code, _, err = run(capsys, *select_argv("s.csv", "--manifest", "hard.json", "--force"))
    assert code == 2 and "are the same file" in one_line_error(err)
    assert pd.read_csv(tmp_path / "s.csv").shape[0] == 5


def test_an_output_never_replaces_an_input(tmp_path, capsys):
    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32))
    before = data.read_bytes()
    code, _, err = run(capsys, "select", str(data), "--strategy", "random", "--budget", "3",
                       "--out", str(tmp_path / "s.npy"), "--manifest", str(data), "--force")
    assert code == 2 and "an output never replaces an input" in one_line_error(err)
    assert data.read_bytes() == before
    loaded = explorer.load(data)
    with pytest.raises(ExplorerError, match="never replaces an input"):
        explorer.export(loaded, explorer.select(loaded, "random", 3), data, force=True)
    assert data.read_bytes() == before


def test_every_target_folder_is_checked_before_anything_is_written(tmp_path, capsys, digits):
    out = tmp_path / "s.csv"
    code, _, err = run(capsys, *select_argv(out, "--manifest", str(tmp_path / "missing/m.json")))
    assert code == 2 and "the folder" in one_line_error(err) and "does not exist" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("x")
    code, _, err = run(capsys, *select_argv(out, "--manifest", str(tmp_path / "file/m.json")))
    assert code == 2 and "is not a folder" in one_line_error(err) and not out.exists()
    code, _, err = run(capsys, *select_argv(tmp_path / "nowhere/s.csv"))
    assert code == 2 and "does not exist" in one_line_error(err)
    # compare: the table and the plot are both checked before the data is even loaded
    code, _, err = run(capsys, "compare", DIGITS, "--strategies", "random", "--budgets", "10",
                       "--out", str(out), "--plot", str(tmp_path / "missing/p.html"))
    assert code == 2 and "p.html (--plot): the folder" in one_line_error(err)
    assert not out.exists()
    # the library checks the manifest before writing the subset, too
    sel = explorer.select(digits, "random", 5)
    with pytest.raises(ExplorerError, match="does not exist"):
        explorer.export(digits, sel, out, manifest=tmp_path / "no/m.json")
    assert not out.exists()


@pytest.mark.parametrize("kind", ["fifo", "device", "device-link", "folder", "socket"])
def test_non_regular_targets_are_refused_even_with_force(tmp_path, capsys, kind):
    import socket
    import stat

    target = tmp_path / "t.csv"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "device":  # a character device like /dev/null, made here
        os.mknod(target, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    elif kind == "device-link":
        target.symlink_to("/dev/null")
    elif kind == "folder":
        target.mkdir()
    else:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(target))
    before = os.lstat(target)
    what = {"fifo": "a named pipe (FIFO)", "device": "a device", "device-link": "a device",
            "folder": "a folder", "socket": "a socket"}[kind]
    for force in ([], ["--force"]):
        code, _, err = run(capsys, *select_argv(target, *force))
        assert code == 2 and f"is {what}, not a regular file" in one_line_error(err)
        code, _, err = run(capsys, *select_argv(tmp_path / "ok.csv", "--manifest", str(target),
                                                *force))
        assert code == 2 and f"is {what}" in one_line_error(err)
        assert not (tmp_path / "ok.csv").exists()
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    if kind == "socket":
        server.close()


def test_a_commit_is_all_or_nothing_when_writing_fails(tmp_path, digits):
    sel = explorer.select(digits, "random", 5, seed=1)
    explorer.export(digits, sel, tmp_path / "s.csv", manifest=tmp_path / "s.json")
    old = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic.write_together([(tmp_path / "s.json", "manifest", lambda t: t.write_text("{}")),
                               (tmp_path / "s.csv", "out", broken)], force=True)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old
    # a manifest that cannot be made (a Generator seed) leaves no subset behind
    unreplayable = explorer.select(digits, "random", 5, seed=np.random.default_rng(0))
    with pytest.raises(ExplorerError, match="cannot be replayed"):
        explorer.export(digits, unreplayable, tmp_path / "g.csv", manifest=tmp_path / "g.json")
    assert {p.name for p in tmp_path.iterdir()} == {"s.csv", "s.json"}


def test_stale_temp_files_are_removed_at_the_next_write(tmp_path, digits):
    host = atomic._host_tag()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    names = {
        f".s.csv.{dead}-{host}.1a2b.tmp": False,          # its writer has exited
        f".s.csv.{os.getpid()}-{host}.3c4d.tmp": True,    # a live writer (this process)
        f".s.csv.{dead}-0f0f0f.5e6f.tmp": True,           # another host, recent: kept
        ".s.csv.k2j3h4.tmp": True,                        # an old-style name, recent: kept
        ".s.csv.oldstyle.tmp": False,                     # an old-style name, 2 hours old
        f".s.csv.{dead}-0f0f0f.aged.tmp": False,          # another host, 2 hours old
        f".other.csv.{dead}-{host}.7a8b.tmp": True,       # beside another target
        "s.csv.tmp": True,                                # not one of ours
    }
    for name in names:
        (tmp_path / name).write_text("partial")
    two_hours_ago = time.time() - 7200
    for name in (".s.csv.oldstyle.tmp", f".s.csv.{dead}-0f0f0f.aged.tmp"):
        os.utime(tmp_path / name, (two_hours_ago, two_hours_ago))
    explorer.export(digits, explorer.select(digits, "random", 5), tmp_path / "s.csv")
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"s.csv"} | {n for n, kept in names.items() if kept}


# A helper process imports everything once, then forks one writer per round (a fresh
# interpreter per round would spend seconds on imports): "loop FOLDER SEED" exports with new
# seeds until it is killed; "die FOLDER SEED" exports once and kills itself right after the
# first rename of the commit; "reap PID" waits for a writer and says how it ended.
WRITERS = textwrap.dedent("""
    import os, sys, time
    import explorer
    from explorer.data import atomic
    data = explorer.load_sample("digits")

    def export(folder, seed):
        sel = explorer.select(data, "random", 300 + seed % 7, seed=seed)
        explorer.export(data, sel, folder + "/s.csv", manifest=folder + "/s.json", force=True)

    def die_after_first_rename():
        place = atomic._place
        def place_then_die(tmp, target, force):
            place(tmp, target, force)
            os.kill(os.getpid(), 9)
        atomic._place = place_then_die

    export(sys.argv[1], 0)  # every import done before forking
    print("ready", flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        if command == "reap":
            _, status = os.waitpid(int(args[0]), 0)
            print("killed" if os.WIFSIGNALED(status) else "exited", flush=True)
            continue
        folder, seed = args[0], int(args[1])
        pid = os.fork()
        if pid == 0:  # a writer: bounded in time even if nobody kills it
            if command == "die":
                die_after_first_rename()
            stop = time.monotonic() + 60
            while time.monotonic() < stop:
                export(folder, seed)
                seed += 1
            os._exit(0)
        print(pid, flush=True)
""")


@pytest.fixture(scope="module")
def writers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("writers")
    (folder / "writers.py").write_text(WRITERS)
    helper = subprocess.Popen([sys.executable, str(folder / "writers.py"), str(folder)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert helper.stdout.readline().strip() == "ready"

    def ask(*words) -> str:
        helper.stdin.write(" ".join(map(str, words)) + "\n")
        helper.stdin.flush()
        return helper.stdout.readline().strip()

    yield ask
    helper.stdin.close()
    helper.wait(timeout=30)


def check_pair(folder: Path) -> str:
    """The visible state: 'pair' (a complete subset and its own manifest), 'manifest' (a
    manifest alone) or 'none'. Fails on a partial file or a subset without its manifest."""
    csv, manifest = folder / "s.csv", folder / "s.json"
    if not csv.exists():
        if manifest.exists():
            json.loads(manifest.read_text())
            return "manifest"
        return "none"
    assert manifest.exists(), "a subset without its manifest"
    doc = json.loads(manifest.read_text())
    frame = pd.read_csv(csv)
    assert frame["id"].astype(str).tolist() == [str(v) for v in doc["selection"]["ids"]], \
        "a subset beside another run's manifest"
    assert len(frame) == doc["budget"]
    return "pair"


def _written_by(folder: Path, first_seed: int) -> bool:
    """Whether a commit of the writer whose seeds start at ``first_seed`` is in place."""
    try:
        seed = json.loads((folder / "s.json").read_text())["seed"]
    except (OSError, ValueError):
        return False
    return seed >= first_seed and (folder / "s.csv").exists()


def test_sigkill_during_export_never_leaves_a_partial_or_unpaired_subset(tmp_path, digits,
                                                                          writers):
    rng = random.Random(12)
    states, leftovers = [], 0
    for round_ in range(20):
        pid = int(writers("loop", tmp_path, round_ * 1000))
        if round_ % 4 == 0:  # let this writer finish one commit first, however loaded the
            deadline = time.monotonic() + 60  # machine: some kills then land in a later one
            while time.monotonic() < deadline and not _written_by(tmp_path, round_ * 1000):
                time.sleep(0.02)
        time.sleep(rng.uniform(0.02, 0.3))
        os.kill(pid, signal.SIGKILL)
        assert writers("reap", pid) == "killed"
        states.append(check_pair(tmp_path))
        leftovers += sum(n.startswith(".") for n in os.listdir(tmp_path))
    assert set(states) <= {"none", "pair", "manifest"} and "pair" in states
    explorer.export(digits, explorer.select(digits, "random", 9, seed=3), tmp_path / "s.csv",
                    manifest=tmp_path / "s.json", force=True)
    assert sorted(os.listdir(tmp_path)) == ["s.csv", "s.json"]  # dead writers' files removed
    assert check_pair(tmp_path) == "pair"
    print(f"20 kills: states {states}; {leftovers} leftover temp files or journals seen")


def test_a_kill_between_the_two_renames_is_finished_by_the_next_write(tmp_path, digits,
                                                                       writers):
    explorer.export(digits, explorer.select(digits, "random", 4, seed=0), tmp_path / "s.csv",
                    manifest=tmp_path / "s.json")
    pid = int(writers("die", tmp_path, 7))
    assert writers("reap", pid) == "killed"
    # the manifest is in place, the old subset is gone (never beside the new manifest), and
    # the journal and the new subset's temp file wait for the next write
    assert check_pair(tmp_path) == "manifest"
    assert json.loads((tmp_path / "s.json").read_text())["seed"] == 7
    assert any(n.endswith(atomic.JOURNAL_SUFFIX) for n in os.listdir(tmp_path))
    with atomic.atomic_path(tmp_path / "other.txt") as tmp:  # any write beside it
        tmp.write_text("x")
    assert sorted(os.listdir(tmp_path)) == ["other.txt", "s.csv", "s.json"]
    assert check_pair(tmp_path) == "pair"
    assert pd.read_csv(tmp_path / "s.csv").shape[0] == 300 + 7 % 7
