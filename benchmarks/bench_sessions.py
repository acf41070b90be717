"""Several visitors at once: N concurrent browser sessions on one server, on REAL data.

    python benchmarks/make_docstrings.py --n 100000 --out /tmp/docstrings.parquet
    python benchmarks/bench_sessions.py --data /tmp/docstrings.parquet [--sessions 1,2,4,8]
        [--changes 4] [--heavy dedup] [--second-heavy vote-k] [--layout UMAP|PCA]
        [--cache DIR] [--wait SECONDS] [--what "what the data is"]

The docstring set takes long to make on 2 shared cores (13,000 of 100,000 paragraphs in 50
minutes under a load average of 8); any other file works with ``--what`` saying what it is,
e.g. the bundled pydocs tiled with noise (``python benchmarks/datagen.py --kind tiled``).

For each N (a fresh server each time, so its peak memory is that N's):

1. Starts the app (``streamlit run app.py``) on 127.0.0.1 and a free port, with the data's
   folder as the only allowed root, and opens N pages in headless Chromium (one browser
   context each: N separate Streamlit sessions). Loopback only; every wait is bounded.
2. Every session loads the file through 'Path on disk' at the same time.
3. Explore: every session changes the strategy ``--changes`` times (random, stratified,
   k-means, k-center, each session starting at another one), all at once; a change is timed
   from the click on the option until the page shows the new selection's count and its
   scorecard.
4. Heavy while exploring: session 1 starts a heavy run (``--heavy``, which waits for its Run
   button) while the others change strategies as in 3; with N >= 3, session 2 also presses
   Run on a heavy strategy a moment later and must be told its place in the queue (the
   server runs one heavy run at a time: explorer/ui/heavy.py).

Prints p50 / p95 / max of the strategy changes per N and phase, the heavy runs' times (and
the second one's wait in the queue), the peak resident memory of the server's process tree
(sampled every 0.25 s from /proc) and the machine's load average (1 min, at the end of the
phase and the highest seen during it). The browser runs on the same machine and shares its
cores: the times include its drawing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from appdriver import start_app, stop_app  # noqa: E402

LIGHT = ("random", "stratified", "k-means")
WAIT_MS = 600_000  # the longest any single wait may take (--wait; a heavy run at N = 8 included)


class TreeMemory:
    """Samples the resident memory (VmRSS) of a process and its descendants in a thread;
    keeps the peak of the sum and the highest 1-minute load average seen."""

    def __init__(self, pid: int, every: float = 0.25):
        self.pid, self.every = pid, every
        self.peak_mb = 0.0
        self.load_max = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        self.peak_mb, self.load_max = 0.0, 0.0

    @staticmethod
    def _tree(pid: int) -> list[int]:
        out, todo = [], [pid]
        while todo:
            p = todo.pop()
            out.append(p)
            for task in Path(f"/proc/{p}/task").glob("*/children"):
                try:
                    todo += [int(c) for c in task.read_text().split()]
                except OSError:
                    pass
        return out

    @staticmethod
    def _rss_mb(pid: int) -> float:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            total = sum(self._rss_mb(p) for p in self._tree(self.pid))
            self.peak_mb = max(self.peak_mb, total)
            self.load_max = max(self.load_max, os.getloadavg()[0])
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


async def choose(page, name: str) -> None:
    box = page.get_by_role("combobox", name=re.compile("Strategy"))
    await box.click()
    await page.get_by_role("option", name=re.compile(rf"· {re.escape(name)}$")).click()


async def shown(page, name: str, n_text: str, budget: int = 50) -> None:
    """Wait until the page shows ``name``'s selection count and its scorecard."""
    await page.get_by_text(f"{name}: selected {budget:,} of {n_text} rows",
                           exact=False).first.wait_for(timeout=WAIT_MS)
    await page.get_by_text(f"Scorecard of {name} — {budget:,} rows against 30 random",
                           exact=False).first.wait_for(timeout=WAIT_MS)


async def explore(page, order, n_text: str, times: list, failures: list,
                  until: asyncio.Event | None = None, most: int = 0) -> None:
    """Change to each strategy of ``order`` in turn; with ``until``, keep going round the
    order until it is set (at least ``len(order)`` changes, at most ``most``)."""
    count = 0
    while count < len(order) or (until is not None and not until.is_set() and count < most):
        name = order[count % len(order)]
        count += 1
        t = time.perf_counter()
        try:
            await choose(page, name)
            await shown(page, name, n_text)
            times.append(time.perf_counter() - t)
        except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
            failures.append(f"{name}: {type(exc).__name__}")


