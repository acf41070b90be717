"""2-D layouts (UMAP, PaCMAP, t-SNE, PCA) for looking at the data, cached on disk.

The layout is only for looking: no metric is ever computed on it. A cached layout is keyed by
the data fingerprint, the method and its parameters, and the library versions; it is stored
as ``.npz`` (read with ``allow_pickle=False``), written to a temp file and then renamed.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

from . import space
from .errors import ExplorerWarning
from .given_layout import given_layout

CACHE_VERSION = 1
#: Above this many rows, UMAP is fitted on a sample and the other rows are placed among
#: their nearest fitted rows (see :func:`place_rows`).
UMAP_FIT_LIMIT = 200_000
#: ... and computed on a PCA of this many dimensions (the map is for looking, and the
#: neighbour searches, most of a large layout's time, grow with the dimensions).
#: benchmarks/bench_scale.py --umap measures the layout's time.
UMAP_PCA_DIMS = 64
#: PaCMAP's own default number of neighbour pairs per row.
PACMAP_NEIGHBORS = 10
#: The layout methods and the package whose version keys their cache entries.
#: openTSNE's own default perplexity.
TSNE_PERPLEXITY = 30
METHODS = {"umap": "umap-learn", "pacmap": "pacmap", "tsne": "openTSNE", "pca": "scikit-learn"}
#: The layouts' names on screen, in the order they are offered.
LABELS = {"umap": "UMAP", "pacmap": "PaCMAP", "tsne": "t-SNE", "pca": "PCA"}
METHOD_OF_LABEL = {label: method for method, label in LABELS.items()}


def available_methods() -> list[str]:
    """The layout methods whose library is installed here (PaCMAP and t-SNE come with the
    optional ``[layouts]`` extra)."""
    from importlib.util import find_spec

    module = {"umap-learn": "umap", "pacmap": "pacmap", "openTSNE": "openTSNE",
              "scikit-learn": "sklearn"}
    return [m for m, package in METHODS.items() if find_spec(module[package]) is not None]


def cache_dir() -> Path:
    """``$SUBSET_EXPLORER_CACHE`` or ``~/.cache/subset-explorer``."""
    root = os.environ.get("SUBSET_EXPLORER_CACHE") or Path.home() / ".cache" / "subset-explorer"
    return Path(root)


def _versions(method: str) -> dict:
    out = {"numpy": np.__version__, "cache": CACHE_VERSION}
    # package metadata, not an import: importing umap compiles numba code for seconds,
    # and this runs on every page view that asks whether a layout is cached
    from importlib.metadata import PackageNotFoundError, version

    package = METHODS.get(method, "scikit-learn")
    name = {"umap-learn": "umap", "scikit-learn": "sklearn"}.get(package, package)
    try:
        out[name] = version(package)
    except PackageNotFoundError:
        out[name] = "?"
    return out


def cache_key(fingerprint: str, method: str, params: dict) -> str:
    blob = json.dumps({"fp": fingerprint, "method": method, "params": params,
                       "versions": _versions(method)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def layout_record(data, method: str = "umap", **given) -> dict:
    """What a layout of ``data`` was made with: the method, its parameters, the library
    versions and the cache key they give (recorded next to a shipped layout)."""
    params = _params(data, method, given)
    return {"method": method, "params": params, "versions": _versions(method),
            "cache_key": cache_key(data.fingerprint, method, params)}


def _read(path: Path):
    try:
        with np.load(path, allow_pickle=False) as z:
            xy = z["xy"]
        return xy.astype(np.float32) if xy.ndim == 2 and xy.shape[1] == 2 else None
    except Exception:
        return None  # a damaged cache entry is recomputed, never trusted


def _write(path: Path, xy: np.ndarray) -> None:
    from .data.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, force=True) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, xy=xy.astype(np.float32))


def cached_layout(data, method: str) -> np.ndarray | None:
    """The cached layout if there is one (for showing at once), else None."""
    params = _params(data, method, {})
    path = cache_dir() / f"{cache_key(data.fingerprint, method, params)}.npz"
    return _read(path) if path.exists() else None


def _params(data, method, given):
    if method == "pca":
        return {"metric": given.get("metric", "euclidean")}
    if method == "pacmap":
        return {"n_neighbors": int(given.get("n_neighbors") or PACMAP_NEIGHBORS),
                "metric": given.get("metric", "euclidean"), "seed": int(given.get("seed", 0))}
    if method == "tsne":
        return {"perplexity": TSNE_PERPLEXITY, "metric": given.get("metric", "euclidean"),
                "seed": int(given.get("seed", 0))}
    params = {"n_neighbors": int(given.get("n_neighbors") or 15),
              "min_dist": float(given.get("min_dist", 0.1)),
              "metric": given.get("metric", "euclidean"), "seed": int(given.get("seed", 0)),
              "fit_limit": UMAP_FIT_LIMIT}
    if data.n > UMAP_FIT_LIMIT:
        params["placement"] = "neighbour-mean"  # of the rows beyond the fitted sample
        params["pca_dims"] = UMAP_PCA_DIMS
    return params


def layout(data, method: str = "umap", *, n_neighbors: int | None = None,
           min_dist: float = 0.1, metric: str = "euclidean", seed: int = 0,
           use_cache: bool = True, progress=None, given: bool = True) -> np.ndarray:
    """A 2-D layout (N, 2) float32 of ``data``: 'umap' (McInnes, Healy & Melville, 2018),
    'pacmap' (Wang, Huang, Rudin & Shaposhnik, JMLR 2021), 'tsne' (van der Maaten & Hinton,
    JMLR 2008, by openTSNE's FFT-accelerated gradients: Policar, Strazar & Zupan, JSS 2024;
    both with the optional ``[layouts]`` extra) or 'pca'. Cached on disk by fingerprint,
    parameters and library versions. ``progress`` (fraction, message) hears the stages:
    neighbours, then UMAP's epochs or t-SNE's iterations, placing.
    ``n_neighbors`` defaults to 15 for UMAP and 10 for PaCMAP (each library's own default);
    ``min_dist`` is UMAP's only.

    On real text embeddings PaCMAP takes about half of UMAP's time at a lower
    trustworthiness and t-SNE about twice UMAP's at a higher one (``benchmarks/
    bench_peers.py``, figures in docs/bench_peers.md). Both fit every row (no fit limit).

    With ``given`` (the default), a 'umap' layout of data that carries its own layout
    (``x`` / ``y``, ``umap_x`` / ``umap_y``, ``umap_1`` / ``umap_2`` or a 2-wide ``layout``
    column, see :mod:`explorer.given_layout`) is that layout, as it is; an unusable one is
    warned about (:class:`~explorer.errors.ExplorerWarning`) and UMAP computed instead.
    Above ``UMAP_FIT_LIMIT`` rows UMAP runs on a 64-d PCA: it is fitted on a seeded sample and
    every other row is placed among its nearest fitted rows (see :func:`place_rows`).
    """
    if given and method == "umap":
        own = given_layout(data)
        if own.xy is not None:
            return own.xy
        if own.problem:
            warnings.warn(own.problem, ExplorerWarning, stacklevel=2)
    if method not in METHODS:
        raise ValueError(f"unknown layout method {method!r}: one of {', '.join(METHODS)}")
    params = _params(data, method, {"n_neighbors": n_neighbors, "min_dist": min_dist,
                                    "metric": metric, "seed": seed})
    path = cache_dir() / f"{cache_key(data.fingerprint, method, params)}.npz"
    if use_cache and path.exists():
        xy = _read(path)
        if xy is not None and len(xy) == data.n:
            return xy
    X = space.prepare(data.embeddings, metric, ids=data.ids)
    if method == "pca" or data.n < 5:
        xy, _ = space.pca(X, 2, seed=seed)
        if xy.shape[1] < 2:
            xy = np.column_stack([xy[:, 0], np.zeros(len(xy), np.float32)])
    elif method == "pacmap":
        xy = _pacmap(X, params, progress or (lambda fraction, message: None))
    elif method == "tsne":
        xy = _tsne(X, params, progress or (lambda fraction, message: None))
    else:
        xy = _umap(X, params, seed, progress or (lambda fraction, message: None))
    xy = np.asarray(xy, dtype=np.float32)
    if use_cache:
        try:
            _write(path, xy)
        except OSError:
            pass  # a read-only home still gets a layout, just not a cached one
    return xy


class _EpochReport:
    """A file for UMAP's epoch progress bar (tqdm, through its ``tqdm_kwds``), written as
    "n/total" by the format we give it, turned into ``progress`` calls from ``start`` to
    ``end``."""

    def __init__(self, progress, start: float, end: float):
        self.progress, self.start, self.end = progress, start, end

    def write(self, text: str) -> None:
        import re

        found = re.findall(r"(\d+)/(\d+)", text)
        if found:
            n, total = (int(v) for v in found[-1])
            if total > 0:
                self.progress(self.start + (self.end - self.start) * n / total,
                              f"laying out the map, epoch {n} of {total}")

    def flush(self) -> None:
        pass


def umap_reducer(n: int, n_neighbors: int, min_dist: float, seed: int, progress,
                 epochs_end: float = 0.95):
    """umap-learn's UMAP (Euclidean, 2-D, seeded) for ``n`` rows, reporting its epochs to
    ``progress`` from 0.35 to ``epochs_end``."""
    import umap

    epochs = _EpochReport(progress, 0.35, epochs_end)
    return umap.UMAP(n_neighbors=min(n_neighbors, max(2, n - 1)), min_dist=min_dist,
                     metric="euclidean", random_state=seed, n_components=2, low_memory=True,
                     tqdm_kwds={"disable": False, "file": epochs, "mininterval": 0.25,
                                "bar_format": "{n}/{total}"})


def _umap(X: np.ndarray, params: dict, seed: int, progress) -> np.ndarray:
    n = X.shape[0]
    fitted = n <= UMAP_FIT_LIMIT
    reducer = umap_reducer(n, params["n_neighbors"], params["min_dist"], seed, progress,
                           0.95 if fitted else 0.85)
    progress(0.02, "finding each point's nearest neighbours ...")
    if fitted:
        xy = reducer.fit_transform(np.asarray(X, dtype=np.float32))
        progress(1.0, "done")
        return xy
    if X.shape[1] > UMAP_PCA_DIMS:
        X, _ = space.pca(X, UMAP_PCA_DIMS, seed=seed)
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(n, UMAP_FIT_LIMIT, replace=False))
    reducer.fit(np.asarray(X[fit_rows], dtype=np.float32))
    out = np.empty((n, 2), dtype=np.float32)
    out[fit_rows] = reducer.embedding_
    rest = np.setdiff1d(np.arange(n), fit_rows)  # only the rows the fit did not place
    block = 100_000
    for s in range(0, len(rest), block):
        progress(0.85 + 0.15 * s / len(rest), f"placing the other {len(rest):,} rows ...")
        rows = rest[s : s + block]
        out[rows] = place_rows(reducer, np.asarray(X[rows], dtype=np.float32))
    progress(1.0, "done")
    return out


def _layout_package(package: str, method: str):
    """The optional package a layout needs (the [layouts] extra), or a message saying so."""
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError as exc:
        from .errors import ExplorerError

        raise ExplorerError(f"the {method!r} layout needs the {package} package: "
                            "pip install 'subset-explorer[layouts]'") from exc


def _pacmap(X: np.ndarray, params: dict, progress) -> np.ndarray:
    pacmap = _layout_package("pacmap", "pacmap")
    progress(0.02, "PaCMAP: finding each point's neighbour pairs and laying out the map ...")
    n = X.shape[0]
    reducer = pacmap.PaCMAP(n_components=2, n_neighbors=min(params["n_neighbors"], n - 1),
                            random_state=params["seed"], verbose=False)
    xy = reducer.fit_transform(np.asarray(X, dtype=np.float32), init="pca")
    progress(1.0, "done")
    return xy


def _tsne(X: np.ndarray, params: dict, progress) -> np.ndarray:
    openTSNE = _layout_package("openTSNE", "tsne")
    n = X.shape[0]
    phases = (("early exaggeration", 250, 0.1, 0.3), ("main", 500, 0.4, 0.6))
    heard = {"phase": 0, "last": 0}

    def callback(iteration, error, embedding):
        """openTSNE calls it in both phases, counting iterations from 0 in each."""
        if iteration <= heard["last"]:
            heard["phase"] = min(heard["phase"] + 1, len(phases) - 1)
        heard["last"] = iteration
        name, total, start, width = phases[heard["phase"]]
        progress(start + width * min(1.0, iteration / total),
                 f"t-SNE: {name} iteration {iteration} of {total}")

    progress(0.02, "t-SNE: finding each point's nearest neighbours ...")
    # a perplexity needs about three times as many neighbours as rows allow
    tsne = openTSNE.TSNE(n_components=2, perplexity=min(params["perplexity"], (n - 1) / 3),
                         early_exaggeration_iter=phases[0][1], n_iter=phases[1][1],
                         random_state=params["seed"], n_jobs=1, callbacks=callback,
                         callbacks_every_iters=50)
    xy = np.asarray(tsne.fit(np.asarray(X, dtype=np.float32)))
    progress(1.0, "done")
    return xy


def place_rows(reducer, block: np.ndarray) -> np.ndarray:
    """Rows the fit did not see, each at the membership-weighted mean of its nearest fitted
    rows' positions: the start UMAP's own ``transform`` computes (through its public
    ``transform_mode='graph'``), without the refinement epochs that dominate its cost at a
    million rows. A row with no connected neighbour gets the full transform."""
    reducer.transform_mode = "graph"
    try:
        W = reducer.transform(block).tocsr()
    finally:
        reducer.transform_mode = "embedding"
    W.eliminate_zeros()
    sums = np.asarray(W.sum(axis=1)).ravel()
    xy = np.asarray(W @ reducer.embedding_) / np.where(sums > 0, sums, 1.0)[:, None]
    lonely = np.flatnonzero(sums <= 0)
    if len(lonely):
        xy[lonely] = reducer.transform(block[lonely])
    return xy.astype(np.float32)
