"""The manifest's JSON Schema, and the check every manifest passes before anything runs.

A manifest (written by :func:`explorer.write_manifest`, kept whole in a workspace entry) says
how to re-run a selection. One from someone else is data: :func:`validate_manifest` checks it
against :func:`manifest_schema` (JSON Schema draft 2020-12, known keys only), checks that
its row indices fit the recorded dataset, and reads every filter in it (``where``,
``steps[].where``, ``target.query``) with the filter grammar of :mod:`explorer.data.filters`,
which never runs code. :func:`explorer.data.export.read_manifest` and
:func:`explorer.data.export.replay` call it, so the command line's ``--replay`` and the app's
"Reload into Explore" see only checked manifests.

The schema is published for other tools: ``python -m explorer.data.manifest`` prints it, and
``docs/manifest.schema.json`` holds the same text.

>>> validate_manifest({"format": "subset-explorer-manifest", "version": 1}, "m.json")
Traceback (most recent call last):
...
explorer.errors.ExplorerError: m.json: the manifest has no 'strategy' entry.
"""

from __future__ import annotations

import copy
import hashlib

import numpy as np
import pandas as pd

from ..errors import ExplorerError, preview
from .export import MANIFEST_FORMAT, MANIFEST_VERSION
from .filters import FILTER_SCHEMA, MAX_TEXT, as_filter
from .provenance import EMBEDDING_SCHEMA
from .schema_check import MAX_INT, check, key_path

#: Most pipeline steps a manifest may hold.
MAX_STEPS = 16

_TEXT = {"type": "string", "maxLength": 4096, "description": "text"}
_NAME = {"type": "string", "minLength": 1, "maxLength": 256, "description": "a column name"}


def _nullable(schema: dict, description: str) -> dict:
    return {"anyOf": [{"type": "null"}, schema], "description": description}


def _indices(description: str) -> dict:
    return {"type": "array", "items": {"$ref": "#/$defs/index"}, "description": description}


def _rows(required: list) -> dict:
    return {"type": "object", "additionalProperties": False, "required": required,
            "properties": {"indices": _indices("a list of row indices (integers >= 0)"),
                           "ids": {"type": "array", "items": {"$ref": "#/$defs/id"},
                                   "description": "a list of row ids (text or integers)"}},
            "description": "an object with \"indices\" (and \"ids\")"}


_COMMON = {
    "strategy": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$",
                 "description": "a strategy name such as \"k-center\""},
    "params": {"type": "object", "maxProperties": 64, "propertyNames": {"maxLength": 64},
               "additionalProperties": {"$ref": "#/$defs/param"},
               "description": "an object of strategy parameters"},
    "seed": {"type": "integer", "minimum": 0, "maximum": MAX_INT,
             "description": "an integer >= 0"},
    "metric": {"enum": ["euclidean", "cosine"], "description": "\"euclidean\" or \"cosine\""},
    "budget": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": MAX_INT},
                         {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}],
               "description": "an integer >= 1 or a fraction in (0, 1)"},
    "columns": {"type": "object", "additionalProperties": False,
                "properties": {"label_column": _NAME, "group_column": _NAME,
                               "score_column": _NAME, "cost_column": _NAME},
                "description": "an object with label_column, group_column, score_column, "
                               "cost_column"},
    # with a cost column the selection spent at most "budget" of it ("budget" above is then
    # the count of rows selected); replay passes this budget with the column
    "cost": _nullable({"type": "object", "additionalProperties": False,
                       "required": ["budget", "spend"],
                       "properties": {"budget": {"type": "number", "exclusiveMinimum": 0,
                                                 "description": "a number > 0"},
                                      "spend": {"type": "number", "minimum": 0,
                                                "description": "a number >= 0"}},
                       "description": "an object with \"budget\" (the total cost allowed) "
                                      "and \"spend\" (the cost of the rows selected)"},
                      "a cost record or null"),
    "where": {"$ref": "#/$defs/where"},
    "target": {"$ref": "#/$defs/target"},
}

_STEP = {
    "type": "object", "additionalProperties": False,
    "required": ["strategy", "params", "seed", "metric", "budget"],
    "description": "a pipeline step (an object)",
    "properties": {**_COMMON,
                   "pinned": _indices("a list of row indices (integers >= 0)"),
                   "excluded": _indices("a list of row indices (integers >= 0)"),
                   "selected": {"type": "integer", "minimum": 0, "maximum": MAX_INT,
                                "description": "an integer >= 0"}},
}

