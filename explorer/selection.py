"""``select``: validate at the boundary, run a registered strategy, check and record its picks."""

from __future__ import annotations

import itertools
import math
import os
import time
from dataclasses import dataclass, field, replace
from numbers import Integral, Real
from typing import Any, Callable

import numpy as np

from . import space
from .data.dataset import Dataset
from .errors import ExplorerError, preview
from .data.rows import row_indices
from .params import budget_count, parameter_error
from .strategies import get_strategy
from .strategies.base import (COST_TOLERANCE, Picks, Problem, keep_what_fits,
                              most_rows_that_fit)

DISTANCES = ("euclidean", "cosine")


@dataclass(frozen=True, eq=False)
class Selection:
    """A chosen subset and everything needed to reproduce it.

    Attributes
    ----------
    indices : int64 row indices in pick order (pinned rows first). For greedy strategies every
        prefix is the selection for that smaller budget.
    strategy, params, seed, metric, budget : what produced it (params include defaults).
    gains : per-pick gain or pick-time distance, when the strategy has one.
    weights : per-pick importance weights, when the strategy returns them.
    pinned, excluded : the must-include and must-exclude row indices given.
    columns : the label / group / score columns the run used.
    info : small extra results of the strategy (a proposed budget, a KL reduction, ...).
    fingerprint : fingerprint of the dataset it was made on.
    seconds : wall time of the strategy.
    where : the metadata filter candidates had to pass (its canonical text), if any.
    target : how the target set was given (row indices, a query, a file), if any.
    steps : earlier steps of a pipeline (``after=``), oldest first, each a dict like
        :meth:`step` — this selection ran on the rows the last of them selected.
    engine : for a run on an engine (``engine=`` or a sharded dataset): the engine's name,
        the number of partitions, the mode (exact / coreset / greedi) and the bound it keeps.
    row_ids : the ids of the selected rows, when the dataset's ids are not held in memory
        (a sharded dataset).
    cost_budget, spend : with a cost column (``columns["cost_column"]``): the total cost
        allowed and the cost of the rows selected; ``budget`` is then the count they make.
    """

    indices: np.ndarray
    strategy: str
    params: dict
    seed: int | None
    metric: str
    budget: int
    gains: np.ndarray | None = None
    weights: np.ndarray | None = None
    pinned: tuple = ()
    excluded: tuple = ()
    columns: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    fingerprint: str = ""
    seconds: float = 0.0
    steps: tuple = ()
    where: str | None = None
    target: dict | None = None
    engine: dict | None = None
    row_ids: np.ndarray | None = None
    cost_budget: float | None = None
    spend: float | None = None

    @property
    def cost(self) -> dict | None:
        """{"budget", "spend"} under a cost budget (the manifest's ``cost``), else None."""
        if self.cost_budget is None:
            return None
        return {"budget": float(self.cost_budget), "spend": float(self.spend)}

    def step(self) -> dict:
        """This selection as one recorded pipeline step (what replays it)."""
        return {"strategy": self.strategy, "params": dict(self.params), "seed": self.seed,
                "metric": self.metric, "budget": self.budget, "columns": dict(self.columns),
                "where": self.where, "target": self.target,
                "pinned": [int(i) for i in self.pinned],
                "excluded": [int(i) for i in self.excluded], "selected": len(self),
                **({"cost": self.cost} if self.cost is not None else {})}

    def __len__(self) -> int:
        return int(len(self.indices))

    def mask(self, n: int) -> np.ndarray:
        m = np.zeros(n, dtype=bool)
        m[self.indices] = True
        return m

    def ids(self, data: Dataset) -> np.ndarray:
        return self.row_ids if self.row_ids is not None else data.ids[self.indices]

    def __repr__(self) -> str:
        spend = "" if self.cost is None else \
            f", cost {self.spend:g} of {self.cost_budget:g} ({self.columns['cost_column']})"
        return (
            f"Selection({self.strategy}, {len(self)} of budget {self.budget}{spend}, "
            f"seed={self.seed}, "
            f"metric={self.metric}, first={preview(self.indices.tolist(), 5)})"
        )


