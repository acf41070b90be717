"""The budget advisor: the fit recovers known learning curves, the bootstrap interval covers
the true budget, 'no saving' and 'cannot say' are said when they are the answer, a prediction
on digits is confirmed by a larger run measured afterwards, and the locked split stays out."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import explorer
from explorer.data.ledger import Ledger, locked_rows
from explorer.errors import ExplorerError
from explorer.evaluate.advisor import (advice_from_curves, advise, fit_learning_curve,
                                       power_law)
from explorer.evaluate.confirm import lock_confirmation
from explorer.evaluate.probes import make_probe, random_envelope, take_rows

ROOT = Path(__file__).resolve().parents[1]
GRID = np.array([20, 35, 60, 100, 180, 300, 500, 850])


@settings(max_examples=40, deadline=None)
@given(a=hs.floats(0.5, 0.99), b=hs.floats(0.2, 8.0), c=hs.floats(0.2, 1.5))
def test_the_fit_recovers_the_parameters_of_a_known_law(a, b, c):
    # the law must still be rising over the grid for its parameters to be identifiable
    rise = power_law(GRID[-1], a, b, c) - power_law(GRID[0], a, b, c)
    if rise < 0.05 or power_law(GRID[0], a, b, c) < -1:
        return
    fit = fit_learning_curve(GRID, power_law(GRID, a, b, c))
    assert fit.ok, fit.reason
    assert fit.a == pytest.approx(a, abs=2e-4)
    assert fit.c == pytest.approx(c, rel=2e-3)
    assert fit.b == pytest.approx(b, rel=1e-2)
    target = a - 0.01
    true = (b / 0.01) ** (1 / c)
    assert fit.budget_for(target) == pytest.approx(true, rel=1e-2)


def test_the_interval_covers_the_true_budget_on_noisy_curves():
    """Random-like curves (R noisy draws per budget) from a known law: the 5-95 % bootstrap
    interval of n* holds the true n* in most repetitions (nominal 90 %)."""
    a, b, c = 0.95, 3.0, 0.8
    true = (b / 0.01) ** (1 / c)  # ~1,250 rows; the grid reaches 850
    covered = 0
    for rep in range(8):
        rng = np.random.default_rng(rep)
        draws = {int(n): list(power_law(n, a, b, c) + rng.normal(0, 0.01, 20)) for n in GRID}
        advice = advice_from_curves({}, draws, a, eps=1.0, boot=150, seed=rep,
                                    extrapolate=3.0)
        assert advice.random.status == "ok", advice.random.reason
        covered += advice.random.low <= true <= advice.random.high
    assert covered >= 6


def _random_curve(n, rng=None, spread=0.01, draws=20):
    rng = rng or np.random.default_rng(0)
    return {int(b): list(power_law(b, 0.96, 1.2, 0.7) + rng.normal(0, spread, draws))
            for b in n}


def test_no_saving_when_the_curve_stays_inside_random_band_or_needs_more_rows():
    random_draws = _random_curve(GRID)
    inside = {int(b): [float(power_law(b, 0.96, 1.2, 0.7)) + 0.002] for b in GRID}
    slower = {int(b): [float(power_law(b, 0.96, 1.2, 0.55))] for b in GRID}
    faster = {int(b): [float(power_law(b, 0.96, 0.5, 0.7))] for b in GRID}
    advice = advice_from_curves({"inside": inside, "slower": slower, "faster": faster},
                                random_draws, 0.96, eps=1.0, extrapolate=4.0)
    assert advice.strategies["inside"].status == "no saving"
    assert "inside random's 5-95 % band at every budget" in advice.strategies["inside"].reason
    assert advice.strategies["slower"].status in ("no saving", "cannot say")
    assert advice.strategies["faster"].status == "ok"
    lines = advice.sentences()
    assert lines[0].startswith("inside: no saving")
    assert "fewer rows" in lines[2] and advice.ratios["faster"][0] > 1


def test_cannot_say_when_the_curves_do_not_support_a_claim():
    rnd = _random_curve(GRID)
    # too few budgets to fit three parameters
    few = advice_from_curves({"s": {20: [0.5], 40: [0.6], 80: [0.7]}}, rnd, 0.96)
    assert few.strategies["s"].status == "cannot say"
    assert "needs at least 4 budgets" in few.strategies["s"].reason
    assert "s: cannot say how many rows reach" in few.sentence()
    # a curve levelling off below the target
    flat = {int(b): [float(power_law(b, 0.90, 2.0, 0.9))] for b in GRID}
    low = advice_from_curves({"flat": flat}, rnd, 0.96).strategies["flat"]
    assert low.status == "cannot say" and "levels off at 0.900, below the target 0.950" in \
        low.reason
    # a target far beyond the largest budget measured
    short = GRID[:4]
    far = advice_from_curves({}, _random_curve(short), 0.96, extrapolate=2.0)
    assert far.random.status == "cannot say" and "measure larger budgets" in far.random.reason
    assert far.sentence().startswith("random: cannot say how many rows reach")
    # an interval the bootstrap leaves open: noise as large as the distance to the target
    noisy = advice_from_curves({}, _random_curve(GRID, spread=0.08, draws=4), 0.96,
                               extrapolate=10.0)
    assert noisy.random.status == "cannot say"
    assert "open-ended" in noisy.random.reason or "levels off" in noisy.random.reason
    with pytest.raises(ExplorerError, match="'eps' parameter of advice_from_curves"):
        advice_from_curves({}, rnd, 0.96, eps=0)


def test_on_digits_the_predicted_budget_is_confirmed_by_a_larger_run(digits):
    """Fit on budgets up to 250; the budget predicted for eps = 3 points lies beyond them
    (a real extrapolation); then the probe is measured there, a run the fit never saw."""
    advice = advise(digits, ["random", "k-center"], label_column="label", probe="knn", eps=3,
                    budgets=[20, 33, 55, 90, 150, 250], random_draws=10, boot=100)
    rnd, kc = advice.random, advice.strategies["k-center"]
    assert rnd.status == "ok" and kc.status == "ok", advice.sentence()
    assert 250 < rnd.budget < 500 and rnd.low < rnd.budget < rnd.high
    probe = make_probe(digits, "knn", advice.pool_rows, advice.eval_rows,
                       label_column="label")

    def random_at(n):  # fresh draws (seed 1), not the ones the fit used
        return float(random_envelope(probe, int(round(n)), draws=10, seed=1)["accuracy"]
                     .mean())

    at = random_at(rnd.budget)
    low, high = rnd.band_at(rnd.budget)
    assert low <= at <= high  # the measured value lies in the fitted curves' band there
    assert abs(at - advice.target) < 0.01  # and it is the target, within a point
    assert random_at(rnd.low) < random_at(rnd.high)
    assert random_at(rnd.high) >= advice.target - 0.002
    pool = take_rows(digits, advice.pool_rows)
    picked = explorer.select(pool, "k-center", int(round(kc.budget))).indices
    assert probe.run(picked)["accuracy"] >= advice.target - 0.01
    assert "k-center reaches within 3 points of the full-data accuracy" in advice.sentence()


def test_the_advisor_never_touches_a_locked_split(digits):
    before = os.environ.get("SUBSET_EXPLORER_HOME")
    folder = tempfile.mkdtemp(prefix="advise-lock-")
    os.environ["SUBSET_EXPLORER_HOME"] = folder
    try:
        lock_confirmation(digits, "label", 0.2, seed=3)
        locked = locked_rows(digits)
        advice = advise(digits, ["k-means", "k-center"], label_column="label", probe="knn",
                        budgets=[20, 40, 80, 160], random_draws=4, seeds=2, boot=20)
        log = Ledger(folder).explorations(digits.fingerprint)
    finally:
        if before is None:
            os.environ.pop("SUBSET_EXPLORER_HOME")
        else:
            os.environ["SUBSET_EXPLORER_HOME"] = before
    assert len(locked) == 359
    used = np.union1d(advice.pool_rows, advice.eval_rows)
    assert len(np.intersect1d(used, locked)) == 0 and len(used) == digits.n - len(locked)
    assert len(advice.selections) == 8
    for rows in advice.selections.values():
        assert len(np.intersect1d(rows, locked)) == 0
    assert len(log) >= 8  # every strategy x budget the advisor ran was logged


def test_cli_advise_prints_the_sentence_in_rows(tmp_path):
    data = str(ROOT / "sample_data" / "digits.parquet")
    env = dict(os.environ, SUBSET_EXPLORER_HOME=str(tmp_path / "home"))

    def run(*args):
        return subprocess.run([sys.executable, "-m", "explorer", "advise", data, "--id-column",
                               "id", "--label-column", "label", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)

    done = run("--strategies", "random,k-center", "--probe", "knn", "--eps", "3", "--budgets",
               "20,33,55,90,150,250", "--random-draws", "6", "--bootstrap", "50")
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("k-center reaches within 3 points of the full-data accuracy")
    assert " rows [" in first and "random needs ~" in first and "x fewer rows" in first
    bad = run("--strategies", "k-center", "--eps", "0")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "eps" in bad.stderr
