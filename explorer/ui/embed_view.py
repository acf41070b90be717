"""The sidebar's "Embed text or images" data source: a table's text or image column, or a
folder of images, embedded with a local model (:func:`explorer.embed.embed`) and loaded as the
dataset. Paths must lie below the app's allowed folders; the output goes to the cache folder
(``$SUBSET_EXPLORER_CACHE/embedded``), and shards already embedded are reused."""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from explorer.data.paths import inside_roots, regular_file
from explorer.errors import ExplorerError

from . import data as uidata
from . import state

KINDS = ("a text column", "an image column", "a folder of texts", "a folder of images")


@st.cache_data(show_spinner=False, max_entries=8)
def table_columns(path: str, mtime: float) -> list[str]:
    """The columns of the table at ``path`` (cached by its modification time)."""
    from explorer.embed.sources import read_table

    return [str(c) for c in read_table(path).columns]


def _checked(path: str, what: str, folder: bool = False) -> Path:
    real = inside_roots(path, what)
    if folder:
        if not real.is_dir():
            raise ExplorerError(f"{path} ({what}): is not a folder.")
        return real
    return regular_file(real, what)


def output_path(*parts) -> Path:
    """Where an embedding of these inputs is written: one file per inputs and model, named
    like the input (the dataset's name) in a folder named by their hash, so embedding the
    same thing again replaces it (from the cached shards)."""
    from explorer.projection import cache_dir

    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).hexdigest()
    stem = Path(str(parts[0])).stem or "embedded"
    folder = cache_dir() / "embedded" / digest  # the file keeps the input's name
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{stem}.parquet"


def embed_source(sb) -> None:
    """The widgets of the source, the Embed button and its progress bar. A finished run
    stores the data key of its output under ``embedded_key``; an error stays on screen."""
    kind = state.remembered(sb.radio, "Embed", "embed_kind", options=KINDS)
    text = kind in (KINDS[0], KINDS[2])
    column = id_column = table = folder = None
    if kind in (KINDS[2], KINDS[3]):
        folder = state.remembered(sb.text_input, f"Folder of {kind.split()[-1]}", "embed_dir",
                                  default="", placeholder="/data/notes" if text else
                                  "/data/photos", help="Every .txt / .md / .rst file (texts) "
                                  "or image file below it is a row; ids are relative paths.")
    else:
        table = state.remembered(sb.text_input, "Table (.csv, .parquet, .jsonl)",
                                 "embed_table", default="", placeholder="/data/notes.csv",
                                 help="Press Enter to read its columns.")
        if table:
            try:
                real = _checked(table, "table")
                columns = table_columns(str(real), real.stat().st_mtime)
            except ExplorerError as exc:
                sb.error(str(exc))
                return
            guess = "text" if text else "image"
            column = state.remembered(sb.selectbox, "Column to embed", "embed_column",
                                      options=columns,
                                      index=columns.index(guess) if guess in columns else 0)
            ids = ["(row numbers)"] + columns
            chosen = state.remembered(sb.selectbox, "Id column", "embed_id", options=ids,
                                      index=ids.index("id") if "id" in ids else 0)
            id_column = None if chosen == ids[0] else chosen
    model = state.remembered(
        sb.text_input, "Model folder", "embed_model", default="",
        placeholder="built in: all-MiniLM-L6-v2" if text else "/models/dinov2-small",
        help="A local checkpoint folder (nothing is downloaded). Text: sentence-transformers; "
        "empty means all-MiniLM-L6-v2. Images: a transformers vision checkpoint.")
    ready = bool(folder) or bool(table and column)
    if sb.button("Embed", key="embed_run", disabled=not ready, type="primary"):
        bar = sb.progress(0.0, text="Starting ...")
        try:
            run(kind, table, column, id_column, folder, model or None,
                lambda f, m: bar.progress(min(1.0, max(0.0, f)), text=m))
        except ExplorerError as exc:
            state.put("embed_error", str(exc))
        else:
            state.put("embed_error", None)
        bar.empty()
    if state.get("embed_error"):
        sb.error(state.get("embed_error"))


def run(kind, table, column, id_column, folder, model, progress) -> None:
    """Embed as the widgets say and make the output the requested dataset."""
    from explorer.embed import embed

    if model:
        model = str(_checked(model, "model folder", folder=True))
    if folder:
        source = _checked(folder, f"folder of {kind.split()[-1]}", folder=True)
        out = output_path(source, kind, model)
        where = {"text_dir": source} if kind == KINDS[2] else {"image_dir": source}
        embed(**where, model=model, out=out, force=True, progress=progress)
        id_column = "id"
    else:
        source = _checked(table, "table")
        out = output_path(source, column, id_column, model, source.stat().st_mtime)
        options = {"text_column": column} if kind == KINDS[0] else {"image_column": column}
        embed(source, **options, id_column=id_column, model=model, out=out, force=True,
              progress=progress)
    state.put("embedded_key", uidata.key_for_app_output(out, id_column))
