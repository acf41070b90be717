"""The probe sweep: strategies x budgets against random subsets, on the downstream probes of
:mod:`explorer.evaluate.probes` and the scorecard metrics, in one long table.

:func:`probe_sweep` is a sequence of named steps:

1. :func:`_hold_out` sets the evaluation rows aside (when a probe runs) and builds the pool;
   everything after it sees the pool only.
2. :func:`_resolve_budgets` / :func:`_resolve_cost_budgets` turn the budgets into sizes
   (or total costs).
3. :class:`_Meter` measures a subset of the pool on every probe and scorecard metric, once
   per distinct subset.
4. :func:`_run_strategies` selects with every strategy, seed and budget (greedy strategies
   once at the largest budget, then prefixes).
5. :func:`_random_envelopes` measures ``random_draws`` random subsets per size (or cost).
6. :func:`_comparison_table` sets each measured value against its envelope: difference,
   bootstrap interval, p-values, Holm's correction per metric, verdict.

On an engine (or a sharded dataset) :func:`_sweep_on_engine` runs the same table from the
strategies' distributed forms and the engine's scorecard; probes run there on a dataset in
memory, the held-out rows excluded from every distributed form.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd

from .. import cache
from ..data.dataset import Dataset
from ..data.rows import row_indices
from ..errors import ExplorerError
from ..params import (METRIC, OPTIONAL_CALLBACK, OPTIONAL_COLUMN, SEED, InstanceOf, Interval,
                      Options, SequenceOf, Text, budget_count, check_param, validate_params)
from . import metrics as subset_metrics
from .probes import (FRACTION, POSITIVE, PROBES, holdout_split, make_probe, one_blas_thread,
                     take_rows)
from .scorecard import SCORECARD_METRICS, ScoringContext, random_subsets, random_subsets_at_cost
from .stats import bootstrap_diff_ci, draws_needed, holm_verdicts

#: A probe by name, as the sweep takes it ('auto' picks by the columns given; 'none' runs none).
PROBE_CHOICE = (Options(("auto", "none", *PROBES)),
                SequenceOf((Options(("none", *PROBES)),), min_items=0), None)
#: A budget or several: counts, fractions of the pool, or total costs (with a cost column).
BUDGETS = (POSITIVE, SequenceOf((POSITIVE,)))
#: One count budget: a whole number of rows, or a fraction of the pool.
COUNT_BUDGET = (Interval("int", 1, None), FRACTION)
VERDICT_NOTE = ("Verdicts use Holm-corrected one-sided p-values across every strategy and "
                "budget of a metric, at alpha {alpha}.")


class _Steps:
    """The sweep's progress: ``tick`` counts a finished step and tells ``progress`` (an
    optional callback ``progress(fraction, message)``) the share of ``total`` done."""

    def __init__(self, total: int, progress=None):
        self.total, self.progress, self.done = total, progress, 0

    def tick(self, message: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(min(1.0, self.done / self.total), message)

    def within_next(self):
        """A callback for the step under way: its own fraction moves this one's bar."""
        if self.progress is None:
            return None
        return lambda f, m: self.progress(min(1.0, (self.done + f) / self.total), m)


def _seeds_of(spec, seed: int, seeds: int) -> list[int]:
    """The seeds a strategy runs with: ``seed, seed + 1, ...`` when its seed changes its
    picks, else ``seed`` alone (a seed that only breaks ties)."""
    return [seed + i for i in range(seeds)] if spec.randomized else [seed]


def _mean_sizes(runs: dict) -> dict:
    """(strategy, budget) -> the mean size of its distinct runs, rounded to a row count."""
    return {key: int(round(np.mean([len(i) for i, _ in distinct])))
            for key, distinct in runs.items()}


def _hold_out(data: Dataset, probe_names: list, label_column, holdout: float, seed: int):
    """(pool_rows, eval_rows, pool): with a probe, ``holdout`` of the rows are held out
    (:func:`holdout_split`, stratified by the label); without one nothing is, but a locked
    confirmation split still stays out of the pool. ``pool`` is the Dataset of ``pool_rows``
    (``data`` itself when that is every row)."""
    if probe_names:
        pool_rows, eval_rows = holdout_split(data, label_column, holdout, seed)
        return pool_rows, eval_rows, take_rows(data, pool_rows)
    from ..data.ledger import locked_rows

    locked = locked_rows(data)
    pool_rows = np.setdiff1d(np.arange(data.n, dtype=np.int64), locked)
    pool = take_rows(data, pool_rows) if len(locked) else data
    return pool_rows, np.zeros(0, np.int64), pool


