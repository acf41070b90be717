"""Choose k of the D embedding dimensions, and measure each choice against random dimensions.

Random subsets are a strong baseline for rows, and the feature-selection literature finds
the same for columns. This module chooses k dimensions by

* ``variance`` — the k columns with the largest variance;
* ``pivoted-qr`` — column subset selection by QR with column pivoting of the centred matrix
  (Businger & Golub 1965): each next column is the one least explained by those chosen;
* ``inf-fs`` — Infinite Feature Selection (Roffo, Melzi & Cristani 2015), unsupervised:
  features are nodes of a graph weighted by spread and (1 - |Spearman correlation|), and a
  feature's score sums the weights of all paths through it, of every length;
* ``matryoshka`` — the first k dimensions (prefix truncation, meaningful for models trained
  with Matryoshka representation learning, Kusupati et al. 2022; for others, an arbitrary
  fixed subset);
* ``omp`` — supervised: simultaneous orthogonal matching pursuit on the one-hot labels (Pati,
  Rezaiifar & Krishnaprasad 1993; Tropp, Gilbert & Strauss 2006), each next column the one
  most correlated with what the columns chosen so far leave unexplained of the labels;

and :func:`dimension_report` measures each choice against R random k-column subsets (drawn
from ``SeedSequence(seed).spawn(R)``, the scorecard's random draws), on three questions:

* ``knn_recall`` — kNN-neighbourhood preservation: the share of each row's 10 nearest
  neighbours in the full space that stay among its 10 nearest in the k dimensions;
* ``probe_accuracy`` — a logistic-regression probe trained on the pool rows of the
  exploration holdout (:func:`~explorer.evaluate.probes.holdout_split`) in the k dimensions,
  scored on its held-out rows (the supervised method sees the pool's labels only);
* ``coverage_agreement`` — the scorecard's coverage of a fixed selection: the Spearman
  correlation, over rows, of each row's distance to its nearest pick in the full space and
  in the k dimensions. Raw distances shrink with the dimensions' variance, so they cannot be
  compared across subsets; their ranking can: 1 means the k dimensions tell which rows a
  selection covers well, and which badly, exactly as the full space does.

Each value gets the scorecard's treatment (:class:`~explorer.evaluate.scorecard.MetricScore`):
random mean, spread, 5-95 % band, percentile and verdict, plus a one-sided p-value with
Holm's correction across the methods.

References
----------
Businger, P. & Golub, G. H. (1965). Linear least squares solutions by Householder
transformations. Numerische Mathematik 7, 269-276.
Roffo, G., Melzi, S. & Cristani, M. (2015). Infinite feature selection. ICCV, 4202-4210.
Kusupati, A. et al. (2022). Matryoshka representation learning. NeurIPS.
Pati, Y. C., Rezaiifar, R. & Krishnaprasad, P. S. (1993). Orthogonal matching pursuit.
Asilomar Conference on Signals, Systems and Computers.
Tropp, J. A., Gilbert, A. C. & Strauss, M. J. (2006). Algorithms for simultaneous sparse
approximation. Part I: Greedy pursuit. Signal Processing 86(3), 572-588.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from . import space
from .data.dataset import Dataset, fingerprint
from .data.shards import ShardedDataset
from .errors import ExplorerError
from .params import (METRIC, OPTIONAL_CALLBACK, OPTIONAL_COLUMN, SEED, InstanceOf, Interval,
                     Options, SequenceOf, check_param, validate_params)

#: method -> (needs labels, one-sentence description)
METHODS = {
    "variance": (False, "The k dimensions with the largest variance."),
    "pivoted-qr": (False, "Column subset selection by QR with column pivoting: each next "
                   "dimension is the one least explained by those already chosen."),
    "inf-fs": (False, "Infinite Feature Selection (unsupervised): dimensions that spread the "
               "data and are little correlated with the others, over paths of every length."),
    "matryoshka": (False, "The first k dimensions (prefix truncation; meaningful for models "
                   "trained with Matryoshka representation learning)."),
    "omp": (True, "Supervised: orthogonal matching pursuit on the labels, each next dimension "
            "the one that best explains what the chosen ones leave unexplained."),
}
#: metric -> (higher_is_better, description)
DIMENSION_METRICS = {
    "knn_recall": (True, "Share of each row's 10 nearest neighbours in the full space that "
                   "stay among its 10 nearest in the chosen dimensions."),
    "probe_accuracy": (True, "Held-out accuracy of a logistic-regression probe trained in the "
                       "chosen dimensions."),
    "coverage_agreement": (True, "Spearman correlation over rows of the distance to the "
                           "nearest pick of a fixed selection, full space vs chosen "
                           "dimensions (1 = the scorecard's coverage reads the same)."),
}
#: Rows used to fit pivoted QR and Inf-FS, and queried for neighbours, above which a seeded
#: sample is used (the fits see a D x D summary; 20,000 rows estimate it well).
FIT_ROWS = 20_000
QUERY_ROWS = 2_000
#: A sharded dataset's dimension report reads this many rows, a uniform sample keyed by
#: hash(seed, row id), into memory: what the report measures on one file's rows (fits on
#: 20,000, queries 2,000) has room in it.
SHARD_SAMPLE_ROWS = 50_000
DIMENSIONS_FORMAT = "subset-explorer-dimensions"
DIMENSIONS_VERSION = 1


@dataclass(frozen=True, eq=False)
class DimensionChoice:
    """k chosen dimensions of a D-dimensional embedding.

    Attributes
    ----------
    indices : int64 column indices, most important first (``matryoshka``: 0..k-1).
    method, k, dim : how many of how many, by which method.
    scores : the method's per-dimension score (length D; higher = chosen earlier), or None.
    metric, seed, label_column : what the choice depended on.
    fingerprint : the dataset's fingerprint ('' for a bare array).
    """

    indices: np.ndarray
    method: str
    k: int
    dim: int
    scores: np.ndarray | None = field(default=None, repr=False)
    metric: str = "euclidean"
    seed: int = 0
    label_column: str | None = None
    fingerprint: str = ""

    def reduce(self, X) -> np.ndarray:
        """The chosen columns of ``X`` (N x D), in the choice's order, as float32."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ExplorerError(f"The dimension choice is for {self.dim}-dimensional vectors; "
                                f"got shape {X.shape}.")
        return np.ascontiguousarray(X[:, self.indices], dtype=np.float32)


