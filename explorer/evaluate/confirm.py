"""A locked confirmation split: "is my winner real, or did I just try many things?"

Holm's correction guards one comparison run against its many strategies and budgets; it
cannot see the runs of yesterday's session, nor the strategies tried and dropped on the
Explore page. The guard against that is an untouched test set, used once:

1. :func:`lock_confirmation` draws a second held-out split of the dataset (stratified by the
   label like :func:`~explorer.evaluate.probes.holdout_split`, seeded; the seed, fraction and
   rows are recorded in the ledger, :mod:`explorer.data.ledger`), before exploring;
2. from then on no exploration touches those rows. :func:`explorer.select` adds them to the
   excluded rows (so no strategy, page or command can select them, and the scorecard's
   random subsets avoid them), and :func:`~explorer.evaluate.probes.holdout_split` leaves
   them out of both the pool and the exploration holdout, so no probe trains or is scored
   on them (the Compare page, ``explorer compare``, anything built on ``probe_sweep``).
   Every select and every strategy x budget of a comparison on the dataset is logged;
3. :func:`confirm` (``explorer confirm MANIFEST``) trains the chosen selection's probe once,
   scores it on the locked rows next to R random subsets of the same size, and records the
   result, with the number of strategies and budgets tried since the lock, in the ledger and
   in the manifest. A second confirmation on the same split is refused, or, when asked for,
   run and flagged.

What still sees the locked rows: the scorecard's population side (each row's distance to
its nearest pick, the clusters, the label mix) counts every row of the dataset, as it always
does; no probe is trained or scored on a locked row before :func:`confirm`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from ..data.ledger import Ledger, already_locked, now
from ..errors import ExplorerError
from ..params import (METRIC, OPTIONAL_COLUMN, SEED, Boolean, InstanceOf, Interval, Options,
                      Text, validate_params)
from .probes import PROBES, holdout_split, make_probe
from .scorecard import random_subsets
from .stats import prediction_p_value, rank_p_value, verdict

#: The probes a confirmation may train: the classifiers (the split is stratified by a label).
CONFIRM_PROBES = Options(tuple(p for p, (kind, _) in PROBES.items() if kind == "classification"))
DRAWS = Interval("int", 2, None)


@validate_params({"data": [InstanceOf((Dataset,), "a Dataset (from explorer.load)")],
                  "label_column": OPTIONAL_COLUMN,
                  "fraction": [Interval("float", 0, 1, closed="neither")],
                  "seed": [SEED, None]})
def lock_confirmation(data: Dataset, label_column: str | None = None, fraction: float = 0.2,
                      seed: int | None = None, *, folder=None) -> dict:
    """Lock a confirmation split of ``data``: ``fraction`` of the rows (stratified by
    ``label_column``), drawn with ``seed`` (None: a fresh seed, recorded). Refused when the
    dataset already has one. Returns the lock record (with ``rows``).

    >>> import tempfile, explorer
    >>> data = explorer.load_sample("digits")
    >>> lock = lock_confirmation(data, "label", 0.1, seed=3, folder=tempfile.mkdtemp())
    >>> lock["n"], lock["seed"], lock["label_column"]
    (180, 3, 'label')
    """
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**31))
    ledger = Ledger(folder)
    existing = ledger.locked(data.fingerprint)
    if existing is not None:  # said before anything is drawn
        raise ExplorerError(already_locked(data.name, existing, ledger.path))
    _, rows = holdout_split(data, label_column, fraction, int(seed), locked=())
    return ledger.lock(data.fingerprint, data.name, rows, seed=int(seed),
                       fraction=float(fraction), label_column=label_column)


@validate_params({"data": [InstanceOf((Dataset,), "a Dataset (from explorer.load)")]})
def status(data: Dataset, *, folder=None) -> dict | None:
    """The dataset's lock (without its rows), what was tried since (``explorations``:
    runs, strategies, budgets and strategy x budget pairs, by entry point) and the
    confirmations made; None without a lock."""
    ledger = Ledger(folder)
    lock = ledger.locked(data.fingerprint)
    if lock is None:
        return None
    out = {k: v for k, v in lock.items() if k != "rows"}
    out["explorations"] = tried(ledger.explorations(data.fingerprint))
    out["confirmations"] = ledger.confirmations(data.fingerprint)
    return out


def plural(count: int, word: str) -> str:
    """'1 strategy', '3 strategies', '2 budgets'.

    >>> plural(1, "strategy"), plural(3, "strategy"), plural(2, "budget")
    ('1 strategy', '3 strategies', '2 budgets')
    """
    if count == 1:
        return f"{count} {word}"
    return f"{count} {word[:-1]}ies" if word.endswith("y") else f"{count} {word}s"


def tried(log: pd.DataFrame) -> dict:
    """Counts of an exploration log: runs, distinct strategies, budgets, strategy x budget
    pairs, and runs per entry point.

    >>> tried(pd.DataFrame({"entry": ["select", "compare", "compare"], "strategy":
    ...     ["k-center", "k-center", "random"], "budget": [50, 50, 50], "at": ["", "", ""]}))
    {'runs': 3, 'strategies': 2, 'budgets': 1, 'strategy_budgets': 2, 'by_entry': {'compare': 2, 'select': 1}}
    """
    return {"runs": int(len(log)), "strategies": int(log["strategy"].nunique()),
            "budgets": int(log["budget"].nunique()),
            "strategy_budgets": int(len(log[["strategy", "budget"]].drop_duplicates())),
            "by_entry": {str(k): int(v) for k, v in
                         log["entry"].value_counts().sort_index().items()}}


@dataclass(frozen=True)
class Confirmation:
    """The one look at the locked split: the probe's metrics for the selection and for R
    random subsets of the same size, with what was tried before."""

    record: dict

    def to_dict(self) -> dict:
        return json.loads(json.dumps(self.record))

    @property
    def flagged(self) -> bool:
        return bool(self.record.get("flagged"))

    def summary(self) -> str:
        r = self.record
        head = next(iter(r["metrics"]))
        m = r["metrics"][head]
        ex = r["explorations_before"]
        text = (f"{r['strategy']} ({r['budget']} rows), {r['probe']} probe on the "
                f"{r['split']['rows']} locked rows: {head} {m['value']:.3f} vs random "
                f"{m['random_mean']:.3f} (5-95 %: {m['random_p05']:.3f}-{m['random_p95']:.3f}; "
                f"p = {m['p_value']:.3g}, rank p = {m['p_rank']:.3g}): {m['verdict']}. Tried "
                f"before on this dataset since the lock: {plural(ex['strategies'], 'strategy')}"
                f", {plural(ex['budgets'], 'budget')} ({ex['strategy_budgets']} strategy x "
                f"budget pairs, {plural(ex['runs'], 'run')}).")
        if self.flagged:
            text += (f" FLAGGED: attempt {r['attempt']} on this split; only the first was a "
                     "confirmation.")
        if r.get("made_before_lock"):
            text += " The selection was made before the split was locked."
        return text


@validate_params({"data": [InstanceOf((Dataset,), "a Dataset (from explorer.load)")],
                  "label_column": OPTIONAL_COLUMN, "probe": [CONFIRM_PROBES],
                  "random_draws": [DRAWS], "seed": [SEED], "metric": [METRIC, None],
                  "again": [Boolean()], "made": [Text(), None]})
def confirm(data: Dataset, selection, *, label_column: str | None = None,
            probe: str = "logistic", random_draws: int = 200, seed: int = 0,
            metric: str | None = None, again: bool = False, made: str | None = None,
            folder=None) -> Confirmation:
    """Train ``probe`` once on the selection and score it on the locked rows, against
    ``random_draws`` random subsets of the same size (from the unlocked rows, under the
    selection's pinned and excluded rows). Recorded in the ledger; a second confirmation on
    the split is refused unless ``again`` (then flagged).

    Parameters
    ----------
    data : the Dataset (it must have a locked split: :func:`lock_confirmation`).
    selection : a Selection, or row indices.
    label_column : the labels (default: the column the split was stratified by).
    probe : 'logistic' or 'knn'.
    random_draws : R; the p-value is the prediction-interval t-test against them, and the
        rank p-value (floor 1 / (R + 1)) is beside it. One pre-registered comparison: no
        multiple-testing correction is needed, which is the point.
    seed : seeds the random draws.
    made : when the selection was made (ISO time, from its manifest): flagged when it is
        earlier than the lock.

    Examples
    --------
    >>> import tempfile, explorer
    >>> folder = tempfile.mkdtemp()
    >>> data = explorer.load_sample("digits")
    >>> _ = lock_confirmation(data, "label", 0.2, seed=1, folder=folder)
    >>> pool = np.setdiff1d(np.arange(data.n), Ledger(folder).locked(data.fingerprint)["rows"])
    >>> result = confirm(data, pool[:60], random_draws=20, folder=folder)
    >>> result.record["split"]["rows"], result.record["attempt"]
    (359, 1)
    >>> confirm(data, pool[:60], random_draws=20, folder=folder)
    Traceback (most recent call last):
    ...
    explorer.errors.ExplorerError: The confirmation split of this dataset was already used ...
    """
    ledger = Ledger(folder)
    lock = ledger.locked(data.fingerprint)
    if lock is None:
        raise ExplorerError(f"{data.name} has no locked confirmation split; lock one before "
                            "exploring (explorer lock DATA --label-column C), then confirm "
                            "the selection you choose.")
    label_column = label_column or lock["label_column"]
    if label_column is None:
        raise ExplorerError("confirm needs a label column (label_column=, --label-column): "
                            "the split was locked without one.")
    locked = lock["rows"]
    idx = np.asarray(getattr(selection, "indices", selection), dtype=np.int64)
    pinned = np.asarray(getattr(selection, "pinned", ()), dtype=np.int64)
    excluded = np.asarray(getattr(selection, "excluded", ()), dtype=np.int64)
    weights = getattr(selection, "weights", None)
    metric = metric or getattr(selection, "metric", None) or "euclidean"
    if len(idx) == 0 or idx.min() < 0 or idx.max() >= data.n:
        raise ExplorerError(f"confirm: the selection must hold row indices in 0..{data.n - 1}.")
    inside = np.intersect1d(idx, locked)
    if len(inside):
        raise ExplorerError(f"confirm: the selection holds {len(inside)} row(s) of the locked "
                            f"split (ids {', '.join(map(str, data.ids[inside[:5]]))}); it was "
                            "made before the lock or elsewhere, so the split cannot confirm "
                            "it. Select again (the locked rows are excluded now).")
    pool_rows = np.setdiff1d(np.arange(data.n), locked)
    model = make_probe(data, probe, pool_rows, locked, label_column=label_column,
                       metric=metric)
    at = np.searchsorted(pool_rows, idx)
    value = model.run(at, None if probe == "knn" else weights)
    draws = random_subsets(data.n, len(idx), int(random_draws), int(seed), pinned,
                           np.union1d(excluded, locked))
    envelope = pd.DataFrame([model.run(np.searchsorted(pool_rows, d)) for d in draws])
    metrics = {}
    for name, (hib, _) in model.metrics.items():
        vals = envelope[name].to_numpy(dtype=np.float64)
        p = prediction_p_value(value[name], vals, hib)
        q = prediction_p_value(value[name], vals, not hib)
        from .metrics import percentile_of

        metrics[name] = {"value": float(value[name]), "random_mean": float(vals.mean()),
                         "random_p05": float(np.percentile(vals, 5)),
                         "random_p95": float(np.percentile(vals, 95)),
                         "percentile": float(percentile_of(value[name], vals)),
                         "p_value": float(p), "p_rank": rank_p_value(value[name], vals, hib),
                         "verdict": verdict(p, q)}
    log = ledger.explorations(data.fingerprint)
    record = {
        "strategy": getattr(selection, "strategy", "selection"), "budget": int(len(idx)),
        "probe": probe, "label_column": label_column, "random_draws": int(random_draws),
        "seed": int(seed), "confirmed_at": now(),
        "split": {"seed": int(lock["seed"]), "fraction": float(lock["fraction"]),
                  "rows": int(lock["n"]), "label_column": lock["label_column"],
                  "locked_at": lock["created"], "digest": lock["digest"]},
        "explorations_before": dict(tried(log), since=lock["created"]),
        "made_before_lock": _earlier(made, lock["created"]),
        "metrics": metrics,
    }
    attempt = ledger.add_confirmation(data.fingerprint, record, again=again)
    return Confirmation(dict(record, attempt=attempt, flagged=attempt > 1))


def _earlier(made: str | None, locked: str) -> bool:
    """Whether ``made`` (a manifest's time, to the second) is in a second before ``locked``;
    False when unknown or unreadable.

    >>> _earlier("2026-01-01T10:00:00+00:00", "2026-01-01T10:00:00.5+00:00")
    False
    >>> _earlier("2026-01-01T09:59:59+00:00", "2026-01-01T10:00:00.5+00:00")
    True
    """
    from datetime import datetime

    try:
        return datetime.fromisoformat(made) < datetime.fromisoformat(locked).replace(
            microsecond=0)
    except (TypeError, ValueError):
        return False


@validate_params({"label_column": OPTIONAL_COLUMN, "probe": [CONFIRM_PROBES],
                  "random_draws": [DRAWS], "seed": [SEED], "again": [Boolean()],
                  "data": [InstanceOf((Dataset,), "a Dataset (from explorer.load)"), None]})
def confirm_manifest(path, *, label_column: str | None = None, probe: str = "logistic",
                     random_draws: int = 200, seed: int = 0, again: bool = False,
                     data: Dataset | None = None, folder=None) -> Confirmation:
    """Confirm the selection of the manifest at ``path`` (:func:`confirm`) and write the
    result into it, under ``confirmation`` (atomically; the manifest is checked before and
    after). A manifest that already holds a confirmation is refused unless ``again``."""
    from ..data.atomic import atomic_path
    from ..data.export import read_manifest, recorded_data
    from ..data.manifest import validate_manifest

    path = Path(path).expanduser()
    doc = read_manifest(path)
    if doc.get("confirmation") and not again:
        c = doc["confirmation"]
        raise ExplorerError(f"{path.name}: already confirmed on {c.get('confirmed_at')} "
                            f"(attempt {c.get('attempt')}); pass --again to run it anyway "
                            "(flagged).")
    data = recorded_data(doc, data)

    class _Recorded:  # the manifest's selection as confirm() reads it
        indices = np.asarray(doc["selection"]["indices"], dtype=np.int64)
        pinned = tuple((doc.get("pinned") or {}).get("indices") or ())
        excluded = tuple((doc.get("excluded") or {}).get("indices") or ())
        strategy = doc["strategy"]
        metric = doc["metric"]
        weights = None

    label_column = label_column or (doc.get("columns") or {}).get("label_column")
    result = confirm(data, _Recorded, label_column=label_column, probe=probe,
                     random_draws=random_draws, seed=seed, again=again,
                     made=doc.get("created"), folder=folder)
    doc["confirmation"] = result.to_dict()
    validate_manifest(doc, path.name)
    text = json.dumps(doc, indent=2) + "\n"
    with atomic_path(path, True, "manifest") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return result