def resolve_seed(seed) -> tuple[np.random.Generator, int | None]:
    """Seed in at the boundary: int, None (a fresh seed is drawn and recorded) or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed, None
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**31))
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise parameter_error("seed", "select", "an int in [0, inf), None or a Generator", seed)
    return np.random.default_rng(int(seed)), int(seed)


def resolve_budget(budget, n_available: int, n_total: int, owner: str = "select") -> int:
    """A count (int >= 1) or a fraction in (0, 1) of all rows; checked against what is left."""
    if isinstance(budget, bool) or not isinstance(budget, Real):
        raise parameter_error("budget", owner, "an int in [1, inf) or a float in (0, 1)", budget)
    if isinstance(budget, Integral) or (isinstance(budget, float) and budget >= 1
                                        and float(budget).is_integer()):
        k = int(budget)
        if k < 1:
            raise parameter_error("budget", owner, "an int in [1, inf) or a float in (0, 1)",
                                  budget)
    else:
        if not 0 < budget < 1:
            raise parameter_error("budget", owner, "an int in [1, inf) or a float in (0, 1)",
                                  budget)
        k = budget_count(budget, n_total)
    if k > n_available:
        left = "rows" if n_available == n_total else "rows left after exclusions"
        raise ExplorerError(f"budget {k} exceeds the {n_available} {left}.")
    return k


def _as_indices(values, n: int, name: str, data: Dataset | None) -> np.ndarray:
    if values is None:
        return np.zeros(0, dtype=np.int64)
    return row_indices(values, n, name, repeats="drop", allow_empty=True)


def cost_array(data: Dataset, column: str) -> np.ndarray:
    """The cost of every row (float64): a numeric column whose values are finite and > 0,
    else one line naming the column and the first bad row.

    >>> import numpy as np, pandas as pd, explorer
    >>> data = explorer.Dataset.from_arrays(np.eye(3, dtype=np.float32),
    ...                                     metadata=pd.DataFrame({"tokens": [3, 0, 5]}))
    >>> cost_array(data, "tokens")
    Traceback (most recent call last):
    ...
    explorer.errors.ExplorerError: Cost column 'tokens' must hold finite numbers > 0; row 1 (id 1) holds 0. Fix or drop that row, or choose another cost column.
    """
    series = data.column(column, "costs")
    if series.dtype.kind not in "fiu":
        raise ExplorerError(f"Cost column {column!r} must be numeric (tokens, seconds, bytes); "
                            f"it holds {series.dtype} values.")
    values = np.asarray(series, dtype=np.float64)
    bad = np.flatnonzero(~(np.isfinite(values) & (values > 0)))
    if len(bad):
        row = int(bad[0])
        raise ExplorerError(
            f"Cost column {column!r} must hold finite numbers > 0; row {row} (id "
            f"{data.ids[row]}) holds {values[row]:g}. Fix or drop that row, or choose another "
            "cost column.")
    return values


def cost_counts(spec, costs: np.ndarray, allowed: np.ndarray, pins: np.ndarray,
                cost_budget: float, column: str) -> tuple[int, int]:
    """(the most rows that fit, the count the strategy runs for first) under a cost budget,
    by the strategy's ``cost_rule`` (:data:`explorer.strategies.base.COST_RULES`)."""
    pin_cost = float(costs[pins].sum())
    if pin_cost > cost_budget * (1.0 + COST_TOLERANCE):
        raise ExplorerError(f"The {len(pins)} pinned rows cost {pin_cost:g} ({column}), more "
                            f"than the budget {cost_budget:g}; raise the budget or pin fewer.")
    rest = cost_budget - pin_cost
    candidates = np.flatnonzero(allowed)
    fit = most_rows_that_fit(costs, candidates, rest)
    if fit == 0 and len(pins) == 0:
        cheapest = float(costs[candidates].min()) if len(candidates) else float("nan")
        raise ExplorerError(f"No row fits in a budget of {cost_budget:g} ({column}): the "
                            f"cheapest row that may be picked costs {cheapest:g}. Raise the "
                            "budget.")
    if spec.cost_rule == "draw":
        first = len(candidates)
    elif spec.cost_rule == "set":
        at_mean = round(rest / float(costs[candidates].mean())) if len(candidates) else 0
        first = min(fit, max(1 if fit else 0, at_mean))
    else:
        first = fit
    return len(pins) + fit, len(pins) + first


def _column_array(data: Dataset, column: str | None, purpose: str, numeric: bool = False):
    if column is None:
        return None
    series = data.column(column, purpose)
    if numeric:
        values = np.asarray(series, dtype=np.float64) if series.dtype.kind in "fiub" else None
        if values is None:
            raise ExplorerError(
                f"Column {column!r} ({purpose}) must be numeric; it holds {series.dtype} values."
            )
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise ExplorerError(
                f"Column {column!r} ({purpose}) has {len(bad)} missing or infinite value(s) at "
                f"ids {preview(data.ids[bad])}. Fill or drop those rows."
            )
        return values
    if series.isna().any():
        bad = np.flatnonzero(series.isna().to_numpy())
        raise ExplorerError(
            f"Column {column!r} ({purpose}) has {len(bad)} missing value(s) at ids "
            f"{preview(data.ids[bad])}. Fill them (for example with 'unknown') or drop the rows."
        )
    return series.astype(str).to_numpy()


