"""Metadata filters: a small language that can name columns and values but never call code.

A filter (``where=``, ``target_query=``, ``--where``, ``--target-query``, a manifest's
``where`` and ``target.query``, the app's filter builder) is text such as::

    label in ['1', '7'] and difficulty.between(0.1, 0.5)
    `topic name`.str.contains('loop', case=False) or group != 'ink-low'

It is parsed with :func:`ast.parse` (which reads, never runs) into a few frozen dataclasses,
and evaluated here with pandas' vectorised column operations. Only these forms are accepted
(:data:`ALLOWED`); everything else — ``@`` variables, attributes, subscripts, other calls,
lambdas, comprehensions, f-strings, dunder names, unknown columns — is refused with one line
that says what was refused and what is allowed. Text, nesting and lists are bounded, so a huge
expression is refused at once instead of hanging.

The same filter has a JSON form (:meth:`Filter.to_json`, :func:`from_json`, checked against
:data:`FILTER_SCHEMA` before it is read) and one canonical text (:meth:`Filter.to_text`),
which is what selections and manifests record.

>>> f = parse("0.1 < difficulty <= 0.5 & ~(label == '3')")
>>> f.to_text()
"difficulty > 0.1 and difficulty <= 0.5 and not label == '3'"
>>> from_json(f.to_json()) == f
True
>>> parse("label.__class__")
Traceback (most recent call last):
...
explorer.errors.ExplorerError: filter 'label.__class__': not allowed: the dunder name '__class__'. Allowed: column names (`with spaces` in backquotes), 'quoted text', numbers, True, False, None, lists [a, b]; comparisons == != < <= > >=; and, or, not (also &, |, ~); col in [..], col not in [..], col.isin([..]), col.between(low, high), col.str.contains('x', case=False), col.str.startswith('x'), col.isna(), col.notna().
"""

from __future__ import annotations

import abc
import ast
import difflib
import keyword
import math
import operator
import unicodedata
import warnings
from dataclasses import dataclass
from typing import Union

import numpy as np
import pandas as pd

from ..errors import ExplorerError, preview

#: What a filter may hold; every refusal of a piece of syntax ends with this sentence.
ALLOWED = ("Allowed: column names (`with spaces` in backquotes), 'quoted text', numbers, True, "
           "False, None, lists [a, b]; comparisons == != < <= > >=; and, or, not (also &, |, ~);"
           " col in [..], col not in [..], col.isin([..]), col.between(low, high), "
           "col.str.contains('x', case=False), col.str.startswith('x'), col.isna(), "
           "col.notna().")

#: Longest filter text; a list of thousands of ids fits.
MAX_TEXT = 100_000
#: Deepest nesting of brackets and of and / or / not.
MAX_DEPTH = 32
#: Most values in one list (``in``, ``isin``).
MAX_LIST = 10_000
#: Most conditions in one filter.
MAX_CONDITIONS = 1_000
#: Longest column name.
MAX_NAME = 256
#: Integers beyond an int64 cannot be compared with a column without surprises.
MAX_INT = 2**63 - 1

COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_OPERATORS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
              ">": operator.gt, ">=": operator.ge}
_AST_COMPARISONS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">",
                    ast.GtE: ">="}

Scalar = Union[str, int, float, bool, None]


def _show(text: str, limit: int = 80) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 2] + "…" + shown[0]


class _Refused(Exception):
    """A part of a filter that is not allowed; becomes one ExplorerError line."""


# ---------------------------------------------------------------------------- the nodes

class Filter(abc.ABC):
    """A parsed filter. Subclasses are frozen dataclasses, so equal filters compare equal."""

    @abc.abstractmethod
    def to_text(self) -> str:
        """The canonical text: parsing it gives an equal filter."""

    @abc.abstractmethod
    def to_json(self) -> dict:
        """A JSON-safe dict that :func:`from_json` reads back into an equal filter."""

    @abc.abstractmethod
    def columns(self) -> set:
        """The metadata columns this filter reads."""

    @abc.abstractmethod
    def _mask(self, frame: pd.DataFrame, what: str) -> np.ndarray:
        """True for the rows the filter keeps; ``what`` names the filter in messages."""

    def mask(self, frame: pd.DataFrame, what: str = "filter") -> np.ndarray:
        """True for every row of ``frame`` where the filter holds (see :func:`evaluate`)."""
        return evaluate(self, frame, what)

    def _here(self, what: str) -> str:
        return f"{what} {_show(self.to_text())}"

    def __str__(self) -> str:
        return self.to_text()


