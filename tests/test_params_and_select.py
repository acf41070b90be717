"""The boundary of select(): parameter specs, budgets, seeds, pins and exclusions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris

import explorer
from explorer.errors import ExplorerError
from explorer.params import Boolean, Interval, Options, Param, ParamSet
from explorer.selection import resolve_budget
from explorer.strategies._allocation import allocate


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    import pandas as pd

    meta = pd.DataFrame({"label": np.array(["setosa", "versicolor", "virginica"])[y]})
    return explorer.Dataset.from_arrays(X, ids=[f"iris-{i}" for i in range(len(X))],
                                        metadata=meta, source="iris")


def test_interval_descriptions_and_formatted_errors():
    ps = ParamSet("k-center", (
        Param("n", Interval("int", 1, None), 5, "count"),
        Param("frac", Interval("float", 0, 1, closed="neither"), 0.5, "fraction"),
        Param("mode", Options(("a", "b")), "a", "mode"),
        Param("flag", Boolean(), False, "flag"),
    ))
    assert ps.resolve({}) == {"n": 5, "frac": 0.5, "mode": "a", "flag": False}
    with pytest.raises(ExplorerError) as e:
        ps.resolve({"n": 0})
    assert str(e.value) == "The 'n' parameter of k-center must be an int in [1, inf). Got 0."
    with pytest.raises(ExplorerError) as e:
        ps.resolve({"frac": 1.0})
    assert str(e.value) == "The 'frac' parameter of k-center must be a float in (0, 1). Got 1.0."
    with pytest.raises(ExplorerError, match=r"must be a str among \{'a', 'b'\}. Got 'c'."):
        ps.resolve({"mode": "c"})
    with pytest.raises(ExplorerError, match="must be a bool"):
        ps.resolve({"flag": 1})
    with pytest.raises(ExplorerError, match="k-center has no parameter 'nn'. Its parameters"):
        ps.resolve({"nn": 1})
    # CLI strings are typed by the constraint, then validated
    assert ps.resolve(ps.parse_cli(["n=7", "frac=0.25", "mode=b", "flag=true"])) == {
        "n": 7, "frac": 0.25, "mode": "b", "flag": True}
    with pytest.raises(ExplorerError, match="KEY=VALUE"):
        ps.parse_cli(["n7"])
    with pytest.raises(ExplorerError, match="Got 'seven'"):
        ps.resolve(ps.parse_cli(["n=seven"]))
    # an int is a valid float, a bool is not an int, numpy scalars are accepted
    assert ps.resolve({"frac": np.float32(0.5), "n": np.int64(3)})["n"] == 3
    with pytest.raises(ExplorerError):
        ps.resolve({"n": True})


@pytest.mark.parametrize("budget,expected", [(10, 10), (0.1, 15), (150, 150), (1.0, 1)])
def test_budget_counts_and_fractions(budget, expected):
    assert resolve_budget(budget, 150, 150) == expected


@pytest.mark.parametrize("bad", [0, -1, 2.5, 1.5, "10", None, True, float("nan")])
def test_bad_budgets_are_refused(bad):
    with pytest.raises(ExplorerError, match="budget"):
        resolve_budget(bad, 150, 150)


def test_budget_larger_than_rows_left_names_both(iris):
    with pytest.raises(ExplorerError, match="budget 151 exceeds the 150 rows"):
        explorer.select(iris, "random", 151)
    with pytest.raises(ExplorerError, match="budget 140 exceeds the 130 rows left after exclusions"):
        explorer.select(iris, "random", 140, excluded=range(20))


def test_pins_and_exclusions_are_checked(iris):
    with pytest.raises(ExplorerError, match="both pinned and excluded"):
        explorer.select(iris, "random", 10, pinned=[1, 2], excluded=[2])
    with pytest.raises(ExplorerError, match="outside 0..149"):
        explorer.select(iris, "random", 10, pinned=[150])
    with pytest.raises(ExplorerError, match="do not fit in a budget of 2"):
        explorer.select(iris, "random", 2, pinned=[1, 2, 3])
    mask = np.zeros(150, bool)
    mask[[4, 9]] = True
    sel = explorer.select(iris, "random", 5, pinned=mask)
    assert sel.indices[:2].tolist() == [4, 9] and sel.pinned == (4, 9)


def test_seed_conventions(iris):
    a = explorer.select(iris, "random", 10, seed=7)
    b = explorer.select(iris, "random", 10, seed=7)
    assert np.array_equal(a.indices, b.indices)
    c = explorer.select(iris, "random", 10, seed=None)
    assert isinstance(c.seed, int)  # a fresh seed is drawn and recorded ...
    d = explorer.select(iris, "random", 10, seed=c.seed)
    assert np.array_equal(c.indices, d.indices)  # ... so the run can be replayed
    g = explorer.select(iris, "random", 10, seed=np.random.default_rng(7))
    assert g.seed is None
    with pytest.raises(ExplorerError, match="'seed' parameter of select"):
        explorer.select(iris, "random", 10, seed=-1)


def test_unknown_strategy_and_metric(iris):
    with pytest.raises(ExplorerError, match="Unknown strategy 'k-centre'. Did you mean 'k-center'"):
        explorer.select(iris, "k-centre", 10)
    with pytest.raises(ExplorerError, match="'metric' parameter of select"):
        explorer.select(iris, "random", 10, metric="manhattan")


def test_missing_or_bad_columns_are_named(iris):
    with pytest.raises(ExplorerError, match="Column 'species' for labels is not in the metadata"):
        explorer.select(iris, "stratified", 10, label_column="species")
    with pytest.raises(ExplorerError, match="must be numeric"):
        explorer.select(iris, "random", 10, score_column="label")


def test_stratified_meets_budget_exactly_with_equal_and_proportional(iris):
    labels = iris.metadata["label"].to_numpy()
    for alloc, budget in [("proportional", 10), ("equal", 10), ("equal", 31)]:
        sel = explorer.select(iris, "stratified", budget, label_column="label",
                              params={"allocation": alloc})
        counts = np.unique(labels[sel.indices], return_counts=True)[1]
        assert counts.sum() == budget
        assert counts.max() - counts.min() <= 1


def test_allocation_is_exact_and_respects_capacity_and_minimums():
    rng = np.random.default_rng(0)
    for _ in range(200):
        cap = rng.integers(0, 30, size=rng.integers(1, 8))
        if cap.sum() == 0:
            continue
        total = int(rng.integers(1, cap.sum() + 1))
        for mode in ("proportional", "equal"):
            q = allocate(cap, total, mode)
            assert q.sum() == total and (q <= cap).all() and (q >= 0).all()
    q = allocate(np.array([10, 10, 10]), 9, minimum=np.array([5, 0, 0]))
    assert q.sum() == 9 and q[0] >= 5
    with pytest.raises(ExplorerError, match="minimums add up to 12"):
        allocate(np.array([10, 10]), 5, minimum=np.array([6, 6]))


def test_cosine_refuses_zero_rows_naming_ids():
    X = np.eye(4, dtype=np.float32)
    X[2] = 0
    data = explorer.Dataset.from_arrays(X, ids=["a", "b", "c", "d"])
    with pytest.raises(ExplorerError, match=r"all zeros .* \(ids: c\)"):
        explorer.select(data, "random", 2, metric="cosine")
    assert len(explorer.select(data, "random", 2, metric="euclidean")) == 2