def select(
    data: Dataset,
    strategy: str,
    budget: int | float | None,
    *,
    seed: int | None | np.random.Generator = 0,
    metric: str = "euclidean",
    params: dict[str, Any] | None = None,
    pinned=None,
    excluded=None,
    label_column: str | None = None,
    group_column: str | None = None,
    score_column: str | None = None,
    target=None,
    target_query=None,
    where=None,
    after: "Selection | None" = None,
    progress: Callable[[float, str], None] | None = None,
    engine=None,
    mode: str | None = None,
    cost_column: str | None = None,
) -> Selection:
    """Run the strategy ``strategy`` on ``data`` and return a :class:`Selection`.

    Parameters
    ----------
    data : Dataset
    strategy : registered name (see ``explorer strategies``).
    budget : rows to select including the pinned ones: an int >= 1 or a fraction in (0, 1).
        Strategies that propose their own size (``dedup``) also accept None.
    seed : int, None or np.random.Generator. The same seed gives the same indices.
    metric : 'euclidean' or 'cosine'.
    params : strategy parameters; unknown names and invalid values are refused.
    pinned, excluded : row indices (or boolean masks) that must / must not be selected.
    label_column, group_column, score_column : metadata columns for strategies needing them.
    target : the target set of target-driven strategies: row indices (or a boolean mask) into
        ``data``, an (M, D) array of target embeddings, or the path of a file holding either
        (see :func:`explorer.data.rows.load_target`).
    target_query : the target set as a metadata filter, e.g. ``"label == '3'"`` (text in the
        filter language of :mod:`explorer.data.filters`, its JSON form or a Filter).
    where : a metadata filter of the same kind; only rows where it holds may be added.
    after : a Selection made earlier on the same data; only its rows may be added (a
        pipeline such as dedup then k-center, recorded in ``steps`` and replayed in order).
    progress : optional callback ``progress(fraction, message)``.
    engine : None (this process, the strategy itself), 'local' or 'dask' (a name), or a
        ``distributed.Client``: the strategy's distributed form (:mod:`explorer.engine.drivers`)
        runs on that engine. A sharded dataset (``explorer.load("shards/")``) always runs
        there, on the local engine by default.
    mode : the distributed form's mode: 'exact' or 'coreset' for k-center (default exact).
    cost_column : a numeric column of per-row costs (tokens, labelling seconds, bytes; finite,
        > 0). ``budget`` is then the total cost the selection may spend, pinned rows included,
        and each strategy meets it by its ``cost_rule``
        (:data:`explorer.strategies.base.COST_RULES`): the knapsack greedy for submodular
        ones, else its picks in order while they fit; ``budget`` of the result is the count.
        Strategies that set their own size (dedup, semdedup) refuse it.

    Examples
    --------
    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> sel = explorer.select(data, "k-center", 5, seed=0)
    >>> len(sel), sel.strategy
    (5, 'k-center')
    >>> first = explorer.select(data, "dedup", None, params={"threshold": 1.0})
    >>> then = explorer.select(data, "k-center", 20, after=first)
    >>> bool(set(then.indices) <= set(first.indices)), then.steps[0]["strategy"]
    (True, 'dedup')
    >>> pixels = data.embeddings.sum(axis=1)  # ink as a stand-in for labelling time
    >>> inked = explorer.Dataset.from_arrays(data.embeddings, metadata=data.metadata.assign(
    ...     ink=pixels))
    >>> cheap = explorer.select(inked, "k-center", 20_000.0, cost_column="ink")
    >>> bool(cheap.spend <= 20_000.0), cheap.budget == len(cheap)
    (True, True)
    """
    from .data.shards import ShardedDataset

    if isinstance(data, ShardedDataset) or (engine is not None and engine != "local"):
        return _select_on_engine(data, strategy, budget, engine=engine, seed=seed,
                                 metric=metric, params=params, mode=mode, pinned=pinned,
                                 excluded=excluded, label_column=label_column,
                                 group_column=group_column, score_column=score_column,
                                 target=target, target_query=target_query, where=where,
                                 after=after, progress=progress, cost_column=cost_column)
    if mode is not None:
        raise ExplorerError("mode= is for runs on an engine (engine='dask' or a sharded "
                            "dataset).")
    spec = get_strategy(strategy)
    if not isinstance(data, Dataset):
        raise ExplorerError(f"select needs a Dataset (from explorer.load); got {type(data)!r}.")
    if metric not in DISTANCES:
        raise parameter_error("metric", "select", "a str among {'euclidean', 'cosine'}", metric)
    resolved = spec.params.resolve(params)
    rng, seed_value = resolve_seed(seed)
    n = data.n
    costs = cost_budget = None
    if cost_column is not None:
        if spec.cost_rule == "own-size":
            raise ExplorerError(
                f"{strategy} sets its own size (one row per near-duplicate group), so a cost "
                f"budget does not apply to it: run it without a cost column, then a strategy "
                f"with the cost budget on its rows (after=, or --then).")
        if isinstance(budget, bool) or not isinstance(budget, Real) or \
                not math.isfinite(budget) or budget <= 0:
            raise parameter_error("budget", strategy, f"a number > 0 (the total "
                                  f"{cost_column!r} the selection may spend)", budget)
        cost_budget = float(budget)
        costs = cost_array(data, cost_column)

    pins = _as_indices(pinned, n, "pinned", data)
    excl = _as_indices(excluded, n, "excluded", data)
    from .data.ledger import locked_rows, note_exploration

    locked = locked_rows(data)  # a locked confirmation split is never selectable
    if len(locked):
        inside = np.intersect1d(pins, locked)
        if len(inside):
            raise ExplorerError(f"{len(inside)} pinned row(s) are in the locked confirmation "
                                f"split (ids {preview(data.ids[inside])}); they cannot be "
                                "selected while exploring.")
        excl = np.concatenate([excl, np.setdiff1d(locked, excl)])
    clash = np.intersect1d(pins, excl)
    if len(clash):
        raise ExplorerError(
            f"{len(clash)} row(s) are both pinned and excluded: ids {preview(data.ids[clash])}."
        )
    allowed = np.ones(n, dtype=bool)
    allowed[excl] = False
    if where is not None:
        from .data.filters import as_filter, evaluate
        from .data.rows import column_types

        where_filter = as_filter(where, "where")
        where = where_filter.to_text()  # recorded in its canonical text
        allowed &= evaluate(where_filter, data.metadata, "where")
        if not allowed.any():
            raise ExplorerError(f"where {where!r}: no row passes the filter (after exclusions). "
                                f"Columns: {column_types(data)}; quote text values.")
    steps: tuple = ()
    if after is not None:
        if not isinstance(after, Selection):
            raise ExplorerError(f"after must be a Selection (from explorer.select); got "
                                f"{type(after).__name__}.")
        if after.fingerprint != data.fingerprint:
            raise ExplorerError("after: that selection was made on other data (fingerprint "
                                f"{after.fingerprint}, this data has {data.fingerprint}).")
        allowed &= after.mask(n)
        steps = tuple(after.steps) + (after.step(),)
    # rows that can be in the result: the allowed ones and pinned ones outside a filter
    n_available = int(allowed.sum()) + int(np.count_nonzero(~allowed[pins]))
    if costs is not None:
        k = len(pins)  # the count is set by the costs, below
    elif budget is None:
        if spec.exact_budget:
            raise parameter_error("budget", strategy, "an int in [1, inf) or a float in (0, 1)",
                                  None)
        k = n_available
    else:
        k = resolve_budget(budget, n_available, n, owner=strategy)
    if len(pins) > k:
        raise ExplorerError(
            f"{len(pins)} pinned rows do not fit in a budget of {k}; raise the budget or pin fewer."
        )
    allowed[pins] = False
    if costs is not None:
        k_max, k = cost_counts(spec, costs, allowed, pins, cost_budget, cost_column)

    labels = _column_array(data, label_column, "labels")
    groups = _column_array(data, group_column, "groups")
    scores = _column_array(data, score_column, "scores", numeric=True)
    X = space.prepare(data.embeddings, metric, ids=data.ids)
    target_X = None
    from .data.rows import resolve_target_arg

    target, target_rec = resolve_target_arg(data, target, target_query)
    if target is not None:
        target_X = space.resolve_target(target, data, X, metric)

    available = {"labels"} if labels is not None else set()
    if groups is not None:
        available.add("groups")
    if scores is not None:
        available.add("scores")
    if target_X is not None:
        available.add("target")
    missing = spec.missing_inputs(available)
    if missing:
        raise ExplorerError(f"Strategy {strategy!r} needs {' and '.join(missing)}.")

    problem = Problem(
        X=X, metric=metric, budget=k, rng=rng, pinned=pins, excluded=excl, allowed=allowed,
        labels=labels, groups=groups, scores=scores, target=target_X, progress=progress,
        dataset=data, costs=costs, cost_budget=cost_budget,
    )
    start = time.perf_counter()
    picks = spec.func(problem, **resolved)
    _check_picks(spec, problem, picks)
    spend = None
    if costs is not None:
        picks, spend = _fit_picks_to_cost(spec, problem, picks, resolved, k_max)
    seconds = time.perf_counter() - start
    if len(locked):
        note_exploration(data, "select", [(strategy, k)])
    columns = {k2: v for k2, v in (("label_column", label_column), ("group_column", group_column),
                                   ("score_column", score_column), ("cost_column", cost_column))
               if v is not None}
    if costs is not None:
        k = len(picks.indices)
    return Selection(
        indices=np.asarray(picks.indices, dtype=np.int64),
        strategy=strategy,
        params=resolved,
        seed=seed_value,
        metric=metric,
        budget=k,
        gains=None if picks.gains is None else np.asarray(picks.gains, dtype=np.float64),
        weights=None if picks.weights is None else np.asarray(picks.weights, dtype=np.float64),
        pinned=tuple(int(i) for i in pins),
        excluded=tuple(int(i) for i in excl),
        columns=columns,
        info=dict(picks.info, **({"locked_rows": len(locked)} if len(locked) else {})),
        fingerprint=data.fingerprint,
        seconds=seconds,
        steps=steps,
        where=where,
        target=target_rec,
        cost_budget=cost_budget,
        spend=spend,
    )


