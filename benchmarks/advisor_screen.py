"""A screenshot of the Compare page's "How many rows do I need?" in headless Chromium
(digits, k-means and k-center against random, the kNN probe, eps 1 point), for looking at it.

    python benchmarks/advisor_screen.py [--out artifacts/screenshots] [--probe knn]

Prints the time the view took, with the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from appdriver import ROOT, app_env, app_page  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "artifacts" / "screenshots"))
    parser.add_argument("--probe", choices=("logistic", "knn"), default="knn")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with app_page(app_env("advisor-home-"), {"width": 1500, "height": 1500}) as (page, url):
        page.goto(url)
        page.get_by_text("k-center: selected 50 of 1,797 rows", exact=False).wait_for(
            timeout=240_000)
        start = time.perf_counter()
        page.get_by_role("link", name="Compare").click()
        page.get_by_text("How many rows do I need?").wait_for(timeout=240_000)
        page.locator('[class*="adv_probe"]').get_by_text(args.probe, exact=True).click()
        page.wait_for_timeout(1500)
        page.get_by_role("button", name="Fit learning curves").click()
        page.get_by_text("of the full-data accuracy", exact=False).first.wait_for(
            timeout=900_000)
        page.wait_for_timeout(2500)
        # Streamlit scrolls inside its main block: bring the section to the top
        page.get_by_text("How many rows do I need?").evaluate(
            "el => el.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(1000)
        page.screenshot(path=str(out / "advisor.png"))
        chart = page.locator(".stPlotlyChart").last
        chart.scroll_into_view_if_needed()
        page.wait_for_timeout(1000)
        chart.screenshot(path=str(out / "advisor-curves.png"))
        print(f"advisor view: {time.perf_counter() - start:.1f} s "
              f"(load {os.getloadavg()[0]:.1f})")
    print(f"screenshot in {out}")


if __name__ == "__main__":
    main()
