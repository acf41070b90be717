"""Subset Explorer against the libraries a user would pick instead, side by side in one run.

    python benchmarks/bench_peers.py --real /tmp/docstrings-100k.parquet       # REAL first
    python benchmarks/bench_peers.py --tiled 100000 --synthetic 100000         # labelled apart
    python benchmarks/bench_peers.py --tiled 20000 --repeats 1 --only dedup,kcenter  # smoke

Needs the ``bench`` extra (faiss-cpu, pacmap, openTSNE; pynndescent and umap-learn come with
the project, apricot-select with ``test``). Every row runs ours and the peer interleaved
(ours, peer, ours, peer, ...) in this process, after a small warm-up run of each (numba
compilation is not timed), and prints medians, the ratio ours / best peer, a quality column,
and the 1-minute load average at the start of every timed run (the machine is shared: a
figure taken at a high load is disturbed, and ours and the peer's neighbouring runs saw
about the same load).

Rows (every vector L2-normalised, cosine geometry; 384-D MiniLM for real data):

* dedup: cosine distance <= 0.005, leader scan in row order. Peers: faiss exact
  (IndexFlatIP range search) and faiss IVF (IndexIVFFlat, nlist 1024, nprobe 16, range
  search), each followed by the same leader pass over its neighbour lists. Quality: rows kept,
  and whether they are the same rows as ours.
* k-center, budget 2,000, from the same first row. Peer: the plain numpy float32
  matrix-vector loop (one pass over the matrix per pick; the bound ours must stay near).
  Quality: picks equal to ours.
* k-means k = 200, 1,000, 5,000. Peer: faiss.Kmeans (niter 25, its defaults: up to 256
  training rows per centre, random seeds) plus its assignment search. Quality: inertia over
  every row, ours / faiss.
* 64-NN graph, recall@10 against the exact neighbours of 500 seeded rows. Ours (NN-descent
  from an inverted file) at several ``graph_search`` values (the curve), and the inverted
  file alone at its own knob; peers: faiss IVFFlat (nprobe sweep), faiss HNSW
  (M 32, efSearch sweep), pynndescent (default); one run per setting, but ours at the
  default and pynndescent ``--repeats`` times each (the row's medians). Also: the
  graph-dependent strategies at the default against the exact graph on a 20,000-row sample
  (sparse facility location's mean distance to the nearest pick; vote-k's overlap of picks).
* 2-D layout: ours (explorer.projection.layout, umap-learn) against PaCMAP and openTSNE
  (FFT); trustworthiness (k = 10) on a seeded 5,000-row sample.
* facility location, budget 1,000: 10,000 rows dense against apricot-select (lazy; identical
  picks?), and all rows sparse against apricot's sparse nearest-neighbour kernel
  (``--slow-peers``: apricot took about 5 minutes at 100,000 rows).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import explorer  # noqa: E402  (sets OpenBLAS's thread timeout before numpy's BLAS loads)

ROWS = ("dedup", "kcenter", "kmeans", "knn", "layout", "facility")


def load_avg() -> float:
    return os.getloadavg()[0]


def timed(fn):
    """(seconds, load average at the start, result)."""
    load = load_avg()
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, load, out


def unit_rows(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    return np.ascontiguousarray(X / np.linalg.norm(X, axis=1, keepdims=True), dtype=np.float32)


def read_vectors(path: str) -> np.ndarray:
    if path.endswith(".npy"):
        return np.load(path)
    import pandas as pd

    col = pd.read_parquet(path, columns=["embedding"])["embedding"].to_numpy()
    return np.stack(col).astype(np.float32)


class Table:
    """Collects the rows and prints them as they come and at the end."""

    def __init__(self, out: Path | None):
        self.rows: list[dict] = []
        self.out = out

    def add(self, **row) -> None:
        self.rows.append(row)
        print("  ->", json.dumps(row, default=str), flush=True)
        if self.out is not None:
            with open(self.out, "a") as fh:
                fh.write(json.dumps(row, default=str) + "\n")

    def render(self) -> str:
        head = ("| data | task | ours (median, load) | best peer (median, load) | ratio | "
                "quality |\n|---|---|---|---|---|---|\n")
        lines = []
        for r in self.rows:
            lines.append(f"| {r['data']} | {r['task']} | {r['ours']} | {r['peer']} | "
                         f"{r['ratio']} | {r['quality']} |")
        return head + "\n".join(lines)


def med(runs) -> tuple[float, float]:
    """Median seconds and the median load of the runs."""
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def fmt(runs) -> str:
    t, load = med(runs)
    every = ", ".join(f"{r[0]:.1f}" for r in runs)
    return f"{t:.1f} s (load {load:.1f}; runs {every})"


def interleave(fns: dict, repeats: int) -> dict:
    """Run each named function ``repeats`` times, in turn (a, b, a, b, ...)."""
    runs = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            runs[name].append(timed(fn))
            print(f"    {name}: {runs[name][-1][0]:.2f} s at load {runs[name][-1][1]:.1f}",
                  flush=True)
    return runs


# ----------------------------------------------------------------------------- dedup

def _leader_over_lists(lims, idx, n):
    from numba import njit

    @njit(cache=True)
    def leader(lims, idx, n):
        kept = np.zeros(n, dtype=np.bool_)
        for i in range(n):
            dup = False
            for t in range(lims[i], lims[i + 1]):
                j = idx[t]
                if j != i and kept[j]:
                    dup = True
                    break
            kept[i] = not dup
        return np.flatnonzero(kept)

    return leader(lims.astype(np.int64), idx.astype(np.int64), n)


def faiss_dedup(X: np.ndarray, threshold: float, ivf: bool) -> np.ndarray:
    """Rows kept by a leader scan in row order over faiss's range search at similarity
    >= 1 - threshold (exact flat index, or an inverted file)."""
    import faiss

    d = X.shape[1]
    if ivf:
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, 1024, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        index.train(X[rng.choice(len(X), min(len(X), 50_000), replace=False)])
        index.nprobe = 16
    else:
        index = faiss.IndexFlatIP(d)
    index.add(X)
    # faiss returns similarities above the radius: nudge it so equality counts, as ours
    lims, _, idx = index.range_search(X, float(np.nextafter(np.float32(1.0 - threshold),
                                                            np.float32(-1))))
    return _leader_over_lists(lims, idx, len(X))


def row_dedup(X, label, table, repeats, threshold=0.005):
    data = explorer.Dataset.from_arrays(X)

    def ours():
        return explorer.select(data, "dedup", None, metric="cosine",
                               params={"threshold": threshold}).indices

    small = explorer.Dataset.from_arrays(X[:3000])
    explorer.select(small, "dedup", None, metric="cosine", params={"threshold": threshold})
    faiss_dedup(X[:3000], threshold, False)
    runs = interleave({"ours": ours, "faiss exact": lambda: faiss_dedup(X, threshold, False),
                       "faiss IVF": lambda: faiss_dedup(X, threshold, True)}, repeats)
    kept = runs["ours"][-1][2]
    quality = [f"ours keeps {len(kept):,}"]
    for peer in ("faiss exact", "faiss IVF"):
        theirs = runs[peer][-1][2]
        same = len(theirs) == len(kept) and bool(np.array_equal(np.sort(theirs),
                                                                 np.sort(kept)))
        quality.append(f"{peer} {len(theirs):,} ({'identical rows' if same else 'rows differ: ' + str(len(np.setxor1d(theirs, kept)))})")
    best = min(("faiss exact", "faiss IVF"), key=lambda p: med(runs[p])[0])
    table.add(data=label, task=f"near-duplicate removal (cosine {threshold})",
              ours=fmt(runs["ours"]),
              peer=f"{best} {fmt(runs[best])}; "
                   + "; ".join(f"{p} {fmt(runs[p])}" for p in runs if p not in ("ours", best)),
              ratio=f"{med(runs['ours'])[0] / med(runs[best])[0]:.2f}x",
              quality="; ".join(quality))


# ----------------------------------------------------------------------------- k-center

def numpy_kcenter(X: np.ndarray, first: int, budget: int) -> np.ndarray:
    """Farthest-point traversal by a float32 matrix-vector product per pick."""
    x_sq = np.einsum("ij,ij->i", X, X)
    d = np.full(len(X), np.inf, dtype=np.float32)
    picks = [first]
    c = first
    for _ in range(budget - 1):
        np.minimum(d, x_sq + x_sq[c] - 2.0 * (X @ X[c]), out=d)
        d[c] = -1.0
        c = int(np.argmax(d))
        picks.append(c)
    return np.asarray(picks)


def row_kcenter(X, label, table, repeats, budget=2000):
    data = explorer.Dataset.from_arrays(X)

    def ours():  # every run a new traversal (no cache is open)
        return explorer.select(data, "k-center", budget, seed=0, metric="cosine").indices

    first = int(ours()[0])
    # the rows as ours sees them: cosine re-normalises each row (its float32 bits move), and
    # the peer and the exact check below must measure the same vectors
    X = explorer.space.prepare(X, "cosine")
    runs = interleave({"ours": ours, "numpy gemv loop": lambda: numpy_kcenter(X, first, budget)},
                      repeats)
    a, b = runs["ours"][-1][2], runs["numpy gemv loop"][-1][2]
    same = int(np.argmin(np.r_[a == b, False])) if len(a) == len(b) else 0
    ratio = med(runs["ours"])[0] / med(runs["numpy gemv loop"])[0]
    quality = f"first {same:,} of {budget:,} picks identical"
    if same < budget:  # who is right where they part: exact distances to the common prefix
        prefix = X[a[:same]].astype(np.float64)

        def farthest(i):
            return float(np.sqrt(((prefix - X[i].astype(np.float64)) ** 2).sum(1).min()))

        quality += (f"; at pick {same + 1:,} ours takes row {a[same]:,} at exact (float64) "
                    f"distance {farthest(a[same]):.9f} from the earlier picks, the float32 "
                    f"loop row {b[same]:,} at {farthest(b[same]):.9f}")
    table.add(data=label, task=f"k-center, budget {budget:,}", ours=fmt(runs["ours"]),
              peer=f"plain numpy float32 gemv loop {fmt(runs['numpy gemv loop'])}",
              ratio=f"{ratio:.2f}x (target <= 1.3x)", quality=quality)


# ----------------------------------------------------------------------------- k-means

def faiss_kmeans(X: np.ndarray, k: int, seed: int = 0) -> float:
    import faiss

    km = faiss.Kmeans(X.shape[1], k, niter=25, seed=1234 + seed, verbose=False)
    km.train(X)
    D, _ = km.index.search(X, 1)
    return float(D.astype(np.float64).sum())


def row_kmeans(X, label, table, repeats, ks=(200, 1000, 5000)):
    from explorer.clustering import kmeans

    kmeans(X[:60_000], 5, seed=0)
    faiss_kmeans(X[:5000], 5)
    for k in ks:
        reps = repeats if k <= 1000 else 1

        def ours(k=k):
            cl = kmeans(X, k, seed=0)
            return float(np.dot(cl.distances, cl.distances))

        runs = interleave({"ours": ours, "faiss": lambda k=k: faiss_kmeans(X, k)}, reps)
        ratio = med(runs["ours"])[0] / med(runs["faiss"])[0]
        inertia = statistics.median(r[2] for r in runs["ours"]) / \
            statistics.median(r[2] for r in runs["faiss"])
        table.add(data=label, task=f"k-means k = {k:,}", ours=fmt(runs["ours"]),
                  peer=f"faiss.Kmeans {fmt(runs['faiss'])}", ratio=f"{ratio:.2f}x",
                  quality=f"inertia {inertia:.4f}x faiss's")


# ----------------------------------------------------------------------------- kNN graph

def true_neighbours(X: np.ndarray, queries: np.ndarray, at: int = 10) -> np.ndarray:
    d = -(X[queries] @ X.T)
    d[np.arange(len(queries)), queries] = np.inf
    return np.argsort(d, axis=1, kind="stable")[:, :at]


def recall_at(neighbors: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> float:
    """Share of each query's true 10 nearest (itself left out) among its first 10 found."""
    at = truth.shape[1]
    hits = 0
    for r, q in enumerate(queries):
        found = [j for j in neighbors[r] if j != q][:at]
        hits += len(np.intersect1d(found, truth[r]))
    return hits / (len(queries) * at)


