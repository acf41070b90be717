"""What the AppTest files share: the app's script, the app opened with session state set
before its first run, and the text of a page's elements."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 240


def opened(timeout: float = TIMEOUT, **state) -> AppTest:
    """The app after its first run, with ``state`` in its session state from the start
    (AppTest re-runs only the page after the first run, so the sidebar's choices must be in
    place before it); the run raised nothing."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> str:
    """The values of page elements (captions, markdown, ...) as one string."""
    return " ".join(str(e.value) for e in elements)
