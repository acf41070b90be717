"""Runs on a sharded dataset: the engine they go to (chosen in the sidebar, one per session),
their progress, the Dask dashboard link, the map of a uniform sample plus every selected row,
and the export of such a run.

A sharded dataset is never in this process as a whole: the strategies offered are those with
a distributed form (:data:`explorer.engine.drivers.FORMS`), the scorecard is the engine's
(every row, against random subsets of the same size), and the map reads only its sample and
the selected rows (:mod:`explorer.engine.sample_map`).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import OrderedDict
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import streamlit as st

import explorer
from explorer.data.shards import ShardedDataset
from explorer.engine import drivers, get_engine
from explorer.engine.sample_map import (MAP_SAMPLE_ROWS, fit_projection, map_layout,
                                        read_map_sample)
from explorer.params import ParamSet
from explorer.strategies import list_strategies

from . import live_charts, state
from .heavy import heavy_turn

#: The sidebar's engine choices: state value -> label.
ENGINE_KINDS = {"local": "This process (local engine)",
                "cluster": "Dask: a local cluster",
                "scheduler": "Dask: a scheduler address"}
#: Random subsets the engine's scorecard measures next to the selection (the command line's
#: ``--random-draws`` default).
RANDOM_DRAWS = 30
#: Runs (selection and scorecard) a session keeps, so going back to a setting is instant.
KEPT_RUNS = 8
#: Seconds between two redraws of a progress bar (a k-center run reports every round).
PROGRESS_EVERY_S = 0.1


def is_sharded(data) -> bool:
    return isinstance(data, ShardedDataset)


# --- the session's engine ------------------------------------------------------------------


class EngineSlot:
    """This session's engine: opened for one choice of the sidebar (its ``spec``), closed
    when the choice changes or the session ends. A choice that failed keeps its message, so a
    bad scheduler address is not tried again on every rerun (each try waits up to 5 s)."""

    def __init__(self) -> None:
        self.spec = None
        self.engine = None
        self.error = None
        self._lock = threading.Lock()

    def get(self, spec: tuple, again: bool = False):
        """(engine, None) or (None, message) for ``spec``; ``again`` retries a failed one."""
        with self._lock:
            if spec == self.spec and not (again and self.error):
                return self.engine, self.error
            self._close()
            self.spec = spec
            try:
                self.engine = _open_engine(spec)
            except explorer.ExplorerError as exc:
                self.error = str(exc)
            except Exception as exc:  # noqa: BLE001 - one line on the page, not a traceback
                self.error = f"The Dask engine could not start: {type(exc).__name__}: {exc}"
            return self.engine, self.error

    def _close(self) -> None:
        engine, self.engine, self.error = self.engine, None, None
        if engine is not None:
            try:
                engine.close()
            except Exception:  # noqa: BLE001 - a cluster already gone has nothing to close
                pass

    def close(self) -> None:
        with self._lock:
            self._close()
            self.spec = None


def _open_engine(spec: tuple):
    kind, workers, memory, address = spec
    if kind == "cluster":
        return get_engine("dask", workers=int(workers), memory_limit=memory,
                          local_cluster=True)
    if kind == "scheduler":
        if not address:
            raise explorer.ExplorerError("Dask scheduler: type its address (tcp://HOST:8786) "
                                         "in the sidebar, or set DASK_SCHEDULER_ADDRESS where "
                                         "the app is started.")
        return get_engine("dask", scheduler=address)
    return get_engine("local")


@st.cache_resource(scope="session", on_release=lambda slot: slot.close(), show_spinner=False)
def _session_slot() -> EngineSlot:
    """The session's engine slot; Streamlit releases it (closing its cluster) when the
    session ends."""
    return EngineSlot()


def _memory_limit(text: str) -> str:
    """A worker's memory limit as typed ('auto', '2GiB', '1.5 GB'), checked."""
    from dask.utils import parse_bytes

    text = (text or "").strip() or "auto"
    if text.lower() == "auto":
        return "auto"
    try:
        parse_bytes(text)
    except (ValueError, TypeError):
        raise explorer.ExplorerError(f"Memory per worker {text!r}: not a size; give e.g. 2GiB, "
                                     "500MB or auto.") from None
    return text