async def heavy_run(page, name: str, n_text: str, out: dict, key: str,
                    queued_text: str | None = None) -> None:
    """Choose a heavy strategy (it waits for its button), press Run, time until its count
    is on screen; with ``queued_text``, also note whether the page said its place in the
    queue and how long the run waited for its turn."""
    await choose(page, name)
    await page.get_by_text("Press Run to start it anyway", exact=False).first.wait_for(
        timeout=WAIT_MS)
    t = time.perf_counter()
    await page.get_by_role("button", name="Run", exact=True).click()
    if queued_text is not None:
        try:
            note = page.get_by_text(queued_text, exact=False).first
            await note.wait_for(timeout=30_000)
            out[f"{key} told"] = (await note.inner_text()).strip()
            await note.wait_for(state="detached", timeout=WAIT_MS)
            out[f"{key} waited"] = time.perf_counter() - t
        except Exception as exc:  # noqa: BLE001
            out[f"{key} told"] = f"not seen ({type(exc).__name__})"
    await page.get_by_text(f"{name}: selected", exact=False).first.wait_for(timeout=WAIT_MS)
    out[key] = time.perf_counter() - t


def percentiles(times: list) -> str:
    if not times:
        return "      —       —       —"
    p50, p95 = np.percentile(times, [50, 95])
    return f"{p50:7.2f} {p95:7.2f} {max(times):7.2f}"


