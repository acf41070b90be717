"""Share a budget among strata (classes, groups, clusters) so that it is met exactly."""

from __future__ import annotations

import numpy as np

from ..errors import ExplorerError


def allocate(
    capacity: np.ndarray,
    total: int,
    mode: str = "proportional",
    weights: np.ndarray | None = None,
    minimum: np.ndarray | None = None,
) -> np.ndarray:
    """Integer quotas per stratum summing to ``total``, each within [minimum, capacity].

    ``mode`` is 'proportional' (to ``weights``, default the capacities) or 'equal'.
    Fractions are rounded by largest remainder (ties: lower stratum first); a stratum that
    cannot take its share hands the rest to the others, so the budget is met exactly.

    Examples
    --------
    >>> allocate(np.array([50, 30, 20]), 10).tolist()
    [5, 3, 2]
    >>> allocate(np.array([50, 2, 20]), 9, mode="equal").tolist()
    [4, 2, 3]
    """
    capacity = np.asarray(capacity, dtype=np.int64)
    if total > capacity.sum():
        raise ExplorerError(f"budget {total} exceeds the {int(capacity.sum())} rows available.")
    if mode not in ("proportional", "equal"):
        raise ValueError(f"unknown allocation mode {mode!r}")
    quota = np.zeros(len(capacity), dtype=np.int64)
    if minimum is not None:
        quota = np.minimum(np.asarray(minimum, dtype=np.int64), capacity)
        if quota.sum() > total:
            raise ExplorerError(
                f"The per-stratum minimums add up to {int(quota.sum())}, more than the budget "
                f"{total}."
            )
    if weights is None:
        weights = capacity.astype(np.float64) if mode == "proportional" else np.ones(len(capacity))
    weights = np.asarray(weights, dtype=np.float64)
    if mode == "equal":
        weights = (capacity > 0).astype(np.float64)
    while quota.sum() < total:
        room = capacity - quota
        open_ = room > 0
        w = np.where(open_, weights, 0.0)
        if w.sum() <= 0:
            w = open_.astype(np.float64)
        left = int(total - quota.sum())
        ideal = w / w.sum() * left
        capped = open_ & (ideal >= room)
        if capped.any():
            # water-filling: strata that cannot take their share are filled, the rest re-shared
            quota[capped] = capacity[capped]
            continue
        # no stratum is capped: largest remainder on this round's shares, once
        base = np.floor(ideal).astype(np.int64)
        rem = np.where(open_, ideal - base, -1.0)
        order = np.lexsort((np.arange(len(rem)), -rem))[: left - int(base.sum())]
        base[order] += 1
        quota += base
    return quota
