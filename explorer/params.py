"""Declarative parameter constraints, the one validator and the one formatter for
parameter errors.

Modelled on scikit-learn's ``validate_params``: each parameter of a strategy, and each
argument of a public function (:func:`validate_params`), declares what it accepts; a
wrong value fails at the boundary with a message naming the parameter, its owner (the
strategy or the function) and the allowed values, e.g.::

    The 'n_clusters' parameter of k-means must be an int in [1, inf). Got 0.
    The 'random_draws' parameter of score must be an int in [2, inf). Got 1.

A parameter may accept several kinds of value (a list of constraints, any one of which
accepts the value; ``None`` in the list accepts None). The command line and the app build
their options and widgets from the same specs; text given as ``KEY=VALUE`` (``--param``, a
text box) is turned into typed values here, by :func:`split_pair` and
:func:`parse_pairs`, never evaluated.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

from .errors import ExplorerError


class _TextAsGiven:
    """A constraint whose values have no text form to read: text (``--param``, a text box)
    is passed on as given, and the constraint then accepts or refuses it."""

    def parse(self, text: str) -> Any:
        return text


@dataclass(frozen=True)
class Interval:
    """A number in an interval; ``kind`` is ``"int"`` or ``"float"`` (a float interval also
    takes ints); None is an open end. Infinite values are outside every interval: an open
    end is written "inf" with an excluding bracket."""

    kind: str
    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right", "neither"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.kind == "int" and not isinstance(value, Integral):
            return False
        if not isinstance(value, Real) or not math.isfinite(value):
            return False
        lo_ok = self.low is None or (
            value >= self.low if self.closed in ("both", "left") else value > self.low
        )
        hi_ok = self.high is None or (
            value <= self.high if self.closed in ("both", "right") else value < self.high
        )
        return lo_ok and hi_ok

    def describe(self) -> str:
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        lo = "-inf" if self.low is None else _num(self.low)
        hi = "inf" if self.high is None else _num(self.high)
        noun = "an int" if self.kind == "int" else "a float"
        return f"{noun} in {left}{lo}, {hi}{right}"

    def parse(self, text: str) -> Any:
        try:
            return int(text) if self.kind == "int" else float(text)
        except ValueError:
            return text


@dataclass(frozen=True)
class Options(_TextAsGiven):
    """One of a fixed set of strings."""

    values: tuple[str, ...]

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.values

    def describe(self) -> str:
        return "a str among {" + ", ".join(repr(v) for v in self.values) + "}"


@dataclass(frozen=True)
class Boolean:
    """True or False."""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "a bool"

    def parse(self, text: str) -> Any:
        low = text.strip().lower()
        if low in ("true", "yes", "1", "on"):
            return True
        if low in ("false", "no", "0", "off"):
            return False
        return text


@dataclass(frozen=True)
class Text(_TextAsGiven):
    """Any non-empty string (a column name, an expression)."""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value != ""

    def describe(self) -> str:
        return "a non-empty str"


@dataclass(frozen=True)
class InstanceOf(_TextAsGiven):
    """An instance of one of ``types``, described as ``noun`` (e.g. "a Dataset")."""

    types: tuple[type, ...]
    noun: str

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.types)

    def describe(self) -> str:
        return self.noun


@dataclass(frozen=True)
class Callback(_TextAsGiven):
    """A callable (a progress callback, a function to apply)."""

    def accepts(self, value: Any) -> bool:
        return callable(value)

    def describe(self) -> str:
        return "a callable"


@dataclass(frozen=True)
class SequenceOf(_TextAsGiven):
    """A list, tuple, range or 1-d array of at least ``min_items`` items, each accepted by
    one of ``items`` (a text is one value, not a sequence of characters)."""

    items: tuple
    min_items: int = 1

    def accepts(self, value: Any) -> bool:
        if isinstance(value, (str, bytes, Mapping)) or getattr(value, "ndim", 1) != 1:
            return False
        if not isinstance(value, Sequence) and not hasattr(value, "__array__"):
            return False
        return len(value) >= self.min_items and all(
            accepts_any(self.items, item) for item in value)

    def describe(self) -> str:
        size = "a non-empty list" if self.min_items == 1 else \
            f"a list of at least {self.min_items} items" if self.min_items > 1 else "a list"
        return f"{size} of items that are each {describe_any(self.items)}"


@dataclass(frozen=True)
class Pairs:
    """Named values: a dict ``{name: value}`` whose values are each accepted by one of
    ``values``, or the same written as text, ``'name=value<separator> name=value'`` (the
    form of ``--param`` and of the app's text box), read by :func:`parse_pairs`."""

    values: tuple
    name: str = "name"
    separator: str = ","
    #: split each pair at its last '=' (names that may hold '=', values that never do)
    split_last: bool = False

    def accepts(self, value: Any) -> bool:
        return isinstance(value, Mapping) and all(
            isinstance(k, str) and k != "" and accepts_any(self.values, v)
            for k, v in value.items())

    def describe(self) -> str:
        return (f"a dict {{{self.name}: {describe_any(self.values)}}} or text "
                f"'{self.name.upper()}=VALUE{self.separator} {self.name.upper()}=VALUE'")

    def parse(self, text: str) -> Any:
        """The dict the text writes (each value typed by the first constraint that accepts
        what it reads); text that is not such pairs is returned unchanged, for the caller's
        :func:`parameter_error` to quote as given."""
        try:
            pairs = parse_pairs(text, self.separator, last=self.split_last)
        except ValueError:
            return text
        parsed = {key: _parse_with(self.values, raw) for key, raw in pairs.items()}
        return parsed if self.accepts(parsed) else text


def _parse_with(constraints, text: str) -> Any:
    """``text`` typed by the first constraint that accepts what it reads (else the text)."""
    for c in constraints:
        if c is None:
            if text.strip().lower() == "none":
                return None
            continue
        value = c.parse(text)
        if c.accepts(value):
            return value
    return text


def split_pair(item: str, last: bool = False) -> tuple[str, str]:
    """``'key = value'`` -> ``('key', 'value')``, split at the first '=' (the last with
    ``last``); ValueError when there is no '=' or no key. The one reader of ``KEY=VALUE``
    text."""
    key, sep, value = item.rpartition("=") if last else item.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"{item.strip()!r} is not of the form KEY=VALUE")
    return key.strip(), value.strip()


