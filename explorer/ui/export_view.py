"""The Export page: download buttons and the saved-selections workspace."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

import explorer
from explorer.cost import estimate_score
from explorer.data.workspace import CorruptWorkspace, Workspace, default_folder, move_aside
from explorer.evaluate.compare import jaccard

from . import compute, engine_view, state


@st.cache_data(show_spinner=False, max_entries=16,
               hash_funcs={explorer.Selection: lambda s: (s.fingerprint, s.indices.tobytes(),
                                                          s.strategy, s.seed, str(s.params))})
def export_bytes(data_key, sel, label_column, with_scorecard: bool = True):
    """Every download format as bytes, written by the library's own export; the manifest
    holds the scorecard unless scoring was left out (a long one not asked for)."""
    from .data import load_cached

    data = load_cached(*data_key)
    card = compute.scorecard(data_key, sel, sel.metric, label_column) if with_scorecard \
        else None
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / f"{data.name}-{sel.strategy}-{len(sel)}"
        for suffix in (".csv", ".parquet", ".npy"):
            explorer.export(data, sel, base.with_suffix(suffix))
            out[suffix] = base.with_suffix(suffix).read_bytes()
        explorer.write_manifest(base.with_suffix(".json"), data, sel, card)
        out[".json"] = base.with_suffix(".json").read_bytes()
    return out


def downloads(data, sel) -> None:
    st.subheader("Download this selection")
    st.write(f"**{sel.strategy}**, {len(sel)} rows of {data.name} (seed {sel.seed}, "
             f"{sel.metric}).")
    est = estimate_score(data.n, data.dim, len(sel.indices))
    scored = state.may_score(sel, est.heavy)
    files = export_bytes(state.get("data_key"), sel, state.get("label_column"), scored)
    if not scored:
        st.caption(f"The manifest leaves the scorecard out: scoring these {len(sel):,} rows "
                   f"would take {est.describe()} Press **Score against random** on Explore "
                   "to include it.")
    stem = f"{data.name}-{sel.strategy}-{len(sel)}"
    c = st.columns(4)
    c[0].download_button("CSV", files[".csv"], f"{stem}.csv", "text/csv", key="dl_csv",
                         help="rank, index, id, then the metadata columns")
    c[1].download_button("Parquet", files[".parquet"], f"{stem}.parquet",
                         "application/octet-stream", key="dl_parquet")
    c[2].download_button("Indices (.npy)", files[".npy"], f"{stem}.npy",
                         "application/octet-stream", key="dl_npy")
    c[3].download_button("Manifest (JSON)", files[".json"], f"{stem}.json", "application/json",
                         key="dl_json", help="Replays the selection from the command line.")
    st.code(f"explorer select --replay {stem}.json --out {stem}.csv", language="bash")


def _allowed_folder(text: str) -> Path:
    """The workspace folder a visitor typed, when it is the server's default one or lies below
    the allowed folders (checked before anything is created)."""
    from .data import checked_folder

    if Path(text).expanduser() == default_folder():
        return default_folder()
    return checked_folder(text, "Workspace folder")


def workspace(data, sel) -> None:
    st.subheader("Workspace")
    folder = state.remembered(st.text_input, "Workspace folder", "ws_folder",
                              default=str(default_folder()),
                              help="Saved selections live in workspace.sqlite in this folder "
                              "and survive restarts.")
    moved = state.get("workspace_moved")
    if moved:
        st.success(f"The damaged workspace file is kept as {moved}; a new workspace starts "
                   "here.")
        state.put("workspace_moved", None)
    try:
        saved_selections(Workspace(_allowed_folder(folder)), data, sel)
    except CorruptWorkspace as exc:
        st.error(str(exc))
        if st.button("Move it aside and start a new workspace", key="ws_move_aside",
                     help="Renames the file (nothing is deleted) so a new workspace.sqlite "
                     "can start in this folder."):
            try:
                state.put("workspace_moved", str(move_aside(exc.path)))
            except explorer.ExplorerError as err:
                st.error(str(err))
                return
            st.rerun()
    except explorer.ExplorerError as exc:
        st.error(str(exc))


def saved_here(saved, data) -> list:
    """Names of the saved selections made on ``data``: those with its fingerprint, or, on
    shards no run has read every one of yet (the fingerprint unknown), those saved under its
    name (a reload then checks the fingerprint)."""
    if data.fingerprint is None and engine_view.is_sharded(data):
        return saved[saved["dataset"] == data.name]["name"].tolist()
    return saved[saved["fingerprint"] == data.fingerprint]["name"].tolist()


def saved_selections(ws: Workspace, data, sel) -> None:
    """Save, list, reload, delete and compare the workspace's selections. A damaged row is
    reported where it is used; a damaged file raises CorruptWorkspace to the caller. On a
    sharded dataset the current selection is the engine run, a reload makes a saved run the
    current one without running it again, and the overlap is computed on request (each
    check reads the shards that hold the saved rows)."""
    sharded = engine_view.is_sharded(data)
    reloaded = engine_view.reloaded_run() if sharded else None
    if reloaded is not None and reloaded[1] is sel:
        st.success(f"Reloaded {reloaded[0]!r}: {len(sel):,} rows, its ids checked against the "
                   "shards. It is the current run: download it above, or open Explore to see "
                   "it.")
    if sel is not None and sel.fingerprint == data.fingerprint and \
            (sel.engine or not sharded):
        c1, c2, c3 = st.columns([2, 1, 1])
        name = c1.text_input("Save the current selection as", key="ws_name",
                             placeholder=f"{sel.strategy}-{len(sel)}")
        replace = c2.checkbox("Replace if it exists", key="ws_replace")
        if c3.button("Save", key="ws_save"):
            try:
                done = ws.save(name, data, sel, replace=replace)
                st.success(f"{done.capitalize()} {name.strip()!r} in {ws.path}.")
            except CorruptWorkspace:
                raise
            except explorer.ExplorerError as exc:
                st.error(str(exc))
    saved = ws.list()
    if saved.empty:
        st.info("No saved selections yet.")
        return
    st.dataframe(saved, hide_index=True, width="stretch")
    here = saved_here(saved, data)
    c1, c2, c3 = st.columns(3)
    pick = c1.selectbox("Saved selection", saved["name"].tolist(), key="ws_pick")
    if c2.button("Reload into Explore", key="ws_reload", disabled=pick not in here,
                 help="Only selections saved on the loaded dataset can be reloaded." + (
                     " On shards the saved rows are checked, not selected again." if sharded
                     else "")):
        from explorer.data.export import replay

        if sharded:
            error = engine_view.reload_saved(ws, pick, data)
            if error is None:
                st.rerun()  # the downloads above show the reloaded run
            st.error(error)
            return

        try:
            _, again = replay(ws.manifest(pick), data=data, allow_paths=False)
            state.put("selection", again)
            st.success(f"Reloaded {pick!r}: {len(again)} rows. Open Explore to see it.")
        except CorruptWorkspace:
            raise
        except explorer.ExplorerError as exc:
            st.error(str(exc))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            st.error(f"{ws.path}: the saved selection {pick!r} has a damaged manifest "
                     f"({type(exc).__name__}: {str(exc)[:80]}); delete it and save it again.")
    confirm = c3.checkbox("Yes, delete it", key="ws_confirm")
    if c3.button("Delete", key="ws_delete", disabled=not confirm):
        ws.delete(pick)
        st.rerun()
    if len(here) >= 2:
        chosen = st.multiselect("Compare saved selections (overlap)", here, default=here[:4],
                                key="ws_compare")
        if len(chosen) >= 2:
            from explorer.figures import jaccard_figure

            try:
                if sharded:
                    pressed = st.button("Compare overlap", key="ws_overlap")
                    rows = engine_view.saved_overlap(ws, chosen, data, pressed)
                    if rows is None:
                        return
                else:
                    rows = {n: ws.indices(n, data) for n in chosen}
                m = jaccard(rows)
            except CorruptWorkspace:
                raise
            except explorer.ExplorerError as exc:
                st.error(str(exc))
                return
            st.plotly_chart(jaccard_figure(m, "Jaccard overlap of saved selections"),
                            key="ws_jaccard")
