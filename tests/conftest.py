"""Shared test set-up: caches and the workspace go to a temporary folder, never ~."""

from __future__ import annotations

import os
import tempfile

import pytest

_TMP = tempfile.mkdtemp(prefix="subset-explorer-tests-")
os.environ.setdefault("SUBSET_EXPLORER_CACHE", os.path.join(_TMP, "cache"))
os.environ.setdefault("SUBSET_EXPLORER_HOME", os.path.join(_TMP, "home"))


@pytest.fixture(scope="session", autouse=True)
def no_background_warm_up():
    """AppTests run app.py in this process: its numba warm-up thread would compete with the
    tests for the two cores (tests/test_warmup.py tests it; a served app still warms up)."""
    from explorer import warmup

    warmup._started.set()


@pytest.fixture(scope="session", autouse=True)
def allowed_roots(tmp_path_factory):
    """The app may open files below the tests' temporary folders and the repository (the
    bundled samples), as a server started with SUBSET_EXPLORER_DATA_ROOTS would; anything
    else (``/etc``, another temporary folder) stays outside."""
    roots = [str(tmp_path_factory.getbasetemp()), _TMP, os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))]
    os.environ["SUBSET_EXPLORER_DATA_ROOTS"] = os.pathsep.join(roots)
    return roots


@pytest.fixture(scope="session")
def digits():
    """The bundled digits sample (a frozen Dataset, shared by every test)."""
    import explorer

    return explorer.load_sample("digits")


@pytest.fixture(scope="session")
def pydocs():
    """The bundled pydocs sample (MiniLM embeddings of Python documentation paragraphs)."""
    import explorer

    return explorer.load_sample("pydocs")


@pytest.fixture
def escaping(tmp_path):
    """Ways out of the allowed folders, made below ``tmp_path``: ``outside``, a folder of
    its own outside them (removed afterwards) holding ``secret`` (tokens.csv); ``link``, a
    link to the secret; ``fifo``, a named pipe."""
    import shutil
    from pathlib import Path
    from types import SimpleNamespace

    outside = Path(tempfile.mkdtemp(prefix="serving-outside-"))
    try:
        secret = outside / "tokens.csv"
        secret.write_text("token\nabc\n")
        link = tmp_path / "innocent.csv"
        link.symlink_to(secret)
        fifo = tmp_path / "pipe.npy"
        os.mkfifo(fifo)
        yield SimpleNamespace(outside=outside, secret=secret, link=link, fifo=fifo)
    finally:
        shutil.rmtree(outside, ignore_errors=True)
