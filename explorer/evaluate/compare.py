"""Compare strategies across budgets against the random envelope; overlap and stability."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ..params import (METRIC, OPTIONAL_CALLBACK, OPTIONAL_COLUMN, SEED, Boolean, InstanceOf,
                      Interval, SequenceOf, Text, validate_params)
from ..selection import select
from ..strategies import get_strategy
from .scorecard import ScoringContext, score


#: Default budgets stop here however large the data: percentages of a large N ask for
#: thousands of picks (k-means with as many clusters, probes trained on as many rows), which
#: turn a comparison into a long wait; 50-1,000 rows keep it short at any N.
#: ``explorer.cost.estimate_sweep`` says how long given budgets take on given data.
DEFAULT_LOW_CAP = 50
DEFAULT_HIGH_CAP = 1000


COUNT = Interval("int", 1, None)


@validate_params({"n": [COUNT], "count": [COUNT], "low": [COUNT, None], "high": [COUNT, None]})
def log_budgets(n: int, count: int = 5, low: int | None = None, high: int | None = None
                ) -> list[int]:
    """``count`` log-spaced budgets between ``low`` (default ~1% of n, at least 10, at most
    50) and ``high`` (default ~15% of n, at most 1,000), rounded to distinct integers.

    >>> log_budgets(1797)
    [18, 35, 70, 137, 270]
    >>> log_budgets(100_000)
    [50, 106, 224, 473, 1000]
    """
    low = low or max(10, min(round(0.01 * n), DEFAULT_LOW_CAP))
    high = high or max(low + 1, min(round(0.15 * n), DEFAULT_HIGH_CAP))
    values = np.unique(np.round(np.geomspace(low, min(high, n), count)).astype(int))
    return [int(v) for v in values]


@validate_params({
    "strategies": [SequenceOf((Text(),))],
    "budgets": [SequenceOf((Interval("float", 0, None, closed="neither"),))],
    "seed": [SEED], "metric": [METRIC], "label_column": OPTIONAL_COLUMN,
    "group_column": OPTIONAL_COLUMN, "score_column": OPTIONAL_COLUMN,
    "random_draws": [Interval("int", 2, None)],
    "params": [InstanceOf((dict,), "a dict of strategy -> its parameters"), None],
    "progress": OPTIONAL_CALLBACK,
    "context": [InstanceOf((ScoringContext,), "a ScoringContext"), None],
    "cost_column": OPTIONAL_COLUMN})
def sweep(data, strategies, budgets, *, seed: int = 0, metric: str = "euclidean",
          label_column: str | None = None, group_column: str | None = None,
          score_column: str | None = None, random_draws: int = 30, params=None,
          progress=None, context: ScoringContext | None = None,
          cost_column: str | None = None):
    """Scorecards of every strategy at every budget; returns (table, selections).

    ``table`` has one row per strategy x budget x metric with the value, the random envelope
    (mean, std, p05, p95), the percentile and the verdict. Greedy strategies run once at the
    largest budget; smaller budgets are its prefixes (identical by the prefix property).
    ``selections`` maps (strategy, budget) to the row indices. With ``cost_column`` the
    budgets are total costs: every strategy runs at each one and is scored against random
    subsets of the same total cost.
    """
    params = params or {}
    budgets = sorted(int(b) for b in budgets) if cost_column is None else \
        sorted(float(b) for b in budgets)
    ctx = context or ScoringContext.build(data, metric=metric, label_column=label_column,
                                          seed=seed)
    rows = []
    selections = {}
    steps = len(strategies) * len(budgets)
    done = 0
    for name in strategies:
        spec = get_strategy(name)
        kw = dict(seed=seed, metric=metric, params=params.get(name),
                  label_column=label_column, group_column=group_column,
                  score_column=score_column, cost_column=cost_column)
        prefixes = spec.greedy and cost_column is None
        largest = select(data, name, budgets[-1], **kw) if prefixes else None
        for b in budgets:
            sel = largest if prefixes else select(data, name, b, **kw)
            idx = sel.indices[:b] if cost_column is None else sel.indices
            selections[(name, b)] = idx
            card = score(data, idx, metric=metric, label_column=label_column,
                         random_draws=random_draws, seed=seed, context=ctx,
                         cost_column=cost_column,
                         cost_budget=None if cost_column is None else b)
            for m in card.metrics.values():
                rows.append({"strategy": name, "budget": b, "metric": m.name, "value": m.value,
                             "random_mean": m.random_mean, "random_std": m.random_std,
                             "random_p05": m.random_p05, "random_p95": m.random_p95,
                             "percentile": m.percentile, "higher_is_better": m.higher_is_better,
                             "verdict": m.verdict})
            done += 1
            if progress is not None:
                progress(done / steps, f"{name} at budget {b}")
    return pd.DataFrame(rows), selections


@validate_params({"sets": [InstanceOf((dict,), "a dict of name -> row indices")]})
def jaccard(sets: dict) -> pd.DataFrame:
    """Jaccard overlap |A & B| / |A | B| between every pair of index sets.

    >>> jaccard({"a": [1, 2, 3], "b": [2, 3, 4]}).loc["a", "b"]
    np.float64(0.5)
    """
    names = list(sets)
    m = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for a, b in itertools.combinations(names, 2):
        sa, sb = set(np.asarray(sets[a]).tolist()), set(np.asarray(sets[b]).tolist())
        union = len(sa | sb)
        m.loc[a, b] = m.loc[b, a] = len(sa & sb) / union if union else 1.0
    return m


@validate_params({"strategy": [Text()], "seeds": [SequenceOf((SEED,), min_items=2)]})
def stability(data, strategy: str, budget: int, seeds=(0, 1, 2, 3, 4), **kw) -> float:
    """Mean Jaccard overlap between the selections of different seeds (1 = seed-independent)."""
    picks = {s: select(data, strategy, budget, seed=s, **kw).indices for s in seeds}
    m = jaccard(picks).to_numpy()
    iu = np.triu_indices(len(seeds), 1)
    return float(m[iu].mean())


@validate_params({"score_column": [Text()],
                  "weights": [SequenceOf((Interval("float", 0, 1),))], "metric": [METRIC],
                  "higher_is_better": [Boolean()], "seed": [SEED]})
def quality_coverage_front(data, budget: int, score_column: str, *,
                           weights=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
                           metric: str = "euclidean", higher_is_better: bool = True,
                           seed: int = 0, **kw) -> pd.DataFrame:
    """The quality-diversity trade-off over its weight: per weight, the subset's mean score
    and its mean / worst coverage distance, with ``pareto`` marking the weights no other
    weight beats on both mean score and worst coverage (the distance the strategy trades).

    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> front = quality_coverage_front(data, 30, "difficulty", weights=(0.0, 1.0))
    >>> front["mean_score"].is_monotonic_increasing
    True
    """
    from .. import space

    scores = data.column(score_column, "scores").to_numpy(dtype=np.float64)
    X = space.prepare(data.embeddings, metric, ids=data.ids)
    rows = []
    for w in weights:
        sel = select(data, "quality-diversity", budget, seed=seed, metric=metric,
                     score_column=score_column,
                     params={"weight": float(w), "higher_is_better": higher_is_better}, **kw)
        near, _ = space.nearest(X, X[sel.indices], metric)
        rows.append({"weight": float(w), "mean_score": float(scores[sel.indices].mean()),
                     "coverage_mean": float(near.mean()), "coverage_max": float(near.max())})
    frame = pd.DataFrame(rows)
    sign = 1.0 if higher_is_better else -1.0
    q = sign * frame["mean_score"].to_numpy()
    c = frame["coverage_max"].to_numpy()
    frame["pareto"] = [not any((q[j] >= q[i] and c[j] <= c[i]) and (q[j] > q[i] or c[j] < c[i])
                               for j in range(len(frame))) for i in range(len(frame))]
    return frame
