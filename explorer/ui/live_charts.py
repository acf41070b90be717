"""The Explore page's charts (map, scorecard, balance) as Apache ECharts options, drawn by
``st.echarts_chart`` under fixed keys.

Why ECharts and not Plotly here: Streamlit gives a keyed ECharts chart a stable identity, so a
new selection updates the canvas in place. A Plotly chart gets a new identity whenever its
figure changes, and the browser rebuilds the whole plot on every run, which is slow for a
WebGL map in a software-rendered browser (benchmarks/bench_app_feel.py measures it). These charts compute no
metric: they take coordinates, colours, row sets and scorecard frames.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from explorer.data.json_values import json_safe

from explorer.figures import EXCLUDED, GREY, PALETTE, PINNED, SELECTED, TARGET

#: Above this many points the map shows every selected point and a uniform (so
#: density-preserving) sample of the others.
MAP_POINT_LIMIT = 20_000
#: Colour levels drawn as their own series; the rest share one grey "other" series.
MAX_LEVELS = 30
#: Continuous colours (e.g. distance to the nearest pick) are shown in this many quantile bins.
CONTINUOUS_BINS = 8
VIRIDIS = ["#440154", "#46327e", "#365c8d", "#277f8e", "#1fa187", "#4ac16d", "#a0da39",
           "#fde725"]
# a filled "x" for excluded rows (ECharts has no built-in cross symbol)
#: Rings of the text search's matches and of the listed nearest neighbours.
FOUND = "#e6550d"
NEIGHBOUR = "#17becf"
CROSS = "path://M2,0L5,3L8,0L10,2L7,5L10,8L8,10L5,7L2,10L0,8L3,5L0,2Z"


def _natural(text: str):  # numbers in numeric order, then text
    return (0, float(text)) if _is_number(text) else (1, text)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


@dataclass
class MapChart:
    """An ECharts option and, per series, the row index of each of its data items (a lasso
    or click reports series and item positions; these turn them back into rows)."""

    option: dict
    series_rows: list[np.ndarray]

    def rows_of(self, selected: list[dict]) -> list[int]:
        """Rows of an ``st.echarts_chart`` selection (its ``selection.selected`` list)."""
        rows: set[int] = set()
        for part in selected or ():
            s = part.get("series_index")
            if s is None or not 0 <= int(s) < len(self.series_rows):
                continue
            items = self.series_rows[int(s)]
            for i in part.get("data_indices") or ():
                if 0 <= int(i) < len(items):
                    rows.add(int(items[int(i)]))
        return sorted(rows)


def _masks(n: int, selected, pinned, excluded, target):
    sel_mask = np.zeros(n, dtype=bool)
    if selected is not None and len(selected):
        sel_mask[np.asarray(selected)] = True
    special = np.zeros(n, dtype=bool)
    for rows in (pinned, excluded, target):
        if len(rows):
            special[np.asarray(rows)] = True
    return sel_mask, special


def _background_rows(sel_mask, special, seed: int) -> np.ndarray:
    base = np.flatnonzero(~sel_mask & ~special)
    if len(base) > MAP_POINT_LIMIT:
        rng = np.random.default_rng(seed)
        base = np.sort(rng.choice(base, MAP_POINT_LIMIT, replace=False))
    return base


def drawn_rows(n: int, *, selected=None, pinned=(), excluded=(), target=(), seed: int = 0,
               found=(), neighbours=()) -> np.ndarray:
    """The rows :func:`map_chart` draws with the same arguments (sorted, each once): what a
    hover can show, so what thumbnails are made for."""
    sel_mask, special = _masks(n, selected, pinned, excluded, target)
    parts = [_background_rows(sel_mask, special, seed), np.flatnonzero(sel_mask | special)]
    parts += [np.asarray(r, dtype=np.int64) for r in (found, neighbours)]
    return np.unique(np.concatenate(parts).astype(np.int64))


def image_tag(folder_url: str, row: str = "{@[2]}") -> str:
    """The tooltip's ``<img>``: the thumbnail ``<folder_url>/<row>.webp`` of the point under
    the cursor (the browser fetches only that one). ``row`` is the template's row field."""
    return (f'<img src="{html.escape(folder_url)}/{row}.webp" alt="" width="96" height="96" '
            'style="display:block;margin:4px 0;object-fit:contain;'
            'image-rendering:pixelated;background:#fff">')


