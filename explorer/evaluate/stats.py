"""Honest statistics for "is this strategy better than random?".

A strategy's value (one run, or one per seed) is compared with R random subsets of the same
size. Three numbers answer three questions:

* how large is the difference? ``mean(values) - mean(random)`` with a seeded percentile
  bootstrap confidence interval (Efron & Tibshirani 1993, ch. 13);
* could it be chance? with one value, a one-sided prediction-interval t-test: would a new
  random subset land this far from the random mean? ``t = (value - mean) / (sd *
  sqrt(1 + 1/R))`` with R - 1 degrees of freedom (it assumes the metric over random subsets
  is roughly normal, which averages over many rows usually are). Its rank-based twin, which
  assumes nothing, counts the random draws at least as good with the +1 correction,
  ``(1 + #{random >= value}) / (R + 1)`` (Phipson & Smyth 2010), and is reported beside it;
  it cannot go below 1 / (R + 1), so with 30 draws and several comparisons it alone could
  never support a claim. With several values (seeds), a permutation test on the difference
  in means;
* after looking at many strategies and budgets? Holm's step-down correction (Holm 1979).

"Better than random" is claimed only when the Holm-corrected p-value is below ``alpha``.
Note the rank p-value's floor: with R draws it is at least ``1 / (R + 1)``, so Holm over m
comparisons on rank p-values can only reach ``alpha`` when ``m / (R + 1) < alpha`` (see
:func:`draws_needed`).

References
----------
Efron, B. & Tibshirani, R. (1993). An Introduction to the Bootstrap. Chapman & Hall.
Phipson, B. & Smyth, G. K. (2010). Permutation p-values should never be zero. Statistical
Applications in Genetics and Molecular Biology 9(1).
Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian
Journal of Statistics 6(2), 65-70.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ExplorerError
from ..params import Interval, validate_params

VERDICTS = ("better than random", "within random's spread", "worse than random",
            "not comparable")


@dataclass(frozen=True)
class DiffCI:
    """A strategy against random: the difference, its interval and one-sided p-values.

    Attributes
    ----------
    difference : mean of the strategy's values minus the mean of the random draws (in the
        metric's own units and sign; whether positive is good depends on the metric).
    ci_low, ci_high : the bootstrap confidence interval of ``difference`` at ``level``.
    p_value : one-sided p-value that the strategy is *better* than random (in the metric's
        good direction).
    p_worse : the same in the other direction (the strategy is worse than random).
    level : the confidence level of the interval.
    n_values, n_random : how many strategy values and finite random draws were compared.
    method : 'prediction-t' (one value) or 'permutation' (several values).
    p_rank : the rank p-value of the better direction (one value; distribution-free, floored
        at 1 / (R + 1)); NaN with several values.
    """

    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    p_worse: float
    level: float
    n_values: int
    n_random: int
    method: str
    p_rank: float = float("nan")


def _as_values(x, name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(x, dtype=np.float64)).ravel()
    if arr.size == 0:
        raise ExplorerError(f"bootstrap_diff_ci: {name} is empty; give at least one number.")
    return arr


def rank_p_value(value: float, random_values, higher_is_better: bool = True) -> float:
    """One-sided p-value of one value among R random draws, ``(1 + #{random at least as
    good}) / (R + 1)``; ties count as at least as good (conservative).

    >>> rank_p_value(5.0, [1.0, 2.0, 3.0, 5.0])
    0.4
    >>> rank_p_value(0.5, [1.0, 2.0, 3.0, 4.0], higher_is_better=False)
    0.2
    """
    r = np.asarray(random_values, dtype=np.float64)
    r = r[np.isfinite(r)]
    if not math.isfinite(value) or len(r) == 0:
        return float("nan")
    tol = 1e-12 * max(1.0, abs(value))
    good = np.sum(r >= value - tol) if higher_is_better else np.sum(r <= value + tol)
    return float((1 + good) / (len(r) + 1))


def prediction_p_value(value: float, random_values, higher_is_better: bool = True) -> float:
    """One-sided p-value that a new random subset would be at least as good as ``value``:
    the prediction-interval t-test ``t = (value - mean) / (sd * sqrt(1 + 1/R))``, R - 1
    degrees of freedom. When every random draw is the same (sd = 0, e.g. a worst-class recall
    of 0 in all of them) the test is degenerate and the rank p-value is returned instead.

    >>> round(prediction_p_value(0.9, [0.80, 0.82, 0.85, 0.79, 0.81]), 4)
    0.0135
    >>> prediction_p_value(0.5, [0.5, 0.5, 0.5]), prediction_p_value(0.6, [0.5, 0.5, 0.5])
    (1.0, 0.25)
    """
    from scipy.stats import t as student_t

    r = np.asarray(random_values, dtype=np.float64)
    r = r[np.isfinite(r)]
    if len(r) < 2 or not np.isfinite(value):
        return float("nan")
    mean, sd = float(r.mean()), float(r.std(ddof=1))
    gap = (value - mean) if higher_is_better else (mean - value)
    if sd == 0.0:
        return rank_p_value(value, r, higher_is_better)
    t = gap / (sd * math.sqrt(1.0 + 1.0 / len(r)))
    return float(student_t.sf(t, df=len(r) - 1))


def _permutation_p(values: np.ndarray, randoms: np.ndarray, higher_is_better: bool,
                   n_permutations: int, rng: np.random.Generator) -> tuple[float, float]:
    """Monte-Carlo permutation test of mean(values) - mean(randoms), both one-sided p-values
    with the +1 correction."""
    both = np.concatenate([values, randoms])
    n1, total = len(values), both.sum()
    observed = values.mean() - randoms.mean()
    keys = rng.random((n_permutations, len(both)))
    first = both[np.argpartition(keys, n1 - 1, axis=1)[:, :n1]].sum(axis=1)
    stats = first / n1 - (total - first) / len(randoms)
    tol = 1e-12 * max(1.0, abs(observed))
    up = (1 + np.sum(stats >= observed - tol)) / (n_permutations + 1)
    down = (1 + np.sum(stats <= observed + tol)) / (n_permutations + 1)
    return (float(up), float(down)) if higher_is_better else (float(down), float(up))


@validate_params({"level": [Interval("float", 0, 1, closed="neither")],
                  "n_boot": [Interval("int", 1, None)],
                  "n_permutations": [Interval("int", 1, None)]})
def bootstrap_diff_ci(value_or_values, random_values, *, higher_is_better: bool = True,
                      level: float = 0.95, n_boot: int = 2000, n_permutations: int = 9999,
                      seed: int = 0) -> DiffCI:
    """The strategy's difference from the random mean, its bootstrap CI and p-values.

    Parameters
    ----------
    value_or_values : the strategy's value, or one value per seed.
    random_values : the same metric on R random subsets of the same size (non-finite draws
        are dropped).
    higher_is_better : the metric's good direction (sets which tail ``p_value`` counts).
    level : confidence level of the percentile bootstrap interval (default 0.95).
    n_boot : bootstrap resamples (the random draws, and the values when there are several,
        are resampled with replacement).
    n_permutations : permutations for the p-value when there are several values; with one
        value the p-value is :func:`prediction_p_value` (and ``p_rank`` the rank p-value).
    seed : seeds the bootstrap and the permutations (same seed, same numbers).

    Returns
    -------
    DiffCI

    Examples
    --------
    >>> r = bootstrap_diff_ci(0.9, [0.80, 0.82, 0.85, 0.79, 0.81], seed=0)
    >>> round(r.difference, 3), round(r.p_value, 4), r.p_rank, r.ci_low > 0
    (0.086, 0.0135, 0.16666666666666666, True)

    References
    ----------
    Efron & Tibshirani (1993); Phipson & Smyth (2010).
    """
    values = _as_values(value_or_values, "value_or_values")
    randoms = _as_values(random_values, "random_values")
    n_boot, n_permutations = int(n_boot), int(n_permutations)
    randoms = randoms[np.isfinite(randoms)]
    values = values[np.isfinite(values)]
    method = "prediction-t" if len(values) <= 1 else "permutation"
    nan = float("nan")
    if len(values) == 0 or len(randoms) == 0:
        return DiffCI(nan, nan, nan, nan, nan, float(level), len(values), len(randoms), method)
    rng = np.random.default_rng(seed)
    diff = float(values.mean() - randoms.mean())
    boot_r = randoms[rng.integers(0, len(randoms), (n_boot, len(randoms)))].mean(axis=1)
    if len(values) > 1:
        boot_v = values[rng.integers(0, len(values), (n_boot, len(values)))].mean(axis=1)
    else:
        boot_v = values[0]
    boot = boot_v - boot_r
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(boot, [tail, 1.0 - tail])
    p_rank = float("nan")
    if len(values) == 1:
        p = prediction_p_value(values[0], randoms, higher_is_better)
        q = prediction_p_value(values[0], randoms, not higher_is_better)
        p_rank = rank_p_value(values[0], randoms, higher_is_better)
    else:
        p, q = _permutation_p(values, randoms, higher_is_better, n_permutations, rng)
    return DiffCI(diff, float(low), float(high), p, q, float(level), len(values),
                  len(randoms), method, p_rank)


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values (monotone in the sorted order, capped at 1).

    The i-th smallest of m p-values is multiplied by ``m - i + 1`` and the running maximum
    is taken; non-finite p-values stay NaN and do not count in m.

    >>> holm([0.01, 0.04, 0.03, 0.005]).round(4).tolist()
    [0.03, 0.06, 0.06, 0.02]

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure.
    """
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if len(ok) == 0:
        return out
    if (p[ok] < 0).any() or (p[ok] > 1).any():
        raise ExplorerError("holm: p-values must lie in [0, 1].")
    m = len(ok)
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = p[order] * (m - np.arange(m))
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


