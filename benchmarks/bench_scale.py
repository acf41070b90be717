"""One million vectors on this machine: k-center against the memory-bandwidth bound, k-means,
the scorecard and (optionally) the UMAP layout, each in its own process so peak memory is
measured per step.

    python benchmarks/bench_scale.py                      # 1,000,000 x 384, budget 1,000
    python benchmarks/bench_scale.py --n 200000 --umap    # smaller, with the UMAP layout

The data is SYNTHETIC clustered float32 (benchmarks/datagen.py), written once to a .npy and
memory-mapped by every step, as a user's file would be.

Printed per step: wall time, peak resident memory (ru_maxrss of the step's process) and its
ratio to the matrix size. For k-center also: the machine's read bandwidth measured in the same
run (a parallel pass summing the matrix, the work one pick must at least do), the time of one
such pass, the bound for the budget (budget x one pass) and our ratio to it; and the identity
of picks against the plain float64 loop on a 50,000-row copy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- steps, each run in a fresh process: python bench_scale.py --step NAME --data FILE ----

def step_bandwidth(X: np.ndarray, args) -> dict:
    from numba import njit, prange

    @njit(parallel=True, cache=False)
    def row_pass(X, out):  # read every element once, as one k-center pick must
        for i in prange(X.shape[0]):
            s = np.float32(0.0)
            for j in range(X.shape[1]):
                s += X[i, j]
            out[i] = s

    out = np.empty(X.shape[0], dtype=np.float32)
    row_pass(X[:1000], out[:1000])
    row_pass(X, out)  # page the file in
    times = []
    for _ in range(5):
        t = time.perf_counter()
        row_pass(X, out)
        times.append(time.perf_counter() - t)
    best = min(times)
    return {"pass_s": best, "gb_per_s": X.nbytes / best / 1e9}


def step_kcenter(X: np.ndarray, args) -> dict:
    import explorer

    data = explorer.Dataset.from_arrays(X)
    t = time.perf_counter()
    sel = explorer.select(data, "k-center", args.budget, seed=0)
    secs = time.perf_counter() - t
    return {"seconds": secs, "first": int(sel.indices[0]),
            "picks_head": sel.indices[:5].tolist()}


def step_kcenter_identity(X: np.ndarray, args) -> dict:
    import explorer

    m = min(len(X), 50_000)
    Xs = np.ascontiguousarray(X[:m])
    data = explorer.Dataset.from_arrays(Xs)
    sel = explorer.select(data, "k-center", args.budget, seed=0)
    X64 = Xs.astype(np.float64)
    sq = np.einsum("ij,ij->i", X64, X64)
    picks = [int(sel.indices[0])]
    mind = sq + sq[picks[0]] - 2.0 * (X64 @ X64[picks[0]])
    for _ in range(args.budget - 1):
        mind[picks[-1]] = -np.inf
        c = int(np.argmax(mind))
        picks.append(c)
        np.minimum(mind, sq + sq[c] - 2.0 * (X64 @ X64[c]), out=mind)
    same = [int(a) == int(b) for a, b in zip(sel.indices, picks)]
    first_diff = same.index(False) if not all(same) else None
    return {"rows": m, "identical": all(same), "first_difference": first_diff}


def step_kmeans(X: np.ndarray, args) -> dict:
    from explorer.clustering import kmeans

    t = time.perf_counter()
    cl = kmeans(X, args.clusters, seed=0)
    secs = time.perf_counter() - t
    sizes = np.bincount(cl.labels, minlength=cl.k)
    return {"seconds": secs, "k": int(cl.k), "empty_clusters": int((sizes == 0).sum())}


def step_kmeans_strategy(X: np.ndarray, args) -> dict:
    import explorer

    data = explorer.Dataset.from_arrays(X)
    t = time.perf_counter()
    explorer.select(data, "k-means", args.budget, seed=0)
    return {"seconds": time.perf_counter() - t}


def step_scorecard(X: np.ndarray, args) -> dict:
    import explorer

    data = explorer.Dataset.from_arrays(X)
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(len(X), args.budget, replace=False))
    t = time.perf_counter()
    card = explorer.score(data, idx, random_draws=30, seed=0)
    return {"seconds": time.perf_counter() - t, "space": card.space}


def step_umap(X: np.ndarray, args) -> dict:
    from explorer import projection
    import explorer

    data = explorer.Dataset.from_arrays(X)
    t = time.perf_counter()
    xy = projection.layout(data, "umap", n_neighbors=15, min_dist=0.1, metric="euclidean")
    secs = time.perf_counter() - t
    t = time.perf_counter()
    projection.layout(data, "umap", n_neighbors=15, min_dist=0.1, metric="euclidean")
    return {"seconds": secs, "cached_seconds": time.perf_counter() - t,
            "finite": bool(np.isfinite(xy).all())}


STEPS = {"bandwidth": step_bandwidth, "kcenter": step_kcenter,
         "kcenter_identity": step_kcenter_identity, "kmeans": step_kmeans,
         "kmeans_strategy": step_kmeans_strategy, "scorecard": step_scorecard,
         "umap": step_umap}


def run_step(name: str, path: Path, args) -> dict:
    cmd = [sys.executable, __file__, "--step", name, "--data", str(path), "--budget",
           str(args.budget), "--clusters", str(args.clusters)]
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr else "failed",
                "wall": time.perf_counter() - t}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--budget", type=int, default=1000)
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--umap", action="store_true", help="also lay out the map (minutes)")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.step:  # inside a step's own process
        X = np.load(args.data, mmap_mode="r")
        out = STEPS[args.step](X, args)
        out["peak_mb"] = peak_mb()
        print(json.dumps(out))
        return

    from datagen import synthetic_clustered

    tmp = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    path = tmp / "synthetic.npy"
    t = time.perf_counter()
    X = synthetic_clustered(args.n, args.dim, seed=0)
    np.save(path, X)
    matrix_mb = X.nbytes / 2**20
    del X
    print(f"SYNTHETIC clustered data {args.n:,} x {args.dim} float32 = {matrix_mb:,.0f} MiB, "
          f"written in {time.perf_counter() - t:.1f} s to {path} (memory-mapped by each step)")
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")

    bw = run_step("bandwidth", path, args)
    print(f"\nread bandwidth: {bw['gb_per_s']:.1f} GB/s; one pass over the matrix "
          f"{bw['pass_s'] * 1000:.0f} ms")
    kc = run_step("kcenter", path, args)
    if "error" in kc:
        print(f"k-center: FAILED {kc['error']}")
    else:
        bound = args.budget * bw["pass_s"]
        print(f"k-center, budget {args.budget:,}: {kc['seconds']:.1f} s "
              f"({kc['seconds'] / args.budget * 1000:.0f} ms per pick); bandwidth bound "
              f"{bound:.1f} s (budget x one pass) -> ratio {kc['seconds'] / bound:.2f} "
              f"(target <= 2); peak {kc['peak_mb']:,.0f} MiB = "
              f"{kc['peak_mb'] / matrix_mb:.2f} x the matrix (target < 1.3)")
    ident = run_step("kcenter_identity", path, args)
    print(f"k-center picks vs the plain float64 loop on the first {ident.get('rows', 0):,} "
          f"rows: {'identical' if ident.get('identical') else 'DIFFER at pick ' + str(ident.get('first_difference'))}")
    km = run_step("kmeans", path, args)
    print(f"k-means, {args.clusters:,} clusters: "
          + (f"{km['seconds']:.1f} s, {km['empty_clusters']} empty; peak "
             f"{km['peak_mb']:,.0f} MiB" if "error" not in km else f"FAILED {km['error']}")
          + " (target: well under 60 s)")
    ks = run_step("kmeans_strategy", path, args)
    print(f"k-means strategy, budget {args.budget:,}: "
          + (f"{ks['seconds']:.1f} s; peak {ks['peak_mb']:,.0f} MiB" if "error" not in ks
             else f"FAILED {ks['error']}"))
    sc = run_step("scorecard", path, args)
    print(f"scorecard, k = {args.budget:,}, 30 random draws: "
          + (f"{sc['seconds']:.1f} s [{sc['space']}]; peak {sc['peak_mb']:,.0f} MiB"
             if "error" not in sc else f"FAILED {sc['error']}") + " (target < 60 s)")
    if args.umap:
        um = run_step("umap", path, args)
        print("UMAP layout: " + (f"{um['seconds']:.0f} s (again from the disk cache: "
                                  f"{um['cached_seconds']:.2f} s); peak {um['peak_mb']:,.0f} MiB"
                                  if "error" not in um else f"FAILED {um['error']}")
              + " (target < 600 s at 1M)")
    path.unlink()


if __name__ == "__main__":
    main()