def map_chart(xy: np.ndarray, ids: np.ndarray, *, colour=None, colour_name: str = "",
              continuous: bool = False, selected=None, pinned=(), excluded=(), target=(),
              details=None, seed: int = 0, found=(), neighbours=(), notes=None,
              image_folder: str | None = None) -> MapChart:
    """Scatter of the layout: background points by colour group (sampled above
    MAP_POINT_LIMIT), then selected, target, pinned and excluded rows on top, and the text
    search's matches (``found``) and the listed nearest neighbours (``neighbours``) as rings
    above everything.

    Hover: every point shows its series and row; ``details`` maps a row to a short
    plain-text line (label, text snippet) for the highlighted rows, ``notes`` maps a row to
    one for the background points (a text snippet, why there is no image); both ride in the
    points' data and are inserted as escaped text. ``image_folder``: a URL folder holding
    ``<row>.webp`` for every drawn row (:func:`drawn_rows`); the tooltip shows the hovered
    row's, named by the row number the point already carries, so no point's data grows."""
    n = len(xy)
    sel_mask, special = _masks(n, selected, pinned, excluded, target)
    base = _background_rows(sel_mask, special, seed)
    xy = np.round(np.asarray(xy, dtype=np.float64), 3)
    dimmed = selected is not None and len(selected) > 0
    series: list[dict] = []
    series_rows: list[np.ndarray] = []
    picture = image_tag(image_folder) if image_folder else "<br/>"

    def background(rows, name, colour_hex, opacity, title=None):
        tip = f"{html.escape(title or name)}<br/>row {{@[2]}}"
        data = np.column_stack([xy[rows], rows]).tolist()
        if notes is not None:
            for item, r in zip(data, rows):
                item.append(notes(int(r)))
            tip += f"{picture}{{@[3]}}"
        elif image_folder:
            tip += picture
        series.append({
            "type": "scatter", "name": name, "large": True, "largeThreshold": 1,
            "symbolSize": 4, "selectedMode": "single",
            "itemStyle": {"color": colour_hex, "opacity": opacity},
            "tooltip": {"formatter": tip},
            "data": data})
        series_rows.append(np.asarray(rows, dtype=np.int64))

    if colour is None:
        background(base, "not selected" if dimmed else "points", GREY if dimmed else PALETTE[0],
                   0.6)
    elif continuous:
        vals = np.asarray(colour, dtype=np.float64)[base]
        finite = np.isfinite(vals)
        edges = np.unique(np.quantile(vals[finite], np.linspace(0, 1, CONTINUOUS_BINS + 1))) \
            if finite.any() else np.array([0.0])
        which = np.clip(np.searchsorted(edges, vals, side="right") - 1, 0, max(len(edges) - 2,
                                                                               0))
        for b in range(max(len(edges) - 1, 1)):
            rows = base[finite & (which == b)]
            if len(rows) == 0:
                continue
            lo, hi = edges[b], edges[min(b + 1, len(edges) - 1)]
            colour_hex = VIRIDIS[round(b * (len(VIRIDIS) - 1) / max(len(edges) - 2, 1))]
            # short legend names (the colour's name is in the "Colour by" box and the hover)
            background(rows, f"{lo:.3g}–{hi:.3g}", colour_hex, 0.8,
                       title=f"{colour_name} {lo:.3g}–{hi:.3g}")
        if (~finite).any():
            background(base[~finite], f"{colour_name} missing", GREY, 0.6)
    else:
        codes, uniques = pd.factorize(np.asarray(colour).astype(str))
        order = sorted(range(len(uniques)), key=lambda u: _natural(uniques[u]))
        base_codes = codes[base]  # integer comparisons per level, not string ones
        shown = order[:MAX_LEVELS] if len(order) <= MAX_LEVELS else order[:MAX_LEVELS - 1]
        for j, u in enumerate(shown):
            background(base[base_codes == u], f"{colour_name} {uniques[u]}",
                       PALETTE[j % len(PALETTE)], 0.35 if dimmed else 0.75)
        rest = np.isin(base_codes, order[len(shown):])
        if rest.any():
            background(base[rest], f"{colour_name}: {len(order) - len(shown)} more levels",
                       GREY, 0.5)

    n_background = len(series)
    for rows, name, colour_hex, symbol, size in (
            (np.flatnonzero(sel_mask & ~special), "selected", SELECTED, "circle", 9),
            (np.asarray(target, dtype=np.int64), "target", TARGET, "triangle", 11),
            (np.asarray(pinned, dtype=np.int64), "pinned", PINNED, "diamond", 12),
            (np.asarray(excluded, dtype=np.int64), "excluded", EXCLUDED, CROSS, 9),
            (np.asarray(found, dtype=np.int64), "search matches", FOUND, "emptyCircle", 12),
            (np.asarray(neighbours, dtype=np.int64), "neighbours", NEIGHBOUR, "emptyCircle",
             14)):
        if len(rows) == 0:
            continue
        data = [[float(xy[r, 0]), float(xy[r, 1]), int(r), str(ids[r]),
                 details(int(r)) if details is not None else ""] for r in rows]
        series.append({
            "type": "scatter", "name": f"{name} ({len(rows):,})", "symbol": symbol,
            "symbolSize": size, "selectedMode": "single", "z": 3,
            "itemStyle": {"color": colour_hex, "borderColor": "white", "borderWidth": 1}
            if symbol != "emptyCircle" else {"color": colour_hex, "borderColor": colour_hex,
                                             "borderWidth": 2},
            "tooltip": {"formatter": f"{name}<br/>id {{@[3]}} (row {{@[2]}}){picture}{{@[4]}}"},
            "data": data})
        series_rows.append(np.asarray(rows, dtype=np.int64))

    option = {
        "animation": False,
        "grid": {"left": 8, "right": 8, "top": 64, "bottom": 8},
        "xAxis": {"type": "value", "scale": True, "show": False},
        "yAxis": {"type": "value", "scale": True, "show": False},
        # the highlighted series (selected, pinned ...) first, so they are on the legend's
        # first page however many colour levels follow
        "legend": {"type": "scroll", "top": 0, "left": 0, "right": 8,
                   "data": [s["name"] for s in series[n_background:]]
                   + [s["name"] for s in series[:n_background]]},
        # long notes (a text snippet, a file's path) wrap instead of running off the map
        "tooltip": {"trigger": "item", "extraCssText": "max-width:360px;white-space:normal;"
                    "overflow-wrap:anywhere;"},
        "toolbox": {"right": 8, "top": 30, "feature": {
            "brush": {"type": ["polygon", "rect", "clear"],
                      "title": {"polygon": "Lasso", "rect": "Box", "clear": "Clear the lasso"}},
            "restore": {"title": "Reset zoom"}}},
        "brush": {"xAxisIndex": "all", "throttleType": "debounce", "throttleDelay": 300,
                  "outOfBrush": {"colorAlpha": 0.25}},
        "dataZoom": [{"type": "inside", "xAxisIndex": 0, "filterMode": "none"},
                     {"type": "inside", "yAxisIndex": 0, "filterMode": "none"}],
        "series": series,
    }
    return MapChart(option, series_rows)