class _Meter:
    """Measures a subset of the pool (row indices, optional weights) on every probe and,
    with ``geometry``, every scorecard metric; each distinct subset is measured once.

    ``direction`` maps each metric the sweep reports, in the table's order (the
    scorecard's, then the probes'), to whether higher is better; ``kinds`` to 'geometry'
    or 'probe'; ``space`` is where the scorecard measures (None without geometry).
    """

    def __init__(self, data: Dataset, pool: Dataset, pool_rows, eval_rows, probe_names, *,
                 label_column, target_column, metric: str, seed: int, geometry: bool):
        self.probes = [make_probe(data, p, pool_rows, eval_rows, label_column=label_column,
                                  target_column=target_column, metric=metric)
                       for p in probe_names]
        self.ctx = ScoringContext.build(pool, metric=metric, label_column=label_column,
                                        seed=seed) if geometry else None
        self.space = self.ctx.space if self.ctx is not None else None
        self.direction, self.kinds = {}, {}
        if self.ctx is not None:
            # the scorecard's metrics in its order (target metrics need a target set: not here)
            produced = self.ctx.subset_metrics(np.arange(min(2, pool.n)))
            for name, hib, _ in SCORECARD_METRICS:
                if name in produced:
                    self.direction[name], self.kinds[name] = hib, "geometry"
        for pr in self.probes:
            for name, (hib, _) in pr.metrics.items():
                self.direction[f"{pr.name}_{name}"] = hib
                self.kinds[f"{pr.name}_{name}"] = "probe"
        self._seen: dict = {}

    def __call__(self, idx, weights) -> dict[str, float]:
        key = (np.asarray(idx, np.int64).tobytes(),
               None if weights is None else np.asarray(weights, np.float64).tobytes())
        if key not in self._seen:
            self._seen[key] = self._measure(idx, weights)
        return self._seen[key]

    def _measure(self, idx, weights) -> dict[str, float]:
        out = {}
        if self.ctx is not None:
            with one_blas_thread():
                out.update(self.ctx.subset_metrics(idx))
        for pr in self.probes:
            w = weights if pr.name != "knn" else None  # kNN takes no weights
            out.update({f"{pr.name}_{k}": v for k, v in pr.run(idx, w).items()})
        return out


def _run_strategies(pool: Dataset, specs: dict, sizes: list, *, seed: int, seeds: int,
                    cost_column, steps: _Steps, **select_kw) -> dict:
    """(strategy, budget) -> the distinct (row indices, weights) of its runs over its seeds.

    A greedy strategy (without a cost budget) runs once per seed at the largest budget and
    each smaller budget takes its first picks; the others run at every budget."""
    from ..selection import select

    runs = {}
    # the runs share the caller's cache, or one of the sweep's own (clusterings reused at
    # every budget), dropped when the sweep returns
    with (cache.current() or cache.Cache()).kept():
        for name, spec in specs.items():
            seed_list = _seeds_of(spec, seed, seeds)
            kw = dict(select_kw, params=select_kw["params"].get(name), cost_column=cost_column)
            per_seed = {}
            for s in seed_list:
                if spec.greedy and cost_column is None:
                    largest = select(pool, name, sizes[-1], seed=s, **kw)
                    per_seed[s] = {b: largest for b in sizes}
                else:
                    per_seed[s] = {b: select(pool, name, b, seed=s, **kw) for b in sizes}
            for b in sizes:
                runs[(name, b)] = _distinct_runs([per_seed[s][b] for s in seed_list],
                                                 None if cost_column is not None else b)
                steps.tick(f"{name} at budget {b}")
    return runs