def _name_text(name: str) -> str:
    """A column name as written in a filter: bare when Python reads it back unchanged."""
    if name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("__") \
            and unicodedata.normalize("NFKC", name) == name:
        return name
    return f"`{name}`"


def _value_text(value) -> str:
    return repr(value)


def _list_text(values) -> str:
    return "[" + ", ".join(_value_text(v) for v in values) + "]"


@dataclass(frozen=True)
class Compare(Filter):
    """``column op value``, ``op`` one of :data:`COMPARISONS`."""

    column: str
    op: str
    value: Scalar

    def to_text(self):
        return f"{_name_text(self.column)} {self.op} {_value_text(self.value)}"

    def to_json(self):
        return {"op": self.op, "column": self.column, "value": self.value}

    def columns(self):
        return {self.column}

    def _mask(self, frame, what):
        series, here = frame[self.column], self._here(what)
        value = _coerce(self.column, column_kind(series), self.value, here)
        return _compared(self.op, series, value, here)


@dataclass(frozen=True)
class CompareColumns(Filter):
    """``left op right`` between two columns of the same kind."""

    left: str
    op: str
    right: str

    def to_text(self):
        return f"{_name_text(self.left)} {self.op} {_name_text(self.right)}"

    def to_json(self):
        return {"op": self.op, "column": self.left, "other_column": self.right}

    def columns(self):
        return {self.left, self.right}

    def _mask(self, frame, what):
        a, b, here = frame[self.left], frame[self.right], self._here(what)
        ka, kb = column_kind(a), column_kind(b)
        if ka != kb and not {ka, kb} & {"mixed", "empty"}:
            raise ExplorerError(f"{here}: column {self.left!r} holds {_KIND[ka]} and "
                                f"{self.right!r} holds {_KIND[kb]}; only columns of the same "
                                "kind can be compared.")
        return _compared(self.op, a, b, here)


@dataclass(frozen=True)
class IsIn(Filter):
    """``column in [values]`` (``negate``: ``not in``)."""

    column: str
    values: tuple
    negate: bool = False

    def to_text(self):
        return f"{_name_text(self.column)} {'not in' if self.negate else 'in'} " \
               f"{_list_text(self.values)}"

    def to_json(self):
        return {"op": "not in" if self.negate else "in", "column": self.column,
                "values": list(self.values)}

    def columns(self):
        return {self.column}

    def _mask(self, frame, what):
        series, here = frame[self.column], self._here(what)
        kind = column_kind(series)
        values = [v if v is None else _coerce(self.column, kind, v, here) for v in self.values]
        hit = _bool(series.isin(values))
        return ~hit if self.negate else hit


@dataclass(frozen=True)
class Between(Filter):
    """``column.between(low, high)``: low <= value <= high."""

    column: str
    low: Scalar
    high: Scalar

    def to_text(self):
        return f"{_name_text(self.column)}.between({_value_text(self.low)}, " \
               f"{_value_text(self.high)})"

    def to_json(self):
        return {"op": "between", "column": self.column, "low": self.low, "high": self.high}

    def columns(self):
        return {self.column}

    def _mask(self, frame, what):
        series, here = frame[self.column], self._here(what)
        kind = column_kind(series)
        low = _coerce(self.column, kind, self.low, here)
        high = _coerce(self.column, kind, self.high, here)
        return _bool(_apply(operator.ge, series, low, here)) & \
            _bool(_apply(operator.le, series, high, here))


def _text_series(frame, node, method, what):
    series = frame[node.column]
    kind = column_kind(series)
    if kind not in ("text", "mixed", "empty"):
        raise ExplorerError(f"{node._here(what)}: .str.{method} applies to text columns; "
                            f"column {node.column!r} holds {_KIND[kind]}.")
    return series


@dataclass(frozen=True)
class Contains(Filter):
    """``column.str.contains('text')``: the literal text occurs in the value."""

    column: str
    text: str
    case: bool = True

    def to_text(self):
        case = "" if self.case else ", case=False"
        return f"{_name_text(self.column)}.str.contains({_value_text(self.text)}{case})"

    def to_json(self):
        return {"op": "contains", "column": self.column, "value": self.text, "case": self.case}

    def columns(self):
        return {self.column}

    def _mask(self, frame, what):
        series = _text_series(frame, self, "contains", what)
        return _bool(series.str.contains(self.text, case=self.case, regex=False, na=False))


