"""Conventions of the ecosystem: --version, --quiet, progress bars on a terminal only,
strategies as JSON, score's estimate, a scikit-learn compatible selector, explorer.load of
an array."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import explorer
from explorer.cli import Progress, main
from explorer.data.samples import SAMPLES
from explorer.errors import ExplorerError
from explorer.estimator import SubsetSelector
from explorer.strategies import REGISTRY

DIGITS = str(SAMPLES["digits"])


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"explorer (subset-explorer) {explorer.__version__}"


def test_strategies_as_json(capsys):
    assert main(["strategies", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in listed] == [s.name for s in explorer.list_strategies()]
    assert set(REGISTRY) == {s["name"] for s in listed}
    kcenter = next(s for s in listed if s["name"] == "k-center")
    assert kcenter["greedy"] is True and kcenter["family"] == "coverage" and kcenter["paper"]
    stratified = next(s for s in listed if s["name"] == "stratified")
    n_clusters = next(p for p in stratified["parameters"] if p["name"] == "n_clusters")
    assert n_clusters["default"] == 10 and "int" in n_clusters["constraint"]
    ccs = next(s for s in listed if s["name"] == "ccs")
    assert ccs["needs"][0]["input"] == "scores"


def test_quiet_leaves_notes_out_but_not_errors(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert main(["select", DIGITS, "--strategy", "k-center", "--budget", "10", "--out",
                 str(out), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["-q", "select", DIGITS, "--strategy", "k-center", "--budget", "10", "--out",
                 str(tmp_path / "t.csv")]) == 0
    assert capsys.readouterr().err == ""
    assert main(["select", DIGITS, "--strategy", "k-center", "--budget", "10", "--out",
                 str(tmp_path / "u.csv")]) == 0
    assert "selected 10 of 1797 rows" in capsys.readouterr().err
    assert main(["select", DIGITS, "--strategy", "k-centre", "--budget", "10", "--out",
                 str(tmp_path / "v.csv"), "-q"]) == 2
    assert "Unknown strategy 'k-centre'" in capsys.readouterr().err


def test_progress_bars_are_drawn_on_a_terminal_only(monkeypatch, tmp_path):
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    bar = Progress("select", delay=0)
    bar(0.5, "half way")
    bar(1.0, "done")
    bar.close()
    drawn = terminal.getvalue()
    assert "\rselect [############............]  50%     0 s half way" in drawn
    assert "100%     0 s done" in drawn and drawn.endswith("\r")
    quiet = _Terminal()
    monkeypatch.setattr("sys.stderr", quiet)
    bar = Progress("select", quiet=True, delay=0)
    bar(0.5, "x")
    bar.close()
    assert quiet.getvalue() == ""
    pipe = io.StringIO()  # not a terminal: nothing
    monkeypatch.setattr("sys.stderr", pipe)
    bar = Progress("select", delay=0)
    bar(0.5, "x")
    bar.close()
    assert pipe.getvalue() == ""
    # a step whose strategy reports nothing still shows that it works, with the time spent
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    bar = Progress("k-means", delay=0)
    import time

    time.sleep(1.2)
    bar.close()
    assert "\rk-means [        working         ]          1 s" in terminal.getvalue()
    # a quick step draws nothing even on a terminal (the bar waits a second)
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert main(["select", DIGITS, "--strategy", "random", "--budget", "10", "--out",
                 str(tmp_path / "s.csv"), "-q"]) == 0
    assert terminal.getvalue() == ""


def test_select_score_and_compare_feed_their_bars(monkeypatch, tmp_path):
    """Every long step reports progress to the bar (drawn here at once on a fake terminal)."""
    seen = []
    real = Progress.__call__

    def spy(self, fraction, message=""):
        seen.append((self.label, round(float(fraction), 3)))
        real(self, fraction, message)

    monkeypatch.setattr(Progress, "__call__", spy)
    monkeypatch.setattr("sys.stderr", _Terminal())
    out = tmp_path / "s.csv"
    assert main(["select", DIGITS, "--strategy", "facility-location", "--budget", "20",
                 "--out", str(out)]) == 0
    assert main(["score", DIGITS, "--selection", str(out), "--random-draws", "4"]) == 0
    assert main(["compare", DIGITS, "--strategies", "random,k-center", "--budgets", "20",
                 "--random-draws", "2", "--out", str(tmp_path / "c.csv")]) == 0
    labels = {label for label, _ in seen}
    assert {"facility-location", "score", "compare"} <= labels
    assert ("score", 1.0) in seen


def test_score_says_its_estimate_when_heavy(monkeypatch, tmp_path, capsys):
    from explorer import cost

    out = tmp_path / "s.csv"
    assert main(["select", DIGITS, "--strategy", "random", "--budget", "20", "--out",
                 str(out), "-q"]) == 0
    # a heavy scorecard needs ~100,000 rows; the estimate is replaced by one that says so
    monkeypatch.setattr(cost, "estimate_score",
                        lambda n, dim, size, random_draws=30: cost.Estimate(900.0, 1 << 20,
                                                                            "Fewer draws."))
    assert main(["score", DIGITS, "--selection", str(out), "--random-draws", "3"]) == 0
    err = capsys.readouterr().err
    assert "note: scoring 20 of 1,797 x 64 rows against 3 random subsets will take" in err
    assert main(["score", DIGITS, "--selection", str(out), "--random-draws", "3", "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_subset_selector_is_a_scikit_learn_estimator(digits):
    X = np.asarray(digits.embeddings)
    selector = SubsetSelector("facility-location", 30, random_state=0)
    assert selector.get_params() == {"strategy": "facility-location", "budget": 30,
                                     "random_state": 0, "metric": "euclidean", "params": None}
    twin = clone(selector)
    assert twin is not selector and twin.get_params() == selector.get_params()
    assert not hasattr(twin, "ranking_")
    selector.fit(X)
    same = explorer.select(explorer.load(X), "facility-location", 30, seed=0)
    assert selector.ranking_.tolist() == same.indices.tolist()
    assert selector.indices_.tolist() == sorted(same.indices.tolist())
    assert np.allclose(selector.gains_, same.gains)
    assert np.array_equal(selector.transform(X), X[selector.ranking_])
    assert selector.set_params(budget=10).fit(X).ranking_.tolist() == same.indices[:10].tolist()

    pipe = Pipeline([("scale", StandardScaler()), ("select", SubsetSelector("k-center", 15,
                                                                            random_state=1))])
    rows = pipe.fit_transform(X)
    scaled = StandardScaler().fit_transform(X)
    picked = pipe.named_steps["select"].ranking_
    assert rows.shape == (15, 64) and np.allclose(rows, scaled[picked])
    assert pipe.get_params()["select__budget"] == 15

    labels = digits.metadata["label"].to_numpy()
    strat = SubsetSelector("stratified", 100, random_state=0,
                           params={"by": "label"}).fit(X, labels)
    counts = np.bincount(labels[strat.ranking_].astype(int), minlength=10)
    assert counts.min() >= 9 and counts.sum() == 100
    assert np.isnan(strat.gains_).all()
    with pytest.raises(ExplorerError, match="fitted on"):
        selector.transform(X[:100])
    with pytest.raises(ExplorerError, match="Unknown strategy"):
        SubsetSelector("k-centre", 5).fit(X)


def test_load_takes_an_array_or_names_from_arrays():
    X = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    data = explorer.load(X)
    assert data.n == 50 and data.dim == 8 and data.ids.tolist() == list(range(50))
    assert explorer.select(data, "k-center", 5, seed=0).indices.shape == (5,)
    with pytest.raises(ExplorerError, match=r"Dataset\.from_arrays"):
        explorer.load(X.tolist())
    with pytest.raises(ExplorerError, match=r"Dataset\.from_arrays"):
        explorer.load(X, id_column="id")
    with pytest.raises(ExplorerError, match="2-D"):
        explorer.load(np.arange(5.0))


#: The modules whose public functions check their arguments with
#: :func:`explorer.params.validate_params` (``explorer.evaluate.metrics`` is left out: array
#: kernels the scorecard calls with arrays it built).
VALIDATED_MODULES = (
    "explorer.evaluate.advisor", "explorer.evaluate.compare", "explorer.evaluate.confirm",
    "explorer.evaluate.probes", "explorer.evaluate.robustness", "explorer.evaluate.scorecard",
    "explorer.evaluate.stats", "explorer.evaluate.sweep", "explorer.row_scores", "explorer.dimensions", "explorer.search",
)
#: Public functions of those modules without the decorator, and why.
UNVALIDATED = {
    "explorer.evaluate.advisor.power_law": "a formula over arrays (curve_fit calls it)",
    "explorer.evaluate.advisor.rows": "formats a number for a sentence",
    "explorer.evaluate.probes.one_blas_thread": "a context manager without arguments",
    "explorer.evaluate.confirm.plural": "formats a count for a sentence",
    "explorer.evaluate.confirm.tried": "reads the exploration log frame",
    "explorer.evaluate.robustness.flip": "names a verdict change",
    "explorer.evaluate.robustness.jaccard_of": "two index sets; any iterables",
    "explorer.evaluate.stats.rank_p_value": "numbers in, a number out (inner loops)",
    "explorer.evaluate.stats.prediction_p_value": "numbers in, a number out (inner loops)",
    "explorer.evaluate.stats.holm": "p-values are data: it checks them itself",
    "explorer.dimensions.variance_scores": "an array kernel of choose_dimensions",
    "explorer.dimensions.pivoted_qr_order": "an array kernel of choose_dimensions",
    "explorer.dimensions.inf_fs_scores": "an array kernel of choose_dimensions",
    "explorer.dimensions.omp_order": "an array kernel of choose_dimensions",
    "explorer.dimensions.nearest_neighbours": "an array kernel of dimension_report",
    "explorer.search.query_model": "takes a dataset only; its checks are about the data",
}


def test_public_functions_of_the_evaluation_modules_declare_their_parameters():
    """Every public function there carries ``validate_params`` (or is listed above with a
    reason), so a wrong argument gets the one message naming the function and parameter."""
    import importlib
    import inspect

    missing = []
    for name in VALIDATED_MODULES:
        module = importlib.import_module(name)
        for fname, func in vars(module).items():
            if not inspect.isfunction(func) or func.__module__ != name or fname.startswith("_"):
                continue
            if not hasattr(func, "parameter_constraints") and \
                    f"{name}.{fname}" not in UNVALIDATED:
                missing.append(f"{name}.{fname}")
    assert not missing, ("public functions without @validate_params (declare their "
                         f"parameters, or list them in UNVALIDATED with a reason): {missing}")


def test_no_hand_written_parameter_messages():
    """The wording 'The 'x' parameter of f must be ...' comes from explorer.params only
    (parameter_error, check_param, validate_params); the other modules never write it."""
    import re
    from pathlib import Path

    root = Path(explorer.__file__).parent
    shape = re.compile(r"""The (\{\w+!r\}|'\w+') parameter of|must be an? (int|float|number) """
                       r"""(in|>|>=)""")
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "params.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if shape.search(line) and "ExplorerError" in "".join(
                    path.read_text().splitlines()[max(0, number - 3):number]):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert not found, "hand-written parameter messages:\n" + "\n".join(found)
