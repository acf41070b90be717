"""The strategy contract: spec, problem, result, and the one registry.

A strategy is a plain function ``func(problem, **params) -> Picks`` registered with
:func:`register` under a kebab-case name, a one-sentence summary a non-expert understands,
its family, the paper it follows, the inputs it needs and one constraint per parameter.
:func:`explorer.select` validates everything at the boundary, builds the :class:`Problem`,
calls the function and checks its picks (budget met, pins first, exclusions absent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..params import Boolean, Interval, Pairs, Param, ParamSet, Text, parameter_error

if TYPE_CHECKING:
    from ..cost import CostModel

#: Inputs a strategy may need beyond the embeddings, and the option that supplies each.
INPUTS = {
    "labels": "a label column (--label-column)",
    "groups": "a group column (--group-column)",
    "scores": "a numeric score column (--score-column)",
    "target": "a target set (--target or --target-query)",
}


@dataclass(frozen=True, eq=False)
class Problem:
    """Everything a strategy function may read. Built by :func:`explorer.select`.

    ``X`` is float32 (N, D); under the cosine metric its rows are L2-normalised so that
    ``1 - X @ X.T`` is the cosine distance and Euclidean geometry on ``X`` is equivalent.
    ``budget`` counts the pinned rows, which come first in every result.
    ``allowed`` is a boolean mask of rows a strategy may add (not excluded, not pinned).
    """

    X: np.ndarray
    metric: str
    budget: int
    rng: np.random.Generator
    pinned: np.ndarray
    excluded: np.ndarray
    allowed: np.ndarray
    labels: np.ndarray | None = None
    groups: np.ndarray | None = None
    scores: np.ndarray | None = None
    target: np.ndarray | None = None
    progress: Callable[[float, str], None] | None = None
    dataset: Any = None
    #: with a cost budget: each row's cost (float64, finite, > 0) and the total the picks,
    #: pinned ones included, may spend; ``budget`` is then the most rows that could fit
    costs: np.ndarray | None = None
    cost_budget: float | None = None

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_new(self) -> int:
        """How many rows the strategy must add to the pinned ones."""
        return self.budget - len(self.pinned)

    def kmeans(self, k: int, seed: int, rows: np.ndarray | None = None):
        """k-means of ``X[rows]`` (all rows when None), kept per dataset, metric, rows, k and
        seed in the caller's cache when there is one (see :func:`explorer.clustering.kmeans_of`)."""
        from ..clustering import kmeans_of

        fingerprint = getattr(self.dataset, "fingerprint", None)
        return kmeans_of(self.X, k, seed, fingerprint, self.metric, rows)

    def report(self, fraction: float, message: str = "") -> None:
        if self.progress is not None:
            self.progress(float(min(max(fraction, 0.0), 1.0)), message)


@dataclass(frozen=True, eq=False)
class Picks:
    """What a strategy function returns: row indices in pick order, pinned rows first.

    ``gains`` (one per index, e.g. the marginal gain or the distance at pick time) and
    ``weights`` (importance weights for weighted training) are optional; ``info`` holds small
    extra results (for example a budget the strategy proposes).
    """

    indices: np.ndarray
    gains: np.ndarray | None = None
    weights: np.ndarray | None = None
    info: dict = field(default_factory=dict)


#: The parameters of an inner strategy: a dict of a text, bool, number or None by name, or
#: the text ``'k=v; k=v'`` (its values kept as text); the inner strategy's own constraints
#: then type and check each value.
INNER_PARAMS = Pairs((Text(), Boolean(), Interval("float"), None), name="parameter",
                     separator=";")


@dataclass(frozen=True)
class Nested:
    """A strategy that runs another: the parameter naming the inner strategy and the one
    holding the inner strategy's parameters (a dict, or text ``'k=v; k=v'``: the
    :data:`INNER_PARAMS` constraint)."""

    strategy: str
    params: str


@dataclass(frozen=True)
class Strategy:
    """A registered strategy. See :func:`register`."""

    name: str
    func: Callable[..., Picks]
    summary: str
    family: str
    paper: str
    params: ParamSet
    needs: tuple[str, ...] = ()
    greedy: bool = False
    exact_budget: bool = True
    randomized: bool = True
    cost_rule: str = "set"
    cost: CostModel | None = None
    sets_size: bool = False
    nested: Nested | None = None

    def inner(self, params: dict) -> tuple[Strategy, dict] | None:
        """For a strategy that runs another: the inner strategy named in ``params`` and its
        parameters, from a dict or their ``'k=v; k=v'`` text, typed by the inner strategy's
        constraints (defaults not filled in); None when this strategy runs no other or
        ``params`` names no registered one."""
        if self.nested is None:
            return None
        spec = REGISTRY.get(params.get(self.nested.strategy))
        if spec is None:
            return None
        given = params.get(self.nested.params) or {}
        if isinstance(given, str):
            given = INNER_PARAMS.parse(given)
        if isinstance(given, str):  # not 'k=v; k=v' text
            raise parameter_error(self.nested.params, self.name, INNER_PARAMS.describe(),
                                  given)
        return spec, spec.params.parse_texts(given)

    def inner_choices(self) -> list[str]:
        """The strategies this one may run inside: every other one that meets its budget."""
        return sorted(n for n, s in REGISTRY.items() if s.exact_budget and n != self.name)

    def missing_inputs(self, available: set[str]) -> list[str]:
        """Human-readable list of inputs this strategy needs that are not available."""
        return [INPUTS[k] for k in self.needs if k not in available]


REGISTRY: dict[str, Strategy] = {}

