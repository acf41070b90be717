"""The first page of a fresh install: the bundled sample's map needs no UMAP, and when the
map does wait for UMAP, the selection and its scorecard are drawn before UMAP starts."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from app_pages import opened, texts

from explorer import projection, warmup



class UmapStarted(Exception):
    """Raised in place of UMAP: the page stops where UMAP would start."""


@pytest.fixture
def no_background_warmup(monkeypatch):
    """The app's background warm-up (a small UMAP of its own) counts as started."""
    done = threading.Event()
    done.set()
    monkeypatch.setattr(warmup, "_started", done)


@pytest.fixture
def umap_stops_the_page(monkeypatch, tmp_path, no_background_warmup):
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
    at = opened()
    assert "The data's own layout (columns x, y)." in texts(at.caption)
    assert "**Scorecard of k-center** — 50 rows against 30 random subsets" in texts(at.markdown)
    assert not at.get("progress")
    assert umap_stops_the_page == []


def test_the_scorecard_is_drawn_before_the_maps_umap_starts(umap_stops_the_page, digits,
                                                            tmp_path):
    path = tmp_path / "no_layout.npy"  # no layout columns: the map needs UMAP
    np.save(path, digits.embeddings[:400])
    at = opened()
    at.session_state["source"] = "Path on disk"
    at.session_state["disk_path"] = str(path)
    at.run()
    # the run stopped where UMAP started, with the PCA map, the selection and its scorecard
    # already drawn and UMAP's progress bar waiting above the map
    assert umap_stops_the_page == [400] and len(at.exception) == 1  # (its text is redacted)
    assert "k-center: selected **50** of 400" in texts(at.success)
    assert "**Scorecard of k-center** — 50 rows against 30 random subsets" in texts(at.markdown)
    bars = " ".join(bar.proto.text for bar in at.get("progress"))
    assert "PCA layout shown while UMAP computes" in bars


def test_a_tsne_map_follows_the_scorecard_and_is_cached(digits, tmp_path, monkeypatch,
                                                        no_background_warmup):
    """Choosing t-SNE (the ``[layouts]`` extra) shows PCA at once, computes t-SNE after the
    scorecard, then draws it from the disk cache."""
    layouts = tmp_path / "layouts"
    monkeypatch.setenv("SUBSET_EXPLORER_CACHE", str(layouts))
    path = tmp_path / "no_layout.npy"
    np.save(path, digits.embeddings[:400])
    at = opened()
    at.session_state["source"] = "Path on disk"
    at.session_state["disk_path"] = str(path)
    at.run()
    [box for box in at.selectbox if box.label == "Layout"][0].set_value("t-SNE").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "**Scorecard of k-center** — 50 rows against 30 random subsets" in texts(at.markdown)
    layout = [box for box in at.selectbox if box.label == "Layout"][0]
    assert layout.options == ["UMAP", "PaCMAP", "t-SNE", "PCA"] and layout.value == "t-SNE"
    from explorer import Dataset

    data = Dataset.from_arrays(np.load(path))
    key = projection.cache_key(data.fingerprint, "tsne", projection._params(data, "tsne", {}))
    assert (layouts / f"{key}.npz").exists()  # computed once, then read by the redrawn map
    assert not at.get("progress")
