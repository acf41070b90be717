"""Before a long run: how long and how much memory, and what to do instead.

Each strategy registers its own :class:`CostModel` (time and peak extra memory as functions
of the data size N x D, the budget k and its parameters); this module holds the machine
calibration those models share (this machine's float32 matrix-product speed and read
bandwidth, measured once per process by one small product and one read), the common terms
they are built from, and :func:`estimate`, which the app and the command line call before running to show
advice when a run would take long or not fit in memory. ``tests/test_cost_models.py`` checks
every model against a small measured run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np

from .clustering import MIN_SAMPLE, MINIBATCH_ABOVE, SAMPLE_PER_CLUSTER

#: A run longer than this many seconds gets a warning and the faster variant.
SLOW_SECONDS = 30.0

#: Seconds every run spends outside the model's terms (validation, the problem, the result).
RUN_OVERHEAD = 0.001


@dataclass(frozen=True)
class Size:
    """What a cost model reads: the data's N x D, the budget k, the strategy's parameters
    (defaults filled in) and this machine's speed."""

    n: int
    dim: int
    k: int
    params: dict = field(default_factory=dict)
    flops: float = 1e10
    bandwidth: float = 1e10

    @property
    def matrix(self) -> float:
        """Bytes of the float32 N x D matrix."""
        return 4.0 * self.n * self.dim

    @property
    def one_pass(self) -> float:
        """Seconds to read the matrix once."""
        return self.matrix / self.bandwidth

    def product(self, rows: float, cols: float, dim: float | None = None) -> float:
        """Seconds of a float32 ``rows x dim`` by ``dim x cols`` matrix product."""
        return 2.0 * rows * cols * (self.dim if dim is None else dim) / self.flops


@dataclass(frozen=True)
class CostModel:
    """A strategy's expected cost: ``seconds(size)`` of wall time and ``memory(size)`` bytes
    of peak extra memory; ``bound(size)``, when the cost depends on the data, its worst case;
    ``advice`` names the faster variant shown when a run is heavy."""

    seconds: Callable[[Size], float]
    memory: Callable[[Size], float]
    advice: str = ""
    bound: Callable[[Size], float] | None = None


#: scikit-learn's KMeans (up to :data:`~explorer.clustering.MINIBATCH_ABOVE` rows): Lloyd
#: iterations to convergence (17 and 72 on the cost-model test's 20 blobs at k = 20 and 40),
#: each costing about three N x k products (distances, labels, centre sums in chunks).
SKLEARN_ITERATIONS = 40
SKLEARN_PRODUCTS_PER_ITERATION = 3
#: Our own Lloyd on the sample above that size: at most 25 iterations of one product each.
SAMPLE_ITERATIONS = 25


def kmeans_seconds(s: Size, k: int) -> float:
    """k-means of N rows into ``k`` clusters (scikit-learn's Lloyd on all rows, or ours on a
    sample above :data:`~explorer.clustering.MINIBATCH_ABOVE`) and one assignment pass."""
    if s.n <= MINIBATCH_ABOVE:
        fit = SKLEARN_ITERATIONS * SKLEARN_PRODUCTS_PER_ITERATION * s.product(s.n, k)
        sample = s.n
    else:
        sample = min(s.n, max(MIN_SAMPLE, SAMPLE_PER_CLUSTER * k))
        fit = SAMPLE_ITERATIONS * s.product(sample, k)
    return fit + s.product(s.n, k) + k * sample * s.dim * 4 / s.bandwidth


def kmeans_memory(s: Size, k: int) -> float:
    """Peak extra bytes of :func:`kmeans_seconds`'s run: distances to every centre in blocks,
    labels, and a copy of a part of the matrix."""
    return 8 * s.n * min(k, 256) + 0.1 * s.matrix


def clusters(s: Size, default: int | None = None) -> int:
    """The cluster count a strategy uses: its ``n_clusters`` parameter, else ``default``,
    else the budget."""
    return max(1, int(s.params.get("n_clusters") or default or s.k))


#: k-means of the rows into ``n_clusters`` (else budget) clusters, then a pick per cluster.
KMEANS_COST = CostModel(
    seconds=lambda s: kmeans_seconds(s, clusters(s)),
    memory=lambda s: kmeans_memory(s, clusters(s)),
    advice="Use fewer clusters, or a smaller budget with several picks per cluster.")


