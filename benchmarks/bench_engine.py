"""The engines side by side on SYNTHETIC clustered data in Parquet shards: time, peak memory
per worker and rows / s / core per strategy on ``--engine local`` and on a Dask LocalCluster
(2 workers x 1 thread, 4 GiB each), their ratio (the engine's overhead), and k-center exact's
time per round split into compute and scheduling. Rows / s / core divides by the machine's
cores for ``--engine local`` (its numpy and numba kernels use them all) and by the workers
for Dask (one thread and one numba thread each, as ``--engine dask`` starts them).

    python benchmarks/bench_engine.py --rows 1000000 --dim 384 --shards 100 --folder /tmp/shards

The data is SYNTHETIC (Gaussian blobs, benchmarks/datagen.py's recipe), written one shard at
a time; the folder is deleted at the end unless --keep. Every figure is printed with the
load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STRATEGIES = {  # name -> (strategy, budget, params, metric, mode)
    "random": ("random", 10_000, {}, "euclidean", None),
    "stratified": ("stratified", 10_000, {"by": "clusters", "n_clusters": 20}, "euclidean",
                   None),
    "k-means": ("k-means", 10_000, {"n_clusters": 100}, "euclidean", None),
    "k-center exact": ("k-center", 100, {}, "euclidean", "exact"),
    "k-center coreset": ("k-center", 100, {}, "euclidean", "coreset"),
    "semdedup": ("semdedup", None, {"eps": 0.05, "n_clusters": 100}, "cosine", None),
    "facility-location": ("facility-location", 100, {}, "euclidean", "greedi"),
    "dedup": ("dedup", None, {"threshold": 0.5}, "euclidean", None),
    "dsir": ("dsir", 10_000, {}, "euclidean", None),
}
#: The Dask engine's own parameters per strategy (the one-machine run has none of them).
ENGINE_PARAMS = {"dedup": {"clusters": 20}}
#: Rows of the uniform sample the facility-location picks of both engines are scored on.
FACILITY_SCORE_ROWS = 20_000
#: Up to this many rows the benchmark also runs the one-machine facility location with every
#: row in memory (the engines run RandGreeDi over the shards), to compare the objectives.
FACILITY_IN_MEMORY_ROWS = 300_000


#: What a run's ``info`` says beyond its time, per strategy: f(info, rows not picked).
SUMMARIES = {
    "dedup": lambda info, left_out: (
        f"{info.get('n_removed', left_out):,} rows removed; clusters "
        f"{info.get('n_clusters', 1)}, cross-cluster pairs "
        f"{info.get('cross_cluster_pairs', 'compared (one machine)')}"),
    "semdedup": lambda info, left_out: (
        f"{info['n_clusters']} clusters, largest {info['largest_cluster']:,} rows, "
        f"{info['pairs_compared']:,} pairs compared, {info['n_kept']:,} rows kept at eps "
        f"{info['eps']}"),
}


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def write_synthetic_shards(folder: Path, rows: int, dim: int, shards: int, seed: int = 0,
                           clusters: int = 50, near_duplicates: float = 0.0) -> float:
    """SYNTHETIC clustered vectors (blobs of unequal size and spread around standard-normal
    centres) with ids and a 'blob' column, written shard by shard (one shard in memory).
    ``near_duplicates``: the share of each shard's rows that are an earlier row of the shard
    plus noise of 0.001 per dimension (what dedup should find)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    sizes = rng.dirichlet(np.full(clusters, 2.0))
    spreads = rng.uniform(0.05, 0.25, clusters).astype(np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    cuts = np.linspace(0, rows, shards + 1).astype(int)
    start = time.perf_counter()
    for i in range(shards):
        n = cuts[i + 1] - cuts[i]
        r = np.random.default_rng([seed, i])
        blob = r.choice(clusters, size=n, p=sizes)
        X = centres[blob] + r.standard_normal((n, dim), dtype=np.float32) * spreads[blob, None]
        copies = int(near_duplicates * n)
        if copies and n > 1:
            at = np.sort(r.choice(np.arange(1, n), size=min(copies, n - 1), replace=False))
            of = (r.random(len(at)) * at).astype(np.int64)  # an earlier row of the shard
            blob[at] = blob[of]
            X[at] = X[of] + 0.001 * r.standard_normal((len(at), dim), dtype=np.float32)
        emb = pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1), pa.float32()), dim)
        table = pa.table({"id": pa.array(np.arange(cuts[i], cuts[i + 1])), "blob": blob,
                          "embedding": emb})
        pq.write_table(table, folder / f"part-{i:05d}.parquet")
    return time.perf_counter() - start


class PeakMemory:
    """Samples the resident memory of this process (local) or of every worker (dask) every
    0.25 s; ``peak`` in MiB (the largest worker)."""

    def __init__(self, client=None):
        self.client = client
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> float:
        import psutil

        if self.client is None:
            return psutil.Process().memory_info().rss / 2**20
        rss = self.client.run(lambda: __import__("psutil").Process().memory_info().rss)
        return max(rss.values(), default=0) / 2**20  # none while every worker restarts

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self._sample())
            except Exception:
                pass
            self._stop.wait(0.25)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