@validate_params({"alpha": [Interval("float", 0, 1, closed="neither")]})
def verdict(p_better: float, p_worse: float, alpha: float = 0.05) -> str:
    """'better than random' when ``p_better < alpha``, 'worse than random' when
    ``p_worse < alpha``, else "within random's spread" (pass Holm-corrected p-values).

    >>> verdict(0.01, 0.99), verdict(0.2, 0.8), verdict(float("nan"), float("nan"))
    ('better than random', "within random's spread", 'not comparable')
    """
    if not (math.isfinite(p_better) and math.isfinite(p_worse)):
        return "not comparable"
    if p_better < alpha:
        return "better than random"
    if p_worse < alpha:
        return "worse than random"
    return "within random's spread"


@validate_params({"alpha": [Interval("float", 0, 1, closed="neither")]})
def holm_verdicts(table, p_better: str, p_worse: str, alpha: float = 0.05,
                  by: str = "metric") -> tuple:
    """Holm's correction of the p-value columns ``p_better`` and ``p_worse`` of ``table``
    within each group of ``by`` (a metric: across every strategy and budget), and each row's
    :func:`verdict` from the corrected pair. Returns (corrected ``p_better``, corrected
    ``p_worse``, verdicts), aligned with ``table``'s rows.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"metric": ["a", "a", "b"], "p": [0.01, 0.04, 0.03],
    ...                   "q": [0.99, 0.96, 0.97]})
    >>> better, worse, verdicts = holm_verdicts(t, "p", "q")
    >>> better.tolist(), verdicts
    ([0.02, 0.04, 0.03], ['better than random', 'better than random', 'better than random'])
    """
    import pandas as pd

    better = pd.Series(np.nan, index=table.index)
    worse = pd.Series(np.nan, index=table.index)
    for _, part in table.groupby(by, sort=False):
        better[part.index] = holm(part[p_better].to_numpy())
        worse[part.index] = holm(part[p_worse].to_numpy())
    return better, worse, [verdict(p, q, alpha) for p, q in zip(better, worse)]


@validate_params({"comparisons": [Interval("int", 1, None)],
                  "alpha": [Interval("float", 0, 1, closed="neither")]})
def draws_needed(comparisons: int, alpha: float = 0.05) -> int:
    """The fewest random draws R for which one value can still be called better than random
    after Holm over ``comparisons`` tests: the smallest R with ``comparisons / (R + 1) <
    alpha``.

    >>> draws_needed(1), draws_needed(25)
    (20, 500)
    """
    draws = max(1, int(math.floor(comparisons / alpha)) - 1)
    while comparisons / (draws + 1) >= alpha:
        draws += 1
    return draws