def _random_envelopes(pool: Dataset, runs: dict, sizes: list, meter: _Meter, *,
                      random_draws: int, seed: int, pool_costs, steps: _Steps):
    """(envelopes, drawn_at): the measures of ``random_draws`` random subsets of the pool,
    one DataFrame per size the strategies reached, shared by every strategy of that size;
    under a cost budget (``pool_costs`` given) one per total cost instead, with
    ``drawn_at[cost] = (mean count, mean cost)`` of its draws."""
    envelopes, drawn_at = {}, {}
    if pool_costs is None:
        needed = sorted({int(round(np.mean([len(i) for i, _ in v]))) for v in runs.values()})
    else:
        needed = sizes
    for size in needed:
        draws = random_subsets(pool.n, size, random_draws, seed) if pool_costs is None else \
            random_subsets_at_cost(pool_costs, size, random_draws, seed)
        envelopes[size] = pd.DataFrame([meter(d, None) for d in draws])
        if pool_costs is not None:
            drawn_at[size] = (float(np.mean([len(d) for d in draws])),
                              float(np.mean([pool_costs[d].sum() for d in draws])))
        steps.tick(f"random envelope at {'size' if pool_costs is None else 'cost'} {size}")
    return envelopes, drawn_at


def _compare_runs_with_random(runs: dict, envelopes: dict, drawn_at: dict, meter: _Meter, *,
                              pool_costs, seed: int, alpha: float,
                              random_draws: int) -> pd.DataFrame:
    """Every distinct run measured, set against the envelope of its size (or its total
    cost): :func:`_comparison_table`, with the spend columns under a cost budget."""
    measured = {key: [meter(idx, w) for idx, w in distinct] for key, distinct in runs.items()}
    sizes_of = _mean_sizes(runs)
    spent = None if pool_costs is None else {
        (name, b): {"spend": float(np.mean([pool_costs[i].sum() for i, _ in distinct])),
                    "random_size": drawn_at[b][0], "random_spend": drawn_at[b][1]}
        for (name, b), distinct in runs.items()}
    envelope_of = {(name, b): envelopes[sizes_of[(name, b)] if pool_costs is None else b]
                   for name, b in runs}
    return _comparison_table(measured, sizes_of, envelope_of, envelopes, meter.direction,
                             meter.kinds, seed=seed, alpha=alpha, random_draws=random_draws,
                             spent=spent)


def _resolve_probes(probe, label_column, target_column) -> list[str]:
    if probe is None or probe == "auto":
        names = []
        if label_column is not None:
            names.append("logistic")
        if target_column is not None:
            names.append("ridge")
        return names
    if isinstance(probe, str):
        probe = [probe]
    names = []
    for p in probe:
        if p == "none":
            continue
        if PROBES[p][0] == "classification" and label_column is None:
            raise ExplorerError(f"The {p!r} probe needs a label column (label_column=, "
                                "--label-column).")
        if PROBES[p][0] == "regression" and target_column is None:
            raise ExplorerError(f"The {p!r} probe needs a numeric target column "
                                "(target_column=, --target-column).")
        if p not in names:
            names.append(p)
    return names


def _resolve_budgets(budgets, n_pool: int, n_total: int, held: int) -> list[int]:
    """Count budgets (each a whole number of rows, or a fraction of the pool) -> distinct
    row counts, sorted; a count larger than the pool is refused."""
    if isinstance(budgets, Real):
        budgets = [budgets]
    out = []
    for b in budgets:
        if isinstance(b, Real) and not isinstance(b, Integral) and b >= 1 and \
                float(b).is_integer():
            b = int(b)  # a whole float is a count
        check_param("probe_sweep", "budgets", b, COUNT_BUDGET,
                    "each budget, without a cost column")
        k = budget_count(b, n_pool)
        if k > n_pool:
            where = (f"the {n_pool} rows of the pool ({n_total} rows minus {held} held out "
                     "for evaluation); lower the budget or the holdout fraction"
                     if held else f"the {n_pool} rows")
            raise ExplorerError(f"budget {k} exceeds {where}.")
        out.append(k)
    return sorted(set(out))


def _resolve_cost_budgets(budgets) -> list[float]:
    """Total-cost budgets (numbers > 0, checked by :func:`probe_sweep`'s ``BUDGETS``),
    sorted and distinct."""
    if isinstance(budgets, Real):
        budgets = [budgets]
    return sorted({float(b) for b in budgets})


