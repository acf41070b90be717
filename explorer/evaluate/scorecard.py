"""The scorecard: every subset metric next to the distribution over R random subsets.

A subset's numbers mean little alone; the scorecard places each next to R random subsets of
the same size (drawn as the ``random`` strategy would, under the same pinned and excluded
rows), reporting their mean, spread, 5-95 % band, the subset's percentile and a verdict.
Metrics are computed in the embedding space (or, for large data, its PCA — always stated in
``Scorecard.space``), never in the 2-D layout.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import space
from ..clustering import kmeans
from ..data.dataset import Dataset
from ..data.rows import row_indices
from ..errors import ExplorerError
from ..params import (METRIC, OPTIONAL_CALLBACK, OPTIONAL_COLUMN, SEED, InstanceOf, Interval,
                      Options, check_param, validate_params)
from ..transport import sinkhorn_cost
from . import metrics as subset_metrics

#: (name, higher_is_better, description)
SCORECARD_METRICS = (
    ("coverage_max", False, "The largest distance from any point to its nearest picked point: "
     "the worst-covered point."),
    ("coverage_mean", False, "The average distance from a point to its nearest picked point."),
    ("coverage_p95", False, "95% of points are at most this far from a picked point."),
    ("facility_location", True, "How well the picks represent every point (1 = every point is "
     "picked; facility-location objective, normalised)."),
    ("cluster_kl", False, "How far the subset's mix of k-means clusters is from the data's mix "
     "(KL divergence; 0 = the same mix)."),
    ("cluster_js", False, "Like cluster_kl but symmetric and bounded (Jensen-Shannon, at most "
     "0.69)."),
    ("clusters_hit", True, "How many of the data's k-means clusters have at least one pick."),
    ("label_kl", False, "How far the subset's label mix is from the data's (KL divergence; 0 = "
     "the same mix)."),
    ("mean_pairwise_distance", True, "The average distance between two picked points: higher "
     "is more spread out."),
    ("min_pairwise_distance", True, "The distance between the two closest picked points: "
     "near 0 means near-duplicates were picked."),
    ("vendi", True, "Vendi score: the effective number of distinct directions among the picks "
     "(cosine kernel)."),
    ("mmd", False, "Maximum mean discrepancy to the whole data (RBF kernel): 0 means the subset "
     "is distributed like the data."),
    ("target_mmd", False, "Maximum mean discrepancy to the target set (RBF kernel): 0 means the "
     "subset is distributed like the target."),
    ("target_ot", False, "Optimal-transport cost (entropic, squared distances) of moving the "
     "subset onto the target set: lower means closer to the target."),
)
DIRECTION = {name: hib for name, hib, _ in SCORECARD_METRICS}
DESCRIPTION = {name: text for name, _, text in SCORECARD_METRICS}

PCA_DIMS = 64
#: Where the scorecard measures: the full space (sampled coverage above 20,000 rows), every
#: row, or a 64-d PCA.
SPACE_MODES = Options(("auto", "full", "pca"))
MMD_SAMPLE = 5000
#: Above this many rows, 'auto' measures the coverage metrics (each row's distance to its
#: nearest pick) on a fixed seeded sample of ``COVERAGE_SAMPLE`` rows: the subset and every
#: random draw are measured on the same rows, so the comparison stays fair, and the cost of
#: the draws stops growing with N. The scorecard says so. benchmarks/bench_scorecard.py
#: measures it against brute force.
COVERAGE_ABOVE = 20_000
COVERAGE_SAMPLE = 5_000
COVERAGE_OUTLIERS = 1_000
#: A subset larger than this has its pairwise metrics (mean and min pairwise distance, and the
#: MMD, which needs the subset's kernel mean) measured on a seeded sample of this many of its
#: rows, as is every random draw of its size; the scorecard says so. Exact pairs grow with the
#: square of the size: a dedup that keeps nearly all of 100,000 rows makes a subset of 5e9
#: pairs, and the scorecard measures it and each of its 30 random draws.
PAIRWISE_SAMPLE = 5_000


@dataclass(frozen=True)
class MetricScore:
    """One metric of a subset next to its random envelope."""

    name: str
    value: float
    random_mean: float
    random_std: float
    random_p05: float
    random_p95: float
    percentile: float
    higher_is_better: bool
    random_values: np.ndarray = field(repr=False)
    description: str = ""

    @property
    def verdict(self) -> str:
        """'better than random', "within random's spread" or 'worse than random' (outside the
        5-95 % band of the random draws in the good or the bad direction)."""
        v = self.value
        if not math.isfinite(v) or not math.isfinite(self.random_p05):
            return "not comparable"
        if v > self.random_p95:
            return "better than random" if self.higher_is_better else "worse than random"
        if v < self.random_p05:
            return "worse than random" if self.higher_is_better else "better than random"
        return "within random's spread"

    def to_dict(self) -> dict:
        return {
            "value": _num(self.value),
            "random_mean": _num(self.random_mean),
            "random_std": _num(self.random_std),
            "random_p05": _num(self.random_p05),
            "random_p95": _num(self.random_p95),
            "percentile": _num(self.percentile),
            "higher_is_better": bool(self.higher_is_better),
            "verdict": self.verdict,
        }


def _num(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True, eq=False)
class ScoringContext:
    """Population-side work shared by every subset scored on one dataset and metric:
    the evaluation matrix, norms, clusters, label codes and MMD constants."""

    n: int
    metric: str
    Z: np.ndarray
    z_sq: np.ndarray
    space: str
    clusters: np.ndarray
    n_clusters: int
    labels: np.ndarray | None
    label_names: np.ndarray | None
    label_column: str | None
    gamma: float
    mmd_pp: float
    mmd_rows: np.ndarray
    max_sq: float
    vendi_X: np.ndarray
    fingerprint: str
    seed: int
    #: metrics of random subsets already measured, by (k, pinned, excluded, draws, seed):
    #: scoring another strategy at the same budget reuses them (the draws do not depend on it)
    random_cache: dict = field(default_factory=dict, repr=False)
    #: rows the coverage metrics are measured on (None: every row); the first
    #: ``coverage_uniform`` are a uniform sample, the rest the most outlying rows
    coverage_rows: np.ndarray | None = None
    coverage_uniform: int = 0
    #: positions of ``mmd_rows`` among the coverage rows (all rows when there is no coverage
    #: sample): one matrix product per block then serves the coverage and the MMD
    mmd_at: np.ndarray | None = None

    def _coverage_Z(self) -> np.ndarray:
        if self.coverage_rows is None:
            return self.Z
        cached = self.random_cache.get("coverage_Z")
        if cached is None:
            cached = self.random_cache["coverage_Z"] = np.asarray(self.Z[self.coverage_rows],
                                                                   dtype=np.float32)
        return cached

    def _near_and_kernel_sums(self, subsets):
        """Each coverage row's squared distance to its nearest row of each subset, and each
        subset's MMD cross-kernel sum (NaN above ``PAIRWISE_SAMPLE`` rows: the MMD of such a
        subset is measured on its sample, in :meth:`subset_metrics`)."""
        if len(subsets[0]) > PAIRWISE_SAMPLE:
            return (subset_metrics.nearest_many(self._coverage_Z(), subsets, self.Z),
                    np.full(len(subsets), np.nan))
        return subset_metrics.nearest_and_kernel_sums(self._coverage_Z(), subsets, self.Z,
                                                      self.mmd_at, self.z_sq[self.mmd_rows],
                                                      self.gamma)

    def random_metrics(self, n: int, k: int, draws: int, seed: int, pinned=(), excluded=(),
                       progress=None, costs: np.ndarray | None = None,
                       cost_budget: float | None = None):
        """The R random subsets of size k (or, with ``costs``, of total cost at most
        ``cost_budget``: :func:`random_subsets_at_cost`) and each one's metrics (cached)."""
        size = k if costs is None else \
            ("cost", float(cost_budget), hashlib.blake2b(np.ascontiguousarray(
                costs, dtype=np.float64).tobytes(), digest_size=8).hexdigest())
        key = (size, tuple(int(i) for i in pinned), tuple(int(i) for i in excluded), draws,
               seed)
        hit = self.random_cache.get(key)
        if hit is None:
            subsets = random_subsets(n, k, draws, seed, pinned, excluded) if costs is None \
                else random_subsets_at_cost(costs, cost_budget, draws, seed, pinned, excluded)
            rows: list = [None] * len(subsets)
            # draws of one size together, in one pass each: nearest picks, and the MMD's
            # cross-kernel sums (at a cost the draws' sizes differ)
            sizes = np.array([len(d) for d in subsets])
            done = 0
            for size_r in np.unique(sizes):
                group = np.flatnonzero(sizes == size_r)
                near, ksp = self._near_and_kernel_sums([subsets[r] for r in group])
                for at, r in enumerate(group):
                    rows[r] = self.subset_metrics(subsets[r], near[at], ksp[at])
                    done += 1
                    if progress is not None:
                        progress(done / len(subsets), f"random draw {done} of {len(subsets)}")
            if len(self.random_cache) >= 64:
                oldest = next(k2 for k2 in self.random_cache if k2 != "coverage_Z")
                self.random_cache.pop(oldest)
            hit = self.random_cache[key] = (subsets, rows)
        return hit[0], [dict(r) for r in hit[1]]

    @classmethod
    @validate_params({"metric": [METRIC], "label_column": OPTIONAL_COLUMN,
                      "n_clusters": [Interval("int", 1, None), None],
                      "space_mode": [SPACE_MODES], "seed": [SEED]},
                     owner="ScoringContext.build")
    def build(cls, data: Dataset, *, metric: str = "euclidean", label_column: str | None = None,
              n_clusters: int | None = None, space_mode: str = "auto", seed: int = 0,
              ) -> "ScoringContext":
        """Precompute the population side. ``space_mode``: 'auto', 'full' or 'pca'."""
        Xp = space.prepare(data.embeddings, metric, ids=data.ids)
        n, d = Xp.shape
        # 'auto' stays in the full space: with coverage measured on a bounded sample of
        # rows, its cost does not grow with N, and a PCA can reverse verdicts (k-center's
        # worst-case coverage, chosen in the full space, can look no better than random in a
        # 64-d PCA of clustered data)
        use_pca = space_mode == "pca"
        if use_pca and d > PCA_DIMS:
            Z, kept = space.pca(Xp, PCA_DIMS, seed=seed)
            where = f"PCA {Z.shape[1]} of {d} dims ({kept:.0%} of variance)"
        else:
            Z = np.asarray(Xp, dtype=np.float32)
            where = f"full embedding space ({d} dims)"
        z_sq = space.sq_norms(Z)
        k = n_clusters or int(min(50, max(2, round(math.sqrt(n / 2)))))
        clusters = kmeans(Z, k, seed=seed).labels
        labels = names = None
        if label_column is not None:
            col = data.column(label_column, "labels")
            if col.isna().any():
                raise ExplorerError(f"Column {label_column!r} (labels) has missing values; "
                                    "fill them before scoring.")
            names, labels = np.unique(col.astype(str).to_numpy(), return_inverse=True)
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, MMD_SAMPLE, replace=False)) if n > MMD_SAMPLE else \
            np.arange(n)
        coverage_rows = None
        coverage_uniform = n
        if space_mode == "auto" and n > COVERAGE_ABOVE:
            # a uniform sample (for the mean, p95 and facility location) plus the rows
            # farthest from their k-means centre (where the worst-case distance lies), so
            # coverage_max is not blind to the outliers a sample would miss
            uniform = np.sort(np.random.default_rng([seed, 1]).choice(
                n, COVERAGE_SAMPLE, replace=False))
            centres = np.stack([np.asarray(Z[clusters == c], np.float64).mean(axis=0)
                                for c in range(int(clusters.max()) + 1)])
            far = np.empty(n)
            step = max(1, space.BLOCK_BYTES // (8 * Z.shape[1]))
            for a in range(0, n, step):
                diff = np.asarray(Z[a : a + step], np.float64) - centres[clusters[a : a + step]]
                far[a : a + step] = np.einsum("ij,ij->i", diff, diff)
            outliers = np.setdiff1d(np.argsort(-far)[: COVERAGE_OUTLIERS], uniform)
            coverage_rows = np.concatenate([uniform, np.sort(outliers)])
            coverage_uniform = len(uniform)
            where += (f"; coverage on a seeded sample of {COVERAGE_SAMPLE:,} of {n:,} rows "
                      f"(worst case also over the {COVERAGE_OUTLIERS:,} most outlying)")
            # the MMD's population sample is (a seeded part of) the same uniform sample, so
            # one matrix product per block serves both metrics
            mmd_at = np.arange(len(uniform)) if len(uniform) <= MMD_SAMPLE else np.sort(
                rng.choice(len(uniform), MMD_SAMPLE, replace=False))
            sample = uniform[mmd_at]
        else:
            mmd_at = sample  # coverage is measured on every row
        Zs = np.asarray(Z[sample], dtype=np.float32)
        d_ss = space.sq_distances(Zs, Zs, z_sq[sample], z_sq[sample])
        off = d_ss[np.triu(np.ones(d_ss.shape, dtype=bool), 1)]  # the pairs i < j
        med = float(np.median(off)) if len(off) else 1.0
        gamma = 1.0 / med if med > 0 else 1.0  # median heuristic: exp(-d^2 / median d^2)
        mmd_pp = float(np.exp(-gamma * d_ss).mean())
        max_sq = float(d_ss.max()) if len(off) else 1.0
        return cls(n=n, metric=metric, Z=Z, z_sq=z_sq, space=where, clusters=clusters,
                   n_clusters=int(clusters.max()) + 1, labels=labels, label_names=names,
                   label_column=label_column, gamma=gamma, mmd_pp=mmd_pp, mmd_rows=sample,
                   max_sq=max_sq, coverage_rows=coverage_rows,
                   coverage_uniform=coverage_uniform, mmd_at=mmd_at,
                   vendi_X=Xp, fingerprint=data.fingerprint, seed=seed)

    def subset_metrics(self, idx: np.ndarray, near_sq: np.ndarray | None = None,
                       ksp: float | None = None) -> dict[str, float]:
        """Every metric of one subset (row indices); ``near_sq`` (each row's squared
        distance to its nearest subset row) and ``ksp`` (the MMD's cross-kernel sum) when
        already computed."""
        idx = np.asarray(idx, dtype=np.int64)
        if near_sq is None or ksp is None:
            near, sums = self._near_and_kernel_sums([idx])
            near_sq = near[0] if near_sq is None else near_sq
            ksp = float(sums[0]) if ksp is None else ksp
        cover_all = space.to_metric(near_sq, self.metric)
        if self.coverage_rows is not None:  # mean-type metrics on the uniform part only
            near_sq = near_sq[: self.coverage_uniform]
        cover = space.to_metric(near_sq, self.metric)
        rows = idx
        if len(idx) > PAIRWISE_SAMPLE:  # the same positions for every subset of this size
            rows = idx[np.sort(np.random.default_rng(self.seed).choice(
                len(idx), PAIRWISE_SAMPLE, replace=False))]
            # the MMD of the sample, self-consistent (its own cross-kernel sum): a sample's
            # within-kernel mean alone is off by O(1 / sample), more than a large subset's MMD
            ksp = subset_metrics.kernel_sum(self.Z, self.z_sq, self.mmd_rows, rows, self.gamma)
        S = np.asarray(self.Z[rows], dtype=np.float32)
        mean_pd, min_pd, kss = subset_metrics.pairwise_summary(S, self.metric, self.gamma)
        mmd2 = kss + self.mmd_pp - 2.0 * ksp / (len(rows) * len(self.mmd_rows))
        if self.metric == "cosine":
            fl = float(np.mean(1.0 - cover / 2.0))  # similarity (1 + cos) / 2, all-picked = 1
        else:
            fl = float(1.0 - np.mean(near_sq) / self.max_sq)
        pop = np.bincount(self.clusters, minlength=self.n_clusters)
        sub = np.bincount(self.clusters[idx], minlength=self.n_clusters)
        out = {
            "coverage_max": float(cover_all.max()),
            "coverage_mean": float(cover.mean()),
            "coverage_p95": float(np.percentile(cover, 95)),
            "facility_location": fl,
            "cluster_kl": subset_metrics.kl_divergence(sub, pop),
            "cluster_js": subset_metrics.js_divergence(sub, pop),
            "clusters_hit": float(np.count_nonzero(sub)),
            "mean_pairwise_distance": mean_pd,
            "min_pairwise_distance": min_pd,
            # in the scoring space: with the PCA of large data the kernel is 64 x 64
            "vendi": subset_metrics.vendi_score(np.asarray(self.Z[idx])),
            "mmd": float(math.sqrt(max(mmd2, 0.0))),
        }
        if self.labels is not None:
            lp = np.bincount(self.labels, minlength=len(self.label_names))
            ls = np.bincount(self.labels[idx], minlength=len(self.label_names))
            out["label_kl"] = subset_metrics.kl_divergence(ls, lp)
        return out


@dataclass(frozen=True, eq=False)
class Scorecard:
    """Metrics of one subset against R random subsets of the same size."""

    budget: int
    metric: str
    metrics: dict
    random_draws: int
    seed: int
    space: str
    n_clusters: int
    label_counts: pd.DataFrame | None
    cluster_counts: pd.DataFrame
    seconds: float
    #: under a cost budget: the cost column, the budget, the subset's spend, and the random
    #: draws' spend and count (mean, 5th and 95th percentiles); else None
    cost: dict | None = None

    def describe_cost(self) -> str:
        """One sentence: the spend and count of the subset and of the random draws."""
        c = self.cost
        if c is None:
            return ""
        return (f"{self.budget} rows spending {c['spend']:,.6g} of {c['budget']:,.6g} "
                f"{c['column']}; the {self.random_draws} random draws at the same budget spend "
                f"{c['random_spend_mean']:,.6g} on average with {c['random_count_mean']:,.1f} "
                f"rows ({c['random_count_p05']:,.0f}-{c['random_count_p95']:,.0f}).")

    def to_dict(self) -> dict:
        """The JSON form of ``explorer score --format json`` (JSON-safe)."""
        out = {
            "budget": int(self.budget),
            "metrics": {name: m.to_dict() for name, m in self.metrics.items()},
            "metric": self.metric,
            "space": self.space,
            "random_draws": int(self.random_draws),
            "seed": int(self.seed),
            "n_clusters": int(self.n_clusters),
        }
        if self.cost is not None:
            out["cost"] = {k: (v if isinstance(v, str) else _num(v))
                           for k, v in self.cost.items()}
        if self.label_counts is not None:
            out["label_counts"] = [
                {k: (v if isinstance(v, str) else _num(v)) for k, v in row.items()}
                for row in self.label_counts.to_dict("records")
            ]
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per metric: value, random mean / std / p05 / p95, percentile, verdict."""
        rows = []
        for name, m in self.metrics.items():
            rows.append({"metric": name, "value": m.value, "random_mean": m.random_mean,
                         "random_std": m.random_std, "random_p05": m.random_p05,
                         "random_p95": m.random_p95, "percentile": m.percentile,
                         "better": "higher" if m.higher_is_better else "lower",
                         "verdict": m.verdict})
        return pd.DataFrame(rows)

    def balance(self, kind: str = "cluster", by: str = "rows") -> pd.DataFrame:
        """Population share, subset share and the random 5-95 % share band per cluster or
        label, sorted from the most under-represented to the most over-represented group.
        ``by="spend"`` (under a cost budget) gives the shares of the spend instead of the
        rows: a subset can hold a cluster's share of the rows while spending less on it.

        >>> import explorer
        >>> data = explorer.load_sample("digits")
        >>> sel = explorer.select(data, "facility-location", 15.0, cost_column="difficulty")
        >>> card = explorer.score(data, sel, label_column="label", random_draws=30)
        >>> most_under = card.balance("label", by="spend").iloc[0]
        >>> [most_under["group"]] + [round(float(most_under[c]), 2)
        ...                          for c in ("population_share", "subset_share")]
        ['8', 0.2, 0.13]
        """
        frame = self.cluster_counts if kind == "cluster" else self.label_counts
        if frame is None:
            raise ExplorerError("This scorecard has no label column; score with "
                                "--label-column to see the label balance.")
        if by not in ("rows", "spend"):
            raise ExplorerError(f"balance by {by!r}: use 'rows' or 'spend'.")
        if by == "spend" and "subset_spend" not in frame:
            raise ExplorerError("This scorecard has no cost budget, so there is no spend to "
                                "balance; score with a cost column (--cost-column).")
        population, subset, band = (("population", "subset", "random_share") if by == "rows"
                                    else ("population_spend", "subset_spend",
                                          "random_spend_share"))
        out = pd.DataFrame({
            "group": frame.iloc[:, 0].astype(str),
            "population_share": frame[population] / frame[population].sum(),
            "subset_share": frame[subset] / max(frame[subset].sum(), 1e-300),
            "random_p05_share": frame[f"{band}_p05"],
            "random_mean_share": frame[f"{band}_mean"],
            "random_p95_share": frame[f"{band}_p95"],
        })
        out["difference"] = out["subset_share"] - out["population_share"]
        return out.sort_values("difference", kind="stable").reset_index(drop=True)


@validate_params({"n": [Interval("int", 0, None)], "k": [Interval("int", 0, None)],
                  "draws": [Interval("int", 0, None)]})
def random_subsets(n: int, k: int, draws: int, seed: int, pinned=(), excluded=()):
    """R random subsets of size k, drawn as the ``random`` strategy would under the same pinned
    and excluded rows, from ``np.random.SeedSequence(seed).spawn(draws)``."""
    pinned = np.asarray(pinned, dtype=np.int64)
    allowed = np.ones(n, dtype=bool)
    allowed[np.asarray(excluded, dtype=np.int64)] = False
    allowed[pinned] = False
    pool = np.flatnonzero(allowed)
    out = []
    for child in np.random.SeedSequence(seed).spawn(draws):
        rng = np.random.default_rng(child)
        out.append(np.concatenate([pinned, rng.choice(pool, k - len(pinned), replace=False)]))
    return out


@validate_params({"budget": [Interval("float", 0, None)], "draws": [Interval("int", 0, None)]})
def random_subsets_at_cost(costs: np.ndarray, budget: float, draws: int, seed: int,
                           pinned=(), excluded=()):
    """R random subsets of total cost at most ``budget``, drawn as the ``random`` strategy
    draws under a cost budget (a seeded order of the allowed rows, each row kept while it
    fits: :func:`explorer.strategies.base.keep_what_fits`), pinned rows first, from
    ``np.random.SeedSequence(seed).spawn(draws)``. Their sizes differ.

    >>> costs = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    >>> subsets = random_subsets_at_cost(costs, 7.0, 20, seed=0)
    >>> max(float(costs[d].sum()) for d in subsets) <= 7.0, len({len(d) for d in subsets}) > 1
    (True, True)
    """
    from ..strategies.base import keep_what_fits

    costs = np.asarray(costs, dtype=np.float64)
    pinned = np.asarray(pinned, dtype=np.int64)
    allowed = np.ones(len(costs), dtype=bool)
    allowed[np.asarray(excluded, dtype=np.int64)] = False
    allowed[pinned] = False
    pool = np.flatnonzero(allowed)
    pin_cost = float(costs[pinned].sum())
    out = []
    for child in np.random.SeedSequence(seed).spawn(draws):
        rng = np.random.default_rng(child)
        out.append(np.concatenate([pinned, keep_what_fits(rng.permutation(pool), costs,
                                                          budget, pin_cost)]))
    return out


def balance_frame(column: str, names, population, subset, draws, *, population_spend=None,
                  subset_spend=None, draw_spends=None) -> pd.DataFrame:
    """Per group (cluster or label): its rows in the population, in the subset and in the
    random draws (mean, 5th and 95th percentiles), and each draw's share of its own rows
    (under a cost budget the draws differ in size, so a share is taken per draw before its
    percentiles). With spends (the cost of each group's rows in the population, the subset
    and each draw), the same shares of the spend. ``draws`` and ``draw_spends`` hold one row
    per random draw."""
    draws = np.asarray(draws, dtype=np.float64)
    out = pd.DataFrame({column: names, "population": population, "subset": subset,
                        "random_mean": draws.mean(axis=0),
                        "random_p05": np.percentile(draws, 5, axis=0),
                        "random_p95": np.percentile(draws, 95, axis=0)})
    _add_share_band(out, "random_share", draws)
    if draw_spends is not None:
        out["population_spend"] = population_spend
        out["subset_spend"] = subset_spend
        _add_share_band(out, "random_spend_share", np.asarray(draw_spends, dtype=np.float64))
    return out


def _add_share_band(frame: pd.DataFrame, prefix: str, per_draw: np.ndarray) -> None:
    totals = per_draw.sum(axis=1, keepdims=True)
    shares = per_draw / np.where(totals > 0, totals, 1.0)
    frame[f"{prefix}_mean"] = shares.mean(axis=0)
    frame[f"{prefix}_p05"] = np.percentile(shares, 5, axis=0)
    frame[f"{prefix}_p95"] = np.percentile(shares, 95, axis=0)


def _counts_frame(codes, names, idx, draws_idx, column, costs=None):
    m = len(names)

    def count(rows):
        return np.bincount(codes[rows], minlength=m)

    def spend(rows):
        return np.bincount(codes[rows], weights=costs[rows], minlength=m)

    spends = {} if costs is None else {
        "population_spend": np.bincount(codes, weights=costs, minlength=m),
        "subset_spend": spend(idx), "draw_spends": np.array([spend(r) for r in draws_idx])}
    return balance_frame(column, names, np.bincount(codes, minlength=m), count(idx),
                         np.array([count(r) for r in draws_idx]), **spends)


def _target_scorer(data: Dataset, ctx: ScoringContext, target, seed: int):
    """A function idx -> {target_mmd, target_ot}, with the kernel width and the transport
    scale fixed once (from the target and a population sample) so that the subset and the
    random draws are measured on the same footing. Sets above 1,000 points are subsampled."""
    Xp = ctx.vendi_X
    T = space.resolve_target(target, data, Xp, ctx.metric)
    rng = np.random.default_rng(seed)
    sample = rng.choice(ctx.n, min(ctx.n, 1000), replace=False)
    P = np.asarray(Xp[np.sort(sample)], dtype=np.float32)
    Ts = T if len(T) <= 1000 else T[np.sort(rng.choice(len(T), 1000, replace=False))]
    cross = space.sq_distances(P, Ts)
    med = float(np.median(cross)) or 1.0
    gamma = 1.0 / med
    t_sq = space.sq_norms(Ts)
    ktt = float(np.exp(-gamma * space.sq_distances(Ts, Ts, t_sq, t_sq)).mean())

    def measure(idx):
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) > 1000:
            idx = np.sort(np.random.default_rng(seed).choice(idx, 1000, replace=False))
        S = np.asarray(Xp[np.sort(idx)], dtype=np.float32)
        kss = float(np.exp(-gamma * space.sq_distances(S, S)).mean())
        kst = float(np.exp(-gamma * space.sq_distances(S, Ts)).mean())
        return {"target_mmd": float(math.sqrt(max(kss + ktt - 2 * kst, 0.0))),
                "target_ot": sinkhorn_cost(S, Ts, scale=med, seed=seed, max_points=1000)}

    return measure


@validate_params({
    "data": [InstanceOf((Dataset,), "a Dataset (from explorer.load)")],
    "metric": [METRIC, None], "label_column": OPTIONAL_COLUMN,
    "random_draws": [Interval("int", 2, None)], "seed": [SEED],
    "n_clusters": [Interval("int", 1, None), None], "space": [SPACE_MODES],
    "context": [InstanceOf((ScoringContext,), "a ScoringContext"), None],
    "progress": OPTIONAL_CALLBACK, "cost_column": OPTIONAL_COLUMN,
    "cost_budget": [Interval("float", 0, None, closed="neither"), None]})
def score(data: Dataset, selection, *, metric: str | None = None,
          label_column: str | None = None, random_draws: int = 30, seed: int = 0,
          target=None, n_clusters: int | None = None, space: str = "auto",
          context: ScoringContext | None = None, progress=None,
          cost_column: str | None = None, cost_budget: float | None = None) -> Scorecard:
    """Score a subset against ``random_draws`` random subsets of the same size, or, under a
    cost budget, of the same total cost.

    Parameters
    ----------
    data : Dataset
    selection : a Selection, or row indices.
    metric : 'euclidean' or 'cosine' (default: the selection's metric, else euclidean).
    label_column : adds ``label_kl`` and per-label counts.
    random_draws : R, the number of random subsets (default 30).
    seed : seeds the random draws (``SeedSequence(seed).spawn(R)``) and the clustering.
    n_clusters : k-means clusters for the cluster metrics (default min(50, sqrt(N / 2))).
    space : 'auto' (the full embedding space; above 20,000 rows coverage on a seeded sample
        plus the most outlying rows), 'full' (every row) or 'pca' (a 64-d PCA).
    target : row indices (or a mask) into ``data``, or an (M, D) array of target embeddings:
        adds ``target_mmd`` and ``target_ot`` (measured in the full embedding space).
    context : a ScoringContext from an earlier call, to skip the population-side work.
    cost_column, cost_budget : score against random subsets drawn at the same total cost
        (:func:`random_subsets_at_cost`), the honest comparison when rows cost different
        amounts. A Selection made with a cost column brings both; for row indices
        ``cost_budget`` defaults to their cost. ``cost`` of the result has the spends.

    Examples
    --------
    >>> import explorer
    >>> data = explorer.load_sample("digits")
    >>> sel = explorer.select(data, "k-center", 50, seed=0)
    >>> card = explorer.score(data, sel, random_draws=10)
    >>> card.metrics["coverage_max"].verdict
    'better than random'
    >>> inked = explorer.Dataset.from_arrays(data.embeddings, metadata=data.metadata.assign(
    ...     ink=data.embeddings.sum(axis=1)))
    >>> sel = explorer.select(inked, "k-center", 1000.0, cost_column="ink")
    >>> card = explorer.score(inked, sel, random_draws=10)
    >>> card.cost["spend"] <= 1000.0, 950 < card.cost["random_spend_mean"] <= 1000.0
    (True, True)
    """
    start = time.perf_counter()
    pinned, excluded = (), ()
    if hasattr(selection, "indices"):
        idx = np.asarray(selection.indices, dtype=np.int64)
        metric = metric or selection.metric
        pinned, excluded = selection.pinned, selection.excluded
        if getattr(selection, "cost_budget", None) is not None:
            cost_column = cost_column or selection.columns["cost_column"]
            cost_budget = selection.cost_budget if cost_budget is None else cost_budget
    else:
        idx = np.asarray(selection)
    metric = metric or "euclidean"
    idx = row_indices(idx, data.n, "score: the selection")
    ctx = context
    if ctx is None or ctx.fingerprint != data.fingerprint or ctx.metric != metric or \
            ctx.label_column != label_column or ctx.seed != seed:
        ctx = ScoringContext.build(data, metric=metric, label_column=label_column,
                                   n_clusters=n_clusters, space_mode=space, seed=seed)
    from ..data.ledger import locked_rows

    locked = np.setdiff1d(locked_rows(data), idx)
    if len(locked):  # random subsets never hold a row of a locked confirmation split
        excluded = tuple(int(i) for i in np.union1d(np.asarray(excluded, np.int64), locked))
    k = len(idx)
    costs = cost = None
    if cost_column is not None:
        from ..selection import cost_array

        costs = cost_array(data, cost_column)
        spend = float(costs[idx].sum())
        if cost_budget is None:
            cost_budget = check_param("score", "cost_budget", spend,
                                      [Interval("float", 0, None, closed="neither")],
                                      "the selection's cost, when none is given")
        cost_budget = float(cost_budget)
    target_metrics = _target_scorer(data, ctx, target, seed) if target is not None else None
    value = ctx.subset_metrics(idx)
    if target_metrics:
        value.update(target_metrics(idx))
    draws, rand_rows = ctx.random_metrics(data.n, k, int(random_draws), seed, pinned, excluded,
                                          progress, costs=costs, cost_budget=cost_budget)
    if costs is not None:
        spends = np.array([costs[d].sum() for d in draws])
        counts = np.array([len(d) for d in draws], dtype=np.float64)
        cost = {"column": cost_column, "budget": cost_budget, "spend": spend,
                "random_spend_mean": float(spends.mean()),
                "random_spend_p05": float(np.percentile(spends, 5)),
                "random_spend_p95": float(np.percentile(spends, 95)),
                "random_count_mean": float(counts.mean()),
                "random_count_p05": float(np.percentile(counts, 5)),
                "random_count_p95": float(np.percentile(counts, 95))}
    if target_metrics:
        for row, d in zip(rand_rows, draws):
            row.update(target_metrics(d))
    scores = {}
    for name, hib, text in SCORECARD_METRICS:
        if name not in value:
            continue
        vals = np.array([row[name] for row in rand_rows], dtype=np.float64)
        finite = vals[np.isfinite(vals)]
        scores[name] = MetricScore(
            name=name, value=float(value[name]),
            random_mean=float(finite.mean()) if len(finite) else float("nan"),
            random_std=float(finite.std(ddof=1)) if len(finite) > 1 else float("nan"),
            random_p05=float(np.percentile(finite, 5)) if len(finite) else float("nan"),
            random_p95=float(np.percentile(finite, 95)) if len(finite) else float("nan"),
            percentile=subset_metrics.percentile_of(value[name], vals),
            higher_is_better=hib, random_values=vals, description=text)
    cluster_counts = _counts_frame(ctx.clusters, np.arange(ctx.n_clusters), idx, draws,
                                   "cluster", costs)
    label_counts = None
    if ctx.labels is not None:
        label_counts = _counts_frame(ctx.labels, ctx.label_names, idx, draws, "label", costs)
    where = ctx.space
    if k > PAIRWISE_SAMPLE:
        where += (f"; pairwise metrics on a seeded sample of {PAIRWISE_SAMPLE:,} of the "
                  f"{k:,} rows (every random draw the same way)")
    return Scorecard(budget=k, metric=metric, metrics=scores, random_draws=int(random_draws),
                     seed=seed, space=where, n_clusters=ctx.n_clusters,
                     label_counts=label_counts, cluster_counts=cluster_counts,
                     seconds=time.perf_counter() - start, cost=cost)
