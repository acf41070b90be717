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

:func:`probe_sweep` runs the whole protocol for strategies x budgets and returns one long
table that also carries the geometric scorecard metrics (computed on the pool).

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
from numbers import Integral, Real

import numpy as np
import pandas as pd

from .. import space
from ..data.dataset import Dataset, fingerprint
from ..data.rows import row_indices
from ..errors import ExplorerError, preview
from ..params import (METRIC, OPTIONAL_CALLBACK, OPTIONAL_COLUMN, SEED, InstanceOf, Interval,
                      Options, SequenceOf, Text, budget_count, check_param, validate_params)
from . import metrics as subset_metrics
from .scorecard import SCORECARD_METRICS
from .scorecard import ScoringContext, random_subsets, random_subsets_at_cost
from .stats import bootstrap_diff_ci, draws_needed, holm, verdict

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
#: A probe by name, as the sweep takes it ('auto' picks by the columns given; 'none' runs none).
PROBE_CHOICE = (Options(("auto", "none", *PROBES)),
                SequenceOf((Options(("none", *PROBES)),), min_items=0), None)
FRACTION = Interval("float", 0, 1, closed="neither")
#: A budget or several: counts, fractions of the pool, or total costs (with a cost column).
POSITIVE = Interval("float", 0, None, closed="neither")
BUDGETS = (POSITIVE, SequenceOf((POSITIVE,)))
#: One count budget: a whole number of rows, or a fraction of the pool.
COUNT_BUDGET = (Interval("int", 1, None), FRACTION)
VERDICT_NOTE = ("Verdicts use Holm-corrected one-sided p-values across every strategy and "
                "budget of a metric, at alpha {alpha}.")


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


def _one_thread():
    """Limit BLAS / OpenMP to one thread for the many tiny fits of a probe: on a busy
    machine threaded BLAS makes them ~30x slower, and one thread keeps results identical."""
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
        with _one_thread():
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


# ----------------------------------------------------------------------------- the sweep


def _resolve_probes(probe, label_column, target_column) -> list[str]:
    if probe is None or probe == "auto":
        names = []
        if label_column is not None:
            names.append("logistic")
        if target_column is not None:
            names.append("ridge")
        return names
    if isinstance(probe, str):
        probe = [probe]
    names = []
    for p in probe:
        if p == "none":
            continue
        if PROBES[p][0] == "classification" and label_column is None:
            raise ExplorerError(f"The {p!r} probe needs a label column (label_column=, "
                                "--label-column).")
        if PROBES[p][0] == "regression" and target_column is None:
            raise ExplorerError(f"The {p!r} probe needs a numeric target column "
                                "(target_column=, --target-column).")
        if p not in names:
            names.append(p)
    return names


def _resolve_budgets(budgets, n_pool: int, n_total: int, held: int) -> list[int]:
    """Count budgets (each a whole number of rows, or a fraction of the pool) -> distinct
    row counts, sorted; a count larger than the pool is refused."""
    if isinstance(budgets, Real):
        budgets = [budgets]
    out = []
    for b in budgets:
        if isinstance(b, Real) and not isinstance(b, Integral) and b >= 1 and \
                float(b).is_integer():
            b = int(b)  # a whole float is a count
        check_param("probe_sweep", "budgets", b, COUNT_BUDGET,
                    "each budget, without a cost column")
        k = budget_count(b, n_pool)
        if k > n_pool:
            where = (f"the {n_pool} rows of the pool ({n_total} rows minus {held} held out "
                     "for evaluation); lower the budget or the holdout fraction"
                     if held else f"the {n_pool} rows")
            raise ExplorerError(f"budget {k} exceeds {where}.")
        out.append(k)
    return sorted(set(out))


def _resolve_cost_budgets(budgets) -> list[float]:
    """Total-cost budgets (numbers > 0, checked by :func:`probe_sweep`'s ``BUDGETS``),
    sorted and distinct."""
    if isinstance(budgets, Real):
        budgets = [budgets]
    return sorted({float(b) for b in budgets})


