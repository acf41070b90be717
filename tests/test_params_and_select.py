"""The boundary of select(): parameter specs, budgets, seeds, pins and exclusions."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from sklearn.datasets import load_iris

import explorer
from explorer.errors import ExplorerError
from explorer.params import (Boolean, InstanceOf, Interval, Options, Pairs, Param, ParamSet,
                             SequenceOf, Text, accepts_any, check_param, describe_any,
                             parameter_error, parse_pairs, validate_params)
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


# ----------------------------------------------------------------------------- validate_params

@validate_params({"budget": [Interval("int", 1, None), Interval("float", 0, 1, closed="neither"),
                             Options(("auto",)), None],
                  "names": [Text(), SequenceOf((Text(),))]})
def _pick(budget, names="a", free=object()):
    return budget, names


def test_validate_params_accepts_any_of_its_constraints():
    assert _pick(5) == (5, "a")
    assert _pick(0.25, ["a", "b"]) == (0.25, ["a", "b"])
    assert _pick("auto", names=("x",))[0] == "auto"
    assert _pick(None)[0] is None
    assert _pick(np.int64(3))[0] == 3  # numpy scalars are numbers
    allowed = "an int in [1, inf), a float in (0, 1), a str among {'auto'} or None"
    for bad in (0, 1.5, "all", True, float("nan"), float("inf"), [3]):
        with pytest.raises(ExplorerError) as e:
            _pick(bad)
        assert str(e.value) == f"The 'budget' parameter of _pick must be {allowed}. Got {bad!r}."
    with pytest.raises(ExplorerError, match=r"'names' parameter of _pick must be a non-empty "
                                            r"str or a non-empty list of items that are each a "
                                            r"non-empty str\. Got \[\]\."):
        _pick(3, [])
    with pytest.raises(ExplorerError, match="Got \\['a', 2\\]"):
        _pick(3, ["a", 2])
    # unconstrained arguments pass as they are; a wrong call is Python's own TypeError
    assert _pick(2, "n", free="anything") == (2, "n")
    with pytest.raises(TypeError):
        _pick()
    assert _pick.parameter_owner == "_pick" and set(_pick.parameter_constraints) == {
        "budget", "names"}
    assert inspect.signature(_pick).parameters["names"].default == "a"  # wraps keeps it


def test_validate_params_refuses_constraints_for_parameters_the_function_lacks():
    with pytest.raises(TypeError, match="has no parameter"):
        @validate_params({"nope": [Text()]})
        def f(x):
            return x


def test_check_param_adds_the_reason_of_a_data_bound():
    assert check_param("f", "k", 3, [Interval("int", 1, 9)], "fewer than the 10 rows") == 3
    with pytest.raises(ExplorerError) as e:
        check_param("f", "k", 10, [Interval("int", 1, 9)], "fewer than the 10 rows")
    assert str(e.value) == ("The 'k' parameter of f must be an int in [1, 9] (fewer than the "
                            "10 rows). Got 10.")
    long = np.zeros((50, 50))  # a long value is cut, on one line
    msg = str(parameter_error("x", "f", "an int", long))
    assert "\n" not in msg and msg.endswith("...") and len(msg) < 200


def test_named_values_parse_in_one_place_and_never_evaluate():
    quotas = Pairs((Interval("int", 0, None),), name="group", separator=",")
    assert parse_pairs("a=10, b = 5,", ",") == {"a": "10", "b": "5"}
    assert quotas.parse("a=10, b=5") == {"a": 10, "b": 5}
    assert quotas.parse("") == {} and quotas.accepts({})
    assert explorer.get_strategy("group-quota").params.get("quotas").constraint.parse(
        "x=y=3") == {"x=y": 3}  # a group name may hold '='

    for text in ("a", "a=x", "a=-1", "=3", "a=1, a=2", "a=1.5"):
        assert quotas.parse(text) == text, text  # left for the caller's message
    # text is only split at '=' and the separator: nothing in it runs
    assert quotas.parse("__import__('os').getcwd()=1") == {"__import__('os').getcwd()": 1}
    assert quotas.describe() == ("a dict {group: an int in [0, inf)} or text "
                                 "'GROUP=VALUE, GROUP=VALUE'")
    spec = explorer.get_strategy("group-quota")
    for bad in ("nope", "a=x", "a=1, a=2", {"a": -1}, {"a": 2.5}, ["a=1"]):
        with pytest.raises(ExplorerError) as e:
            spec.params.resolve({"quotas": bad})
        assert str(e.value) == (f"The 'quotas' parameter of group-quota must be "
                                f"{spec.params.get('quotas').describe()}. Got {bad!r}."), bad
    assert spec.params.resolve({"quotas": "a=3, b=4"})["quotas"] == {"a": 3, "b": 4}
    # --param quotas=... is the same text, through the same parser
    assert spec.params.resolve(spec.params.parse_cli(["quotas=a=3, b=4"]))["quotas"] == {
        "a": 3, "b": 4}
    inner, parsed = spec.inner({"inner": "k-means", "inner_params": "pick=median; n_clusters=5"})
    assert inner.name == "k-means" and parsed == {"pick": "median", "n_clusters": 5}
    assert spec.inner({"inner": "k-means", "inner_params": {"n_clusters": 5}})[1] == {
        "n_clusters": 5}
    with pytest.raises(ExplorerError, match="^The 'inner_params' parameter of group-quota must "
                                            "be .*Got 'n_clusters'\\.$"):
        spec.inner({"inner": "k-means", "inner_params": "n_clusters"})


def test_group_quotas_as_text_or_dict_give_the_same_picks():
    data = explorer.load_sample("digits")
    groups = sorted(set(data.metadata["group"].astype(str)))
    as_text = {"inner": "k-means", "quotas": f"{groups[0]}=12", "inner_params": "pick=median"}
    as_dict = {"inner": "k-means", "quotas": {groups[0]: 12}, "inner_params": {"pick": "median"}}
    runs = [explorer.select(data, "group-quota", 40, group_column="group", seed=3, params=p)
            for p in (as_text, as_dict)]
    assert runs[0].indices.tolist() == runs[1].indices.tolist()
    assert runs[0].info["quotas"][groups[0]] == 12


# Every decorated public function of the evaluation and analysis modules, refusing a bad value
# of each parameter it declares with the one message shape.

def _decorated_functions():
    import importlib

    from test_conventions import VALIDATED_MODULES

    out = []
    for name in VALIDATED_MODULES:
        module = importlib.import_module(name)
        for fname, func in sorted(vars(module).items()):
            if inspect.isfunction(func) and func.__module__ == name and \
                    hasattr(func, "parameter_constraints"):
                out.append(func)
    from explorer.evaluate.scorecard import ScoringContext

    out.append(ScoringContext.build)
    return out


DECORATED = _decorated_functions()
#: Values of many kinds; a parameter is tried with each one its constraints refuse.
ODD_VALUES = ("not-a-value", "", -1, 0, 1, 2.5, -0.5, 1e9, float("nan"), float("inf"), True,
              None, [], [0, "x"], ("a",), {}, {"a": object()}, object(), np.float64(-3.0),
              np.arange(3))


@pytest.fixture(scope="module")
def valid_objects():
    """A valid instance of every class an InstanceOf constraint names."""
    from explorer.dimensions import DimensionChoice, choose_dimensions
    from explorer.evaluate.probes import Probe, holdout_split, make_probe
    from explorer.evaluate.scorecard import ScoringContext
    from explorer.row_scores import RowScores, row_scores

    data = explorer.load_sample("digits")
    pool, held = holdout_split(data, "label", seed=0)
    small = explorer.Dataset.from_arrays(np.eye(4, dtype=np.float32))
    return {explorer.Dataset: data, dict: {},
            Probe: make_probe(data, "knn", pool, held, label_column="label"),
            DimensionChoice: choose_dimensions(data, 4, "variance"),
            RowScores: row_scores(small, k=1, n_clusters=2), str: "x",
            ScoringContext: None}


def _valid(constraint, objects):
    if constraint is None:
        return None
    if isinstance(constraint, Interval):
        lo = constraint.low if constraint.low is not None else 0
        hi = constraint.high if constraint.high is not None else lo + 2
        cast = int if constraint.kind == "int" else float
        return next(cast(v) for v in (lo, lo + 1, (lo + hi) / 2) if constraint.accepts(cast(v)))
    if isinstance(constraint, Options):
        return constraint.values[0]
    if isinstance(constraint, Text):
        return "x"
    if isinstance(constraint, Boolean):
        return True
    if isinstance(constraint, SequenceOf):
        return [_valid(constraint.items[0], objects)] * max(1, constraint.min_items)
    if isinstance(constraint, Pairs):
        return {}
    if isinstance(constraint, InstanceOf):
        return objects[constraint.types[0]]
    return print  # Callback


def _valid_for(allowed, objects):
    """A value one of ``allowed`` accepts (None when it is allowed)."""
    if None in allowed:
        return None
    usable = [c for c in allowed
              if not (isinstance(c, InstanceOf) and objects.get(c.types[0]) is None)]
    return _valid(usable[0], objects)


@pytest.mark.parametrize("func", DECORATED, ids=lambda f: f.parameter_owner)
def test_each_decorated_function_refuses_bad_values_with_one_message(func, valid_objects):
    """Property-style: for every declared parameter, every odd value its constraints refuse
    gives exactly 'The <param> parameter of <function> must be <allowed>. Got <value>.'
    (the other declared parameters valid, so this one is the one refused), and every
    default is allowed."""
    constraints = func.parameter_constraints
    signature = inspect.signature(func)
    for param, allowed in constraints.items():
        default = signature.parameters[param].default
        if default is not inspect.Parameter.empty:
            assert accepts_any(allowed, default), (func.parameter_owner, param, default)
    base = {}  # every declared parameter valid; the others bound only
    for name, p in signature.parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if name in constraints:
            base[name] = _valid_for(constraints[name], valid_objects)
        elif p.default is inspect.Parameter.empty:
            base[name] = None
    tried = 0
    for param, allowed in constraints.items():
        for bad in ODD_VALUES:
            if accepts_any(allowed, bad):
                continue
            with pytest.raises(ExplorerError) as err:
                func(**{**base, param: bad})
            shown = repr(bad)
            if len(shown) > 120 or "\n" in shown:
                shown = shown.replace("\n", " ")[:100] + "..."
            want = (f"The {param!r} parameter of {func.parameter_owner} must be "
                    f"{describe_any(allowed)}. Got {shown}.")
            assert str(err.value) == want
            tried += 1
    assert tried, func.parameter_owner


def test_interval_refuses_infinite_and_nan_values():
    for kind in ("int", "float"):
        c = Interval(kind, 0, None)
        assert not c.accepts(float("inf")) and not c.accepts(float("nan"))
    assert Interval("float", None, None).accepts(-1e308) and math.isfinite(-1e308)
    assert Interval("float").describe() == "a float in (-inf, inf)"