@dataclass(frozen=True)
class StartsWith(Filter):
    """``column.str.startswith('text')``."""

    column: str
    text: str

    def to_text(self):
        return f"{_name_text(self.column)}.str.startswith({_value_text(self.text)})"

    def to_json(self):
        return {"op": "startswith", "column": self.column, "value": self.text}

    def columns(self):
        return {self.column}

    def _mask(self, frame, what):
        series = _text_series(frame, self, "startswith", what)
        return _bool(series.str.startswith(self.text, na=False))


@dataclass(frozen=True)
class IsNa(Filter):
    """``column.isna()`` (``negate``: ``column.notna()``)."""

    column: str
    negate: bool = False

    def to_text(self):
        return f"{_name_text(self.column)}.{'notna' if self.negate else 'isna'}()"

    def to_json(self):
        return {"op": "notna" if self.negate else "isna", "column": self.column}

    def columns(self):
        return {self.column}

    def _mask(self, frame, what):
        missing = frame[self.column].isna().to_numpy(dtype=bool)
        return ~missing if self.negate else missing


@dataclass(frozen=True)
class _Joined(Filter):
    """Conditions joined by one word (``and`` / ``or``), its mask their rows reduced by one
    logical operator."""

    args: tuple
    # set by each kind (class constants, not dataclass fields): the word, which is also
    # the JSON "op", and the numpy ufunc that reduces the conditions' masks
    word = ""
    logical = None

    def to_text(self):
        return f" {self.word} ".join(_wrapped(a) for a in self.args)

    def to_json(self):
        return {"op": self.word, "args": [a.to_json() for a in self.args]}

    def columns(self):
        return set().union(*(a.columns() for a in self.args))

    def _mask(self, frame, what):
        return self.logical.reduce([a._mask(frame, what) for a in self.args])


@dataclass(frozen=True)
class And(_Joined):
    """Every condition holds."""

    word = "and"
    logical = np.logical_and


@dataclass(frozen=True)
class Or(_Joined):
    """At least one condition holds."""

    word = "or"
    logical = np.logical_or


@dataclass(frozen=True)
class Not(Filter):
    """The condition does not hold."""

    arg: Filter

    def to_text(self):
        return f"not {_wrapped(self.arg)}"

    def to_json(self):
        return {"op": "not", "arg": self.arg.to_json()}

    def columns(self):
        return self.arg.columns()

    def _mask(self, frame, what):
        return ~self.arg._mask(frame, what)


def _wrapped(node: Filter) -> str:
    return f"({node.to_text()})" if isinstance(node, _Joined) else node.to_text()


def all_of(*conditions: Filter) -> Filter:
    """The conditions joined with ``and`` (nested ``and`` flattened; one condition as is)."""
    return _joined_op(And, conditions)


def any_of(*conditions: Filter) -> Filter:
    """The conditions joined with ``or`` (nested ``or`` flattened; one condition as is)."""
    return _joined_op(Or, conditions)


def _joined_op(cls, conditions):
    flat = []
    for c in conditions:
        flat.extend(c.args if isinstance(c, cls) else (c,))
    if not flat:
        raise ExplorerError(f"{cls.__name__.lower()}: give at least one condition.")
    return flat[0] if len(flat) == 1 else cls(tuple(flat))


# ---------------------------------------------------------------------------- evaluation

_KIND = {"text": "text", "number": "numbers", "bool": "True/False values",
         "time": "timestamps", "mixed": "values of several kinds", "empty": "no values",
         "other": "values that cannot be filtered"}


