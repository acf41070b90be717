"""The app on a sharded dataset (issue 13): opened from a folder of shards typed in the sidebar,
run on the engine chosen there (this process, or a real Dask LocalCluster of 2 worker
processes reached by its scheduler's address), the map a uniform sample plus every selected
row, the export the command line's Parquet + manifest, a zipped Hugging Face folder and Label
Studio tasks. Streamlit's AppTest, real components."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import explorer
from explorer.data.shards import write_shards
from explorer.engine import drivers
from explorer.engine.sample_map import fit_projection, map_layout, read_map_sample
from explorer.strategies import list_strategies

from app_pages import opened as opened_with, texts

SHARDS_SOURCE = "Shards on disk (folder or glob)"
SAMPLE_ROWS = 400


@pytest.fixture(scope="module")
def shards(digits, tmp_path_factory):
    """The digits in 3 Parquet shards, one of them empty (below the allowed folders)."""
    folder = tmp_path_factory.mktemp("digit-shards")
    write_shards(digits, folder, [0, 700, 700, 1797])
    return str(folder)


def opened(folder: str, **settings):
    """The app opened on ``folder``, with the sidebar's other ``settings``."""
    return opened_with(source=SHARDS_SOURCE, shards_path=folder, shards_id="id",
                       map_sample_rows=SAMPLE_ROWS, **settings)


def map_series(at) -> dict:
    chart = next(json.loads(c.proto.spec) for c in at.get("echarts_chart")
                 if "shard_map-" in c.proto.id)
    return {s["name"]: len(s["data"]) for s in chart["series"]}


def test_sample_is_the_smallest_keys_and_the_layout_keeps_it_in_place(shards):
    data = explorer.load(shards, id_column="id")
    sample = read_map_sample(data, engine="local", rows=SAMPLE_ROWS, columns=("label",))
    run = drivers.Run(data, explorer.engine.get_engine("local"), "euclidean")
    _, smallest, _ = run.smallest(0, SAMPLE_ROWS)
    assert sample.index.tolist() == sorted(smallest.tolist())  # the keyed uniform sample
    assert sample.n == SAMPLE_ROWS and sample.total == 1797
    digits = explorer.load_sample("digits")
    assert sample.ids.tolist() == digits.ids[sample.index].tolist()
    picks = explorer.select(data, "k-center", 30, engine="local").indices
    before = map_layout(data, sample, None)
    after = map_layout(data, sample, picks)
    assert after.n == len(np.union1d(sample.index, picks)) <= SAMPLE_ROWS + 30
    assert sorted(after.index[after.selected].tolist()) == sorted(picks.tolist())
    # the projection is fitted on the sample: its points stay where they were
    keep = np.searchsorted(after.index, before.index)
    np.testing.assert_allclose(after.xy[keep], before.xy, atol=1e-5)
    assert after.columns["label"].tolist() == \
        digits.metadata["label"].to_numpy()[after.index].tolist()


def test_a_umap_of_the_sample_keeps_it_in_place_and_places_other_rows_near_their_neighbours(
        shards):
    data = explorer.load(shards, id_column="id")
    sample = read_map_sample(data, engine="local", rows=SAMPLE_ROWS)
    fitted = fit_projection(sample, "umap")
    assert fitted.method == "umap" and fitted.explained is None
    picks = explorer.select(data, "k-center", 30, engine="local").indices
    before = map_layout(data, sample, None, projection=fitted)
    after = map_layout(data, sample, picks, projection=fitted)
    assert after.method == "umap" and after.explained is None
    keep = np.searchsorted(after.index, before.index)
    np.testing.assert_array_equal(after.xy[keep], before.xy)  # the sample does not move
    outside = np.setdiff1d(picks, sample.index)
    assert len(outside) > 0
    # a row outside the sample lands among the sample rows nearest to it in the embedding
    # space: nearer (on the map) to its nearest sample row than a typical pair of points
    X = explorer.load_sample("digits").embeddings.astype(np.float32)
    placed = after.xy[np.searchsorted(after.index, outside)]
    nearest = np.argmin(((X[outside, None, :] - X[None, sample.index, :]) ** 2).sum(-1), 1)
    gaps = np.linalg.norm(placed - before.xy[nearest], axis=1)
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, sample.n, (2, 2000))
    typical = np.median(np.linalg.norm(before.xy[a] - before.xy[b], axis=1))
    assert np.median(gaps) < 0.25 * typical, (np.median(gaps), typical)
    with pytest.raises(ValueError, match="one of pca, umap"):
        fit_projection(sample, "tsne")


