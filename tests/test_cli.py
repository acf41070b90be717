"""The command line in its exact forms, on the bundled sample; exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from explorer.cli import main
from explorer.data.samples import SAMPLES

DIGITS = str(SAMPLES["digits"])


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_and_strategies(capsys):
    code, out, _ = run(capsys, "info", DIGITS, "--id-column", "id")
    assert code == 0
    assert "rows         1797" in out and "dimensions   64" in out and "fingerprint" in out
    assert "0: 178" in out  # label counts
    code, out, _ = run(capsys, "strategies")
    assert code == 0
    for name in ("random", "stratified", "k-center", "k-means", "facility-location", "dedup"):
        assert f"\n{name}" in out
    assert "--param n_clusters=10" in out and "== baseline ==" in out


def test_select_score_replay_round_trip(tmp_path, capsys):
    out_csv = tmp_path / "sel.csv"
    manifest = tmp_path / "sel.json"
    code, _, err = run(capsys, "select", DIGITS, "--id-column", "id", "--strategy", "k-center",
                       "--budget", "50", "--out", str(out_csv), "--manifest", str(manifest),
                       "--seed", "3")
    assert code == 0, err
    assert "selected 50 of 1797 rows" in err
    frame = pd.read_csv(out_csv)
    assert list(frame.columns[:4]) == ["rank", "index", "id", "gain"]
    assert frame["id"].is_unique and len(frame) == 50
    doc = json.loads(manifest.read_text())
    assert doc["strategy"] == "k-center" and doc["seed"] == 3 and doc["budget"] == 50
    assert doc["dataset"]["shape"] == [1797, 64]

    code, out, err = run(capsys, "score", DIGITS, "--selection", str(out_csv), "--format",
                         "json", "--random-draws", "8", "--label-column", "label")
    assert code == 0, err
    card = json.loads(out)
    assert card["budget"] == 50
    assert set(card["metrics"]["coverage_max"]) >= {"value", "random_mean", "random_std",
                                                    "random_p05", "random_p95", "percentile",
                                                    "higher_is_better"}
    code, out, _ = run(capsys, "score", DIGITS, "--id-column", "id", "--selection",
                       str(manifest), "--random-draws", "5")
    assert code == 0 and "coverage_max" in out and "verdict" in out
    # the same file read with other ids is other data: the manifest says so
    code, _, err = run(capsys, "score", DIGITS, "--selection", str(manifest))
    assert code == 2 and "made on other data" in err

    replayed = tmp_path / "again.csv"
    code, _, err = run(capsys, "select", "--replay", str(manifest), "--out", str(replayed))
    assert code == 0, err
    assert pd.read_csv(replayed)["id"].tolist() == frame["id"].tolist()


def test_fraction_budget_pins_excludes_and_params(tmp_path, capsys):
    pins = tmp_path / "pins.txt"
    pins.write_text("digit-0005\ndigit-0010\n")
    excl = tmp_path / "excl.npy"
    np.save(excl, np.arange(100, 200))
    out = tmp_path / "s.npy"
    code, _, err = run(capsys, "select", DIGITS, "--id-column", "id", "--strategy", "k-means",
                       "--budget", "0.02", "--param", "n_clusters=12", "--param", "pick=median",
                       "--pin", str(pins), "--exclude", str(excl), "--out", str(out))
    assert code == 0, err
    idx = np.load(out)
    assert len(idx) == round(0.02 * 1797) and idx[:2].tolist() == [5, 10]
    assert not np.isin(idx, np.arange(100, 200)).any()


@pytest.mark.parametrize("argv,message", [
    (["select", DIGITS, "--strategy", "k-centre", "--budget", "5"], "Did you mean 'k-center'"),
    (["select", DIGITS, "--strategy", "random", "--budget", "0"], "'budget' parameter"),
    (["select", DIGITS, "--strategy", "random", "--budget", "2.5"], "'budget' parameter"),
    (["select", DIGITS, "--strategy", "random", "--budget", "5000"],
     "budget 5000 exceeds the 1797 rows"),
    (["select", DIGITS, "--strategy", "k-means", "--budget", "5", "--param", "nclusters=3"],
     "k-means has no parameter 'nclusters'"),
    (["select", DIGITS, "--strategy", "k-means", "--budget", "5", "--param", "pick=best"],
     "The 'pick' parameter of k-means must be a str among"),
    (["select", "/no/such/file.npy", "--strategy", "random", "--budget", "5"], "no such file"),
    (["select", DIGITS, "--strategy", "stratified", "--budget", "5", "--label-column", "digit"],
     "Column 'digit' for labels is not in the metadata"),
    (["info", DIGITS, "--id-column", "name"], "no id column 'name'"),
])
def test_bad_input_exits_2_with_a_message_and_no_traceback(tmp_path, capsys, argv, message):
    code, out, err = run(capsys, *argv, "--out", str(tmp_path / "o.csv")) if argv[0] == "select" \
        else run(capsys, *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_no_overwrite_without_force(tmp_path, capsys):
    out = tmp_path / "s.csv"
    out.write_text("precious\n")
    code, _, err = run(capsys, "select", DIGITS, "--strategy", "random", "--budget", "5",
                       "--out", str(out))
    assert code == 2 and "already exists" in err and "--force" in err
    assert out.read_text() == "precious\n"
    code, _, _ = run(capsys, "select", DIGITS, "--strategy", "random", "--budget", "5",
                     "--out", str(out), "--force")
    assert code == 0 and out.read_text().startswith("rank,index,id")


def test_console_script_exit_codes_and_debug(tmp_path):
    exe = [sys.executable, "-m", "explorer"]
    bad = subprocess.run(exe + ["select", DIGITS, "--strategy", "nope", "--budget", "3",
                                "--out", str(tmp_path / "x.csv")], capture_output=True, text=True)
    assert bad.returncode == 2 and "Unknown strategy 'nope'" in bad.stderr
    assert "Traceback" not in bad.stderr
    dbg = subprocess.run(exe + ["--debug", "select", DIGITS, "--strategy", "nope", "--budget",
                                "3", "--out", str(tmp_path / "x.csv")], capture_output=True,
                         text=True)
    assert dbg.returncode != 0 and "Traceback" in dbg.stderr
    ok = subprocess.run(exe + ["select", DIGITS, "--strategy", "random", "--budget", "4",
                               "--out", str(tmp_path / "r.npy")], capture_output=True, text=True)
    assert ok.returncode == 0 and len(np.load(tmp_path / "r.npy")) == 4


def test_the_cli_does_not_import_the_app_stack():
    code = ("import sys, explorer.cli; explorer.cli.main(['strategies']); "
            "bad = [m for m in ('streamlit', 'plotly', 'umap') if m in sys.modules]; "
            "assert not bad, bad")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_pipeline_target_and_where_forms(tmp_path, capsys):
    out, manifest = tmp_path / "p.csv", tmp_path / "p.json"
    code, _, err = run(capsys, "select", DIGITS, "--strategy", "dedup", "--param",
                       "threshold=1.0", "--then", "k-center", "--budget", "40", "--out",
                       str(out), "--manifest", str(manifest))
    assert code == 0, err
    assert "dedup: kept 1324 of 1797 rows" in err
    doc = json.loads(manifest.read_text())
    assert doc["strategy"] == "k-center"
    assert [s["strategy"] for s in doc["steps"]] == ["dedup"]
    assert doc["steps"][0]["selected"] == 1324
    code, _, err = run(capsys, "select", "--replay", str(manifest), "--out",
                       str(tmp_path / "again.csv"))
    assert code == 0, err
    assert pd.read_csv(tmp_path / "again.csv")["index"].tolist() == \
        pd.read_csv(out)["index"].tolist()

    # a target as a query, then scored against the same target
    tm = tmp_path / "t.json"
    code, _, err = run(capsys, "select", DIGITS, "--strategy", "dsir", "--budget", "50",
                       "--target-query", "label == '4'", "--out", str(tmp_path / "t.npy"),
                       "--manifest", str(tm))
    assert code == 0, err
    assert json.loads(tm.read_text())["target"] == {"query": "label == '4'"}
    code, text, err = run(capsys, "score", DIGITS, "--selection", str(tm), "--target-query",
                          "label == '4'", "--random-draws", "8")
    assert code == 0, err
    assert "target_mmd" in text and "target_ot" in text
    line = next(l for l in text.splitlines() if l.startswith("target_ot"))
    assert "better than random" in line

    # a target as a file of row indices
    rows = tmp_path / "rows.npy"
    np.save(rows, np.arange(200, 260))
    code, _, err = run(capsys, "select", DIGITS, "--strategy", "ot-target", "--budget", "80",
                       "--target", str(rows), "--out", str(tmp_path / "o.csv"))
    assert code == 0, err
    assert "ot-target: selected" in err

    # where, and the messages for mistakes
    code, _, err = run(capsys, "select", DIGITS, "--strategy", "k-center", "--budget", "20",
                       "--where", "label == '8'", "--out", str(tmp_path / "w.csv"))
    assert code == 0, err
    assert set(pd.read_csv(tmp_path / "w.csv")["label"]) == {8}
    code, _, err = run(capsys, "select", DIGITS, "--strategy", "dsir", "--budget", "20",
                       "--target-query", "label == 4", "--out", str(tmp_path / "x.csv"))
    assert code == 2 and "column 'label' holds text; quote the value ('4', not 4)" in err
    code, _, err = run(capsys, "select", DIGITS, "--strategy", "stratified", "--then",
                       "k-center", "--budget", "20", "--out", str(tmp_path / "y.csv"))
    assert code == 2 and "needs --first-budget" in err
    code, _, err = run(capsys, "select", DIGITS, "--strategy", "k-center", "--budget", "20",
                       "--then-param", "x=1", "--out", str(tmp_path / "z.csv"))
    assert code == 2 and "need --then" in err


def test_compare_writes_the_long_table_a_plot_and_a_summary(tmp_path, capsys):
    out, plot = tmp_path / "cmp.csv", tmp_path / "cmp.html"
    code, text, err = run(capsys, "compare", DIGITS, "--strategies", "k-means,random",
                          "--budgets", "20,100", "--label-column", "label", "--probe", "knn",
                          "--random-draws", "12", "--out", str(out), "--plot", str(plot))
    assert code == 0, err
    table = pd.read_csv(out)
    for col in ("strategy", "budget", "metric", "value", "random_mean", "random_p05",
                "random_p95", "percentile", "difference", "ci_low", "ci_high", "p_value",
                "p_holm", "verdict"):
        assert col in table.columns
    assert set(table["strategy"]) == {"k-means", "random"}
    assert set(table["budget"]) == {20, 100}
    assert {"knn_accuracy", "coverage_max"} <= set(table["metric"])
    assert "better than random (Holm-corrected" in text and "knn_accuracy" in text
    assert "Verdicts use Holm-corrected" in err
    html = plot.read_text()
    assert "knn_accuracy" in html and "random 5" in html and "plotly" in html
    # nothing is overwritten without --force
    code, _, err = run(capsys, "compare", DIGITS, "--strategies", "random", "--budgets", "20",
                       "--out", str(out))
    assert code == 2 and "exists" in err
    code, _, err = run(capsys, "compare", DIGITS, "--strategies", "nope", "--out",
                       str(tmp_path / "x.csv"))
    assert code == 2 and "nope" in err


def test_a_heavy_run_is_announced_with_an_estimate_and_the_faster_variant(tmp_path, capsys,
                                                                          monkeypatch):
    from explorer import cost

    est = cost.estimate("k-center", 1_000_000, 384, 50_000)
    assert est.heavy and est.upper_bound > est.seconds and "k-means" in est.advice
    assert not cost.estimate("random", 1_000_000, 384, 50_000).heavy
    assert cost.estimate("facility-location", 10**6, 384, 1000, {"kernel": "dense"}).heavy
    monkeypatch.setattr(cost, "SLOW_SECONDS", -1.0)  # call every run heavy
    code, _, err = run(capsys, "select", DIGITS, "--strategy", "k-center", "--budget", "30",
                       "--out", str(tmp_path / "k.csv"))
    assert code == 0
    assert "note: k-center on 1,797 x 64 with budget 30 will take about" in err
    assert "(at most" in err
    assert "k-center: selected 30" in err