def _confirmation_schema() -> dict:
    """The result of ``explorer confirm`` (:mod:`explorer.evaluate.confirm`)."""
    count = {"type": "integer", "minimum": 0, "maximum": MAX_INT,
             "description": "an integer >= 0"}
    number = {"type": ["number", "null"], "description": "a number or null"}
    when = {"type": "string", "maxLength": 64, "description": "a date and time"}
    metric = {"type": "object", "additionalProperties": False,
              "required": ["value", "random_mean", "p_value", "verdict"],
              "description": "an object of a probe metric's value, random envelope, p-values "
                             "and verdict",
              "properties": {**{k: number for k in ("value", "random_mean", "random_p05",
                                                     "random_p95", "percentile", "p_value",
                                                     "p_rank")},
                             "verdict": {"enum": ["better than random", "worse than random",
                                                  "within random's spread", "not comparable"],
                                         "description": "a verdict"}}}
    return {
        "type": "object", "additionalProperties": False,
        "required": ["strategy", "budget", "probe", "label_column", "confirmed_at", "split",
                     "explorations_before", "metrics", "attempt", "flagged"],
        "description": "the confirmation on the locked split (an object)",
        "properties": {
            "strategy": _COMMON["strategy"], "budget": count,
            "probe": {"enum": ["logistic", "knn"], "description": "\"logistic\" or \"knn\""},
            "label_column": _NAME, "random_draws": count, "seed": count,
            "confirmed_at": when, "attempt": {**count, "minimum": 1,
                                              "description": "an integer >= 1"},
            "flagged": {"type": "boolean", "description": "true or false"},
            "made_before_lock": {"type": "boolean", "description": "true or false"},
            "split": {"type": "object", "additionalProperties": False,
                      "required": ["seed", "fraction", "rows", "locked_at", "digest"],
                      "description": "an object describing the locked split",
                      "properties": {"seed": count, "rows": count, "locked_at": when,
                                     "fraction": {"type": "number", "exclusiveMinimum": 0,
                                                  "exclusiveMaximum": 1,
                                                  "description": "a fraction in (0, 1)"},
                                     "label_column": _nullable(_NAME, "a column name or null"),
                                     "digest": {"type": "string", "pattern": "^[0-9a-f]{16}$",
                                                "description": "a 16-digit hexadecimal hash"}}},
            "explorations_before": {
                "type": "object", "additionalProperties": False,
                "required": ["runs", "strategies", "budgets", "strategy_budgets", "since"],
                "description": "an object counting what was tried since the lock",
                "properties": {"runs": count, "strategies": count, "budgets": count,
                               "strategy_budgets": count, "since": when,
                               "by_entry": {"type": "object", "maxProperties": 16,
                                            "additionalProperties": count,
                                            "description": "an object of entry point -> "
                                                           "runs"}}},
            "metrics": {"type": "object", "maxProperties": 16, "minProperties": 1,
                        "additionalProperties": metric,
                        "description": "an object of probe metric -> result"},
        },
    }