#: How a strategy meets a cost budget (``select(..., cost_column=C)``); every rule but
#: "knapsack" ends in :func:`keep_what_fits` over the strategy's pick order, in ``select``.
COST_RULES = {
    "knapsack": "its greedy search takes cost-scaled gains and keeps the best single row "
                "when that is worth more (the knapsack guarantee)",
    "ranking": "runs for the most rows that could fit, then keeps its picks in order while "
               "they fit",
    "set": "runs for the count the budget buys at the mean cost, then keeps its picks in "
           "order while they fit",
    "draw": "draws rows in a seeded order until nothing more fits",
    "own-size": "sets its own size; a cost budget is refused",
}
#: Relative slack of the cost check, for float rounding of sums (1e-9 of the budget).
COST_TOLERANCE = 1e-9

FAMILIES = (
    "baseline",
    "coverage",
    "clustering",
    "submodular",
    "deduplication",
    "probabilistic",
    "score-based",
    "targeted",
    "fairness",
)


def register(
    name: str,
    *,
    summary: str,
    family: str,
    paper: str,
    params: tuple[Param, ...] = (),
    needs: tuple[str, ...] = (),
    greedy: bool = False,
    exact_budget: bool = True,
    randomized: bool = True,
    cost_rule: str | None = None,
    cost: CostModel | None = None,
    sets_size: bool = False,
    nested: Nested | None = None,
):
    """Register ``func(problem, **params) -> Picks`` under ``name``.

    ``greedy`` promises that the picks for a smaller budget are a prefix of a larger one's.
    ``exact_budget=False`` lets a strategy return fewer rows than the budget (dedup, or a
    target-driven method that proposes its own budget). ``randomized=False`` means the seed
    only matters for tie-breaking or a start point. ``cost_rule`` (one of
    :data:`COST_RULES`; default "ranking" for greedy strategies, else "set") says how a cost
    budget is met (dedup-like strategies that set their own size: 'own-size').
    ``cost`` is the strategy's :class:`explorer.cost.CostModel` (time and memory from N, D, k
    and the parameters), which :func:`explorer.estimate` reads before a run; every strategy
    needs one (tests/test_registry_conformance.py). ``sets_size`` means the strategy decides
    how many rows it keeps and ignores the budget (deduplication). ``nested`` names the
    parameters of a strategy that runs another (:class:`Nested`).
    """
    cost_rule = cost_rule or ("own-size" if sets_size else "ranking" if greedy else "set")
    if cost_rule not in COST_RULES:
        raise ValueError(f"unknown cost rule {cost_rule!r}; use one of {tuple(COST_RULES)}")
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; use one of {FAMILIES}")
    for need in needs:
        if need not in INPUTS:
            raise ValueError(f"unknown input {need!r}; use one of {tuple(INPUTS)}")

    def decorate(func):
        if name in REGISTRY:
            raise ValueError(f"strategy {name!r} is registered twice")
        REGISTRY[name] = Strategy(
            name=name,
            func=func,
            summary=summary,
            family=family,
            paper=paper,
            params=ParamSet(name, tuple(params)),
            needs=tuple(needs),
            greedy=greedy,
            exact_budget=exact_budget,
            randomized=randomized,
            cost_rule=cost_rule,
            cost=cost,
            sets_size=sets_size,
            nested=nested,
        )
        return func

    return decorate


def fill_from_allowed(problem: Problem, order: np.ndarray) -> np.ndarray:
    """Pinned rows, then rows of ``order`` that are allowed, up to the budget."""
    order = np.asarray(order, dtype=np.int64)
    order = order[problem.allowed[order]]
    return np.concatenate([problem.pinned, order[: problem.n_new]]).astype(np.int64)


def keep_what_fits(order: np.ndarray, costs: np.ndarray, budget: float,
                   spent: float = 0.0) -> np.ndarray:
    """The rows of ``order`` kept, in order, while they fit: a row is kept when its cost
    still fits in what is left of ``budget`` (after ``spent``) and skipped otherwise; the
    walk stops once no row of ``order`` left can fit. The one rule by which every strategy
    but the knapsack greedy meets a cost budget, and by which random subsets are drawn at a
    cost.

    >>> keep_what_fits(np.array([3, 0, 1, 2]), np.array([2.0, 5.0, 1.0, 4.0]), 6.0)
    array([3, 0])
    >>> keep_what_fits(np.array([1, 0, 2]), np.array([2.0, 5.0, 1.0]), 4.0)
    array([0, 2])
    """
    order = np.asarray(order, dtype=np.int64)
    c = np.asarray(costs, dtype=np.float64)[order]
    limit = float(budget) * (1.0 + COST_TOLERANCE)
    keep = np.zeros(len(order), dtype=bool)
    # the leading run that fits as a whole, in one pass; after it only rows no dearer than
    # what is left can ever fit (what is left only shrinks), walked one by one
    cum = np.cumsum(c)
    first = int(np.searchsorted(cum, limit - float(spent), side="right"))
    keep[:first] = True
    spent = float(spent) + (float(cum[first - 1]) if first else 0.0)
    for t in (first + np.flatnonzero(c[first:] <= limit - spent)).tolist():
        if spent + c[t] <= limit:
            keep[t] = True
            spent += c[t]
    return order[keep]


def most_rows_that_fit(costs: np.ndarray, rows: np.ndarray, budget: float) -> int:
    """How many of ``rows`` fit in ``budget`` at most (the cheapest ones first).

    >>> most_rows_that_fit(np.array([3.0, 1.0, 2.0, 9.0]), np.arange(4), 6.5)
    3
    """
    c = np.sort(np.asarray(costs, dtype=np.float64)[np.asarray(rows, dtype=np.int64)])
    return int(np.searchsorted(np.cumsum(c), float(budget) * (1.0 + COST_TOLERANCE),
                               side="right"))
