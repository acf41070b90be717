"""Layering as a test: imports point downward only (see DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "explorer"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    pkg_parts = path.relative_to(ROOT).with_suffix("").parts
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(pkg_parts[: len(pkg_parts) - node.level])
                if path.name == "__init__.py":
                    base = list(pkg_parts[: len(pkg_parts) - node.level + 1])
                mod = ".".join(base + ([node.module] if node.module else []))
                found.add(mod)
                for a in node.names:
                    found.add(f"{mod}.{a.name}")
            else:
                found.add(node.module or "")
    return found


def files_under(sub: str):
    return sorted((PKG / sub).rglob("*.py")) if sub else sorted(PKG.rglob("*.py"))


def test_library_never_imports_streamlit_or_plotly():
    for f in files_under(""):
        if "ui" in f.relative_to(PKG).parts:
            continue
        # the figures the command line's --plot shares with the app are plotly
        plots = f.relative_to(PKG).as_posix() in ("cli.py", "figures.py")
        banned = ("streamlit",) if plots else ("streamlit", "plotly")
        bad = {m for m in imported_modules(f) if m.split(".")[0] in banned}
        # nothing outside the app imports the app (the figures it shares live below both)
        bad |= {m for m in imported_modules(f) if m.startswith("explorer.ui")}
        assert not bad, f"{f.relative_to(ROOT)} imports {bad}"


def test_data_and_space_do_not_import_strategies_or_evaluate():
    lower = files_under("data") + [PKG / "space.py", PKG / "clustering.py", PKG / "params.py",
                                   PKG / "errors.py"]
    for f in lower:
        for m in imported_modules(f):
            if f.name == "export.py" and m.startswith("explorer.selection"):
                continue  # replay re-runs a selection: the one upward call, by design
            assert not m.startswith(("explorer.strategies", "explorer.evaluate", "explorer.ui",
                                     "explorer.cli")), f"{f.relative_to(ROOT)} imports {m}"


def test_strategies_do_not_import_evaluate_ui_or_cli():
    for f in files_under("strategies"):
        for m in imported_modules(f):
            assert not m.startswith(("explorer.evaluate", "explorer.ui", "explorer.cli")), (
                f"{f.relative_to(ROOT)} imports {m}")


def test_pages_hold_no_algorithms():
    """Pages call the library; they do not compute distances or fit models themselves."""
    forbidden = ("sklearn", "scipy", "numba", "umap", "pynndescent")
    for f in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        if not f.exists():
            continue
        bad = {m for m in imported_modules(f) if m.split(".")[0] in forbidden}
        assert not bad, f"{f.relative_to(ROOT)} imports {bad}"
        text = f.read_text(encoding="utf-8")
        for call in ("np.linalg", ".argsort(", "@ X", "cdist(", "pairwise_distances("):
            assert call not in text, f"{f.relative_to(ROOT)} computes {call!r}: move it to explorer/"


def test_readme_strategies_table_is_generated_from_the_registry():
    import subprocess
    import sys

    table = subprocess.run([sys.executable, str(ROOT / "scripts" / "strategies_table.py")],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert table in (ROOT / "README.md").read_text(encoding="utf-8"), (
        "README.md's strategies table is stale: paste the output of "
        "python scripts/strategies_table.py")


def test_every_function_the_app_calls_on_its_own_modules_exists():
    """``view.function`` in app.py, pages/ and explorer/ui/, where ``view`` is a module of
    this project imported by name (``from explorer.ui import results_view``): the function
    must exist in that module. Python finds a missing one only when the line runs, and some
    lines run only on a click in the browser."""
    import importlib
    import importlib.util

    files = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *files_under("ui")]
    missing = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
        modules = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or node.level):
                base = node.module or ""
                if node.level:
                    base = importlib.util.resolve_name("." * node.level + base, package)
                if not base.startswith("explorer"):
                    continue
                for a in node.names:
                    name = f"{base}.{a.name}"
                    if importlib.util.find_spec(name.split(".")[0]) and _is_module(name):
                        modules[a.asname or a.name] = name
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    node.value.id in modules and isinstance(node.ctx, ast.Load):
                module = importlib.import_module(modules[node.value.id])
                if not hasattr(module, node.attr):
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno} "
                                   f"{modules[node.value.id]}.{node.attr}")
    assert not missing, missing


def _is_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