def column_kind(series: pd.Series) -> str:
    """'text', 'number', 'bool', 'time', 'mixed', 'empty' or 'other' (durations, ...).

    >>> column_kind(pd.Series(["a", None])), column_kind(pd.Series([1.5, 2]))
    ('text', 'number')
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return column_kind(pd.Series(dtype.categories)) if len(dtype.categories) else "empty"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "time"
    if pd.api.types.is_string_dtype(dtype) and dtype != object:
        return "text"
    if dtype != object:
        return "other"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    return {"string": "text", "empty": "empty", "boolean": "bool", "integer": "number",
            "floating": "number", "mixed-integer-float": "number", "decimal": "number",
            "datetime": "time", "datetime64": "time", "date": "time"}.get(inferred, "mixed")


def _coerce(column: str, kind: str, value, here: str):
    """The literal ``value`` as something the column can be compared with, or a message
    that says how to write it (quote text, leave numbers bare)."""
    if kind in ("mixed", "empty"):
        return value
    if kind == "text":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            raise ExplorerError(f"{here}: column {column!r} holds text, not True/False; write "
                                f"a condition such as {_name_text(column)} == 'some text'.")
        raise ExplorerError(f"{here}: column {column!r} holds text; quote the value "
                            f"('{value}', not {value!r}).")
    if kind == "number":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        if isinstance(value, bool):
            raise ExplorerError(f"{here}: column {column!r} holds numbers, not True/False; "
                                f"write a condition such as {_name_text(column)} > 0.")
        raise ExplorerError(f"{here}: column {column!r} holds numbers; compare it with a "
                            f"number written without quotes (such as 0.5), not {value!r}.")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise ExplorerError(f"{here}: column {column!r} holds True/False values; compare it "
                            f"with True or False, not {value!r}.")
    if kind == "time":
        if isinstance(value, str):
            try:
                return pd.Timestamp(value)
            except (ValueError, TypeError, OverflowError):
                pass
        raise ExplorerError(f"{here}: column {column!r} holds timestamps; compare it with a "
                            f"date in quotes such as '2024-01-31', not {value!r}.")
    raise ExplorerError(f"{here}: column {column!r} holds {_KIND[kind]}.")


def _apply(op, left, right, here: str):
    try:
        return op(left, right)
    except (TypeError, ValueError) as exc:
        raise ExplorerError(f"{here}: these values cannot be compared that way "
                            f"({type(exc).__name__}: {str(exc)[:80]}).") from None


def _compared(op: str, left, right, here: str) -> np.ndarray:
    """The rows where ``left op right`` holds; ``!=`` is ``not ==``, so a missing value
    differs from every value."""
    if op == "!=":
        return ~_bool(_apply(operator.eq, left, right, here))
    return _bool(_apply(_OPERATORS[op], left, right, here))


def _bool(result) -> np.ndarray:
    if isinstance(result, (pd.Series, pd.Index)):
        return result.to_numpy(dtype=bool, na_value=False)
    return np.asarray(result, dtype=bool)


def check_columns(node: Filter, columns, what: str = "filter") -> None:
    """Refuse a filter naming a column that ``columns`` lacks, naming it and the known ones."""
    known = [str(c) for c in columns]
    unknown = sorted(node.columns() - set(known))
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ExplorerError(f"{what} {_show(node.to_text())}: unknown column {unknown[0]!r}."
                            f"{hint} The metadata columns are: {preview(known, 20) or '(none)'}.")


# ---------------------------------------------------------------------------- text -> nodes

def _scan(text: str, what: str):
    """Replace `quoted names` by placeholder identifiers and & | by and / or outside string
    literals (pandas' own reading, which gives & and | the precedence of and / or); refuse
    '@' and over-deep brackets. Returns (prepared text, {placeholder: column name})."""
    out, names = [], {}
    stem = "BQ"
    while stem in text:
        stem += "Q"
    i, depth, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            quote = text[i:i + 3] if text[i:i + 3] in ("'''", '"""') else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                j += 2 if text[j] == "\\" else 1
            j = min(n, j + len(quote))
            out.append(text[i:j])
            i = j
            continue
        if c == "`":
            j = text.find("`", i + 1)
            if j < 0:
                raise _Refused("a `quoted column name` is not closed")
            name = text[i + 1:j]
            if not name.strip():
                raise _Refused("`` is an empty column name")
            if len(name) > MAX_NAME:
                raise _Refused(f"a column name is longer than {MAX_NAME} characters")
            placeholder = f"{stem}{len(names)}_"
            names[placeholder] = name
            out.append(f" {placeholder} ")
            i = j + 1
            continue
        if c == "@":
            raise _Refused("not allowed: '@' (a reference to a Python variable)")
        if c in "&|":
            out.append(" and " if c == "&" else " or ")
            i += 1
            continue
        if c in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _Refused(f"it is nested more than {MAX_DEPTH} brackets deep")
        elif c in ")]}":
            depth -= 1
        out.append(c)
        i += 1
    return "".join(out), names


def _describe(node: ast.AST) -> str:
    """How a refused piece of syntax is named in the message."""
    if isinstance(node, ast.Attribute):
        return f"the attribute '.{node.attr}'"
    if isinstance(node, ast.Subscript):
        return "subscripts such as x[...]"
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else (
            func.attr if isinstance(func, ast.Attribute) else "")
        return f"calling {name}(...)" if name else "calls"
    if isinstance(node, ast.Lambda):
        return "lambda"
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return "comprehensions"
    if isinstance(node, ast.JoinedStr):
        return "f-strings"
    if isinstance(node, ast.NamedExpr):
        return "':=' assignments"
    if isinstance(node, ast.Starred):
        return "'*' unpacking"
    if isinstance(node, ast.BinOp):
        return "arithmetic (+ - * / % ** << >> ^)"
    if isinstance(node, ast.IfExp):
        return "'x if c else y'"
    if isinstance(node, (ast.Dict, ast.Set)):
        return "dict and set literals"
    if isinstance(node, ast.UnaryOp):
        return "'~', 'not' or '-' before a column (write ~(x == 1) with brackets)"
    if isinstance(node, (ast.List, ast.Tuple)):
        return "a list here"
    if isinstance(node, ast.Constant):
        return f"the value {node.value!r} here"
    if isinstance(node, ast.Name):
        return f"the name {node.id!r} here"
    return f"{type(node).__name__} expressions"


class _Reader:
    """Turns the whitelisted part of a Python expression tree into filter nodes."""

    def __init__(self, names: dict):
        self.names = names
        self.conditions = 0

    def column(self, node) -> str:
        if not isinstance(node, ast.Name):
            raise _Refused(f"not allowed where a column name goes: {_describe(node)}")
        if node.id in self.names:
            return self.names[node.id]
        if node.id.startswith("__"):
            raise _Refused(f"not allowed: the dunder name {node.id!r}")
        if len(node.id) > MAX_NAME:
            raise _Refused(f"a column name is longer than {MAX_NAME} characters")
        return node.id

    def value(self, node):
        """A literal (str, int, float, bool, None), or ValueError if the node is not one."""
        if isinstance(node, ast.Constant):
            v = node.value
            if v is None or isinstance(v, (str, bool)):
                return v
            if isinstance(v, (int, float)):
                return _number(v)
            raise _Refused(f"not allowed: the value {v!r} (only text, numbers, True, False, "
                           "None)")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) \
                and isinstance(node.operand, ast.Constant) \
                and isinstance(node.operand.value, (int, float)) \
                and not isinstance(node.operand.value, bool):
            v = node.operand.value
            return _number(-v if isinstance(node.op, ast.USub) else v)
        raise ValueError

    def values(self, node) -> tuple:
        if not isinstance(node, (ast.List, ast.Tuple)):
            raise _Refused(f"not allowed where a list [a, b] goes: {_describe(node)}")
        if len(node.elts) > MAX_LIST:
            raise _Refused(f"a list holds {len(node.elts):,} values; at most {MAX_LIST:,} are "
                           "allowed")
        out = []
        for elt in node.elts:
            try:
                out.append(self.value(elt))
            except ValueError:
                raise _Refused(f"not allowed inside a list: {_describe(elt)} (only text, "
                               "numbers, True, False, None)") from None
        return tuple(out)

    def count(self) -> None:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise _Refused(f"it holds more than {MAX_CONDITIONS:,} conditions")

    def condition(self, node, depth: int = 0) -> Filter:
        if depth > MAX_DEPTH:
            raise _Refused(f"it is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(v, depth + 1) for v in node.values]
            return all_of(*parts) if isinstance(node.op, ast.And) else any_of(*parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
            return Not(self.condition(node.operand, depth + 1))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Name):  # a True/False column on its own
            self.count()
            return Compare(self.column(node), "==", True)
        raise _Refused(f"not allowed: {_describe(node)}")

    def compare(self, node: ast.Compare) -> Filter:
        operands = [node.left, *node.comparators]
        parts = []
        for left, op, right in zip(operands, node.ops, operands[1:]):
            self.count()
            parts.append(self.pair(left, op, right))
        return all_of(*parts)

    def pair(self, left, op, right) -> Filter:
        if isinstance(op, (ast.In, ast.NotIn)):
            return IsIn(self.column(left), self.values(right), isinstance(op, ast.NotIn))
        if isinstance(op, (ast.Is, ast.IsNot)):
            raise _Refused("not allowed: 'is'; write col.isna() or col.notna() for missing "
                           "values and == for the rest")
        symbol = _AST_COMPARISONS[type(op)]
        if symbol in ("==", "!=") and isinstance(right, (ast.List, ast.Tuple)):
            return IsIn(self.column(left), self.values(right), symbol == "!=")
        sides = []
        for side in (left, right):
            try:
                sides.append(("value", self.value(side)))
            except ValueError:
                sides.append(("column", self.column(side)))
        (lk, lv), (rk, rv) = sides
        if lk == rk == "value":
            raise _Refused(f"{_value_text(lv)} {symbol} {_value_text(rv)} compares two values; "
                           "one side must be a column")
        if lk == rk == "column":
            return CompareColumns(lv, symbol, rv)
        column, value = (lv, rv) if lk == "column" else (rv, lv)
        symbol = symbol if lk == "column" else _FLIPPED[symbol]
        if value is None:
            raise _Refused(f"not allowed: comparing with None; write "
                           f"{_name_text(column)}.isna() or {_name_text(column)}.notna()")
        return Compare(column, symbol, value)

    def call(self, node: ast.Call) -> Filter:
        func = node.func
        if not isinstance(func, ast.Attribute):
            raise _Refused(f"not allowed: {_describe(node)}")
        method, owner = func.attr, func.value
        if isinstance(owner, ast.Attribute) and owner.attr == "str" \
                and method in ("contains", "startswith"):
            column = self.column(owner.value)
        elif method in ("isin", "between", "isna", "notna", "isnull", "notnull"):
            column = self.column(owner)
        else:
            raise _Refused(f"not allowed: calling .{method}(...)")
        if any(isinstance(a, ast.Starred) for a in node.args) or \
                any(k.arg is None for k in node.keywords):
            raise _Refused("not allowed: '*' unpacking")
        self.count()
        args, kw = node.args, {k.arg: k.value for k in node.keywords}
        if method in ("isna", "notna", "isnull", "notnull"):
            self._arity(method, args, kw, 0, ())
            return IsNa(column, method in ("notna", "notnull"))
        if method == "isin":
            self._arity(method, args, kw, 1, ())
            return IsIn(column, self.values(args[0]))
        if method == "between":
            self._arity(method, args, kw, 2, ())
            low, high = (self._literal(a, "between") for a in args)
            if any(v is None or isinstance(v, bool) for v in (low, high)):
                raise _Refused(".between(low, high) takes text or numbers")
            return Between(column, low, high)
        self._arity(f"str.{method}", args, kw, 1,
                    ("case", "regex") if method == "contains" else ())
        text = self._literal(args[0], f"str.{method}")
        if not isinstance(text, str):
            raise _Refused(f".str.{method} needs quoted text, got {_value_text(text)}")
        if method == "startswith":
            return StartsWith(column, text)
        case = self._flag(kw.get("case"), "case", True)
        if not self._flag(kw.get("regex"), "regex", False) is False:
            raise _Refused("not allowed: regex=True (.str.contains matches literal text)")
        return Contains(column, text, case)

    def _arity(self, method, args, kw, n, keywords):
        extra = sorted(set(kw) - set(keywords))
        if len(args) != n or extra:
            want = {0: "no arguments", 1: "one value", 2: "two values"}[n]
            also = f" (and {', '.join(k + '=' for k in keywords)})" if keywords else ""
            raise _Refused(f".{method}(...) takes {want}{also}")

    def _literal(self, node, method):
        try:
            return self.value(node)
        except ValueError:
            raise _Refused(f"not allowed as an argument of .{method}(...): {_describe(node)} "
                           "(only text, numbers, True, False)") from None

    def _flag(self, node, name, default):
        if node is None:
            return default
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return node.value
        raise _Refused(f"{name}= takes True or False")


def _number(v):
    if abs(v) > MAX_INT or not math.isfinite(v):  # abs first: a huge int has no float
        raise _Refused(f"not allowed: the number {v!r} (only numbers between -2**63 and "
                       "2**63)")
    return v


def parse(text, what: str = "filter") -> Filter:
    """The filter written in ``text``, checked against the grammar (not yet against columns).

    >>> parse("label in ['1', '7'] or difficulty.between(0, 0.2)").to_text()
    "label in ['1', '7'] or difficulty.between(0, 0.2)"
    >>> parse("`my col`.str.contains('Loop', case=False)").to_json()
    {'op': 'contains', 'column': 'my col', 'value': 'Loop', 'case': False}
    """
    if not isinstance(text, str):
        raise ExplorerError(f"{what}: a filter must be text such as \"label == 'cat'\"; got "
                            f"{type(text).__name__}.")
    if not text.strip():
        raise ExplorerError(f"{what}: give a condition, e.g. \"label == 'cat'\".")
    if len(text) > MAX_TEXT:
        raise ExplorerError(f"{what}: the filter is {len(text):,} characters long; at most "
                            f"{MAX_TEXT:,} are allowed.")
    bad = next((c for c in text if (ord(c) < 32 and c not in "\t\n\r") or ord(c) == 127), None)
    if bad is not None:
        raise ExplorerError(f"{what} {_show(text)}: holds the control character "
                            f"{bad!r}{' (a NUL byte)' if bad == chr(0) else ''}; a filter is "
                            "plain text.")
    try:
        prepared, names = _scan(text, what)
        try:
            with warnings.catch_warnings():  # "invalid decimal literal" and the like
                warnings.simplefilter("ignore", SyntaxWarning)
                tree = ast.parse(prepared.strip(), mode="eval")
        except SyntaxError as exc:
            raise _Refused(f"it is not a valid expression ({exc.msg})") from None
        except (RecursionError, MemoryError, ValueError):
            raise _Refused(f"it is nested more than {MAX_DEPTH} levels deep") from None
        for node in ast.walk(tree):  # name the dunder wherever it hides
            dunder = node.id if isinstance(node, ast.Name) else (
                node.attr if isinstance(node, ast.Attribute) else "")
            if dunder.startswith("__"):
                raise _Refused(f"not allowed: the dunder name {dunder!r}")
        return _Reader(names).condition(tree.body)
    except _Refused as exc:
        raise ExplorerError(f"{what} {_show(text)}: {exc}. {ALLOWED}") from None


# ---------------------------------------------------------------------------- JSON -> nodes

_COLUMN = {"type": "string", "minLength": 1, "maxLength": MAX_NAME,
           "pattern": "^[^`\\u0000-\\u001f]+$",
           "description": f"a column name (1 to {MAX_NAME} characters, no backquote or "
                          "control character)"}
_NUMBER = {"type": "number", "minimum": -MAX_INT, "maximum": MAX_INT}
_SCALAR = {"anyOf": [{"type": "string", "maxLength": MAX_TEXT}, {"type": "boolean"}, _NUMBER],
           "description": "text, a finite number, True or False"}
_ORDERED = {"anyOf": [{"type": "string", "maxLength": MAX_TEXT}, _NUMBER],
            "description": "text or a finite number"}


def _shape(op_values, properties, required):
    ops = {"enum": list(op_values)} if len(op_values) > 1 else {"const": op_values[0]}
    return {"if": {"type": "object", "properties": {"op": ops}, "required": ["op"]},
            "then": {"properties": {"op": True, **properties},
                     "required": ["op", *required], "additionalProperties": False}}


#: JSON Schema (draft 2020-12) of a filter node; :func:`from_json` checks it first.
FILTER_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://subset-explorer.local/schemas/filter.json",
    "title": "Subset Explorer metadata filter",
    "$ref": "#/$defs/filter",
    "$defs": {"filter": {
        "type": "object",
        "description": "a filter node: an object with an \"op\" and its operands",
        "required": ["op"],
        "properties": {"op": {"enum": [*COMPARISONS, "in", "not in", "between", "contains",
                                       "startswith", "isna", "notna", "and", "or", "not"],
                              "description": "one of == != < <= > >= in, not in, between, "
                                             "contains, startswith, isna, notna, and, or, not"}},
        "allOf": [
            {"if": {"type": "object", "properties": {"op": {"enum": list(COMPARISONS)}},
                    "required": ["op"]},
             "then": {"properties": {"op": True, "column": _COLUMN, "value": _SCALAR,
                                     "other_column": _COLUMN},
                      "required": ["op", "column"], "additionalProperties": False,
                      "oneOf": [{"required": ["value"]}, {"required": ["other_column"]}],
                      "description": "a comparison with either a \"value\" or an "
                                     "\"other_column\""}},
            _shape(("in", "not in"), {"column": _COLUMN, "values": {
                "type": "array", "maxItems": MAX_LIST,
                "items": {"anyOf": [_SCALAR, {"type": "null"}]},
                "description": "a list of text, numbers, True, False or null"}},
                ["column", "values"]),
            _shape(("between",), {"column": _COLUMN, "low": _ORDERED, "high": _ORDERED},
                   ["column", "low", "high"]),
            _shape(("contains",), {"column": _COLUMN,
                                   "value": {"type": "string", "maxLength": MAX_TEXT,
                                             "description": "text"},
                                   "case": {"type": "boolean", "description": "true or false"}},
                   ["column", "value"]),
            _shape(("startswith",), {"column": _COLUMN,
                                     "value": {"type": "string", "maxLength": MAX_TEXT,
                                               "description": "text"}}, ["column", "value"]),
            _shape(("isna", "notna"), {"column": _COLUMN}, ["column"]),
            _shape(("and", "or"), {"args": {"type": "array", "minItems": 1,
                                            "maxItems": MAX_CONDITIONS,
                                            "items": {"$ref": "#/$defs/filter"},
                                            "description": "a list of filter nodes"}},
                   ["args"]),
            _shape(("not",), {"arg": {"$ref": "#/$defs/filter"}}, ["arg"]),
        ],
    }},
}


