"""Would the verdict hold in another embedding? A selection scored in a second space.

A scorecard says how a subset looks *in one embedding*. Another model embeds the same rows
differently, and a verdict that rests on one model's geometry may not survive the change.
:func:`check_in_other_space` takes a selection made in one space and

1. scores it in both spaces against random subsets of the same size (the same random
   draws: they depend only on the rows, the size and the seed), per-metric verdicts side by
   side, and flags the verdicts that change (``reversed``: better in one, worse in the other;
   ``lost`` / ``gained``: outside random's band in one space only);
2. re-runs the same strategy, parameters and seed in the second space and reports the
   overlap of the two selections (Jaccard), next to the Jaccard of pairs of random subsets
   of that size: a strategy that picks the "same" rows in both spaces overlaps more than two
   random subsets do; one at random's level picks different rows once the model changes.

The second space is another embedding of the same rows: a second file with the same ids (in
any order), a Dataset, or a metadata column holding one vector per row
(:func:`other_space`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.dataset import Dataset, fingerprint
from ..errors import ExplorerError, preview
from ..params import (METRIC, OPTIONAL_CALLBACK, OPTIONAL_COLUMN, SEED, Boolean, InstanceOf,
                      Interval, Text, validate_params)
from .scorecard import Scorecard, random_subsets, score

#: How a verdict can change from the first space to the second.
FLIPS = {
    "reversed": "better than random in one space, worse in the other",
    "lost": "outside random's band in the first space, inside it in the second",
    "gained": "inside random's band in the first space, outside it in the second",
}


@validate_params({"data": [InstanceOf((Dataset,), "a Dataset (from explorer.load)")],
                  "other": [InstanceOf((Dataset, str, Path), "a Dataset or a path"), None],
                  "column": OPTIONAL_COLUMN, "id_column": OPTIONAL_COLUMN,
                  "name": [Text(), None]})
def other_space(data: Dataset, other=None, *, column: str | None = None,
                id_column: str | None = None, name: str | None = None) -> Dataset:
    """The same rows as ``data`` in a second embedding: ``data``'s ids, order and metadata
    with the other embedding's vectors.

    Parameters
    ----------
    data : the Dataset the selection was made on.
    other : a Dataset, or the path of an embedding file (any input format), holding every id
        of ``data`` (in any order; extra rows are ignored). None with ``column``.
    column : a metadata column of ``data`` holding one vector (a list) per row.
    id_column : the id column of the file (default: the one ``data`` was loaded with).
    name : how the space is named in reports (default: the file name or the column).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> data = Dataset.from_arrays(np.eye(3, dtype=np.float32), ["a", "b", "c"])
    >>> again = Dataset.from_arrays(np.arange(6, dtype=np.float32).reshape(3, 2),
    ...                             ["c", "a", "b"])
    >>> other_space(data, again).embeddings.tolist()
    [[2.0, 3.0], [4.0, 5.0], [0.0, 1.0]]
    """
    if (other is None) == (column is None):
        raise ExplorerError("other_space: give the second embedding as a file or Dataset, or "
                            "as a metadata column (column=), not both.")
    if column is not None:
        series = data.column(column, "the second embedding")
        try:
            X = np.stack([np.asarray(v, dtype=np.float32).ravel() for v in series])
        except (TypeError, ValueError) as exc:
            raise ExplorerError(f"Column {column!r} (the second embedding) must hold one list "
                                f"of numbers per row, all of one length ({exc}).") from None
        source = f"{data.source}#{column}"
        label = name or column
    else:
        if not isinstance(other, Dataset):
            from ..data.loading import load
            from ..data.paths import regular_file

            path = regular_file(other, "the second embedding")
            other = load(path, id_column=id_column or data.options.get("id_column"))
        X = _aligned(data, other)
        source = other.source
        label = name or Path(other.source).name or "the second embedding"
    from ..data.validation import validate_matrix

    X = validate_matrix(X, where=label)
    if X.shape[0] != data.n:
        raise ExplorerError(f"{label}: {X.shape[0]} vectors for the {data.n} rows of "
                            f"{data.name}; the second embedding needs one per row.")
    opts = dict(data.options)
    opts["space"] = label
    return Dataset(X, data.ids, data.metadata, fingerprint(X, data.ids), source, (), opts)


def _aligned(data: Dataset, other: Dataset) -> np.ndarray:
    """``other``'s vectors in ``data``'s row order, matched by id."""
    name = Path(other.source).name or other.name
    pos = pd.Index(np.asarray(other.ids).astype(str))
    if not pos.is_unique:
        raise ExplorerError(f"{name}: its ids repeat; the second embedding needs one "
                            "vector per id.")
    at = pos.get_indexer(np.asarray(data.ids).astype(str))
    if (at < 0).any():
        missing = np.asarray(data.ids)[at < 0]
        raise ExplorerError(f"{name}: {len(missing)} id(s) of {data.name} are not in the "
                            f"second embedding: {preview(missing.tolist())}. It must hold every "
                            "row (give --id-column if its ids are in another column).")
    return np.asarray(other.embeddings[at], dtype=np.float32)


@dataclass(frozen=True, eq=False)
class RobustnessReport:
    """A selection scored in two embeddings, and the same strategy re-run in the second.

    Attributes
    ----------
    strategy, budget : the selection's strategy and size.
    spaces : names of the first and the second space.
    first, second : the scorecards in each space (same random draws).
    overlap : Jaccard of the selection and the same strategy re-run in the second space, or
        None when it could not be re-run (``note`` says why).
    random_overlap : Jaccard of R pairs of independent random subsets of the same size.
    rerun : the re-run's row indices (or None).
    seed_overlap : for a randomized strategy, Jaccard of the selection and the same strategy
        with the next seed in the first space (how much the seed alone moves it), else None.
    note : why the re-run was skipped, if it was.
    """

    strategy: str
    budget: int
    spaces: tuple
    first: Scorecard
    second: Scorecard
    overlap: float | None
    random_overlap: np.ndarray = field(repr=False)
    rerun: np.ndarray | None = field(default=None, repr=False)
    seed_overlap: float | None = None
    note: str = ""

    def verdicts(self) -> pd.DataFrame:
        """One row per metric scored in both spaces: value, random mean and verdict in each,
        and ``flip`` ('reversed', 'lost', 'gained' or '')."""
        rows = []
        for name, a in self.first.metrics.items():
            b = self.second.metrics.get(name)
            if b is None:
                continue
            rows.append({"metric": name, "first": a.value, "first_random_mean": a.random_mean,
                         "first_percentile": a.percentile, "first_verdict": a.verdict,
                         "second": b.value, "second_random_mean": b.random_mean,
                         "second_percentile": b.percentile, "second_verdict": b.verdict,
                         "flip": flip(a.verdict, b.verdict)})
        return pd.DataFrame(rows)

    @property
    def flips(self) -> list[str]:
        """The metrics whose verdict changed between the spaces."""
        frame = self.verdicts()
        return frame.loc[frame["flip"] != "", "metric"].tolist()

    def overlap_envelope(self) -> dict:
        """The random pairs' Jaccard: mean, 5th and 95th percentiles, and where the re-run's
        overlap lies among them (percentile; 'more than random', 'within random's spread' or
        'less than random')."""
        r = self.random_overlap
        out = {"random_mean": float(r.mean()), "random_p05": float(np.percentile(r, 5)),
               "random_p95": float(np.percentile(r, 95)), "percentile": None, "verdict": None}
        if self.overlap is not None:
            from .metrics import percentile_of

            out["percentile"] = float(percentile_of(self.overlap, r))
            out["verdict"] = ("more than random" if self.overlap > out["random_p95"] else
                              "less than random" if self.overlap < out["random_p05"] else
                              "within random's spread")
        return out

    def summary(self) -> str:
        """The answer in two sentences."""
        frame = self.verdicts()
        kept = int((frame["flip"] == "").sum())
        moved = ", ".join(f"{r.metric} ({r.first_verdict} -> {r.second_verdict})"
                          for r in frame.itertuples() if r.flip)
        text = (f"{self.strategy} ({self.budget} rows): {kept} of {len(frame)} verdicts hold "
                f"in {self.spaces[1]}" + (f"; changed: {moved}." if moved else "."))
        env = self.overlap_envelope()
        if self.overlap is None:
            return text + f" Re-run not measured: {self.note}"
        text += (f" Re-run in {self.spaces[1]}, it shares {self.overlap:.2f} of its rows "
                 f"(Jaccard) with the selection; two random subsets of this size share "
                 f"{env['random_mean']:.2f} (5-95 %: {env['random_p05']:.2f}-"
                 f"{env['random_p95']:.2f}): {env['verdict']}")
        if self.seed_overlap is not None:
            text += f"; with the next seed in {self.spaces[0]} it shares {self.seed_overlap:.2f}"
        return text + "."

    def to_text(self) -> str:
        """The side-by-side verdicts as a plain-text table, then the summary."""
        frame = self.verdicts()
        a, b = (str(x)[:24] for x in self.spaces)
        lines = [f"{'metric':<24}{a:>26}{'':2}{b:>26}  flip",
                 f"{'':<24}{'value (pct) verdict':>26}{'':2}{'value (pct) verdict':>26}"]
        short = {"better than random": "better", "worse than random": "worse",
                 "within random's spread": "within", "not comparable": "n/a"}
        for r in frame.itertuples():
            left = f"{r.first:.4g} ({r.first_percentile:.0f}) {short[r.first_verdict]}"
            right = f"{r.second:.4g} ({r.second_percentile:.0f}) {short[r.second_verdict]}"
            lines.append(f"{r.metric:<24}{left:>26}{'':2}{right:>26}  {r.flip or '-'}")
        return "\n".join(lines + ["", self.summary()])

    def to_dict(self) -> dict:
        """JSON-safe: the side-by-side verdicts, the overlap and its random envelope."""
        frame = self.verdicts()
        return {"strategy": self.strategy, "budget": int(self.budget),
                "spaces": list(self.spaces),
                "metrics": {r["metric"]: {k: (None if isinstance(v, float) and not
                                              np.isfinite(v) else v)
                                          for k, v in r.items() if k != "metric"}
                            for r in frame.to_dict("records")},
                "flips": self.flips, "overlap": self.overlap,
                "overlap_random": self.overlap_envelope(), "seed_overlap": self.seed_overlap,
                "note": self.note, "summary": self.summary()}


def flip(first: str, second: str) -> str:
    """How a verdict changed: 'reversed', 'lost', 'gained' or '' (the same).

    >>> flip("better than random", "worse than random"), flip("better than random",
    ...     "within random's spread"), flip("within random's spread", "within random's spread")
    ('reversed', 'lost', '')
    """
    outside = ("better than random", "worse than random")
    if first == second:
        return ""
    if first in outside and second in outside:
        return "reversed"
    if first in outside:
        return "lost"
    if second in outside:
        return "gained"
    return ""  # 'not comparable' against 'within': nothing was claimed in either


def jaccard_of(a, b) -> float:
    """|A & B| / |A | B| of two sets of row indices.

    >>> jaccard_of([1, 2, 3], [2, 3, 4])
    0.5
    """
    a, b = set(np.asarray(a).tolist()), set(np.asarray(b).tolist())
    union = len(a | b)
    return len(a & b) / union if union else 1.0


@validate_params({"n": [Interval("int", 1, None)], "k": [Interval("int", 0, None)],
                  "pairs": [Interval("int", 1, None)], "seed": [SEED]})
def random_jaccard(n: int, k: int, pairs: int = 30, seed: int = 0, pinned=(),
                   excluded=()) -> np.ndarray:
    """Jaccard of ``pairs`` pairs of random subsets of size ``k`` (drawn as the scorecard's
    random subsets are, under the same pinned and excluded rows; pair r is draws r and
    pairs + r of ``SeedSequence(seed).spawn(2 * pairs)``). Without pins its mean is near
    ``(k^2 / n) / (2k - k^2 / n)``.

    >>> r = random_jaccard(1000, 100, pairs=200, seed=0)
    >>> round(float(r.mean()), 2), round((100**2 / 1000) / (200 - 100**2 / 1000), 2)
    (0.05, 0.05)
    """
    draws = random_subsets(n, k, 2 * pairs, seed, pinned, excluded)
    return np.array([jaccard_of(draws[r], draws[pairs + r]) for r in range(pairs)])


def _rerun_args(selection, data: Dataset) -> tuple[dict | None, str]:
    """select() arguments that repeat ``selection`` on other vectors of the same rows, or
    (None, why not)."""
    if getattr(selection, "steps", ()):
        return None, ("the selection is the last step of a pipeline; re-run each step in the "
                      "second space by hand")
    record = getattr(selection, "target", None) or {}
    target = {}
    if "query" in record:
        target = {"target_query": record["query"]}
    elif "indices" in record:
        target = {"target": np.asarray(record["indices"], dtype=np.int64)}
    elif record:
        return None, ("its target set was given as vectors of the first space, which have no "
                      "meaning in the second")
    return {"params": dict(selection.params), "seed": selection.seed,
            "pinned": list(selection.pinned) or None,
            "excluded": list(selection.excluded) or None, "where": selection.where,
            **target, **dict(selection.columns)}, ""


@validate_params({"data": [InstanceOf((Dataset,), "a Dataset (from explorer.load)")],
                  "metric": [METRIC, None], "other_metric": [METRIC, None],
                  "label_column": OPTIONAL_COLUMN, "random_draws": [Interval("int", 2, None)],
                  "seed": [SEED], "rerun": [Boolean()], "progress": OPTIONAL_CALLBACK})
def check_in_other_space(data: Dataset, selection, other, *, metric: str | None = None,
                         other_metric: str | None = None, label_column: str | None = None,
                         random_draws: int = 30, seed: int = 0, rerun: bool = True,
                         progress=None) -> RobustnessReport:
    """Score ``selection`` in ``data``'s space and in a second embedding of the same rows;
    re-run its strategy there and measure the overlap against random pairs.

    Parameters
    ----------
    data : the Dataset the selection was made on.
    selection : a Selection of ``data`` (for the re-run), or row indices (scored only).
    other : the second space: a Dataset from :func:`other_space`, or anything it takes
        (a path or a Dataset with the same ids).
    metric, other_metric : the metric in each space (default: the selection's; the second
        defaults to the first).
    label_column : adds ``label_kl`` (the labels are the same rows' in both spaces).
    random_draws : R random subsets per scorecard and R random pairs for the overlap.
    seed : seeds the random draws (the same draws in both spaces) and the clustering.
    rerun : re-run the strategy in the second space (and, for a randomized strategy, with
        the next seed in the first, for comparison).

    Examples
    --------
    >>> import explorer
    >>> from explorer.data.samples import OTHER_SPACES
    >>> data = explorer.load_sample("pydocs")
    >>> tfidf = other_space(data, OTHER_SPACES["pydocs"]["TF-IDF + SVD (128-D)"])
    >>> sel = explorer.select(data, "k-center", 40, metric="cosine")
    >>> report = check_in_other_space(data, sel, tfidf, random_draws=20)
    >>> report.verdicts().loc[0, ["metric", "first_verdict", "second_verdict"]].tolist()
    ['coverage_max', 'better than random', 'better than random']
    >>> report.flips
    ['coverage_mean', 'coverage_p95', 'facility_location', 'min_pairwise_distance', 'mmd']
    >>> round(report.overlap, 3), report.overlap_envelope()["verdict"]
    (0.039, "within random's spread")
    """
    from ..selection import Selection, select

    if not isinstance(other, Dataset) or other.n != data.n or \
            not np.array_equal(np.asarray(other.ids), np.asarray(data.ids)):
        other = other_space(data, other)
    is_selection = isinstance(selection, Selection)
    if is_selection and selection.fingerprint and selection.fingerprint != data.fingerprint:
        raise ExplorerError("check_in_other_space: the selection was made on other data "
                            f"(fingerprint {selection.fingerprint}, this data has "
                            f"{data.fingerprint}).")
    metric = metric or (selection.metric if is_selection else "euclidean")
    other_metric = other_metric or metric
    idx = np.asarray(selection.indices if is_selection else selection, dtype=np.int64)
    pinned = selection.pinned if is_selection else ()
    excluded = selection.excluded if is_selection else ()

    def step(fraction, message):
        if progress is not None:
            progress(fraction, message)

    step(0.0, "scoring in the first space")
    first = score(data, selection, metric=metric, label_column=label_column,
                  random_draws=random_draws, seed=seed)
    step(0.4, "scoring in the second space")
    second = score(other, selection, metric=other_metric, label_column=label_column,
                   random_draws=random_draws, seed=seed)
    names = (data.options.get("space") or data.name, other.options.get("space") or other.name)
    pairs = random_jaccard(data.n, len(idx), random_draws, seed, pinned, excluded)
    overlap = again = seed_overlap = None
    note = ""
    if not rerun:
        note = "not asked for"
    elif not is_selection:
        note = "row indices carry no strategy to re-run; pass the Selection"
    else:
        args, note = _rerun_args(selection, data)
        if args is not None:
            step(0.8, f"re-running {selection.strategy} in the second space")
            budget = selection.budget if len(idx) == selection.budget else None
            again = select(other, selection.strategy, budget, metric=other_metric,
                           **args).indices
            overlap = jaccard_of(idx, again)
            from ..strategies import get_strategy

            if get_strategy(selection.strategy).randomized:
                args["seed"] = selection.seed + 1
                seed_overlap = jaccard_of(idx, select(data, selection.strategy, budget,
                                                      metric=metric, **args).indices)
    step(1.0, "done")
    return RobustnessReport(strategy=selection.strategy if is_selection else "selection",
                            budget=len(idx), spaces=names, first=first, second=second,
                            overlap=overlap, random_overlap=pairs, rerun=again,
                            seed_overlap=seed_overlap, note=note)