def row_knn(X, label, table, repeats=1, searches=(8, 12, 16, 24, 32), k=64):
    import faiss
    import pynndescent

    from explorer.strategies import _sparse

    queries = np.sort(np.random.default_rng(0).choice(len(X), 500, replace=False))
    truth = true_neighbours(X, queries)
    curve = []

    def ours(search, method="nn-descent"):
        Xc, sq = _sparse.centred(X)
        return _sparse.knn_graph(Xc, sq, k, method=method, search=search).neighbors

    built = {}

    def built_once(name, make):
        """An index built once; its build time is added to every setting that uses it."""
        if name not in built:
            t = time.perf_counter()
            built[name] = (make(), time.perf_counter() - t)
        return built[name]

    def make_ivf():
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(X.shape[1]), X.shape[1], 1024)
        index.train(X[np.random.default_rng(0).choice(len(X), min(len(X), 50_000),
                                                      replace=False)])
        index.add(X)
        return index

    def make_hnsw():
        index = faiss.IndexHNSWFlat(X.shape[1], 32)
        index.add(X)
        return index

    def faiss_ivf(nprobe):
        index, build = built_once("ivf", make_ivf)
        index.nprobe = nprobe
        return index.search(X, k)[1], build

    def faiss_hnsw(ef):
        index, build = built_once("hnsw", make_hnsw)
        index.hnsw.efSearch = ef
        return index.search(X, k)[1], build

    def nndescent():
        return pynndescent.NNDescent(X, n_neighbors=k, random_state=0,
                                     n_jobs=-1).neighbor_graph[0]

    _sparse.knn_graph(*_sparse.centred(X[:20_000]), 8, method="nn-descent")
    pynndescent.NNDescent(X[:3000], n_neighbors=10, random_state=0)
    settings = [("ours", f"graph_search={s}", lambda s=s: ours(s)) for s in searches]
    settings += [("ours", f"inverted file alone, search={s}",
                  lambda s=s: ours(s, "inverted-file")) for s in (_sparse.IVF_SEARCH,)]
    settings += [("faiss IVFFlat", f"nprobe={p}", lambda p=p: faiss_ivf(p)) for p in (8, 16, 32)]
    settings += [("faiss HNSW", f"M=32 efSearch={e}", lambda e=e: faiss_hnsw(e)) for e in (64, 128)]
    settings += [("pynndescent", "default", nndescent)]
    # interleaved: ours, peers, ours, peers ... (one run per setting of the curve)
    order = []
    peers = [s for s in settings if s[0] != "ours"]
    mine = [s for s in settings if s[0] == "ours"]
    while peers or mine:
        if mine:
            order.append(mine.pop(0))
        if peers:
            order.append(peers.pop(0))
        if peers and not mine:
            order.append(peers.pop(0))
    # the row's two figures, ours at the default and pynndescent, again (repeats - 1) times,
    # alternated: their medians go in the row
    compared = [s for s in settings
                if (s[0], s[1]) in (("ours", f"graph_search={_sparse.SEARCH_DEFAULT}"),
                                    ("pynndescent", "default"))]
    order += compared * (repeats - 1)
    runs = {}
    for who, setting, fn in order:
        seconds, load, nbrs = timed(fn)
        if isinstance(nbrs, tuple):  # a faiss index: its one-off build counts for each
            nbrs, build = nbrs
            seconds += build
        rec = recall_at(np.asarray(nbrs)[queries], queries, truth)
        runs.setdefault((who, setting), []).append((seconds, load, rec))
        print(f"    {who} {setting}: {seconds:.1f} s at load {load:.1f}, recall@10 {rec:.4f}",
              flush=True)
    for (who, setting), got in runs.items():
        seconds = float(np.median([g[0] for g in got]))
        curve.append((who, setting, seconds, got[0][1], got[0][2], len(got)))
    default = [c for c in curve if c[0] == "ours" and c[1] == f"graph_search={_sparse.SEARCH_DEFAULT}"]
    at97 = [c for c in curve if c[0] != "ours" and c[4] >= 0.97]
    best = min(at97, key=lambda c: c[2]) if at97 else None
    text = "; ".join(f"{c[0]} {c[1]}: {c[2]:.1f} s (load {c[3]:.1f}"
                     f"{f'; median of {c[5]}' if c[5] > 1 else ''}) recall {c[4]:.4f}"
                     for c in curve)
    if default:
        d = default[0]
        table.add(data=label, task=f"{k}-NN graph (default graph_search={_sparse.SEARCH_DEFAULT})",
                  ours=f"{d[2]:.1f} s (load {d[3]:.1f}; median of {d[5]})",
                  peer=(f"fastest peer at recall >= 0.97: {best[0]} {best[1]} {best[2]:.1f} s "
                        f"(load {best[3]:.1f}; median of {best[5]})") if best
                  else "no peer reached 0.97",
                  ratio=f"{d[2] / best[2]:.2f}x" if best else "-",
                  quality=f"recall@10 {d[4]:.4f}; curve: {text}")
    return curve