def _pool_target(target, pool_rows, n_total: int):
    """Row indices into the full data -> into the pool (held-out rows refused); an (M, D)
    array of embeddings passes unchanged."""
    arr = np.asarray(target)
    if arr.ndim == 2:
        return arr
    arr = row_indices(arr, n_total, "target", repeats="keep", allow_empty=True)
    pos = np.full(n_total, -1, dtype=np.int64)
    pos[pool_rows] = np.arange(len(pool_rows))
    mapped = pos[arr]
    if (mapped < 0).any():
        raise ExplorerError(f"target: {int((mapped < 0).sum())} target row(s) are in the "
                            "held-out evaluation set, which strategies must not see; give "
                            "target rows from the pool, or an array of target embeddings.")
    return mapped


def _distinct_runs(selections, n_kept: int | None) -> list:
    """(row indices, weights) of each selection, its first ``n_kept`` picks (all with None),
    each distinct subset once: seeds that pick the same rows count once."""
    distinct, seen = [], set()
    for sel in selections:
        keep = len(sel) if n_kept is None else n_kept
        idx = sel.indices[:keep]
        w = None if sel.weights is None else sel.weights[:keep]
        key = (np.sort(idx).tobytes(), None if w is None else w.tobytes())
        if key not in seen:
            seen.add(key)
            distinct.append((idx, w))
    return distinct


def _comparison_table(measured: dict, sizes_of: dict, envelope_of: dict, envelopes: dict,
                      direction: dict, kinds: dict, *, seed: int, alpha: float,
                      random_draws: int, spent: dict | None = None) -> pd.DataFrame:
    """The long table of a sweep, from what was measured: one row per (strategy, budget) x
    metric with the value against its random envelope, the bootstrap CI, the p-values and,
    per metric, Holm's correction across every (strategy, budget) and the verdict.

    ``measured`` maps (strategy, budget) to one {metric: value} per distinct run;
    ``sizes_of`` to its size; ``envelope_of`` to its random envelope (a DataFrame, one row
    per draw), one of ``envelopes`` (by size, or by total cost); ``spent`` (under a cost
    budget) to its spend columns. ``attrs`` gets 'measured', 'envelopes' and 'notes'.
    """
    rows = []
    for (name, b), values in measured.items():
        env = envelope_of[(name, b)]
        for m, hib in direction.items():
            vals = np.array([v[m] for v in values], dtype=np.float64)
            rand = env[m].to_numpy(dtype=np.float64)
            finite = rand[np.isfinite(rand)]
            res = bootstrap_diff_ci(vals, rand, higher_is_better=hib, seed=seed)
            value = float(np.mean(vals)) if np.isfinite(vals).all() else float("nan")
            rows.append({
                "strategy": name, "budget": b, "size": sizes_of[(name, b)], "metric": m,
                "kind": kinds[m], "higher_is_better": hib, "value": value,
                "n_values": len(vals),
                "random_mean": float(finite.mean()) if len(finite) else float("nan"),
                "random_std": float(finite.std(ddof=1)) if len(finite) > 1 else float("nan"),
                "random_p05": float(np.percentile(finite, 5)) if len(finite) else float("nan"),
                "random_p95": float(np.percentile(finite, 95)) if len(finite) else
                float("nan"),
                "percentile": subset_metrics.percentile_of(value, rand),
                "difference": res.difference, "ci_low": res.ci_low, "ci_high": res.ci_high,
                "p_value": res.p_value, "p_worse": res.p_worse, "p_rank": res.p_rank,
                **({} if spent is None else spent[(name, b)]),
            })
    table = pd.DataFrame(rows)
    table["p_holm"] = np.nan
    table["p_worse_holm"] = np.nan
    for m, part in table.groupby("metric", sort=False):
        table.loc[part.index, "p_holm"] = holm(part["p_value"].to_numpy())
        table.loc[part.index, "p_worse_holm"] = holm(part["p_worse"].to_numpy())
    table["verdict"] = [verdict(p, q, alpha) for p, q in
                        zip(table["p_holm"], table["p_worse_holm"])]
    order = ["strategy", "budget", "size", "metric", "kind", "higher_is_better", "value",
             "n_values", "random_mean", "random_std", "random_p05", "random_p95",
             "percentile", "difference", "ci_low", "ci_high", "p_value", "p_holm", "p_worse",
             "p_worse_holm", "p_rank", "verdict"]
    if spent is not None:
        order[3:3] = ["spend", "random_size", "random_spend"]
    table = table[order]

    notes = [VERDICT_NOTE.format(alpha=alpha)]
    comparisons = len(measured)
    if all(len(v) == 1 for v in measured.values()):
        notes.append("p-values: one-sided prediction-interval t-tests against the random "
                     "draws (they assume the metric over random subsets is roughly normal); "
                     "p_rank is the distribution-free rank p-value, floored at 1/(R+1).")
        if comparisons / (random_draws + 1) >= alpha:
            notes.append(f"With {random_draws} random draws the rank p-values alone could not "
                         f"support a claim after Holm over {comparisons} comparisons; "
                         f"random_draws >= {draws_needed(comparisons, alpha)} would let them.")
    # the per-run and per-draw values behind each row, for resampling (the budget advisor)
    table.attrs.update({
        "measured": {key: {m: [float(v[m]) for v in values] for m in direction}
                     for key, values in measured.items()},
        "envelopes": {size: {m: env[m].astype(float).tolist() for m in direction}
                      for size, env in envelopes.items()},
        "notes": notes})
    return table