def parse_pairs(text: str, separator: str, last: bool = False) -> dict[str, str]:
    """``'a=10, b=5'`` (``separator`` ``','``) -> ``{'a': '10', 'b': '5'}``: text values by
    name, empty parts skipped; ValueError on a part that is not ``KEY=VALUE`` or a name
    given twice.

    >>> parse_pairs("pick=nearest; n_clusters=5", ";")
    {'pick': 'nearest', 'n_clusters': '5'}
    """
    out: dict[str, str] = {}
    for part in text.split(separator):
        if not part.strip():
            continue
        key, value = split_pair(part, last)
        if key in out:
            raise ValueError(f"{key!r} is given twice")
        out[key] = value
    return out


def accepts_any(constraints, value: Any) -> bool:
    """Whether one of ``constraints`` accepts ``value`` (``None`` in them accepts None)."""
    return any(value is None if c is None else c.accepts(value) for c in constraints)


def describe_any(constraints) -> str:
    """'A', 'A or B', 'A, B or C' for the constraints' descriptions."""
    parts = ["None" if c is None else c.describe() for c in constraints]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


Constraint = Interval | Options | Boolean | Text | InstanceOf | Callback | SequenceOf | Pairs


@dataclass(frozen=True)
class Param:
    """One parameter of a strategy: name, constraint, default and a plain-words help text.

    ``optional`` parameters also accept None (meaning "decide from the data").
    """

    name: str
    constraint: Constraint
    default: Any
    help: str
    optional: bool = False

    def accepts(self, value: Any) -> bool:
        return (self.optional and value is None) or self.constraint.accepts(value)

    def describe(self) -> str:
        text = self.constraint.describe()
        return text + " or None" if self.optional else text


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def parameter_error(param: str, owner: str, allowed: str, got: Any) -> ExplorerError:
    """The one formatter for a parameter that has a wrong value (a long value, such as an
    array, is shown by its first characters)."""
    shown = repr(got)
    if len(shown) > 120 or "\n" in shown:
        shown = shown.replace("\n", " ")[:100] + "..."
    return ExplorerError(f"The {param!r} parameter of {owner} must be {allowed}. Got {shown}.")


def check_param(owner: str, param: str, value: Any, constraints, note: str = "") -> Any:
    """``value`` when one of ``constraints`` accepts it, else the formatted error; ``note``
    says why, in brackets after the allowed values (a bound that depends on the data)."""
    if accepts_any(constraints, value):
        return value
    allowed = describe_any(constraints) + (f" ({note})" if note else "")
    raise parameter_error(param, owner, allowed, value)