def row_graph_results(X, label, table, n=20_000, budget=500):
    """Sparse facility location, vote-k and the per-row uniqueness score at the default
    graph against the exact graph."""
    from explorer import space
    from explorer.row_scores import row_scores
    from explorer.strategies import _sparse

    Xs = X[np.sort(np.random.default_rng(1).choice(len(X), min(n, len(X)), replace=False))]
    data = explorer.Dataset.from_arrays(Xs)
    out = {}
    for method in ("nn-descent", "exact"):
        saved = _sparse.EXACT_MAX_ROWS
        _sparse.EXACT_MAX_ROWS = 0 if method == "nn-descent" else 1 << 40
        try:
            fl = explorer.select(data, "facility-location", budget, metric="cosine",
                                 params={"kernel": "sparse"})
            vk = explorer.select(data, "vote-k", budget, metric="cosine")
            unique = row_scores(data, metric="cosine").frame["uniqueness"].to_numpy()
        finally:
            _sparse.EXACT_MAX_ROWS = saved
        d, _ = space.nearest(Xs, Xs[fl.indices], "euclidean")
        v, _ = space.nearest(Xs, Xs[vk.indices], "euclidean")
        out[method] = (float(d.mean()), vk.indices, unique, float(v.mean()))
    # how far apart the two graphs' results are, in units of the spread of random subsets of
    # the same size: a difference well inside it changes no verdict against random
    rng = np.random.default_rng(2)
    randoms = [float(space.nearest(Xs, Xs[rng.choice(len(Xs), budget, replace=False)],
                                   "euclidean")[0].mean()) for _ in range(20)]
    spread = float(np.std(randoms, ddof=1))
    overlap = len(np.intersect1d(out["nn-descent"][1], out["exact"][1])) / budget
    from scipy.stats import spearmanr

    rho = float(spearmanr(out["nn-descent"][2], out["exact"][2]).statistic)
    table.add(data=label, task=f"graph-dependent results at the default, {len(Xs):,} rows, "
              f"budget {budget}", ours="-", peer="exact graph", ratio="-",
              quality=f"facility location mean distance to nearest pick "
                      f"{out['nn-descent'][0] / out['exact'][0]:.4f}x the exact graph's "
                      f"(difference {(out['nn-descent'][0] - out['exact'][0]) / spread:+.2f} "
                      f"random-subset SDs); vote-k picks shared with the exact graph's "
                      f"{overlap:.1%}, its mean distance to nearest pick "
                      f"{out['nn-descent'][3] / out['exact'][3]:.4f}x the exact graph's "
                      f"(difference {(out['nn-descent'][3] - out['exact'][3]) / spread:+.2f} "
                      f"random-subset SDs; random subsets {np.mean(randoms):.4f} +- "
                      f"{spread:.4f}, vote-k {out['exact'][3]:.4f}); uniqueness equal to the "
                      f"exact graph's (1e-4) for "
                      f"{np.mean(np.isclose(out['nn-descent'][2], out['exact'][2], rtol=1e-4, atol=1e-4)):.1%} "
                      f"of rows, Spearman rank correlation {rho:.4f}")