#: Why no probe runs on an engine (the one line a refused --probe gets).
NO_PROBE_ON_ENGINE = ("the distributed strategies cannot keep held-out rows out of their "
                      "picks yet (no excluded rows on an engine), so a probe could be tested "
                      "on rows it was trained on")


@validate_params({"strategies": [Text(), SequenceOf((Text(),))], "probe": PROBE_CHOICE,
                  "label_column": OPTIONAL_COLUMN, "target_column": OPTIONAL_COLUMN,
                  "score_column": OPTIONAL_COLUMN, "cost_column": OPTIONAL_COLUMN})
def check_sweep_on_engine(data, strategies, *, probe="auto", probe_names=None,
                          label_column: str | None = None, target_column: str | None = None,
                          geometry: bool = True, score_column: str | None = None,
                          cost_column: str | None = None) -> list[str]:
    """Refuse, before anything runs, what a sweep on an engine cannot do: a strategy with
    no distributed form (select's message), a probe asked for by name, a score column or a
    cost budget (select's rule on an engine), a locked confirmation split. Returns the
    table's notes ('auto' probes: none ran, and why). ``probe_names`` as
    :func:`_resolve_probes` gives them (resolved here when None)."""
    from ..data.ledger import locked_rows
    from ..engine import drivers
    from ..selection import refuse_on_engine

    if probe_names is None:
        probe_names = _resolve_probes(probe, label_column, target_column)
    for name in strategies:
        drivers.check_form(name)
    notes = []
    if probe_names:
        if probe is None or probe == "auto":
            notes.append(f"no probe ran: on an engine {NO_PROBE_ON_ENGINE}; the table holds "
                         "the scorecard only.")
        else:
            raise ExplorerError(f"probe {', '.join(probe_names)}: not run on an engine or a "
                                f"sharded dataset: {NO_PROBE_ON_ENGINE}; use probe 'none' "
                                "(--probe none), or compare on one file without --engine.")
    if not geometry:
        raise ExplorerError("probe_sweep: nothing to measure on an engine: no probe runs "
                            "there and geometry=False.")
    refuse_on_engine(score_column=score_column, cost_column=cost_column)
    if isinstance(data, Dataset) and len(locked_rows(data)):
        raise ExplorerError(f"{data.name} has a locked confirmation split, which runs on an "
                            "engine cannot keep out of their picks yet; compare on one file "
                            "without --engine.")
    return notes


