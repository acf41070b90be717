"""Shared test set-up: caches and the workspace go to a temporary folder, never ~."""

from __future__ import annotations

import os
import tempfile

import pytest

_TMP = tempfile.mkdtemp(prefix="subset-explorer-tests-")
os.environ.setdefault("SUBSET_EXPLORER_CACHE", os.path.join(_TMP, "cache"))
os.environ.setdefault("SUBSET_EXPLORER_HOME", os.path.join(_TMP, "home"))


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
