"""Quality-diversity: a per-row quality score traded against coverage of the space."""

from __future__ import annotations

import numpy as np

from ..params import Boolean, Interval, Param
from .kcenter import kcenter_add
from .base import Picks, Problem, register
from .kcenter import TRAVERSAL_COST


def rank_scale(values: np.ndarray) -> np.ndarray:
    """Scores mapped to [0, 1] by rank (ties share their mean rank), so that the trade-off
    weight means the same whatever the score's units.

    >>> rank_scale(np.array([3.0, 10.0, 3.0, -1.0])).tolist()
    [0.5, 1.0, 0.5, 0.0]
    """
    from scipy.stats import rankdata

    n = len(values)
    if n < 2:
        return np.ones(n)
    return (rankdata(values, method="average") - 1.0) / (n - 1.0)


@register(
    "quality-diversity",
    summary="Trades a quality score against spreading the picks out: weight 1 keeps the "
    "best-scored rows, weight 0 spreads picks like k-center.",
    family="score-based",
    paper="Liu et al., QuaDMix: Quality-Diversity Balanced Data Selection for Efficient LLM "
    "Pretraining, 2025; Zhang et al., Harnessing Diversity for Important Data Selection in "
    "Pretraining Large Language Models, ICLR 2025.",
    params=(
        Param("weight", Interval("float", 0, 1), 0.5,
              "Lambda: the weight of quality (1) against coverage (0)."),
        Param("higher_is_better", Boolean(), True,
              "Whether a higher score means higher quality."),
    ),
    needs=("scores",),
    greedy=True,
    randomized=False,
    cost=TRAVERSAL_COST,
)
def quality_diversity(problem: Problem, weight: float, higher_is_better: bool) -> Picks:
    """Greedy quality-diversity trade-off.

    Each step picks the allowed row maximising ``weight * q + (1 - weight) * d / d_max``,
    where q is the row's score scaled to [0, 1] by rank and d its distance to the nearest
    picked row (d_max the largest such distance among candidates, so both terms are in
    [0, 1]); ties: lowest index. The first pick (no pinned rows) is the best-scored row.
    weight = 1 is top-score; weight = 0 is k-center from the best-scored row. The distances
    are maintained by the k-center kernel (one streaming pass per pick). ``gains`` holds the
    objective at pick time. The app draws the Pareto front of mean score against coverage
    over the weight (:func:`explorer.evaluate.compare.quality_coverage_front`).

    QuaDMix mixes quality and diversity labels into one sampling function, and Quad balances
    influence scores against cluster diversity; this is the same trade-off in its simplest
    greedy form, on a user-given score and embedding-space coverage.

    References
    ----------
    F. Liu et al., "QuaDMix: Quality-Diversity Balanced Data Selection for Efficient LLM
    Pretraining", arXiv:2504.16511, 2025.
    C. Zhang et al., "Harnessing Diversity for Important Data Selection in Pretraining Large
    Language Models", ICLR 2025.

    Examples
    --------
    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> sel = explorer.select(data, "quality-diversity", 5, score_column="difficulty",
    ...                       params={"weight": 1.0})
    >>> top = explorer.select(data, "top-score", 5, score_column="difficulty")
    >>> sorted(sel.indices) == sorted(top.indices)
    True
    """
    X = np.ascontiguousarray(problem.X, dtype=np.float32) if not (
        problem.X.dtype == np.float32 and problem.X.flags.c_contiguous) else problem.X
    q = rank_scale(problem.scores if higher_is_better else -problem.scores)
    n = problem.n
    total = problem.budget
    mind = np.full(n, np.inf)
    assign = np.full(n, -1, dtype=np.int64)
    centers = np.empty(total, dtype=np.int64)
    cc = np.empty(total, dtype=np.float64)
    scratch = np.zeros(n, dtype=bool)  # the kernel's own candidate mask (its arg-max unused)
    candidate = problem.allowed.copy()
    k = 0
    for p in problem.pinned:
        kcenter_add(X, int(p), centers, k, mind, assign, scratch, cc)
        k += 1
    picks, gains = [], []
    step = max(1, problem.n_new // 50)
    for t in range(problem.n_new):
        if k == 0:
            spread = np.ones(n)
        else:
            dmax = float(mind[candidate].max())
            spread = mind / dmax if dmax > 0 else np.zeros(n)
        objective = np.where(candidate, weight * q + (1.0 - weight) * spread, -np.inf)
        j = int(np.argmax(objective))
        picks.append(j)
        gains.append(float(objective[j]))
        candidate[j] = False
        kcenter_add(X, j, centers, k, mind, assign, scratch, cc)
        k += 1
        if t % step == 0:
            problem.report(t / problem.n_new, "quality-diversity: picking")
    idx = np.concatenate([problem.pinned, np.asarray(picks, dtype=np.int64)]).astype(np.int64)
    g = np.concatenate([np.full(len(problem.pinned), np.nan), gains])
    return Picks(idx, gains=g)