def dsir_target(data) -> np.ndarray:
    """DSIR's target set: the rows of the first shard that belong to blob 0 (one of the 50
    Gaussian centres), as row indices."""
    import pyarrow.parquet as pq

    blob = pq.read_table(data.shards[0].path, columns=["blob"]).column("blob").to_numpy()
    return np.flatnonzero(blob == 0)


def run_one(data, name, engine, client, cores):
    import explorer

    from explorer.engine import drivers

    strategy, budget, params, metric, mode = STRATEGIES[name]
    if engine != "local":  # on a sharded dataset the local engine runs the same mode
        params = {**params, **ENGINE_PARAMS.get(name, {})}
    drivers._profiles.clear()  # measure SemDeDup's run, not its stored profile
    with PeakMemory(client) as mem:
        start = time.perf_counter()
        target = dsir_target(data) if strategy == "dsir" else None
        sel = explorer.select(data, strategy, budget, seed=0, metric=metric, params=params,
                              engine=engine, mode=mode, target=target)
        seconds = time.perf_counter() - start
    return sel, seconds, mem.peak, data.n / seconds / cores


def facility_cost(data, selections: dict) -> dict:
    """The facility-location (k-medoid) cost of each run's picks on one uniform sample of
    the rows: the mean Euclidean distance of a sample row to its nearest pick (lower is
    better), so the forms are compared on the same rows whatever sample each scored."""
    from explorer import space

    rng = np.random.default_rng(1)
    rows = np.sort(rng.choice(data.n, min(data.n, FACILITY_SCORE_ROWS), replace=False))
    S = vectors_of(data, rows)
    out = {}
    for engine, sel in selections.items():
        d, _ = space.nearest(S, vectors_of(data, np.sort(np.asarray(sel.indices))), "euclidean")
        out[engine] = float(np.mean(d))
    return out


def vectors_of(data, rows: np.ndarray) -> np.ndarray:
    """The vectors of the sorted global ``rows`` of a sharded dataset, read shard by shard."""
    from explorer.data.shards import read_block

    out, start = [], 0
    for shard in data.shards:
        lo, hi = np.searchsorted(rows, [start, start + shard.rows])
        if hi > lo:
            out.append(read_block(data, shard).X[rows[lo:hi] - start])
        start += shard.rows
    return np.ascontiguousarray(np.concatenate(out), dtype=np.float32)


