"""The Explore page's filter builder in a real headless Chromium: a condition built from the
widgets restricts what a strategy picks, and the exported selection holds only passing rows.
Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from test_browser import app_url, browser, settled, shot  # noqa: F401  (the app, Chromium)

import explorer
from explorer.ui.results_view import info_value


def _choose(page, value: str) -> None:
    """Take ``value`` in the filter's multiselect of values: type it, press Enter."""
    page.locator("[data-testid='stMultiSelect'] input").first.click()
    page.keyboard.type(value)
    page.get_by_role("option", name=value, exact=True).first.wait_for(timeout=30_000)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    settled(page)  # each choice reruns the page (and its selection)


def test_a_filter_built_in_the_page_restricts_the_picks(app_url, browser):  # noqa: F811
    data = explorer.load_sample("digits")
    label = dict(zip(data.ids.tolist(), data.metadata["label"].astype(str)))
    passing = sum(v in ("1", "7") for v in label.values())
    filtered = explorer.select(data, "k-center", 50, seed=0, where="label in ['1', '7']")
    page = browser.new_page(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
    page.goto(app_url)
    page.get_by_text("k-center: selected 50 of 1,797 rows", exact=False).wait_for(
        timeout=180_000)
    settled(page)  # the page's redraw after its first selection, and the hover thumbnails
    page.get_by_text("Filter: which rows may be picked").click()
    page.get_by_role("button", name="Add condition").click()
    page.locator("[data-testid='stMultiSelect']").first.wait_for(timeout=60_000)
    settled(page)
    # the first column offered is 'label' (text with few levels), its operator 'is one of'
    for value in ("1", "7"):
        _choose(page, value)
    page.get_by_text("label in ['1', '7']", exact=False).wait_for(timeout=60_000)
    page.get_by_text(f"{passing:,} of 1,797 rows pass", exact=False).wait_for(timeout=60_000)
    # the filtered run's summary (its radius differs from the first run's)
    page.get_by_text(f"radius: {info_value(filtered.info['radius'])}", exact=False).wait_for(
        timeout=120_000)
    settled(page)
    shot(page, "explore-filter")
    assert "Traceback" not in page.inner_text("body")

    page.get_by_role("link", name="Export").click()
    page.get_by_text("Download this selection").wait_for(timeout=60_000)
    with page.expect_download(timeout=60_000) as dl:
        page.get_by_role("button", name="CSV", exact=True).click()
    frame = pd.read_csv(io.BytesIO(Path(dl.value.path()).read_bytes()))
    assert len(frame) == 50 and frame["id"].is_unique
    assert {label[i] for i in frame["id"]} == {"1", "7"}
    assert sorted(frame["id"]) == sorted(data.ids[filtered.indices].tolist())
    page.close()
