"""How the app feels at 100,000 points, measured in a real browser (Debian's headless
Chromium driven by Playwright), once the UMAP layout is cached.

    python benchmarks/bench_app_feel.py [--n 100000] [--shots DIR] [--data FILE]

1. Writes the bundled real pydocs embeddings tiled with noise to N x 384 (.npy), or takes
   FILE (e.g. the REAL docstring embeddings of benchmarks/make_docstrings.py), and computes
   its UMAP layout into the cache folder (the step the app does once per dataset).
2. Starts the app on that cache, opens it, loads the file through 'Path on disk'.
3. For random, stratified, k-center and k-means: chooses the strategy, then changes the budget,
   and times from the click / key press until the page shows the new selection's count and
   the scorecard for it (both must be on screen). Target: 2 s.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from appdriver import app_page  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--shots", default=str(ROOT / "artifacts" / "feel"))
    ap.add_argument("--cache", help="a cache folder to reuse (keeps the UMAP layout)")
    ap.add_argument("--data", help="an embeddings file to load instead of tiled pydocs")
    args = ap.parse_args()
    from datagen import tiled_real

    import explorer
    from explorer import projection

    work = Path(tempfile.mkdtemp(prefix="feel_"))
    cache = Path(args.cache) if args.cache else work / "cache"
    env = {**os.environ, "SUBSET_EXPLORER_CACHE": str(cache)}
    os.environ["SUBSET_EXPLORER_CACHE"] = str(cache)
    path = (cache / "tiled.npy") if args.cache else (work / "tiled.npy")
    cache.mkdir(parents=True, exist_ok=True)
    if args.data:
        path = Path(args.data).resolve()
    elif not path.exists():
        # noise large enough that copies of one row mix with their neighbours (with less,
        # the kNN graph splits into one component per original row and UMAP shows a grid)
        np.save(path, tiled_real(args.n, "pydocs", noise=0.05))
    data = explorer.load(path)
    t = time.perf_counter()
    projection.layout(data, "umap", n_neighbors=15, min_dist=0.1, metric="euclidean")
    what = (f"{path.name}" if args.data else "REAL pydocs embeddings tiled with noise to")
    print(f"{what} {data.n:,} x {data.dim}; UMAP layout computed and cached in "
          f"{time.perf_counter() - t:.0f} s")

    env["SUBSET_EXPLORER_DATA_ROOTS"] = str(path.parent)  # the app opens files only there
    shots = Path(args.shots)
    shots.mkdir(parents=True, exist_ok=True)
    rows = []
    with app_page(env, {"width": 1500, "height": 1000}) as (page, url):
        page.goto(url)
        page.get_by_text("k-center: selected", exact=False).first.wait_for(timeout=300_000)
        page.get_by_text("Path on disk").click()
        box = page.get_by_role("textbox", name="Path to the embeddings file")
        box.fill(str(path))
        box.press("Enter")
        n_text = f"{data.n:,}"
        t = time.perf_counter()
        page.get_by_text(f"of {n_text} rows", exact=False).first.wait_for(timeout=600_000)
        # the scorecard of this file (its space note names the row count), not the
        # sample's scorecard still on screen
        page.get_by_text(f"of {n_text} rows (worst case", exact=False).first.wait_for(
            timeout=600_000)
        print(f"first load of the file in the app (k-center 50 + scorecard, layout "
              f"from the disk cache): {time.perf_counter() - t:.1f} s")
        page.wait_for_timeout(2000)
        page.screenshot(path=str(shots / "feel-100k-first.png"), full_page=True)
        # the browser's own share: main-thread tasks longer than 50 ms (layout, drawing)
        page.evaluate("""() => { window.__busy = 0; new PerformanceObserver(list => {
            for (const e of list.getEntries()) window.__busy += e.duration; })
            .observe({type: 'longtask'}); }""")

        def busy():
            return page.evaluate("window.__busy") / 1000

        def wait_for(name, budget):
            page.get_by_text(f"{name}: selected {budget:,} of {n_text} rows",
                             exact=False).first.wait_for(timeout=120_000)
            page.get_by_text(f"Scorecard of {name} — {budget:,} rows against 30 random",
                             exact=False).first.wait_for(timeout=120_000)

        budget = 50
        for name in ("random", "stratified", "k-center", "k-means"):
            strategy = page.get_by_role("combobox", name=re.compile("Strategy"))
            strategy.click()
            option = page.get_by_role("option", name=re.compile(rf"· {re.escape(name)}$"))
            page.evaluate("window.__busy = 0")
            t = time.perf_counter()
            option.click()
            wait_for(name, budget)
            t_strategy = time.perf_counter() - t
            b_strategy = busy()
            budget_box = page.get_by_role("spinbutton", name="Budget (rows)")
            new_budget = 200 if budget == 50 else 50
            budget_box.fill(str(new_budget))
            page.evaluate("window.__busy = 0")
            t = time.perf_counter()
            budget_box.press("Enter")
            wait_for(name, new_budget)
            t_budget = time.perf_counter() - t
            b_budget = busy()
            budget = new_budget
            rows.append((name, t_strategy, b_strategy, t_budget, b_budget))
            page.wait_for_timeout(500)
            page.screenshot(path=str(shots / f"feel-100k-{name}.png"), full_page=False)
    print(f"\n{'strategy':<12}{'change strategy':>18}{'change budget':>22}   (target 2 s; "
          f"count and scorecard on screen)")
    for name, a, ab, b, bb in rows:
        print(f"{name:<12}{a:>8.2f} s (browser {ab:.2f}){b:>8.2f} s (browser {bb:.2f})")
    print("(browser = the page's main-thread tasks over 50 ms in that time: drawing and "
          "layout; the rest is the server's run and the messages)")
    print(f"machine load average {os.getloadavg()[0]:.2f}; screenshots in {shots}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
