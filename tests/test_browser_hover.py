"""Hover on the Explore map in a real headless Chromium: the thumbnail of the point under the
cursor loads (and only it is fetched); text from the data shows literally and runs nothing.
Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image
from test_browser import (app_url, browser, settled, shot,  # noqa: F401  (the app, Chromium)
                          type_path)

THUMBS = "/app/static/thumbs/"
XSS = "<img src=x onerror=alert(1)>"


def _points_on(page, chart: str) -> list[tuple[float, float]]:
    """Page coordinates of the points drawn on the map: the centres of the coloured blobs of
    a picture of its canvas, below the legend and the toolbox."""
    from scipy import ndimage

    page.mouse.move(1, 1)  # no tooltip on the picture
    page.wait_for_timeout(300)
    canvas = page.locator(f"{chart} canvas").first
    picture = canvas.screenshot()  # scrolls the map into view: its box is read after
    box = canvas.bounding_box()
    pixels = np.asarray(Image.open(io.BytesIO(picture)).convert("RGB"), float)
    scale = pixels.shape[1] / box["width"]
    coloured = (pixels.max(axis=2) - pixels.min(axis=2) > 40) | (pixels.max(axis=2) < 150)
    coloured[: int(70 * scale)] = False
    blobs, count = ndimage.label(coloured)
    centres = ndimage.center_of_mass(coloured, blobs, range(1, count + 1))
    return [(box["x"] + cx / scale, box["y"] + cy / scale) for cy, cx in centres]


def _hover_until(page, chart: str, seen, done) -> None:
    """Hover the map's points one after the other; each new row's tooltip goes to
    ``seen(row, text)``; stop once ``done(rows seen)``."""
    rows = set()
    for x, y in _points_on(page, chart):
        page.mouse.move(x, y)
        page.wait_for_timeout(100)
        text = page.locator(chart).first.inner_text()
        if "row " not in text:
            continue
        row = int(text.split("row ")[1].split()[0].rstrip(")"))
        if row in rows:
            continue
        try:  # every tooltip of these maps has an image (a rerun may have redrawn the map)
            page.locator(f"{chart} img").first.wait_for(state="attached", timeout=5_000)
        except Exception:  # noqa: BLE001 - playwright's TimeoutError: hover the next point
            continue
        text = page.locator(chart).first.inner_text()
        rows.add(row)
        seen(row, text)
        if done(rows):
            return
    raise AssertionError(f"only {len(rows)} rows of the map answered the mouse")


def _tooltip_images(page, chart: str) -> list:
    page.wait_for_function(  # the thumbnail has loaded (or failed)
        f"() => [...document.querySelectorAll('{chart} img')].every(i => i.complete)",
        timeout=20_000)
    return page.evaluate(f"() => [...document.querySelectorAll('{chart} img')]"
                         ".map(i => [i.getAttribute('src'), i.naturalWidth])")


def test_hover_shows_the_thumbnail_of_the_point_under_the_cursor_only(
        app_url, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1500, "height": 1300})
    fetched = []
    page.on("request", lambda r: fetched.append(r.url) if THUMBS in r.url else None)
    page.goto(app_url)
    page.get_by_text("k-center: selected 50 of 1,797 rows", exact=False).wait_for(
        timeout=180_000)
    settled(page, 1000)
    assert fetched == []  # drawing the map fetches no thumbnail
    chart = "[class*=st-key-map-]"
    loaded = []

    def seen(row, text):
        images = _tooltip_images(page, chart)
        assert len(images) == 1, images
        src, width = images[0]
        assert src.endswith(f"/{row}.webp") and width > 0, (row, src, width)
        loaded.append(src)

    _hover_until(page, chart, seen, lambda rows: len(rows) == 1)
    page.wait_for_timeout(500)
    assert [u.split(THUMBS)[1] for u in fetched] == [s.split("thumbs/")[1] for s in loaded]
    shot(page, "explore-hover-thumbnail")
    # a second point fetches its own thumbnail, and only it
    _hover_until(page, chart, seen, lambda rows: len(rows) == 1)
    page.wait_for_timeout(500)
    assert len(fetched) == len(set(fetched)) <= 3  # one per hovered point (2 here)
    page.close()


def test_hover_text_shows_literally_and_bad_images_say_why(app_url, browser, tmp_path,  # noqa: F811
                                                          digits):
    """A path-column dataset: good images, a text file named .png, a link leading outside
    the allowed folders; every text cell holds an HTML injection."""
    import tempfile
    from pathlib import Path

    n = 40
    folder = tmp_path / "images"
    folder.mkdir()
    paths = []
    for i in range(n):
        if i % 10 == 8:
            (folder / f"note-{i}.png").write_text("plain text, not an image")
        elif i % 10 == 9:
            outside = Path(tempfile.mkdtemp(prefix="hover-outside-")) / "secret.png"
            Image.new("RGB", (8, 8), "red").save(outside)
            (folder / f"link-{i}.png").symlink_to(outside)
        else:
            grey = (255 - digits.embeddings[i].reshape(8, 8) * 255).astype(np.uint8)
            Image.fromarray(np.kron(grey, np.ones((8, 8), np.uint8))).save(
                folder / f"digit-{i}.png")
        paths.append(next(str(p) for p in folder.glob(f"*-{i}.png")))
    xy = np.random.default_rng(3).uniform(0, 10, size=(n, 2))
    table = pa.table({
        "id": [f"r{i}" for i in range(n)],
        "embedding": pa.array(list(digits.embeddings[:n]), type=pa.list_(pa.float32(), 64)),
        "text": [f"row {i} says {XSS} & <b>bold</b>" for i in range(n)],
        "path": paths, "x": xy[:, 0], "y": xy[:, 1]})
    data_file = tmp_path / "hover.parquet"
    pq.write_table(table, data_file)

    page = browser.new_page(viewport={"width": 1500, "height": 1300})
    dialogs, fetched = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(app_url)
    page.get_by_text("k-center: selected", exact=False).first.wait_for(timeout=180_000)
    type_path(page, "Path on disk", "Path to the embeddings file", data_file)
    page.get_by_text(f"{n} rows × 64 dims", exact=False).first.wait_for(timeout=120_000)
    page.get_by_text("of the drawn rows have no thumbnail", exact=False).wait_for(
        timeout=120_000)
    settled(page, 1000)
    chart = "[class*=st-key-map-]"
    kinds = set()

    def seen(row, text):
        assert f"row {row} says {XSS} & <b>bold</b>" in text  # shown literally
        images = _tooltip_images(page, chart)
        assert len(images) == 1 and images[0][1] > 0, images  # a thumbnail or the placeholder
        if row % 10 == 8:
            assert f"note-{row}.png (row {row}, column path): not an image file" in text
            kinds.add("not an image")
        elif row % 10 == 9:
            assert (f"link-{row}.png (row {row}, column path): is outside the folders this app"
                    " may use") in text
            kinds.add("outside")
        else:
            assert "column path" not in text
            kinds.add("image")
        if len(kinds) == 3 and "shot" not in kinds:
            kinds.add("shot")
            shot(page, "explore-hover-literal-text")

    _hover_until(page, chart, seen, lambda rows: len(kinds) == 4)
    assert {"image", "not an image", "outside"} <= kinds
    assert dialogs == []  # no script ran
    assert not [u for u in fetched if u.rstrip("/").endswith("/x")]  # the injected img: none
    # the tooltip holds text nodes, no element made from the data
    assert page.locator(f"{chart} b").count() == 0
    page.close()
