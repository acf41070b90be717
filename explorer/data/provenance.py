"""Which model made an embedding space: the record :mod:`explorer.embed` writes into its
output's Parquet schema metadata, read back into ``Dataset.embedding`` and kept in every
manifest (``dataset.embedding``), so a replay knows which space it is in.

The record is data from a file: it is checked against :data:`EMBEDDING_SCHEMA` (known keys
only) before it is used.

>>> check_embedding_record({"kind": "text", "model": "m", "dims": "384"}, "v.parquet")
Traceback (most recent call last):
...
explorer.errors.ExplorerError: v.parquet: key 'embedding.dims' must be an integer >= 1; got '384'.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ExplorerError
from .schema_check import MAX_INT, check

#: The key of the record in a Parquet file's schema metadata.
RECORD_KEY = b"subset_explorer.embedding"

_TEXT = {"type": "string", "maxLength": 4096, "description": "text"}
_HEX = {"type": "string", "pattern": "^[0-9a-f]{16,64}$", "description": "a hexadecimal digest"}


def _nullable(schema: dict, description: str) -> dict:
    return {"anyOf": [{"type": "null"}, schema], "description": description}


#: JSON Schema of the embedding record (draft 2020-12).
EMBEDDING_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "required": ["kind", "model", "dims"],
    "description": "an embedding record (an object with kind, model, dims, ...)",
    "properties": {
        "kind": {"enum": ["text", "image"], "description": "\"text\" or \"image\""},
        "model": _TEXT,
        "model_path": _nullable(_TEXT, "text or null"),
        "model_version": _nullable(_TEXT, "text or null"),
        "weights": _nullable(_HEX, "a hexadecimal digest or null"),
        "library": _nullable(_TEXT, "text or null"),
        "torch": _nullable(_TEXT, "text or null"),
        "pooling": _nullable(_TEXT, "text or null"),
        "normalized": {"type": "boolean", "description": "true or false"},
        "dims": {"type": "integer", "minimum": 1, "maximum": MAX_INT,
                 "description": "an integer >= 1"},
        "max_length": _nullable({"type": "integer", "minimum": 0, "maximum": MAX_INT},
                                "an integer >= 0 or null"),
        "preprocess": _nullable({
            "type": "object", "additionalProperties": False,
            "properties": {
                "size": {"type": "array", "minItems": 2, "maxItems": 2,
                         "items": {"type": "integer", "minimum": 1, "maximum": 100_000},
                         "description": "[height, width]"},
                "mean": {"type": "array", "maxItems": 4, "items": {"type": "number"},
                         "description": "a list of numbers"},
                "std": {"type": "array", "maxItems": 4, "items": {"type": "number"},
                        "description": "a list of numbers"},
                "resample": _TEXT},
            "description": "an object with size, mean, std, resample"}, "an object or null"),
        "column": _nullable({"type": "string", "maxLength": 256}, "a column name or null"),
        "source": _nullable(_TEXT, "text or null"),
        "id_column": _nullable({"type": "string", "maxLength": 256}, "a column name or null"),
        "rows": {"type": "integer", "minimum": 0, "maximum": MAX_INT,
                 "description": "an integer >= 0"},
        "skipped": {"type": "integer", "minimum": 0, "maximum": MAX_INT,
                    "description": "an integer >= 0"},
        "inputs": _nullable(_HEX, "a hexadecimal digest or null"),
        "created": {"type": "string", "maxLength": 64, "description": "a date and time"},
    },
}


def check_embedding_record(record, where: str) -> dict:
    """``record`` when it fits :data:`EMBEDDING_SCHEMA`, else one line naming the key."""
    check({"embedding": record}, {"type": "object", "properties": {"embedding":
                                                                     EMBEDDING_SCHEMA}},
          where, "the embedding record")
    return record


def read_record(path) -> dict | None:
    """The embedding record of a Parquet file written by ``explorer embed`` (None for a file
    without one)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception:  # noqa: BLE001 - unreadable here means no record; the loader says why
        return None
    raw = meta.get(RECORD_KEY)
    if raw is None:
        return None
    try:
        record = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ExplorerError(f"{Path(path).name}: its embedding record is not valid JSON; "
                            "embed the data again.") from None
    return check_embedding_record(record, Path(path).name)


def describe(record: dict | None) -> str:
    """One line for people: 'text by all-MiniLM-L6-v2 (384 dims, mean pooling, normalised)'.

    >>> describe({"kind": "text", "model": "all-MiniLM-L6-v2", "dims": 384,
    ...           "pooling": "mean", "normalized": True})
    'text by all-MiniLM-L6-v2 (384 dims, mean pooling, L2-normalised)'
    """
    if not record:
        return "embeddings of unknown origin"
    parts = [f"{record['dims']} dims"]
    if record.get("pooling"):
        parts.append(f"{record['pooling']} pooling")
    parts.append("L2-normalised" if record.get("normalized") else "not normalised")
    return f"{record['kind']} by {record['model']} ({', '.join(parts)})"