# ----------------------------------------------------------------------------- layout

def row_layout(X, label, table, sample=5000):
    from sklearn.manifold import trustworthiness

    from explorer import projection

    data = explorer.Dataset.from_arrays(X)

    def ours():
        return projection.layout(data, "umap", use_cache=False)

    def pacmap_layout():
        import pacmap

        return pacmap.PaCMAP(n_components=2, random_state=0).fit_transform(X)

    def tsne_layout():
        import openTSNE

        return np.asarray(openTSNE.TSNE(n_jobs=2, negative_gradient_method="fft",
                                        random_state=0).fit(X))

    projection.layout(explorer.Dataset.from_arrays(X[:2000]), "umap", use_cache=False)
    rows = np.sort(np.random.default_rng(0).choice(len(X), min(sample, len(X)), replace=False))
    runs = interleave({"ours (umap-learn)": ours, "PaCMAP": pacmap_layout,
                       "openTSNE FFT": tsne_layout}, 1)
    trust = {name: trustworthiness(X[rows], np.asarray(r[-1][2])[rows], n_neighbors=10)
             for name, r in runs.items()}
    best = max((p for p in runs if p != "ours (umap-learn)"), key=lambda p: trust[p])
    table.add(data=label, task=f"2-D layout, {len(X):,} rows",
              ours=f"umap-learn {fmt(runs['ours (umap-learn)'])}",
              peer="; ".join(f"{p} {fmt(runs[p])}" for p in runs if p != "ours (umap-learn)"),
              ratio=f"{med(runs['ours (umap-learn)'])[0] / med(runs[best])[0]:.2f}x vs {best}",
              quality="trustworthiness@10 on 5,000 rows: "
                      + ", ".join(f"{p} {v:.4f}" for p, v in trust.items()))


