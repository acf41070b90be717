"""The hover thumbnails the library writes (explorer/data/thumbnails.py): bounded in size,
cached by content, only files below the allowed folders, one line for a file that is not an
image."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

import explorer
from explorer.data import thumbnails


def _png(path: Path, size=(300, 120), colour="navy") -> Path:
    Image.new("RGB", size, colour).save(path, "PNG")
    return path


def _dataset(paths, source=None) -> explorer.Dataset:
    X = np.random.default_rng(0).normal(size=(len(paths), 4)).astype(np.float32)
    return explorer.Dataset.from_arrays(X, metadata=pd.DataFrame({"path": paths}),
                                        source=str(source or ""))


def test_thumbnails_are_small_cached_by_content_and_linked_by_row(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    a = _png(images / "a.png", (640, 480))
    same = images / "copy-of-a.png"
    same.write_bytes(a.read_bytes())
    tall = _png(images / "tall.jpg.png", (50, 400), "orange")
    data = _dataset([str(a), str(same), str(tall)])
    root = tmp_path / "static"
    made = thumbnails.hover_thumbnails(data, [0, 1, 2], root)
    assert made.problems == {} and made.made == 2 and made.reused == 1  # a and its copy: one
    sizes = [Image.open(made.file_of(root, r)).size for r in range(3)]
    assert sizes == [(96, 72), (96, 72), (12, 96)]  # longest side 96, aspect kept
    assert os.path.samefile(made.file_of(root, 0), made.file_of(root, 1))  # one cached file
    assert all(made.file_of(root, r).stat().st_size < 4_000 for r in range(3))
    content = sorted(p.name for p in (root / "thumbs" / "content").iterdir()
                     if not p.name.startswith(thumbnails.PLACEHOLDER))
    assert len(content) == 2
    # drawn again: nothing is decoded; a changed file gets a new thumbnail (new content key)
    again = thumbnails.hover_thumbnails(data, [0, 1, 2], root)
    assert again.made == 0 and again.reused == 3 and again.folder == made.folder
    _png(tall, (50, 400), "green")
    os.utime(tall, ns=(1, 1))  # a new modification time, as an edit would give
    changed = thumbnails.hover_thumbnails(data, [2], root)
    assert changed.made == 1
    pixel = Image.open(changed.file_of(root, 2)).convert("RGB").getpixel((6, 48))
    assert pixel[1] > 100 and pixel[0] < 60  # green now, not orange
    # only the rows asked for get a file: the map's drawn points
    assert sorted(p.name for p in (root / made.folder).iterdir()) == ["0.webp", "1.webp",
                                                                       "2.webp"]


def test_refused_paths_and_bad_files_get_a_placeholder_and_one_line(tmp_path):
    good = _png(tmp_path / "good.png")
    text = tmp_path / "notes.png"
    text.write_text("not an image at all")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(_png(tmp_path / "whole.png", (200, 200)).read_bytes()[:120])
    outside = Path(tempfile.mkdtemp(prefix="thumbs-outside-")) / "secret.png"
    _png(outside)
    link = tmp_path / "innocent.png"
    link.symlink_to(outside)  # below the allowed folder, leading outside it
    folder = tmp_path / "folder.png"
    folder.mkdir()
    paths = [str(good), str(text), str(truncated), str(outside), str(link), str(folder),
             str(tmp_path / "missing.png"), "/etc/passwd.png", None, "good.png"]
    data = _dataset(paths, source=tmp_path / "meta.parquet")
    root = tmp_path / "static"
    made = thumbnails.hover_thumbnails(data, range(len(paths)), root)
    want = {1: "notes.png (row 1, column path): not an image file Pillow can read.",
            2: "cut.png (row 2, column path): the image cannot be decoded",
            3: "secret.png (row 3, column path): is outside the folders this app may use",
            4: "innocent.png (row 4, column path): is outside the folders this app may use",
            5: "folder.png (row 5, column path): is a folder",
            6: "missing.png (row 6, column path): no such file",
            7: "/etc/passwd.png (row 7, column path): is outside the folders",
            8: "row 8 has no image in column path."}
    assert sorted(made.problems) == sorted(want)
    for row, words in want.items():
        line = made.problems[row]
        assert words in line and "\n" not in line and "Traceback" not in line, (row, line)
        # the grey placeholder stands in: never the refused file's bytes
        assert os.path.samefile(made.file_of(root, row), root / "thumbs" / "content" /
                                f"{thumbnails.PLACEHOLDER}-96.webp")
    # a relative path starts at the metadata file's folder
    assert 9 not in made.problems and Image.open(made.file_of(root, 9)).size == (96, 38)
    served = b"".join(p.read_bytes() for p in (root / "thumbs").rglob("*") if p.is_file())
    assert b"not an image at all" not in served and outside.read_bytes() not in served


def test_data_uris_and_a_decompression_bomb():
    buf = io.BytesIO()
    Image.new("L", (32, 32), 200).save(buf, "PNG")
    import base64

    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    X = np.eye(3, dtype=np.float32)
    data = explorer.Dataset.from_arrays(X, metadata=pd.DataFrame(
        {"image": [uri, "data:image/png;base64,@@not-base64@@", "data:image/png,raw"]}))
    with tempfile.TemporaryDirectory() as root:
        made = thumbnails.hover_thumbnails(data, [0, 1, 2], root)
        assert Image.open(made.file_of(root, 0)).size == (32, 32)  # small images keep size
        assert made.problems == {1: "row 1, column image: the data URI is not valid base64.",
                                 2: "row 2, column image: the data URI is not base64-encoded."}
    bomb = io.BytesIO()
    Image.new("1", (9000, 9000)).save(bomb, "PNG")  # 81 M pixels, a few kB
    try:
        thumbnails.thumbnail_bytes(bomb.getvalue())
    except ValueError as exc:
        assert "9000 x 9000 pixels is too large to decode" in str(exc)
    else:
        raise AssertionError("an 81 M-pixel image was decoded")


def test_the_cache_stays_within_its_bounds(tmp_path):
    images = [_png(tmp_path / f"{i}.png", (40, 40), (i * 20, 0, 0)) for i in range(8)]
    data = _dataset([str(p) for p in images])
    root = tmp_path / "static"
    cached = root / "thumbs" / "content"
    name_of = {}
    for i in range(8):  # one use after the other: row 7's thumbnail is the most recent
        made = thumbnails.hover_thumbnails(data, [i], root)
        # the row's file is a hard link: the cached file is the one with its inode
        name_of[i], = [c.name for c in cached.iterdir()
                       if os.path.samefile(c, made.file_of(root, i))]
        os.utime(cached / name_of[i], (1000 + i, 1000 + i))
    assert len(set(name_of.values())) == 8
    assert thumbnails.prune(root, max_files=3) == 5
    kept = {p.name for p in cached.iterdir() if not p.name.startswith(thumbnails.PLACEHOLDER)}
    assert kept == {name_of[5], name_of[6], name_of[7]}  # the least recently used went
    size = sum(p.stat().st_size for p in cached.iterdir())
    thumbnails.prune(root, max_bytes=size // 3)
    left = [p for p in cached.iterdir() if not p.name.startswith(thumbnails.PLACEHOLDER)]
    assert sum(p.stat().st_size for p in left) <= size // 3
    # row folders: at most max_views, the most recently used kept
    for k in range(4):
        other = _dataset([str(images[k])] * (k + 2))
        thumbnails.hover_thumbnails(other, [0], root)
    views = lambda: sorted(p for p in (root / "thumbs" / "rows").iterdir())  # noqa: E731
    assert len(views()) == 5
    newest = max(views(), key=lambda p: p.stat().st_mtime)
    thumbnails.prune(root, max_views=2)
    assert len(views()) == 2 and newest in views()