def from_json(node, what: str = "filter") -> Filter:
    """The filter a JSON node describes, checked against :data:`FILTER_SCHEMA` first, so a
    node from a file or a browser passes the same whitelist as text.

    >>> from_json({"op": "in", "column": "label", "values": ["1", "7"]}).to_text()
    "label in ['1', '7']"
    >>> from_json({"op": "call", "column": "os.system"})
    Traceback (most recent call last):
    ...
    explorer.errors.ExplorerError: filter: key 'op' must be one of == != < <= > >= in, not in, between, contains, startswith, isna, notna, and, or, not; got 'call'.
    """
    from .schema_check import check

    check(node, FILTER_SCHEMA, what, "the filter")
    counted = [0]
    return _build(node, counted, what)


def _build(node: dict, counted: list, what: str) -> Filter:
    op = node["op"]
    counted[0] += 1
    if counted[0] > MAX_CONDITIONS:
        raise ExplorerError(f"{what}: the filter holds more than {MAX_CONDITIONS:,} "
                            "conditions.")
    if op in ("and", "or"):
        parts = [_build(a, counted, what) for a in node["args"]]
        return all_of(*parts) if op == "and" else any_of(*parts)
    if op == "not":
        return Not(_build(node["arg"], counted, what))
    column = node["column"]
    if op in COMPARISONS:
        if "other_column" in node:
            return CompareColumns(column, op, node["other_column"])
        return Compare(column, op, _json_number(node["value"], what))
    if op in ("in", "not in"):
        return IsIn(column, tuple(_json_number(v, what) for v in node["values"]),
                    op == "not in")
    if op == "between":
        return Between(column, _json_number(node["low"], what),
                       _json_number(node["high"], what))
    if op == "contains":
        return Contains(column, node["value"], bool(node.get("case", True)))
    if op == "startswith":
        return StartsWith(column, node["value"])
    return IsNa(column, op == "notna")


