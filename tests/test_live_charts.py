"""The Explore map's ECharts option: what it draws and how a lasso maps back to rows."""

from __future__ import annotations

import json

import numpy as np

import explorer
from explorer.ui import live_charts


def _series(chart, prefix):
    return [(s, rows) for s, rows in zip(chart.option["series"], chart.series_rows)
            if s["name"].startswith(prefix)]


def test_map_draws_every_row_once_and_a_lasso_maps_back_to_rows():
    data = explorer.load_sample("digits")
    xy = np.random.default_rng(0).normal(size=(data.n, 2))
    selected = np.arange(0, data.n, 40)
    chart = live_charts.map_chart(xy, data.ids, colour=data.metadata["label"].to_numpy(),
                                colour_name="label", selected=selected, pinned=[1, 2],
                                excluded=[3], details=lambda r: f"<b>row {r}</b>")
    json.dumps(chart.option)  # plain JSON: what st.echarts_chart sends
    drawn = np.concatenate(chart.series_rows)
    assert len(drawn) == data.n and len(np.unique(drawn)) == data.n  # below the point limit
    (sel_series, sel_rows), = _series(chart, "selected")
    # the legend lists the highlighted series first (on its first page)
    assert chart.option["legend"]["data"][:3] == ["selected (45)", "pinned (2)", "excluded (1)"]
    assert sel_series["name"] == f"selected ({len(selected)})"
    assert sorted(sel_rows) == sorted(set(selected.tolist()))
    for s, rows in zip(chart.option["series"], chart.series_rows):
        assert len(s["data"]) == len(rows)
        assert [int(d[2]) for d in s["data"]] == rows.tolist()  # the row rides in each item
        assert np.allclose([d[:2] for d in s["data"]], np.round(xy[rows], 3))
    # hover text is data, inserted escaped by the chart, never part of the HTML template
    assert all("<b>" not in s["tooltip"]["formatter"] for s in chart.option["series"])
    # a lasso over two series: positions inside each series become rows
    event = [{"series_index": 0, "data_indices": [0, 2]},
             {"series_index": len(chart.series_rows) - 1, "data_indices": [0]},
             {"series_index": 99, "data_indices": [0]}]  # unknown series: ignored
    want = {int(chart.series_rows[0][0]), int(chart.series_rows[0][2]),
            int(chart.series_rows[-1][0])}
    assert chart.rows_of(event) == sorted(want)


def test_large_maps_sample_the_background_and_keep_every_highlighted_row():
    n = 60_000
    rng = np.random.default_rng(1)
    xy = rng.normal(size=(n, 2))
    selected = rng.choice(n, 300, replace=False)
    chart = live_charts.map_chart(xy, np.arange(n), selected=selected)
    bg = np.concatenate([r for s, r in zip(chart.option["series"], chart.series_rows)
                         if not s["name"].startswith("selected")])
    assert len(bg) == live_charts.MAP_POINT_LIMIT
    assert not np.isin(bg, selected).any()
    assert sum(len(r) for s, r in _series(chart, "selected")) == 300
    assert all(s.get("large") for s in chart.option["series"][:-1])


def test_many_colour_levels_share_one_series_and_continuous_colours_are_binned():
    n = 5_000
    rng = np.random.default_rng(2)
    xy = rng.normal(size=(n, 2))
    levels = rng.integers(0, 100, n).astype(str)
    chart = live_charts.map_chart(xy, np.arange(n), colour=levels, colour_name="kind")
    names = [s["name"] for s in chart.option["series"]]
    assert len(names) == live_charts.MAX_LEVELS and names[-1].endswith("more levels")
    assert sum(len(r) for r in chart.series_rows) == n  # no level dropped from the map
    values = rng.exponential(size=n)
    values[:10] = np.nan
    chart = live_charts.map_chart(xy, np.arange(n), colour=values, colour_name="distance",
                                continuous=True)
    names = [s["name"] for s in chart.option["series"]]
    assert len(names) == live_charts.CONTINUOUS_BINS + 1 and names[-1] == "distance missing"
    assert all(s["tooltip"]["formatter"].startswith("distance ") for s in chart.option["series"])
    assert sum(len(r) for r in chart.series_rows) == n
    # bins are ordered: every value of a bin is at most every value of the next bin
    tops = [values[r].max() for r in chart.series_rows[:-1]]
    bottoms = [values[r].min() for r in chart.series_rows[:-1]]
    assert all(t <= b for t, b in zip(tops[:-1], bottoms[1:]))


def test_scorecard_and_balance_charts_are_plain_json_when_a_metric_is_not_comparable():
    # a one-row subset has no pairwise distances: those metrics are NaN for it and for every
    # random draw; st.echarts_chart refuses NaN, so the chart must leave them out
    data = explorer.load_sample("digits")
    card = explorer.score(data, np.array([7]), random_draws=5)
    frame = card.to_frame()
    lost = set(frame.loc[frame["verdict"] == "not comparable", "metric"])
    assert {"mean_pairwise_distance", "min_pairwise_distance"} <= lost
    option = live_charts.scorecard_chart(frame)
    json.dumps(option, allow_nan=False)
    assert set(option["yAxis"]["data"]) == set(frame["metric"]) - lost
    assert len(option["series"][1]["data"]) == len(frame) - len(lost)
    json.dumps(live_charts.balance_chart(card.balance("cluster"), "clusters"), allow_nan=False)
    assert live_charts.json_safe({"a": [np.float32("nan"), np.inf, np.int64(3), 1.5]}) == \
        {"a": [None, None, 3, 1.5]}
