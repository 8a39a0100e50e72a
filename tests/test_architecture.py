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