def _sweep_on_engine(data, strategies, budgets, *, engine, probe, probe_names, seeds,
                     random_draws, seed, metric, alpha, geometry, label_column, group_column,
                     score_column, params, target, progress, cost_column) -> pd.DataFrame:
    """:func:`probe_sweep` on an engine (its arguments, checked there): every strategy in
    its distributed form at every budget (each budget its own run: the distributed forms
    do not all keep smaller budgets as prefixes), then the engine's scorecard of every
    distinct selection and of ``random_draws`` random subsets per size in one pass
    (:func:`explorer.engine.drivers.sweep_scores`), then the same statistics as on one
    machine (:func:`_comparison_table`).

    Probes are refused: the protocol holds rows out *before* selecting, and the distributed
    forms take no excluded rows, so the held-out rows would be candidates. 'auto' runs none
    (the table says so). A locked confirmation split is refused for the same reason. Cost
    budgets and a score column are refused as ``select`` on an engine refuses them.
    """
    from ..engine import drivers, get_engine
    from ..selection import select
    from ..strategies import get_strategy

    notes = check_sweep_on_engine(data, strategies, probe=probe, probe_names=probe_names,
                                  geometry=geometry, score_column=score_column,
                                  cost_column=cost_column)
    sizes = _resolve_budgets(budgets, data.n, data.n, 0)
    owned = not hasattr(engine, "submit")
    eng = get_engine(engine)
    try:
        total_steps = len(strategies) * len(sizes) + 1
        done = [0]

        def tick(message: str) -> None:
            done[0] += 1
            if progress is not None:
                progress(min(1.0, done[0] / total_steps), message)

        runs = {}  # (strategy, size) -> list of (idx, weights), distinct
        for name in strategies:
            seed_list = [seed + i for i in range(seeds)] if get_strategy(name).randomized \
                else [seed]
            for b in sizes:
                picked = [select(data, name, b, seed=s, metric=metric, params=params.get(name),
                                 label_column=label_column, group_column=group_column,
                                 target=target, engine=eng) for s in seed_list]
                runs[(name, b)] = _distinct_runs(picked, b)
                tick(f"{name} at budget {b}")
        keys = [(key, i) for key, distinct in runs.items() for i in range(len(distinct))]
        sizes_of = {key: int(round(np.mean([len(i) for i, _ in distinct])))
                    for key, distinct in runs.items()}
        needed = sorted(set(sizes_of.values()))
        values, envelopes, higher = drivers.sweep_scores(
            data, [runs[key][i][0] for key, i in keys], needed, engine=eng, metric=metric,
            random_draws=random_draws, seed=seed,
            progress=None if progress is None else
            (lambda f, m: progress(min(1.0, (done[0] + f) / total_steps), m)))
        tick("the scorecard")
        measured = {key: [] for key in runs}
        for (key, _), value in zip(keys, values):
            measured[key].append(value)
        # the scorecard's metrics in its order, as on one machine
        direction = {name: hib for name, hib, _ in SCORECARD_METRICS if name in higher}
        table = _comparison_table(measured, sizes_of,
                                  {key: envelopes[size] for key, size in sizes_of.items()},
                                  envelopes, direction, dict.fromkeys(direction, "geometry"),
                                  seed=seed, alpha=alpha, random_draws=random_draws)
        table.attrs["notes"] += notes + [
            f"on the {eng.name} engine: each strategy's distributed form, and the engine's "
            "scorecard (coverage over every row, clusters fitted on a uniform sample, MMD by "
            "random Fourier features) against random subsets keyed by hash(seed, row id), "
            "the same on every engine and partitioning (not the one-machine draws)."]
        table.attrs.update({
            "pool_rows": np.arange(data.n, dtype=np.int64),
            "eval_rows": np.zeros(0, np.int64),
            "selections": {key: v[0][0] for key, v in runs.items()},
            "probes": [], "random_draws": random_draws, "seed": seed, "metric": metric,
            "alpha": alpha, "holdout": 0.0, "cost_column": None,
            "space": drivers.engine_space(data, eng), "engine": eng.describe()})
        return table
    finally:
        if owned:
            eng.close()


@validate_params({
    "strategies": [Text(), SequenceOf((Text(),))], "budgets": BUDGETS,
    "label_column": OPTIONAL_COLUMN, "target_column": OPTIONAL_COLUMN, "probe": PROBE_CHOICE,
    "seeds": [Interval("int", 1, None)], "random_draws": [Interval("int", 2, None)],
    "seed": [SEED], "metric": [METRIC], "holdout": [FRACTION], "alpha": [FRACTION],
    "group_column": OPTIONAL_COLUMN, "score_column": OPTIONAL_COLUMN,
    "params": [InstanceOf((dict,), "a dict of strategy -> its parameters"), None],
    "progress": OPTIONAL_CALLBACK, "cost_column": OPTIONAL_COLUMN})