def engine_spec() -> tuple:
    """The sidebar's engine choice, from the session state it writes."""
    kind = state.get("engine_kind")
    if kind == "cluster":
        return ("cluster", int(state.get("engine_workers")),
                _memory_limit(state.get("engine_memory")), None)
    if kind == "scheduler":
        return ("scheduler", None, None, (state.get("engine_address") or "").strip() or None)
    return ("local", None, None, None)


def session_engine(again: bool = False):
    """(engine, None) for the sidebar's choice, or (None, the one-line reason it failed)."""
    try:
        spec = engine_spec()
    except explorer.ExplorerError as exc:
        return None, str(exc)
    return _session_slot().get(spec, again=again)


def engine_sidebar(sb) -> None:
    """Where runs on a sharded dataset go, and the engine's state."""
    import os

    sb.header("Engine")
    kind = state.remembered(sb.radio, "Runs go to", "engine_kind",
                            options=list(ENGINE_KINDS), format_func=ENGINE_KINDS.get,
                            help="Where selections, scorecards and the map's sample of a "
                            "sharded dataset are computed. The picks are the same on every "
                            "engine.")
    if kind == "cluster":
        state.remembered(sb.number_input, "Workers", "engine_workers", min_value=1,
                         max_value=256, step=1,
                         help="Worker processes of one thread each, on this machine.")
        state.remembered(sb.text_input, "Memory per worker", "engine_memory",
                         help="e.g. 2GiB; auto shares the machine's memory among the workers.")
    elif kind == "scheduler":
        if state.get("engine_address") is None:
            state.put("engine_address", os.environ.get("DASK_SCHEDULER_ADDRESS", ""))
        state.remembered(sb.text_input, "Scheduler address", "engine_address",
                         placeholder="tcp://HOST:8786",
                         help="A running `dask scheduler`; the default comes from "
                         "DASK_SCHEDULER_ADDRESS.")
    with sb:
        with st.spinner("Starting the engine ...") if kind != "local" else nullcontext():
            engine, error = session_engine()
    if error:
        sb.error(error)
        if sb.button("Try again", key="engine_retry"):
            session_engine(again=True)
            st.rerun()
    elif engine is not None:
        sb.caption(engine_line(engine))


def engine_line(engine) -> str:
    """The engine in one line, with the Dask dashboard's link when it has one."""
    if engine.name == "local":
        return "Engine: **local**, in this process, one shard after another."
    link = engine.dashboard
    return (f"Engine: **Dask**, {engine.workers} worker(s)"
            + (f" · [Dask dashboard]({link})" if link else " · no dashboard (install bokeh)"))


# --- running on the engine ----------------------------------------------------------------


def engine_strategies() -> list:
    """The registered strategies that have a distributed form, in the registry's order."""
    return [s for s in list_strategies() if s.name in drivers.FORMS]