# ---- the scorecard's charts, also keyed ECharts charts so a new selection redraws in place

VERDICT_COLOURS = {"better than random": "#2ca02c", "worse than random": "#d62728",
                   "within random's spread": "#7f7f7f", "not comparable": "#7f7f7f"}


def scorecard_chart(frame: pd.DataFrame) -> dict:
    """One row per metric: random's 5-95 % band (grey box), the random mean (the line in the
    box) and the subset's value (dot coloured by verdict), each metric scaled to its own random
    band so metrics of different units share one axis (clipped at +-3 band widths)."""
    # a metric with no finite value or no finite random band (e.g. pairwise distances of a
    # one-row subset) has no place on the axis: the table beside the chart says "not comparable"
    comparable = np.isfinite(frame[["value", "random_mean", "random_p05", "random_p95"]]
                             .to_numpy(dtype=float)).all(axis=1)
    rows = frame[comparable].iloc[::-1].reset_index(drop=True)
    span = (rows["random_p95"] - rows["random_p05"]).replace(0, np.nan)
    span = span.fillna(rows["random_std"].replace(0, np.nan)).fillna(1.0)
    centre = rows["random_mean"]

    def z(v):
        return ((v - centre) / span).astype(float).round(4)

    lo, hi, value = z(rows["random_p05"]), z(rows["random_p95"]), z(rows["value"])
    names = [str(m) for m in rows["metric"]]
    dots = [{"value": [float(np.clip(v, -3, 3)), i,
                       f"{m}: {val:.4g} (random {a:.4g} – {b:.4g}); percentile {p:.0f}; {vd}"],
             "itemStyle": {"color": VERDICT_COLOURS.get(vd, "#555")}}
            for i, (v, m, val, a, b, p, vd) in enumerate(zip(
                value, names, rows["value"], rows["random_p05"], rows["random_p95"],
                rows["percentile"], rows["verdict"]))]
    return json_safe({
        "animation": False,
        "grid": {"left": 8, "right": 16, "top": 32, "bottom": 44, "containLabel": True},
        # the legend's marks drawn as the series are (ECharts would fill the box's mark with
        # the border colour)
        "legend": {"top": 0, "left": 0, "data": [
            {"name": "random 5–95% and mean", "icon": "rect",
             "itemStyle": {"color": "#e6e6e6", "borderColor": "#555", "borderWidth": 1}},
            {"name": "this subset", "icon": "circle", "itemStyle": {"color": "#555"}}]},
        "tooltip": {"trigger": "item"},
        # ticks at whole band widths (values beyond 3 are drawn at the edge)
        "xAxis": {"type": "value", "min": -3, "max": 3, "interval": 1,
                  "nameLocation": "middle",
                  "nameGap": 26, "name": "distance from the random mean, in widths of "
                  "random's 5–95% band", "splitLine": {"show": False}},
        "yAxis": {"type": "category", "data": names},
        "series": [
            {"type": "boxplot", "name": "random 5–95% and mean", "layout": "horizontal",
             "boxWidth": [10, 14],
             "itemStyle": {"color": "#e6e6e6", "borderColor": "#555", "borderWidth": 1},
             "tooltip": {"show": False},
             "data": [[a, a, 0.0, b, b] for a, b in zip(lo, hi)]},
            {"type": "scatter", "name": "this subset", "symbolSize": 13, "z": 3,
             "itemStyle": {"color": "#555", "borderColor": "white", "borderWidth": 1},
             "encode": {"x": 0, "y": 1},
             "tooltip": {"formatter": "{@[2]}"}, "data": dots},
        ],
    })