# ----------------------------------------------------------------------------- facility

def row_facility(X, label, table, repeats, slow_peers, budget=1000, dense_rows=10_000):
    from apricot import FacilityLocationSelection

    from explorer import space

    Xd = X[:dense_rows]
    small = explorer.Dataset.from_arrays(Xd)

    def ours_dense():
        return explorer.select(small, "facility-location", budget).indices

    def apricot_dense():
        return FacilityLocationSelection(budget, metric="euclidean", optimizer="lazy").fit(
            Xd.astype(np.float64)).ranking

    FacilityLocationSelection(5, metric="euclidean", optimizer="lazy").fit(
        Xd[:300].astype(np.float64))
    runs = interleave({"ours": ours_dense, "apricot": apricot_dense}, repeats)
    a, b = runs["ours"][-1][2], runs["apricot"][-1][2]
    table.add(data=label, task=f"facility location {len(Xd):,} rows dense, budget {budget:,}",
              ours=fmt(runs["ours"]), peer=f"apricot lazy {fmt(runs['apricot'])}",
              ratio=f"{med(runs['ours'])[0] / med(runs['apricot'])[0]:.2f}x",
              quality="identical picks" if np.array_equal(a, b) else
              f"picks differ ({len(np.setxor1d(a, b))} rows)")
    data = explorer.Dataset.from_arrays(X)

    def ours_sparse():
        return explorer.select(data, "facility-location", budget, metric="cosine",
                               params={"kernel": "sparse"}).indices

    fns = {"ours": ours_sparse}
    if slow_peers:
        def apricot_sparse():
            """apricot's own sparse steps (its utils._calculate_pairwise_distances with
            n_neighbors=64: a KNeighborsTransformer graph, similarity = largest distance -
            distance), then its lazy greedy on that graph. The one change: the graph's index
            arrays cast to int32, which apricot's compiled sparse kernel is typed for and
            scikit-learn no longer returns (int64 fails with a numba TypeError)."""
            from scipy.sparse import csr_matrix
            from sklearn.neighbors import KNeighborsTransformer

            graph = csr_matrix(KNeighborsTransformer(n_neighbors=64, metric="euclidean")
                               .fit_transform(X.astype(np.float64)))
            graph.data = graph.max() - graph.data
            graph.indices = graph.indices.astype(np.int32)
            graph.indptr = graph.indptr.astype(np.int32)
            return FacilityLocationSelection(budget, metric="precomputed",
                                             optimizer="lazy").fit(graph).ranking

        fns["apricot sparse"] = apricot_sparse
    runs = interleave(fns, 1)
    mean_d = {n: float(space.nearest(X, X[r[-1][2]], "euclidean")[0].mean())
              for n, r in runs.items()}
    table.add(data=label, task=f"facility location {len(X):,} rows sparse, budget {budget:,}",
              ours=fmt(runs["ours"]),
              peer=f"apricot sparse (64 neighbours) {fmt(runs['apricot sparse'])}"
              if "apricot sparse" in runs else "apricot sparse not run (--slow-peers)",
              ratio=f"{med(runs['ours'])[0] / med(runs['apricot sparse'])[0]:.2f}x"
              if "apricot sparse" in runs else "-",
              quality=f"mean distance to nearest pick: ours {mean_d['ours']:.4f}"
              + (f", {mean_d['ours'] / mean_d['apricot sparse']:.4f}x apricot's"
                 if "apricot sparse" in runs else ""))