def test_open_select_on_the_local_engine_map_and_export(shards):
    at = opened(shards, budget_count=40)
    assert "Dataset **digit-shards0** · 1,797 rows × 64 dims" in texts(at.caption)
    assert "Sharded: 3 shards" in texts(at.caption)
    # only the strategies with a distributed form are offered, in the registry's order
    offered = at.selectbox(key="w:engine_strategy").options
    assert offered == [f"{s.family} · {s.name}" for s in list_strategies()
                       if s.name in drivers.FORMS]
    assert f"uniform sample of **{SAMPLE_ROWS} of 1,797 rows**" in texts(at.caption)
    assert sum(map_series(at).values()) == SAMPLE_ROWS
    at.button(key="engine_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert "k-center: selected **40** of 1,797 rows" in texts(at.success)
    sel = at.session_state["selection"]
    data = explorer.load(shards, id_column="id")
    reference = explorer.select(data, "k-center", 40, seed=0, engine="local")
    assert sel.indices.tolist() == reference.indices.tolist()
    assert sel.engine["name"] == "local" and sel.engine["partitions"] == 3
    series = map_series(at)
    assert series["selected (40)"] == 40
    assert sum(series.values()) <= SAMPLE_ROWS + 40
    assert f"uniform sample of **{SAMPLE_ROWS} of 1,797 rows** plus every selected row (40)" \
        in texts(at.caption)
    assert "**Scorecard of k-center** — 40 rows against 30 random subsets" in \
        texts(at.markdown)
    assert "every row on the local engine" in texts(at.markdown)
    # the label column chosen in the sidebar: the engine's scorecard balances the labels
    assert at.session_state["label_column"] == "label"
    charts = {c.proto.id.split("-")[-1] for c in at.get("echarts_chart")}
    assert {"balance_clusters", "balance_labels"} <= charts
    assert "Choose a label column" not in texts(at.info)

    # the map laid out by a UMAP of its sample: the same points, the selection kept
    assert "placed by a PCA fitted on the sample" in texts(at.caption)
    at.selectbox(key="w:shard_layout").select("UMAP").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "placed by a UMAP fitted on the sample" in texts(at.caption)
    assert map_series(at)["selected (40)"] == 40
    assert sum(map_series(at).values()) == sum(series.values())

    at.switch_page("pages/export.py").run()
    assert not at.exception, [e.value for e in at.exception]
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert set(buttons) == {"Parquet", "Manifest (JSON)"}
    exported = at.session_state["engine_exports"]
    files = next(iter(exported.values()))
    frame = pd.read_parquet(io.BytesIO(files[".parquet"]))
    assert frame["index"].tolist() == reference.indices.tolist()
    assert frame["label"].tolist() == \
        explorer.load_sample("digits").metadata["label"].to_numpy()[frame["index"]].tolist()
    manifest = json.loads(files[".json"])
    assert manifest["engine"]["name"] == "local" and manifest["engine"]["partitions"] == 3
    assert manifest["engine"]["mode"] == "exact" and "Gonzalez" in manifest["engine"]["bound"]
    assert manifest["scorecard"]["budget"] == 40
    _, replayed = explorer.replay(manifest)  # the command line's replay, on the shards
    assert replayed.indices.tolist() == reference.indices.tolist()


def test_export_the_selection_for_other_tools_on_the_local_engine(shards, digits, tmp_path):
    import datasets

    from explorer.data.interchange import MANIFEST_NAME

    at = opened(shards, budget_count=30)
    at.button(key="engine_run").click().run()
    at.switch_page("pages/export.py").run()
    assert not at.exception, [e.value for e in at.exception]
    # reading the rows again for other tools waits for the press
    assert "Press **Make the files**" in texts(at.info)
    assert not at.session_state["engine_interchange"]
    # the tasks show the shards' image column (data: URIs), as image
    assert at.selectbox(key="w:ls_task_column").value == "image"
    assert at.radio(key="w:ls_task_kind:image").value == "image"
    at.button(key="engine_interchange_make").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert {"Hugging Face (zip)", "Label Studio tasks"} <= set(buttons)
    assert not any(b.proto.disabled for b in buttons.values())
    files, = at.session_state["engine_interchange"].values()
    reference = explorer.select(explorer.load(shards, id_column="id"), "k-center", 30, seed=0,
                                engine="local")
    stem = "digit-shards0-k-center-30"
    with zipfile.ZipFile(io.BytesIO(files["hf"])) as archive:
        archive.extractall(tmp_path)
    hf = datasets.load_from_disk(str(tmp_path / stem))
    assert hf["index"] == reference.indices.tolist()  # global row indices, in pick order
    assert hf["id"] == digits.ids[reference.indices].tolist()
    assert np.array_equal(np.asarray(hf.with_format("numpy")["embedding"]),
                          digits.embeddings[reference.indices])
    manifest = json.loads((tmp_path / stem / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["selection"]["indices"] == reference.indices.tolist()
    tasks = json.loads(files["label-studio"])
    assert [t["data"]["row_index"] for t in tasks] == reference.indices.tolist()
    assert [t["data"]["label"] for t in tasks] == \
        digits.metadata["label"].to_numpy()[reference.indices].tolist()
    assert tasks[0]["data"]["image"].startswith("data:image/png;base64,")


def test_semdedup_eps_chooser_filters_one_stored_profile(shards, digits):
    at = opened(shards, engine_strategy="semdedup", metric="cosine", seed=2)
    at.button(key="engine_eps_measure").click().run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    removed = dict(zip(table["eps"], table["rows removed"]))
    # each eps's count is what one machine's SemDeDup removes at that eps
    for eps in (0.02, 0.1):
        one_machine = explorer.select(digits, "semdedup", None, seed=2, metric="cosine",
                                      params={"eps": eps})
        assert removed[eps] == digits.n - len(one_machine) > 0
    expected = explorer.select(digits, "semdedup", None, seed=2, metric="cosine",
                               params={"eps": 0.1})
    assert list(table["rows removed"]) == sorted(table["rows removed"])  # more with eps
    at.number_input(key="w:engine_strategy:semdedup:eps").set_value(0.1).run()
    at.button(key="engine_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["selection"].indices.tolist() == expected.indices.tolist()
    assert f"{removed[0.1]:,} of 1,797 rows" in texts(at.caption)


def test_dsir_takes_the_maps_target_set(shards, digits):
    at = opened(shards, engine_strategy="dsir", budget_count=30)
    assert "dsir is unavailable: it needs" in texts(at.warning)
    assert at.button(key="engine_run").disabled and at.button(key="shard_use_target").disabled
    zeros = np.flatnonzero(digits.metadata["label"].to_numpy() == "0")[:40].tolist()
    at.session_state["engine_target"] = zeros  # what "Use as target" keeps of a lasso
    at.run()
    assert "Target: **40** rows" in texts(at.caption)
    assert map_series(at)["target (40)"] == 40
    at.button(key="engine_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    data = explorer.load(shards, id_column="id")
    expected = explorer.select(data, "dsir", 30, seed=0, target=np.array(zeros),
                               engine="local")
    assert at.session_state["selection"].indices.tolist() == expected.indices.tolist()
    # the target pulled the picks toward the zeros
    picked = digits.metadata["label"].to_numpy()[expected.indices]
    assert (picked == "0").mean() > 0.5


def plotly_specs(at) -> dict:
    """The page's plotly figures by their keys (cmp_curves, cmp_maps, cmp_jaccard)."""
    return {c.proto.id.split("-")[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def test_compare_two_strategies_at_two_budgets_on_the_local_engine(shards, monkeypatch):
    from explorer.ui import compare_view

    at = opened(shards)
    at.switch_page("pages/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    # the strategies with a distributed form (random is the band; DSIR waits for a target)
    assert at.multiselect(key="w:cmp_engine_strategies").options == [
        s.name for s in list_strategies() if s.name in drivers.FORMS
        and s.name not in ("random", "dsir")]
    assert "Press **Compare** to run every strategy at every budget on the local engine" in \
        texts(at.info)  # a run on shards reads every shard: it never starts by itself
    at.multiselect(key="w:cmp_engine_strategies").set_value(["k-center", "k-means"])
    at.text_input(key="w:cmp_budgets:1797").set_value("20, 0").run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Budgets must be whole numbers between 1 and 1797, separated by commas."]
    at.text_input(key="w:cmp_budgets:1797").set_value("20, 60")
    at.number_input(key="w:cmp_draws").set_value(10).run()
    at.button(key="cmp_engine_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert "Who beats random, with statistical support" in texts(at.markdown)
    support = at.dataframe[0].value
    assert list(support.index) == [20, 60] and "coverage_max" in support.columns
    figures = plotly_specs(at)
    assert {"cmp_curves", "cmp_maps", "cmp_jaccard"} <= set(figures)
    assert {"random 5–95%", "k-center", "k-means"} <= \
        {t.get("name") for t in figures["cmp_curves"]["data"]}
    assert len(figures["cmp_maps"]["data"]) == 4  # each strategy: the sample, its picks
    assert f"uniform sample of **{SAMPLE_ROWS} of 1,797 rows**" in texts(at.caption)
    assert "Stability across seeds** is left out" in texts(at.caption)
    # the picks are those of the distributed forms on the engine, as on the Explore page
    (_, sels, notes), = at.session_state["engine_compares"].values()
    data = explorer.load(shards, id_column="id")
    for name in ("k-center", "k-means"):
        for budget in (20, 60):
            expected = explorer.select(data, name, budget, seed=0, engine="local")
            assert sels[f"{name}@{budget}"].tolist() == expected.indices.tolist()
    assert any("on the local engine" in note for note in notes)

    # kept in the session: back from another page, the results are there without a rerun,
    # and pressing Compare again on the same settings does not run it again
    sweeps = []  # every comparison started from here on
    monkeypatch.setattr(compare_view, "probe_sweep",
                        lambda *args, **kwargs: sweeps.append(args[1:3]))
    at.switch_page("pages/explore.py").run()
    at.switch_page("pages/compare.py").run()
    assert "Who beats random, with statistical support" in texts(at.markdown)
    at.button(key="cmp_engine_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert "Who beats random, with statistical support" in texts(at.markdown)
    assert sweeps == []


def test_paths_outside_the_allowed_folders_are_refused_in_one_line(shards, tmp_path):
    outside = Path(tempfile.mkdtemp(prefix="outside-roots-"))
    (outside / "part-0.parquet").write_bytes(Path(shards, "part-00000.parquet").read_bytes())
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "part-0.parquet").symlink_to(outside / "part-0.parquet")
    at = opened(str(outside))
    for typed in (str(outside), f"{outside}/*.parquet", str(linked), "/etc/*"):
        at.session_state["shards_path"] = typed
        at.run()
        assert not at.exception
        message = texts(at.error)
        assert "is outside the folders this app may use" in message, (typed, message)
        assert len(at.error) == 1 and "Traceback" not in message
        assert "Dataset **digits**" in texts(at.caption)  # the previous dataset stays


def test_a_glob_of_shards_opens_too(shards):
    at = opened(f"{shards}/part-*.parquet")
    assert not at.error, [e.value for e in at.error]
    assert "Sharded: 3 shards" in texts(at.caption)


def test_on_a_dask_cluster_by_its_address_with_the_dashboard_link(shards, monkeypatch):
    distributed = pytest.importorskip("distributed")
    from explorer.engine.dask import parent_environ_kept

    with parent_environ_kept():
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=":0", silence_logs=40)
    try:
        # DASK_SCHEDULER_ADDRESS is the address's default
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
        at = opened(shards, engine_kind="scheduler", engine_strategy="k-means",
                    budget_count=30)
        line = texts(at.markdown)
        assert "Engine: **Dask**, 2 worker(s) · [Dask dashboard](http://" in line
        assert at.session_state["engine_address"] == cluster.scheduler_address
        at.button(key="engine_run").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        assert "k-means: selected **30** of 1,797 rows" in texts(at.success)
        sel = at.session_state["selection"]
        assert sel.engine["name"] == "dask" and sel.engine["workers"] == 2
        data = explorer.load(shards, id_column="id")
        reference = explorer.select(data, "k-means", 30, seed=0, engine="local")
        assert sel.indices.tolist() == reference.indices.tolist()
        series = map_series(at)
        assert series["selected (30)"] == 30 and sum(series.values()) <= SAMPLE_ROWS + 30
        # a bad address: one line, said once, not tried again on every rerun
        at.session_state["engine_address"] = "tcp://127.0.0.1:9"
        at.run()
        assert not at.exception
        assert [e.value for e in at.error] == [
            "Dask scheduler tcp://127.0.0.1:9: could not connect within 5 s (OSError). Check "
            "the address (tcp://HOST:8786) and that `dask scheduler` runs there."]
        assert at.button(key="engine_run").disabled
    finally:
        cluster.close()


def test_dimensions_of_a_uniform_sample_on_the_local_engine(shards, monkeypatch):
    from explorer.dimensions import dimension_report
    from explorer.ui import dimensions_view

    at = opened(shards, dims_k=8, dims_methods=["variance", "omp"], dims_draws=10)
    at.switch_page("pages/dimensions.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    # a report on shards reads every shard: it waits for Run
    assert "Press **Run** to read a uniform sample of 1,797 rows on the local engine" in \
        texts(at.info)
    assert not at.get("plotly_chart")
    assert "needs the dataset in one file" in texts(at.caption)
    at.button(key="dims_engine_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    data = explorer.load(shards, id_column="id")
    expected = dimension_report(data, 8, ["variance", "omp"], label_column="label",
                                random_draws=10, seed=0, engine="local").to_frame()
    columns = ["method", "metric", "value", "random_mean", "percentile", "p_holm", "verdict",
               "full_space"]
    shown = at.dataframe[0].value
    pd.testing.assert_frame_equal(shown[columns].reset_index(drop=True), expected[columns],
                                  check_dtype=False)
    assert "Measured on a uniform sample of 1,797 of the 1,797 rows of the shards" in \
        texts(at.caption)
    assert {c.proto.id.split("-")[-1] for c in at.get("plotly_chart")} == {"dims_figure"}
    assert not at.get("download_button")  # the reduced matrix needs one file

    # kept in the session: back from another page, or pressed again, the report is there
    # without a rerun
    reports = []  # every report started from here on
    monkeypatch.setattr(dimensions_view, "dimension_report",
                        lambda *args, **kwargs: reports.append(args[1:3]))
    at.switch_page("pages/explore.py").run()
    at.switch_page("pages/dimensions.py").run()
    at.button(key="dims_engine_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    pd.testing.assert_frame_equal(at.dataframe[0].value[columns].reset_index(drop=True),
                                  expected[columns], check_dtype=False)
    assert reports == []
