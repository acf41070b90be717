"""Declarative parameter specs and the one formatter for parameter errors.

Modelled on scikit-learn's ``_parameter_constraints``: each parameter of a strategy declares
one constraint; validation at the boundary fails with a message naming the parameter, its
owner and the allowed values, e.g.::

    The 'n_clusters' parameter of k-means must be an int in [1, inf). Got 0.

The command line and the app build their options and widgets from the same specs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

from .errors import ExplorerError


@dataclass(frozen=True)
class Interval:
    """A number in an interval; ``kind`` is ``"int"`` or ``"float"``; None is an open end."""

    kind: str
    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right", "neither"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.kind == "int" and not isinstance(value, Integral):
            return False
        if not isinstance(value, Real) or math.isnan(value):
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
class Options:
    """One of a fixed set of strings."""

    values: tuple[str, ...]

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.values

    def describe(self) -> str:
        return "a str among {" + ", ".join(repr(v) for v in self.values) + "}"

    def parse(self, text: str) -> Any:
        return text


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
class Text:
    """Any non-empty string (a column name, an expression)."""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value != ""

    def describe(self) -> str:
        return "a non-empty str"

    def parse(self, text: str) -> Any:
        return text


Constraint = Interval | Options | Boolean | Text


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
    """The one formatter for a parameter that has a wrong value."""
    return ExplorerError(f"The {param!r} parameter of {owner} must be {allowed}. Got {got!r}.")


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
            if not p.accepts(value):
                raise parameter_error(p.name, self.owner, p.describe(), value)
            out[p.name] = value
        return out

    def parse_cli(self, items: list[str]) -> dict[str, Any]:
        """Turn ``KEY=VALUE`` strings into typed values (validated later by ``resolve``)."""
        out: dict[str, Any] = {}
        for item in items or []:
            if "=" not in item:
                raise ExplorerError(
                    f"--param {item!r} is not of the form KEY=VALUE (for example n_clusters=20)."
                )
            key, text = item.split("=", 1)
            key = key.strip().replace("-", "_")
            p = self.get(key)
            if p.optional and text.strip().lower() in ("none", ""):
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
