"""Group-aware selection: per-group quotas around any other strategy."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..cost import CostModel
from ..errors import ExplorerError
from ..params import Interval, Options, Pairs, Param, Text
from ._allocation import allocate
from .base import INNER_PARAMS, REGISTRY, Nested, Picks, Problem, register


#: Exact picks per group: a dict {group: count}, or the text 'a=10, b=5' (``--param``); a
#: group name may hold '=', a count never does.
QUOTAS = Pairs((Interval("int", 0, None),), name="group", separator=",", split_last=True)


def learning_curve_slopes(X, labels, rows_by_group, quota0, seed: int, pilot: int = 300):
    """Per group, a power-law learning curve err(n) = a * n^-b fitted to the held-out error
    of a logistic-regression probe trained on nested pilot subsets of that group (sizes
    pilot/4, pilot/2, pilot). Returns (a, b) per group; groups whose labels are constant or
    too small get a flat curve (a = 0)."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    curves = []
    for rows in rows_by_group:
        y = labels[rows]
        if len(rows) < 12 or len(np.unique(y)) < 2:
            curves.append((0.0, 0.0))
            continue
        perm = rng.permutation(rows)
        m = int(min(pilot, len(rows) * 2 // 3))
        train, test = perm[:m], perm[m:][:500]
        sizes, errors = [], []
        for s in sorted({max(4, m // 4), max(6, m // 2), m}):
            tr = train[:s]
            if len(np.unique(labels[tr])) < 2:
                continue
            clf = LogisticRegression(max_iter=300).fit(np.asarray(X[tr]), labels[tr])
            err = 1.0 - float((clf.predict(np.asarray(X[test])) == labels[test]).mean())
            sizes.append(s)
            errors.append(max(err, 1e-3))
        if len(sizes) < 2:
            curves.append((0.0, 0.0))
            continue
        slope, intercept = np.polyfit(np.log(sizes), np.log(errors), 1)
        b = max(0.0, -float(slope))
        curves.append((float(np.exp(intercept)), b))
    return curves


def equitable_quotas(curves, capacity, total, minimum):
    """Give budget units, one chunk at a time, to the group whose fitted error falls most."""
    quota = np.minimum(minimum, capacity).astype(np.int64)
    if quota.sum() > total:
        raise ExplorerError(f"The per-group minimums add up to {int(quota.sum())}, more than "
                            f"the budget {total}: raise the budget or lower the 'minimum' "
                            "parameter (--param minimum=0).")
    chunk = max(1, (total - int(quota.sum())) // 200)
    while quota.sum() < total:
        step = min(chunk, total - int(quota.sum()))
        gain = np.full(len(quota), -np.inf)
        for g, (a, b) in enumerate(curves):
            if quota[g] + step <= capacity[g]:
                n0, n1 = max(quota[g], 1), max(quota[g] + step, 1)
                gain[g] = a * (n0 ** -b - n1 ** -b)
        if not np.isfinite(gain).any():
            step = 1
            for g in range(len(quota)):
                gain[g] = 0.0 if quota[g] < capacity[g] else -np.inf
        g = int(np.argmax(gain))  # ties: the first group
        quota[g] += step
    return quota


@register(
    "group-quota",
    summary="Runs another strategy inside each group with a set number of picks per group "
    "(proportional, equal, your own quotas, or more for groups that learn faster).",
    family="fairness",
    paper="Boehmer, Celis, Huang, Mehrotra & Vishnoi, Subset Selection Based On Multiple "
    "Rankings in the Presence of Bias: Effectiveness of Fairness Constraints for Multiwinner "
    "Voting Score Functions, ICML 2023; Cai et al., Adaptive Sampling Strategies to Construct "
    "Equitable Training Datasets, FAccT 2022 (equitable).",
    params=(
        Param("inner", Text(), "random",
              "The strategy run inside each group (any strategy that meets its budget)."),
        Param("allocation", Options(("proportional", "equal", "equitable")), "proportional",
              "How the budget is shared: by group size, equally, or (with a label column) "
              "more to groups whose learning curve is steeper."),
        Param("minimum", Interval("int", 0, None), 1,
              "Picks every group gets at least (when the group has that many rows)."),
        Param("quotas", QUOTAS, None,
              "Exact picks per group, e.g. 'a=10, b=5' (groups not named share the rest).",
              optional=True),
        Param("inner_params", INNER_PARAMS, None,
              "Parameters of the inner strategy, e.g. 'pick=nearest; n_clusters=5'.",
              optional=True),
    ),
    needs=("groups",),
    nested=Nested(strategy="inner", params="inner_params"),
    cost=CostModel(  # its inner strategy's model is added to this
        seconds=lambda s: s.one_pass, memory=lambda s: 48 * s.n),
)
def group_quota(problem: Problem, inner: str, allocation: str, minimum: int,
                quotas: dict | None, inner_params: dict | None) -> Picks:
    """Per-group quotas around any strategy.

    Quotas are met exactly: named ``quotas`` first, the rest of the budget shared by
    ``allocation`` with at least ``minimum`` per group (capped at the group's rows), by
    largest-remainder rounding; pinned rows count toward their group's quota. The ``inner``
    strategy then runs once per group, restricted to that group's rows, with its own
    seeded generator.

    Group constraints on a selection are what Boehmer et al. show can recover quality
    when the ranking (here: the inner strategy's preference) is biased against a group.
    'equitable' follows the idea of Cai et al.: estimate each group's learning curve with a
    small logistic-regression pilot (needs a label column; a power law fitted to the pilot's
    held-out error) and spend the budget where the fitted error falls fastest.

    References
    ----------
    N. Boehmer, L. E. Celis, L. Huang, A. Mehrotra and N. K. Vishnoi, "Subset Selection Based
    On Multiple Rankings in the Presence of Bias: Effectiveness of Fairness Constraints for
    Multiwinner Voting Score Functions", ICML 2023.
    W. Cai, R. Encarnacion, B. Chern, S. Corbett-Davies, M. Bogen, S. Bergman and S. Goel,
    "Adaptive Sampling Strategies to Construct Equitable Training Datasets", FAccT 2022.
    """
    this = REGISTRY["group-quota"]
    usable = this.inner_choices()
    if inner not in usable:
        raise ExplorerError(f"group-quota: inner strategy {inner!r} cannot run per group; use "
                            f"one of {', '.join(usable)}.")
    spec, inner_parsed = this.inner({"inner": inner, "inner_params": inner_params})
    inner_resolved = spec.params.resolve(inner_parsed)
    needs = {"labels": problem.labels, "scores": problem.scores, "target": problem.target,
             "groups": problem.groups}
    lacking = [k for k in spec.needs if needs[k] is None]
    if lacking:
        raise ExplorerError(f"group-quota: inner strategy {inner!r} needs {', '.join(lacking)}.")
    names, codes = np.unique(problem.groups, return_inverse=True)
    G = len(names)
    pin_count = np.bincount(codes[problem.pinned], minlength=G)
    capacity = np.bincount(codes[problem.allowed], minlength=G) + pin_count
    known = set(names.tolist())
    quota = np.zeros(G, dtype=np.int64)
    named = np.zeros(G, dtype=bool)
    for name, count in (quotas or {}).items():
        if name not in known:
            raise ExplorerError(f"quotas: {name!r} is not a group; the groups are "
                                f"{', '.join(map(str, names[:12]))}.")
        g = int(np.flatnonzero(names == name)[0])
        if count > capacity[g]:
            raise ExplorerError(f"quotas: group {name!r} has only {int(capacity[g])} rows "
                                f"available, fewer than its quota {count}.")
        if count < pin_count[g]:
            raise ExplorerError(f"quotas: group {name!r} has {int(pin_count[g])} pinned rows, "
                                f"more than its quota {count}.")
        quota[g] = count
        named[g] = True
    rest = problem.budget - int(quota.sum())
    if rest < 0 or (rest > 0 and named.all()):
        raise ExplorerError(f"quotas add up to {int(quota.sum())} but the budget is "
                            f"{problem.budget}; make them match or leave a group unnamed.")
    free = ~named
    if rest > 0 or free.any():
        cap_free = capacity[free]
        min_free = np.maximum(np.minimum(minimum, cap_free), pin_count[free])
        if allocation == "equitable":
            if problem.labels is None:
                raise ExplorerError("group-quota: allocation 'equitable' needs a label column "
                                    "(--label-column) to estimate each group's learning curve.")
            rows_by_group = [np.flatnonzero((codes == g) & (problem.allowed | _pin_mask(problem)))
                             for g in np.flatnonzero(free)]
            curves = learning_curve_slopes(problem.X, problem.labels, rows_by_group, min_free,
                                           seed=int(problem.rng.integers(2**31)))
            quota[free] = equitable_quotas(curves, cap_free, rest, min_free)
        else:
            if int(min_free.sum()) > rest:
                raise ExplorerError(
                    f"group-quota: {int(free.sum())} groups with at least {minimum} pick(s) "
                    f"each need {int(min_free.sum())} rows, more than the budget {rest}: raise "
                    "the budget or lower the 'minimum' parameter (--param minimum=0).")
            quota[free] = allocate(cap_free, rest, allocation, minimum=min_free)
    chosen = [problem.pinned]
    seeds = np.random.SeedSequence(int(problem.rng.integers(2**63))).spawn(G)
    for g in range(G):
        if quota[g] == 0:
            continue
        in_group = codes == g
        pins_g = problem.pinned[in_group[problem.pinned]]
        if quota[g] == len(pins_g):
            continue
        sub = replace(problem, budget=int(quota[g]), pinned=pins_g,
                      allowed=problem.allowed & in_group, rng=np.random.default_rng(seeds[g]),
                      progress=None)
        picks = spec.func(sub, **inner_resolved)
        idx = np.asarray(picks.indices, dtype=np.int64)[len(pins_g):]
        if len(idx) != quota[g] - len(pins_g) or not in_group[idx].all():
            raise AssertionError(f"inner strategy {inner!r} broke its quota in group {g}")
        chosen.append(idx)
        problem.report((g + 1) / G, f"group {names[g]}")
    out = np.concatenate(chosen).astype(np.int64)
    return Picks(out, info={"quotas": {str(names[g]): int(quota[g]) for g in range(G)}})


def _pin_mask(problem: Problem) -> np.ndarray:
    m = np.zeros(problem.n, dtype=bool)
    m[problem.pinned] = True
    return m
