"""Scorecard speed: 30 random draws at k = 1,000 on N x D SYNTHETIC clustered data.

    python benchmarks/bench_scorecard.py [--n 100000 --dim 384 --k 1000 --draws 30]

Prints the time to build the population side (ScoringContext: PCA when the data is large,
k-means clusters, MMD constants) and to score one subset against R random subsets, the space
the metrics were measured in, this machine's float32 matrix-product speed, what the same
scorecard would cost by brute force in the full space, and the speed of the compiled pairwise
pass over a subset's pairs in units of the product's (explorer.cost.PAIR_PASS_FLOPS).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datagen import synthetic_clustered  # noqa: E402

import explorer  # noqa: E402
from explorer.evaluate.scorecard import ScoringContext  # noqa: E402


def sgemm_gflops() -> float:
    a = np.random.default_rng(0).standard_normal((4000, 384), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((1000, 384), dtype=np.float32)
    a @ b.T
    t = time.perf_counter()
    for _ in range(5):
        a @ b.T
    return 5 * 2 * 4000 * 1000 * 384 / (time.perf_counter() - t) / 1e9


def pair_pass_flops(X: np.ndarray) -> tuple[float, float]:
    """(pairs/s of the scorecard's pairwise pass on PAIRWISE_SAMPLE rows of ``X``, the same
    in units of 1 / FLOP/s as explorer.cost's estimate counts it)."""
    from explorer import cost
    from explorer.evaluate import metrics
    from explorer.evaluate.scorecard import PAIRWISE_SAMPLE

    S = np.ascontiguousarray(X[:PAIRWISE_SAMPLE])
    metrics.pairwise_summary(S, "euclidean", 0.05)  # compiled (or read from the cache) first
    t = time.perf_counter()
    metrics.pairwise_summary(S, "euclidean", 0.05)
    seconds = time.perf_counter() - t
    flops, _ = cost.machine_speed()
    p, dim = len(S), S.shape[1]
    pairs = p * p / 2
    # explorer.cost: seconds = (p * p * dim + pairs * PAIR_PASS_FLOPS) / flops
    return pairs / seconds, max(0.0, seconds * flops - p * p * dim) / pairs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--draws", type=int, default=30)
    a = ap.parse_args()
    X = synthetic_clustered(a.n, a.dim, seed=0)
    data = explorer.Dataset.from_arrays(X)
    sel = explorer.select(data, "k-center", a.k, seed=0)
    gf = sgemm_gflops()
    brute = (a.draws + 1) * 2 * a.n * a.k * a.dim / (gf * 1e9)
    print(f"SYNTHETIC clustered data {a.n:,} x {a.dim}; k = {a.k:,}; {a.draws} random draws")
    print(f"this machine: float32 matrix product {gf:.0f} GFLOP/s; brute force in the full "
          f"space would need ~{brute:.1f} s for the distance passes alone")
    t = time.perf_counter()
    ctx = ScoringContext.build(data, seed=0)
    t_ctx = time.perf_counter() - t
    t = time.perf_counter()
    card = explorer.score(data, sel, random_draws=a.draws, context=ctx)
    t_score = time.perf_counter() - t
    print(f"context (population side) {t_ctx:6.2f} s   [{ctx.space}]")
    print(f"score vs {a.draws} draws    {t_score:6.2f} s")
    print(f"total                     {t_ctx + t_score:6.2f} s  (target: under 10 s at 100k)")
    from explorer.cost import PAIR_PASS_FLOPS

    rate, units = pair_pass_flops(X)
    print(f"pairwise pass             {rate:.3g} pairs/s = {units:.0f} / FLOP/s a pair "
          f"(explorer.cost.PAIR_PASS_FLOPS: {PAIR_PASS_FLOPS:g})")
    for name in ("coverage_max", "coverage_mean", "mmd"):
        m = card.metrics[name]
        print(f"  {name:<14} {m.value:8.4g}  random {m.random_p05:.4g}..{m.random_p95:.4g}  "
              f"{m.verdict}")


if __name__ == "__main__":
    main()
