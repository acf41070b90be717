"""Facility location at scale: our dense and sparse kernels against apricot-select.

    python benchmarks/bench_facility.py                       # 10k (dense) and 100k (sparse)
    python benchmarks/bench_facility.py --n-dense 3000 --n-sparse 20000 --budget 200  # smoke
    python benchmarks/bench_facility.py --n-dense 0 --data synthetic --exact-graph  # IVF cost

Data (benchmarks/datagen.py), both 384-D float32: SYNTHETIC clustered Gaussian blobs, and the
REAL pydocs MiniLM embeddings tiled with noise ("tiled real").

Every measured run is its own child process (the data read from one .npy), so its time and
peak memory are its own: wall seconds, CPU seconds (all threads) and the child's peak resident
memory (ru_maxrss) above what it held before the run. Each child first makes a tiny warm-up
run, so numba compilation is not timed -- except apricot's, which builds and compiles its gain
kernel anew inside every fit (that cost is part of its time, as a user sees it).

* N = --n-dense: apricot-select FacilityLocationSelection(optimizer='lazy', metric='euclidean')
  on the float64 rows (its time includes the float64 copy and its N x N float64 matrix) and
  ours with kernel='dense' and kernel='sparse'. Objective: the exact float64 dense objective
  sum_i max_{j in S} (M - |x_i - x_j|^2), M the largest squared distance, recomputed here for
  every ranking (so rounding inside either library does not matter).
* N = --n-sparse: ours only (kernel='auto' chooses sparse); apricot's dense matrix would need
  8 N^2 bytes and is not run. Quality: mean squared distance from every row to its nearest
  pick (the dense objective is N * (M - that)), against random subsets of the same size.
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
sys.path.insert(0, str(HERE.parent))

from datagen import synthetic_clustered, tiled_real  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def available_gb() -> float:
    from explorer.strategies.facility import available_memory_bytes

    return available_memory_bytes() / 2**30


# ----------------------------------------------------------------------------- child side

def child(args) -> None:
    X = np.load(args.data_file)
    spec = json.loads(args.child)
    if spec["method"] == "apricot":
        from apricot import FacilityLocationSelection

        FacilityLocationSelection(5, metric="euclidean", optimizer="lazy").fit(
            X[:200].astype(np.float64))
        w = time.perf_counter()  # its fixed cost per fit: the gain kernel compiled again
        FacilityLocationSelection(5, metric="euclidean", optimizer="lazy").fit(
            X[:200].astype(np.float64))
        fixed = time.perf_counter() - w
        base = rss_mb()
        w, c = time.perf_counter(), time.process_time()
        model = FacilityLocationSelection(args.budget, metric="euclidean",
                                          optimizer="lazy").fit(X.astype(np.float64))
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        ranking, info = np.asarray(model.ranking, dtype=np.int64), {"fixed_seconds": fixed}
    else:
        import explorer
        from explorer.strategies import _sparse

        if spec.get("exact_graph"):
            _sparse.EXACT_MAX_ROWS = 1 << 40
        params = spec["params"]
        explorer.select(explorer.Dataset.from_arrays(X[:300]), "facility-location", 5,
                        params=params)
        data = explorer.Dataset.from_arrays(X)
        marks = {}

        def progress(fraction, message):
            if message.startswith("greedy") and "greedy" not in marks:
                marks["greedy"] = time.perf_counter()

        base = rss_mb()
        w, c = time.perf_counter(), time.process_time()
        sel = explorer.select(data, "facility-location", args.budget, params=params,
                              seed=0, progress=progress)
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        ranking = sel.indices
        info = {k: v for k, v in sel.info.items() if isinstance(v, (int, float, str))}
        info["greedy_seconds"] = w + wall - marks.get("greedy", w)
    np.save(args.out, ranking)
    print(json.dumps({"wall": wall, "cpu": cpu, "peak_mb": peak_mb() - base, "info": info}))


def run_child(data_path: Path, spec: dict, budget: int, tmp: Path) -> dict:
    out = tmp / f"ranking-{abs(hash(json.dumps(spec, sort_keys=True)))}.npy"
    cmd = [sys.executable, __file__, "--child", json.dumps(spec), "--data-file", str(data_path),
           "--budget", str(budget), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["ranking"] = np.load(out)
    return res


# ---------------------------------------------------------------------------- parent side

def min_sq_dist(X: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """Squared distance (float64) from every row to its nearest pick, in blocks."""
    P = X[picks].astype(np.float64)
    p_sq = np.einsum("ij,ij->i", P, P)
    out = np.empty(len(X))
    for s in range(0, len(X), 4096):
        B = X[s : s + 4096].astype(np.float64)
        d = np.einsum("ij,ij->i", B, B)[:, None] + p_sq[None, :] - 2.0 * B @ P.T
        out[s : s + 4096] = np.maximum(d, 0.0).min(axis=1)
    return out


def max_sq_dist(X: np.ndarray) -> float:
    """The largest squared distance between two rows (float64, blocked, exact)."""
    X64 = X.astype(np.float64)
    sq = np.einsum("ij,ij->i", X64, X64)
    best = 0.0
    for s in range(0, len(X), 2048):
        d = sq[s : s + 2048, None] + sq[None, :] - 2.0 * X64[s : s + 2048] @ X64.T
        best = max(best, float(d.max()))
    return best


def fmt_row(cols, widths):
    return "".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in
                   enumerate(zip(cols, widths)))


def bench_dense_size(name: str, X: np.ndarray, budget: int, neighbors: int, tmp: Path,
                     rows: list) -> None:
    n = len(X)
    path = tmp / f"{name}-{n}.npy"
    np.save(path, X)
    runs = {
        "apricot lazy (dense f64)": {"method": "apricot"},
        "ours dense (f32)": {"method": "ours", "params": {"kernel": "dense"}},
        f"ours sparse (k={neighbors})": {"method": "ours",
                                         "params": {"kernel": "sparse",
                                                    "neighbors": neighbors}},
    }
    res = {label: run_child(path, spec, budget, tmp) for label, spec in runs.items()}
    M = max_sq_dist(X)
    ap = res["apricot lazy (dense f64)"]
    objective = {}
    for label, r in res.items():
        if "error" in r:
            continue
        objective[label] = n * M - float(min_sq_dist(X, r["ranking"]).sum())
    for label, r in res.items():
        if "error" in r:
            rows.append((f"{n:,}", name, label, "", "", "", "", "", "",
                         "failed: " + r["error"][:100]))
            continue
        ratio = ap["wall"] / r["wall"] if "wall" in ap else float("nan")
        if label.startswith("apricot"):
            same = f"of which {r['info']['fixed_seconds']:.2f}s its per-fit compile"
        else:
            same = ("identical picks" if np.array_equal(r["ranking"], ap["ranking"]) else
                    f"first {int(np.argmax(r['ranking'] != ap['ranking']))} picks equal")
            if "wall" in ap:
                same += (f"; {(ap['wall'] - ap['info']['fixed_seconds']) / r['wall']:.2f}x "
                         "without apricot's compile")
        rows.append((f"{n:,}", name, label, f"{r['wall']:.2f}", f"{r['cpu']:.2f}",
                     f"{ratio:.2f}x", f"{objective[label]:.7g}",
                     f"{objective[label] / objective['apricot lazy (dense f64)']:.5f}",
                     f"{r['peak_mb']:,.0f}", same))


def bench_sparse_size(name: str, X: np.ndarray, budget: int, neighbors: int, tmp: Path,
                      rows: list, stochastic: bool, exact_graph: bool) -> None:
    n = len(X)
    path = tmp / f"{name}-{n}.npy"
    np.save(path, X)
    runs = {f"ours auto (k={neighbors})": {"method": "ours", "params": {"neighbors": neighbors}}}
    if stochastic:
        runs[f"ours auto stochastic"] = {"method": "ours", "params": {
            "neighbors": neighbors, "optimizer": "stochastic", "epsilon": 0.1}}
    if exact_graph:
        runs["ours auto, exact graph"] = {"method": "ours", "exact_graph": True,
                                          "params": {"neighbors": neighbors}}
    rng = np.random.default_rng(0)
    rand = [float(min_sq_dist(X, rng.choice(n, budget, replace=False)).mean())
            for _ in range(5)]
    for label, spec in runs.items():
        r = run_child(path, spec, budget, tmp)
        if "error" in r:
            rows.append((f"{n:,}", name, label, "", "", "", "", "", "",
                         "failed: " + r["error"][:100]))
            continue
        msd = float(min_sq_dist(X, r["ranking"]).mean())
        info = r["info"]
        note = (f"{info.get('kernel')}, {info.get('knn', '')} graph "
                f"{info['knn_distance_evaluations'] / n / n:.1%} of pairs; greedy "
                f"{info['greedy_seconds']:.1f}s" if info.get("kernel") == "sparse"
                else info.get("kernel"))
        rows.append((f"{n:,}", name, label, f"{r['wall']:.2f}", f"{r['cpu']:.2f}", "-",
                     f"msd {msd:.5g}", f"rnd {np.mean(rand) / msd:.3f}x",
                     f"{r['peak_mb']:,.0f}", note))
    rows.append((f"{n:,}", name, "apricot lazy (dense f64)", "not run", "", "", "", "",
                 f"{8 * n * n / 1e9:,.0f} GB", "N x N float64 matrix"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n-dense", type=int, default=10_000)
    ap.add_argument("--n-sparse", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--budget", type=int, default=1000)
    ap.add_argument("--neighbors", type=int, default=64)
    ap.add_argument("--data", default="both", choices=["synthetic", "tiled", "both"])
    ap.add_argument("--no-stochastic", action="store_true")
    ap.add_argument("--exact-graph", action="store_true",
                    help="also run the sparse kernel on the exact kNN graph at --n-sparse "
                    "(N^2 work: minutes at 100k) to see what the inverted file costs")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--data-file", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a)
        return
    kinds = ["synthetic", "tiled"] if a.data == "both" else [a.data]
    make = {"synthetic": lambda n: synthetic_clustered(n, a.dim, seed=1),
            "tiled": lambda n: tiled_real(n)}
    label = {"synthetic": "SYNTHETIC", "tiled": "tiled real"}
    load0 = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, {available_gb():.1f} GiB available; numpy "
          f"{np.__version__}; load average at start {load0[0]:.2f} / {load0[1]:.2f} / "
          f"{load0[2]:.2f} (1 / 5 / 15 min)")
    print(f"budget {a.budget:,}; dim {a.dim}; objective = exact float64 dense facility "
          "location of each ranking; msd = mean squared distance to the nearest pick; "
          "rnd = random subsets' msd / ours; peak = child's peak RSS above its start")
    widths = (9, 12, 28, 9, 9, 9, 16, 12, 10, 4)
    head = ("N", "data", "method", "wall s", "cpu s", "speed-up", "objective",
            "vs apricot", "peak MB", "  picks / notes")
    rows: list = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for kind in kinds:
            if kind == "tiled" and a.dim != 384 or a.n_dense <= 0:
                continue
            bench_dense_size(label[kind], make[kind](a.n_dense), a.budget, a.neighbors, tmp,
                             rows)
        for kind in kinds:
            if kind == "tiled" and a.dim != 384 or a.n_sparse <= 0:
                continue
            bench_sparse_size(label[kind], make[kind](a.n_sparse), a.budget, a.neighbors,
                              tmp, rows, not a.no_stochastic, a.exact_graph)
    print()
    print(fmt_row(head, widths))
    for r in rows:
        print(fmt_row(r[:-1], widths) + "  " + str(r[-1]))
    load1 = os.getloadavg()
    print(f"\nload average at end {load1[0]:.2f} / {load1[1]:.2f} / {load1[2]:.2f}")


if __name__ == "__main__":
    main()
