"""End to end in a real headless Chromium (Debian's, driven by Playwright): load the sample,
select 50 rows with k-center, read the count and the scorecard, download the CSV, upload a bad
file, visit every page. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explorer.ui.explore_view import UMAP_LEAD

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    port = free_port()
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless",
         "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError(f"the app did not start: {proc.stdout.read().decode()[-2000:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (./run test installs it)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def type_path(page, source: str, label: str, path) -> None:
    """Choose the sidebar's data ``source``, type ``path`` into its box ``label``, press
    Enter."""
    page.get_by_text(source).click()
    box = page.get_by_role("textbox", name=label)
    box.fill(str(path))
    box.press("Enter")


def settled(page, pause_ms: int = 500) -> None:
    """Wait for the app's runs to end (Streamlit's "Running" widget gone), ``pause_ms``
    before and after. A widget changed while a run is still drawing the page can be redrawn
    with its old value before its own rerun."""
    page.wait_for_timeout(pause_ms)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=120_000)
    page.wait_for_timeout(pause_ms)


def _box_select(page, at: float, size: int, chart: str = ".st-key-map-1",
                button: str = "Pin lassoed", rows: int = 1797) -> int:
    """Drag a ``size``-pixel box on the map ``chart`` from ``at`` of its width and height
    (the box tool sits second from the right in the map's toolbox), wait for ``button`` to be
    enabled; returns how many of its ``rows`` the box lassoed. It waits for the app's runs to
    end first: the page redraws the map once after its first selection (with the picks), and
    a box drawn before that redraw is gone with it."""
    settled(page)
    canvas = page.locator(f"{chart} canvas").first.bounding_box()
    page.mouse.click(canvas["x"] + canvas["width"] - 94, canvas["y"] + 55)  # the box tool
    x0, y0 = canvas["x"] + canvas["width"] * at, canvas["y"] + canvas["height"] * at
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + size, y0 + size, steps=10)
    page.mouse.up()
    page.get_by_role("button", name=button).and_(
        page.locator("button:not([disabled])")).wait_for(timeout=60_000)
    lassoed = int(page.get_by_text("in the current lasso", exact=False).inner_text()
                  .split("(")[1].split(" in the current lasso")[0])
    assert 0 < lassoed < rows
    return lassoed


def _download(page, button: str, timeout: int = 60_000) -> bytes:
    """Click the download ``button`` (its exact name); the file it downloads, as bytes."""
    with page.expect_download(timeout=timeout) as dl:
        page.get_by_role("button", name=button, exact=True).click()
    return Path(dl.value.path()).read_bytes()


def test_select_50_with_k_center_and_download_the_csv(app_url, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
    page.goto(app_url)
    page.get_by_text("Dataset digits", exact=False).first.wait_for(timeout=180_000)
    page.get_by_text("k-center: selected 50 of 1,797 rows", exact=False).wait_for(
        timeout=180_000)
    page.get_by_text("50 rows against 30 random subsets", exact=False).wait_for(timeout=120_000)
    # the scorecard chart (a canvas) describes itself to screen readers: its random band
    # series and the metrics' rows (the first ten of them)
    page.locator("[aria-label*='random 5–95% and mean']").first.wait_for(state="attached",
                                                                         timeout=60_000)
    assert "the data for mmd is" in page.locator(
        "[aria-label*='random 5–95% and mean']").first.get_attribute("aria-label")
    body = page.inner_text("body")
    assert "better than random" in body and "Dot colour" in body
    page.wait_for_timeout(1500)
    shot(page, "explore")

    # box-select on the map (the box tool sits second from the right in the map's toolbox),
    # then pin the boxed rows: the next run keeps them
    lassoed = _box_select(page, 0.3, 120)
    page.get_by_role("button", name="Pin lassoed").click()
    page.get_by_text(f"Pinned: {lassoed}", exact=False).wait_for(timeout=60_000)
    shot(page, "explore-pinned")

    page.get_by_role("link", name="Export").click()
    page.get_by_text("Download this selection").wait_for(timeout=60_000)
    frame = pd.read_csv(io.BytesIO(_download(page, "CSV")))
    import explorer

    data = explorer.load_sample("digits")
    assert len(frame) == 50 and frame["id"].is_unique
    assert set(frame["id"]) <= set(data.ids.tolist())
    assert frame["rank"].tolist() == list(range(50))
    shot(page, "export")
    page.close()


def test_compare_page_and_a_bad_upload(app_url, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(app_url)
    page.get_by_text("k-center: selected", exact=False).wait_for(timeout=180_000)
    page.get_by_role("link", name="Compare").click()
    page.get_by_role("button", name="Compare").click()
    page.get_by_text("Budget for the maps and overlaps").wait_for(timeout=240_000)
    page.wait_for_timeout(2000)
    shot(page, "compare")

    bad = tmp_path / "bad.npy"
    np.save(bad, np.arange(12.0))
    page.get_by_role("link", name="Explore").click()
    page.get_by_text("Upload a file").click()
    page.locator("input[type=file]").first.set_input_files(str(bad))
    # the message names the file as the user gave it, not the app's stored copy
    page.get_by_text("bad.npy: expected a 2-D array", exact=False).wait_for(timeout=60_000)
    body = page.inner_text("body")
    assert "Traceback" not in body
    assert "The previous dataset is still loaded" in body
    # the sidebar's budget survived the page changes (once, under load, the browser re-created
    # the number input after a page change and sent its minimum: a budget of 1)
    shot(page, "bad-upload")
    try:
        page.get_by_text("k-center: selected 50 of 1,797 rows", exact=False).wait_for(
            timeout=120_000)
    except Exception:
        found = [line for line in page.inner_text("body").splitlines()
                 if "selected" in line or "Budget" in line]
        raise AssertionError(f"the budget changed after the page changes: {found}") from None
    page.close()


def test_dimensions_page_draws_its_envelope(app_url, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1600})
    page.goto(app_url)
    page.get_by_text("k-center: selected", exact=False).wait_for(timeout=180_000)
    page.get_by_role("link", name="Dimensions").click()
    page.get_by_role("button", name="Measure against random dimensions").click()
    page.get_by_text("16 of 64 dimensions", exact=False).wait_for(timeout=240_000)
    page.get_by_role("button", name="Chosen indices (JSON)").wait_for(timeout=120_000)
    # the envelope figure: three panels, the random band drawn as a shape in each
    figure = page.locator(".stPlotlyChart").first
    figure.wait_for(timeout=60_000)
    assert page.locator(".stPlotlyChart .shapelayer path").count() >= 3
    assert "Traceback" not in page.inner_text("body")
    page.wait_for_timeout(1000)
    shot(page, "dimensions")
    page.close()


def test_odd_upload_names_load_and_the_upload_folder_goes_with_the_session(app_url, browser):
    import explorer.ui.data as uidata

    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(app_url)
    page.get_by_text("k-center: selected", exact=False).wait_for(timeout=180_000)
    page.get_by_text("Upload a file").click()
    stored = []
    # longer than a file system allows, then a NUL byte (Streamlit's own type check raised
    # on it before the script ran; the app checks the type itself)
    for rows, given in [(70, "données-" + "v" * 300 + ".npy"), (71, "nul\x00byte.npy")]:
        buf = io.BytesIO()
        np.save(buf, np.random.default_rng(rows).standard_normal((rows, 6)).astype(np.float32))
        settled(page)  # a file given while the page still runs can be lost with its redraw
        page.locator("input[type=file]").first.set_input_files(
            files=[{"name": given, "mimeType": "application/octet-stream",
                    "buffer": buf.getvalue()}])
        page.get_by_text(f"{rows} rows × 6 dims", exact=False).first.wait_for(timeout=120_000)
        # the page's last step is this data's UMAP (on a fresh clone numba compiles it for
        # minutes under load); the next upload is made once it is done, as a user would
        page.get_by_text(f"selected 50 of {rows} rows", exact=False).first.wait_for(
            timeout=180_000)
        page.get_by_text(UMAP_LEAD, exact=False).first.wait_for(state="detached",
                                                                  timeout=300_000)
        body = page.inner_text("body")
        assert "Traceback" not in body and str(uidata.upload_base()) not in body
        found = list(uidata.upload_base().glob(f"*/*/{uidata.safe_name(given)}"))
        assert len(found) == 1 and found[0].parent.parent.stat().st_mode & 0o777 == 0o700
        stored += found
    assert stored[0].parent.parent == stored[1].parent.parent  # one folder per session
    shot(page, "odd-upload-name")
    page.close()  # the session disconnects: Streamlit releases it, and its folder goes
    deadline = time.time() + 30
    while stored[0].parent.parent.exists() and time.time() < deadline:
        time.sleep(0.5)
    assert not stored[0].parent.parent.exists()


def test_embed_a_text_column_in_the_sidebar(app_url, browser):
    """Embed 60 short texts with the real MiniLM from the sidebar; the app then runs on them."""
    folder = ROOT / "artifacts" / "embed-input"  # below the app's working folder: allowed
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.read_parquet(ROOT / "sample_data" / "pydocs.parquet",
                            columns=["id", "text", "label"]).head(60)
    frame["text"] = [" ".join(t.split()[:8]) for t in frame["text"]]
    table = folder / "notes.csv"
    frame.to_csv(table, index=False)
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(app_url)
    page.get_by_text("Dataset digits", exact=False).first.wait_for(timeout=180_000)
    type_path(page, "Embed text or images", "Table (.csv, .parquet, .jsonl)", table)
    page.get_by_text("Column to embed").wait_for(timeout=60_000)
    page.get_by_role("button", name="Embed", exact=True).click()
    page.get_by_text("Dataset notes ·", exact=False).first.wait_for(timeout=240_000)
    page.get_by_text("text by all-MiniLM-L6-v2 (384 dims, mean pooling, L2-normalised)",
                     exact=False).first.wait_for(timeout=60_000)
    page.get_by_text("k-center: selected 50 of 60 rows", exact=False).wait_for(timeout=180_000)
    body = page.inner_text("body")
    assert "Traceback" not in body and "60 rows × 384 dims" in body
    page.wait_for_timeout(1500)
    shot(page, "embed-text-column")
    page.close()


def test_export_the_lasso_with_map_xy(app_url, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
    page.goto(app_url)
    page.get_by_text("k-center: selected 50 of 1,797 rows", exact=False).wait_for(
        timeout=180_000)
    lassoed = _box_select(page, 0.35, 140)
    page.get_by_role("link", name="Export").click()
    page.get_by_text("Export rows for other tools").wait_for(timeout=60_000)
    page.get_by_text(f"the current lasso ({lassoed:,} rows)").click()
    page.get_by_text("Add the map's x / y").click()
    page.get_by_text("x / y of the", exact=False).wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    frame = pd.read_csv(io.BytesIO(_download(page, "Rows as CSV")))
    assert len(frame) == lassoed and {"x", "y", "index", "id", "label"} <= set(frame.columns)
    import json

    tasks = json.loads(_download(page, "Label Studio tasks"))
    assert [t["data"]["row_index"] for t in tasks] == frame["index"].tolist()
    shot(page, "export-lasso")
    page.close()


def _click_a_point(page, chart: str) -> None:
    """Hover over the map until a point's tooltip ("... row N") shows, then click there."""
    box = page.locator(f"{chart} canvas").first.bounding_box()
    page.wait_for_timeout(1500)  # the map settles
    for fy in np.linspace(0.3, 0.7, 9):
        for fx in np.linspace(0.25, 0.75, 11):
            x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
            page.mouse.move(x, y)
            page.wait_for_timeout(120)
            if "row " in page.locator(chart).first.inner_text():
                page.mouse.click(x, y)
                return
    raise AssertionError("no point of the map answered the mouse")


def test_search_then_neighbours_of_a_clicked_row_then_pin_them(app_url, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(app_url)
    page.get_by_text("k-center: selected 50 of 1,797 rows", exact=False).wait_for(
        timeout=180_000)
    # the literal search over a text column rings its matches on the map
    page.get_by_text("Search text").click()
    box = page.get_by_role("textbox", name="Contains")
    box.fill("digit-00")
    box.press("Enter")
    page.get_by_text("rows contain", exact=False).wait_for(timeout=60_000)
    assert "100 rows contain" in page.inner_text("body").replace("*", "")
    page.wait_for_timeout(1500)
    shot(page, "explore-search")
    # a click on a point lists its nearest neighbours as a gallery; pin them
    _click_a_point(page, "[class*=st-key-map-]")
    page.get_by_text("rows nearest to 'row", exact=False).wait_for(timeout=60_000)
    page.get_by_role("button", name="Pin these").scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    shot(page, "explore-neighbours")
    page.get_by_role("button", name="Pin these").click()
    page.get_by_text("Pinned: 10", exact=False).wait_for(timeout=60_000)
    assert "Traceback" not in page.inner_text("body")
    page.wait_for_timeout(1000)
    shot(page, "explore-neighbours-pinned")
    page.close()


def test_a_sharded_folder_on_a_dask_local_cluster(app_url, browser, digits, tmp_path_factory):
    """Open a folder of shards, start a Dask LocalCluster from the sidebar, run k-center on
    it: the progress, the dashboard link (served), the map of a sample plus the picks, the
    export, and the Compare page's curves from a comparison run on the cluster; closing the
    page closes the cluster."""
    from explorer.data.shards import write_shards

    folder = tmp_path_factory.mktemp("browser-shards")
    write_shards(digits, folder, [0, 600, 1200, 1797])
    page = browser.new_page(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
    page.goto(app_url)
    page.get_by_text("Dataset digits", exact=False).first.wait_for(timeout=180_000)
    page.get_by_text("Shards on disk (folder or glob)").click()
    for label, value in (("Id column (optional)", "id"),
                         ("Folder or glob of shards", str(folder))):
        box = page.get_by_role("textbox", name=label)
        box.fill(value)
        box.press("Enter")
    page.get_by_text("Sharded: 3 shards", exact=False).wait_for(timeout=120_000)
    page.get_by_text("Dask: a local cluster").click()
    link = page.get_by_role("link", name="Dask dashboard").first
    link.wait_for(timeout=120_000)
    dashboard = link.get_attribute("href")
    assert urllib.request.urlopen(dashboard, timeout=10).status == 200  # served by bokeh
    settled(page)  # the first map (every row) is drawn before the sample shrinks
    rows = page.get_by_role("spinbutton", name="Rows in the map's sample")
    rows.fill("600")
    rows.press("Enter")
    page.get_by_text("uniform sample of 600 of 1,797 rows", exact=False).wait_for(
        timeout=120_000)
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text("k-center: selected 50 of 1,797 rows", exact=False).wait_for(
        timeout=240_000)
    for text in ("plus every selected row (50)", "On the dask engine: 3 partitions, 2 worker(s)",
                 "50 rows against 30 random subsets", "every row on the dask engine"):
        page.get_by_text(text, exact=False).first.wait_for(timeout=60_000)
    assert "Traceback" not in page.inner_text("body")
    page.wait_for_timeout(1500)
    shot(page, "shards-dask-explore")
    # a box drawn on the map becomes the target set (the strategies that need one: DSIR)
    lassoed = _box_select(page, 0.3, 120, chart="[class*=st-key-shard_map-]",
                          button="Use as target", rows=641)
    page.get_by_role("button", name="Use as target").click()
    page.get_by_text(f"Target: {lassoed} rows", exact=False).wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    shot(page, "shards-dask-target")

    page.get_by_role("link", name="Export").click()
    page.get_by_text("Download this selection").wait_for(timeout=60_000)
    frame = pd.read_parquet(io.BytesIO(_download(page, "Parquet", timeout=120_000)))
    assert len(frame) == 50 and frame["rank"].tolist() == list(range(50))
    assert frame["id"].tolist() == digits.ids[frame["index"]].tolist()
    shot(page, "shards-dask-export")
    # the workspace keeps the run of the shards, its manifest checked on save
    name = page.get_by_role("textbox", name="Save the current selection as")
    name.fill("k-center on shards")
    name.press("Enter")
    settled(page)
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved 'k-center on shards'", exact=False).wait_for(timeout=60_000)
    page.get_by_role("button", name="Reload into Explore").wait_for(timeout=60_000)
    assert "Traceback" not in page.inner_text("body")
    page.get_by_role("button", name="Reload into Explore").scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    shot(page, "shards-dask-workspace")

    # Compare: the default strategies' distributed forms at two budgets, on the same cluster
    page.get_by_role("link", name="Compare").click()
    page.get_by_text("Press Compare to run every strategy at every budget on the dask engine",
                     exact=False).wait_for(timeout=60_000)
    budgets = page.get_by_role("textbox", name="Budgets (log-spaced by default)")
    budgets.fill("20, 60")
    budgets.press("Enter")
    settled(page)
    page.get_by_role("button", name="Compare", exact=True).click()
    page.get_by_text("Who beats random, with statistical support", exact=False).wait_for(
        timeout=240_000)
    curves = page.locator(".st-key-cmp_curves")
    curves.locator(".scatterlayer .trace").first.wait_for(timeout=60_000)
    legend = curves.locator(".legendtext").all_text_contents()  # SVG text: no innerText
    assert {"random 5–95%", "random mean", "k-center", "k-means"} <= set(legend), legend
    page.get_by_text("uniform sample of 600 of 1,797 rows (grey)", exact=False).wait_for(
        timeout=60_000)
    assert "Traceback" not in page.inner_text("body")
    page.wait_for_timeout(1500)
    shot(page, "shards-dask-compare")
    page.locator(".st-key-cmp_maps").scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    shot(page, "shards-dask-compare-maps")
    page.close()  # the session ends: its cluster is closed with it
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(dashboard, timeout=2)
        except OSError:
            break
        time.sleep(1)
    else:
        raise AssertionError("the session's Dask cluster outlived the session")
