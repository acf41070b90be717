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


def _third_party(module_names) -> set[str]:
    """The top-level names of ``module_names`` that are neither the standard library's nor
    this project's."""
    import sys

    tops = {n.split(".")[0] for n in module_names if n}
    return {t for t in tops if t not in sys.stdlib_module_names
            and t not in ("explorer", "__future__")}


def _imports(path: Path, module_level_only: bool) -> set[str]:
    """Absolute imports of ``path``: all of them, or only those run when it is imported
    (not inside a function, where an optional package is imported when it is used)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = []
    if module_level_only:
        todo = list(tree.body)
        while todo:  # module level, including under if / try at module level
            node = todo.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            nodes.append(node)
            todo.extend(ast.iter_child_nodes(node))
    else:
        nodes = list(ast.walk(tree))
    names = []
    for node in nodes:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.append(node.module)
    return _third_party(names)


def test_every_package_the_library_imports_is_declared():
    """What explorer/ imports itself is in pyproject.toml: a package imported when a module is
    imported is a dependency (numba, scipy, threadpoolctl included, though umap-learn and
    scikit-learn bring them today); one imported only where it is used may be in an extra."""
    import re
    import tomllib
    from importlib.metadata import packages_distributions

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def names(requirements):
        return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower().replace("_", "-")
                for r in requirements}

    base = names(project["dependencies"])
    extras = set().union(*(names(reqs) for extra, reqs in
                           project["optional-dependencies"].items()
                           if extra not in ("test", "bench")))
    dist_of = packages_distributions()

    def dists(module):
        return {d.lower().replace("_", "-") for d in dist_of.get(module, [module])}

    for f in files_under(""):
        where = f.relative_to(ROOT)
        for module in _imports(f, module_level_only=True):
            assert dists(module) & base, (
                f"{where} imports {module} when it is imported: declare it in "
                "pyproject.toml's dependencies")
        for module in _imports(f, module_level_only=False):
            assert dists(module) & (base | extras), (
                f"{where} imports {module}: declare it in pyproject.toml")
    assert {"numba", "scipy", "threadpoolctl"} <= base


def test_the_command_line_loads_no_app_module():
    """Running a command, and loading the figures of its --plot, imports neither explorer.ui
    nor streamlit (the figures the command line shares with the app live in
    explorer/figures.py, below both)."""
    import os
    import subprocess
    import sys

    code = ("import sys, contextlib, io\n"
            "from explorer.cli import main\n"
            "import explorer.figures\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    main(['strategies'])\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'streamlit'\n"
            "             or m.startswith('explorer.ui')))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
