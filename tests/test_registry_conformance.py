"""One conformance test over the whole registry: adding a strategy is adding one module.

Every registered strategy: a summary and a paper, a constraint and help for every parameter,
the formatted error for an invalid value of each, a References section in its docstring, a run
on the bundled digits sample, determinism for a seed, the prefix property when greedy, pinned
rows first and excluded rows absent, the budget met exactly when it promises to.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import explorer
from explorer.errors import ExplorerError
from explorer.params import Boolean, Interval, Options, Pairs, Text
from explorer.strategies import REGISTRY, list_strategies

NAMES = sorted(REGISTRY)


def inputs_for(spec, data):
    """The columns / target a strategy needs, taken from the digits sample."""
    kw = {}
    if "labels" in spec.needs:
        kw["label_column"] = "label"
    if "groups" in spec.needs:
        kw["group_column"] = "group"
    if "scores" in spec.needs:
        kw["score_column"] = "difficulty"
    if "target" in spec.needs:
        kw["target"] = np.flatnonzero(data.metadata["label"].to_numpy() == "3")[:60]
    return kw


def invalid_values(param):
    c = param.constraint
    if isinstance(c, Interval):
        bad = ["not-a-number"]
        if c.low is not None:
            bad.append(c.low - 1 if c.kind == "int" else c.low - 0.5)
        if c.high is not None:
            bad.append(c.high + 1 if c.kind == "int" else c.high + 0.5)
        if c.kind == "int":
            bad.append(2.5)
        return bad
    if isinstance(c, Options):
        return ["no-such-option", 3]
    if isinstance(c, Boolean):
        return ["maybe"]
    if isinstance(c, Text):
        return ["", 5]
    if isinstance(c, Pairs):  # named values: not KEY=VALUE text, a wrong value, not a dict
        return ["no-equals-sign", "=1", 5]
    raise AssertionError(f"unknown constraint {c!r}")


def test_registry_is_not_empty_and_names_are_kebab_case():
    assert {"random", "stratified", "k-center", "k-means", "facility-location", "dedup"} <= set(
        NAMES)
    for name in NAMES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name), name
    assert [s.name for s in list_strategies()][0] in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_spec_is_complete(name):
    spec = REGISTRY[name]
    assert spec.summary.endswith(".") and 20 < len(spec.summary) < 200, spec.summary
    assert len(spec.paper) > 10
    doc = spec.func.__doc__ or ""
    assert "References" in doc, f"{name}: docstring must cite its paper in a References section"
    for p in spec.params.params:
        assert p.help and p.help.strip(), f"{name}.{p.name} has no help"
        assert p.accepts(p.default), f"{name}.{p.name}: default {p.default!r} is not allowed"


@pytest.mark.parametrize("name", NAMES)
def test_spec_carries_a_cost_model_and_its_nested_parameters(name):
    """A strategy without a cost model would be estimated as quadratic, never silently
    cheap; its model is checked against a measured run in tests/test_cost_models.py."""
    from explorer.cost import CostModel, Size, estimate

    spec = REGISTRY[name]
    assert isinstance(spec.cost, CostModel), (
        f"{name}: register(..., cost=CostModel(seconds=..., memory=...)) is missing")
    defaults = {p.name: p.default for p in spec.params.params}
    for n in (1_000, 100_000):
        size = Size(n, 64, 100, defaults, 1e10, 1e10)
        assert np.isfinite(spec.cost.seconds(size)) and spec.cost.seconds(size) >= 0
        assert np.isfinite(spec.cost.memory(size)) and spec.cost.memory(size) >= 0
    assert estimate(name, 1_000, 64, 100).seconds > 0
    if spec.sets_size:
        assert not spec.exact_budget, f"{name} sets its own size, so it cannot meet a budget"
    if spec.nested is not None:
        names = {p.name for p in spec.params.params}
        assert {spec.nested.strategy, spec.nested.params} <= names
        inner, parsed = spec.inner({spec.nested.strategy: spec.inner_choices()[0]})
        assert inner.name in spec.inner_choices() and parsed == {}


@pytest.mark.parametrize("name", NAMES)
def test_invalid_parameter_values_get_the_formatted_error(name, digits):
    spec = REGISTRY[name]
    kw = inputs_for(spec, digits)
    for p in spec.params.params:
        for bad in invalid_values(p):
            if p.optional and bad is None:
                continue
            with pytest.raises(ExplorerError) as err:
                explorer.select(digits, name, 10, params={p.name: bad}, **kw)
            msg = str(err.value)
            assert msg.startswith(f"The {p.name!r} parameter of {name} must be "), msg
            assert msg.endswith(f"Got {bad!r}."), msg
    with pytest.raises(ExplorerError, match="has no parameter 'no_such_param'"):
        explorer.select(digits, name, 10, params={"no_such_param": 1}, **kw)


@pytest.mark.parametrize("name", NAMES)
def test_runs_on_real_data_deterministically_with_pins_and_exclusions(name, digits):
    spec = REGISTRY[name]
    kw = inputs_for(spec, digits)
    budget = 40
    pinned = [5, 17]
    excluded = list(range(100, 140))
    a = explorer.select(digits, name, budget, seed=3, pinned=pinned, excluded=excluded, **kw)
    b = explorer.select(digits, name, budget, seed=3, pinned=pinned, excluded=excluded, **kw)
    assert np.array_equal(a.indices, b.indices), "same seed must give the same indices"
    idx = a.indices
    assert idx.dtype == np.int64
    assert len(np.unique(idx)) == len(idx)
    if spec.exact_budget:
        assert len(idx) == budget
    else:
        assert 1 <= len(idx) <= budget
    assert idx[:2].tolist() == pinned, "pinned rows come first"
    assert not np.isin(idx, excluded).any(), "excluded rows never appear"
    assert ((idx >= 0) & (idx < digits.n)).all()
    assert a.fingerprint == digits.fingerprint
    assert a.strategy == name and a.seed == 3 and a.budget == budget


@pytest.mark.parametrize("name", [n for n in NAMES if REGISTRY[n].greedy])
def test_greedy_results_are_prefixes(name, digits):
    kw = inputs_for(REGISTRY[name], digits)
    small = explorer.select(digits, name, 15, seed=1, **kw).indices
    large = explorer.select(digits, name, 45, seed=1, **kw).indices
    assert np.array_equal(large[: len(small)], small)


@pytest.mark.parametrize("name", NAMES)
def test_cosine_metric_runs(name, digits):
    kw = inputs_for(REGISTRY[name], digits)
    sel = explorer.select(digits, name, 25, seed=0, metric="cosine", **kw)
    assert sel.metric == "cosine" and 1 <= len(sel) <= 25


def test_missing_inputs_are_named(digits):
    needy = [n for n in NAMES if REGISTRY[n].needs]
    for name in needy:
        with pytest.raises(ExplorerError, match=f"Strategy '{name}' needs"):
            explorer.select(digits, name, 10)
    with pytest.raises(ExplorerError, match="stratified with by='label' needs --label-column"):
        explorer.select(digits, "stratified", 10, params={"by": "label"})
