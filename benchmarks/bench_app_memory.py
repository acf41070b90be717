"""The app's resident memory with a million vectors, measured while a real browser drives it.

    python benchmarks/bench_app_memory.py [--n 1000000] [--cache DIR]

1. Writes SYNTHETIC clustered float32 data (N x 384, benchmarks/datagen.py) to an .npy file,
   and lays out its UMAP map into the cache folder unless it is already there (timed: this
   is the 'UMAP at 1M in under 10 minutes' figure; above 200,000 rows the map is fitted on a
   sample and the other rows placed among their nearest fitted rows).
2. Starts the app on that cache, opens it in headless Chromium, loads the file through
   'Path on disk' (memory-mapped), waits for k-center's 50 picks and their scorecard, then
   runs random, stratified and k-means at budget 50 and k-center at 1,000.
3. Prints the server's resident memory (VmRSS) after each step and its peak (VmHWM) against
   the 8 GB target, and the matrix size for scale.
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
from appdriver import launch_chromium, start_app, stop_app  # noqa: E402


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--cache", help="cache folder to reuse (keeps the data and its layout)")
    ap.add_argument("--shots", default=str(ROOT / "artifacts" / "memory"))
    args = ap.parse_args()
    from datagen import synthetic_clustered

    import explorer
    from explorer import projection

    work = Path(tempfile.mkdtemp(prefix="appmem_"))
    cache = Path(args.cache) if args.cache else work / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SUBSET_EXPLORER_CACHE": str(cache)}
    os.environ["SUBSET_EXPLORER_CACHE"] = str(cache)
    path = cache / f"synthetic_{args.n}x{args.dim}.npy"
    if not path.exists():
        np.save(path, synthetic_clustered(args.n, args.dim, seed=0))
    data = explorer.load(path)
    matrix_mb = data.n * data.dim * 4 / 2**20
    t = time.perf_counter()
    projection.layout(data, "umap", n_neighbors=15, min_dist=0.1, metric="euclidean")
    print(f"SYNTHETIC clustered data {data.n:,} x {data.dim} float32 ({matrix_mb:,.0f} MiB); "
          f"UMAP layout ready in {time.perf_counter() - t:.0f} s (0 s = from the disk cache; "
          f"target < 600 s at 1M)")
    del data

    env["SUBSET_EXPLORER_DATA_ROOTS"] = str(path.parent)  # the app opens files only there
    proc, url = start_app(env)
    shots = Path(args.shots)
    shots.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    rows = [("app started, sample loaded", *memory_mb(proc.pid), 0.0)]
    n_text = f"{args.n:,}"
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(url)

            def press_run():
                page.wait_for_timeout(1500)
                page.get_by_role("button", name="Run", exact=True).click()

            page.get_by_text("k-center: selected", exact=False).first.wait_for(timeout=300_000)
            rows[0] = ("app started, sample loaded", *memory_mb(proc.pid), 0.0)

            def drive(page):
                page.get_by_text("Path on disk").click()
                box = page.get_by_role("textbox", name="Path to the embeddings file")
                box.fill(str(path))
                t = time.perf_counter()
                box.press("Enter")
                # above 200,000 rows the page does not run a strategy by itself: press Run
                page.get_by_text(f"{n_text} rows × {args.dim} dims", exact=False).first.wait_for(
                    timeout=240_000)
                press_run()
                page.get_by_text(f"k-center: selected 50 of {n_text} rows",
                                 exact=False).first.wait_for(timeout=240_000)
                page.get_by_text("Scorecard of k-center — 50 rows",
                                 exact=False).first.wait_for(timeout=240_000)
                rows.append(("1M file loaded: map, k-center 50, scorecard",
                             *memory_mb(proc.pid), time.perf_counter() - t))
                page.screenshot(path=str(shots / "memory-1m-loaded.png"), full_page=False)

                def run(name, budget):
                    if budget is not None:
                        box = page.get_by_role("spinbutton", name="Budget (rows)")
                        box.fill(str(budget))
                        box.press("Enter")
                        press_run()
                    else:
                        budget = 50
                        page.get_by_role("combobox", name=re.compile("Strategy")).click()
                        page.get_by_role("option",
                                         name=re.compile(rf"· {re.escape(name)}$")).click()
                        press_run()
                    t = time.perf_counter()
                    page.get_by_text(f"{name}: selected {budget:,} of {n_text} rows",
                                     exact=False).first.wait_for(timeout=240_000)
                    page.get_by_text(f"Scorecard of {name} — {budget:,} rows",
                                     exact=False).first.wait_for(timeout=240_000)
                    rows.append((f"{name} {budget}", *memory_mb(proc.pid),
                                 time.perf_counter() - t))

                for name in ("random", "stratified", "k-means"):
                    run(name, None)
                page.get_by_role("combobox", name=re.compile("Strategy")).click()
                page.get_by_role("option", name=re.compile(r"· k-center$")).click()
                press_run()
                page.get_by_text(f"k-center: selected 50 of {n_text}",
                                 exact=False).first.wait_for(timeout=240_000)
                run("k-center", 1000)
                page.wait_for_timeout(1000)
                page.screenshot(path=str(shots / "memory-1m-kcenter.png"), full_page=False)

            try:
                drive(page)
            except Exception:
                page.screenshot(path=str(shots / "memory-1m-failed.png"), full_page=True)
                raise
            browser.close()
    finally:
        rss, hwm = memory_mb(proc.pid)
        stop_app(proc)
        print(f"\n{'step':<46}{'resident MiB':>14}{'peak MiB':>12}{'seconds':>10}")
        for name, r, h, s in rows:
            print(f"{name:<46}{r:>14,.0f}{h:>12,.0f}{s:>10.1f}")
        print(f"\nserver peak resident memory {hwm:,.0f} MiB = {hwm / 1024:.2f} GiB (target "
              f"< 8 GB); the matrix is {matrix_mb:,.0f} MiB, memory-mapped (its pages count as "
              f"resident while cached). Machine load average {os.getloadavg()[0]:.2f}.")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
