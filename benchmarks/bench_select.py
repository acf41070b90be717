"""Selection speed against a plain numpy loop and apricot-select, measured in one run.

    python benchmarks/bench_select.py                 # the issue's sizes
    python benchmarks/bench_select.py --n 20000 --fl-n 3000   # a quick smoke run

1. k-center on N x D SYNTHETIC clustered float32 data (benchmarks/datagen.py), budget B:
   (a) the plain numpy loop: one matrix-vector product per pick to update the nearest
       distances, then an arg-max; (b) explorer.select(..., "k-center"); (c) the whole
   `explorer select` command (start-up, loading the .npy, selecting, writing) as a
   subprocess. Picks are checked to be identical.
2. facility location, dense, on n x D (same generator), choosing b: apricot-select's
   FacilityLocationSelection(optimizer='lazy') against explorer.select(..., "facility-location").
   Picks and objective values are compared.
Peak memory: the process's maximum resident set size after each step (ru_maxrss).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datagen import synthetic_clustered, tiled_real  # noqa: E402

import explorer  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def numpy_kcenter(X: np.ndarray, first: int, budget: int) -> np.ndarray:
    """The baseline: squared distances |x|^2 + |c|^2 - 2 X c by one matrix-vector product per
    pick, running minimum, arg-max."""
    sq = np.einsum("ij,ij->i", X, X)
    picks = [first]
    mind = sq + sq[first] - 2.0 * (X @ X[first])
    for _ in range(budget - 1):
        mind[picks[-1]] = -np.inf
        c = int(np.argmax(mind))
        picks.append(c)
        np.minimum(mind, sq + sq[c] - 2.0 * (X @ X[c]), out=mind)
    return np.array(picks)


def exact_kcenter(X: np.ndarray, first: int, budget: int) -> np.ndarray:
    """The reference for identical picks: the same loop in float64 (no float32 cancellation
    in |x|^2 + |c|^2 - 2 x.c)."""
    return numpy_kcenter(X.astype(np.float64), first, budget)


def bench_kcenter(X: np.ndarray, budget: int, label: str) -> None:
    n, dim = X.shape
    print(f"\n== k-center: {n:,} x {dim} float32, {label}, budget {budget:,} ==")
    data = explorer.Dataset.from_arrays(X)
    explorer.select(data, "k-center", 3)  # compile the kernel once (cached on disk after)
    t = time.perf_counter()
    ours = explorer.select(data, "k-center", budget, seed=0)
    t_lib = time.perf_counter() - t
    t = time.perf_counter()
    base = numpy_kcenter(X, int(ours.indices[0]), budget)
    t_np = time.perf_counter() - t
    same = np.array_equal(base, ours.indices)
    first_diff = int(np.argmax(base != ours.indices)) if not same else -1
    exact = exact_kcenter(X, int(ours.indices[0]), budget)
    same_exact = np.array_equal(exact, ours.indices)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.npy"
        np.save(path, X)
        out = Path(tmp) / "picks.npy"
        cmd = [sys.executable, "-m", "explorer", "select", str(path), "--strategy", "k-center",
               "--budget", str(budget), "--out", str(out), "--seed", "0"]
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        t_cli = time.perf_counter() - t
        cli_same = np.array_equal(np.load(out), ours.indices)
    evals = ours.info["distance_evaluations"]
    print(f"{'':28}{'seconds':>9}{'ms/pick':>9}{'vs numpy loop':>15}")
    print(f"{'numpy loop (baseline)':28}{t_np:9.2f}{1000 * t_np / budget:9.2f}{1.0:14.2f}x")
    print(f"{'explorer.select':28}{t_lib:9.2f}{1000 * t_lib / budget:9.2f}{t_np / t_lib:14.2f}x")
    print(f"{'explorer select (command)':28}{t_cli:9.2f}{1000 * t_cli / budget:9.2f}"
          f"{t_np / t_cli:14.2f}x")
    print(f"distance evaluations: {evals:,} of {n * budget:,} a plain loop does "
          f"({evals / (n * budget):.1%})")
    print(f"picks identical to the float64 loop: {same_exact}; to the float32 numpy loop: "
          f"{same}" + ("" if same else f" (it departs at pick {first_diff}: float32 "
                                       "cancellation in its |x|^2+|c|^2-2xc form)")
          + f"; the command's picks equal the library's: {cli_same}")
    print(f"peak resident memory so far: {peak_mb():,.0f} MB (matrix {X.nbytes / 2**20:,.0f} MB)")


def bench_facility(n: int, dim: int, budget: int) -> None:
    print(f"\n== facility location (dense): {n:,} x {dim}, SYNTHETIC clustered, "
          f"budget {budget:,} ==")
    from apricot import FacilityLocationSelection

    X = synthetic_clustered(n, dim, seed=1)
    data = explorer.Dataset.from_arrays(X)
    explorer.select(explorer.Dataset.from_arrays(X[:50]), "facility-location", 3)  # compile
    t = time.perf_counter()
    ours = explorer.select(data, "facility-location", budget)
    t_ours = time.perf_counter() - t
    mem_ours = peak_mb()
    t = time.perf_counter()
    ap = FacilityLocationSelection(budget, metric="euclidean", optimizer="lazy").fit(
        X.astype(np.float64))
    t_ap = time.perf_counter() - t
    same = np.array_equal(ap.ranking, ours.indices)
    agree = int(np.argmax(ap.ranking != ours.indices)) if not same else budget
    obj_ap = float(np.sum(ap.gains))
    obj_ours = float(ours.info["objective"])
    print(f"{'':28}{'seconds':>9}{'objective':>16}")
    print(f"{'apricot-select lazy':28}{t_ap:9.2f}{obj_ap:16.6g}")
    print(f"{'explorer.select lazy':28}{t_ours:9.2f}{obj_ours:16.6g}")
    print(f"speed-up {t_ap / t_ours:.2f}x; objective ratio {obj_ours / obj_ap:.6f}; identical "
          f"picks: {same} (rankings agree on the first {agree} picks)")
    print(f"peak resident memory after ours: {mem_ours:,.0f} MB; after apricot: {peak_mb():,.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--budget", type=int, default=2000)
    ap.add_argument("--fl-n", type=int, default=10_000)
    ap.add_argument("--fl-budget", type=int, default=1000)
    ap.add_argument("--skip-facility", action="store_true")
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; numpy {np.__version__}")
    bench_kcenter(synthetic_clustered(a.n, a.dim, seed=0), a.budget,
                  "SYNTHETIC clustered data (benchmarks/datagen.py)")
    if a.dim == 384:
        bench_kcenter(tiled_real(a.n), a.budget, "REAL pydocs MiniLM vectors tiled with noise")
    if not a.skip_facility:
        bench_facility(a.fl_n, a.dim, a.fl_budget)


if __name__ == "__main__":
    main()