def balance_chart(frame: pd.DataFrame, title: str, max_groups: int = 30,
                  share_of: str = "rows") -> dict:
    """Population share, subset share and random's 5-95 % band (box, mean as its line) per
    group, sorted from the most under-represented to the most over-represented; ``share_of``
    names what is shared (rows, or the cost column under a cost budget) on the axis."""
    if len(frame) > max_groups:  # keep the extremes: most under- and over-represented
        half = max_groups // 2
        frame = pd.concat([frame.head(half), frame.tail(max_groups - half)])
    groups = [str(g) for g in frame["group"]]

    def pct(col):  # shares in percent
        return [round(100 * float(v), 2) for v in frame[col]]

    lo, mean, hi = pct("random_p05_share"), pct("random_mean_share"), pct("random_p95_share")
    tip = "{@[0]}: {a} {@[1]} %"
    return json_safe({
        "animation": False,
        "title": {"text": title, "left": 0, "textStyle": {"fontSize": 14}},
        "grid": {"left": 8, "right": 8, "top": 60, "bottom": 8, "containLabel": True},
        "legend": {"top": 28, "right": 0,
                   "data": ["population", "this subset", "random 5–95%"]},
        "tooltip": {"trigger": "item"},
        "xAxis": {"type": "category", "data": groups},
        "yAxis": {"type": "value", "name": f"share of {share_of} (%)",
                  "nameTextStyle": {"align": "left"}},
        "series": [
            {"type": "bar", "name": "population", "itemStyle": {"color": "#9ecae1"},
             "tooltip": {"formatter": tip},
             "data": [[g, v] for g, v in zip(groups, pct("population_share"))]},
            {"type": "bar", "name": "this subset", "itemStyle": {"color": SELECTED},
             "tooltip": {"formatter": tip},
             "data": [[g, v] for g, v in zip(groups, pct("subset_share"))]},
            # random's band floats in the third slot: an invisible bar up to the 5th
            # percentile, the band stacked on it
            {"type": "bar", "name": "random 5th", "stack": "random", "silent": True,
             "itemStyle": {"color": "rgba(0,0,0,0)"}, "tooltip": {"show": False},
             "data": lo},
            {"type": "bar", "name": "random 5–95%", "stack": "random",
             "itemStyle": {"color": "#e6e6e6", "borderColor": "#555", "borderWidth": 1},
             "tooltip": {"formatter": "{@[0]}: random subsets {@[2]} – {@[3]} % (mean "
                                      "{@[4]} %)"},
             "data": [[g, round(h - a_, 2), a_, h, m]
                      for g, a_, h, m in zip(groups, lo, hi, mean)]},
        ],
    })