def refuse_on_engine(data=None, **options) -> None:
    """Refuse, by name, the options given (not None, not empty) that the distributed forms
    do not take; and a ``data`` set in memory with a locked confirmation split: the
    distributed forms take excluded rows, but a run on an engine does not add the locked
    rows to them nor log the exploration yet."""
    from .data.ledger import locked_rows

    if isinstance(data, Dataset) and len(locked_rows(data)):
        raise ExplorerError(f"{data.name} has a locked confirmation split, which runs on an "
                            "engine do not keep out of their picks yet; run on one file "
                            "without --engine.")
    unsupported = [name for name, value in options.items() if value is not None and not (
        hasattr(value, "__len__") and not isinstance(value, str) and len(value) == 0)]
    if unsupported:
        raise ExplorerError(f"{', '.join(unsupported)}: not available for runs on an engine or "
                            "a sharded dataset yet; run on one file without --engine.")


def engine_target_rows(target) -> np.ndarray:
    """A target set as a run on an engine takes it: row indices (sorted, distinct); a file
    or an array of embeddings is refused in one line (checked before an engine starts)."""
    arr = None if isinstance(target, (str, os.PathLike)) else np.asarray(target)
    if arr is None or arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ExplorerError("On an engine the target set is given as row indices or "
                            "--target-query.")
    return np.unique(arr)


