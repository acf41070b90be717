"""JSON Schema checks with one-line messages that name the key path.

A document from outside (a manifest, a workspace entry, a filter node) is checked against a
draft 2020-12 schema with :mod:`jsonschema`; the first (most relevant) problem becomes an
:class:`~explorer.errors.ExplorerError` such as::

    m.json: key 'steps[0].budget' must be an integer >= 1 or a fraction in (0, 1); got 'ten'.

A schema node's ``description`` is written to read after "must be", so the message says what
is allowed. Arrays of row indices and ids (which hold a whole selection, up to millions of
items) are checked in one pass of plain Python first, and item by item only when that pass
finds a problem (jsonschema walks an array item by item in Python, validating each against
its schema, which is slow for millions of items).
"""

from __future__ import annotations

import json
import math
from functools import lru_cache

import jsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from ..errors import ExplorerError

#: Deepest nesting of objects and arrays accepted (a manifest written by us has depth 5).
MAX_DEPTH = 32
#: Largest integer accepted anywhere (row indices, seeds, budgets): what an int64 holds.
MAX_INT = 2**63 - 1


def fast_items(items_schema: dict, instance: list) -> bool:
    """True when every item of ``instance`` plainly satisfies the common ``items_schema``
    (an index or an id); False means "check item by item"."""
    kind = items_schema.get("$ref", "")
    if kind.endswith("/index"):
        return all(type(v) is int and 0 <= v <= MAX_INT for v in instance)
    if kind.endswith("/id"):
        return all((type(v) is str and len(v) <= 1000) or (type(v) is int and abs(v) <= MAX_INT)
                   for v in instance)
    return False


def _items(validator, items, instance, schema):
    if isinstance(instance, list) and isinstance(items, dict) and fast_items(items, instance):
        return
    yield from Draft202012Validator.VALIDATORS["items"](validator, items, instance, schema)


_Validator = jsonschema.validators.extend(Draft202012Validator, {"items": _items})


@lru_cache(maxsize=8)
def _validator(schema_json: str):
    schema = json.loads(schema_json)
    Draft202012Validator.check_schema(schema)
    return _Validator(schema)


def depth_of(doc) -> int:
    """Nesting depth of a JSON-like value, without recursion: 0 for a scalar, 1 for a flat
    list or object, one more per level inside.

    >>> depth_of(3), depth_of([1, 2]), depth_of({"a": [{"b": 1}]})
    (0, 1, 3)
    """
    return _walk(doc)[0]


def _walk(doc):
    """(depth, key path of the first NaN or infinity or None), without recursion."""
    if not isinstance(doc, (dict, list, tuple)):
        return 0, (() if type(doc) is float and not math.isfinite(doc) else None)
    deepest, stack, bad = 0, [(doc, 1, ())], None
    while stack:
        value, depth, path = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in pairs:
            if isinstance(item, (dict, list, tuple)):
                stack.append((item, depth + 1, (*path, key)))
            elif bad is None and type(item) is float and not math.isfinite(item):
                bad = (*path, key)
    return deepest, bad


def key_path(parts) -> str:
    """'steps[0].budget' from ('steps', 0, 'budget')."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def shown(value, limit: int = 60) -> str:
    """A short rendering of a bad value for a message."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _description(error) -> str | None:
    while error is not None:
        if isinstance(error.schema, dict) and "description" in error.schema:
            return error.schema["description"]
        error = error.parent
    return None


def explain(error, where: str, root: str) -> str:
    """One line for a jsonschema ValidationError: file, key path, what is allowed, what came."""
    path = key_path(error.absolute_path)
    place = f"key '{path}'" if path else root
    kind = error.validator
    if kind == "required":
        missing = next(k for k in error.validator_value if k not in error.instance)
        return f"{where}: {place} has no {missing!r} entry."
    if kind == "additionalProperties":
        known = sorted((error.schema.get("properties") or {}))
        extra = sorted(k for k in error.instance if k not in known)
        return (f"{where}: {place} has unknown key(s) {', '.join(map(repr, extra))}; known keys: "
                f"{', '.join(known) or '(none)'}.")
    if kind == "maxItems":
        return (f"{where}: {place} holds {len(error.instance)} items; at most "
                f"{error.validator_value} are allowed.")
    if kind == "maxLength":
        return f"{where}: {place} is longer than {error.validator_value} characters."
    allowed = _description(error)
    if allowed is None:
        allowed = ("one of " + ", ".join(map(shown, error.validator_value))
                   if kind == "enum" else error.message)
    return f"{where}: {place} must be {allowed}; got {shown(error.instance)}."


def check(doc, schema: dict, where: str, root: str = "the document") -> None:
    """Raise an ExplorerError naming the key path when ``doc`` does not follow ``schema``.

    >>> schema = {"type": "object", "properties": {"n": {"type": "integer",
    ...           "description": "an integer"}}, "additionalProperties": False}
    >>> check({"n": "ten"}, schema, "m.json")
    Traceback (most recent call last):
    ...
    explorer.errors.ExplorerError: m.json: key 'n' must be an integer; got 'ten'.
    """
    depth, bad = _walk(doc)
    if depth > MAX_DEPTH:
        raise ExplorerError(f"{where}: {root} is nested more than {MAX_DEPTH} levels deep; "
                            "no document we write is.")
    if bad is not None:
        place = f"key '{key_path(bad)}'" if bad else root
        raise ExplorerError(f"{where}: {place} holds NaN or an infinity, which JSON does not "
                            "allow; give a number or null.")
    validator = _validator(json.dumps(schema, sort_keys=True))
    try:
        error = best_match(validator.iter_errors(doc))
    except RecursionError:
        raise ExplorerError(f"{where}: {root} is nested too deeply to check.") from None
    if error is not None:
        raise ExplorerError(explain(error, where, root))
