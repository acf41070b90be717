"""Page tests (AppTest) of issue 15's answers: the scorecard's "check in another
embedding", the Dimensions page, and the Export page's locked confirmation split."""

from __future__ import annotations

import numpy as np
from app_pages import opened, texts
from streamlit.testing.v1 import AppTest

import explorer
from explorer.data.ledger import locked_rows

TIMEOUT = 300


def opened_on(sample: str = "digits") -> AppTest:
    return opened(TIMEOUT, sample=sample)


def test_check_in_another_embedding_on_pydocs():
    at = opened_on("pydocs")
    assert "k-center: selected **50**" in texts(at.success)
    choice = at.selectbox(key="w:robust_space")
    assert choice.value == "TF-IDF + SVD (128-D), bundled"
    at.button(key="robust_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "verdicts hold** in TF-IDF + SVD (128-D)" in texts(at.markdown)
    table = at.dataframe[-1].value
    assert {"metric", "change"} <= set(table.columns) and len(table) == 12
    assert "Re-run in TF-IDF + SVD (128-D)" in texts(at.caption)


def test_dimensions_page_measures_and_offers_the_reduced_matrix():
    at = opened_on()
    at.switch_page("pages/dimensions.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="w:dims_k").value == 16  # a quarter of digits' 64
    at.number_input(key="w:dims_k").set_value(8)
    at.number_input(key="w:dims_draws").set_value(5).run()
    at.button(key="dims_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.exception]
    assert "**8 of 64 dimensions**" in texts(at.markdown)
    frame = at.dataframe[0].value
    assert set(frame["method"]) == {"variance", "pivoted-qr", "inf-fs", "matryoshka", "omp"}
    assert set(frame["metric"]) == {"knn_recall", "probe_accuracy", "coverage_agreement"}
    assert "omp's 8 dimensions: " in texts(at.caption) or "variance's 8 dimensions" in \
        texts(at.caption)


def test_export_locks_a_split_and_confirms_once(tmp_path, monkeypatch):
    monkeypatch.setenv("SUBSET_EXPLORER_HOME", str(tmp_path))
    at = opened_on()
    at.switch_page("pages/export.py").run()
    at.button(key="confirm_lock").click().run()
    assert not at.exception, [e.value for e in at.exception]
    data = explorer.load_sample("digits")
    locked = locked_rows(data)
    assert len(locked) == 359
    assert "**359 rows** of digits are locked" in texts(at.markdown)
    at.switch_page("pages/explore.py").run()  # the selection is made again, without them
    sel = at.session_state["selection"]
    assert len(sel.indices) == 50 and not np.isin(sel.indices, locked).any()
    at.switch_page("pages/export.py").run()
    assert "Tried since: **1 strategy** and **1 budget**" in texts(at.markdown)
    at.checkbox(key="confirm_sure").check().run()
    at.button(key="confirm_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "k-center** (50 rows), confirmed" in texts(at.markdown)
    assert not [b for b in at.button if b.key == "confirm_run"]  # once only
    assert "A second confirmation is no confirmation" in texts(at.caption)
    done = [b for b in at.get("download_button") if b.proto.id.endswith("confirm_dl")] or \
        at.get("download_button")
    assert done


def test_compare_page_advises_how_many_rows():
    at = opened_on()
    at.switch_page("pages/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.multiselect(key="w:adv_strategies").set_value(["k-center"])
    at.number_input(key="w:adv_eps").set_value(3.0)
    at.radio(key="w:adv_probe").set_value("knn").run()
    assert "Fit learning curves" in [b.label for b in at.button]
    at.button(key="adv_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.exception]
    advice = texts(at.markdown)
    assert "within 3 points of the full-data accuracy" in advice
    assert "random needs ~" in advice or "random: cannot say" in advice
    fits = at.dataframe[-1].value
    assert list(fits["curve"]) == ["random", "k-center"]
    assert {"a (level)", "c (rate)", "rows needed", "5–95 %"} <= set(fits.columns)
    assert any(c.proto.spec and "whole pool" in c.proto.spec for c in at.get("plotly_chart"))
