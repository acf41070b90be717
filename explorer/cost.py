"""Before a long run: how long and how much memory, and what to do instead.

Rough cost models per strategy from the data size, calibrated once per process by measuring
this machine's float32 matrix-product speed and read bandwidth (a few hundred ms). The app
and the command line call :func:`estimate` before running and show its advice when a run
would take long or not fit in memory. Estimates are upper bounds in spirit (k-center's
triangle-inequality skips, for example, often make it several times faster than its bound).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .clustering import MIN_SAMPLE, MINIBATCH_ABOVE, SAMPLE_PER_CLUSTER

#: A run longer than this many seconds gets a warning and the faster variant.
SLOW_SECONDS = 30.0


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
    """(float32 matrix-product FLOP/s, read bandwidth in bytes/s) of this machine, measured."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2000, 384), dtype=np.float32)
    b = rng.standard_normal((500, 384), dtype=np.float32)
    a @ b.T
    t = time.perf_counter()
    for _ in range(3):
        a @ b.T
    flops = 3 * 2 * 2000 * 500 * 384 / max(time.perf_counter() - t, 1e-6)
    big = np.ones(16 << 20, dtype=np.float32)  # 64 MiB
    big.sum()
    t = time.perf_counter()
    for _ in range(3):
        big.sum()
    bandwidth = 3 * big.nbytes / max(time.perf_counter() - t, 1e-6)
    return flops, bandwidth


def estimate(strategy: str, n: int, dim: int, budget: int, params: dict | None = None
             ) -> Estimate:
    """Expected cost of ``select(data, strategy, budget, params=params)`` on N x D data.

    >>> e = estimate("k-center", 1_000_000, 384, 100_000)
    >>> e.heavy, "smaller budget" in e.advice
    (True, True)
    >>> estimate("random", 1_000_000, 384, 1000).heavy
    False
    """
    flops, bw = machine_speed()
    params = params or {}
    matrix = 4.0 * n * dim
    budget = max(1, int(budget or n))
    advice = ""
    bound = None
    if strategy in ("k-center", "max-min", "quality-diversity"):
        # one pass over the matrix per pick at most; the triangle-inequality skips cut the
        # distance work to 5-30 % on clustered data (benchmarks/bench_select.py), so the
        # typical cost is taken as a quarter of the bound
        bound = budget * matrix / bw
        seconds = 0.25 * bound
        memory = 24 * n
        advice = ("Choose a smaller budget, run k-center on a random sample first (pin its "
                  "result), or use k-means, whose cost does not grow with the budget.")
    elif strategy == "facility-location":
        from .strategies.facility import choose_kernel, dense_bytes

        kernel = params.get("kernel", "auto")
        try:
            kernel = choose_kernel(n, kernel)
        except Exception:
            kernel = "dense"
        if kernel == "dense":
            seconds = 2.0 * n * n * dim / flops + budget * n * n * 0.05 / bw * 4
            memory = dense_bytes(n) + 24 * n
            advice = "Use kernel=sparse (each row's nearest neighbours only)."
        else:
            k = int(params.get("neighbors", 64))
            # exact kNN graph up to 10,000 rows; above, the inverted file compares ~3 % of
            # pairs (measured: 100,000 x 384 in 9-15 s on 2 cores, bench_facility.py)
            seconds = (2.0 * n * n * dim / flops if n <= 10_000
                       else 0.3 * n * n * dim / flops) + 1e-4 * budget
            memory = 12 * n * k + 4 * n * dim
            advice = "Lower 'neighbors', or select from a sample."
    elif strategy in ("k-means", "k-means-kmq", "cluster-complexity", "sensitivity",
                      "stratified", "semdedup", "group-quota"):
        k = int(params.get("n_clusters") or (budget if strategy == "k-means" else 50))
        sample = n if n <= MINIBATCH_ABOVE else min(n, max(MIN_SAMPLE, SAMPLE_PER_CLUSTER * k))
        seconds = (25 * 2.0 * sample * k * dim + 2.0 * n * k * dim) / flops + \
            k * sample * dim * 4 / bw
        memory = 8 * n * min(k, 256) + matrix * 0.1
        if strategy == "semdedup":
            per = n / max(k, 1)
            seconds += 2.0 * n * per * dim / flops
            memory += 4 * min(per, 4096) * per
        advice = "Use fewer clusters, or a smaller budget with several picks per cluster."
    elif strategy in ("dpp", "dpp-map", "herding"):
        m = int(params.get("n_features", 1024))
        if strategy == "dpp" and n <= 4000:
            seconds = 10.0 * n ** 3 / flops
            memory = 16 * n * n
        else:
            seconds = (2.0 * n * dim * m + 2.0 * budget * n * m) / flops
            memory = 4 * n * m
        advice = "Use fewer random features (n_features) or a smaller budget."
    elif strategy in ("vote-k", "dedup"):
        seconds = 2.0 * n * min(n, 30_000) * dim / flops + budget * n * 8 / bw
        memory = 16 * n * 16
        advice = "Select from a sample, or deduplicate with a smaller threshold first."
    else:
        seconds = matrix / bw + 1e-6 * n
        memory = 16 * n
    return Estimate(float(seconds), int(memory), advice, bound)


#: Seconds per subset pair of the scorecard's compiled pairwise pass, in units of 1 / FLOP/s
#: (measured: 1.3e8 pairs/s on 2 cores doing 2.5e11 FLOP/s in a float32 product).
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
    if probe == "logistic":  # lbfgs on the subset (measured: 15,000 x 384 in 3 s)
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
