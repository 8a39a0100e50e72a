"""Dependency direction (docs/architecture.md): cli -> engine -> checks -> models; reports -> models.

Checks import only the models and their own package; only collectors and the emulator import the network
clients; only reports import jinja2 or pandas.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NETWORK = {"requests", "msal", "pypsrp", "psrpcore", "urllib3"}
RENDERING = {"jinja2", "pandas"}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", files("checks"), ids=lambda p: p.name)
def test_checks_import_only_models_and_checks(path):
    for name in imports(path):
        top = name.split(".")[0]
        assert top not in NETWORK | RENDERING, f"{path.name} imports {name}"
        if name.startswith("auditor."):
            assert name.startswith(("auditor.models", "auditor.checks", "auditor.errors")), f"{path.name}: {name}"


@pytest.mark.parametrize("path", files("auditor/models"), ids=lambda p: p.name)
def test_models_depend_on_nothing_above_them(path):
    for name in imports(path):
        assert name.split(".")[0] not in NETWORK | RENDERING, f"{path.name} imports {name}"
        if name.startswith("auditor."):
            assert name.startswith(("auditor.models", "auditor.errors")), f"{path.name}: {name}"


@pytest.mark.parametrize("path", files("reports"), ids=lambda p: p.name)
def test_reports_take_data_not_the_engine_or_clients(path):
    for name in imports(path):
        assert name.split(".")[0] not in NETWORK, f"{path.name} imports {name}"
        assert not name.startswith(("auditor.engine", "auditor.collect", "auditor.checks")), f"{path.name}: {name}"


@pytest.mark.parametrize("folder", ["auditor/models", "auditor/engine", "checks"])
def test_pure_layers_never_touch_the_network_or_the_clock(folder):
    for path in files(folder):
        text = path.read_text(encoding="utf-8")
        assert "datetime.now(" not in text and "time.time(" not in text, path


# -- the module graph, function-level imports included ---------------------------------------------------------

SOURCES = {"auditor": ROOT / "auditor", "auditor.checks": ROOT / "checks", "auditor.reports": ROOT / "reports"}


def module_files() -> dict[str, Path]:
    """Every project module by its installed name (checks/ and reports/ install as auditor.checks, .reports)."""
    found: dict[str, Path] = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            found[".".join((package, *parts))] = path
    return found


MODULES = module_files()


def targets(module: str, path: Path) -> set[str]:
    """The project modules `module` imports anywhere in its body (inside functions too), resolved: `from a import
    b` is an edge to a.b when that is a module, else to a. Imports under `if TYPE_CHECKING:` never run: not edges."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(node.test) for inner in ast.walk(node)}
    edges: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            edges |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                edges.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {name for name in edges if name in MODULES and name != module}


GRAPH = {module: targets(module, path) for module, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_between_modules_function_level_imports_included():
    assert cycles(GRAPH) == []


def test_only_the_cli_imports_the_commands():
    importers = {m for m, edges in GRAPH.items() if any(e.startswith("auditor.commands") for e in edges)}
    outside = {m for m in importers if not m.startswith("auditor.commands")}
    assert outside == {"auditor.cli"}


def test_the_emulator_and_the_collectors_never_import_each_other():
    for module, edges in GRAPH.items():
        if module.startswith("auditor.emulator"):
            assert not [e for e in edges if e.startswith("auditor.collect")], module
        if module.startswith("auditor.collect"):
            assert not [e for e in edges if e.startswith("auditor.emulator")], module