def _check_k(owner: str, k, dim: int) -> int:
    """``k`` dimensions of ``dim``: a bound the embedding sets, so ``k`` is checked here
    rather than declared in the function's constraints."""
    check_param(owner, "k", k, [Interval("int", 1, dim)],
                f"the embedding has {dim} dimensions")
    return int(k)


METHOD = Options(tuple(METHODS))
DATASET = InstanceOf((Dataset,), "a Dataset (from explorer.load)")
#: What :func:`dimension_report` takes: a dataset in memory, or a sharded one (measured on a
#: uniform sample of :data:`SHARD_SAMPLE_ROWS` rows).
ANY_DATASET = InstanceOf((Dataset, ShardedDataset), "a Dataset or a sharded dataset (from "
                         "explorer.load)")
CHOICE = InstanceOf((DimensionChoice,), "a DimensionChoice (from choose_dimensions)")


def _fit_rows(n: int, seed: int) -> np.ndarray:
    if n <= FIT_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, FIT_ROWS, replace=False))


def variance_scores(X: np.ndarray) -> np.ndarray:
    """Each column's variance.

    >>> variance_scores(np.array([[0.0, 1.0], [2.0, 1.0]])).tolist()
    [1.0, 0.0]
    """
    return np.asarray(X, dtype=np.float64).var(axis=0)


def pivoted_qr_order(X: np.ndarray) -> np.ndarray:
    """Column order of a QR factorisation with column pivoting of the centred ``X``
    (``scipy.linalg.qr(..., pivoting=True)``): first the largest column, then each time the
    one with the largest part outside the span of those before it.

    >>> a = np.array([1.0, -1.0, 2.0, 0.0])
    >>> b = np.array([0.0, 1.0, 0.0, -1.0])
    >>> pivoted_qr_order(np.column_stack([a, 2 * a, b])).tolist()[:2]  # 2a, then b (a adds 0)
    [1, 2]
    """
    import scipy.linalg

    Xc = np.asarray(X, dtype=np.float64)
    Xc = Xc - Xc.mean(axis=0)
    _, pivots = scipy.linalg.qr(Xc, mode="r", pivoting=True)
    return np.asarray(pivots, dtype=np.int64)


