"""Score-driven selection: coverage-centric coreset selection and the top / bottom baselines."""

from __future__ import annotations

import numpy as np

from ..cost import linear
from ..params import Boolean, Interval, Param
from .base import Picks, Problem, register


def _by_score(problem: Problem, descending: bool) -> np.ndarray:
    rows = np.flatnonzero(problem.allowed)
    s = problem.scores[rows]
    order = np.lexsort((rows, -s if descending else s))  # ties: lowest index
    return np.concatenate([problem.pinned, rows[order][: problem.n_new]]).astype(np.int64)


@register(
    "top-score",
    summary="Keeps the rows with the highest score (for example the hardest examples).",
    family="score-based",
    paper="Paul, Ganguli & Dziugaite, Deep Learning on a Data Diet, NeurIPS 2021 (the baseline "
    "Zheng et al., ICLR 2023, show failing at high pruning rates).",
    needs=("scores",),
    greedy=True,
    randomized=False,
    cost=linear(32),
)
def top_score(problem: Problem) -> Picks:
    """The highest-scoring allowed rows, in descending score order (ties: lowest index).

    References
    ----------
    M. Paul, S. Ganguli and G. K. Dziugaite, "Deep Learning on a Data Diet: Finding Important
    Examples Early in Training", NeurIPS 2021.
    H. Zheng, R. Liu, F. Lai and A. Prakash, "Coverage-centric Coreset Selection for High
    Pruning Rates", ICLR 2023 (shows this baseline failing at high pruning rates).
    """
    idx = _by_score(problem, descending=True)
    return Picks(idx, gains=problem.scores[idx])


@register(
    "bottom-score",
    summary="Keeps the rows with the lowest score (for example the easiest examples).",
    family="score-based",
    paper="Zheng et al., Coverage-centric Coreset Selection for High Pruning Rates, ICLR 2023 "
    "(easy-first baseline).",
    needs=("scores",),
    greedy=True,
    randomized=False,
    cost=linear(32),
)
def bottom_score(problem: Problem) -> Picks:
    """The lowest-scoring allowed rows, in ascending score order (ties: lowest index).

    References
    ----------
    H. Zheng, R. Liu, F. Lai and A. Prakash, "Coverage-centric Coreset Selection for High
    Pruning Rates", ICLR 2023.
    """
    idx = _by_score(problem, descending=False)
    return Picks(idx, gains=problem.scores[idx])


def ccs_allocation(counts: np.ndarray, budget: int) -> np.ndarray:
    """Spread ``budget`` over strata starting from the smallest: each stratum gets
    min(its size, remaining budget / remaining strata) (Zheng et al., Algorithm 1).

    >>> ccs_allocation(np.array([1, 10, 10]), 9).tolist()
    [1, 4, 4]
    """
    counts = np.asarray(counts, dtype=np.int64)
    quota = np.zeros_like(counts)
    left = int(budget)
    order = np.lexsort((np.arange(len(counts)), counts))
    remaining = int(np.count_nonzero(counts))
    for s in order:
        if counts[s] == 0:
            continue
        take = min(int(counts[s]), left // max(1, remaining))
        quota[s] = take
        left -= take
        remaining -= 1
    # integer division leaves a remainder: hand it out, largest strata first, within capacity
    for s in np.lexsort((np.arange(len(counts)), -(counts - quota))):
        if left == 0:
            break
        extra = min(left, int(counts[s] - quota[s]))
        quota[s] += extra
        left -= extra
    return quota


@register(
    "ccs",
    summary="Coverage-centric coreset: drops the hardest rows, then samples evenly across the "
    "whole range of difficulty.",
    family="score-based",
    paper="Zheng, Liu, Lai & Prakash, Coverage-centric Coreset Selection for High Pruning "
    "Rates, ICLR 2023.",
    params=(
        Param("beta", Interval("float", 0, 1, closed="left"), 0.1,
              "Fraction of the hardest rows dropped first (mislabelled or hopeless examples)."),
        Param("n_strata", Interval("int", 1, None), 50,
              "Equal-width score bins the budget is spread across."),
        Param("higher_is_harder", Boolean(), True,
              "Whether a higher score means a harder row."),
    ),
    needs=("scores",),
    cost=linear(48),
)
def ccs(problem: Problem, beta: float, n_strata: int, higher_is_harder: bool) -> Picks:
    """Coverage-centric coreset selection (CCS).

    Drops the hardest ``beta`` fraction of the allowed rows, splits the remaining score range
    into ``n_strata`` equal-width strata, spreads the budget over strata starting from the
    smallest (each gets min(its size, remaining budget / remaining strata)), and samples
    uniformly inside each. When pins and exclusions leave too few rows after the drop, the
    dropped rows are used last so the budget is still met. ``info`` reports the score range
    kept.

    References
    ----------
    H. Zheng, R. Liu, F. Lai and A. Prakash, "Coverage-centric Coreset Selection for High
    Pruning Rates", ICLR 2023.
    """
    rows = np.flatnonzero(problem.allowed)
    s = problem.scores[rows] if higher_is_harder else -problem.scores[rows]
    order = np.lexsort((rows, -s))  # hardest first
    n_drop = int(np.floor(beta * len(rows)))
    n_drop = min(n_drop, max(0, len(rows) - problem.n_new))
    kept = rows[order[n_drop:]]
    ks = problem.scores[kept]
    lo, hi = float(ks.min()), float(ks.max())
    edges = np.linspace(lo, hi, n_strata + 1)
    strata = np.clip(np.searchsorted(edges, ks, side="right") - 1, 0, n_strata - 1)
    counts = np.bincount(strata, minlength=n_strata)
    quota = ccs_allocation(counts, problem.n_new)
    picks = []
    for st in np.flatnonzero(quota):
        members = kept[strata == st]
        picks.append(problem.rng.choice(members, int(quota[st]), replace=False))
    new = problem.rng.permutation(np.concatenate(picks)) if picks else np.zeros(0, np.int64)
    return Picks(np.concatenate([problem.pinned, new]).astype(np.int64),
                 info={"dropped": n_drop, "score_range_kept": [lo, hi],
                       "strata_hit": int(np.count_nonzero(quota))})