async def one_n(n_sessions: int, url: str, path: Path, n_text: str, changes: int,
                heavy: str, second_heavy: str, memory: TreeMemory, rows: list,
                layout: str = "UMAP") -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = "/usr/bin/chromium"
        browser = await p.chromium.launch(executable_path=chromium, headless=True,
                                          args=["--no-sandbox", "--disable-dev-shm-usage"])
        pages = []
        for _ in range(n_sessions):
            context = await browser.new_context(viewport={"width": 1400, "height": 950})
            pages.append(await context.new_page())

        async def arrive(page):
            await page.goto(url)
            await page.get_by_text("k-center: selected", exact=False).first.wait_for(
                timeout=WAIT_MS)
            if layout != "UMAP":
                await page.get_by_role("combobox", name=re.compile("Layout")).click()
                await page.get_by_role("option", name=layout, exact=True).click()
            await page.get_by_text("Path on disk").click()
            box = page.get_by_role("textbox", name="Path to the embeddings file")
            await box.fill(str(path))
            await box.press("Enter")
            await shown(page, "k-center", n_text)

        t = time.perf_counter()
        memory.reset()
        await asyncio.gather(*(arrive(pg) for pg in pages))
        rows.append((n_sessions, "arrive + load", [time.perf_counter() - t], [], {},
                     memory.peak_mb, os.getloadavg()[0], memory.load_max))

        for phase in ("explore", "heavy while exploring"):
            memory.reset()
            times, failures, heavy_out = [], [], {}
            jobs = []
            explorers = pages if phase == "explore" else pages[1:]
            heavy_done = asyncio.Event() if phase != "explore" else None
            if phase != "explore":
                async def first(page=pages[0]):
                    try:
                        await heavy_run(page, heavy, n_text, heavy_out, heavy)
                    finally:
                        heavy_done.set()
                jobs.append(first())
                if n_sessions >= 3:
                    explorers = pages[2:]

                    async def second(page=pages[1]):
                        await asyncio.sleep(3)  # after the first heavy run has started
                        await heavy_run(page, second_heavy, n_text, heavy_out, second_heavy,
                                        queued_text="Position in the queue")
                    jobs.append(second())
            for i, page in enumerate(explorers):
                rot = [LIGHT[(i + j) % len(LIGHT)] for j in range(len(LIGHT))]
                order = ((rot + ["k-center"]) * (changes // 4 + 1))[:changes]
                # while a heavy run goes on, the others keep exploring until it ends
                jobs.append(explore(page, order, n_text, times, failures, heavy_done,
                                    most=5 * changes))
            await asyncio.gather(*jobs)
            rows.append((n_sessions, phase, times, failures, heavy_out, memory.peak_mb,
                         os.getloadavg()[0], memory.load_max))
            # back to k-center everywhere, so the next phase starts where this one did
            await asyncio.gather(*(_back_to_k_center(pg, n_text) for pg in pages))
        await browser.close()


async def _back_to_k_center(page, n_text):
    try:
        if not await page.get_by_text("k-center: selected 50", exact=False).count():
            await choose(page, "k-center")
            await shown(page, "k-center", n_text)
    except Exception:  # noqa: BLE001 - the next phase reports what does not work
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", required=True, help="the REAL docstring embeddings "
                    "(benchmarks/make_docstrings.py)")
    ap.add_argument("--what", default="REAL data: docstring paragraphs embedded with "
                    "all-MiniLM-L6-v2 (benchmarks/make_docstrings.py)",
                    help="what the data is, for the report")
    ap.add_argument("--sessions", default="1,2,4,8")
    ap.add_argument("--changes", type=int, default=4, help="strategy changes per session "
                    "and phase")
    ap.add_argument("--heavy", default="dedup", help="the heavy strategy session 1 runs")
    ap.add_argument("--second-heavy", default="vote-k", help="the heavy strategy session 2 "
                    "runs (N >= 3), queued behind the first")
    ap.add_argument("--cache", help="a cache folder to reuse (keeps the UMAP layout)")
    ap.add_argument("--wait", type=float, default=600, help="longest single wait, seconds")
    ap.add_argument("--layout", choices=["UMAP", "PCA"], default="UMAP",
                    help="the map's layout in every session (UMAP, the app's default, is "
                    "computed once into the cache first)")
    args = ap.parse_args()
    global WAIT_MS
    WAIT_MS = int(args.wait * 1000)
    counts = [int(c) for c in args.sessions.split(",")]
    if max(counts) > 8:
        raise SystemExit("at most 8 sessions: the benchmark is bounded")

    import explorer
    from explorer import projection

    path = Path(args.data).resolve()
    cache = Path(args.cache) if args.cache else Path(tempfile.mkdtemp(prefix="sessions_"))
    cache.mkdir(parents=True, exist_ok=True)
    os.environ["SUBSET_EXPLORER_CACHE"] = str(cache)
    data = explorer.load(path)
    t = time.perf_counter()
    if args.layout == "UMAP":
        projection.layout(data, "umap", n_neighbors=15, min_dist=0.1, metric="euclidean")
    print(f"{args.what}; {path.name}, {data.n:,} x {data.dim}; {args.layout} map; UMAP layout ready "
          f"in {time.perf_counter() - t:.0f} s (0 s: from the disk cache or not used)",
          flush=True)
    n_text = f"{data.n:,}"
    heavy_est = explorer.estimate(args.heavy, data.n, data.dim, 50)
    print(f"{args.heavy} estimate: {heavy_est.describe()} (heavy: {heavy_est.heavy})",
          flush=True)
    del data

    env = {**os.environ, "SUBSET_EXPLORER_CACHE": str(cache),
           "SUBSET_EXPLORER_DATA_ROOTS": str(path.parent),
           "SUBSET_EXPLORER_HOME": str(cache / "home")}
    rows: list = []
    for n in counts:
        first = len(rows)
        proc, url = start_app(env)
        memory = TreeMemory(proc.pid)
        try:
            asyncio.run(asyncio.wait_for(
                one_n(n, url, path, n_text, args.changes, args.heavy, args.second_heavy,
                      memory, rows, args.layout), timeout=3600))
        except Exception as exc:  # noqa: BLE001 - report what was measured so far
            print(f"N={n}: stopped: {type(exc).__name__}: {exc}", flush=True)
        finally:
            memory.stop()
            stop_app(proc)
        report(rows[first:], header=n == counts[0])
    print("\nAll N:")
    report(rows, header=True)


def report(rows, header: bool) -> None:
    if header:
        print(f"\n{'N':>2}  {'phase':<22}{'changes':>8}{'p50 s':>8}{'p95 s':>8}{'max s':>8}"
              f"{'peak RSS MiB':>14}{'load':>6}{'max':>6}  heavy runs / failures")
    for n, phase, times, failures, heavy, peak, load, load_max in rows:
        extra = ", ".join(f"{k} {v:.1f} s" if isinstance(v, float) else f"{k}: {v}"
                          for k, v in heavy.items())
        if failures:
            extra += f" failures: {failures}"
        print(f"{n:>2}  {phase:<22}{len(times):>8} {percentiles(times)}{peak:>14,.0f}"
              f"{load:>6.1f}{load_max:>6.1f}  {extra}", flush=True)


if __name__ == "__main__":
    main()
