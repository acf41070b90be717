"""Page tests with streamlit's AppTest: every page, every first-set strategy, errors shown."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app_pages import APP, TIMEOUT, opened, texts
from streamlit.testing.v1 import AppTest

from explorer.strategies import REGISTRY

FIRST_SET = ["random", "stratified", "k-center", "k-means", "facility-location", "dedup"]
def test_explore_opens_on_the_sample_with_a_map_and_a_scorecard():
    at = opened()
    assert "Dataset **digits** · 1,797 rows × 64 dims" in texts(at.caption)
    charts = {c.proto.id.split("-")[-1]: json.loads(c.proto.spec)
              for c in at.get("echarts_chart")}  # by key: the map, scorecard and balance
    assert {"scorecard_chart", "balance_clusters", "balance_labels"} <= set(charts)
    series = next(c for k, c in charts.items() if k.isdigit())["series"]  # the map
    assert [len(s["data"]) for s in series if s["name"] == "selected (50)"] == [50]
    assert "k-center: selected **50**" in texts(at.success)
    assert "**Scorecard of k-center** — 50 rows against 30 random subsets" in texts(at.markdown)
    assert "better than random" in texts(at.markdown)


@pytest.mark.parametrize("name", FIRST_SET)
def test_each_first_set_strategy_runs_and_is_scored(name):
    at = opened()
    at.selectbox(key="w:strategy").set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert f"{name}: selected" in texts(at.success)
    assert "random subsets of the same size" in texts(at.markdown)


def test_budget_as_percent_and_seed_change_the_selection():
    at = opened()
    # (AppTest re-runs only the page after the first run under st.navigation, not app.py's
    # sidebar, so the sidebar's widgets are driven through their session-state keys)
    at.session_state["budget_mode"] = "percent"
    at.session_state["budget_percent"] = 10.0
    at.run()
    assert "selected **180**" in texts(at.success)
    first = texts(at.success)
    at.session_state["seed"] = 5
    at.selectbox(key="w:strategy").set_value("random").run()
    at.session_state["seed"] = 6
    at.run()
    assert "seed 6" in texts(at.success) and first != texts(at.success)


def test_a_bad_file_shows_the_librarys_message_and_keeps_the_dataset(tmp_path):
    bad = tmp_path / "broken.npy"
    np.save(bad, np.arange(10.0))
    at = opened()
    at.session_state["source"] = "Path on disk"
    at.session_state["disk_path"] = str(bad)
    at.run()
    assert not at.exception
    assert "broken.npy: expected a 2-D array" in texts(at.error)
    assert "The previous dataset is still loaded: **digits**, 1,797 rows." in texts(at.caption)
    assert "k-center: selected" in texts(at.success)


def test_a_strategy_with_missing_inputs_is_disabled_with_the_reason():
    at = opened()
    # (AppTest re-runs only the page after the first run, not app.py's sidebar: the sidebar's
    # column choices are set through the session state the sidebar would write)
    for key in ("label_column", "group_column", "score_column"):
        at.session_state[key] = None
    at.run()
    needy = [n for n, s in REGISTRY.items() if s.needs]
    for name in needy:
        at.selectbox(key="w:strategy").set_value(name).run()
        assert not at.exception
        assert f"{name} is unavailable: it needs" in texts(at.warning)
        assert [b for b in at.button if b.label == "Run"][0].disabled
    # stratified needs nothing (it falls back to k-means clusters): it still runs
    at.selectbox(key="w:strategy").set_value("stratified").run()
    assert "stratified: selected" in texts(at.success)


def test_compare_page_plots_curves_with_the_random_band():
    at = opened()
    at.switch_page("pages/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.multiselect(key="w:cmp_strategies").set_value(["k-center", "k-means"]).run()
    at.text_input(key="w:cmp_budgets:1797").set_value("20, 60").run()
    at.number_input(key="w:cmp_draws").set_value(5).run()
    at.button(key="cmp_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) >= 3  # curves, small multiples, overlap
    # the probe curves (the digits sample has a label column) and the support table
    assert at.radio(key="w:cmp_probe").value == "logistic"
    metrics = at.selectbox(key="cmp_metric").options
    assert any("logistic_accuracy" in m for m in metrics)
    assert any("coverage_max" in m for m in metrics)
    assert "Who beats random, with statistical support" in texts(at.markdown)
    support = at.dataframe[0].value
    assert list(support.index) == [20, 60]
    assert {"logistic_accuracy", "logistic_macro_f1"} <= set(support.columns)
    # the choices survive a visit to another page
    at.switch_page("pages/explore.py").run()
    at.switch_page("pages/compare.py").run()
    assert at.multiselect(key="w:cmp_strategies").value == ["k-center", "k-means"]
    assert at.text_input(key="w:cmp_budgets:1797").value == "20, 60"
    assert at.number_input(key="w:cmp_draws").value == 5


def test_a_long_comparison_waits_for_the_button_and_says_how_long(monkeypatch):
    """A comparison the estimate calls heavy does not start by itself on arrival (it would
    tie up the app for minutes at 100,000 rows): the page says how long and waits; the
    button starts it, and its results stay while another metric is chosen."""
    from explorer import cost

    at = opened()
    monkeypatch.setattr(cost, "SLOW_SECONDS", 1e-6)  # every comparison counts as heavy
    at.switch_page("pages/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "This comparison would take about" in texts(at.warning)
    assert "Press **Compare** to start it" in texts(at.warning)
    assert "Who beats random" not in texts(at.markdown)
    at.multiselect(key="w:cmp_strategies").set_value(["k-center", "k-means"])
    at.text_input(key="w:cmp_budgets:1797").set_value("20, 60")
    at.number_input(key="w:cmp_draws").set_value(5)
    at.radio(key="w:cmp_probe").set_value("none").run()
    assert "This comparison would take about" in texts(at.warning)
    at.button(key="cmp_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Who beats random, with statistical support" in texts(at.markdown)
    metric = at.selectbox(key="cmp_metric")
    metric.set_value(metric.options[-1]).run()  # another metric: the results stay
    assert "Who beats random, with statistical support" in texts(at.markdown)
    assert not at.warning


def test_a_long_scorecard_waits_for_its_button_and_the_export_says_so(monkeypatch):
    """A scorecard the estimate calls heavy (dedup keeping 90,000 of 100,000 rows takes
    minutes) is not computed by itself: Explore says how long and offers a button; Export
    writes the manifest without it and says so; once asked for, both have it."""
    from explorer import cost

    at = opened()
    monkeypatch.setattr(cost, "SLOW_SECONDS", 1e-6)  # every scorecard counts as heavy
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Scoring these 50 rows against 30 random subsets" in texts(at.info)
    assert "Scorecard of" not in texts(at.markdown)
    at.switch_page("pages/export.py").run()
    assert "The manifest leaves the scorecard out" in texts(at.caption)
    assert "Manifest (JSON)" in [b.proto.label for b in at.get("download_button")]
    at.switch_page("pages/explore.py").run()
    at.button(key="score_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "**Scorecard of k-center** — 50 rows against 30 random subsets" in texts(at.markdown)
    at.switch_page("pages/export.py").run()
    assert "The manifest leaves the scorecard out" not in texts(at.caption)


def test_export_page_has_every_download_and_saves_without_overwriting():
    at = opened()
    at.switch_page("pages/export.py").run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["CSV", "Parquet", "Indices (.npy)", "Manifest (JSON)", "Rows as CSV",
                      "Rows as Parquet", "Hugging Face (zip)", "Label Studio tasks"]
    at.text_input(key="ws_name").set_value("my-first").run()
    at.button(key="ws_save").click().run()
    assert "Saved 'my-first'" in texts(at.success)
    at.button(key="ws_save").click().run()
    assert "already saved" in texts(at.error)


def test_every_page_can_be_visited():
    at = opened()
    for page in ("pages/compare.py", "pages/dimensions.py", "pages/export.py",
                 "pages/explore.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])


def test_semdedup_shows_how_many_rows_each_eps_removes_and_example_pairs():
    at = opened(sample="pydocs")
    at.selectbox(key="w:strategy").set_value("semdedup").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Just above the threshold (removed)" in texts(at.markdown)
    table = at.dataframe[0].value
    assert list(table.columns)[:3] == ["eps", "similarity above", "rows removed"]
    removed = dict(zip(table["eps"], table["rows removed"]))
    assert removed[0.3] >= removed[0.05]
    assert "semdedup: selected" in texts(at.success)
    assert f"**{1010 - removed[0.05]:,}**" in texts(at.success)


def test_group_quota_and_quality_diversity_run_from_the_panel():
    at = opened()
    at.selectbox(key="w:strategy").set_value("group-quota").run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="w:strategy:group-quota:inner").set_value("k-center").run()
    assert "group-quota: selected **50**" in texts(at.success)
    at.selectbox(key="w:strategy").set_value("quality-diversity").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "quality-diversity: selected **50**" in texts(at.success)
    assert len(at.get("plotly_chart")) >= 1 and len(at.get("echarts_chart")) >= 2  # front;
    # the map and the scorecard


def test_dedup_says_the_budget_does_not_apply_and_disables_it():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["strategy"] = "dedup"  # before the first run, so the sidebar sees it
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    budget = at.number_input(key="w:budget_count")
    assert budget.disabled
    assert "the budget does not apply" in texts(at.caption)
    assert "dedup: selected" in texts(at.success)


def test_a_one_row_budget_scores_without_an_error_and_names_what_is_not_comparable():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["budget_count"] = 1  # before the first run, so the sidebar sees it
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "k-center: selected **1**" in texts(at.success)
    assert "Not comparable, so not drawn: mean_pairwise_distance, min_pairwise_distance" \
        in texts(at.caption)


def test_the_strategy_and_its_parameters_survive_a_visit_to_another_page():
    # Streamlit drops the state of widgets a page does not draw: the choices are remembered
    # apart from the widgets (state.remembered), so coming back shows them again
    at = opened()
    at.selectbox(key="w:strategy").set_value("k-means").run()
    at.selectbox(key="w:strategy:k-means:pick").set_value("median").run()
    assert "k-means: selected" in texts(at.success)
    at.switch_page("pages/export.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page("pages/explore.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="w:strategy").value == "k-means"
    assert at.selectbox(key="w:strategy:k-means:pick").value == "median"
    assert "k-means: selected" in texts(at.success)