def _pool_target(target, pool_rows, n_total: int):
    """Row indices into the full data -> into the pool (held-out rows refused); an (M, D)
    array of embeddings passes unchanged."""
    arr = np.asarray(target)
    if arr.ndim == 2:
        return arr
    arr = row_indices(arr, n_total, "target", repeats="keep", allow_empty=True)
    pos = np.full(n_total, -1, dtype=np.int64)
    pos[pool_rows] = np.arange(len(pool_rows))
    mapped = pos[arr]
    if (mapped < 0).any():
        raise ExplorerError(f"target: {int((mapped < 0).sum())} target row(s) are in the "
                            "held-out evaluation set, which strategies must not see; give "
                            "target rows from the pool, or an array of target embeddings.")
    return mapped


def _distinct_runs(selections, n_kept: int | None) -> list:
    """(row indices, weights) of each selection, its first ``n_kept`` picks (all with None),
    each distinct subset once: seeds that pick the same rows count once."""
    distinct, seen = [], set()
    for sel in selections:
        keep = len(sel) if n_kept is None else n_kept
        idx = sel.indices[:keep]
        w = None if sel.weights is None else sel.weights[:keep]
        key = (np.sort(idx).tobytes(), None if w is None else w.tobytes())
        if key not in seen:
            seen.add(key)
            distinct.append((idx, w))
    return distinct


def _comparison_table(measured: dict, sizes_of: dict, envelope_of: dict, envelopes: dict,
                      direction: dict, kinds: dict, *, seed: int, alpha: float,
                      random_draws: int, spent: dict | None = None) -> pd.DataFrame:
    """The long table of a sweep, from what was measured: one row per (strategy, budget) x
    metric with the value against its random envelope, the bootstrap CI, the p-values and,
    per metric, Holm's correction across every (strategy, budget) and the verdict.

    ``measured`` maps (strategy, budget) to one {metric: value} per distinct run;
    ``sizes_of`` to its size; ``envelope_of`` to its random envelope (a DataFrame, one row
    per draw), one of ``envelopes`` (by size, or by total cost); ``spent`` (under a cost
    budget) to its spend columns. ``attrs`` gets 'measured', 'envelopes' and 'notes'.
    """
    rows = []
    for (name, b), values in measured.items():
        env = envelope_of[(name, b)]
        for m, hib in direction.items():
            vals = np.array([v[m] for v in values], dtype=np.float64)
            rand = env[m].to_numpy(dtype=np.float64)
            finite = rand[np.isfinite(rand)]
            res = bootstrap_diff_ci(vals, rand, higher_is_better=hib, seed=seed)
            value = float(np.mean(vals)) if np.isfinite(vals).all() else float("nan")
            rows.append({
                "strategy": name, "budget": b, "size": sizes_of[(name, b)], "metric": m,
                "kind": kinds[m], "higher_is_better": hib, "value": value,
                "n_values": len(vals),
                "random_mean": float(finite.mean()) if len(finite) else float("nan"),
                "random_std": float(finite.std(ddof=1)) if len(finite) > 1 else float("nan"),
                "random_p05": float(np.percentile(finite, 5)) if len(finite) else float("nan"),
                "random_p95": float(np.percentile(finite, 95)) if len(finite) else
                float("nan"),
                "percentile": subset_metrics.percentile_of(value, rand),
                "difference": res.difference, "ci_low": res.ci_low, "ci_high": res.ci_high,
                "p_value": res.p_value, "p_worse": res.p_worse, "p_rank": res.p_rank,
                **({} if spent is None else spent[(name, b)]),
            })
    table = pd.DataFrame(rows)
    table["p_holm"], table["p_worse_holm"], table["verdict"] = holm_verdicts(
        table, "p_value", "p_worse", alpha)
    order = ["strategy", "budget", "size", "metric", "kind", "higher_is_better", "value",
             "n_values", "random_mean", "random_std", "random_p05", "random_p95",
             "percentile", "difference", "ci_low", "ci_high", "p_value", "p_holm", "p_worse",
             "p_worse_holm", "p_rank", "verdict"]
    if spent is not None:
        order[3:3] = ["spend", "random_size", "random_spend"]
    table = table[order]

    notes = [VERDICT_NOTE.format(alpha=alpha)]
    comparisons = len(measured)
    if all(len(v) == 1 for v in measured.values()):
        notes.append("p-values: one-sided prediction-interval t-tests against the random "
                     "draws (they assume the metric over random subsets is roughly normal); "
                     "p_rank is the distribution-free rank p-value, floored at 1/(R+1).")
        if comparisons / (random_draws + 1) >= alpha:
            notes.append(f"With {random_draws} random draws the rank p-values alone could not "
                         f"support a claim after Holm over {comparisons} comparisons; "
                         f"random_draws >= {draws_needed(comparisons, alpha)} would let them.")
    # the per-run and per-draw values behind each row, for resampling (the budget advisor)
    table.attrs.update({
        "measured": {key: {m: [float(v[m]) for v in values] for m in direction}
                     for key, values in measured.items()},
        "envelopes": {size: {m: env[m].astype(float).tolist() for m in direction}
                      for size, env in envelopes.items()},
        "notes": notes})
    return table


