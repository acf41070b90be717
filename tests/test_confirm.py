"""The locked confirmation split: no exploration entry point touches it (a property over the
entry points), every exploration is logged, and it is used once by confirm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

import explorer
from explorer.data.ledger import Ledger, locked_rows
from explorer.errors import ExplorerError
from explorer.evaluate.compare import sweep
from explorer.evaluate.confirm import confirm, confirm_manifest, lock_confirmation, status
from explorer.evaluate.probes import holdout_split
from explorer.evaluate.sweep import probe_sweep
from explorer.evaluate.scorecard import ScoringContext, score
from explorer.strategies import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = dict(label_column="label", group_column="group", score_column="difficulty")


@pytest.fixture(scope="module")
def locked_home():
    """A workspace folder of its own, with digits' split locked (seed 11, 20 %)."""
    before = os.environ.get("SUBSET_EXPLORER_HOME")
    folder = tempfile.mkdtemp(prefix="ledger-")
    os.environ["SUBSET_EXPLORER_HOME"] = folder
    data = explorer.load_sample("digits")
    lock = lock_confirmation(data, "label", 0.2, seed=11)
    yield folder, lock["rows"]
    if before is None:
        os.environ.pop("SUBSET_EXPLORER_HOME")
    else:
        os.environ["SUBSET_EXPLORER_HOME"] = before


def test_the_lock_is_stratified_seeded_and_kept(digits, locked_home):
    folder, locked = locked_home
    assert len(locked) == 359 and np.array_equal(locked, np.unique(locked))
    assert np.array_equal(locked_rows(digits), locked)
    labels = digits.metadata["label"].to_numpy()
    share = {c: np.sum(labels[locked] == c) / np.sum(labels == c) for c in np.unique(labels)}
    assert all(0.15 < s < 0.25 for s in share.values())  # every class gives ~20 %
    elsewhere = tempfile.mkdtemp()
    again = lock_confirmation(digits, "label", 0.2, seed=11, folder=elsewhere)
    assert np.array_equal(again["rows"], locked)  # the seed reproduces it
    with pytest.raises(ExplorerError, match="a confirmation split was locked on .* kept for "
                                            "good") as err:
        lock_confirmation(digits, "label", 0.3, seed=1)
    assert "\n" not in str(err.value)
    other = lock_confirmation(digits, "label", 0.1, seed=None, folder=tempfile.mkdtemp())
    assert isinstance(other["seed"], int) and other["n"] == 180  # a fresh seed, recorded


SELECTABLE = sorted(REGISTRY)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=hs.sampled_from(SELECTABLE), budget=hs.integers(5, 120), seed=hs.integers(0, 99),
       metric=hs.sampled_from(["euclidean", "cosine"]), excluded=hs.lists(
           hs.integers(0, 1796), max_size=20), filtered=hs.booleans())
def test_no_strategy_ever_selects_a_locked_row(digits, locked_home, name, budget, seed,
                                               metric, excluded, filtered):
    _, locked = locked_home
    spec = REGISTRY[name]
    kw = dict(COLUMNS)
    if "target" in spec.needs:
        kw["target_query"] = "label == '3'"
    sel = explorer.select(digits, name, budget if spec.exact_budget else None, seed=seed,
                          metric=metric, excluded=excluded or None,
                          where="label != '0'" if filtered else None, **kw)
    assert not np.isin(sel.indices, locked).any()
    assert set(locked.tolist()) <= set(sel.excluded) and sel.info["locked_rows"] == 359


def test_a_pinned_locked_row_is_refused(digits, locked_home):
    _, locked = locked_home
    with pytest.raises(ExplorerError, match="1 pinned row.* in the locked confirmation split"):
        explorer.select(digits, "k-center", 10, pinned=[int(locked[0])])