def kcenter_split(data, client, budget: int) -> dict:
    """k-center exact on the cluster with the task stream: per round, the wall time and the
    compute it holds (sum of the round's task compute times / workers); the rest is
    scheduling (submitting, the scheduler's decisions, transfers, the driver's merge)."""
    import distributed

    import explorer

    with distributed.get_task_stream(client) as ts:
        sel = explorer.select(data, "k-center", budget, seed=0, engine=client)
    workers = len(client.scheduler_info(n_workers=-1)["workers"])
    compute: dict = {}
    for task in ts.data:
        key = str(task["key"])
        if not key.startswith(("kc-round", "kc-best")):
            continue
        r = int(key.split("-")[1].replace("round", "").replace("best", ""))
        for ss in task["startstops"]:
            if ss["action"] == "compute":
                compute[r] = compute.get(r, 0.0) + ss["stop"] - ss["start"]
    walls = sel.info["round_seconds"]
    mean_compute = float(np.mean(list(compute.values()))) / workers if compute else float("nan")
    return {"rounds": walls["rounds"], "wall_mean": walls["mean"],
            "wall_median": walls["median"], "compute_mean": mean_compute,
            "scheduling_mean": walls["mean"] - mean_compute,
            "seconds_total": sel.info["seconds_total"], "held": sel.info["rows_held_in_memory"],
            "evaluations": sel.info["distance_evaluations"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--shards", type=int, default=100)
    ap.add_argument("--folder", default="/tmp/bench_engine_shards")
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--engines", default="local,dask")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="4GiB")
    ap.add_argument("--kcenter-budget", type=int, default=100)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--near-duplicates", type=float, default=0.0,
                    help="share of each shard's rows written as a near copy of an earlier row "
                    "(for dedup; 0: none)")
    ap.add_argument("--split-only", action="store_true",
                    help="k-center exact: only the per-round split at --kcenter-budget, not "
                    "the run at budget 100 beside the local engine")
    ap.add_argument("--semdedup-clusters", type=int, default=100,
                    help="SemDeDup's k-means clusters (NeMo Curator's default is 1,000)")
    ap.add_argument("--semdedup-eps", type=float, default=0.05)
    ap.add_argument("--dedup-clusters", type=int, default=ENGINE_PARAMS["dedup"]["clusters"],
                    help="dedup's k-means clusters on the Dask engine (pairs across clusters "
                    "are not compared)")
    args = ap.parse_args()
    ENGINE_PARAMS["dedup"] = {"clusters": args.dedup_clusters}
    STRATEGIES["semdedup"] = ("semdedup", None, {"eps": args.semdedup_eps,
                                                 "n_clusters": args.semdedup_clusters},
                              "cosine", None)
    names = [s.strip() for s in args.strategies.split(",") if s.strip()]
    engines = [e.strip() for e in args.engines.split(",")]
    unknown = [n for n in names if n not in STRATEGIES] + \
        [e for e in engines if e not in ("local", "dask")]
    if unknown:
        raise SystemExit(f"unknown --strategies or --engines: {', '.join(unknown)}; strategies "
                         f"are {', '.join(STRATEGIES)}; engines are local, dask")

    import distributed
    from dask.utils import parse_bytes

    from explorer.engine.dask import start_local_cluster

    import explorer

    folder = Path(args.folder)
    gb = args.rows * args.dim * 4 / 1e9
    print(f"SYNTHETIC clustered data: {args.rows:,} x {args.dim} float32 ({gb:.2f} GB) in "
          f"{args.shards} Parquet shards, {args.near_duplicates:.0%} near copies; "
          f"{os.cpu_count()} cores; load average "
          f"{load_average()}", flush=True)
    if not (folder / "part-00000.parquet").exists():
        took = write_synthetic_shards(folder, args.rows, args.dim, args.shards,
                                      near_duplicates=args.near_duplicates)
        print(f"wrote the shards in {took:.1f} s", flush=True)
    data = explorer.load(str(folder), id_column="id")
    cluster = client = None
    if "dask" in engines:
        cluster = start_local_cluster(args.workers, args.memory_limit)  # as --engine dask starts one
        client = distributed.Client(cluster, set_as_default=False)
        pids = sorted(client.run(os.getpid).values())
    try:
        print(f"{'strategy':<18}{'engine':<8}{'seconds':>9}{'peak MiB':>10}"
              f"{'rows/s/core':>13}{'ratio':>7}  same ids   load", flush=True)
        for name in names:
            if name == "k-center exact" and args.split_only:
                continue
            got = {}
            for engine in engines:
                # the local engine's numpy and numba kernels use every core of the machine
                eng, cores = ("local", os.cpu_count()) if engine == "local" else \
                    (client, args.workers)
                sel, sec, peak, rate = run_one(data, name, eng, client if engine == "dask"
                                               else None, cores)
                got[engine] = (sel, sec)
                ratio = sec / got["local"][1] if engine == "dask" and "local" in got else 1.0
                same = ("yes" if sel.indices.tolist() == got["local"][0].indices.tolist()
                        else "NO") if engine == "dask" and "local" in got else ""
                print(f"{name:<18}{engine:<8}{sec:>9.1f}{peak:>10.0f}{rate:>13,.0f}"
                      f"{ratio:>7.2f}  {same:<8} {load_average()}", flush=True)
                if name in SUMMARIES:
                    print(f"    {name}: {SUMMARIES[name](sel.info, data.n - len(sel.indices))}",
                          flush=True)
            if name == "facility-location":
                picks = {e: v[0] for e, v in got.items()}
                if data.n <= FACILITY_IN_MEMORY_ROWS:  # the one-machine greedy on every row
                    X = vectors_of(data, np.arange(data.n))
                    start = time.perf_counter()
                    picks["in memory"] = explorer.select(explorer.Dataset.from_arrays(X),
                                                         "facility-location", 100, seed=0)
                    print(f"    facility-location on one machine, every row in memory: "
                          f"{time.perf_counter() - start:.1f} s", flush=True)
                cost = facility_cost(data, picks)
                base = cost.get("in memory")
                print("    facility-location: mean distance of a uniform sample of "
                      f"{min(data.n, FACILITY_SCORE_ROWS):,} rows to the nearest pick "
                      "(lower is better): " + ", ".join(
                          f"{e} {c:.4f}" + (f" ({c / base:.4f}x in memory's)" if base and
                                            e != "in memory" else "")
                          for e, c in cost.items()), flush=True)
        if client is not None and "k-center exact" in names:
            split = kcenter_split(data, client, args.kcenter_budget)
            print(f"k-center exact, budget {args.kcenter_budget}, {args.shards} shards on "
                  f"{args.workers} workers: {split['rounds']} rounds, wall {split['wall_mean']:.3f}"
                  f" s / round (median {split['wall_median']:.3f}), compute "
                  f"{split['compute_mean']:.3f} s, scheduling {split['scheduling_mean']:.3f} s; "
                  f"{split['seconds_total']:.1f} s in all, rows "
                  f"{'held in worker memory' if split['held'] else 'copied to local disk'}"
                  f", {split['evaluations']:,} distance evaluations ("
                  f"{split['evaluations'] / max(1, data.n * (split['rounds'])):.1%} of rows x "
                  f"rounds); load average {load_average()}", flush=True)
            now = sorted(client.run(os.getpid).values())
            total = args.workers * parse_bytes(args.memory_limit) / 1e9
            print(f"workers restarted (a nanny kill or a crash) during the runs: "
                  f"{len(set(pids) - set(now))} of {len(pids)}; data {gb:.2f} GB = "
                  f"{gb / total:.1f}x the workers' total memory ({total:.2f} GB)", flush=True)
    finally:
        if client is not None:
            client.close()
            cluster.close()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
