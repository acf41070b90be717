"""Start the app on a free local port and open headless Chromium on it (for the app
benchmarks; the test suite has its own fixtures in tests/test_browser.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(env: dict) -> tuple[subprocess.Popen, str]:
    """The app in its own process with ``env``; returns (process, url) once it is healthy."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless",
         "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(180):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    return proc, url


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def launch_chromium(playwright):
    """Debian's headless Chromium through Playwright."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    return playwright.chromium.launch(executable_path=chromium, headless=True,
                                      args=["--no-sandbox", "--disable-dev-shm-usage"])


def app_env(home_prefix: str) -> dict:
    """This process's environment, with a new temporary workspace folder (a lock or a saved
    selection goes there, not to ~) and this checkout on the path."""
    return dict(os.environ, SUBSET_EXPLORER_HOME=tempfile.mkdtemp(prefix=home_prefix),
                PYTHONPATH=str(ROOT))


@contextlib.contextmanager
def app_page(env: dict, viewport: dict):
    """Yields (page, url): a headless Chromium page of ``viewport`` ({"width": ...,
    "height": ...}) and the app started with ``env``, not yet opened. The app stops when the
    block ends."""
    proc, url = start_app(env)
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            yield browser.new_page(viewport=viewport), url
            browser.close()
    finally:
        stop_app(proc)