def linear(bytes_per_row: float = 16, passes: float = 1.0,
           advice: str = "") -> CostModel:
    """A strategy that reads the matrix ``passes`` times and keeps ``bytes_per_row``."""
    return CostModel(seconds=lambda s: passes * s.one_pass + 1e-7 * s.n,
                     memory=lambda s: bytes_per_row * s.n, advice=advice)


@dataclass(frozen=True)
class Estimate:
    """Expected wall time and peak extra memory of a run, and advice when it is heavy."""

    seconds: float
    memory_bytes: int
    advice: str = ""
    upper_bound: float | None = None  # a strategy whose cost depends on the data: its bound

    @property
    def heavy(self) -> bool:
        from .strategies.facility import available_memory_bytes

        return self.seconds > SLOW_SECONDS or self.memory_bytes > 0.6 * available_memory_bytes()

    def describe(self) -> str:
        t = self.seconds
        when = f"{t:.0f} s" if t < 120 else f"{t / 60:.0f} min" if t < 7200 else \
            f"{t / 3600:.1f} h"
        mem = f"{self.memory_bytes / 2**30:.1f} GiB" if self.memory_bytes >= 2**30 else \
            f"{self.memory_bytes / 2**20:.0f} MiB"
        text = f"about {when}"
        if self.upper_bound is not None:
            b = self.upper_bound
            text += " (at most " + (f"{b:.0f} s" if b < 120 else f"{b / 60:.0f} min" if
                                    b < 7200 else f"{b / 3600:.1f} h") + ")"
        text += f" and {mem} of extra memory"
        return text + (f". {self.advice}" if self.advice else "")


@lru_cache(maxsize=1)
def machine_speed() -> tuple[float, float]:
    """(float32 matrix-product FLOP/s, read bandwidth in bytes/s) of this machine, measured
    once per process in wall time."""
    return calibrate(time.perf_counter)