#: Why no probe runs on a sharded dataset (the one line a refused --probe gets).
NO_PROBE_ON_SHARDS = ("a probe trains on the pool's rows and is scored on the held-out rows "
                      "in this process, which needs the dataset in memory")


@validate_params({"strategies": [Text(), SequenceOf((Text(),))], "probe": PROBE_CHOICE,
                  "label_column": OPTIONAL_COLUMN, "target_column": OPTIONAL_COLUMN,
                  "score_column": OPTIONAL_COLUMN, "cost_column": OPTIONAL_COLUMN})
def check_sweep_on_engine(data, strategies, *, probe="auto", probe_names=None,
                          label_column: str | None = None, target_column: str | None = None,
                          geometry: bool = True, score_column: str | None = None,
                          cost_column: str | None = None) -> list[str]:
    """Refuse, before anything runs, what a sweep on an engine cannot do: a strategy with
    no distributed form (select's message), a probe asked for by name on a sharded dataset,
    a score column or a cost budget (select's rule on an engine), a locked confirmation
    split. Returns the table's notes ('auto' probes on a sharded dataset: none ran, and
    why). ``probe_names`` as :func:`_resolve_probes` gives them (resolved here when None)."""
    from ..data.shards import ShardedDataset
    from ..engine import drivers
    from ..selection import refuse_on_engine

    if probe_names is None:
        probe_names = _resolve_probes(probe, label_column, target_column)
    for name in strategies:
        drivers.check_form(name)
    notes = []
    if probe_names and isinstance(data, ShardedDataset):
        if probe is None or probe == "auto":
            notes.append(f"no probe ran: on a sharded dataset {NO_PROBE_ON_SHARDS}; the "
                         "table holds the scorecard only.")
        else:
            raise ExplorerError(f"probe {', '.join(probe_names)}: not run on a sharded "
                                f"dataset: {NO_PROBE_ON_SHARDS}; use probe 'none' (--probe "
                                "none), or compare the data as one file with --engine.")
        probe_names = []
    if not geometry and not probe_names:
        raise ExplorerError("probe_sweep: nothing to measure on an engine: no probe and "
                            "geometry=False.")
    refuse_on_engine(data, score_column=score_column, cost_column=cost_column)
    return notes