# ----------------------------------------------------------------------------- main

def run_all(X, label, table, args):
    only = set(args.only.split(",")) if args.only else set(ROWS)
    print(f"\n=== {label}: {X.shape[0]:,} x {X.shape[1]} (load {load_avg():.1f})", flush=True)
    if "dedup" in only:
        row_dedup(X, label, table, args.repeats)
    if "kcenter" in only:
        row_kcenter(X, label, table, args.repeats)
    if "kmeans" in only:
        row_kmeans(X, label, table, args.repeats,
                   tuple(int(v) for v in args.kmeans_k.split(",")))
    if "knn" in only:
        row_knn(X, label, table, args.repeats)
        row_graph_results(X, label, table)
    if "layout" in only:
        row_layout(X, label, table)
    if "facility" in only:
        row_facility(X, label, table, args.repeats, args.slow_peers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real", help="REAL vectors: a parquet with an 'embedding' column or .npy")
    ap.add_argument("--real-label", default="REAL docstrings (all-MiniLM-L6-v2)")
    ap.add_argument("--tiled", type=int, default=0,
                    help="also: the bundled pydocs vectors tiled with noise to this many rows")
    ap.add_argument("--synthetic", type=int, default=0,
                    help="also: SYNTHETIC clustered Gaussian blobs, this many rows x 384")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="", help=f"comma-separated rows of {', '.join(ROWS)}")
    ap.add_argument("--kmeans-k", default="200,1000,5000")
    ap.add_argument("--slow-peers", action="store_true",
                    help="also apricot's sparse facility location on every row (minutes)")
    ap.add_argument("--out", help="append every row as a JSON line to this file")
    args = ap.parse_args()
    from datagen import synthetic_clustered, tiled_real

    table = Table(Path(args.out) if args.out else None)
    sets = []
    if args.real:
        sets.append((args.real_label, lambda: read_vectors(args.real)))
    if args.tiled:
        sets.append((f"TILED pydocs x noise 0.02 ({args.tiled:,})",
                     lambda: tiled_real(args.tiled)))
    if args.synthetic:
        sets.append((f"SYNTHETIC clusters ({args.synthetic:,})",
                     lambda: synthetic_clustered(args.synthetic, 384)))
    if not sets:
        ap.error("give --real, --tiled or --synthetic")
    print(f"bench_peers: {os.cpu_count()} cores, load {load_avg():.1f}", flush=True)
    for label, make in sets:
        run_all(unit_rows(make()), label, table, args)
    print("\n" + table.render())


if __name__ == "__main__":
    main()
