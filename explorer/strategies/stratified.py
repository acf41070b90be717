"""Stratified random sampling by a label / group column or by k-means clusters."""

from __future__ import annotations

import numpy as np

from ..cost import CostModel, clusters, kmeans_memory, kmeans_seconds
from ..params import Interval, Options, Param
from ._allocation import allocate
from .base import Picks, Problem, register


def strata_of(problem: Problem, by: str, n_clusters: int) -> tuple[np.ndarray, str]:
    """Integer stratum of each row and a word for what the strata are."""
    if by == "auto":
        by = "label" if problem.labels is not None else (
            "group" if problem.groups is not None else "clusters")
    if by in ("label", "group"):
        values = problem.labels if by == "label" else problem.groups
        if values is None:
            from ..errors import ExplorerError

            flag = "--label-column" if by == "label" else "--group-column"
            raise ExplorerError(f"stratified with by={by!r} needs {flag}.")
        _, codes = np.unique(values, return_inverse=True)
        return codes.astype(np.int64), by
    seed = int(problem.rng.integers(2**31))
    return problem.kmeans(n_clusters, seed).labels, "clusters"


def sample_by_quota(problem: Problem, strata: np.ndarray, mode: str) -> np.ndarray:
    """Pinned rows plus random allowed rows per stratum, meeting the budget exactly.

    Pinned rows count against their stratum's quota.
    """
    k = int(strata.max()) + 1
    pinned_per = np.bincount(strata[problem.pinned], minlength=k)
    allowed_per = np.bincount(strata[problem.allowed], minlength=k)
    capacity = pinned_per + allowed_per
    weights = capacity.astype(np.float64) if mode == "proportional" else None
    quota = allocate(capacity, problem.budget, mode, weights=weights, minimum=pinned_per)
    extra = quota - pinned_per
    chosen = []
    for s in np.flatnonzero(extra > 0):
        rows = np.flatnonzero(problem.allowed & (strata == s))
        chosen.append(problem.rng.choice(rows, int(extra[s]), replace=False))
    new = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
    new = problem.rng.permutation(new)
    return np.concatenate([problem.pinned, new]).astype(np.int64)


@register(
    "stratified",
    summary="Random sampling inside each class, group or cluster, so every one gets its share.",
    family="baseline",
    paper="Stratified sampling with proportional or equal allocation (Cochran, Sampling "
    "Techniques, 1977, ch. 5).",
    params=(
        Param("by", Options(("auto", "label", "group", "clusters")), "auto",
              "What defines the strata: the label column, the group column, or k-means clusters "
              "(auto: label, else group, else clusters)."),
        Param("allocation", Options(("proportional", "equal")), "proportional",
              "proportional: each stratum gets its share of the data; equal: the same number "
              "each (leftovers go to the others)."),
        Param("n_clusters", Interval("int", 1, None), 10,
              "Number of k-means clusters when the strata are clusters."),
    ),
    cost=CostModel(
        seconds=lambda s: kmeans_seconds(s, clusters(s)) if s.params["by"] in (
            "auto", "clusters") else s.one_pass,
        memory=lambda s: kmeans_memory(s, clusters(s)),
        advice="Stratify by a label or group column instead of clusters."),
)
def stratified(problem: Problem, by: str, allocation: str, n_clusters: int) -> Picks:
    """Stratified random sample; budget met exactly by largest-remainder rounding.

    References
    ----------
    W. G. Cochran, *Sampling Techniques*, 3rd ed., Wiley, 1977, chapter 5.
    """
    strata, kind = strata_of(problem, by, n_clusters)
    return Picks(sample_by_quota(problem, strata, allocation),
                 info={"strata": kind, "n_strata": int(strata.max()) + 1})
