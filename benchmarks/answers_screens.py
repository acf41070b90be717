"""Screenshots of issue 15's three app views in headless Chromium, for looking at them:
the scorecard's "Check in another embedding" (pydocs, MiniLM vs TF-IDF), the Dimensions page
(pydocs, k = 64) and the Export page's locked confirmation split (digits).

    python benchmarks/answers_screens.py [--out artifacts/screenshots]

The app runs with a temporary workspace folder (the lock is made there, not in ~). Prints the
time each view took, with the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from appdriver import ROOT, app_env, app_page  # noqa: E402


def choose_sample(page, name: str) -> None:
    box = page.get_by_role("combobox", name="Sample")
    box.wait_for(timeout=180_000)
    box.click()
    page.get_by_role("option", name=name).click()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "artifacts" / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # Streamlit scrolls inside its main block, so a tall window shows a whole view
    with app_page(app_env("answers-home-"), {"width": 1500, "height": 2600}) as (page, url):
        start = time.perf_counter()
        page.goto(url)
        page.get_by_text("k-center: selected 50 of 1,797 rows", exact=False).wait_for(
            timeout=240_000)
        choose_sample(page, "pydocs — 1,010 paragraphs of the Python reference, MiniLM "
                            "sentence embeddings (384-D), 8 topic labels")
        page.get_by_text("k-center: selected 50 of 1,010 rows", exact=False).wait_for(
            timeout=240_000)
        page.get_by_text("Check in another embedding").click()
        page.get_by_role("button", name="Check in this embedding").click()
        page.get_by_text("verdicts hold", exact=False).wait_for(timeout=240_000)
        page.get_by_text("Scoring in both embeddings", exact=False).wait_for(
            state="detached", timeout=240_000)
        page.wait_for_timeout(2000)
        page.get_by_text("Rows shared (Jaccard)", exact=False).first.scroll_into_view_if_needed()
        page.screenshot(path=str(out / "robustness.png"), full_page=True)
        print(f"robustness view: {time.perf_counter() - start:.1f} s "
              f"(load {os.getloadavg()[0]:.1f})")

        start = time.perf_counter()
        page.get_by_role("link", name="Dimensions").click()
        page.get_by_role("button", name="Measure against random dimensions").click()
        page.get_by_text("64 of 384 dimensions", exact=False).wait_for(timeout=300_000)
        page.get_by_role("button", name="Chosen indices (JSON)").wait_for(timeout=120_000)
        page.wait_for_timeout(2500)
        page.screenshot(path=str(out / "dimensions.png"), full_page=True)
        print(f"dimensions view: {time.perf_counter() - start:.1f} s "
              f"(load {os.getloadavg()[0]:.1f})")

        start = time.perf_counter()
        page.get_by_role("link", name="Explore").click()
        choose_sample(page, "digits — 1,797 handwritten digits (8x8 pixels, 64-D), "
                            "labelled 0-9, with thumbnails")
        page.get_by_text("k-center: selected 50 of 1,797 rows", exact=False).wait_for(
            timeout=240_000)
        page.get_by_role("link", name="Export").click()
        page.get_by_role("button", name="Lock a confirmation split").click()
        page.get_by_text("rows of digits are locked", exact=False).wait_for(
            timeout=120_000)
        page.screenshot(path=str(out / "confirm-locked.png"), full_page=True)
        page.get_by_role("link", name="Explore").click()
        page.get_by_text("k-center: selected 50 of 1,797 rows", exact=False).wait_for(
            timeout=240_000)
        page.get_by_role("link", name="Export").click()
        page.get_by_text("This is the selection I chose", exact=False).click()
        page.get_by_role("button", name="Confirm on the locked split").click()
        page.get_by_text("A second confirmation is no confirmation", exact=False).wait_for(
            timeout=240_000)
        page.wait_for_timeout(1500)
        page.get_by_text("Confirm on the locked split").first.scroll_into_view_if_needed()
        page.screenshot(path=str(out / "confirm-done.png"), full_page=True)
        print(f"confirm view: {time.perf_counter() - start:.1f} s "
              f"(load {os.getloadavg()[0]:.1f})")
        body = page.inner_text("body")
        assert "Traceback" not in body
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main()
