"""Print the strategies table of README.md from the registry (a test keeps them in sync).

    python scripts/strategies_table.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.strategies import INPUTS, list_strategies  # noqa: E402


def table() -> str:
    lines = ["| strategy | family | what it does | needs | parameters (default) |",
             "|---|---|---|---|---|"]
    for s in list_strategies():
        needs = ", ".join(INPUTS[n].split(" (")[0] for n in s.needs) or "embeddings"
        params = ", ".join(f"`{p.name}`={p.default}" for p in s.params.params) or "—"
        greedy = " (greedy: prefixes)" if s.greedy else ""
        lines.append(f"| `{s.name}`{greedy} | {s.family} | {s.summary} | {needs} | {params} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