def _select_on_engine(data, strategy, budget, *, engine, seed, metric, params, mode, pinned,
                      excluded, label_column, group_column, score_column, target,
                      target_query, where, after, progress, cost_column) -> Selection:
    """The distributed form of ``strategy`` (see :func:`select`); options it does not take
    are refused by name."""
    from .engine import drivers

    refuse_on_engine(data, pinned=pinned, score_column=score_column, where=where, after=after,
                     cost_column=cost_column)
    excl = _as_indices(excluded, data.n, "excluded", None)
    target_rows = None
    if target is not None or target_query is not None:
        if target_query is not None:
            target_rows = drivers.rows_where(data, target_query, engine, metric)
        else:
            target_rows = engine_target_rows(target)
    if isinstance(seed, np.random.Generator) or seed is None:
        raise ExplorerError("A run on an engine needs an int seed (its keys are hashed from "
                            "it).")
    return drivers.select(data, strategy, budget, engine=engine, seed=seed, metric=metric,
                          params=params, mode=mode, label_column=label_column,
                          group_column=group_column, target_rows=target_rows,
                          excluded=excl, progress=progress)
def _next_count(rule: str, run: int, count: int, k_max: int, n_available: int,
                left: float, mean_cost: float) -> int:
    """The count a strategy runs for again when its kept picks left room for another row:
    a "set" strategy first for more rows by what is left at the mean cost, then for the most
    rows that could fit; then (any rule) four times that, then every row it may pick."""
    if rule == "set" and run == 1:
        return min(k_max, count + max(1, math.ceil(left / mean_cost)))
    if count < k_max:
        return k_max
    return n_available if count >= 4 * k_max else min(n_available, 4 * k_max)


