"""Downstream probes: train a small model on the selected subset, test it on held-out rows.

Geometry says how a subset looks; a probe says what it is worth for learning. The protocol
keeps the test honest:

1. :func:`holdout_split` sets aside an evaluation set *first* (stratified by the label,
   seeded, 20 % by default). :func:`take_rows` builds the pool Dataset from the remaining
   rows, and strategies only ever run on the pool, so no strategy sees an evaluation row.
2. A :class:`Probe` trains on the selected pool rows (with the selection's importance
   weights when it carries them) and reports on the held-out rows: accuracy, macro-F1 and
   worst-class recall for a logistic-regression or k-nearest-neighbour classifier; R^2 and
   RMSE for a ridge regression on a numeric target.
3. The same probe on R random subsets of the pool of the same size (the draws of
   :func:`explorer.evaluate.scorecard.random_subsets`) is the random envelope;
   :mod:`explorer.evaluate.stats` turns value and envelope into a difference, a bootstrap
   interval, a p-value and, across many strategies and budgets, Holm-corrected verdicts.

:func:`explorer.evaluate.sweep.probe_sweep` runs the whole protocol for strategies x budgets
and returns one long table that also carries the geometric scorecard metrics (computed on
the pool).

The linear probe follows the linear-evaluation protocol of self-supervised learning
(Alain & Bengio 2016; Kolesnikov, Zhai & Beyer 2019); comparing a selection with many
random subsets of the same size follows Guo, Zhao & Bai (2022), DeepCore.

References
----------
Alain, G. & Bengio, Y. (2016). Understanding intermediate layers using linear classifier
probes. arXiv:1610.01644.
Kolesnikov, A., Zhai, X. & Beyer, L. (2019). Revisiting self-supervised visual
representation learning. CVPR.
Guo, C., Zhao, B. & Bai, Y. (2022). DeepCore: A comprehensive library for coreset selection
in deep learning. DEXA.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import space
from ..data.dataset import Dataset, fingerprint
from ..data.rows import row_indices
from ..errors import ExplorerError, preview
from ..params import (METRIC, OPTIONAL_COLUMN, SEED, InstanceOf, Interval, Options,
                      check_param, validate_params)
from .scorecard import random_subsets

#: probe name -> (kind, description)
PROBES = {
    "logistic": ("classification", "Logistic regression (L2, C=1) on the standardised "
                 "embeddings, trained on the subset."),
    "knn": ("classification", "k-nearest-neighbour vote (k=5, or the subset size when "
            "smaller) in the embedding space, trained on the subset."),
    "ridge": ("regression", "Ridge regression (alpha=1) on the standardised embeddings, "
              "trained on the subset (weighted when the selection carries weights)."),
}
#: metric -> (higher_is_better, description), for classification and regression probes.
CLASSIFICATION_METRICS = {
    "accuracy": (True, "Share of held-out rows predicted correctly."),
    "macro_f1": (True, "F1 score averaged over the classes, each class counting the same."),
    "worst_recall": (True, "Recall of the worst-served class: 0 when a class is never "
                     "predicted right (for example, absent from the subset)."),
}
REGRESSION_METRICS = {
    "r2": (True, "Coefficient of determination on the held-out rows (1 = perfect, 0 = no "
           "better than predicting the mean)."),
    "rmse": (False, "Root mean squared error on the held-out rows, in the target's units."),
}
#: A share strictly between 0 and 1 (the held-out fraction).
FRACTION = Interval("float", 0, 1, closed="neither")
#: A number > 0.
POSITIVE = Interval("float", 0, None, closed="neither")


# ----------------------------------------------------------------------------- the split


def _label_codes(data: Dataset, column: str) -> tuple[np.ndarray, np.ndarray]:
    col = data.column(column, "labels")
    if col.isna().any():
        bad = np.flatnonzero(col.isna().to_numpy())
        raise ExplorerError(f"Column {column!r} (labels) has {len(bad)} missing value(s) at ids "
                            f"{preview(data.ids[bad])}. Fill them or drop those rows.")
    names, codes = np.unique(col.astype(str).to_numpy(), return_inverse=True)
    return names, codes.astype(np.int64)


def _numeric_target(data: Dataset, column: str) -> np.ndarray:
    col = data.column(column, "the regression target")
    if col.dtype.kind not in "fiu":
        raise ExplorerError(f"Column {column!r} (the regression target) must be numeric; it "
                            f"holds {col.dtype} values. Pick a numeric column such as a score.")
    y = col.to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        raise ExplorerError(f"Column {column!r} (the regression target) has {len(bad)} missing "
                            f"or infinite value(s) at ids {preview(data.ids[bad])}. Fill or "
                            "drop those rows.")
    return y


@validate_params({"label_column": OPTIONAL_COLUMN, "fraction": [FRACTION], "seed": [SEED]})
def holdout_split(data: Dataset, label_column: str | None = None, fraction: float = 0.2,
                  seed: int = 0, *, locked=None) -> tuple[np.ndarray, np.ndarray]:
    """Split the rows into a selection pool and a held-out evaluation set.

    With a label column the split is stratified: each class gives ``fraction`` of its rows
    (largest remainders make the total ``round(fraction * N)``), and a class always keeps
    at least one row in the pool. Without one it is a plain seeded random split.

    Parameters
    ----------
    data : Dataset
    label_column : the class column to stratify by, or None.
    fraction : share of rows held out, in (0, 1) (default 0.2).
    seed : the same seed gives the same split.
    locked : rows left out of both parts (default: the dataset's locked confirmation split,
        :func:`explorer.data.ledger.locked_rows`; ``()`` splits every row).

    Rows of the dataset's locked confirmation split (:mod:`explorer.evaluate.confirm`) are
    in neither part: the split is made over the other rows, as if they were the dataset.

    Returns
    -------
    (pool_rows, eval_rows) : sorted int64 row indices into ``data``; disjoint, covering all
        rows outside a locked confirmation split.

    Examples
    --------
    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> pool, held = holdout_split(data, "label", 0.2, seed=0)
    >>> len(pool), len(held), len(set(pool) & set(held))
    (1438, 359, 0)
    """
    fraction = float(fraction)
    if locked is None:
        from ..data.ledger import locked_rows

        locked = locked_rows(data)
    if len(locked):  # split the other rows
        rest = np.setdiff1d(np.arange(data.n), np.asarray(locked, dtype=np.int64))
        pool, held = holdout_split(take_rows(data, rest), label_column, fraction, seed,
                                   locked=())
        return rest[pool], rest[held]
    n = data.n
    rng = np.random.default_rng(int(seed))
    if label_column is None:
        n_eval = int(round(fraction * n))
        held = rng.permutation(n)[:n_eval]
    else:
        _, codes = _label_codes(data, label_column)
        counts = np.bincount(codes)
        quota = fraction * counts
        take = np.floor(quota).astype(np.int64)
        short = int(round(fraction * n)) - int(take.sum())
        if short > 0:  # largest remainders first, ties by class order
            order = np.argsort(-(quota - take), kind="stable")[:short]
            take[order] += 1
        take = np.minimum(take, np.maximum(counts - 1, 0))
        parts = []
        for c in range(len(counts)):
            rows = np.flatnonzero(codes == c)
            parts.append(rng.permutation(rows)[: take[c]])
        held = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    held = np.sort(held.astype(np.int64))
    if len(held) == 0 or len(held) == n:
        raise ExplorerError(f"holdout_split: a fraction of {fraction} of {n} rows leaves "
                            f"{len(held)} row(s) held out and {n - len(held)} in the pool; "
                            "both need at least one. Change the fraction.")
    mask = np.ones(n, dtype=bool)
    mask[held] = False
    return np.flatnonzero(mask).astype(np.int64), held


@validate_params({"data": [InstanceOf((Dataset,), "a Dataset (from explorer.load)")]})
def take_rows(data: Dataset, rows) -> Dataset:
    """A new Dataset holding only ``rows`` of ``data`` (in that order), with their ids and
    metadata (index reset) and its own fingerprint. Strategies run on it cannot see the
    other rows; ``rows[i]`` maps its row ``i`` back to ``data``.

    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> pool = take_rows(data, [5, 2, 9])
    >>> pool.n, pool.ids.tolist()
    (3, ['digit-0005', 'digit-0002', 'digit-0009'])
    """
    rows = row_indices(rows, data.n, "take_rows")
    X = np.ascontiguousarray(data.embeddings[rows], dtype=np.float32)
    ids = np.asarray(data.ids)[rows]
    meta = data.metadata.iloc[rows].reset_index(drop=True)
    return Dataset(X, ids, meta, fingerprint(X, ids), data.source, (), dict(data.options))


# ----------------------------------------------------------------------------- the probe

_CONTROLLER = []


def one_blas_thread():
    """Limit BLAS / OpenMP to one thread for the many tiny fits of a probe: on a busy
    machine threaded BLAS makes them many times slower, and one thread keeps results
    identical."""
    if not _CONTROLLER:
        import sklearn.linear_model  # noqa: F401  (load the BLAS / OpenMP libraries first)
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1)


@dataclass(frozen=True, eq=False)
class Probe:
    """A downstream model trained on subsets of the pool and tested on the held-out rows.

    Build it with :func:`make_probe`. ``run(idx, weights)`` trains on pool rows ``idx`` and
    returns the held-out metrics; it is deterministic (same rows, same numbers).

    Attributes
    ----------
    name : 'logistic', 'knn' or 'ridge'.
    X_pool, X_eval : features of the pool and the held-out rows (standardised with the
        pool's mean and standard deviation for logistic and ridge; the metric's space for
        kNN).
    y_pool, y_eval : class codes (classification) or float targets (ridge).
    classes : class names (classification) or None.
    max_iter, C, n_neighbors, alpha : the model's settings.
    """

    name: str
    X_pool: np.ndarray = field(repr=False)
    X_eval: np.ndarray = field(repr=False)
    y_pool: np.ndarray = field(repr=False)
    y_eval: np.ndarray = field(repr=False)
    classes: np.ndarray | None = None
    max_iter: int = 200
    C: float = 1.0
    n_neighbors: int = 5
    alpha: float = 1.0

    @property
    def kind(self) -> str:
        return PROBES[self.name][0]

    @property
    def metrics(self) -> dict:
        """metric -> (higher_is_better, description) for this probe's kind."""
        return CLASSIFICATION_METRICS if self.kind == "classification" else REGRESSION_METRICS

    def run(self, idx, weights=None) -> dict[str, float]:
        """Train on pool rows ``idx`` (optional per-row importance weights, used by logistic
        and ridge; kNN ignores them) and score on the held-out rows.

        A subset holding a single class predicts that class everywhere (accuracy = that
        class's share, worst-class recall 0); kNN uses k = min(n_neighbors, subset size).
        """
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) == 0:
            raise ExplorerError("Probe.run: the subset is empty; a probe needs at least one "
                                "training row.")
        w = None
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != idx.shape or not np.all(np.isfinite(w)) or (w < 0).any():
                raise ExplorerError(f"Probe.run: weights must be {len(idx)} finite, "
                                    "non-negative numbers, one per selected row.")
        Xt, yt = self.X_pool[idx], self.y_pool[idx]
        with one_blas_thread():
            if self.kind == "regression":
                return self._regress(Xt, yt, w)
            return self._classify(Xt, yt, w)

    def _classify(self, Xt, yt, w) -> dict[str, float]:
        present = np.unique(yt)
        if len(present) == 1:
            pred = np.full(len(self.y_eval), present[0])
        elif self.name == "knn":
            from sklearn.neighbors import KNeighborsClassifier

            k = min(self.n_neighbors, len(yt))
            pred = KNeighborsClassifier(n_neighbors=k).fit(Xt, yt).predict(self.X_eval)
        else:
            from sklearn.exceptions import ConvergenceWarning
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(C=self.C, max_iter=self.max_iter)
            with warnings.catch_warnings():
                # A capped iteration count is part of the probe's definition (kept small
                # for speed); the same cap applies to the strategy and to every random draw.
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(Xt, yt, sample_weight=self._normalised(w))
            pred = model.predict(self.X_eval)
        return _classification_scores(self.y_eval, pred)

    def _regress(self, Xt, yt, w) -> dict[str, float]:
        from sklearn.linear_model import Ridge

        model = Ridge(alpha=self.alpha).fit(Xt, yt, sample_weight=self._normalised(w))
        pred = model.predict(self.X_eval)
        resid = self.y_eval - pred
        sst = float(np.sum((self.y_eval - self.y_eval.mean()) ** 2))
        r2 = 1.0 - float(np.sum(resid**2)) / sst if sst > 0 else float("nan")
        return {"r2": r2, "rmse": float(np.sqrt(np.mean(resid**2)))}

    @staticmethod
    def _normalised(w):
        # Scale weights to mean 1 so the regularisation strength means the same as unweighted.
        if w is None:
            return None
        total = w.sum()
        if total <= 0:
            raise ExplorerError("Probe.run: the weights sum to zero; at least one selected row "
                                "needs a positive weight.")
        return w * (len(w) / total)


