"""The first run of a fresh install: seconds from ``./run app`` to the first map and to the
first scorecard on screen in Chromium, the same for a second start, and the first
``explorer select`` (k-center, 50 of the digits sample).

    python benchmarks/bench_first_run.py [--rev REV] [--keep] [--install-warm-up]

Each measurement starts from a fresh ``git clone`` of this checkout at ``REV`` (default HEAD,
committed work only) with empty caches:

- numba: ``NUMBA_CACHE_DIR`` set to an empty folder. numba's first cache locator is this
  variable, so every ``cache=True`` function (ours, umap-learn's, pynndescent's) reads and
  writes there instead of the ``__pycache__`` next to its module (a fresh clone has none for
  ours; the installed umap-learn and pynndescent have warm ones in site-packages, which
  this bypasses);
- layouts: ``SUBSET_EXPLORER_CACHE`` set to an empty folder;
- ``HOME`` (streamlit's settings, the workspace, ~/.cache) an empty folder.

The environment counts as installed: the clone's ``./run`` is pointed (``EXPLORER_VENV``) at
a thin virtualenv whose ``.pth`` file puts the shared environment's site-packages
(``sys.prefix`` of the Python running this script) on the path, stamped as installed, so
``./run app`` goes straight to ``streamlit run`` as it does for a user the second time.
The project itself is imported from the clone (its folder comes first on the path).

The second start keeps the caches the first one filled. The machine may be shared: every
figure is printed with the load average, so re-run when it was disturbed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from appdriver import free_port, launch_chromium  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MAP = "[class*='st-key-map-'] canvas"
SCORECARD = "[aria-label*='random 5–95% and mean']"
UMAP_PENDING = "PCA layout shown while UMAP computes"


def load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def fresh_clone(rev: str, where: Path) -> Path:
    clone = where / "clone"
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", rev], check=True)
    return clone


def thin_venv(clone: Path, where: Path) -> Path:
    """A virtualenv reusing this interpreter's installed packages, stamped as installed for
    the clone's ``./run``, so it installs nothing."""
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c",
                                "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "shared-env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    digest = hashlib.sha1((clone / "pyproject.toml").read_bytes()).hexdigest()[:12]
    (venv / f".installed-app-{digest}").touch()
    return venv


def empty_caches(where: Path, venv: Path) -> dict:
    home = where / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "NUMBA",
                                                                     "SUBSET_EXPLORER"))}
    env.update(HOME=str(home), NUMBA_CACHE_DIR=str(where / "numba"),
               SUBSET_EXPLORER_CACHE=str(where / "layouts"), EXPLORER_VENV=str(venv))
    for folder in (home, where / "numba", where / "layouts"):
        folder.mkdir()
    return env


def start(clone: Path, env: dict) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(["./run", "app", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false"], cwd=clone, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    while time.perf_counter() - t0 < 300:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.1)
    return proc, url, t0


def stop(proc: subprocess.Popen) -> None:
    import signal

    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def measure_app(browser, clone: Path, env: dict, label: str, shots: Path) -> dict:
    proc, url, t0 = start(clone, env)
    out = {"server": time.perf_counter() - t0}
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    try:
        page.goto(url)
        page.locator(MAP).first.wait_for(state="visible", timeout=600_000)
        out["map"] = time.perf_counter() - t0
        out["map_was_umap"] = page.get_by_text(UMAP_PENDING, exact=False).count() == 0
        page.locator(SCORECARD).first.wait_for(state="attached", timeout=600_000)
        out["scorecard"] = time.perf_counter() - t0
        out["umap_pending_at_scorecard"] = page.get_by_text(UMAP_PENDING,
                                                            exact=False).count() > 0
        page.get_by_text(UMAP_PENDING, exact=False).first.wait_for(state="detached",
                                                                   timeout=600_000)
        out["umap"] = time.perf_counter() - t0
        page.wait_for_timeout(1000)
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / f"first-run-{label}.png"), full_page=True)
    finally:
        page.close()
        stop(proc)
    out["load"] = load()
    return out