def _sweep_on_engine(data, strategies, budgets, *, engine, probe, probe_names, seeds,
                     random_draws, seed, metric, alpha, geometry, label_column, group_column,
                     score_column, params, target, progress, cost_column, target_column,
                     holdout) -> pd.DataFrame:
    """:func:`probe_sweep` on an engine (its arguments, checked there): every strategy in
    its distributed form at every budget (each budget its own run: the distributed forms
    do not all keep smaller budgets as prefixes), then the engine's scorecard of every
    distinct selection and of ``random_draws`` random subsets per size in one pass
    (:func:`explorer.engine.drivers.sweep_scores`), then the same statistics as on one
    machine (:func:`_comparison_table`).

    With a probe (a dataset in memory) the held-out rows are those of one machine
    (:func:`holdout_split`): the distributed forms run with them excluded and the engine's
    scorecard and random draws leave them out, as one machine's sweep works on the pool;
    the probe runs in this process on each selection and draw. On a sharded dataset 'auto'
    runs none (the table says so) and a probe by name is refused. A locked confirmation
    split is refused; cost budgets and a score column are refused as ``select`` on an
    engine refuses them.
    """
    from ..data.shards import ShardedDataset
    from ..engine import drivers, engine_in_use
    from ..selection import select
    from ..strategies import get_strategy

    notes = check_sweep_on_engine(data, strategies, probe=probe, probe_names=probe_names,
                                  geometry=geometry, score_column=score_column,
                                  cost_column=cost_column)
    if isinstance(data, ShardedDataset):
        probe_names = []
    if probe_names:
        pool_rows, eval_rows = holdout_split(data, label_column, holdout, seed)
        meter = _Meter(data, None, pool_rows, eval_rows, probe_names,
                       label_column=label_column, target_column=target_column,
                       metric=metric, seed=seed, geometry=False)
    else:
        pool_rows, eval_rows, meter = np.arange(data.n, dtype=np.int64), np.zeros(0, np.int64), None
    sizes = _resolve_budgets(budgets, len(pool_rows), data.n, len(eval_rows))
    excluded = eval_rows if len(eval_rows) else None
    with engine_in_use(engine) as eng:
        steps = _Steps(len(strategies) * len(sizes) + 1, progress)
        runs = {}  # (strategy, size) -> list of (idx, weights), distinct
        for name in strategies:
            seed_list = _seeds_of(get_strategy(name), seed, seeds)
            for b in sizes:
                picked = [select(data, name, b, seed=s, metric=metric, params=params.get(name),
                                 label_column=label_column, group_column=group_column,
                                 target=target, excluded=excluded, engine=eng)
                          for s in seed_list]
                runs[(name, b)] = _distinct_runs(picked, b)
                steps.tick(f"{name} at budget {b}")
        keys = [(key, i) for key, distinct in runs.items() for i in range(len(distinct))]
        sizes_of = _mean_sizes(runs)
        needed = sorted(set(sizes_of.values()))
        probe_values = None if meter is None else \
            (lambda rows: meter(np.searchsorted(pool_rows, rows), None))  # pool positions
        values, envelopes, higher = drivers.sweep_scores(
            data, [runs[key][i][0] for key, i in keys], needed, engine=eng, metric=metric,
            random_draws=random_draws, seed=seed, progress=steps.within_next(),
            excluded=excluded, geometry=geometry, measure=probe_values)
        steps.tick("the scorecard")
        measured = {key: [] for key in runs}
        for (key, _), value in zip(keys, values):
            measured[key].append(value)
        # the scorecard's metrics in its order, then the probes', as on one machine
        direction = {name: hib for name, hib, _ in SCORECARD_METRICS if name in higher}
        kinds = dict.fromkeys(direction, "geometry")
        if meter is not None:
            direction.update(meter.direction)
            kinds.update(meter.kinds)
        table = _comparison_table(measured, sizes_of,
                                  {key: envelopes[size] for key, size in sizes_of.items()},
                                  envelopes, direction, kinds,
                                  seed=seed, alpha=alpha, random_draws=random_draws)
        table.attrs["notes"] += notes + [
            f"on the {eng.name} engine: each strategy's distributed form, and the engine's "
            "scorecard (coverage over every row, clusters fitted on a uniform sample, MMD by "
            "random Fourier features) against random subsets keyed by hash(seed, row id), "
            "the same on every engine and partitioning (not the one-machine draws)."]
        table.attrs.update({
            "pool_rows": pool_rows, "eval_rows": eval_rows,
            "selections": {key: v[0][0] for key, v in runs.items()},
            "probes": probe_names, "random_draws": random_draws, "seed": seed,
            "metric": metric, "alpha": alpha, "holdout": holdout if probe_names else 0.0,
            "cost_column": None,
            "space": drivers.engine_space(data, eng) if geometry else None,
            "engine": eng.describe()})
        return table


@validate_params({
    "strategies": [Text(), SequenceOf((Text(),))], "budgets": BUDGETS,
    "label_column": OPTIONAL_COLUMN, "target_column": OPTIONAL_COLUMN, "probe": PROBE_CHOICE,
    "seeds": [Interval("int", 1, None)], "random_draws": [Interval("int", 2, None)],
    "seed": [SEED], "metric": [METRIC], "holdout": [FRACTION], "alpha": [FRACTION],
    "group_column": OPTIONAL_COLUMN, "score_column": OPTIONAL_COLUMN,
    "params": [InstanceOf((dict,), "a dict of strategy -> its parameters"), None],
    "progress": OPTIONAL_CALLBACK, "cost_column": OPTIONAL_COLUMN})