def _json_number(v, what):
    """JSON numbers as Python gives them (1.0 stays a float), refusing NaN and infinities."""
    if isinstance(v, float) and not math.isfinite(v):
        raise ExplorerError(f"{what}: the filter holds the number {v!r}; only numbers between "
                            "-2**63 and 2**63 are allowed.")
    return v


# ---------------------------------------------------------------------------- the entry point

def as_filter(value, what: str = "filter") -> Filter:
    """A Filter from text (:func:`parse`), a JSON node (:func:`from_json`) or a Filter.

    >>> as_filter({"op": "isna", "column": "label"}) == as_filter("label.isna()")
    True
    """
    if isinstance(value, Filter):
        return value
    if isinstance(value, dict):
        return from_json(value, what)
    return parse(value, what)


def evaluate(value, frame: pd.DataFrame, what: str = "filter") -> np.ndarray:
    """The boolean mask of the rows of ``frame`` where the filter ``value`` (text, a JSON node
    or a Filter) holds, computed with pandas' column operations.

    Missing values match only ``!=``, ``not in``, ``isna()`` and an ``in`` list holding None.

    >>> frame = pd.DataFrame({"label": ["a", "b", None], "size": [1.0, 5.0, 3.0]})
    >>> evaluate("label != 'a' and size > 2", frame)
    array([False,  True,  True])
    """
    node = as_filter(value, what)
    check_columns(node, frame.columns, what)
    mask = node._mask(frame.reset_index(drop=True), what)
    if mask.shape != (len(frame),):  # a guard on our own evaluator, not on the input
        raise AssertionError(f"filter gave a mask of shape {mask.shape} for {len(frame)} rows")
    return mask
