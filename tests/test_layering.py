"""The project's layering, checked on the source (ast) and in a fresh interpreter.

- No import cycles among the modules of renderer/, app/ and main.py. Counted: module-level
  imports (those that run when the module is imported); an import inside a function runs later
  and is the documented way to load a heavy module lazily, so it cannot form an import-time cycle.
- renderer/ never imports Qt (PySide6, pyqtgraph) or app/, at any level.
- Representation packages (every subpackage of renderer/ but analysis/ and optimize/) never
  import renderer.analysis or renderer.optimize.
- app/ modules outside app/workers/ never import torch themselves: widgets show numpy.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("renderer", "app")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    files = [ROOT / "main.py"] + [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    return {module_name(p): p for p in files}


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING" or \
        isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING"


def imports(path: Path, module_level_only: bool) -> list[tuple[str, int]]:
    """(absolute module name, line) of every import in ``path``; relative imports resolved.
    ``from X import name`` lists X.name where that is a project module (a submodule: importing it
    does not run more of X than is already running), else X."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = module_name(path)
    known = project_modules()
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found: list[tuple[str, int]] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.extend((a.name, node.lineno) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
                found.extend((t, node.lineno) for t in subs)
                if len(subs) < len(node.names):
                    found.append((target, node.lineno))
            elif isinstance(node, ast.If) and _is_type_checking(node):
                continue
            elif module_level_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            elif module_level_only and isinstance(node, ast.ClassDef):
                visit([n for n in node.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))])
                continue
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    visit([n for n in getattr(node, field, []) if isinstance(n, ast.AST)])

    visit(tree.body)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {target for target, _ in imports(path, module_level_only=True) if target in modules
                       and target != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as a list of modules (first == last), or [] when there is none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = dfs(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            cycle = dfs(node)
            if cycle:
                return cycle
    return []


def violations(pattern_from, forbidden) -> list[str]:
    out = []
    for name, path in project_modules().items():
        if not pattern_from(name):
            continue
        for target, line in imports(path, module_level_only=False):
            if forbidden(target):
                out.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    return out


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_renderer_never_imports_qt_or_app():
    bad = violations(lambda n: _within(n, "renderer"),
                     lambda t: t.split(".")[0] in ("PySide6", "PySide2", "PyQt5", "PyQt6", "pyqtgraph", "app"))
    assert not bad, "\n".join(bad)


# The modules through which a representation package plugs into the layers above it (its
# parameter groups, inspector and painter hooks, optimization task); everything else in the
# package (shapes, loaders, renderers, GL references) stays below them.
INTEGRATION_MODULES = {"registration", "params", "hooks", "task", "tasks", "fit"}


def test_representation_packages_do_not_import_analysis_or_optimize():
    subpackages = {p.parent.name for p in (ROOT / "renderer").glob("*/__init__.py")} - {"analysis", "optimize"}
    assert {"soft", "gl", "splat", "voxel", "sdf", "exact", "nmr", "aa"} <= subpackages
    bad = violations(lambda n: any(_within(n, f"renderer.{s}") for s in subpackages)
                     and n.split(".")[-1] not in INTEGRATION_MODULES,
                     lambda t: _within(t, "renderer.analysis") or _within(t, "renderer.optimize"))
    assert not bad, "\n".join(bad)


def test_app_widgets_do_not_import_torch():
    bad = violations(lambda n: _within(n, "app") and not _within(n, "app.workers"),
                     lambda t: t.split(".")[0] == "torch")
    assert not bad, "\n".join(bad)


def test_the_whole_library_loads_without_qt():
    code = ("import sys, renderer, renderer.analysis, renderer.optimize, renderer.gl, renderer.bench, "
            "renderer.analysis.commands, renderer.optimize.commands; renderer.renderer_names(); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'app')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
