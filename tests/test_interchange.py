"""Exports other tools load: a Hugging Face datasets folder (opened with datasets itself) and
Label Studio's task import JSON (checked against the documented format), of a selection, a
lasso or a filter, with the map's x / y and cluster ids on request."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pandas as pd
import pytest

import explorer
from explorer.cli import main
from explorer.data.interchange import (MANIFEST_NAME, as_rows, export_as, label_studio_tasks,
                                       write_hf)
from explorer.data.rows import query_rows
from explorer.data.samples import SAMPLES
from explorer.errors import ExplorerError

#: Label Studio's basic JSON import format, as its documentation describes it ("Get data into
#: Label Studio", Basic Label Studio JSON format): a list of tasks; each task's "data" object
#: holds the values the labelling config reads as $key (text as plain text, an image as a URL);
#: "id" is optional; "annotations" and "predictions" are optional lists.
LABEL_STUDIO_TASKS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["data"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "data": {"type": "object", "minProperties": 1,
                     "additionalProperties": {"type": ["string", "number", "boolean", "null",
                                                       "object", "array"]}},
            "annotations": {"type": "array"},
            "predictions": {"type": "array"},
            "meta": {"type": "object"},
        },
    },
}


def test_select_format_hf_opens_with_datasets(digits, tmp_path, capsys):
    import datasets

    out = tmp_path / "subset"
    code = main(["select", str(SAMPLES["digits"]), "--id-column", "id", "--strategy",
                 "k-center", "--budget", "50", "--out", str(out), "--format", "hf",
                 "--with-clusters", "10"])
    assert code == 0, capsys.readouterr().err
    hf = datasets.load_from_disk(str(out))
    sel = explorer.select(digits, "k-center", 50, seed=0)
    assert hf.num_rows == 50 and hf["id"] == digits.ids[sel.indices].tolist()
    assert hf["rank"] == list(range(50)) and hf["index"] == sel.indices.tolist()
    assert {"label", "group", "difficulty", "image", "gain", "cluster"} <= set(hf.column_names)
    assert hf.features["embedding"].length == 64
    vectors = np.asarray(hf.with_format("numpy")["embedding"])
    assert vectors.dtype == np.float32 and np.array_equal(vectors, digits.embeddings[sel.indices])
    assert hf["label"] == digits.metadata["label"].iloc[sel.indices].tolist()
    # the manifest inside the folder replays the selection
    data, again = explorer.replay(out / MANIFEST_NAME)
    assert again.indices.tolist() == sel.indices.tolist()

    # an existing export is replaced only with --force, and only when it is an export
    code = main(["select", str(SAMPLES["digits"]), "--strategy", "random", "--budget", "5",
                 "--out", str(out), "--format", "hf"])
    assert code == 2 and "already exists" in capsys.readouterr().err
    code = main(["select", str(SAMPLES["digits"]), "--strategy", "random", "--budget", "5",
                 "--out", str(out), "--format", "hf", "--force"])
    assert code == 0 and datasets.load_from_disk(str(out)).num_rows == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["subset"]  # no temp folders left
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    code = main(["select", str(SAMPLES["digits"]), "--strategy", "random", "--budget", "5",
                 "--out", str(other), "--format", "hf", "--force"])
    assert code == 2 and "not an earlier export" in capsys.readouterr().err
    assert (other / "keep.txt").read_text() == "mine"


def test_a_failed_hf_export_leaves_nothing(digits, tmp_path, monkeypatch):
    import datasets

    def fail(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(datasets.Dataset, "save_to_disk", fail)  # a real failure cannot be staged
    with pytest.raises(OSError):
        write_hf(digits, as_rows([1, 2, 3], digits), tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_label_studio_tasks_follow_the_documented_import_format(pydocs, digits, tmp_path,
                                                                 capsys):
    out = tmp_path / "tasks.json"
    code = main(["select", str(SAMPLES["pydocs"]), "--id-column", "id", "--strategy",
                 "k-center", "--budget", "20", "--out", str(out), "--format", "label-studio",
                 "--label-column", "label"])
    assert code == 0, capsys.readouterr().err
    tasks = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(tasks, LABEL_STUDIO_TASKS)
    sel = explorer.select(pydocs, "k-center", 20, seed=0)
    assert [t["data"]["row_id"] for t in tasks] == pydocs.ids[sel.indices].tolist()
    assert [t["data"]["row_index"] for t in tasks] == sel.indices.tolist()
    first = tasks[0]["data"]
    assert first["text"] == pydocs.metadata["text"].iloc[sel.indices[0]]
    assert first["label"] == pydocs.metadata["label"].iloc[sel.indices[0]] and first["rank"] == 0

    # images: the digits thumbnails are data: URIs, which an <Image value="$image"> shows
    images = label_studio_tasks(digits, as_rows(query_rows(digits, "label == '7'"), digits))
    jsonschema.validate(images, LABEL_STUDIO_TASKS)
    assert len(images) == 179
    assert all(t["data"]["image"].startswith("data:image/png;base64,") for t in images)
    assert "text" not in images[0]["data"]

    with pytest.raises(ExplorerError, match="no 'text' or 'image' column; it has no metadata"):
        label_studio_tasks(explorer.load(SAMPLES["digits"]).__class__.from_arrays(
            digits.embeddings[:3]), as_rows([0], digits))


def test_the_lasso_or_a_filter_exports_with_map_xy_and_clusters(digits, tmp_path):
    import datasets

    rng = np.random.default_rng(0)
    layout = rng.normal(size=(digits.n, 2)).astype(np.float32)
    clusters = rng.integers(0, 20, size=digits.n)
    lasso = as_rows(np.flatnonzero(layout[:, 0] > 1.0), digits, "lasso")
    folder = export_as(digits, lasso, tmp_path / "lasso", "hf", layout=layout,
                       clusters=clusters)
    hf = datasets.load_from_disk(str(folder))
    assert hf["index"] == lasso.indices.tolist()
    assert np.allclose(hf["x"], layout[lasso.indices, 0]) and np.allclose(
        hf["y"], layout[lasso.indices, 1])
    assert hf["cluster"] == clusters[lasso.indices].tolist()
    assert not (folder / MANIFEST_NAME).exists()  # a lasso has no strategy to replay

    sevens = as_rows(query_rows(digits, "label == '7' and difficulty > 0.1"), digits, "filter")
    out = tmp_path / "sevens.csv"
    explorer.export(digits, sevens, out, columns={"cluster": clusters[sevens.indices]})
    frame = pd.read_csv(out)
    assert (frame["label"] == 7).all() and (frame["difficulty"] > 0.1).all()
    assert frame["cluster"].tolist() == clusters[sevens.indices].tolist()
    with pytest.raises(ExplorerError, match="holds no rows"):
        as_rows(np.zeros(digits.n, bool), digits, "lasso")
    with pytest.raises(ExplorerError, match="outside 0..1796"):
        as_rows([5, 1797], digits)


def test_select_with_map_adds_the_cached_layout(digits, tmp_path, capsys):
    from explorer.projection import layout

    small = tmp_path / "small.npy"
    np.save(small, digits.embeddings[:300])  # 300 rows: UMAP stays quick
    out = tmp_path / "s.parquet"
    code = main(["select", str(small), "--strategy", "k-center", "--budget", "30", "--out",
                 str(out), "--with-map", "-q"])
    assert code == 0 and capsys.readouterr().err == ""
    frame = pd.read_parquet(out)
    xy = layout(explorer.load(small), "umap")
    assert np.allclose(frame[["x", "y"]].to_numpy(), xy[frame["index"].to_numpy()])


def test_a_selection_on_shards_exports_for_other_tools_like_one_file(pydocs, tmp_path, capsys):
    """--format hf / label-studio of a run on a sharded dataset read only the selected rows,
    shard by shard, and hold what the same rows of the dataset in one file give: global row
    indices, ids, vectors, metadata and a manifest that replays."""
    import datasets

    from explorer.data.shards import write_shards

    folder = tmp_path / "shards"
    folder.mkdir()
    write_shards(pydocs, folder, [0, 300, 300, 700, pydocs.n])  # one shard empty
    shards = explorer.load(str(folder), id_column="id")
    out = tmp_path / "subset"
    code = main(["select", str(folder), "--id-column", "id", "--strategy", "k-center",
                 "--budget", "40", "--engine", "local", "--out", str(out), "--format", "hf"])
    assert code == 0, capsys.readouterr().err
    sel = explorer.select(shards, "k-center", 40, seed=0, engine="local")
    hf = datasets.load_from_disk(str(out))
    assert hf["index"] == sel.indices.tolist() and hf["rank"] == list(range(40))
    assert hf["id"] == pydocs.ids[sel.indices].tolist()
    assert hf["text"] == pydocs.metadata["text"].iloc[sel.indices].tolist()
    vectors = np.asarray(hf.with_format("numpy")["embedding"])
    assert np.array_equal(vectors, pydocs.embeddings[sel.indices])
    _, again = explorer.replay(out / MANIFEST_NAME, engine="local")
    assert again.indices.tolist() == sel.indices.tolist()

    tasks_path = tmp_path / "tasks.json"
    code = main(["select", str(folder), "--id-column", "id", "--strategy", "random",
                 "--budget", "25", "--engine", "local", "--out", str(tasks_path), "--format",
                 "label-studio", "--label-column", "label"])
    assert code == 0, capsys.readouterr().err
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    jsonschema.validate(tasks, LABEL_STUDIO_TASKS)
    picked = explorer.select(shards, "random", 25, seed=0, engine="local").indices
    in_memory = label_studio_tasks(pydocs, as_rows(picked, pydocs), label_column="label")
    assert tasks == json.loads(json.dumps(in_memory))

    # a missing column is named before any row is read; the map's columns are refused
    with pytest.raises(ExplorerError, match="'nope'.*Their columns are"):
        label_studio_tasks(shards, sel, text_column="nope", engine="local")
    code = main(["select", str(folder), "--id-column", "id", "--strategy", "random",
                 "--budget", "5", "--engine", "local", "--out", str(tmp_path / "m"),
                 "--format", "hf", "--with-map"])
    assert code == 2 and "--with-map" in capsys.readouterr().err