def validate_params(constraints: dict[str, list], *, owner: str | None = None):
    """Decorator: check the named arguments of a public function on every call, before it
    runs, each against its list of constraints (any one accepting the value is enough;
    ``None`` in the list accepts None). A wrong value is refused with
    :func:`parameter_error`, naming the function (or ``owner``) and the parameter.

    Arguments not named are not checked. Checks that need the data (a bound set by the
    number of rows, a column that must exist) stay in the function, worded with
    :func:`check_param`. The constraints and the owner are kept on the function as
    ``parameter_constraints`` and ``parameter_owner`` (the tests read them).

    >>> @validate_params({"k": [Interval("int", 1, None)], "mode": [Options(("a", "b")), None]})
    ... def f(k, mode=None):
    ...     return k
    >>> f(3), f(3, "b")
    (3, 3)
    >>> f(0)
    Traceback (most recent call last):
    ...
    explorer.errors.ExplorerError: The 'k' parameter of f must be an int in [1, inf). Got 0.
    """

    def decorate(func):
        signature = inspect.signature(func)
        unknown = sorted(set(constraints) - set(signature.parameters))
        if unknown:
            raise TypeError(f"validate_params: {func.__qualname__} has no parameter(s) "
                            f"{', '.join(unknown)}")
        name = owner or func.__name__

        @functools.wraps(func)
        def checked(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            for param, allowed in constraints.items():
                check_param(name, param, bound.arguments[param], allowed)
            return func(*args, **kwargs)

        checked.parameter_constraints = constraints
        checked.parameter_owner = name
        return checked

    return decorate


@dataclass(frozen=True)
class ParamSet:
    """The parameters of one owner (a strategy, a command)."""

    owner: str
    params: tuple[Param, ...] = field(default_factory=tuple)

    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def get(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(self.names()) or "none"
        raise ExplorerError(
            f"{self.owner} has no parameter {name!r}. Its parameters are: {known}."
        )

    def resolve(self, given: dict[str, Any] | None) -> dict[str, Any]:
        """Fill defaults, reject unknown names and invalid values; return a new dict."""
        given = dict(given or {})
        out: dict[str, Any] = {}
        for name in given:
            self.get(name)  # raises on unknown names
        for p in self.params:
            value = given.get(p.name, p.default)
            if isinstance(p.constraint, Interval) and p.constraint.kind == "float":
                if isinstance(value, Integral) and not isinstance(value, bool):
                    value = float(value)
            if hasattr(value, "item") and not isinstance(value, (str, bytes)):
                value = value.item()  # numpy scalar -> Python scalar
            if isinstance(p.constraint, Pairs) and isinstance(value, str):
                value = p.constraint.parse(value)  # the text form of named values
            if not p.accepts(value):
                raise parameter_error(p.name, self.owner, p.describe(), value)
            out[p.name] = value
        return out

    def parse_cli(self, items: list[str]) -> dict[str, Any]:
        """Turn ``KEY=VALUE`` strings into typed values (validated later by ``resolve``)."""
        texts: dict[str, str] = {}
        for item in items or []:
            try:
                key, text = split_pair(item)
            except ValueError:
                raise ExplorerError(
                    f"--param {item!r} is not of the form KEY=VALUE (for example n_clusters=20)."
                ) from None
            texts[key] = text
        return self.parse_texts(texts)

    def parse_texts(self, texts: dict[str, str]) -> dict[str, Any]:
        """Values given as text by name (``--param``, ``'k=v; k=v'``) typed by their
        constraints; unknown names refused, values validated later by ``resolve``."""
        out: dict[str, Any] = {}
        for key, text in texts.items():
            key = key.replace("-", "_")
            p = self.get(key)
            if not isinstance(text, str):
                out[key] = text
            elif p.optional and text.strip().lower() in ("none", ""):
                out[key] = None
            else:
                out[key] = p.constraint.parse(text.strip())
        return out


def budget_count(budget, n: int) -> int:
    """The rule for every budget given as a count or a fraction: a number in (0, 1) is that
    fraction of ``n`` rows, rounded, at least 1; anything else is a count. Validation is the
    caller's (each names its own parameter).

    >>> budget_count(0.1, 1797), budget_count(0.0001, 1797), budget_count(40, 1797)
    (180, 1, 40)
    """
    if 0 < budget < 1:
        return max(1, int(round(budget * n)))
    return int(budget)


#: Constraints many public functions share.
METRIC = Options(("euclidean", "cosine"))
SEED = Interval("int", 0, None)
#: a column name, or None for no column
OPTIONAL_COLUMN = (Text(), None)
#: a ``progress(fraction, message)`` callback, or None
OPTIONAL_CALLBACK = (Callback(), None)