def measure_select(clone: Path, env: dict, where: Path) -> dict:
    """``explorer select`` through the clone's ``./run`` (the thin venv has no console
    script, so the module is run with its Python, from the clone)."""
    py = Path(env["EXPLORER_VENV"]) / "bin" / "python"
    cmd = [str(py), "-m", "explorer", "select", "sample_data/digits.parquet", "--strategy",
           "k-center", "--budget", "50", "--out", str(where / "picks.csv"), "-q", "--force"]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=clone, env=env, check=True)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=clone, env=env, check=True)
    return {"first": first, "second": time.perf_counter() - t0, "load": load()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rev", default="HEAD")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folders")
    ap.add_argument("--shots", default=str(ROOT / "artifacts" / "screenshots"))
    ap.add_argument("--install-warm-up", action="store_true",
                    help="also: a fresh clone whose caches ./run's install step warmed "
                    "(python -m explorer.warmup), then its first start")
    args = ap.parse_args()
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.rev],
                         check=True, capture_output=True, text=True).stdout.strip()
    print(f"first run of {rev} on {os.cpu_count()} cores; {load()} at the start")
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="first-run-"))
    try:
        app_dir, cli_dir = tmp / "app", tmp / "cli"
        app_dir.mkdir()
        cli_dir.mkdir()
        clone = fresh_clone(rev, app_dir)
        env = empty_caches(app_dir, thin_venv(clone, app_dir))
        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                runs = {label: measure_app(browser, clone, env, label, Path(args.shots))
                        for label in ("first", "second")}
            finally:
                browser.close()
        print("seconds from ./run app (digits sample, k-center 50, as the app opens):")
        print(f"  {'start':7} {'server':>7} {'map':>7} {'scorecard':>10} {'umap done':>10}  "
              "map was UMAP  UMAP pending at scorecard")
        for label, r in runs.items():
            print(f"  {label:7} {r['server']:7.1f} {r['map']:7.1f} {r['scorecard']:10.1f} "
                  f"{r['umap']:10.1f}  {str(r['map_was_umap']):12}  "
                  f"{str(r['umap_pending_at_scorecard']):5}  ({r['load']})")
        if args.install_warm_up:
            warm_dir = tmp / "warm"
            warm_dir.mkdir()
            clone = fresh_clone(rev, warm_dir)
            env = empty_caches(warm_dir, thin_venv(clone, warm_dir))
            t0 = time.perf_counter()
            subprocess.run([str(Path(env["EXPLORER_VENV"]) / "bin" / "python"), "-W",
                            "ignore", "-m", "explorer.warmup"], cwd=clone, env=env, check=True,
                           stdout=subprocess.DEVNULL)
            print(f"  (install warm-up {time.perf_counter() - t0:.1f} s, {load()})")
            with sync_playwright() as p:
                browser = launch_chromium(p)
                try:
                    r = measure_app(browser, clone, env, "after-install-warm-up",
                                    Path(args.shots))
                finally:
                    browser.close()
            print(f"  {'warmed':7} {r['server']:7.1f} {r['map']:7.1f} {r['scorecard']:10.1f} "
                  f"{r['umap']:10.1f}  {str(r['map_was_umap']):12}  "
                  f"{str(r['umap_pending_at_scorecard']):5}  ({r['load']})")
        print("  targets: map < 5 s, scorecard < 10 s; the second start faster still")
        clone = fresh_clone(rev, cli_dir)
        env = empty_caches(cli_dir, thin_venv(clone, cli_dir))
        sel = measure_select(clone, env, cli_dir)
        print(f"explorer select (k-center, 50 of digits) on a fresh install: first "
              f"{sel['first']:.1f} s, second {sel['second']:.1f} s ({sel['load']})")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
