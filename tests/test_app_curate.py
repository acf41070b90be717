"""The Explore page's curation panels through AppTest: per-row scores as columns (colour,
filter, table, captions), the literal text search, and the nearest neighbours of a clicked
row with their pin / exclude / target buttons."""

from __future__ import annotations


import numpy as np
from app_pages import opened, texts

import explorer
from explorer.row_scores import row_scores
from explorer.search import neighbours_of_row, text_matches



def fresh(sample: str = "digits"):
    """The app on a bundled sample, its map laid out by PCA (UMAP's first fit is not what
    these tests are about, and takes a minute on a busy machine)."""
    return opened(sample=sample, layout_method="PCA")


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def table_with(at, column: str):
    """The table on the page that has ``column`` (AppTest does not expose a table's key)."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert found, f"no table with a {column!r} column"
    return found[0]


def test_scores_become_columns_to_colour_filter_and_sort_by():
    at = fresh()
    at.number_input(key="w:score_k").set_value(5).run()
    at.button(key="scores_run").click().run()
    ok(at)
    digits = explorer.load_sample("digits")
    want = row_scores(digits, k=5, n_clusters=20, duplicate_threshold=0.05)
    captions = texts(at.caption)
    assert "uniqueness: distance to the 5th nearest other row" in captions
    assert "euclidean metric, k = 5" in captions and digits.fingerprint[:12] in captions
    # the table: sorted by uniqueness, highest first, equal to the library's values
    table = table_with(at, "uniqueness")
    top = np.lexsort((np.arange(digits.n), -want.frame["uniqueness"].to_numpy()))[:5]
    assert table["row"].head(5).tolist() == top.tolist()
    np.testing.assert_allclose(table["uniqueness"].head(5),
                               want.frame["uniqueness"].to_numpy()[top])
    # colour the map by a score: its caption says how it was computed
    at.selectbox(key="w:colour_by").set_value("typicality").run()
    ok(at)
    assert "Colour: typicality: 1 / mean distance to the 5 nearest" in texts(at.caption)
    # the filter builder sees the score as a numeric column and restricts the selection
    at.button(key="filter_add").click().run()
    at.selectbox(key="w:filter:0:column").set_value("uniqueness").run()
    at.selectbox(key="w:filter:0:op:number").set_value(">").run()
    at.number_input(key="w:filter:0:uniqueness:>").set_value(1.6).run()
    ok(at)
    sel = at.session_state["selection"]
    assert sel.where == "uniqueness > 1.6"
    assert (want.frame["uniqueness"].to_numpy()[sel.indices] > 1.6).all()
    passing = int((want.frame["uniqueness"] > 1.6).sum())
    assert len(table_with(at, "uniqueness")) == passing
    # a score-based strategy takes it as its score column
    # (AppTest re-runs only the page, not app.py's sidebar: the sidebar's choice is set
    # through the session state it writes)
    at.session_state["score_column"] = "uniqueness"
    at.selectbox(key="w:strategy").set_value("top-score").run()
    ok(at)
    sel = at.session_state["selection"]
    u = want.frame["uniqueness"].to_numpy()
    assert sel.strategy == "top-score" and u[sel.indices].min() >= np.sort(u[u > 1.6])[-50]


def test_text_search_rings_the_matches_on_the_map():
    at = fresh("pydocs")
    at.text_input(key="w:search_text").set_value("LAMBDA").run()
    ok(at)
    pydocs = explorer.load_sample("pydocs")
    want = text_matches(pydocs, "text", "lambda")
    assert f"**{len(want):,}** rows contain" in texts(at.caption)
    assert table_with(at, "text")["row"].tolist() == want.tolist()[:200]
    drawn = at.session_state["map_drawn"]
    assert any(sorted(rows.tolist()) == want.tolist() for rows in drawn.series_rows)
    # regex characters are text
    at.text_input(key="w:search_text").set_value("(.*").run()
    ok(at)
    assert "**0** rows contain" in texts(at.caption)


def test_neighbours_of_a_clicked_row_can_be_pinned_excluded_and_targeted():
    at = fresh()
    at.session_state["focus_row"] = 7  # what a click on a point sets (the browser test clicks)
    at.run()
    ok(at)
    digits = explorer.load_sample("digits")
    want = neighbours_of_row(digits, 7, k=10).indices.tolist()
    table = at.session_state["map_drawn"]
    assert any(sorted(r.tolist()) == sorted(want) for r in table.series_rows)
    assert "nearest to 'row 7'" in texts(at.caption)
    at.button(key="nb_pin").click().run()
    ok(at)
    assert at.session_state["pinned"] == sorted(want)
    sel = at.session_state["selection"]
    assert set(want) <= set(sel.indices.tolist())
    at.number_input(key="w:neighbour_k").set_value(4).run()
    at.button(key="nb_exclude").click().run()
    ok(at)
    four = want[:4]
    assert at.session_state["excluded"] == sorted(four)
    assert set(at.session_state["pinned"]) == set(want) - set(four)
    at.button(key="nb_target").click().run()
    assert at.session_state["target"] == sorted(four)
