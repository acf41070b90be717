"""The findings report's tables (benchmarks/findings.py) on a hand-made result: every table
is one shape (strategies x budgets, random's band last), written by one builder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def findings():
    path = ROOT / "benchmarks" / "findings.py"
    spec = importlib.util.spec_from_file_location("findings", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def result():
    """Two strategies at budgets 10 and 50 of a pool of 1,000 rows."""
    better, within = "better than random", "within random's spread"
    rows = [("k-center", 10, 0.61, better, better), ("k-center", 50, 0.70, better, within),
            ("top-score", 10, 0.40, within, within), ("top-score", 50, 0.55, within, within)]
    table = pd.DataFrame([dict(strategy=s, budget=b, metric="logistic_accuracy", value=v,
                               verdict=verdict, verdict_free=free,
                               random_mean=0.5 if b == 10 else 0.6, random_p05=0.45,
                               random_p95=0.66) for s, b, v, verdict, free in rows])
    table.attrs["pool_rows"] = list(range(1000))
    geometry = pd.DataFrame([dict(strategy=s, budget=b, outlier_share=share,
                                  outlier_p_more_holm=more, outlier_p_fewer_holm=1.0,
                                  outlier_random_p05=0.02, outlier_random_p95=0.08,
                                  coverage_max=radius, coverage_max_random_mean=0.9,
                                  coverage_max_random_p05=0.8, coverage_max_random_p95=1.0)
                             for s, b, share, more, radius in
                             [("k-center", 10, 0.3, 0.001, 0.5),
                              ("k-center", 50, 0.05, 0.5, 0.85),
                              ("top-score", 10, 0.0, 0.9, 1.2),
                              ("top-score", 50, 0.1, 0.2, 0.9)]])
    return {"table": table, "geometry": geometry}


def test_metric_table(findings):
    assert findings.metric_table(result(), "logistic_accuracy").splitlines() == [
        "| strategy | 10 (1 %) | 50 (5 %) |",
        "|---|---:|---:|",
        "| k-center | 0.610 ▲ | 0.700 △ |",  # △: the distribution-free test disagrees
        "| top-score | 0.400 · | 0.550 · |",
        "| *random mean [5–95 %]* | 0.500 [0.45–0.66] | 0.600 [0.45–0.66] |"]


def test_outlier_and_coverage_tables(findings):
    res = result()
    assert findings.outlier_table(res).splitlines()[2:] == [
        "| k-center | 30.0% ▲ | 5.0% · |",
        "| top-score | 0.0% · | 10.0% · |",
        "| *random (hypergeometric) [5–95 %]* | 5 % [2.0%–8.0%] | 5 % [2.0%–8.0%] |"]
    assert findings.coverage_table(res, "coverage_max").splitlines()[2:] == [
        "| k-center | 0.500 ▲ | 0.850 · |",
        "| top-score | 1.200 ▼ | 0.900 · |",
        "| *random mean [5–95 %]* | 0.900 [0.80–1.00] | 0.900 [0.80–1.00] |"]
