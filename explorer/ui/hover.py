"""What the Explore map shows under the cursor: the row's thumbnail (an image column or a
column of image paths) and its text snippet, for every point drawn.

The thumbnails are files the library writes (:mod:`explorer.data.thumbnails`) into the
``static/`` folder beside the app's main script, which Streamlit serves at ``app/static/``
when ``server.enableStaticServing`` is on (.streamlit/config.toml). The tooltip names the
hovered row's file by its row number, so the browser fetches that one image only and the
map's data carries no URL.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from explorer.data import previews, thumbnails

from . import state
from .data import load_cached

#: Characters of a row's text shown on hover. Unlike a thumbnail, a snippet rides in every
#: drawn point's data (a tooltip template cannot fetch text), so above
#: HOVER_TEXT_BUDGET / HOVER_TEXT_CHARS points the snippets get shorter (at least
#: HOVER_TEXT_MIN characters) and the map's option stays within about that many characters
#: more.
HOVER_TEXT_CHARS = 80
HOVER_TEXT_MIN = 24
HOVER_TEXT_BUDGET = 400_000


def snippet_chars(points: int) -> int:
    """Characters of each point's snippet on a map of ``points`` points.

    >>> snippet_chars(1_010), snippet_chars(10_000), snippet_chars(20_050)
    (80, 40, 24)
    """
    return max(HOVER_TEXT_MIN, min(HOVER_TEXT_CHARS, HOVER_TEXT_BUDGET // max(points, 1)))
#: The URL Streamlit serves the static folder at (relative: it follows the page's base path).
STATIC_URL = "app/static"


@dataclass(frozen=True)
class Hover:
    """The map's hover: ``notes`` (row -> one line: snippet, why there is no image) for every
    drawn row, or None when there is nothing to say; the thumbnails' URL folder or None."""

    notes: object
    image_folder: str | None
    problems: int = 0


def static_root() -> Path | None:
    """The folder Streamlit serves as ``app/static``, or None when static serving is off."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or not st.get_option("server.enableStaticServing"):
        return None
    return Path(ctx.main_script_path).resolve().parent / "static"


@st.cache_data(show_spinner="Making the map's hover thumbnails (once per image) ...",
               max_entries=8)
def _thumbnails(data_key, rows: np.ndarray, root: str):
    return thumbnails.hover_thumbnails(load_cached(*data_key), rows, root)


@st.cache_data(show_spinner=False, max_entries=8)
def _folder(data_key, column: str) -> str:
    return thumbnails.view_folder(load_cached(*data_key), column).as_posix()


def _signature(data_key, rows: np.ndarray, root: str) -> tuple:
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    return data_key, hashlib.sha1(rows.tobytes()).hexdigest(), root


def hover_for(data, data_key, rows: np.ndarray) -> Hover:
    """The hover of the map drawing ``rows`` (:func:`explorer.ui.live_charts.drawn_rows`).

    The map names the thumbnails' folder from its first drawing; files not yet made for
    these rows are made at the end of the page's run (:func:`make_pending_thumbnails`), after
    the selection and its scorecard, since making them decodes every drawn image. The map's
    option does not change when they appear, so a lasso drawn meanwhile stays; a hover
    before then shows no picture."""
    root = static_root()
    column = previews.image_column(data)
    folder, problems = None, {}
    if root is not None and column is not None:
        folder = _folder(data_key, column)
        wanted = _signature(data_key, rows, str(root))
        made = state.get("thumbnails_made")
        if made is not None and made[0] == wanted and (root / folder).is_dir():
            problems = made[1]
        else:
            state.put("thumbnails_pending", (data_key, rows, str(root)))
    has_text = previews.text_column(data) is not None
    chars = snippet_chars(len(rows))

    def note(row: int) -> str:
        parts = [previews.snippet(data, row, chars)] if has_text else []
        if row in problems:
            parts.append(problems[row])
        return " · ".join(p for p in parts if p)

    return Hover(note if has_text or problems else None,
                 f"{STATIC_URL}/{folder}" if folder is not None else None, len(problems))


def make_pending_thumbnails() -> bool:
    """Make the thumbnails of the rows the map draws, if they are pending; whether some rows
    have none (their reasons then join the map's hover, so the page redraws it)."""
    pending = state.get("thumbnails_pending")
    if pending is None:
        return False
    state.put("thumbnails_pending", None)
    data_key, rows, root = pending
    made = _thumbnails(data_key, rows, root)
    if not (Path(root) / made.folder).is_dir():
        _thumbnails.clear()  # another dataset's thumbnails pushed these out of the cache
        made = _thumbnails(data_key, rows, root)
    state.put("thumbnails_made", (_signature(data_key, rows, root), made.problems))
    return bool(made.problems)
