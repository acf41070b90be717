"""Behaviour pin: every strategy's picks and scores on the bundled samples are unchanged.

The cases and how to regenerate ``tests/golden.json`` (and when that is legitimate) are in
``tests/golden_cases.py``.
"""

from __future__ import annotations

import json

import pytest

from golden_cases import GOLDEN, cases, differences

EXPECTED = json.loads(GOLDEN.read_text())
CASES = dict(cases())


def test_every_registered_strategy_is_pinned():
    from explorer.strategies import list_strategies

    missing = [s.name for s in list_strategies()
               if f"digits/{s.name}" not in EXPECTED or f"pydocs/{s.name}" not in EXPECTED]
    assert not missing, (f"no golden values for {missing}: run "
                         "`PYTHONPATH=. python tests/golden_cases.py --write` and commit")
    assert set(CASES) == set(EXPECTED)


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_same_picks_and_scores(key):
    got = json.loads(json.dumps(CASES[key]()))
    diff = differences(EXPECTED[key], got)
    assert not diff, f"{key} changed: " + "; ".join(diff[:5])