def test_comparisons_neither_train_nor_score_on_locked_rows(digits, locked_home):
    _, locked = locked_home
    pool, held = holdout_split(digits, "label", 0.2, seed=0)
    assert not np.isin(pool, locked).any() and not np.isin(held, locked).any()
    assert len(pool) + len(held) == digits.n - len(locked)
    table = probe_sweep(digits, ["k-means", "random"], [20, 40], label_column="label",
                        probe="knn", random_draws=5, geometry=False)
    for rows in [table.attrs["pool_rows"], table.attrs["eval_rows"],
                 *table.attrs["selections"].values()]:
        assert not np.isin(rows, locked).any()
    geometry_only = probe_sweep(digits, ["k-center"], [30], probe="none", random_draws=5)
    assert not np.isin(geometry_only.attrs["pool_rows"], locked).any()
    assert not np.isin(geometry_only.attrs["selections"][("k-center", 30)], locked).any()
    _, picks = sweep(digits, ["k-center", "k-means"], [15, 30], random_draws=3)
    assert all(not np.isin(v, locked).any() for v in picks.values())


def test_runs_on_an_engine_refuse_data_with_a_locked_split(digits, locked_home):
    """Runs on an engine do not add the locked rows to their excluded rows yet, so select
    and compare on an engine refuse the data in one line (the local engine's object here:
    the rule is the engine path's, whichever engine runs it)."""
    from explorer.engine.local import LocalEngine

    for run in (lambda: explorer.select(digits, "k-center", 20, seed=0, engine=LocalEngine()),
                lambda: probe_sweep(digits, ["k-center"], [20], probe="none", random_draws=3,
                                    engine=LocalEngine())):
        with pytest.raises(ExplorerError, match="locked confirmation split") as info:
            run()
        assert "\n" not in str(info.value) and "without --engine" in str(info.value)


def test_the_scorecards_random_subsets_avoid_locked_rows(digits, locked_home):
    _, locked = locked_home
    ctx = ScoringContext.build(digits)
    free = np.setdiff1d(np.arange(digits.n), locked)
    score(digits, free[:40], random_draws=6, context=ctx)
    draws = [v[0] for k, v in ctx.random_cache.items() if k != "coverage_Z"]
    assert draws and all(not np.isin(d, locked).any() for ds in draws for d in ds)


def test_explorations_are_logged_and_counted(digits):
    folder = tempfile.mkdtemp()
    ledger = Ledger(folder)
    os.environ["SUBSET_EXPLORER_HOME"], before = folder, os.environ["SUBSET_EXPLORER_HOME"]
    try:
        explorer.select(digits, "k-center", 10)  # before the lock: not logged
        lock_confirmation(digits, "label", 0.2, seed=2)
        explorer.select(digits, "k-center", 10)
        explorer.select(digits, "random", 20, seed=4)
        probe_sweep(digits, ["k-means", "k-center"], [20, 40], label_column="label",
                    probe="knn", random_draws=3, geometry=False)
        found = status(digits)
    finally:
        os.environ["SUBSET_EXPLORER_HOME"] = before
    ex = found["explorations"]
    assert ex == {"runs": 6, "strategies": 3, "budgets": 3, "strategy_budgets": 6,
                  "by_entry": {"compare": 4, "select": 2}}
    assert len(ledger.explorations(digits.fingerprint)) == 6


def test_confirm_once_then_refused_or_flagged(digits, tmp_path):
    folder = tmp_path / "home"
    lock = lock_confirmation(digits, "label", 0.2, seed=3, folder=folder)
    free = np.setdiff1d(np.arange(digits.n), lock["rows"])
    with pytest.raises(ExplorerError, match="holds 2 row.* of the locked split"):
        confirm(digits, np.concatenate([free[:30], lock["rows"][:2]]), folder=folder)
    first = confirm(digits, free[:60], random_draws=30, folder=folder)
    rec = first.record
    assert rec["attempt"] == 1 and not first.flagged and rec["split"]["rows"] == 359
    acc = rec["metrics"]["accuracy"]
    assert acc["random_p05"] <= acc["random_mean"] <= acc["random_p95"]
    assert 1 / 31 <= acc["p_rank"] <= 1
    with pytest.raises(ExplorerError, match="already used on .* a second look is no longer a "
                                            "confirmation"):
        confirm(digits, free[:60], folder=folder)
    second = confirm(digits, free[60:120], random_draws=10, again=True, folder=folder)
    assert second.flagged and second.record["attempt"] == 2 and "FLAGGED" in second.summary()
    assert len(Ledger(folder).confirmations(digits.fingerprint)) == 2
    with pytest.raises(ExplorerError, match="no locked confirmation split"):
        confirm(digits, free[:60], folder=tmp_path / "empty")


