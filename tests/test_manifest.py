"""Manifests are checked against a published JSON Schema before anything runs; replay names a
changed metadata column; a manifest reloaded in the app reads no file it names."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import explorer
from explorer.cli import main
from explorer.data.export import manifest_dict
from explorer.data.manifest import manifest_schema, validate_manifest
from explorer.errors import ExplorerError
from explorer.strategies import REGISTRY
from test_registry_conformance import inputs_for  # the inputs each strategy needs

ROOT = Path(__file__).resolve().parents[1]


def _inputs(spec, data) -> dict:
    """The inputs ``spec`` needs, a target given as the query the manifest records."""
    kw = inputs_for(spec, data)
    if kw.pop("target", None) is not None:
        kw["target_query"] = "label == '3'"
    return kw


def test_every_strategys_manifest_validates_pipelines_and_targets_included(digits, tmp_path):
    for name, spec in REGISTRY.items():
        sel = explorer.select(digits, name, 40, seed=1, where="group != 'ink-low'",
                              pinned=[0], excluded=[1], **_inputs(spec, digits))
        doc = json.loads(json.dumps(manifest_dict(digits, sel)))
        assert validate_manifest(doc, name) is doc
    first = explorer.select(digits, "dedup", None, params={"threshold": 1.0},
                            where={"op": "!=", "column": "label", "value": "0"})
    then = explorer.select(digits, "dsir", 30, after=first, target_query="label == '4'",
                           label_column="label")
    card = explorer.score(digits, then, random_draws=3)
    doc = json.loads(json.dumps(manifest_dict(digits, then, card)))
    validate_manifest(doc)
    assert doc["steps"][0]["where"] == "label != '0'"  # a JSON filter is recorded as text
    assert doc["dataset"]["metadata_columns"].keys() == {"label"}
    rows = tmp_path / "rows.npy"
    np.save(rows, np.arange(100, 140))
    embedded = tmp_path / "target.npy"
    np.save(embedded, np.asarray(digits.embeddings[:25]))
    for target in (str(rows), str(embedded), np.arange(5)):
        sel = explorer.select(digits, "ot-target", 30, target=target)
        validate_manifest(json.loads(json.dumps(manifest_dict(digits, sel))))


def test_the_published_schema_file_is_the_schema():
    published = json.loads((ROOT / "docs" / "manifest.schema.json").read_text())
    assert published == manifest_schema(), "run: python -m explorer.data.manifest > " \
                                           "docs/manifest.schema.json"
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(published)


@pytest.fixture(scope="module")
def good(digits):
    first = explorer.select(digits, "dedup", None, params={"threshold": 1.0},
                            where="label != '0'")
    sel = explorer.select(digits, "dsir", 30, after=first, target_query="label == '4'",
                          pinned=[5], excluded=[7])
    return json.loads(json.dumps(manifest_dict(digits, sel)))


def _set(path, value):
    def change(doc):
        *parents, last = path
        for key in parents:
            doc = doc[key]
        doc[last] = value
    return change


def _drop(*path):
    def change(doc):
        *parents, last = path
        for key in parents:
            doc = doc[key]
        del doc[last]
    return change


MALFORMED = [
    ("budget as text", _set(["budget"], "ten"),
     "key 'budget' must be an integer >= 1 or a fraction in (0, 1); got 'ten'"),
    ("budget negative", _set(["budget"], -3), "key 'budget' must be an integer >= 1"),
    ("budget zero", _set(["budget"], 0), "key 'budget' must be an integer >= 1"),
    ("budget huge", _set(["budget"], 10**30), "key 'budget' must be an integer >= 1"),
    ("budget a list", _set(["budget"], [1]), "key 'budget' must be"),
    ("seed as text", _set(["seed"], "0"), "key 'seed' must be an integer >= 0; got '0'"),
    ("seed negative", _set(["seed"], -1), "key 'seed' must be an integer >= 0"),
    ("seed null", _set(["seed"], None), "key 'seed' must be an integer >= 0; got null"),
    ("no strategy", _drop("strategy"), "the manifest has no 'strategy' entry"),
    ("no selection", _drop("selection"), "the manifest has no 'selection' entry"),
    ("no dataset fingerprint", _drop("dataset", "fingerprint"),
     "key 'dataset' has no 'fingerprint' entry"),
    ("an extra key", _set(["run"], "rm -rf /"), "the manifest has unknown key(s) 'run'"),
    ("an extra step key", _set(["steps", 0, "code"], 1), "key 'steps[0]' has unknown key(s)"),
    ("an extra dataset key", _set(["dataset", "loader"], "pickle"),
     "key 'dataset' has unknown key(s) 'loader'"),
    ("wrong format", _set(["format"], "other"), "not a Subset Explorer manifest"),
    ("wrong version", _set(["version"], 2), "manifest version 2 is not one this"),
    ("version as text", _set(["version"], "1"), "manifest version '1' is not one"),
    ("negative pin", _set(["pinned", "indices"], [-1]),
     "key 'pinned.indices[0]' must be a row index (an integer >= 0); got -1"),
    ("pin past the end", _set(["pinned", "indices"], [1, 1797]),
     "key 'pinned.indices[1]' is 1797, outside the 1797 rows"),
    ("fractional index", _set(["excluded", "indices"], [1.5]),
     "key 'excluded.indices[0]' must be a row index"),
    ("boolean index", _set(["selection", "indices"], [True]),
     "key 'selection.indices[0]' must be a row index"),
    ("step index past the end", _set(["steps", 0, "excluded"], [10**12]),
     "key 'steps[0].excluded[0]' is 1000000000000, outside"),
    ("step budget as text", _set(["steps", 0, "budget"], "ten"),
     "key 'steps[0].budget' must be an integer >= 1 or a fraction in (0, 1); got 'ten'"),
    ("too many steps", _set(["steps"], [{}] * 17), "key 'steps' holds 17 items; at most 16"),
    ("metric unknown", _set(["metric"], "manhattan"), "key 'metric' must be \"euclidean\""),
    ("strategy a path", _set(["strategy"], "../../x"), "key 'strategy' must be a strategy name"),
    ("fingerprint not hex", _set(["dataset", "fingerprint"], "zz"),
     "key 'dataset.fingerprint' must be a 32-digit hexadecimal fingerprint"),
    ("shape wrong", _set(["dataset", "shape"], [1797]), "key 'dataset.shape' must be [rows, "),
    ("nested garbage", _set(["info"], json.loads("[" * 40 + "]" * 40)),
     "the manifest is nested more than 32 levels deep"),
    ("params not an object", _set(["params"], [1, 2]), "key 'params' must be an object"),
    ("where with code", _set(["where"], "__import__('os').system('id')"),
     "key 'where' \"__import__('os').system('id')\": not allowed: the dunder name"),
    ("where a number", _set(["where"], 42), "key 'where' must be a metadata filter"),
    ("where a node with a call", _set(["where"], {"op": "call", "column": "os"}),
     "key 'where.op' must be one of"),
    ("step where with @", _set(["steps", 0, "where"], "@pd.read_csv('/etc/passwd')"),
     "key 'steps[0].where' \"@pd.read_csv('/etc/passwd')\": not allowed: '@'"),
    ("target query with code", _set(["target"], {"query": "label.__class__"}),
     "key 'target.query' 'label.__class__': not allowed: the dunder name '__class__'"),
    ("target with two kinds", _set(["target"], {"query": "label == '1'", "indices": [1]}),
     "key 'target' must hold one of \"query\", \"indices\", \"path\" or \"embeddings\""),
    ("target with an unknown key", _set(["target"], {"url": "http://x"}),
     "key 'target' has unknown key(s) 'url'; known keys: embeddings, fingerprint, indices"),
    ("columns extra", _set(["columns"], {"label_column": "label", "cmd": "x"}),
     "key 'columns' has unknown key(s) 'cmd'"),
    ("the whole thing a list", lambda doc: None, None),
]


@pytest.mark.parametrize("name,change,words", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_manifest_exits_2_with_one_line(tmp_path, capsys, good, name, change,
                                                    words):
    doc = copy.deepcopy(good)
    change(doc)
    path = tmp_path / "m.json"
    path.write_text(json.dumps([1, 2] if words is None else doc))
    code = main(["select", "--replay", str(path), "--out", str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1, err
    expected = words or "the manifest must be a Subset Explorer manifest (a JSON object)"
    assert f"error: m.json: {expected}" in err or (expected in err and "m.json" not in err), err
    assert not (tmp_path / "out.csv").exists()
    if words is not None:  # the same check on a dict, as a workspace entry is given
        with pytest.raises(ExplorerError):
            explorer.replay(doc, data=explorer.load_sample("digits"))


@pytest.mark.parametrize("text,words", [
    ('{"seed": NaN}', "not valid JSON (NaN is not a JSON number)"),
    ('{"budget": Infinity}', "not valid JSON (Infinity is not a JSON number)"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply to be a manifest"),
    ('{"seed": ' + "9" * 5000 + "}", "not valid JSON"),
    ("{", "not valid JSON"),
    ("\xff\xfe", "not valid JSON"),
])
def test_files_that_are_not_json_manifests(tmp_path, capsys, text, words):
    path = tmp_path / "m.json"
    path.write_bytes(text.encode("latin-1"))
    code = main(["select", "--replay", str(path), "--out", str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"m.json: {words}" in err, err


def test_a_fifo_as_the_manifest_is_refused_without_waiting(tmp_path, capsys):
    fifo = tmp_path / "m.json"
    os.mkfifo(fifo)
    code = main(["select", "--replay", str(fifo), "--out", str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "is a named pipe (FIFO), not a regular file" in err, err


def test_nan_in_a_workspace_dict_is_refused_with_its_key(good, digits):
    doc = copy.deepcopy(good)
    doc["budget"] = float("nan")
    with pytest.raises(ExplorerError, match="key 'budget' holds NaN or an infinity"):
        explorer.replay(doc, data=digits)


def _npy_with_meta(tmp_path, digits):
    np.save(tmp_path / "x.npy", np.asarray(digits.embeddings))
    meta = digits.metadata.drop(columns=["image", "id"]).copy()
    meta["lang"] = np.where(np.arange(digits.n) % 3 == 0, "en", "de")
    meta.to_csv(tmp_path / "meta.csv", index=False)
    return meta


def test_replay_after_a_metadata_change_names_the_column(tmp_path, digits, capsys):
    meta = _npy_with_meta(tmp_path, digits)
    out, manifest = tmp_path / "s.csv", tmp_path / "s.json"
    code = main(["select", str(tmp_path / "x.npy"), "--meta", str(tmp_path / "meta.csv"),
                 "--strategy", "stratified", "--budget", "40", "--label-column", "label",
                 "--where", "lang == 'en'", "--out", str(out), "--manifest", str(manifest)])
    assert code == 0, capsys.readouterr().err
    recorded = json.loads(manifest.read_text())["dataset"]["metadata_columns"]
    assert set(recorded) == {"label", "lang"}

    # a column the selection did not use may change
    meta["difficulty"] = 0.0
    meta.to_csv(tmp_path / "meta.csv", index=False)
    assert main(["select", "--replay", str(manifest), "--out", str(tmp_path / "a.csv")]) == 0
    capsys.readouterr()

    # the filter's column changed: the same fingerprint, other rows; the message says which
    meta.loc[:20, "lang"] = "en"
    meta.to_csv(tmp_path / "meta.csv", index=False)
    code = main(["select", "--replay", str(manifest), "--out", str(tmp_path / "b.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "the metadata column 'lang' changed since the manifest was written" in err
    assert "versions" not in err

    meta.drop(columns=["lang"]).to_csv(tmp_path / "meta.csv", index=False)
    code = main(["select", "--replay", str(manifest), "--out", str(tmp_path / "c.csv")])
    assert code == 2 and "used the metadata column 'lang', which the data no longer has" in \
        capsys.readouterr().err


def test_replay_reads_a_target_path_only_when_allowed(tmp_path, digits):
    target = tmp_path / "target.npy"
    np.save(target, np.asarray(digits.embeddings[:30]))
    sel = explorer.select(digits, "dsir", 20, target=str(target))
    doc = json.loads(json.dumps(manifest_dict(digits, sel)))
    assert doc["target"]["path"] == str(target)
    _, again = explorer.replay(doc, data=digits)  # the command line's way
    assert again.indices.tolist() == sel.indices.tolist()
    with pytest.raises(ExplorerError, match="may not make the app read files"):
        explorer.replay(doc, data=digits, allow_paths=False)
    with pytest.raises(ExplorerError, match="needs the data"):
        explorer.replay(doc, allow_paths=False)
    # a target of row indices (with the file it came from) needs no reading
    rows = tmp_path / "rows.npy"
    np.save(rows, np.arange(100, 130))
    sel = explorer.select(digits, "dsir", 20, target=str(rows))
    doc = json.loads(json.dumps(manifest_dict(digits, sel)))
    rows.unlink()
    _, again = explorer.replay(doc, data=digits, allow_paths=False)
    assert again.indices.tolist() == sel.indices.tolist()


def test_a_filter_given_as_json_replays_like_its_text(tmp_path, digits):
    node = {"op": "or", "args": [{"op": "between", "column": "difficulty", "low": 0.1,
                                  "high": 0.4},
                                 {"op": "in", "column": "label", "values": ["0", "9"]}]}
    sel = explorer.select(digits, "k-center", 25, where=node)
    assert sel.where == "difficulty.between(0.1, 0.4) or label in ['0', '9']"
    doc = json.loads(json.dumps(manifest_dict(digits, sel)))
    doc["where"] = node  # a manifest may hold the node itself
    _, again = explorer.replay(doc, data=digits)
    assert again.indices.tolist() == sel.indices.tolist()
    meta = digits.metadata
    ok = meta["difficulty"].between(0.1, 0.4) | meta["label"].isin(["0", "9"])
    assert ok.to_numpy()[sel.indices].all()
    assert pd.Series(sel.indices).is_unique
