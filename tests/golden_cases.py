"""Pinned behaviour: the picks and scores every strategy gives on the bundled samples.

``tests/golden.json`` holds, for each case below, the selected row indices (exactly), the
per-pick gains and a scorecard's values (to a relative 1e-6). ``tests/test_golden.py`` runs
the cases again and fails on any difference, so a refactor that changes a result is caught.

Regenerate (from the repository root)::

    PYTHONPATH=. python tests/golden_cases.py --write

A regeneration is legitimate only when a result is meant to change: a strategy's algorithm
or a default parameter was changed on purpose, a strategy was added (its cases are new), or
a bundled sample was regenerated. Say which in the commit message, with the cases that
moved (``--diff`` prints them). A refactor, a faster kernel or a moved module must pass
without regenerating.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).with_name("golden.json")

#: Relative tolerance for floating-point values (gains, scores): summation order in BLAS may
#: differ between machines in the last bits; indices are compared exactly.
RTOL = 1e-6

#: The columns each kind of input comes from, per sample.
INPUTS = {
    "digits": {"labels": "label", "groups": "group", "scores": "difficulty",
               "target": "label == '3'"},
    "pydocs": {"labels": "label", "groups": "label", "scores": "difficulty",
               "target": "label == 'simple statements'"},
}

BUDGET = {"digits": 30, "pydocs": 20}
METRIC = {"digits": "euclidean", "pydocs": "cosine"}

#: Strategies left out of the digits-under-cosine cases: the exact DPP's N^3 eigendecomposition
#: takes seconds, and the Euclidean case already pins it.
SLOW_UNDER_COSINE = ("dpp",)

#: Parameter variants beyond the defaults: (strategy, params, sample).
VARIANTS = [
    ("k-means", {"pick": "random", "n_clusters": 12}, "digits"),
    ("facility-location", {"optimizer": "naive"}, "digits"),
    ("facility-location", {"optimizer": "stochastic", "epsilon": 0.2}, "pydocs"),
    ("facility-location", {"kernel": "sparse", "neighbors": 16}, "digits"),
    ("max-min", {"start": "random"}, "digits"),
    ("stratified", {"by": "label", "allocation": "equal"}, "digits"),
    ("dedup", {"threshold": 0.4, "keep": "random"}, "pydocs"),
    ("group-quota", {"inner": "k-center", "allocation": "equal", "quotas": "ink-low=12"},
     "digits"),
    ("group-quota", {"inner": "k-means", "inner_params": "pick=random; n_clusters=3"},
     "digits"),
    ("herding", {"n_features": 256, "bandwidth": 3.0}, "digits"),
    ("vote-k", {"neighbors": 5, "discount": 2.0}, "pydocs"),
    ("ot-target", {"mode": "fixed", "dims": 8}, "digits"),
]


def _kwargs(name: str, sample: str) -> dict:
    from explorer.strategies import get_strategy

    spec = get_strategy(name)
    cols = INPUTS[sample]
    kw = {}
    if "labels" in spec.needs or name in ("stratified", "group-quota"):
        kw["label_column"] = cols["labels"]
    if "groups" in spec.needs:
        kw["group_column"] = cols["groups"]
    if "scores" in spec.needs:
        kw["score_column"] = cols["scores"]
    if "target" in spec.needs:
        kw["target_query"] = cols["target"]
    return kw


def _floats(values) -> list:
    if values is None:
        return None
    return [None if not math.isfinite(float(v)) else float(v) for v in np.asarray(values)]


def _record(sel) -> dict:
    return {"indices": [int(i) for i in sel.indices], "gains": _floats(sel.gains),
            "weights": _floats(sel.weights)}


def cases():
    """(key, function returning a small JSON-able record) for every pinned case."""
    from explorer.strategies import list_strategies

    out = []

    def run(sample, name, params=None, metric=None, **extra):
        import explorer

        data = explorer.load_sample(sample)
        sel = explorer.select(data, name, BUDGET[sample], seed=7, params=params,
                              metric=metric or METRIC[sample], **_kwargs(name, sample), **extra)
        return _record(sel)

    for spec in list_strategies():
        for sample in ("digits", "pydocs"):
            out.append((f"{sample}/{spec.name}", lambda s=sample, n=spec.name: run(s, n)))
        if spec.name not in SLOW_UNDER_COSINE:
            out.append((f"digits/{spec.name}/cosine",
                        lambda n=spec.name: run("digits", n, metric="cosine")))
    for name, params, sample in VARIANTS:
        key = f"{sample}/{name}/" + ",".join(f"{k}={v}" for k, v in params.items())
        out.append((key, lambda s=sample, n=name, p=params: run(s, n, params=p)))
    out.append(("digits/pipeline dedup -> k-center", _pipeline))
    out.append(("digits/k-means where label in 1,7", lambda: run(
        "digits", "k-means", where="label in ['1', '7'] and difficulty < 0.5")))
    out.append(("digits/k-center pinned+excluded", lambda: run(
        "digits", "k-center", pinned=[3, 99], excluded=list(range(200, 260)))))
    out.append(("digits/scorecard k-center", lambda: _scorecard("digits", "k-center")))
    out.append(("pydocs/scorecard k-means", lambda: _scorecard("pydocs", "k-means")))
    return out


def _pipeline() -> dict:
    import explorer

    data = explorer.load_sample("digits")
    first = explorer.select(data, "dedup", None, params={"threshold": 1.0}, seed=7)
    then = explorer.select(data, "k-center", 40, after=first, seed=7)
    return {"first": _record(first), "then": _record(then)}


def _scorecard(sample: str, name: str) -> dict:
    import explorer

    data = explorer.load_sample(sample)
    sel = explorer.select(data, name, BUDGET[sample], seed=7, metric=METRIC[sample])
    card = explorer.score(data, sel, label_column="label", random_draws=8, seed=11)
    return {"selection": _record(sel),
            "metrics": {m.name: _floats([m.value, m.random_mean, m.random_std, m.percentile])
                        for m in card.metrics.values()}}


def compute() -> dict:
    return {key: func() for key, func in cases()}


def differences(expected, got, path="") -> list[str]:
    """Where two records differ: indices exactly, floats to RTOL."""
    if isinstance(expected, dict) and isinstance(got, dict):
        out = []
        for k in sorted(set(expected) | set(got)):
            if k not in expected or k not in got:
                out.append(f"{path}/{k}: only in {'expected' if k in expected else 'new'}")
            else:
                out += differences(expected[k], got[k], f"{path}/{k}")
        return out
    if isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            return [f"{path}: length {len(expected)} -> {len(got)}"]
        for i, (a, b) in enumerate(zip(expected, got)):
            d = differences(a, b, f"{path}[{i}]")
            if d:
                return d  # the first difference in a list is enough to say where
        return []
    if isinstance(expected, float) or isinstance(got, float):
        if expected is None or got is None:
            return [] if expected is got else [f"{path}: {expected!r} -> {got!r}"]
        if math.isclose(expected, got, rel_tol=RTOL, abs_tol=1e-9):
            return []
        return [f"{path}: {expected!r} -> {got!r}"]
    return [] if expected == got else [f"{path}: {expected!r} -> {got!r}"]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    new = compute()
    if "--diff" in sys.argv:
        old = json.loads(GOLDEN.read_text())
        for line in differences(old, new):
            print(line)
    if "--write" in sys.argv:
        GOLDEN.write_text(json.dumps(new, indent=0, sort_keys=True) + "\n")
        print(f"wrote {GOLDEN} ({len(new)} cases)")