def probe_sweep(data: Dataset, strategies, budgets, *, label_column: str | None = None,
                target_column: str | None = None, probe="auto", seeds: int = 1,
                random_draws: int = 30, seed: int = 0, metric: str = "euclidean",
                holdout: float = 0.2, alpha: float = 0.05, geometry: bool = True,
                group_column: str | None = None, score_column: str | None = None,
                params: dict | None = None, target=None, progress=None,
                cost_column: str | None = None, engine=None) -> pd.DataFrame:
    """Strategies x budgets against random, on downstream probes and the scorecard metrics.

    When a probe runs, ``holdout`` of the rows (stratified by ``label_column`` when given)
    are held out first and every strategy, random draw and scorecard metric works on the
    remaining pool only. Each strategy's value is compared with the same metric on
    ``random_draws`` random subsets of the pool of the same size: the difference from their
    mean with a bootstrap CI, a one-sided p-value and, per metric, Holm's correction across
    every (strategy, budget). The verdict says "better than random" only when that
    corrected p-value is below ``alpha``.

    Parameters
    ----------
    data : Dataset
    strategies : registered strategy names.
    budgets : ints >= 1, or fractions in (0, 1) of the pool.
    label_column : class labels: stratifies the split (whatever the probe) and feeds the
        classification probes, the scorecard's ``label_kl`` and strategies needing labels.
    target_column : a numeric column for the 'ridge' probe.
    probe : 'logistic', 'knn', 'ridge', 'none', a list of them, or 'auto' (logistic with a
        label column, ridge with a target column, else none). 'none' holds nothing out.
    seeds : seeds per strategy (``seed, seed + 1, ...``); strategies whose seed only breaks
        ties run once, and identical selections count once.
    random_draws : R random subsets per budget (default 30). With one seed the p-value is a
        prediction-interval t-test against the R draws (:func:`stats.prediction_p_value`);
        the distribution-free rank p-value (floored at 1 / (R + 1)) is in ``p_rank``.
    seed : seeds the split, the random draws, the bootstrap and the first strategy seed.
    metric : 'euclidean' or 'cosine', for strategies, scorecard and kNN.
    holdout : share of rows held out for the probes (default 0.2).
    alpha : significance level of the verdicts (default 0.05).
    geometry : include the scorecard metrics (coverage, facility location, ...).
    group_column, score_column, params, target : passed to :func:`explorer.select`
        (``params`` maps a strategy name to its parameters; ``target`` is row indices into
        ``data``, which must lie in the pool, or an (M, D) array of target embeddings).
    progress : optional callback ``progress(fraction, message)``.
    cost_column : per-row costs (finite, > 0): ``budgets`` are then total costs (numbers >
        0); every strategy meets each one (``select(..., cost_column=)``), and the random
        envelope of a budget is drawn at that total cost
        (:func:`~explorer.evaluate.scorecard.random_subsets_at_cost`), not at a size. The
        table then adds spend (the strategy's mean cost), random_size and random_spend
        (the draws' mean count and cost).
    engine : None (this process, the one-machine strategies and scorecard), or 'local',
        'dask', a ``distributed.Client`` or an engine (:func:`explorer.engine.get_engine`);
        a sharded dataset always runs on one ('local' by default). There each selection is
        the strategy's distributed form (:func:`explorer.select` with ``engine=``; a
        strategy without one is refused before anything runs) and the metrics are the
        engine's scorecard (:func:`explorer.engine.drivers.sweep_scores`, the metrics of
        ``explorer score --engine``), its random draws keyed by hash(seed, row id): the same
        table on every engine and partitioning, with the local table's columns. Probes run
        on a dataset in memory, on one machine's split, the held-out rows excluded from
        the distributed forms; none on a sharded dataset (see :func:`_sweep_on_engine`).

    Returns
    -------
    pandas.DataFrame
        One row per strategy x budget x metric with columns strategy, budget, size (rows
        actually selected), metric, kind ('probe' or 'geometry'), higher_is_better, value
        (mean over distinct seeds), n_values, random_mean, random_std, random_p05,
        random_p95, percentile, difference (value - random_mean), ci_low, ci_high,
        p_value, p_holm, p_worse, p_worse_holm, p_rank and verdict. With one value per row the
        CI covers the uncertainty of the random mean only (the strategy's subset is taken
        as given); ``seeds > 1`` adds the strategy's own seed-to-seed spread and switches the
        p-value to a permutation test. ``attrs`` holds 'pool_rows',
        'eval_rows', 'selections' ((strategy, budget) -> row indices into ``data``, first
        seed), 'measured' ((strategy, budget) -> metric -> the value of each distinct run),
        'envelopes' (size -> metric -> the value of each random draw), 'notes' and the
        settings.

    Examples
    --------
    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> table = probe_sweep(data, ["k-means"], [100], label_column="label", probe="knn",
    ...                     random_draws=20, geometry=False)
    >>> print(table[["metric", "value", "random_mean", "p_holm", "verdict"]].round(3)
    ...       .to_string(index=False))
              metric  value  random_mean  p_holm                verdict
        knn_accuracy  0.908        0.858   0.006     better than random
        knn_macro_f1  0.908        0.854   0.007     better than random
    knn_worst_recall  0.750        0.553   0.054 within random's spread
    """
    from ..data.ledger import note_exploration
    from ..data.shards import ShardedDataset
    from ..strategies import get_strategy

    on_engine = engine is not None or isinstance(data, ShardedDataset)
    if not on_engine:
        check_param("probe_sweep", "data", data,
                    [InstanceOf((Dataset,), "a Dataset (from explorer.load)")])
    if isinstance(strategies, str):
        strategies = [strategies]
    strategies = list(dict.fromkeys(strategies))
    specs = {name: get_strategy(name) for name in strategies}
    seeds, random_draws, seed = int(seeds), int(random_draws), int(seed)
    probe_names = _resolve_probes(probe, label_column, target_column)
    params = params or {}
    for key in params:
        if key not in specs:
            raise ExplorerError(f"params: {key!r} is not one of the strategies swept "
                                f"({', '.join(strategies)}).")
    if on_engine:
        return _sweep_on_engine(data, strategies, budgets, engine=engine, probe=probe,
                                probe_names=probe_names, seeds=seeds,
                                random_draws=random_draws, seed=seed, metric=metric,
                                alpha=alpha, geometry=geometry, label_column=label_column,
                                group_column=group_column, score_column=score_column,
                                params=params, target=target, progress=progress,
                                cost_column=cost_column, target_column=target_column,
                                holdout=holdout)
    if not probe_names and not geometry:
        raise ExplorerError("probe_sweep: nothing to measure: no probe and geometry=False.")

    pool_rows, eval_rows, pool = _hold_out(data, probe_names, label_column, holdout, seed)
    if cost_column is None:
        pool_costs = None
        sizes = _resolve_budgets(budgets, pool.n, data.n, len(eval_rows))
    else:
        from ..selection import cost_array

        pool_costs = cost_array(pool, cost_column)
        sizes = _resolve_cost_budgets(budgets)
    note_exploration(data, "compare", [(s, b) for s in strategies for b in sizes])
    meter = _Meter(data, pool, pool_rows, eval_rows, probe_names, label_column=label_column,
                   target_column=target_column, metric=metric, seed=seed, geometry=geometry)
    steps = _Steps(len(strategies) * len(sizes) + len(sizes), progress)
    runs = _run_strategies(
        pool, specs, sizes, seed=seed, seeds=seeds, cost_column=cost_column, steps=steps,
        metric=metric, params=params, label_column=label_column, group_column=group_column,
        score_column=score_column,
        target=None if target is None else _pool_target(target, pool_rows, data.n))
    envelopes, drawn_at = _random_envelopes(pool, runs, sizes, meter,
                                            random_draws=random_draws, seed=seed,
                                            pool_costs=pool_costs, steps=steps)
    table = _compare_runs_with_random(runs, envelopes, drawn_at, meter, pool_costs=pool_costs,
                                      seed=seed, alpha=alpha, random_draws=random_draws)
    table.attrs.update({"pool_rows": pool_rows, "eval_rows": eval_rows,
                        "selections": {key: pool_rows[v[0][0]] for key, v in runs.items()},
                        "probes": probe_names, "random_draws": random_draws,
                        "seed": seed, "metric": metric, "alpha": alpha,
                        "holdout": holdout if probe_names else 0.0,
                        "cost_column": cost_column, "space": meter.space})
    return table
