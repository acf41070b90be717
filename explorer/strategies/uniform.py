"""Uniform random sampling: the baseline every other strategy is measured against."""

from __future__ import annotations

import numpy as np

from .base import Picks, Problem, register


def random_order(problem: Problem) -> np.ndarray:
    """A seeded random permutation of the allowed rows."""
    allowed = np.flatnonzero(problem.allowed)
    return problem.rng.permutation(allowed)


@register(
    "random",
    summary="Picks rows uniformly at random, without replacement: the baseline to beat.",
    family="baseline",
    paper="Simple random sampling without replacement (e.g. Cochran, Sampling Techniques, 1977).",
    cost_rule="draw",
)
def random_selection(problem: Problem) -> Picks:
    """Uniform random sample without replacement.

    Every prefix of the order is itself a uniform sample, so a smaller budget with the same
    seed is a prefix of a larger one. Under a cost budget the same order is walked, keeping
    each row that still fits, until nothing more fits.

    References
    ----------
    W. G. Cochran, *Sampling Techniques*, 3rd ed., Wiley, 1977.
    """
    order = random_order(problem)[: problem.n_new]
    return Picks(np.concatenate([problem.pinned, order]).astype(np.int64))