def inf_fs_scores(X: np.ndarray, alpha: float = 0.5, factor: float = 0.9) -> np.ndarray:
    """Infinite Feature Selection scores (unsupervised; Roffo, Melzi & Cristani 2015).

    The features are the nodes of a complete graph with weights ``a_ij = alpha * s_ij +
    (1 - alpha) * c_ij``: ``s_ij`` is ``max(std_i, std_j)`` rescaled to [0, 1] over all
    pairs, ``c_ij = 1 - |Spearman(f_i, f_j)|``. The value of every path through a feature,
    of every length, sums to ``S = (I - rA)^-1 - I`` (the geometric series of ``rA``, which
    converges for ``r < 1 / rho(A)``; ``r = factor / rho(A)``); a feature's score is its row
    sum of S.

    >>> rng = np.random.default_rng(0)
    >>> f = rng.normal(size=(200, 1))
    >>> X = np.column_stack([f, f, rng.normal(size=200), 0.1 * rng.normal(size=200)])
    >>> int(np.argmax(inf_fs_scores(X)))  # spread out and correlated with nothing else
    2
    """
    from scipy.stats import rankdata

    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    std = X.std(axis=0)
    spread = np.maximum(std[:, None], std[None, :])
    low, high = spread.min(), spread.max()
    spread = (spread - low) / (high - low) if high > low else np.zeros_like(spread)
    ranks = rankdata(X, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.corrcoef(ranks, rowvar=False) if d > 1 else np.ones((1, 1))
    rho = np.nan_to_num(np.atleast_2d(rho), nan=0.0)  # a constant column: uncorrelated
    A = alpha * spread + (1.0 - alpha) * (1.0 - np.abs(rho))
    top = float(np.max(np.abs(np.linalg.eigvalsh(A))))
    if top == 0.0:
        return np.zeros(d)
    r = factor / top
    eye = np.eye(d)
    S = np.linalg.solve(eye - r * A, eye) - eye
    return S.sum(axis=1)


def omp_order(X: np.ndarray, labels, k: int) -> np.ndarray:
    """The first ``k`` columns chosen by simultaneous orthogonal matching pursuit on the
    one-hot, centred ``labels``: each step takes the (unit-norm, centred) column whose
    correlations with the residuals of all classes have the largest L2 norm, then projects
    the residuals off the chosen columns (Tropp, Gilbert & Strauss 2006).

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 5))
    >>> y = np.where(X[:, 3] > 0, "up", "down")
    >>> int(omp_order(X, y, 1)[0])
    3
    """
    X = np.asarray(X, dtype=np.float64)
    Xc = X - X.mean(axis=0)
    norms = np.linalg.norm(Xc, axis=0)
    Xc = np.divide(Xc, norms, out=np.zeros_like(Xc), where=norms > 0)
    _, codes = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    R = np.eye(codes.max() + 1)[codes]
    R -= R.mean(axis=0)
    chosen: list[int] = []
    basis: list[np.ndarray] = []
    free = np.ones(X.shape[1], dtype=bool)
    for _ in range(k):
        gain = np.linalg.norm(Xc.T @ R, axis=1)
        gain[~free] = -np.inf
        j = int(np.argmax(gain))
        chosen.append(j)
        free[j] = False
        q = Xc[:, j].copy()
        for _ in range(2):  # Gram-Schmidt twice keeps the basis orthogonal in floating point
            for b in basis:
                q -= (b @ q) * b
        size = np.linalg.norm(q)
        if size > 1e-10:  # a column inside the span adds nothing to project out
            q /= size
            basis.append(q)
            R -= np.outer(q, q @ R)
    return np.asarray(chosen, dtype=np.int64)


def _label_array(data, label_column, labels, rows):
    if labels is None and label_column is None:
        return None
    if labels is None:
        col = data.column(label_column, "labels")
        if col.isna().any():
            raise ExplorerError(f"Column {label_column!r} (labels) has missing values; fill "
                                "them or drop those rows.")
        labels = col.astype(str).to_numpy()
    labels = np.asarray(labels)
    return labels if rows is None else labels[rows]


@validate_params({"method": [METHOD],
                  "label_column": OPTIONAL_COLUMN, "metric": [METRIC], "seed": [SEED],
                  "alpha": [Interval("float", 0, 1)]})
def choose_dimensions(data, k: int, method: str, *, label_column: str | None = None,
                      labels=None, rows=None, metric: str = "euclidean", seed: int = 0,
                      alpha: float = 0.5) -> DimensionChoice:
    """Choose ``k`` of the embedding's dimensions with ``method`` (see :data:`METHODS`).

    Parameters
    ----------
    data : a Dataset, or an (N, D) array.
    k : how many dimensions, 1..D.
    method : 'variance', 'pivoted-qr', 'inf-fs', 'matryoshka' or 'omp' (needs labels).
    label_column, labels : the class labels for 'omp' (a column of ``data``, or an array of
        N labels).
    rows : the rows a method may look at (default all); give the training rows when the
        choice is to be evaluated on the others (the supervised method sees their labels).
    metric : 'cosine' L2-normalises the rows first (the space the strategies work in).
    seed : seeds the row sample used above 20,000 rows (pivoted QR, Inf-FS).
    alpha : Inf-FS's mix of spread and decorrelation.

    Returns
    -------
    DimensionChoice

    Examples
    --------
    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> choice = choose_dimensions(data, 4, "variance")
    >>> choice.indices.tolist(), choice.reduce(data.embeddings).shape
    ([42, 43, 34, 35], (1797, 4))
    >>> choose_dimensions(data, 4, "omp", label_column="label").indices.tolist()
    [33, 21, 60, 36]
    """
    is_data = isinstance(data, Dataset)
    X = space.prepare(data.embeddings, metric, ids=data.ids) if is_data else \
        np.asarray(data, dtype=np.float32)
    if X.ndim != 2:
        raise ExplorerError(f"choose_dimensions: expected an (N, D) matrix, got shape "
                            f"{X.shape}.")
    if not is_data and metric == "cosine":
        X = space.prepare(X, metric)
    n, dim = X.shape
    k = _check_k("choose_dimensions", k, dim)
    if rows is not None:
        rows = np.asarray(rows, dtype=np.int64)
        X = np.asarray(X[rows])
        n = len(rows)
    scores = None
    if method == "matryoshka":
        order = np.arange(dim, dtype=np.int64)
    elif method == "variance":
        scores = variance_scores(X)
        order = np.argsort(-scores, kind="stable")
    elif method == "pivoted-qr":
        order = pivoted_qr_order(np.asarray(X[_fit_rows(n, seed)]))
    elif method == "inf-fs":
        scores = inf_fs_scores(np.asarray(X[_fit_rows(n, seed)]), alpha=alpha)
        order = np.argsort(-scores, kind="stable")
    else:
        y = _label_array(data if is_data else None, label_column, labels, rows)
        if y is None:
            raise ExplorerError("The 'omp' dimension method needs labels (label_column=, "
                                "--label-column).")
        if len(y) != n:
            raise ExplorerError(f"choose_dimensions: {len(y)} labels for {n} rows.")
        order = omp_order(np.asarray(X), y, k)
    return DimensionChoice(indices=np.asarray(order[:k], dtype=np.int64), method=method, k=k,
                           dim=dim, scores=scores, metric=metric, seed=int(seed),
                           label_column=label_column,
                           fingerprint=data.fingerprint if is_data else "")


@validate_params({"data": [DATASET], "choice": [CHOICE]})
def reduce(data: Dataset, choice: DimensionChoice) -> Dataset:
    """``data`` with only the chosen dimensions (same ids and metadata, its own
    fingerprint); refused when the choice was made on other data.

    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> small = reduce(data, choose_dimensions(data, 8, "matryoshka"))
    >>> small.dim, bool((small.embeddings == data.embeddings[:, :8]).all())
    (8, True)
    """
    if choice.fingerprint and choice.fingerprint != data.fingerprint:
        raise ExplorerError(f"The dimension choice was made on other data (fingerprint "
                            f"{choice.fingerprint}, this data has {data.fingerprint}).")
    X = choice.reduce(data.embeddings)
    opts = dict(data.options)
    opts["dimensions"] = f"{choice.method} k={choice.k}"
    return Dataset(X, data.ids, data.metadata, fingerprint(X, data.ids), data.source,
                   data.dropped_ids, opts)


# ----------------------------------------------------------------------------- measuring


def _normalised(X: np.ndarray, metric: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if metric != "cosine":
        return X
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def nearest_neighbours(X: np.ndarray, queries: np.ndarray, m: int) -> np.ndarray:
    """For each query row (indices into ``X``), its ``m`` nearest other rows (squared
    euclidean; pass L2-normalised rows for cosine), as a (Q, m) array; blocked so that at
    most ``space.BLOCK_BYTES`` of distances are held at once.

    >>> X = np.array([[0.0], [1.0], [3.0], [7.0]], dtype=np.float32)
    >>> nearest_neighbours(X, np.array([0, 3]), 2).tolist()
    [[1, 2], [2, 1]]
    """
    n = X.shape[0]
    m = min(m, n - 1)
    x_sq = space.sq_norms(X)
    out = np.empty((len(queries), m), dtype=np.int64)
    step = max(1, space.BLOCK_BYTES // (4 * n))
    for a in range(0, len(queries), step):
        q = queries[a : a + step]
        d = space.sq_distances(X[q], X, x_sq[q], x_sq)
        d[np.arange(len(q)), q] = np.inf
        part = np.argpartition(d, m - 1, axis=1)[:, :m]
        order = np.argsort(np.take_along_axis(d, part, axis=1), axis=1, kind="stable")
        out[a : a + step] = np.take_along_axis(part, order, axis=1)
    return out


@dataclass(frozen=True, eq=False)
class _Bench:
    """Everything measured once per dataset: the full-space neighbours, the probe, the
    fixed selection's full-space coverage distances."""

    X: np.ndarray
    metric: str
    queries: np.ndarray
    neighbours: np.ndarray
    probe: object | None
    pool_rows: np.ndarray | None
    picks: np.ndarray
    full_cover: np.ndarray
    m: int

    def measure(self, cols: np.ndarray) -> dict[str, float]:
        from scipy.stats import spearmanr

        Z = _normalised(self.X[:, cols], self.metric)
        found = nearest_neighbours(Z, self.queries, self.m)
        hits = [len(np.intersect1d(a, b, assume_unique=True))
                for a, b in zip(found, self.neighbours)]
        out = {"knn_recall": float(np.mean(hits)) / self.m}
        if self.probe is not None:
            p = self.probe
            sub = replace(p, X_pool=p.X_pool[:, cols], X_eval=p.X_eval[:, cols])
            out["probe_accuracy"] = sub.run(np.arange(len(p.X_pool)))["accuracy"]
        near, _ = space.nearest(Z, Z[self.picks], "euclidean")
        rho = spearmanr(self.full_cover, near).statistic
        out["coverage_agreement"] = float(rho) if np.isfinite(rho) else 0.0
        return out


@dataclass(frozen=True, eq=False)
class DimensionReport:
    """Dimension choices at one k, each against R random k-column subsets.

    ``scores[method][metric]`` is a :class:`~explorer.evaluate.scorecard.MetricScore`;
    ``choices[method]`` the :class:`DimensionChoice`; ``p_holm[method][metric]`` the
    Holm-corrected one-sided p-value (better than random) across the methods; ``full`` the
    full space's own values (neighbour recall and coverage agreement are 1 there).
    """

    k: int
    dim: int
    metric: str
    random_draws: int
    seed: int
    choices: dict
    scores: dict
    p_holm: dict
    full: dict
    selection_size: int
    notes: tuple = ()

    def to_frame(self) -> pd.DataFrame:
        """One row per method x metric: value, random mean / p05 / p95, percentile,
        p-value (Holm across methods) and the scorecard's verdict."""
        rows = []
        for method, per in self.scores.items():
            for name, s in per.items():
                rows.append({"method": method, "metric": name, "value": s.value,
                             "random_mean": s.random_mean, "random_p05": s.random_p05,
                             "random_p95": s.random_p95, "percentile": s.percentile,
                             "p_holm": self.p_holm[method][name], "verdict": s.verdict,
                             "full_space": self.full.get(name, float("nan"))})
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """Which methods beat random dimensions, metric by metric."""
        frame = self.to_frame()
        parts = []
        for name in DIMENSION_METRICS:
            part = frame[frame["metric"] == name]
            if part.empty:
                continue
            wins = part.loc[part["verdict"] == "better than random", "method"].tolist()
            losses = part.loc[part["verdict"] == "worse than random", "method"].tolist()
            parts.append(f"{name}: better than random {', '.join(wins) or 'none'}"
                         + (f"; worse {', '.join(losses)}" if losses else ""))
        return (f"k = {self.k} of {self.dim} dimensions, against {self.random_draws} random "
                f"{self.k}-dimension subsets. " + ". ".join(parts) + ".")


@validate_params({"data": [ANY_DATASET], "methods": [METHOD, SequenceOf((METHOD,))],
                  "label_column": OPTIONAL_COLUMN,
                  "metric": [METRIC], "random_draws": [Interval("int", 2, None)],
                  "seed": [SEED], "neighbours": [Interval("int", 1, None)],
                  "holdout": [Interval("float", 0, 1, closed="neither")],
                  "progress": OPTIONAL_CALLBACK})
def dimension_report(data: Dataset, k: int, methods=tuple(METHODS), *,
                     label_column: str | None = None, metric: str = "euclidean",
                     random_draws: int = 30, seed: int = 0, selection=None,
                     neighbours: int = 10, holdout: float = 0.2,
                     progress=None, engine=None) -> DimensionReport:
    """Each method's k dimensions against ``random_draws`` random k-dimension subsets, on
    neighbour recall, probe accuracy (with a label column) and coverage agreement.

    Parameters
    ----------
    data : Dataset
    k : dimensions to keep.
    methods : names from :data:`METHODS` ('omp' needs ``label_column``).
    label_column : labels for the probe and the supervised method. The probe trains on the
        pool of :func:`~explorer.evaluate.probes.holdout_split` (seeded, ``holdout`` held
        out) and is scored on the held-out rows; 'omp' chooses from the pool's labels only.
    metric : 'euclidean' or 'cosine' (rows L2-normalised, in the full space and in every
        subspace).
    random_draws : R random k-dimension subsets, ``SeedSequence(seed).spawn(R)``.
    seed : seeds the split, the draws, the neighbour queries and the fixed selection.
    selection : row indices of the fixed selection for ``coverage_agreement`` (default:
        k-center at 5 % of the rows, at least 10, seeded).
    neighbours : the neighbourhood size (default 10: recall@10).
    engine : for a sharded dataset, the engine that reads its uniform sample of
        :data:`SHARD_SAMPLE_ROWS` rows (keys hash(seed, row id)); the report is that of the
        sample, and neighbours are found among its rows.

    Examples
    --------
    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> report = dimension_report(data, 16, ["variance", "matryoshka"], random_draws=10)
    >>> report.scores["variance"]["knn_recall"].verdict
    'better than random'
    """
    from .evaluate.probes import holdout_split, make_probe
    from .evaluate.scorecard import MetricScore, random_subsets
    from .evaluate.stats import holm, prediction_p_value
    from .evaluate import metrics as subset_metrics
    from .selection import select

    k = _check_k("dimension_report", k, data.dim)
    sampled_from = None
    if isinstance(data, ShardedDataset):
        if selection is not None:
            raise ExplorerError("A fixed selection's rows cannot be measured on a sharded "
                                "dataset's sample; leave the selection out (the report draws "
                                "its own on the sample).")
        from .engine.drivers import sample_as_dataset

        sampled_from = data.n
        data = sample_as_dataset(data, SHARD_SAMPLE_ROWS, seed, engine)
    methods = [methods] if isinstance(methods, str) else list(dict.fromkeys(methods))
    for m in methods:
        if METHODS[m][0] and label_column is None:
            raise ExplorerError(f"The {m!r} dimension method needs labels (label_column=, "
                                "--label-column).")

    def tick(fraction, message):
        if progress is not None:
            progress(fraction, message)

    X = np.asarray(space.prepare(data.embeddings, metric, ids=data.ids), dtype=np.float32)
    rng = np.random.default_rng(seed)
    queries = np.arange(data.n) if data.n <= QUERY_ROWS else \
        np.sort(rng.choice(data.n, QUERY_ROWS, replace=False))
    m = min(int(neighbours), data.n - 1)
    tick(0.0, "full-space neighbours")
    full_nn = nearest_neighbours(X, queries, m)
    probe = pool_rows = None
    full = {"knn_recall": 1.0, "coverage_agreement": 1.0}
    if label_column is not None:
        pool_rows, eval_rows = holdout_split(data, label_column, holdout, seed)
        probe = make_probe(data, "logistic", pool_rows, eval_rows, label_column=label_column,
                           metric=metric)
        full["probe_accuracy"] = probe.run(np.arange(len(pool_rows)))["accuracy"]
    if selection is None:
        budget = min(data.n, max(10, round(0.05 * data.n)))
        picks = select(data, "k-center", budget, seed=seed, metric=metric).indices
    else:
        picks = np.asarray(getattr(selection, "indices", selection), dtype=np.int64)
    full_cover, _ = space.nearest(X, X[picks], "euclidean")
    bench = _Bench(X=X, metric=metric, queries=queries, neighbours=full_nn, probe=probe,
                   pool_rows=pool_rows, picks=picks, full_cover=full_cover, m=m)
    draws = [np.sort(d) for d in random_subsets(data.dim, k, random_draws, seed)]
    random_rows = []
    for r, cols in enumerate(draws):
        random_rows.append(bench.measure(cols))
        tick(0.05 + 0.65 * (r + 1) / len(draws), f"random dimensions {r + 1} of {len(draws)}")
    envelope = pd.DataFrame(random_rows)
    choices, scores, pvals = {}, {}, {}
    for i, method in enumerate(methods):
        choice = choose_dimensions(data, k, method, label_column=label_column,
                                   rows=pool_rows if METHODS[method][0] else None,
                                   metric=metric, seed=seed)
        choices[method] = choice
        values = bench.measure(choice.indices)
        per = {}
        for name, value in values.items():
            hib, text = DIMENSION_METRICS[name]
            vals = envelope[name].to_numpy(dtype=np.float64)
            per[name] = MetricScore(
                name=name, value=float(value), random_mean=float(vals.mean()),
                random_std=float(vals.std(ddof=1)), random_p05=float(np.percentile(vals, 5)),
                random_p95=float(np.percentile(vals, 95)),
                percentile=subset_metrics.percentile_of(value, vals), higher_is_better=hib,
                random_values=vals, description=text)
            pvals[(method, name)] = prediction_p_value(float(value), vals, hib)
        scores[method] = per
        tick(0.7 + 0.3 * (i + 1) / len(methods), f"{method}")
    p_holm = {method: {} for method in methods}
    for name in envelope.columns:
        keys = [(mt, name) for mt in methods]
        for key, p in zip(keys, holm([pvals[key] for key in keys])):
            p_holm[key[0]][name] = float(p)
    notes = []
    if sampled_from is not None:
        notes.append(f"measured on a uniform sample of {data.n:,} of the {sampled_from:,} rows "
                     "of the shards (keys hash(seed, row id)): neighbours are found among the "
                     "sampled rows")
    if data.n > QUERY_ROWS:
        notes.append(f"neighbour recall over a seeded sample of {QUERY_ROWS:,} query rows")
    if data.n > FIT_ROWS:
        notes.append(f"pivoted QR and Inf-FS fitted on a seeded sample of {FIT_ROWS:,} rows")
    return DimensionReport(k=k, dim=data.dim, metric=metric, random_draws=int(random_draws),
                           seed=int(seed), choices=choices, scores=scores, p_holm=p_holm,
                           full=full, selection_size=len(picks), notes=tuple(notes))


# ----------------------------------------------------------------------------- exporting


@validate_params({"data": [DATASET], "choice": [CHOICE]})
def dimensions_manifest(data: Dataset, choice: DimensionChoice) -> dict:
    """The JSON record of a dimension choice: which columns of which dataset, and how.

    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> doc = dimensions_manifest(data, choose_dimensions(data, 3, "matryoshka"))
    >>> doc["format"], doc["indices"], doc["dataset"]["shape"]
    ('subset-explorer-dimensions', [0, 1, 2], [1797, 64])
    """
    from .data.export import versions

    if choice.fingerprint and choice.fingerprint != data.fingerprint:
        raise ExplorerError("The dimension choice was made on other data.")
    return {"format": DIMENSIONS_FORMAT, "version": DIMENSIONS_VERSION,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "method": choice.method, "k": int(choice.k),
            "indices": [int(i) for i in choice.indices], "metric": choice.metric,
            "seed": int(choice.seed), "label_column": choice.label_column,
            "dataset": {"path": data.source, "shape": [data.n, data.dim],
                        "fingerprint": data.fingerprint},
            "versions": versions()}


@validate_params({"data": [DATASET], "choice": [CHOICE]})
def export_dimensions(data: Dataset, choice: DimensionChoice, path, *, manifest=None,
                      force: bool = False) -> Path:
    """Write the reduced matrix to ``path`` (.npy: the float32 matrix; .parquet: ``id`` and
    an ``embedding`` list column) and, with ``manifest``, the JSON record of the chosen
    indices; both committed together (:func:`explorer.data.atomic.write_together`)."""
    from .data.atomic import write_together

    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".parquet"):
        raise ExplorerError(f"{path.name}: the reduced matrix is written as .npy or .parquet.")
    small = reduce(data, choice)

    def write_matrix(tmp: Path) -> None:
        if suffix == ".npy":
            with open(tmp, "wb") as fh:
                np.save(fh, small.embeddings, allow_pickle=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            X = small.embeddings
            column = pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), X.shape[1])
            ids = pa.array([str(i) for i in data.ids]) if data.ids.dtype.kind in "OUS" \
                else pa.array(data.ids)
            pq.write_table(pa.table({"id": ids, "embedding": column}), tmp,
                           compression="zstd")

    writes = [(path, "output", write_matrix)]
    if manifest is not None:
        text = json.dumps(dimensions_manifest(data, choice), indent=2) + "\n"
        writes.insert(0, (Path(manifest).expanduser(), "manifest",
                          lambda tmp: tmp.write_text(text, encoding="utf-8")))
    write_together(writes, force=force,
                   inputs=[(data.source, "the data"), ((data.options or {}).get("meta"),
                                                       "the metadata")])
    return path


@validate_params({"path": [InstanceOf((str, Path), "a path")]})
def read_dimensions(path) -> dict:
    """A dimensions manifest, checked against its schema
    (:func:`explorer.data.manifest.validate_dimensions`) before anything uses it."""
    from .data.manifest import validate_dimensions
    from .data.paths import regular_file

    path = regular_file(path, "dimensions manifest")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ExplorerError(f"{path.name}: not valid JSON ({type(exc).__name__}).") from None
    return validate_dimensions(doc, path.name)


@validate_params({"data": [DATASET],
                  "doc": [InstanceOf((dict,), "a dict (from read_dimensions)")]})
def apply_dimensions(data: Dataset, doc: dict) -> Dataset:
    """``data`` reduced to the dimensions a (checked) manifest records; refused when the
    data is not the dataset it was made on."""
    if doc["dataset"]["fingerprint"] != data.fingerprint:
        raise ExplorerError(f"The dimensions were chosen on other data (fingerprint "
                            f"{doc['dataset']['fingerprint']}, this data has "
                            f"{data.fingerprint}).")
    choice = DimensionChoice(indices=np.asarray(doc["indices"], dtype=np.int64),
                             method=doc["method"], k=int(doc["k"]), dim=data.dim,
                             metric=doc.get("metric", "euclidean"), seed=int(doc.get("seed", 0)),
                             label_column=doc.get("label_column"),
                             fingerprint=data.fingerprint)
    return reduce(data, choice)