def test_confirm_manifest_writes_a_valid_record_and_replay_still_works(digits, tmp_path):
    folder = tmp_path / "home"
    before = os.environ["SUBSET_EXPLORER_HOME"]
    os.environ["SUBSET_EXPLORER_HOME"] = str(folder)
    try:
        lock_confirmation(digits, "label", 0.2, seed=4)
        sel = explorer.select(digits, "k-means", 40, label_column="label")
        explorer.export(digits, sel, tmp_path / "s.csv", manifest=tmp_path / "s.json")
        result = confirm_manifest(tmp_path / "s.json", random_draws=20, data=digits)
        doc = explorer.read_manifest(tmp_path / "s.json")  # checked against the schema
        assert doc["confirmation"] == result.to_dict()
        assert doc["confirmation"]["explorations_before"]["runs"] == 1
        _, again = explorer.replay(tmp_path / "s.json")
        assert np.array_equal(again.indices, sel.indices)
        with pytest.raises(ExplorerError, match="s.json: already confirmed"):
            confirm_manifest(tmp_path / "s.json", data=digits)
    finally:
        os.environ["SUBSET_EXPLORER_HOME"] = before
    broken = dict(doc, confirmation=dict(doc["confirmation"], attempt=0))
    (tmp_path / "b.json").write_text(json.dumps(broken))
    with pytest.raises(ExplorerError, match=r"key 'confirmation.attempt' must be an integer "
                                            r">= 1"):
        explorer.read_manifest(tmp_path / "b.json")


def test_cli_lock_confirm_and_a_second_confirm(tmp_path):
    env = dict(os.environ, SUBSET_EXPLORER_HOME=str(tmp_path / "home"))
    data = str(ROOT / "sample_data" / "digits.parquet")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "explorer", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)

    done = run("lock", data, "--id-column", "id", "--label-column", "label", "--seed", "9")
    assert done.returncode == 0 and "locked 359 of 1797 rows" in done.stderr
    done = run("select", data, "--id-column", "id", "--strategy", "k-center", "--budget", "40",
               "--out", "s.csv", "--manifest", "s.json")
    assert done.returncode == 0, done.stderr
    done = run("confirm", "s.json", "--random-draws", "20")
    assert done.returncode == 0, done.stderr
    assert "1 strategy, 1 budget" in done.stdout and "accuracy" in done.stdout
    assert "confirmation" in json.loads((tmp_path / "s.json").read_text())
    done = run("confirm", "s.json")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "already confirmed" in done.stderr


def test_a_manifest_from_before_the_lock_says_why_it_no_longer_replays(digits, tmp_path):
    before = os.environ["SUBSET_EXPLORER_HOME"]
    os.environ["SUBSET_EXPLORER_HOME"] = str(tmp_path / "home")
    try:
        to_be_locked = lock_confirmation(digits, "label", 0.2, seed=5,
                                         folder=tmp_path / "elsewhere")["rows"]
        early = explorer.select(digits, "k-center", 60)
        explorer.write_manifest(tmp_path / "early.json", digits, early)
        clean = explorer.select(digits, "k-center", 60, excluded=to_be_locked)
        explorer.write_manifest(tmp_path / "clean.json", digits, clean)
        time.sleep(1.1)  # manifests record the second they were written
        lock_confirmation(digits, "label", 0.2, seed=5)
        with pytest.raises(ExplorerError, match="confirmation split .* was locked after the "
                                                "manifest was written"):
            explorer.replay(tmp_path / "early.json")
        # k-center's 60 picks reach into the 20 % now locked: confirm refuses to judge them
        with pytest.raises(ExplorerError, match="holds .* row.* of the locked split"):
            confirm_manifest(tmp_path / "early.json", data=digits, random_draws=5)
        # a selection that avoided those rows is confirmed, and flagged as made before the lock
        result = confirm_manifest(tmp_path / "clean.json", data=digits, random_draws=5)
    finally:
        os.environ["SUBSET_EXPLORER_HOME"] = before
    assert result.record["made_before_lock"] and "made before the split was locked" in \
        result.summary()