def probe_sweep(data: Dataset, strategies, budgets, *, label_column: str | None = None,
                target_column: str | None = None, probe="auto", seeds: int = 1,
                random_draws: int = 30, seed: int = 0, metric: str = "euclidean",
                holdout: float = 0.2, alpha: float = 0.05, geometry: bool = True,
                group_column: str | None = None, score_column: str | None = None,
                params: dict | None = None, target=None, progress=None,
                cost_column: str | None = None, engine=None) -> pd.DataFrame:
    """Strategies x budgets against random, on downstream probes and the scorecard metrics.

    When a probe runs, ``holdout`` of the rows (stratified by ``label_column`` when given)
    are held out first and every strategy, random draw and scorecard metric works on the
    remaining pool only. Each strategy's value is compared with the same metric on
    ``random_draws`` random subsets of the pool of the same size: the difference from their
    mean with a bootstrap CI, a one-sided p-value and, per metric, Holm's correction across
    every (strategy, budget). The verdict says "better than random" only when that
    corrected p-value is below ``alpha``.

    Parameters
    ----------
    data : Dataset
    strategies : registered strategy names.
    budgets : ints >= 1, or fractions in (0, 1) of the pool.
    label_column : class labels: stratifies the split (whatever the probe) and feeds the
        classification probes, the scorecard's ``label_kl`` and strategies needing labels.
    target_column : a numeric column for the 'ridge' probe.
    probe : 'logistic', 'knn', 'ridge', 'none', a list of them, or 'auto' (logistic with a
        label column, ridge with a target column, else none). 'none' holds nothing out.
    seeds : seeds per strategy (``seed, seed + 1, ...``); strategies whose seed only breaks
        ties run once, and identical selections count once.
    random_draws : R random subsets per budget (default 30). With one seed the p-value is a
        prediction-interval t-test against the R draws (:func:`stats.prediction_p_value`);
        the distribution-free rank p-value (floored at 1 / (R + 1)) is in ``p_rank``.
    seed : seeds the split, the random draws, the bootstrap and the first strategy seed.
    metric : 'euclidean' or 'cosine', for strategies, scorecard and kNN.
    holdout : share of rows held out for the probes (default 0.2).
    alpha : significance level of the verdicts (default 0.05).
    geometry : include the scorecard metrics (coverage, facility location, ...).
    group_column, score_column, params, target : passed to :func:`explorer.select`
        (``params`` maps a strategy name to its parameters; ``target`` is row indices into
        ``data``, which must lie in the pool, or an (M, D) array of target embeddings).
    progress : optional callback ``progress(fraction, message)``.
    cost_column : per-row costs (finite, > 0): ``budgets`` are then total costs (numbers >
        0); every strategy meets each one (``select(..., cost_column=)``), and the random
        envelope of a budget is drawn at that total cost
        (:func:`~explorer.evaluate.scorecard.random_subsets_at_cost`), not at a size. The
        table then adds spend (the strategy's mean cost), random_size and random_spend
        (the draws' mean count and cost).
    engine : None (this process, the one-machine strategies and scorecard), or 'local',
        'dask', a ``distributed.Client`` or an engine (:func:`explorer.engine.get_engine`);
        a sharded dataset always runs on one ('local' by default). There each selection is
        the strategy's distributed form (:func:`explorer.select` with ``engine=``; a
        strategy without one is refused before anything runs) and the metrics are the
        engine's scorecard (:func:`explorer.engine.drivers.sweep_scores`, the metrics of
        ``explorer score --engine``), its random draws keyed by hash(seed, row id): the same
        table on every engine and partitioning, with the local table's columns. No probe
        runs there (see :func:`_sweep_on_engine`).

    Returns
    -------
    pandas.DataFrame
        One row per strategy x budget x metric with columns strategy, budget, size (rows
        actually selected), metric, kind ('probe' or 'geometry'), higher_is_better, value
        (mean over distinct seeds), n_values, random_mean, random_std, random_p05,
        random_p95, percentile, difference (value - random_mean), ci_low, ci_high,
        p_value, p_holm, p_worse, p_worse_holm, p_rank and verdict. With one value per row the
        CI covers the uncertainty of the random mean only (the strategy's subset is taken
        as given); ``seeds > 1`` adds the strategy's own seed-to-seed spread and switches the
        p-value to a permutation test. ``attrs`` holds 'pool_rows',
        'eval_rows', 'selections' ((strategy, budget) -> row indices into ``data``, first
        seed), 'measured' ((strategy, budget) -> metric -> the value of each distinct run),
        'envelopes' (size -> metric -> the value of each random draw), 'notes' and the
        settings.

    Examples
    --------
    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> table = probe_sweep(data, ["k-means"], [100], label_column="label", probe="knn",
    ...                     random_draws=20, geometry=False)
    >>> print(table[["metric", "value", "random_mean", "p_holm", "verdict"]].round(3)
    ...       .to_string(index=False))
              metric  value  random_mean  p_holm                verdict
        knn_accuracy  0.908        0.858   0.006     better than random
        knn_macro_f1  0.908        0.854   0.007     better than random
    knn_worst_recall  0.750        0.553   0.054 within random's spread
    """
    from ..selection import select
    from ..strategies import get_strategy

    from ..data.shards import ShardedDataset

    on_engine = engine is not None or isinstance(data, ShardedDataset)
    if not on_engine:
        check_param("probe_sweep", "data", data,
                    [InstanceOf((Dataset,), "a Dataset (from explorer.load)")])
    if isinstance(strategies, str):
        strategies = [strategies]
    strategies = list(dict.fromkeys(strategies))
    specs = {name: get_strategy(name) for name in strategies}
    seeds, random_draws, seed = int(seeds), int(random_draws), int(seed)
    probe_names = _resolve_probes(probe, label_column, target_column)
    params = params or {}
    for key in params:
        if key not in specs:
            raise ExplorerError(f"params: {key!r} is not one of the strategies swept "
                                f"({', '.join(strategies)}).")
    if on_engine:
        return _sweep_on_engine(data, strategies, budgets, engine=engine, probe=probe,
                                probe_names=probe_names, seeds=seeds,
                                random_draws=random_draws, seed=seed, metric=metric,
                                alpha=alpha, geometry=geometry, label_column=label_column,
                                group_column=group_column, score_column=score_column,
                                params=params, target=target, progress=progress,
                                cost_column=cost_column)
    if not probe_names and not geometry:
        raise ExplorerError("probe_sweep: nothing to measure: no probe and geometry=False.")

    # 1. Hold out the evaluation rows first; everything below sees the pool only.
    if probe_names:
        pool_rows, eval_rows = holdout_split(data, label_column, holdout, seed)
        pool = take_rows(data, pool_rows)
    else:
        from ..data.ledger import locked_rows

        locked = locked_rows(data)  # a locked confirmation split stays out of the pool
        pool_rows = np.setdiff1d(np.arange(data.n, dtype=np.int64), locked)
        eval_rows, pool = np.zeros(0, np.int64), take_rows(data, pool_rows) if len(locked) \
            else data
    if cost_column is None:
        sizes = _resolve_budgets(budgets, pool.n, data.n, len(eval_rows))
    else:
        from ..selection import cost_array

        pool_costs = cost_array(pool, cost_column)
        sizes = _resolve_cost_budgets(budgets)
    from ..data.ledger import note_exploration

    note_exploration(data, "compare", [(s, b) for s in strategies for b in sizes])
    probes = [make_probe(data, p, pool_rows, eval_rows, label_column=label_column,
                         target_column=target_column, metric=metric) for p in probe_names]
    ctx = ScoringContext.build(pool, metric=metric, label_column=label_column, seed=seed) \
        if geometry else None
    pool_target = None if target is None else _pool_target(target, pool_rows, data.n)

    def measure(idx, weights) -> dict[str, float]:
        out = {}
        if ctx is not None:
            with _one_thread():
                out.update(ctx.subset_metrics(idx))
        for pr in probes:
            w = weights if pr.name != "knn" else None
            out.update({f"{pr.name}_{k}": v for k, v in pr.run(idx, w).items()})
        return out

    direction = {}
    kinds = {}
    if ctx is not None:
        # The scorecard's metrics in its order (target metrics need a target set: not here).
        produced = ctx.subset_metrics(np.arange(min(2, pool.n)))
        for name, hib, _ in SCORECARD_METRICS:
            if name in produced:
                direction[name], kinds[name] = hib, "geometry"
    for pr in probes:
        for name, (hib, _) in pr.metrics.items():
            direction[f"{pr.name}_{name}"], kinds[f"{pr.name}_{name}"] = hib, "probe"

    # 2. Run every strategy (greedy ones once at the largest budget, then prefixes).
    total_steps = len(strategies) * len(sizes) + len(sizes)
    step = [0]

    def tick(message: str) -> None:
        step[0] += 1
        if progress is not None:
            progress(min(1.0, step[0] / total_steps), message)

    cache: dict = {}

    def cached_measure(idx, weights) -> dict[str, float]:
        key = (np.asarray(idx, np.int64).tobytes(),
               None if weights is None else np.asarray(weights, np.float64).tobytes())
        if key not in cache:
            cache[key] = measure(idx, weights)
        return cache[key]

    runs = {}  # (strategy, size) -> list of (idx, weights), distinct
    for name in strategies:
        spec = specs[name]
        seed_list = [seed + i for i in range(seeds)] if spec.randomized else [seed]
        kw = dict(metric=metric, params=params.get(name), label_column=label_column,
                  group_column=group_column, score_column=score_column, target=pool_target,
                  cost_column=cost_column)
        per_seed = {}
        for s in seed_list:
            if spec.greedy and cost_column is None:
                largest = select(pool, name, sizes[-1], seed=s, **kw)
                per_seed[s] = {b: largest for b in sizes}
            else:
                per_seed[s] = {b: select(pool, name, b, seed=s, **kw) for b in sizes}
        for b in sizes:
            runs[(name, b)] = _distinct_runs([per_seed[s][b] for s in seed_list],
                                             None if cost_column is not None else b)
            tick(f"{name} at budget {b}")

    # 3. Random envelopes, one per subset size (or, under a cost budget, one per total
    # cost), shared by every strategy of that size (cost).
    envelopes = {}
    drawn_at = {}
    if cost_column is None:
        needed = sorted({int(round(np.mean([len(i) for i, _ in v]))) for v in runs.values()})
    else:
        needed = sizes
    for size in needed:
        draws = random_subsets(pool.n, size, random_draws, seed) if cost_column is None else \
            random_subsets_at_cost(pool_costs, size, random_draws, seed)
        envelopes[size] = pd.DataFrame([cached_measure(d, None) for d in draws])
        if cost_column is not None:
            drawn_at[size] = (float(np.mean([len(d) for d in draws])),
                              float(np.mean([pool_costs[d].sum() for d in draws])))
        tick(f"random envelope at {'size' if cost_column is None else 'cost'} {size}")

    # 4. Statistics per row, then Holm per metric across (strategy, budget).
    measured = {key: [cached_measure(idx, w) for idx, w in distinct]
                for key, distinct in runs.items()}
    sizes_of = {key: int(round(np.mean([len(i) for i, _ in distinct])))
                for key, distinct in runs.items()}
    spent = None if cost_column is None else {
        (name, b): {"spend": float(np.mean([pool_costs[i].sum() for i, _ in distinct])),
                    "random_size": drawn_at[b][0], "random_spend": drawn_at[b][1]}
        for (name, b), distinct in runs.items()}
    envelope_of = {(name, b): envelopes[sizes_of[(name, b)] if cost_column is None else b]
                   for name, b in runs}
    table = _comparison_table(measured, sizes_of, envelope_of, envelopes, direction, kinds,
                              seed=seed, alpha=alpha, random_draws=random_draws, spent=spent)
    first = {key: pool_rows[v[0][0]] for key, v in runs.items()}
    table.attrs.update({"pool_rows": pool_rows, "eval_rows": eval_rows, "selections": first,
                        "probes": probe_names, "random_draws": random_draws,
                        "seed": seed, "metric": metric, "alpha": alpha,
                        "holdout": holdout if probe_names else 0.0,
                        "cost_column": cost_column,
                        "space": ctx.space if ctx is not None else None})
    return table