def _fit_picks_to_cost(spec, problem: Problem, picks: Picks, resolved: dict, k_max: int
                       ) -> tuple[Picks, float]:
    """Picks that fit the cost budget, and their cost: the knapsack greedy's as they are;
    any other strategy's pick order through :func:`keep_what_fits` (pinned rows first,
    always kept). While the kept picks leave a row's mean cost unspent (or keep no row) and a
    row the strategy did not pick would fit, it runs again for more rows
    (:func:`_next_count`), up to every row it may pick; the run that spends most is kept.
    The budget left is then less than the dearest row: less than the mean cost, or a walk
    over at least the most rows that could fit, which either keeps them all (they cost more
    than the budget less the next cheapest row) or skips one that no longer fits."""
    costs, pins = problem.costs, len(problem.pinned)
    pin_cost = float(costs[problem.pinned].sum())
    candidates = np.flatnonzero(problem.allowed)
    n_available = pins + len(candidates)
    mean_cost = float(costs[candidates].mean()) if len(candidates) else 1.0
    best: tuple[Picks, float] | None = None
    for run in itertools.count():
        if run:
            left = problem.cost_budget - best[1]
            unpicked = np.setdiff1d(candidates, best[0].indices)
            underspent = left >= mean_cost or len(best[0].indices) == pins
            if spec.cost_rule == "knapsack" or problem.budget >= n_available or \
                    not underspent or not len(unpicked) or \
                    float(costs[unpicked].min()) > left * (1.0 + COST_TOLERANCE):
                break
            problem = replace(problem, budget=_next_count(
                spec.cost_rule, run, problem.budget, k_max, n_available, left, mean_cost))
            picks = spec.func(problem, **resolved)
            _check_picks(spec, problem, picks)
        idx = np.asarray(picks.indices, dtype=np.int64)
        if spec.cost_rule == "knapsack":
            at = np.arange(len(idx))
        else:
            tail = idx[pins:]
            at = np.concatenate([np.arange(pins), pins + keep_what_fits(
                np.arange(len(tail)), costs[tail], problem.cost_budget, pin_cost)])
        fitted = Picks(idx[at], gains=None if picks.gains is None else
                       np.asarray(picks.gains)[at],
                       weights=None if picks.weights is None else np.asarray(picks.weights)[at],
                       info=dict(picks.info))
        spend = float(costs[fitted.indices].sum())
        if spend > problem.cost_budget * (1.0 + COST_TOLERANCE):
            raise AssertionError(f"strategy {spec.name!r} spent {spend} of a cost budget of "
                                 f"{problem.cost_budget}")
        if best is None or spend > best[1]:
            best = (fitted, spend)
    return best


def _check_picks(spec, problem: Problem, picks: Picks) -> None:
    """Guard the contract every strategy promises; a violation is a bug, not bad input."""
    idx = np.asarray(picks.indices)
    where = f"strategy {spec.name!r}"
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise AssertionError(f"{where} returned indices of shape {idx.shape}, dtype {idx.dtype}")
    # under a cost budget the knapsack greedy stops when nothing fits: ``budget`` is a cap
    exact = spec.exact_budget and not (problem.costs is not None and
                                       spec.cost_rule == "knapsack")
    if exact and len(idx) != problem.budget:
        raise AssertionError(f"{where} returned {len(idx)} rows for a budget of {problem.budget}")
    if len(idx) > problem.budget:
        raise AssertionError(f"{where} returned {len(idx)} rows, over the budget {problem.budget}")
    if len(np.unique(idx)) != len(idx):
        raise AssertionError(f"{where} returned repeated indices")
    if not np.array_equal(idx[: len(problem.pinned)], problem.pinned):
        raise AssertionError(f"{where} did not put the pinned rows first")
    if len(problem.excluded) and np.isin(idx, problem.excluded).any():
        raise AssertionError(f"{where} picked an excluded row")
    for name in ("gains", "weights"):
        arr = getattr(picks, name)
        if arr is not None and len(arr) != len(idx):
            raise AssertionError(f"{where} returned {len(arr)} {name} for {len(idx)} rows")
