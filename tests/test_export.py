"""Export formats, atomic writes that never overwrite silently, manifests and replay."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import explorer
from explorer.errors import ExplorerError


def test_export_formats_and_columns(tmp_path, digits):
    sel = explorer.select(digits, "k-center", 20, seed=1)
    explorer.export(digits, sel, tmp_path / "s.csv")
    explorer.export(digits, sel, tmp_path / "s.parquet")
    explorer.export(digits, sel, tmp_path / "s.npy")
    csv = pd.read_csv(tmp_path / "s.csv")
    par = pd.read_parquet(tmp_path / "s.parquet")
    assert list(csv.columns) == ["rank", "index", "id", "gain", "label", "difficulty", "group",
                                 "image", "x", "y"]  # x / y: the sample's shipped map
    assert csv["rank"].tolist() == list(range(20))
    assert csv["index"].tolist() == sel.indices.tolist() == np.load(tmp_path / "s.npy").tolist()
    assert csv["id"].tolist() == par["id"].tolist() == digits.ids[sel.indices].tolist()
    with pytest.raises(ExplorerError, match="unsupported output type '.xlsx'"):
        explorer.export(digits, sel, tmp_path / "s.xlsx")


def test_refused_overwrite_leaves_the_old_file_intact(tmp_path, digits):
    sel = explorer.select(digits, "random", 5)
    target = tmp_path / "keep.csv"
    target.write_text("mine\n")
    with pytest.raises(ExplorerError, match="already exists; not overwritten"):
        explorer.export(digits, sel, target)
    assert target.read_text() == "mine\n"
    manifest = tmp_path / "m.json"
    manifest.write_text("{}")
    with pytest.raises(ExplorerError, match=r"m.json \(manifest\): already exists"):
        explorer.export(digits, sel, tmp_path / "new.csv", manifest=manifest)
    assert not (tmp_path / "new.csv").exists()  # nothing half-written
    explorer.export(digits, sel, target, force=True)
    assert target.read_text().startswith("rank,index,id")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("strategy,kw", [
    ("k-center", {}), ("k-means", {"params": {"n_clusters": 7}}),
    ("stratified", {"label_column": "label"}), ("dedup", {"params": {"threshold": 1.0}}),
    ("facility-location", {"metric": "cosine"}),
])
def test_manifest_replay_round_trip(tmp_path, digits, strategy, kw):
    sel = explorer.select(digits, strategy, 30, seed=4, pinned=[2], excluded=[3, 4], **kw)
    card = explorer.score(digits, sel, random_draws=5)
    path = explorer.write_manifest(tmp_path / "m.json", digits, sel, card)
    doc = json.loads(path.read_text())
    assert doc["dataset"]["fingerprint"] == digits.fingerprint
    assert doc["scorecard"]["budget"] == len(sel)
    assert doc["pinned"]["ids"] == ["digit-0002"]
    assert {"numpy", "scikit-learn", "python"} <= set(doc["versions"])
    data2, sel2 = explorer.replay(path)
    assert data2.ids[sel2.indices].tolist() == digits.ids[sel.indices].tolist()


def test_replay_refuses_changed_data(tmp_path, digits):
    X = np.asarray(digits.embeddings[:300]).copy()
    np.save(tmp_path / "x.npy", X)
    data = explorer.load(tmp_path / "x.npy")
    sel = explorer.select(data, "k-center", 10)
    explorer.write_manifest(tmp_path / "m.json", data, sel)
    X[0, 0] += 1.0
    np.save(tmp_path / "x.npy", X)
    with pytest.raises(ExplorerError, match="The data changed since the manifest was written"):
        explorer.replay(tmp_path / "m.json")


def test_bad_manifests(tmp_path):
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(ExplorerError, match="not valid JSON"):
        explorer.read_manifest(tmp_path / "a.json")
    (tmp_path / "b.json").write_text('{"hello": 1}')
    with pytest.raises(ExplorerError, match="not a Subset Explorer manifest"):
        explorer.read_manifest(tmp_path / "b.json")
    with pytest.raises(ExplorerError, match="c.json \\(manifest\\): no such file"):
        explorer.read_manifest(tmp_path / "c.json")
