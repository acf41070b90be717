"""The one registry of selection strategies.

Each module below registers its strategies with :func:`explorer.strategies.base.register`;
importing this package imports them all. Adding a strategy is adding one module here.
"""

from __future__ import annotations

import importlib

from ..errors import ExplorerError
from .base import FAMILIES, INPUTS, REGISTRY, Nested, Picks, Problem, Strategy, register

def _strategy_modules() -> list[str]:
    """Every public module of this package except ``base`` holds strategies; helpers that
    hold none start with an underscore."""
    import pkgutil

    return sorted(m.name for m in pkgutil.iter_modules(__path__)
                  if not m.name.startswith("_") and m.name != "base")


for _name in _strategy_modules():
    importlib.import_module(f"{__name__}.{_name}")


def get_strategy(name: str) -> Strategy:
    """The registered strategy ``name``; an unknown name lists the known ones."""
    if not isinstance(name, str) or name not in REGISTRY:
        import difflib

        close = difflib.get_close_matches(str(name), REGISTRY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ExplorerError(
            f"Unknown strategy {name!r}.{hint} Known strategies: {', '.join(sorted(REGISTRY))}."
        )
    return REGISTRY[name]


def list_strategies() -> list[Strategy]:
    """All registered strategies, by family then name."""
    order = {f: i for i, f in enumerate(FAMILIES)}
    return sorted(REGISTRY.values(), key=lambda s: (order[s.family], s.name))


__all__ = ["REGISTRY", "FAMILIES", "INPUTS", "Nested", "Picks", "Problem", "Strategy", "register",
           "get_strategy", "list_strategies"]