def _classification_scores(y_true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    classes = np.unique(y_true)
    recalls, f1s = [], []
    for c in classes:
        actual, predicted = y_true == c, pred == c
        tp = float(np.sum(actual & predicted))
        n_act, n_pred = float(actual.sum()), float(predicted.sum())
        recall = tp / n_act
        precision = tp / n_pred if n_pred else 0.0
        recalls.append(recall)
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return {"accuracy": float(np.mean(y_true == pred)), "macro_f1": float(np.mean(f1s)),
            "worst_recall": float(np.min(recalls))}


@validate_params({"probe": [Options(tuple(PROBES))], "label_column": OPTIONAL_COLUMN,
                  "target_column": OPTIONAL_COLUMN, "metric": [METRIC],
                  "max_iter": [Interval("int", 1, None)], "C": [POSITIVE],
                  "n_neighbors": [Interval("int", 1, None)], "alpha": [Interval("float", 0, None)]})
def make_probe(data: Dataset, probe: str, pool_rows, eval_rows, *,
               label_column: str | None = None, target_column: str | None = None,
               metric: str = "euclidean", max_iter: int = 200, C: float = 1.0,
               n_neighbors: int = 5, alpha: float = 1.0) -> Probe:
    """A :class:`Probe` over ``data`` split into ``pool_rows`` and ``eval_rows``.

    Parameters
    ----------
    data : the full Dataset (both parts).
    probe : 'logistic' or 'knn' (need ``label_column``), or 'ridge' (needs a numeric
        ``target_column``).
    pool_rows, eval_rows : from :func:`holdout_split`. ``run`` takes indices into the pool.
    metric : 'euclidean' or 'cosine' (cosine: rows L2-normalised first).
    max_iter, C : logistic regression's iteration cap and inverse regularisation.
    n_neighbors : kNN's k (capped at the subset size).
    alpha : ridge's regularisation.

    Features are standardised with the pool's mean and standard deviation (never the
    held-out rows') for logistic and ridge; kNN votes in the metric's own space.

    Examples
    --------
    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> pool, held = holdout_split(data, "label", seed=0)
    >>> probe = make_probe(data, "logistic", pool, held, label_column="label")
    >>> round(probe.run(range(300))["accuracy"], 3)
    0.883
    """
    pool_rows = np.asarray(pool_rows, dtype=np.int64)
    eval_rows = np.asarray(eval_rows, dtype=np.int64)
    if len(np.intersect1d(pool_rows, eval_rows)):
        raise ExplorerError("make_probe: the pool and the held-out rows overlap; use "
                            "holdout_split to make them.")
    if len(pool_rows) == 0 or len(eval_rows) == 0:
        raise ExplorerError("make_probe: the pool and the held-out set need at least one row "
                            "each.")
    classes = None
    if PROBES[probe][0] == "classification":
        if label_column is None:
            raise ExplorerError(f"The {probe!r} probe needs a label column (label_column=, "
                                "--label-column); for a numeric target use the 'ridge' probe.")
        classes, y = _label_codes(data, label_column)
    else:
        if target_column is None:
            raise ExplorerError("The 'ridge' probe needs a numeric target column "
                                "(target_column=, --target-column).")
        y = _numeric_target(data, target_column)
    X = space.prepare(data.embeddings, metric, ids=data.ids)
    Xp = np.asarray(X[pool_rows], dtype=np.float64)
    Xe = np.asarray(X[eval_rows], dtype=np.float64)
    if probe != "knn":
        mean, std = Xp.mean(axis=0), Xp.std(axis=0)
        std[std == 0] = 1.0
        Xp, Xe = (Xp - mean) / std, (Xe - mean) / std
    return Probe(name=probe, X_pool=Xp, X_eval=Xe, y_pool=y[pool_rows], y_eval=y[eval_rows],
                 classes=classes, max_iter=int(max_iter), C=float(C),
                 n_neighbors=int(n_neighbors), alpha=float(alpha))


@validate_params({"probe": [InstanceOf((Probe,), "a Probe (from make_probe)")],
                  "draws": [Interval("int", 1, None)],
                  "seed": [SEED]})
def random_envelope(probe: Probe, size: int, draws: int = 30, seed: int = 0) -> pd.DataFrame:
    """The probe on ``draws`` random subsets of the pool of ``size`` rows (the draws of
    :func:`~explorer.evaluate.scorecard.random_subsets` with this seed): one row per draw,
    one column per metric.

    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> pool, held = holdout_split(data, "label", seed=0)
    >>> probe = make_probe(data, "knn", pool, held, label_column="label")
    >>> env = random_envelope(probe, 50, draws=5)
    >>> env.shape, bool(env["accuracy"].between(0, 1).all())
    ((5, 3), True)
    """
    n = len(probe.y_pool)  # the size is bounded by the pool: checked here
    check_param("random_envelope", "size", size, [Interval("int", 1, n)],
                f"the pool has {n} rows")
    subsets = random_subsets(n, int(size), int(draws), seed)
    return pd.DataFrame([probe.run(idx) for idx in subsets])