def progress_callback(bar, stage: str):
    """A progress(fraction, message) that redraws ``bar`` at most every PROGRESS_EVERY_S."""
    last = [0.0]

    def say(fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_S and fraction < 1.0:
            return
        last[0] = now
        bar.progress(min(1.0, max(0.0, float(fraction))),
                     text=f"{stage}: {message}" if message else stage)

    return say


def engine_inputs() -> set:
    """The inputs a strategy may need that this session gives on a sharded dataset, by name:
    the sidebar's label and group columns, the map's target set."""
    return {name for name, key in (("labels", "label_column"), ("groups", "group_column"),
                                   ("target", "engine_target")) if state.get(key)}


def strategy_panel(data):
    """The strategy (those with a distributed form), its parameters, its mode and bound.

    Returns (spec, params, mode, missing)."""
    from .strategy_panel import param_widgets

    specs = engine_strategies()
    labels = {s.name: f"{s.family} · {s.name}" for s in specs}
    name = state.remembered(st.selectbox, "Strategy", "engine_strategy",
                            options=[s.name for s in specs], format_func=labels.get,
                            help="On a sharded dataset: the strategies with a distributed "
                            "form, which give the same picks on every engine.")
    spec = next(s for s in specs if s.name == name)
    form = drivers.FORMS[name]
    st.caption(spec.summary)
    missing = spec.missing_inputs(engine_inputs())
    if missing:
        st.warning(f"{name} is unavailable: it needs {' and '.join(missing)}. Choose the column "
                   "in the sidebar (or lasso a target on the map).")
    params = param_widgets(spec, "engine_strategy")
    if form.extra:
        params.update(param_widgets(SimpleNamespace(name=name, params=ParamSet(name, form.extra),
                                                    nested=None), "engine_strategy"))
    mode = form.modes[0]
    if len(form.modes) > 1:
        mode = state.remembered(st.radio, "Mode", f"engine_mode:{name}", options=form.modes,
                                horizontal=True)
    st.caption(f"Distributed form ({mode}): {form.bounds[mode]}.")
    return spec, params, mode, missing


def eps_chooser(data, engine, params) -> None:
    """SemDeDup's eps at scale: once every row's largest similarity to an earlier row of its
    cluster is stored (by a run, or by the button here), each eps's count is a filter of that
    profile, not a rerun."""
    from .explore_view import EPS_STEPS

    metric, seed = state.get("metric"), int(state.get("seed"))
    n_clusters, eps = int(params["n_clusters"]), float(params["eps"])
    with st.expander("Choose eps: near-duplicates in this data", expanded=False):
        found = drivers.stored_semdedup_profile(data, metric, n_clusters, seed)
        if found is None:
            st.caption("Measured once on the engine, over every row; then every eps below is "
                       "a filter of it, not a rerun.")
            if engine is None or not st.button("Measure near-duplicates",
                                               key="engine_eps_measure"):
                return
            bar = st.progress(0.0, text="Measuring near-duplicates ...")
            try:
                run = drivers.Run(data, engine, metric,
                                  progress_callback(bar, "Measuring near-duplicates"))
                found = drivers.semdedup_profile(run, n_clusters, seed)
            except explorer.ExplorerError as exc:
                st.error(str(exc))
                return
            finally:
                bar.empty()
        profile, facts = found
        st.dataframe([{"eps": e, "similarity above": round(1 - e, 3),
                       "rows removed": profile.removed(e),
                       "rows kept": data.n - profile.removed(e)} for e in EPS_STEPS],
                      hide_index=True, width="stretch")
        st.caption(f"At eps {eps:g}, **{profile.removed(eps):,} of {data.n:,} rows** go: each "
                   "has an earlier row of its k-means cluster with cosine similarity above "
                   f"{1 - eps:.3f}. {facts['n_clusters']} clusters, the largest "
                   f"{facts['largest_cluster']:,} rows; {facts['pairs_compared']:,} pairs "
                   "compared (pairs in different clusters are not).")


def budget_of(data, spec):
    """The sidebar's budget as a row count (None when the strategy sets its own size)."""
    from .sidebar import budget_value

    return None if spec.sets_size else int(budget_value(data))


def run_key(data, spec, params, mode) -> tuple:
    """What identifies a run on the engine (the engine's choice included: its record goes
    into the manifest)."""
    return (state.get("data_key"), spec.name, tuple(sorted(params.items())), mode,
            budget_of(data, spec), int(state.get("seed")), state.get("metric"),
            state.get("label_column"), state.get("group_column"), engine_spec(),
            tuple(target_of(spec)))


def target_of(spec) -> list:
    """The target rows a strategy that needs them is given (the lasso's, on the map)."""
    return list(state.get("engine_target")) if "target" in spec.needs else []


def on_engine(engine, what: str, button: str, work):
    """``work(bar)`` on ``engine``, ``bar`` a progress bar it feeds; on the local engine in
    the server's one heavy-run turn (it works in the server's own process: one such run at
    a time). Returns (its result, None), or (None, the one-line reason it failed, which says
    to press ``button`` again when the engine itself failed)."""
    bar = st.progress(0.0, text=f"Starting {what} on the {engine.name} engine ...")
    turn = heavy_turn(f"{what} on the local engine") if engine.name == "local" \
        else nullcontext()
    try:
        with turn:
            return work(bar), None
    except explorer.ExplorerError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a lost cluster, a closed connection: said
        return None, (f"The {engine.name} engine failed during the run: "
                      f"{type(exc).__name__}: {exc}. Check the engine in the sidebar and "
                      f"press {button} again.")
    finally:
        bar.empty()


def keep_run(store: str, key, result) -> None:
    """Keep ``result`` under ``key`` in the session's dict ``store`` (a state key), which
    holds the last KEPT_RUNS results, so going back to a setting is instant."""
    runs = state.get(store)
    runs[key] = result
    while len(runs) > KEPT_RUNS:
        runs.pop(next(iter(runs)))


def pressed_run(engine, store: str, failures: str, key, pressed: bool, what: str,
                button: str, work, waiting: str):
    """The result of a run that starts only when ``button`` is pressed (it reads shards): the
    one kept under ``key`` in the session's dict ``store``, made now by ``work(bar)`` on
    ``engine`` (:func:`on_engine`) when ``pressed`` and none is kept. Without one, shows why
    and returns None: the one-line reason the last try of ``key`` failed (kept in the state
    key ``failures`` as (key, reason)), or the info ``waiting``."""
    kept = state.get(store)
    if pressed and key not in kept:
        done, error = on_engine(engine, what, button, work)
        state.put(failures, None if done is not None else (key, error))
        if done is not None:
            keep_run(store, key, done)
    if key in kept:
        return kept[key]
    failed = state.get(failures)
    if failed is not None and failed[0] == key:
        st.error(failed[1])
    else:
        st.info(waiting)
    return None


def run_on_engine(data, engine, spec, params, mode, key) -> None:
    """Select and score on ``engine`` with a progress bar; the result (or the one-line reason
    it failed) is kept in the session."""
    seed, metric = int(state.get("seed")), state.get("metric")

    def select_and_score(bar):
        sel = explorer.select(data, spec.name, budget_of(data, spec), seed=seed,
                              metric=metric, params=params, mode=mode, engine=engine,
                              label_column=state.get("label_column"),
                              group_column=state.get("group_column"),
                              target=np.asarray(target_of(spec), dtype=np.int64)
                              if target_of(spec) else None,
                              progress=progress_callback(bar, "1 of 2 · selecting"))
        card = drivers.score(data, sel, engine=engine, metric=metric,
                             random_draws=RANDOM_DRAWS, seed=seed,
                             label_column=state.get("label_column"),
                             progress=progress_callback(bar, "2 of 2 · scoring"))
        return sel, card

    done, error = on_engine(engine, spec.name, "Run", select_and_score)
    state.put("engine_error", error)
    if done is None:
        return
    keep_run("engine_runs", key, done)
    state.put("selection", done[0])
    state.put("engine_scorecard", done[1])
    state.put("engine_reloaded", None)  # the run just made is the page's now


def current_run(key):
    """(selection, scorecard) of the run ``key`` when this session made it, else None."""
    return state.get("engine_runs").get(key)


# --- saved runs (the workspace) --------------------------------------------------------------


def reload_saved(ws, name: str, data) -> str | None:
    """Make the workspace's saved run ``name`` this session's current engine run, as a run
    made on the Explore page is: its saved indices checked against the shards (the ids of
    the shards that hold its rows are read, on the sidebar's engine), its strategy not run
    again. Returns None, or the one-line reason it failed."""
    engine, error = session_engine()
    if error:
        return error
    sel, error = on_engine(engine, f"checking {name!r} against the shards",
                           "Reload into Explore", lambda bar: ws.saved_run(name, data, engine))
    if error:
        return error
    state.put("selection", sel)
    state.put("engine_scorecard", None)  # a saved run's scorecard is not kept: Run scores
    state.put("engine_reloaded", (state.get("data_key"), name, sel, None))
    return None


def reloaded_run():
    """(name, selection) of the saved run reloaded on this dataset and not since replaced by
    a run made here, else None."""
    kept = state.get("engine_reloaded")
    if kept is None or kept[0] != state.get("data_key"):
        return None
    return kept[1], kept[2]


def reloaded_on_explore(key):
    """:func:`reloaded_run` as the Explore page shows it: in place of the panel's run until a
    setting of the panel changes (``key``, the panel's run key, differs from the one it first
    showed under) or **Run** is pressed; then None."""
    found = reloaded_run()
    if found is None:
        return None
    data_key, name, sel, shown_under = state.get("engine_reloaded")
    if shown_under is None:
        state.put("engine_reloaded", (data_key, name, sel, key))
    elif shown_under != key:
        state.put("engine_reloaded", None)
        return None
    return found


def saved_overlap(ws, names: list, data, pressed: bool):
    """{name: checked row indices} of the saved runs ``names``, each checked against the
    shards when **Compare overlap** is pressed (:func:`pressed_run`; it reads shards), kept
    by what each entry holds so a changed entry is checked again; None until then."""
    import hashlib
    import json

    engine, error = session_engine()
    if error:
        st.error(error)
        return None
    digests = tuple((n, hashlib.sha1(json.dumps(ws.manifest(n)["selection"]).encode())
                     .hexdigest()) for n in names)
    key = (state.get("data_key"), str(ws.path), digests)
    return pressed_run(
        engine, "ws_overlaps", "ws_overlap_error", key, pressed,
        "checking the saved selections", "Compare overlap",
        lambda bar: {n: ws.indices(n, data, engine) for n in names},
        "Press **Compare overlap**: it checks each saved selection's ids against the shards "
        "that hold its rows.")


# --- the map ------------------------------------------------------------------------------

class Kept:
    """The last ``size`` results by key, shared by the sessions of this server (a sample and
    a layout are the same on every engine, so any session may reuse them)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, make):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()  # outside the lock: reading shards may take minutes
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


#: The maps' samples (each up to 200,000 rows), the projections fitted on them, and their
#: layouts with a selection's rows.
SAMPLES = Kept(4)
PROJECTIONS = Kept(4)
LAYOUTS = Kept(8)
#: The map's projections as the page names them.
MAP_PROJECTIONS = {"PCA": "pca", "UMAP": "umap"}


def _digest(rows) -> str | None:
    import hashlib

    if rows is None:
        return None
    return hashlib.sha1(np.sort(np.asarray(rows, dtype=np.int64)).tobytes()).hexdigest()


def map_rows(data, engine, rows: int, metric: str, columns: tuple, selected, target=(),
             progress=None, method: str = "pca", fitting=None):
    """The map's layout: its uniform sample of ``data`` (read once per dataset, size, metric
    and columns), the projection ``method`` fitted on it (once; ``fitting(fraction,
    message)`` hears a UMAP fit), the ``selected`` rows and the ``target`` rows, each read
    once, not on every rerun."""
    base = (state.get("data_key"), int(rows), metric, columns)
    sample = SAMPLES.get(base, lambda: read_map_sample(
        data, engine=engine, rows=rows, metric=metric, columns=columns, progress=progress))
    fitted = PROJECTIONS.get(base + (method,), lambda: fit_projection(sample, method, fitting))
    return LAYOUTS.get(base + (method, _digest(selected), _digest(target)), lambda: map_layout(
        data, sample, selected, also=target, engine=engine, metric=metric, projection=fitted))


def map_settings(data) -> tuple:
    """The sharded map's (rows in its sample, metadata columns, projection) as the Explore
    page last drew it (its defaults before it has), so that another page's map of the same
    data reuses the sample and the projection kept for it rather than reading every shard
    again."""
    rows = int(st.session_state.get("map_sample_rows", MAP_SAMPLE_ROWS))
    colour = st.session_state.get("shard_colour")
    columns = (colour,) if colour in data.columns and colour != data.id_column else ()
    return rows, columns, MAP_PROJECTIONS[st.session_state.get("shard_layout", "PCA")]


def picks_on_the_map(data, engine, picks: dict):
    """The map's sample laid out as on the Explore page, and the rows each strategy picked
    placed by the same projection (rows outside the sample are read from their shards):
    (the sample's MapLayout, {name: the 2-D positions of its picks}). A progress bar shows
    while the sample is read or a UMAP fitted."""
    rows, columns, method = map_settings(data)
    metric = state.get("metric")
    picked = np.unique(np.concatenate([np.asarray(p, dtype=np.int64) for p in picks.values()]))
    bar = st.empty()
    reading = progress_callback(bar, "Reading the map's sample")
    fitting = progress_callback(bar, "UMAP of the sample")
    try:
        sample = map_rows(data, engine, rows, metric, columns, None, (), reading, method,
                          fitting)
        placed = map_rows(data, engine, rows, metric, columns, picked, (), reading, method,
                          fitting)
    finally:
        bar.empty()
    return sample, {name: placed.xy[np.searchsorted(placed.index, np.asarray(p))]
                    for name, p in picks.items()}


def inside_areas(xy: np.ndarray, areas) -> np.ndarray:
    """Positions of the points ``xy`` inside any of the map's brushed ``areas`` (an
    ``st.echarts_chart`` selection's ``areas``: a box's ``coord_range`` [[x0, x1], [y0, y1]],
    or a lasso's polygon [[x, y], ...]), by their coordinates.

    >>> xy = np.array([[0.0, 0.0], [2.0, 2.0], [0.5, 0.2]])
    >>> inside_areas(xy, [{"brush_type": "rect", "coord_range": [[-1, 1], [-1, 1]]}]).tolist()
    [0, 2]
    >>> inside_areas(xy, [{"brush_type": "polygon",
    ...                    "coord_range": [[-1, -1], [1, -1], [1, 1], [-1, 1]]}]).tolist()
    [0, 2]
    """
    x, y = xy[:, 0], xy[:, 1]
    hit = np.zeros(len(xy), dtype=bool)
    for area in areas or ():
        box = np.asarray(area.get("coord_range") or [], dtype=np.float64)
        if area.get("brush_type") == "rect" and box.shape == (2, 2):
            hit |= (x >= box[0].min()) & (x <= box[0].max()) & \
                (y >= box[1].min()) & (y <= box[1].max())
        elif box.ndim == 2 and box.shape[0] >= 3 and box.shape[1] == 2:
            inside = np.zeros(len(xy), dtype=bool)  # even-odd rule, one edge at a time
            for (xa, ya), (xb, yb) in zip(box, np.roll(box, -1, axis=0)):
                crosses = (ya > y) != (yb > y)
                with np.errstate(divide="ignore", invalid="ignore"):
                    at = xa + (y - ya) * (xb - xa) / (yb - ya)
                inside ^= crosses & (x < at)
            hit |= inside
    return np.flatnonzero(hit)


def _take_lasso(event, layout) -> None:
    """A new box or lasso drawn on the map becomes the current lasso (global rows); an
    event already taken is not taken again. The rows are found from the drawn area's
    coordinates: the chart's own list of brushed points came back empty for this map."""
    areas = state.new_chart_selection(event, "areas", "shard_map_event")
    if areas is None:
        return
    xy = np.round(np.asarray(layout.xy, dtype=np.float64), 3)  # as the chart draws them
    state.put("shard_lasso", layout.index[inside_areas(xy, areas)].tolist())


def target_actions() -> None:
    """The lasso as a target set (for the strategies that need one, such as DSIR)."""
    lasso, target = state.get("shard_lasso"), state.get("engine_target")
    st.caption(f"Lasso or box: choose the tool at the map's top right and draw around points "
               f"({len(lasso):,} in the current lasso). Target: **{len(target):,}** rows.")
    b = st.columns(2)
    if b[0].button("Use as target", disabled=not lasso, key="shard_use_target",
                   help="A target set for target-driven strategies (DSIR)."):
        state.put("engine_target", sorted(set(lasso)))
        state.put("shard_lasso", [])
        state.put("shard_map_generation", state.get("shard_map_generation") + 1)
        st.rerun()
    if b[1].button("Clear target", disabled=not target, key="shard_clear_target"):
        state.put("engine_target", [])
        st.rerun()


@st.fragment
def map_section(data, engine, sel) -> None:
    """The map: a uniform sample of the rows plus every selected row, by a PCA or a UMAP
    fitted on the sample, with the selected rows highlighted as on the map of one file. A
    fragment: a box or lasso drawn on it reruns the map, not the page."""
    metric = state.get("metric")
    c1, c2, c3 = st.columns([1, 1, 1])
    choices = ["(none)"] + [c for c in data.columns if c != data.id_column]
    guess = state.get("label_column") if state.get("label_column") in choices else "(none)"
    colour_by = state.remembered(c1.selectbox, "Colour by", "shard_colour", options=choices,
                                 index=choices.index(guess), default=guess)
    rows = int(state.remembered(c2.number_input, "Rows in the map's sample", "map_sample_rows",
                                min_value=100, max_value=200_000, step=1_000,
                                default=MAP_SAMPLE_ROWS,
                                help="A uniform sample, the same rows whatever the seed, the "
                                "strategy or the engine; the selected rows are always drawn "
                                "too."))
    shown_by = state.remembered(c3.selectbox, "Layout", "shard_layout",
                                options=list(MAP_PROJECTIONS), default="PCA",
                                help="PCA: instant. UMAP: fitted on the sample once (about a "
                                "minute for 20,000 rows on two cores), then kept; rows outside "
                                "the sample are placed among their nearest sample rows.")
    columns = () if colour_by == "(none)" else (colour_by,)
    bar = st.empty()
    try:
        target = state.get("engine_target")
        layout = map_rows(data, engine, rows, metric, columns,
                          None if sel is None else sel.indices, target,
                          progress_callback(bar, "Reading the map's sample"),
                          MAP_PROJECTIONS[shown_by], progress_callback(bar, "UMAP of the sample"))
    except explorer.ExplorerError as exc:
        bar.empty()
        st.error(str(exc))
        return
    bar.empty()
    colour, continuous = None, False
    if columns:
        values = layout.columns[colour_by]
        continuous = values.dtype.kind == "f"
        colour = values if continuous else values.astype(str)
    chart = live_charts.map_chart(layout.xy, layout.ids, colour=colour, colour_name=colour_by,
                                  continuous=continuous,
                                  selected=layout.selected if sel is not None else None,
                                  target=np.searchsorted(layout.index, target))
    event = st.echarts_chart(chart.option, key=f"shard_map-{state.get('shard_map_generation')}",
                             on_select="rerun", height=600)
    _take_lasso(event, layout)
    picked = "" if sel is None else f" plus every selected row ({len(sel):,})"
    placed = (f"a PCA fitted on the sample (it keeps {layout.explained:.0%} of the sample's "
              "variance)" if layout.method == "pca" else "a UMAP fitted on the sample (other "
              "rows among their nearest sample rows)")
    st.caption(f"The map shows a uniform sample of **{layout.sample_rows:,} of "
               f"{layout.total:,} rows**{picked}: {layout.n:,} points, placed by {placed}. "
               "For looking only: every metric is computed over all rows, in the embedding "
               "space.")
    target_actions()


# --- the page -----------------------------------------------------------------------------


def engine_header(data):
    """The shards and the engine their runs go to (or why it did not start), on top of a
    page; returns the session's engine, or None."""
    shards = len(data.shards)
    st.caption(f"Sharded: {shards:,} shard{'s' if shards != 1 else ''} in {data.source}. Rows "
               "are read shard by shard on the engine, never all at once.")
    engine, error = session_engine()
    if error:
        st.error(error)
    else:
        st.markdown(engine_line(engine))
    return engine


def explore_page(data) -> None:
    """The Explore page for a sharded dataset."""
    from .results_view import scorecard_view, selection_summary

    engine = engine_header(data)
    left, right = st.columns([2.6, 1.2], gap="medium")
    with right:
        st.subheader("Strategy")
        spec, params, mode, missing = strategy_panel(data)
        if spec.name == "semdedup":
            eps_chooser(data, engine, params)
        pressed = st.button("Run", type="primary", key="engine_run",
                            disabled=bool(missing) or engine is None, width="stretch")
        key = run_key(data, spec, params, mode)
        if pressed:
            run_on_engine(data, engine, spec, params, mode, key)
    reloaded = reloaded_on_explore(key)  # the Export page's reload of a saved run
    done = (reloaded[1], None) if reloaded is not None else current_run(key)
    sel, card = done if done is not None else (None, None)
    with left:
        if engine is not None:  # the map's sample is read on the chosen engine, not here
            map_section(data, engine, sel)
    if state.get("engine_error") and done is None:
        st.error(state.get("engine_error"))
    elif sel is None:
        st.info(f"Choose a strategy and a budget, then press **Run**: it runs on the "
                f"{'chosen ' if engine is None else engine.name + ' '}engine over all "
                f"{data.n:,} rows, and is scored against random subsets of the same size.")
    else:
        state.put("selection", sel)
        state.put("engine_scorecard", card)
        selection_summary(sel, data)
        st.caption(f"On the {sel.engine['name']} engine: {sel.engine['partitions']} "
                   f"partitions, {sel.engine['workers']} worker(s), mode "
                   f"{sel.engine['mode']} ({sel.engine['bound']}).")
        if reloaded is not None:
            st.info(f"Reloaded from the workspace as **{reloaded[0]}**, with its own settings "
                    "(the panel's may differ); not scored here. Change a setting or press "
                    "**Run** to go back to the panel's runs.")
        else:
            scorecard_view(card, data, sel.strategy)


# --- export -------------------------------------------------------------------------------


def export_bytes(data, sel, card, engine) -> dict:
    """The Parquet and the manifest of an engine run, as the command line's ``select
    --engine`` writes them (the library's own export; the manifest records the engine, the
    partitions, the mode and its bound, and the scorecard)."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / f"{data.name}-{sel.strategy}-{len(sel)}"
        explorer.export(data, sel, base.with_suffix(".parquet"),
                        manifest=base.with_suffix(".json"), scorecard=card, engine=engine)
        return {".parquet": base.with_suffix(".parquet").read_bytes(),
                ".json": base.with_suffix(".json").read_bytes()}


def export_page(data, sel) -> None:
    """The Export page for a sharded dataset: the run on the Explore page, as Parquet and
    its manifest, and on request as a Hugging Face datasets folder and Label Studio tasks."""
    if sel is None or not sel.engine or sel.fingerprint != data.fingerprint:
        st.info("Run a strategy on the **Explore** page first; its selection can then be "
                "downloaded here as Parquet with its manifest.")
        return
    st.subheader("Download this selection")
    st.write(f"**{sel.strategy}**, {len(sel):,} rows of {data.name} (seed {sel.seed}, "
             f"{sel.metric}, {sel.engine['name']} engine, {sel.engine['partitions']} "
             f"partitions, mode {sel.engine['mode']}).")
    engine, error = session_engine()
    if error:
        st.error(error)
        return
    cached = state.get("engine_exports")
    key = (state.get("data_key"), sel.strategy, sel.seed, sel.indices.tobytes())
    if key not in cached:
        try:
            with st.spinner("Reading the selected rows' metadata from the shards ..."):
                cached.clear()  # one export kept: it may be large
                cached[key] = export_bytes(data, sel, state.get("engine_scorecard"), engine)
        except explorer.ExplorerError as exc:
            st.error(str(exc))
            return
    files = cached[key]
    stem = f"{data.name}-{sel.strategy}-{len(sel)}"
    c = st.columns(2)
    c[0].download_button("Parquet", files[".parquet"], f"{stem}.parquet",
                         "application/octet-stream", key="dl_engine_parquet",
                         help="rank, index, id, then the metadata columns of the selected rows")
    c[1].download_button("Manifest (JSON)", files[".json"], f"{stem}.json", "application/json",
                         key="dl_engine_json", help="Records the engine, the partitions, the "
                         "mode and its bound; replays on either engine with the same ids.")
    st.code(f"explorer select --replay {stem}.json --out {stem}.parquet", language="bash")
    other_tools(data, sel, engine, stem)


def other_tools(data, sel, engine, stem: str) -> None:
    """The selection as a zipped Hugging Face datasets folder (its manifest inside) and as
    Label Studio tasks, as ``select --format hf / label-studio`` writes them: made when
    asked, since each reads the selected rows from the shards again."""
    from .interchange_view import other_tools_buttons, other_tools_files, task_column_choice

    st.subheader("Export the selection for other tools")
    columns = task_column_choice(data)
    label = state.get("label_column")
    kept = state.get("engine_interchange")
    key = (state.get("data_key"), sel.strategy, sel.seed, sel.indices.tobytes(), label,
           tuple(sorted(columns.items())))
    st.caption(f"Each task's label is the sidebar's label column, **{label}**." if label
               else "Choose a label column in the sidebar to give each task its label.")
    pressed = st.button("Make the files", key="engine_interchange_make")
    if pressed and key not in kept:
        kept.clear()  # one export kept: it may be large
    files = pressed_run(
        engine, "engine_interchange", "engine_interchange_error", key, pressed,
        "the export for other tools", "Make the files",
        lambda bar: other_tools_files(data, sel, stem, engine=engine, label_column=label,
                                      step=progress_callback(bar, "Export for other tools"),
                                      **columns),
        "Press **Make the files** to read the selected rows from the shards into a zipped "
        "Hugging Face datasets folder and Label Studio tasks.")
    if files is not None:
        c = st.columns(2)
        other_tools_buttons(c[0], c[1], files, stem, "dl_engine")


__all__ = ["ENGINE_KINDS", "EngineSlot", "budget_of", "engine_header", "engine_inputs",
           "engine_line", "engine_sidebar", "engine_spec", "engine_strategies", "eps_chooser",
           "explore_page", "export_page", "is_sharded", "keep_run", "map_section",
           "map_settings", "on_engine", "other_tools", "picks_on_the_map", "pressed_run",
           "progress_callback", "reload_saved", "reloaded_on_explore", "reloaded_run",
           "run_on_engine",
           "saved_overlap", "session_engine"]