def calibrate(clock) -> tuple[float, float]:
    """(FLOP/s, bytes/s) measured with ``clock``: ``time.perf_counter`` for wall time, or
    ``time.process_time`` for the CPU time of this process (which other processes' load does
    not inflate; the cost-model test compares CPU time with CPU time)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2000, 384), dtype=np.float32)
    b = rng.standard_normal((500, 384), dtype=np.float32)
    big = np.ones(16 << 20, dtype=np.float32)  # 64 MiB
    flops = 2 * 2000 * 500 * 384 / _fastest(clock, lambda: a @ b.T)
    bandwidth = big.nbytes / _fastest(clock, big.sum)
    return flops, bandwidth


def _fastest(clock, work, repeats: int = 5) -> float:
    """The least of ``repeats`` timings of ``work()`` after a first untimed call: a burst of
    other work on a shared machine only ever slows a timing down."""
    work()
    best = float("inf")
    for _ in range(repeats):
        t = clock()
        work()
        best = min(best, clock() - t)
    return max(best, 1e-6)


def estimate(strategy: str, n: int, dim: int, budget: int, params: dict | None = None,
             speed: tuple[float, float] | None = None) -> Estimate:
    """Expected cost of ``select(data, strategy, budget, params=params)`` on N x D data, from
    the strategy's registered :class:`CostModel` (and its inner strategy's, for a strategy
    that runs another). ``speed`` is (FLOP/s, bytes/s), by default :func:`machine_speed`.

    >>> e = estimate("k-center", 1_000_000, 384, 100_000)
    >>> e.heavy, "smaller budget" in e.advice
    (True, True)
    >>> estimate("random", 1_000_000, 384, 1000).heavy
    False
    """
    from .strategies import get_strategy

    spec = get_strategy(strategy)
    size = size_for(spec, n, dim, budget, params, speed)
    model = spec.cost
    if model is None:  # never silently cheap: a strategy without a model is taken as O(N^2)
        return Estimate(RUN_OVERHEAD + size.product(n, n), int(size.matrix + 8 * n),
                        f"{strategy} registers no cost model; this is a quadratic guess.")
    seconds = RUN_OVERHEAD + float(model.seconds(size))
    memory = float(model.memory(size))
    bound = None if model.bound is None else RUN_OVERHEAD + float(model.bound(size))
    advice = model.advice
    inner = spec.inner(size.params)
    if inner is not None:
        inner_spec, inner_params = inner
        e = estimate(inner_spec.name, n, dim, budget, inner_params, speed)
        seconds += e.seconds
        memory = max(memory, e.memory_bytes)
        bound = None if bound is None or e.upper_bound is None else bound + e.upper_bound
        advice = advice or e.advice
    return Estimate(float(seconds), int(memory), advice, bound)


def size_for(spec, n: int, dim: int, budget, params: dict | None = None,
             speed: tuple[float, float] | None = None) -> Size:
    """The :class:`Size` a cost model of ``spec`` reads: its defaults overlaid by ``params``
    (unknown or malformed values are left to :func:`explorer.select` to refuse)."""
    flops, bw = speed or machine_speed()
    full = {p.name: p.default for p in spec.params.params}
    full.update(params or {})
    return Size(int(n), int(dim), max(1, int(budget or n)), full, flops, bw)


#: Seconds per subset pair of the scorecard's compiled pairwise pass, in units of 1 / FLOP/s:
#: the pass is timed against the matrix product, whose speed :func:`machine_speed` measures
#: on each machine. benchmarks/bench_scorecard.py measures it on this machine.
PAIR_PASS_FLOPS = 2000.0


def _scoring_seconds(n: int, dim: int, size: int, probe: str) -> float:
    """One scorecard of a subset of ``size`` rows (and the probe trained on it)."""
    from .evaluate.scorecard import (COVERAGE_ABOVE, COVERAGE_OUTLIERS, COVERAGE_SAMPLE,
                                     PAIRWISE_SAMPLE)

    flops, _ = machine_speed()
    rows = n if n <= COVERAGE_ABOVE else COVERAGE_SAMPLE + COVERAGE_OUTLIERS
    paired = min(size, PAIRWISE_SAMPLE)
    # pairs inside the subset (or its sample); every coverage row against every subset row
    # (a product and the nearest pick); the MMD's rows against the subset (or its sample)
    seconds = 0.01 + (paired * paired * dim + paired * paired / 2 * PAIR_PASS_FLOPS
                      + 2.0 * rows * size * dim + rows * paired * PAIR_PASS_FLOPS / 2) / flops
    if probe == "logistic":  # lbfgs on the subset: linear in its rows and dimensions
        seconds += 0.01 + 5e-7 * size * dim
    elif probe == "knn":
        seconds += 0.05 + 2.0 * 0.2 * n * size * dim / flops
    return seconds


def estimate_score(n: int, dim: int, size: int, random_draws: int = 30) -> Estimate:
    """Expected cost of one scorecard of ``size`` rows against ``random_draws`` random
    subsets of the same size (:func:`explorer.score`).

    >>> estimate_score(100_000, 384, 90_000).heavy, estimate_score(100_000, 384, 200).heavy
    (True, False)
    """
    seconds = (random_draws + 1) * _scoring_seconds(n, dim, int(size), "none")
    return Estimate(float(seconds), int(16 * n + 8 * size * random_draws),
                    "Fewer random draws are faster; the coverage passes grow with the subset.")


def estimate_sweep(strategies, n: int, dim: int, budgets, *, random_draws: int = 30,
                   probe: str = "none", params: dict | None = None) -> Estimate:
    """Expected cost of comparing ``strategies`` at ``budgets`` against ``random_draws``
    random subsets per budget (:func:`explorer.probe_sweep`, the Compare page): every run (a
    greedy strategy once, at the largest budget) plus every scorecard and probe. The advice
    names the largest part.

    >>> e = estimate_sweep(["k-means", "k-center"], 100_000, 384, [1000, 15000])
    >>> e.heavy, "k-means" in e.advice
    (True, True)
    >>> estimate_sweep(["k-means", "k-center"], 1797, 64, [18, 70, 270]).heavy
    False
    """
    from .strategies import get_strategy

    params = params or {}
    budgets = sorted({int(b) for b in budgets})
    parts: dict[str, float] = {}
    memory = 0
    for name in strategies:
        runs = budgets[-1:] if get_strategy(name).greedy else budgets
        for b in runs:
            e = estimate(name, n, dim, b, params.get(name))
            parts[name] = parts.get(name, 0.0) + e.seconds
            memory = max(memory, e.memory_bytes)
    scoring = sum((random_draws + len(strategies)) * _scoring_seconds(n, dim, b, probe)
                  for b in budgets)
    parts["scoring against random" + (f" (with the {probe} probe)" if probe != "none"
                                      else "")] = scoring
    seconds = sum(parts.values())
    top = max(parts, key=parts.get)
    advice = (f"The largest part is {top} ({parts[top] / max(seconds, 1e-9):.0%}). Fewer or "
              "smaller budgets, fewer strategies or fewer random draws are faster.")
    return Estimate(float(seconds), int(memory), advice)
