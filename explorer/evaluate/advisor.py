"""The budget advisor: how many rows does a strategy need, and how many does random need?

From a :func:`~explorer.evaluate.sweep.probe_sweep` on a log grid of budgets, a learning
curve is fitted for each strategy and for random subsets: the probe's held-out accuracy
against the number of rows. The budget a curve needs is the smallest n at which the fit
reaches within ``eps`` accuracy points of the probe trained on the whole pool.

The model is the saturating power law

    accuracy(n) = a - b * n^(-c),   b >= 0, 0 < c <= 3, a <= the metric's ceiling (1),

fitted with :func:`scipy.optimize.curve_fit` (trust-region reflective, bounded). It was
chosen because it is the form learning curves of classifiers follow over the range that
matters here (Cortes et al. 1994; Hestness et al. 2017), it was among the best of the
parametric forms in the survey of Viering & Loog (2022) when extrapolating, its three
parameters read directly (a: the level it saturates at, c: how fast it gets there) and it
inverts in closed form: n* = (b / (a - target))^(1/c). An exponential saturates too fast for
probe curves, a logarithm never saturates, and four-parameter forms need more budgets than a
sweep gives.

When the fit cannot support a claim the advisor says so instead of printing a number: fewer
than four budgets with finite values, ``curve_fit`` failing, a curve that levels off below the
target, a target far beyond the largest budget measured (more than ``extrapolate`` times it),
or a bootstrap interval that is open-ended (more than 5 % of the resampled fits never reach
the target). A strategy whose measured curve stays inside random's 5-95 % band at every
budget is reported as *no saving*, whatever its fit says.

The interval is a bootstrap over the sweep's own repeats: each replicate resamples, at every
budget, the random draws (for random) or the strategy's distinct seeds (for a randomized
strategy run with ``seeds > 1``), averages them and refits. A strategy with one run per budget
(deterministic ones) has nothing to resample there, so its replicates resample the fit's
residuals instead (a residual bootstrap). Intervals are the 5th and 95th percentiles, the
width of the band used everywhere else in the explorer.

References
----------
Cortes, C., Jackel, L. D., Solla, S. A., Vapnik, V. & Denker, J. S. (1994). Learning curves:
asymptotic values and rate of convergence. NeurIPS 6.
Hestness, J. et al. (2017). Deep learning scaling is predictable, empirically.
arXiv:1712.00409.
Viering, T. & Loog, M. (2022). The shape of learning curves: a review. IEEE TPAMI 45(6).
Efron, B. & Tibshirani, R. (1993). An Introduction to the Bootstrap, ch. 9 (residual
bootstrap for regression).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..data.dataset import Dataset
from ..errors import ExplorerError
from ..params import (METRIC, OPTIONAL_CALLBACK, OPTIONAL_COLUMN, SEED, InstanceOf, Interval,
                      Options, SequenceOf, Text, validate_params)

#: How far below the full-pool value counts as reached, in points (hundredths).
EPS = Interval("float", 0, 100, closed="neither")
POSITIVE = Interval("float", 0, None, closed="neither")

#: the model fitted to every learning curve, as printed in reports
LAW = "a - b * n^(-c)"
#: bounds of the exponent c
C_BOUNDS = (1e-3, 3.0)
#: the share of bootstrap fits that may miss the target before an interval is open-ended
OPEN_SHARE = 0.05


def power_law(n, a: float, b: float, c: float):
    """The saturating power law ``a - b * n^(-c)``.

    >>> float(power_law(100.0, 0.9, 2.0, 0.5))
    0.7
    """
    return a - b * np.power(np.asarray(n, dtype=np.float64), -c)


@dataclass(frozen=True)
class CurveFit:
    """A fitted learning curve ``a - b * n^(-c)``; ``ok`` False (with ``reason``) when the
    points could not be fitted."""

    a: float = float("nan")
    b: float = float("nan")
    c: float = float("nan")
    ok: bool = False
    reason: str = ""

    def predict(self, n):
        return power_law(n, self.a, self.b, self.c)

    def budget_for(self, target: float) -> float:
        """The smallest n with ``predict(n) >= target``: inf when the curve levels off at or
        below it, nan when there is no fit."""
        if not self.ok:
            return float("nan")
        if self.b <= 0:
            return 1.0 if self.a >= target else float("inf")
        if self.a <= target:
            return float("inf")
        return max(1.0, float((self.b / (self.a - target)) ** (1.0 / self.c)))


@validate_params({"ceiling": [POSITIVE]})
def fit_learning_curve(budgets, values, *, ceiling: float = 1.0) -> CurveFit:
    """Fit ``a - b * n^(-c)`` to a learning curve by bounded least squares.

    Parameters
    ----------
    budgets : subset sizes (> 0).
    values : the metric at each size (its mean over repeats).
    ceiling : the largest value the metric can take (1 for accuracy); bounds ``a``.

    Examples
    --------
    >>> n = np.array([20, 40, 80, 160, 320, 640])
    >>> fit = fit_learning_curve(n, power_law(n, 0.95, 1.5, 0.6))
    >>> round(fit.a, 3), round(fit.b, 3), round(fit.c, 3)
    (0.95, 1.5, 0.6)
    >>> fit_learning_curve([10, 20], [0.5, 0.6]).reason
    'needs at least 4 budgets with a finite value (got 2)'
    """
    from scipy.optimize import OptimizeWarning, curve_fit

    n = np.asarray(budgets, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(n) & np.isfinite(y) & (n > 0)
    n, y = n[keep], y[keep]
    if len(np.unique(n)) < 4:
        return CurveFit(reason=f"needs at least 4 budgets with a finite value (got "
                        f"{len(np.unique(n))})")
    order = np.argsort(n)
    n, y = n[order], y[order]
    a0 = min(ceiling, max(y) + 0.25 * (max(y) - min(y)) + 1e-3)
    c0 = 0.5
    b0 = max((a0 - y[0]) * n[0] ** c0, 1e-6)
    lower = (min(y.min(), ceiling) - 1.0, 0.0, C_BOUNDS[0])
    upper = (ceiling, np.inf, C_BOUNDS[1])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", OptimizeWarning)
            params, _ = curve_fit(power_law, n, y, p0=(a0, b0, c0), bounds=(lower, upper),
                                  method="trf", max_nfev=5000)
    except (RuntimeError, ValueError, OptimizeWarning) as exc:
        return CurveFit(reason=f"the fit did not converge ({str(exc).splitlines()[0]})")
    a, b, c = (float(v) for v in params)
    if not all(map(math.isfinite, (a, b, c))):
        return CurveFit(reason="the fit gave non-finite parameters")
    return CurveFit(a, b, c, ok=True)


@validate_params({"n_pool": [Interval("int", 1, None)], "points": [Interval("int", 1, None)],
                  "low": [Interval("int", 1, None), None],
                  "high": [Interval("int", 1, None), None]})
def budget_grid(n_pool: int, points: int = 8, low: int | None = None,
                high: int | None = None) -> list[int]:
    """``points`` log-spaced budgets from ``low`` (default 2 % of the pool, at least 10) to
    ``high`` (default half the pool), rounded to distinct integers.

    >>> budget_grid(1438)
    [29, 46, 73, 115, 182, 287, 455, 719]
    """
    low = int(low or max(10, round(0.02 * n_pool)))
    high = int(high or max(low + points, n_pool // 2))
    values = np.unique(np.round(np.geomspace(low, min(high, n_pool), points)).astype(int))
    return [int(v) for v in values]


@dataclass
class CurveAdvice:
    """One curve's answer: the budget reaching the target, its bootstrap interval, and what
    can be said.

    status : 'ok' (a budget and a closed interval), 'no saving' (a strategy whose curve stays
        inside random's band), or 'cannot say' (``reason`` says why).
    """

    name: str
    budgets: list
    means: list
    fit: CurveFit
    budget: float = float("nan")
    low: float = float("nan")
    high: float = float("nan")
    status: str = "cannot say"
    reason: str = ""
    replicates: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    curve_band: tuple = field(default=(), repr=False)  # (grid, p05, p95) of the fitted curves

    def band_at(self, n: float) -> tuple[float, float]:
        """The 5-95 % band of the bootstrap fits at budget ``n`` (nan when none)."""
        if not self.curve_band:
            return float("nan"), float("nan")
        grid, low, high = self.curve_band
        return float(np.interp(n, grid, low)), float(np.interp(n, grid, high))

    def to_dict(self) -> dict:
        return {"name": self.name, "budgets": [int(b) for b in self.budgets],
                "means": [float(m) for m in self.means], "law": LAW,
                "fit": {"a": self.fit.a, "b": self.fit.b, "c": self.fit.c, "ok": self.fit.ok,
                        "reason": self.fit.reason},
                "budget": _num(self.budget), "low": _num(self.low), "high": _num(self.high),
                "status": self.status, "reason": self.reason}


def _num(v):
    return None if v is None or not math.isfinite(v) else float(v)


def rows(v: float) -> str:
    """A budget as people say it: two significant figures, thousands separated.

    >>> rows(418.2), rows(1104), rows(37.4), rows(float("inf"))
    ('420', '1,100', '37', 'open-ended')
    """
    if not math.isfinite(v):
        return "open-ended"
    v = max(1, int(round(v)))
    if v >= 100:
        digits = len(str(v)) - 2
        v = int(round(v, -digits))
    return f"{v:,}"


@dataclass
class Advice:
    """What :func:`advise` found: the full-pool value, the target, random's curve and each
    strategy's, with :meth:`sentence` saying it in words."""

    metric: str
    full_value: float
    eps: float
    target: float
    random: CurveAdvice
    strategies: dict
    ratios: dict  # strategy -> (ratio, low, high) of random's budget over the strategy's
    largest: int
    band: dict = field(default_factory=dict, repr=False)  # budget -> (p05, p95) of random
    #: the sweep's rows (row indices into the data): pool, held-out evaluation rows, and
    #: (strategy, budget) -> the first seed's selection
    pool_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    eval_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    selections: dict = field(default_factory=dict, repr=False)

    def sentences(self) -> list[str]:
        """One sentence per strategy (random alone when no strategy was asked for)."""
        what = (f"within {self.eps:g} point{'s' if self.eps != 1 else ''} of the full-data "
                f"{self.metric} ({self.full_value:.3f})")
        rnd = self.random
        if rnd.status == "ok":
            random_part = f"random needs ~{rows(rnd.budget)} [{rows(rnd.low)}, {rows(rnd.high)}]"
        else:
            random_part = f"random: cannot say ({rnd.reason})"
        if not self.strategies:
            return [f"random reaches {what} at ~{rows(rnd.budget)} rows [{rows(rnd.low)}, "
                    f"{rows(rnd.high)}]." if rnd.status == "ok" else
                    f"random: cannot say how many rows reach {what}: {rnd.reason}."]
        out = []
        for name, adv in self.strategies.items():
            if adv.status == "no saving":
                out.append(f"{name}: no saving: {adv.reason}; {random_part}.")
            elif adv.status == "cannot say":
                out.append(f"{name}: cannot say how many rows reach {what}: {adv.reason}; "
                           f"{random_part}.")
            else:
                head = (f"{name} reaches {what} at ~{rows(adv.budget)} rows [{rows(adv.low)}, "
                        f"{rows(adv.high)}]; {random_part}")
                ratio = self.ratios.get(name)
                if rnd.status != "ok" or ratio is None:
                    out.append(head + ": no ratio without random's budget.")
                elif ratio[0] <= 1:
                    out.append(head + f": no saving ({ratio[0]:.1f}x random's rows).")
                elif not ratio[1] > 1:
                    out.append(head + f": {ratio[0]:.1f}x fewer rows [{ratio[1]:.1f}, "
                               f"{ratio[2]:.1f}], an interval that includes no saving.")
                else:
                    out.append(head + f": {ratio[0]:.1f}x fewer rows [{ratio[1]:.1f}, "
                               f"{ratio[2]:.1f}].")
        return out

    def sentence(self) -> str:
        return " ".join(self.sentences())

    def to_dict(self) -> dict:
        return {"metric": self.metric, "full_value": self.full_value, "eps": self.eps,
                "target": self.target, "largest_budget": self.largest, "law": LAW,
                "random": self.random.to_dict(),
                "strategies": {k: v.to_dict() for k, v in self.strategies.items()},
                "ratios": {k: {"ratio": _num(r[0]), "low": _num(r[1]), "high": _num(r[2])}
                           for k, r in self.ratios.items()},
                "sentence": self.sentence()}


def _curve_advice(name: str, repeats: dict, target: float, largest: int, *, boot: int,
                  rng: np.random.Generator, ceiling: float, extrapolate: float) -> CurveAdvice:
    """Fit one curve (``repeats``: budget -> values of its repeats) and bootstrap n*."""
    budgets = sorted(repeats)
    vals = [np.asarray(repeats[b], dtype=np.float64) for b in budgets]
    vals = [v[np.isfinite(v)] for v in vals]
    kept = [(b, v) for b, v in zip(budgets, vals) if len(v)]
    budgets = [b for b, _ in kept]
    vals = [v for _, v in kept]
    means = [float(v.mean()) for v in vals]
    fit = fit_learning_curve(budgets, means, ceiling=ceiling)
    adv = CurveAdvice(name, budgets, means, fit)
    if not fit.ok:
        adv.reason = f"its learning curve could not be fitted: {fit.reason}"
        return adv
    adv.budget = fit.budget_for(target)
    n = np.asarray(budgets, dtype=np.float64)
    resample_repeats = all(len(v) >= 2 for v in vals)
    residuals = np.asarray(means) - fit.predict(n)
    grid = np.geomspace(max(1.0, n.min() / 2), n.max() * extrapolate, 60)
    reps, curves = [], []
    for _ in range(int(boot)):
        if resample_repeats:
            ys = [float(rng.choice(v, len(v)).mean()) for v in vals]
        else:
            ys = fit.predict(n) + rng.choice(residuals, len(residuals))
        f = fit_learning_curve(n, ys, ceiling=ceiling)
        reps.append(f.budget_for(target) if f.ok else float("inf"))
        if f.ok:
            curves.append(f.predict(grid))
    reps = np.asarray(reps, dtype=np.float64)
    adv.replicates = reps
    if curves:
        curves = np.asarray(curves)
        adv.curve_band = (grid, np.percentile(curves, 5, axis=0),
                          np.percentile(curves, 95, axis=0))
    if not math.isfinite(adv.budget):
        adv.reason = (f"its fitted curve levels off at {fit.a:.3f}, below the target "
                      f"{target:.3f}")
        return adv
    missed = float(np.mean(~np.isfinite(reps))) if len(reps) else 0.0
    adv.low = float(np.percentile(np.where(np.isfinite(reps), reps, np.inf), 5)) \
        if len(reps) else float("nan")
    adv.high = float("inf") if missed > OPEN_SHARE or not len(reps) else \
        float(np.percentile(reps, 95))
    if adv.budget > extrapolate * largest:
        adv.reason = (f"its fit reaches the target only at ~{rows(adv.budget)} rows, more "
                      f"than {extrapolate:g}x the largest budget measured ({largest:,}); "
                      "measure larger budgets")
        return adv
    if not math.isfinite(adv.high):
        adv.reason = (f"the interval is open-ended: {missed:.0%} of the resampled fits never "
                      f"reach the target (~{rows(adv.budget)} rows [{rows(adv.low)}, "
                      "open-ended])")
        return adv
    adv.status = "ok"
    return adv


@validate_params({"full_value": [Interval("float")], "eps": [EPS], "metric": [Text()],
                  "boot": [Interval("int", 1, None)], "seed": [SEED], "ceiling": [POSITIVE],
                  "extrapolate": [POSITIVE]})
def advice_from_curves(strategy_repeats: dict, random_repeats: dict, full_value: float, *,
                       eps: float = 1.0, band: dict | None = None, metric: str = "accuracy",
                       boot: int = 200, seed: int = 0, ceiling: float = 1.0,
                       extrapolate: float = 2.0) -> Advice:
    """The advice from measured curves: ``strategy_repeats`` maps a strategy to
    {budget: values of its repeats}; ``random_repeats`` is {budget: values of the random
    draws}; ``full_value`` is the metric of the probe trained on the whole pool; ``eps`` is in
    points (hundredths). ``band`` maps a budget to random's (p05, p95) (default: the
    percentiles of ``random_repeats``). :func:`advise` measures all of this with
    :func:`~explorer.evaluate.sweep.probe_sweep`.

    >>> n = [25, 50, 100, 200, 400, 800]
    >>> rnd = {b: [float(power_law(b, 0.97, 1.0, 0.7)) + d for d in (-0.01, 0, 0.01)]
    ...        for b in n}
    >>> smart = {b: [float(power_law(b, 0.97, 0.4, 0.7))] for b in n}
    >>> same = {b: [float(power_law(b, 0.97, 1.0, 0.7))] for b in n}
    >>> for line in advice_from_curves({"smart": smart, "same": same}, rnd, 0.97).sentences():
    ...     print(line)  # doctest: +NORMALIZE_WHITESPACE
    smart reaches within 1 point of the full-data accuracy (0.970) at ~190 rows [190, 190];
    random needs ~720 [440, 7,300]: 3.7x fewer rows [2.3, 11.6].
    same: no saving: its curve stays inside random's 5-95 % band at every budget measured
    (25, 50, 100, 200, 400, 800); random needs ~720 [440, 7,300].
    """
    rng = np.random.default_rng(seed)
    target = float(full_value) - eps / 100.0
    largest = int(max([max(random_repeats)] + [max(r) for r in strategy_repeats.values()]))
    common = dict(boot=boot, rng=rng, ceiling=ceiling, extrapolate=extrapolate)
    random_adv = _curve_advice("random", random_repeats, target, largest, **common)
    if band is None:
        band = {b: (float(np.percentile(v, 5)), float(np.percentile(v, 95)))
                for b, v in random_repeats.items()}
    out, ratios = {}, {}
    for name, repeats in strategy_repeats.items():
        adv = _curve_advice(name, repeats, target, largest, **common)
        inside = [b for b, m in zip(adv.budgets, adv.means) if b in band
                  and band[b][0] <= m <= band[b][1]]
        if adv.budgets and len(inside) == len(adv.budgets):
            adv.status = "no saving"
            adv.reason = ("its curve stays inside random's 5-95 % band at every budget "
                          f"measured ({', '.join(f'{b:,}' for b in adv.budgets)})")
        if adv.status == "ok" and random_adv.status == "ok":
            ratio = random_adv.budget / adv.budget
            k = min(len(random_adv.replicates), len(adv.replicates))
            reps = random_adv.replicates[:k] / adv.replicates[:k]
            reps = reps[np.isfinite(reps)]
            lo, hi = (np.percentile(reps, [5, 95]) if len(reps) else (np.nan, np.nan))
            ratios[name] = (float(ratio), float(lo), float(hi))
            if ratio <= 1:
                adv.status = "no saving"
                adv.reason = (f"it needs ~{rows(adv.budget)} rows, random ~"
                              f"{rows(random_adv.budget)}")
        out[name] = adv
    return Advice(metric, float(full_value), float(eps), target, random_adv, out, ratios,
                  largest, band)


@validate_params({
    "data": [InstanceOf((Dataset,), "a Dataset (from explorer.load)")],
    "strategies": [Text(), SequenceOf((Text(),), min_items=0)],
    "label_column": OPTIONAL_COLUMN, "eps": [EPS],
    "budgets": [POSITIVE, SequenceOf((POSITIVE,)), None], "probe": [Options(("logistic", "knn"))],
    "metric": [Text()], "seeds": [Interval("int", 1, None)],
    "random_draws": [Interval("int", 2, None)], "seed": [SEED], "space_metric": [METRIC],
    "holdout": [Interval("float", 0, 1, closed="neither")], "boot": [Interval("int", 1, None)],
    "extrapolate": [POSITIVE], "params": [InstanceOf((dict,), "a dict"), None],
    "progress": OPTIONAL_CALLBACK})
def advise(data: Dataset, strategies, *, label_column: str, eps: float = 1.0, budgets=None,
           probe: str = "logistic", metric: str = "accuracy", seeds: int = 3,
           random_draws: int = 30, seed: int = 0, space_metric: str = "euclidean",
           holdout: float = 0.2, boot: int = 200, extrapolate: float = 2.0, params=None,
           progress=None) -> Advice:
    """How many rows each strategy, and random, needs to come within ``eps`` points of the
    probe trained on the whole pool (see the module's docstring for the model and the rules).

    The measurements are one :func:`~explorer.evaluate.sweep.probe_sweep` (so the
    exploration holdout, the locked confirmation split and the exploration log behave as in
    any comparison) on ``budgets`` (default :func:`budget_grid` of the pool: 8 log-spaced
    budgets from 2 % to half of it), plus the probe trained on the whole pool.

    Parameters
    ----------
    data : Dataset
    strategies : strategy names; 'random' among them is the baseline, always measured.
    label_column : the class column the probe predicts.
    eps : accuracy points (hundredths) below the full-pool value that count as reached.
    probe, metric : the probe ('logistic' or 'knn') and its metric ('accuracy', 'macro_f1').
    seeds : seeds per randomized strategy (their repeats for the bootstrap).
    random_draws : random subsets per budget (random's repeats).
    space_metric : 'euclidean' or 'cosine', for the strategies and kNN.
    boot : bootstrap replicates; ``extrapolate``: how far past the largest budget a budget
        may be claimed.

    Examples
    --------
    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> advice = advise(data, ["random", "k-center"], label_column="label", probe="knn",
    ...                 budgets=[20, 40, 80, 160, 320, 640], random_draws=5, boot=50)
    >>> advice.random.status, round(advice.full_value, 3)
    ('ok', 0.981)
    >>> print(advice.sentence())  # doctest: +ELLIPSIS
    k-center reaches within 1 point of the full-data accuracy (0.981) at ~... rows [...]; random needs ~... [...]...
    """
    from .probes import make_probe
    from .sweep import probe_sweep

    if isinstance(strategies, str):
        strategies = [s for s in strategies.split(",") if s]
    names = [s for s in dict.fromkeys(strategies) if s != "random"]
    if label_column is None:
        raise ExplorerError("advise needs a label column (label_column=, --label-column): "
                            "the learning curve is a probe's held-out accuracy.")
    if budgets is None:
        from .probes import holdout_split

        pool_rows, _ = holdout_split(data, label_column, holdout, seed)
        budgets = budget_grid(len(pool_rows))
    column = f"{probe}_{metric}"
    # random's curve comes from the sweep's envelopes: a strategy is needed to run it, and
    # 'random' itself is the cheapest one (its own rows are not used)
    table = probe_sweep(data, names or ["random"], budgets, label_column=label_column,
                        probe=probe, seeds=seeds, random_draws=random_draws, seed=seed,
                        metric=space_metric, holdout=holdout, geometry=False, params=params,
                        progress=progress)
    if column not in set(table["metric"]):
        raise ExplorerError(f"advise: the {probe} probe has no metric {metric!r}; choose one "
                            f"of {sorted(m[len(probe) + 1:] for m in set(table['metric']))}.")
    pool_rows, eval_rows = table.attrs["pool_rows"], table.attrs["eval_rows"]
    full = make_probe(data, probe, pool_rows, eval_rows, label_column=label_column,
                      metric=space_metric).run(np.arange(len(pool_rows)))[metric]
    part = table[table["metric"] == column]
    random_repeats = {int(r.budget): table.attrs["envelopes"][int(r.size)][column]
                      for r in part.drop_duplicates("budget").itertuples()}
    band = {int(r.budget): (float(r.random_p05), float(r.random_p95))
            for r in part.drop_duplicates("budget").itertuples()}
    strategy_repeats = {name: {int(b): table.attrs["measured"][(name, b)][column]
                               for b in part.loc[part["strategy"] == name, "budget"]}
                        for name in names}
    advice = advice_from_curves(strategy_repeats, random_repeats, full, eps=eps, band=band,
                                metric=metric, boot=boot, seed=seed, extrapolate=extrapolate)
    advice.pool_rows, advice.eval_rows = pool_rows, eval_rows
    advice.selections = {k: v for k, v in table.attrs["selections"].items() if k[0] in names}
    return advice