_DEFS = {
    "index": {"type": "integer", "minimum": 0, "maximum": MAX_INT,
              "description": "a row index (an integer >= 0)"},
    "id": {"anyOf": [{"type": "string", "maxLength": 1000},
                     {"type": "integer", "minimum": -MAX_INT, "maximum": MAX_INT}],
           "description": "a row id (text or an integer)"},
    "param": {"anyOf": [{"type": ["null", "boolean", "number"]},
                        {"type": "string", "maxLength": 10_000},
                        {"type": "array", "maxItems": 10_000, "items": {"$ref": "#/$defs/param"}},
                        {"type": "object", "maxProperties": 256,
                         "additionalProperties": {"$ref": "#/$defs/param"}}],
              "description": "a parameter value (null, true/false, a number, text, a list or "
                             "an object of those)"},
    "where": {"anyOf": [{"type": "null"}, {"type": "string", "minLength": 1,
                                            "maxLength": MAX_TEXT},
                        {"$ref": "#/$defs/filter"}],
              "description": "a metadata filter: text such as \"label == 'cat'\", a filter "
                             "node {\"op\": ...}, or null"},
    "target": {"anyOf": [{"type": "null"}, {
        "type": "object", "additionalProperties": False, "minProperties": 1,
        "properties": {
            "query": {"anyOf": [{"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
                                {"$ref": "#/$defs/filter"}],
                      "description": "a metadata filter (text or a filter node)"},
            "indices": _indices("a list of row indices (integers >= 0)"),
            "path": _TEXT,
            "fingerprint": {"type": "string", "pattern": "^[0-9a-f]{16,64}$",
                            "description": "a hexadecimal fingerprint"},
            "embeddings": {"type": "string", "pattern": "^[0-9a-f]{16,64}$",
                           "description": "a hexadecimal digest"},
            "shape": {"type": "array", "minItems": 2, "maxItems": 2,
                      "items": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
                      "description": "[rows, dimensions]"}}}],
        "description": "a target record: an object with \"query\", \"indices\", \"path\" or "
                       "\"embeddings\", or null"},
    "filter": FILTER_SCHEMA["$defs"]["filter"],
    "confirmation": _confirmation_schema(),
}


def manifest_schema() -> dict:
    """The JSON Schema (draft 2020-12) of a manifest, for validation here and in other tools.

    >>> s = manifest_schema()
    >>> s["properties"]["format"]["const"], s["properties"]["version"]["const"]
    ('subset-explorer-manifest', 1)
    """
    return copy.deepcopy({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://subset-explorer.local/schemas/manifest-v1.json",
        "title": "Subset Explorer manifest",
        "description": "a Subset Explorer manifest (a JSON object)",
        "type": "object",
        "additionalProperties": False,
        "required": ["format", "version", "strategy", "params", "seed", "budget", "metric",
                     "dataset", "selection"],
        "properties": {
            "format": {"const": MANIFEST_FORMAT,
                       "description": f"\"{MANIFEST_FORMAT}\""},
            "version": {"const": MANIFEST_VERSION, "description": str(MANIFEST_VERSION)},
            "created": {"type": "string", "maxLength": 64, "description": "a date and time"},
            **_COMMON,
            "steps": {"type": "array", "maxItems": MAX_STEPS, "items": _STEP,
                      "description": f"a list of at most {MAX_STEPS} pipeline steps"},
            "pinned": _rows(["indices"]),
            "excluded": _rows(["indices"]),
            "info": {"type": "object", "description": "an object"},
            "seconds": _nullable({"type": "number", "minimum": 0}, "a number >= 0 or null"),
            "dataset": {
                "type": "object", "additionalProperties": False,
                "required": ["path", "fingerprint", "shape"],
                "description": "an object describing the dataset",
                "properties": {
                    "path": _TEXT,
                    # the loader's options (its keys are the loader's, not fixed here)
                    "options": {"type": "object", "maxProperties": 32,
                                "additionalProperties": {"type": ["string", "boolean", "number",
                                                                  "null"], "maxLength": 4096},
                                "description": "an object of loader options"},
                    "shape": {"type": "array", "minItems": 2, "maxItems": 2,
                              "items": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
                              "description": "[rows, dimensions]"},
                    "fingerprint": {"type": "string", "pattern": "^[0-9a-f]{32}$",
                                    "description": "a 32-digit hexadecimal fingerprint"},
                    "dropped_ids": {"type": "array", "items": {"$ref": "#/$defs/id"},
                                    "description": "a list of row ids"},
                    # which model made the space (explorer embed), or null
                    "embedding": {"anyOf": [{"type": "null"}, EMBEDDING_SCHEMA],
                                  "description": "an embedding record or null"},
                    "metadata_columns": {
                        "type": "object", "maxProperties": 64,
                        "additionalProperties": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
                        "description": "an object of column name -> 16-digit hexadecimal "
                                       "hash"}}},
            "selection": _rows(["indices", "ids"]),
            "scorecard": _nullable({"type": "object"}, "an object or null"),
            "engine": {
                "type": "object", "additionalProperties": False,
                "required": ["name", "partitions", "mode"],
                "description": "the engine a distributed run used (never its address)",
                "properties": {
                    "name": {"enum": ["local", "dask"], "description": "\"local\" or \"dask\""},
                    "partitions": {"type": "integer", "minimum": 1, "maximum": MAX_INT,
                                   "description": "an integer >= 1"},
                    "mode": {"enum": ["exact", "coreset", "greedi"],
                             "description": "\"exact\", \"coreset\" or \"greedi\""},
                    "bound": _TEXT,
                    "workers": {"type": "integer", "minimum": 0, "maximum": MAX_INT,
                                "description": "an integer >= 0"}}},
            "confirmation": {"$ref": "#/$defs/confirmation"},
            "versions": {"type": "object", "maxProperties": 32,
                         "additionalProperties": {"type": "string", "maxLength": 200},
                         "description": "an object of package -> version"},
        },
        "$defs": _DEFS,
    })


def validate_manifest(doc, where: str = "the manifest") -> dict:
    """Check ``doc`` before anything runs: the schema, indices inside the dataset, and every
    filter read by the filter grammar. Returns ``doc``; raises an ExplorerError naming the key.

    >>> validate_manifest({"format": "subset-explorer-manifest", "version": 1,
    ...     "strategy": "k-center", "params": {}, "seed": 0, "budget": "ten",
    ...     "metric": "euclidean", "dataset": {"path": "x.npy", "shape": [5, 2],
    ...     "fingerprint": "0" * 32}, "selection": {"indices": [], "ids": []}}, "m.json")
    Traceback (most recent call last):
    ...
    explorer.errors.ExplorerError: m.json: key 'budget' must be an integer >= 1 or a fraction in (0, 1); got 'ten'.
    """
    if isinstance(doc, dict) and doc.get("format") != MANIFEST_FORMAT:
        raise ExplorerError(f"{where}: not a Subset Explorer manifest (no \"format\": "
                            f"\"{MANIFEST_FORMAT}\").")
    if isinstance(doc, dict) and doc.get("version") != MANIFEST_VERSION \
            and "version" in doc:
        raise ExplorerError(f"{where}: manifest version {doc.get('version')!r} is not one this "
                            f"Subset Explorer reads (version {MANIFEST_VERSION}).")
    check(doc, manifest_schema(), where, "the manifest")
    n = doc["dataset"]["shape"][0]
    for path, indices in _index_lists(doc):
        if indices and max(indices) >= n:
            at = next(i for i, v in enumerate(indices) if v >= n)
            raise ExplorerError(f"{where}: key '{key_path(path)}[{at}]' is {indices[at]}, "
                                f"outside the {n} rows of the dataset.")
    for path, value in _filters(doc):
        as_filter(value, f"{where}: key '{key_path(path)}'")
    for path, record in _targets(doc):
        kinds = [k for k in ("query", "indices", "embeddings") if k in record]
        if len(kinds) > 1 or (not kinds and "path" not in record):
            raise ExplorerError(f"{where}: key '{key_path(path)}' must hold one of \"query\", "
                                f"\"indices\", \"path\" or \"embeddings\"; got "
                                f"{', '.join(sorted(record))}.")
    return doc


def _parts(doc):
    """(key path, part) for the manifest itself and each of its steps."""
    yield (), doc
    for i, step in enumerate(doc.get("steps") or []):
        yield ("steps", i), step


def _index_lists(doc):
    for base, part in _parts(doc):
        for key in ("pinned", "excluded"):
            value = part.get(key)
            if isinstance(value, dict):
                yield (*base, key, "indices"), value["indices"]
            elif isinstance(value, list):
                yield (*base, key), value
        target = part.get("target")
        if isinstance(target, dict) and "indices" in target:
            yield (*base, "target", "indices"), target["indices"]
    yield ("selection", "indices"), doc["selection"]["indices"]


def _filters(doc):
    for base, part in _parts(doc):
        if part.get("where") is not None:
            yield (*base, "where"), part["where"]
        target = part.get("target")
        if isinstance(target, dict) and "query" in target:
            yield (*base, "target", "query"), target["query"]


def _targets(doc):
    for base, part in _parts(doc):
        if isinstance(part.get("target"), dict):
            yield (*base, "target"), part["target"]


# ---------------------------------------------------------------------------- dimensions

def dimensions_schema() -> dict:
    """The JSON Schema of a dimensions manifest (:mod:`explorer.dimensions`): which k of a
    dataset's D columns were chosen, and how.

    >>> dimensions_schema()["properties"]["format"]["const"]
    'subset-explorer-dimensions'
    """
    index = {"type": "integer", "minimum": 0, "maximum": MAX_INT,
             "description": "a column index (an integer >= 0)"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Subset Explorer dimensions manifest",
        "description": "a Subset Explorer dimensions manifest (a JSON object)",
        "type": "object", "additionalProperties": False,
        "required": ["format", "version", "method", "k", "indices", "dataset"],
        "properties": {
            "format": {"const": "subset-explorer-dimensions",
                       "description": "\"subset-explorer-dimensions\""},
            "version": {"const": 1, "description": "1"},
            "created": {"type": "string", "maxLength": 64, "description": "a date and time"},
            "method": {"enum": ["variance", "pivoted-qr", "inf-fs", "matryoshka", "omp"],
                       "description": "a dimension method such as \"pivoted-qr\""},
            "k": {"type": "integer", "minimum": 1, "maximum": MAX_INT,
                  "description": "an integer >= 1"},
            "indices": {"type": "array", "minItems": 1, "uniqueItems": True, "items": index,
                        "description": "a list of distinct column indices"},
            "metric": {"enum": ["euclidean", "cosine"],
                       "description": "\"euclidean\" or \"cosine\""},
            "seed": {"type": "integer", "minimum": 0, "maximum": MAX_INT,
                     "description": "an integer >= 0"},
            "label_column": _nullable(_NAME, "a column name or null"),
            "dataset": {"type": "object", "additionalProperties": False,
                        "required": ["path", "shape", "fingerprint"],
                        "description": "an object describing the dataset",
                        "properties": {
                            "path": _TEXT,
                            "shape": {"type": "array", "minItems": 2, "maxItems": 2,
                                      "items": {"type": "integer", "minimum": 0,
                                                "maximum": MAX_INT},
                                      "description": "[rows, dimensions]"},
                            "fingerprint": {"type": "string", "pattern": "^[0-9a-f]{32}$",
                                            "description": "a 32-digit hexadecimal "
                                                           "fingerprint"}}},
            "versions": {"type": "object", "maxProperties": 32,
                         "additionalProperties": {"type": "string", "maxLength": 200},
                         "description": "an object of package -> version"},
        },
    }


def validate_dimensions(doc, where: str = "the dimensions manifest") -> dict:
    """Check a dimensions manifest: the schema, then k indices inside the recorded width.

    >>> validate_dimensions({"format": "subset-explorer-dimensions", "version": 1,
    ...     "method": "variance", "k": 2, "indices": [0, 9], "dataset": {"path": "x.npy",
    ...     "shape": [5, 4], "fingerprint": "0" * 32}}, "d.json")
    Traceback (most recent call last):
    ...
    explorer.errors.ExplorerError: d.json: key 'indices[1]' is 9, outside the 4 dimensions of the dataset.
    """
    check(doc, dimensions_schema(), where, "the dimensions manifest")
    width = doc["dataset"]["shape"][1]
    for at, value in enumerate(doc["indices"]):
        if value >= width:
            raise ExplorerError(f"{where}: key 'indices[{at}]' is {value}, outside the {width} "
                                "dimensions of the dataset.")
    if len(doc["indices"]) != doc["k"]:
        raise ExplorerError(f"{where}: key 'k' is {doc['k']} but 'indices' holds "
                            f"{len(doc['indices'])} columns.")
    return doc


# ---------------------------------------------------------------------------- metadata

def column_hash(series: pd.Series) -> str:
    """A 16-digit hash of a metadata column's values (numbers as float64, the rest as text;
    missing values marked), recorded so a replay can say which column changed.

    >>> column_hash(pd.Series([1, 2])) == column_hash(pd.Series([1.0, 2.0]))
    True
    >>> column_hash(pd.Series(["a", "b"])) == column_hash(pd.Series(["a", "c"]))
    False
    """
    h = hashlib.blake2b(digest_size=8)
    h.update(f"{len(series)}\n".encode())
    dtype = series.dtype
    if (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)) \
            and not isinstance(dtype, pd.CategoricalDtype):
        h.update(b"n")
        h.update(series.to_numpy(dtype=np.float64, na_value=np.nan).tobytes())
    else:
        h.update(b"t")
        missing = series.isna().to_numpy(dtype=bool)
        text = ["\x00" if m else str(v) for v, m in zip(series.tolist(), missing)]
        h.update("\x1f".join(text).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def columns_used(doc: dict) -> list:
    """The metadata columns a manifest's selection depends on: its label / group / score
    columns and those its filters read, in every step."""
    used = []
    for _, part in _parts(doc):
        used.extend((part.get("columns") or {}).values())
    for path, value in _filters(doc):
        used.extend(sorted(as_filter(value, key_path(path)).columns()))
    return list(dict.fromkeys(used))


def metadata_hashes(data, doc: dict) -> dict:
    """{column: :func:`column_hash`} of the columns ``doc`` uses, for the manifest."""
    meta = data.metadata
    return {c: column_hash(meta[c]) for c in columns_used(doc) if c in meta.columns}


def check_metadata(data, doc: dict, where: str = "the manifest") -> None:
    """Refuse to replay when a metadata column the selection used is gone or changed, naming
    it (the data's fingerprint covers only the embeddings and ids)."""
    recorded = (doc.get("dataset") or {}).get("metadata_columns") or {}
    meta = data.metadata
    for column, digest in recorded.items():
        if column not in meta.columns:
            raise ExplorerError(f"{where}: the selection used the metadata column {column!r}, "
                                f"which the data no longer has (its columns: "
                                f"{preview(list(meta.columns), 12) or '(none)'}).")
        if column_hash(meta[column]) != digest:
            raise ExplorerError(f"{where}: the metadata column {column!r} changed since the "
                                "manifest was written, and the selection depends on it, so a "
                                "replay would pick other rows; use the metadata it was made "
                                "with.")


if __name__ == "__main__":  # python -m explorer.data.manifest > manifest.schema.json
    import json

    print(json.dumps(manifest_schema(), indent=2))
