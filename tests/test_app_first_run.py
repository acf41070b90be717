"""The first page of a fresh install: the bundled sample's map needs no UMAP."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer import projection

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def texts(elements):
    return " ".join(str(e.value) for e in elements)


class UmapStarted(Exception):
    """Raised in place of UMAP: the page stops where UMAP would start."""


@pytest.fixture
def umap_stops_the_page(monkeypatch, tmp_path):
    """UMAP replaced by an exception (the page's order is under test, not UMAP); returns the
    list of the rows counts UMAP was started on."""
    started = []

    def start(X, *args, **kwargs):
        started.append(len(X))
        raise UmapStarted("UMAP started")

    monkeypatch.setattr(projection, "_umap", start)
    monkeypatch.setenv("SUBSET_EXPLORER_CACHE", str(tmp_path / "layouts"))  # nothing cached
    return started


def test_the_sample_opens_on_its_shipped_map_without_umap(umap_stops_the_page):
    at = AppTest.from_file(APP, default_timeout=240)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "The data's own layout (columns x, y)." in texts(at.caption)
    assert "**Scorecard of k-center** — 50 rows against 30 random subsets" in texts(at.markdown)
    assert not at.get("progress")
    assert umap_stops_the_page == []

