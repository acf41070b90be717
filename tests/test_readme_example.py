"""The README's worked example on the bundled digits is real output: each `$ explorer ...`
line of it is run here (and the one shell line with `head | cut`), and what it prints must
be what the README shows, but for the seconds a run took and the folder it ran in."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from explorer.cli import main
from explorer.data.samples import SAMPLES

ROOT = Path(__file__).resolve().parents[1]
HEADING = "### Worked example on the bundled digits (real output)"


def readme_steps() -> list[tuple[str, list[str]]]:
    """The example's commands, each with the lines the README shows after it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split(HEADING, 1)[1].split("```text\n", 1)[1].split("\n```", 1)[0]
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
    return [(command, _trimmed(lines)) for command, lines in steps]


def _trimmed(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _normalised(lines: list[str], folder: Path) -> list[str]:
    """Seconds and the run's folder vary from run to run; nothing else may."""
    out = []
    for line in lines:
        line = re.sub(r" in \d+(\.\d+)? s\b", " in <t> s", line.rstrip())
        line = line.replace(str(folder), "<folder>")
        line = re.sub(r"^(file\s+)\S+/digits\.parquet$", r"\1<folder>/digits.parquet", line)
        out.append(line)
    return out


def test_the_worked_example_prints_what_the_readme_shows(tmp_path, monkeypatch, capsys):
    steps = readme_steps()
    assert [c.split()[0] for c, _ in steps] == \
        ["explorer", "explorer", "head", "explorer", "explorer", "explorer"]
    shutil.copy(SAMPLES["digits"], tmp_path / "digits.parquet")
    monkeypatch.chdir(tmp_path)
    for command, shown in steps:
        expected_status = 0
        if shown and shown[-1].startswith("exit status "):
            expected_status = int(shown[-1].split()[-1])
            shown = shown[:-1]
        if command.startswith("explorer "):
            status = main(command.split()[1:])
            out, err = capsys.readouterr()
            printed = (out + err).splitlines()
        else:  # the shell line: head | cut on the written CSV
            done = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                                  cwd=tmp_path)
            status, printed = done.returncode, done.stdout.splitlines()
        assert status == expected_status, f"$ {command}: exit status {status}"
        assert _normalised(printed, tmp_path) == _normalised(shown, tmp_path), (
            f"README.md's worked example is stale at `$ {command}`: paste what it prints now")

