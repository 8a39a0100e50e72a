"""Read-only by construction (docs/architecture.md): the collectors can only reach allowlisted cmdlets and only
GET on Graph (plus POST /$batch whose items are GETs).

Static: the source is read with `ast`, so a new write path fails here before it ever runs. Runtime: the
emulator's request counters after a demo show nothing else went over the wire.
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import auditor.demo
from auditor.collect.allowlist import ALLOWED_CMDLETS, NotAllowedError, ensure_allowed, ensure_parameter_name
from auditor.collect.shell import Command

from .conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]
COLLECT = ROOT / "auditor" / "collect"
ALLOWED = {name.lower() for name in ALLOWED_CMDLETS}
# Every place the collectors may put bytes on the wire with a write-capable HTTP verb, and why it is safe.
# A new one fails test_no_other_write_capable_http_call until it is reviewed and listed here.
HTTP_CALLS = {
    ("http.py", "request"): "VerifyingSession.request: the per-request verify default, for every call",
    ("http.py", "session.request"): "GraphClient._send: the method comes from its callers (checked below)",
    ("rest.py", "session.post"): "Exchange InvokeCommand: one allowlisted cmdlet per request (checked below)",
}
# Receivers that can put bytes on the wire (a requests Session or module, urllib3 pools, http.client
# connections, msal's http_client); `.put` on a queue is not one of them.
HTTP_RECEIVERS = {"session", "_session", "requests", "http", "http_client", "client", "pool", "pool_manager",
                  "conn", "connection", "urllib3", "adapter", "transport"}


def modules(folder: Path) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(folder.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def dotted(node: ast.AST) -> str:
    """`self.session.request` -> "self.session.request" (calls and subscripts left out)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return "?"


def enclosing_functions(tree: ast.Module) -> dict[ast.AST, ast.FunctionDef]:
    owner: dict[ast.AST, ast.FunctionDef] = {}
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(fn):
                owner[node] = fn  # innermost wins: walk visits outer functions first
    return owner


def literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def argument(call: ast.Call, index: int, name: str) -> ast.AST | None:
    if len(call.args) > index:
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == name), None)


def cmdlet_names(path: Path, tree: ast.Module) -> Iterator[tuple[int, str | None]]:
    """Each `Command(name, ...)` in a module: the literal name, following a name that is a parameter of the
    enclosing function to the literal every caller of that function passes. None when it cannot be resolved."""
    owner = enclosing_functions(tree)
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call) and dotted(n.func).endswith("Command")
                 and dotted(n.func).split(".")[-1] == "Command"):
        name = argument(call, 0, "name")
        if literal(name) is not None:
            yield call.lineno, literal(name)
            continue
        fn = owner.get(call)
        params = [a.arg for a in fn.args.args] if fn else []
        if not isinstance(name, ast.Name) or name.id not in params:
            yield call.lineno, None
            continue
        index = params.index(name.id) - (1 if params and params[0] in ("self", "cls") else 0)
        callers = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and dotted(c.func).split(".")[-1] == fn.name]
        if not callers:
            yield call.lineno, None
        for caller in callers:
            yield caller.lineno, literal(argument(caller, index, name.id))


def test_every_cmdlet_the_collectors_name_is_allowlisted() -> None:
    sites = [(path.name, line, name) for path, tree in modules(COLLECT) for line, name in cmdlet_names(path, tree)]
    assert len(sites) >= 10, sites  # the collectors build many commands: the walk found them
    unresolved = [(file, line) for file, line, name in sites if name is None]
    outside = [(file, line, name) for file, line, name in sites if name is not None and name.lower() not in ALLOWED]
    assert unresolved == [] and outside == []


def test_the_scan_catches_a_write_cmdlet_and_a_name_it_cannot_follow() -> None:
    source = """
def lookup(self, cmdlet, identity):
    return Command(cmdlet, {"Identity": identity})

def read(self, name):
    self.lookup("Get-Mailbox", "a")
    self.lookup("Set-Mailbox", "b")
    self.lookup(name, "c")
    return shell.Command("Remove-Mailbox"), Command(computed())
"""
    names = [name for _, name in cmdlet_names(Path("x.py"), ast.parse(source))]
    assert sorted(names, key=str) == sorted(["Get-Mailbox", "Set-Mailbox", None, "Remove-Mailbox", None], key=str)


def test_the_allowlist_holds_only_reads_and_refuses_everything_else() -> None:
    for name in ALLOWED_CMDLETS:
        assert name.startswith(("Get-", "Test-")) or name == "Connect-ExchangeOnline", name
    for bad in ("Set-Mailbox", "Remove-Mailbox", "New-ApplicationAccessPolicy", "Add-DistributionGroupMember",
                "Invoke-Expression", "Get-Mailbox; Remove-Mailbox x", "Get-Mailbox | Remove-Mailbox", "&", "",
                "Get-Mailbox\nRemove-Mailbox", "Get-Mailbox -Identity x"):
        with pytest.raises(NotAllowedError):
            ensure_allowed(bad)
        with pytest.raises(NotAllowedError):
            Command(bad)
    for bad in ("Identity; Remove-Mailbox", "Identity $(x)", "-Identity", "", "Identity`"):
        with pytest.raises(NotAllowedError):
            ensure_parameter_name(bad)
    assert Command("get-mailbox", {"Identity": "'; Remove-Mailbox x; '"}).name == "Get-Mailbox"  # values are data


def test_no_script_is_ever_sent() -> None:
    """pypsrp's add_script runs text as PowerShell: nothing in the product calls it, or an equivalent."""
    calls = [(path.name, node.lineno) for path, tree in modules(ROOT / "auditor") for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and node.attr.lower() in ("add_script", "addscript")]
    assert calls == []


def test_psrp_and_rest_check_the_allowlist_right_before_sending() -> None:
    psrp = ast.parse((COLLECT / "psrp.py").read_text(encoding="utf-8"))
    adds = [n for n in ast.walk(psrp) if isinstance(n, ast.Call) and dotted(n.func).endswith(".add_cmdlet")]
    assert adds, "psrp.py sends cmdlets with add_cmdlet"
    for call in adds:
        assert isinstance(call.args[0], ast.Call) and dotted(call.args[0].func) == "ensure_allowed", call.lineno
    runs = [n for n in ast.walk(psrp) if isinstance(n, ast.FunctionDef) and n.name == "run"]
    assert runs and all(any(isinstance(c, ast.Call) and dotted(c.func) == "ensure_allowed" for c in ast.walk(fn))
                        for fn in runs)
    rest_file = COLLECT / "rest.py"
    if not rest_file.exists():  # the REST transport is optional
        return
    rest = ast.parse(rest_file.read_text(encoding="utf-8"))
    owner = enclosing_functions(rest)
    bodies = [n for n in ast.walk(rest) if isinstance(n, ast.Dict)
              and any(literal(k) == "CmdletName" for k in n.keys)]
    assert bodies, "rest.py posts CmdletInput bodies"
    for body in bodies:
        value = body.values[[literal(k) for k in body.keys].index("CmdletName")]
        fn = owner[body]
        checked = {t.id for n in ast.walk(fn) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
                   and dotted(n.value.func) == "ensure_allowed" for t in n.targets if isinstance(t, ast.Name)}
        assert isinstance(value, ast.Name) and value.id in checked, body.lineno


def test_graph_is_read_with_get_and_batches_of_gets_only() -> None:
    http = ast.parse((COLLECT / "http.py").read_text(encoding="utf-8"))
    sends = [n for n in ast.walk(http) if isinstance(n, ast.Call) and dotted(n.func) == "self._send"]
    assert len(sends) >= 2
    for call in sends:
        method, url = literal(argument(call, 0, "method")), argument(call, 1, "url")
        assert method in ("GET", "POST"), call.lineno
        if method == "POST":  # only the $batch endpoint
            assert isinstance(url, ast.BinOp) and literal(url.right) == "/$batch", call.lineno
    for source in ("http.py", "graph.py"):
        tree = ast.parse((COLLECT / source).read_text(encoding="utf-8"))
        methods = [d.values[[literal(k) for k in d.keys].index("method")] for d in ast.walk(tree)
                   if isinstance(d, ast.Dict) and "method" in [literal(k) for k in d.keys]]
        assert all(literal(v) == "GET" for v in methods), (source, [ast.dump(v) for v in methods])
    graph = (COLLECT / "graph.py").read_text(encoding="utf-8")
    assert "import requests" not in graph and "session" not in graph  # it only sees the GET-only GraphClient
    client_calls = {dotted(n.func).split(".")[-1] for n in ast.walk(ast.parse(graph))
                    if isinstance(n, ast.Call) and dotted(n.func).startswith("self.client.")}
    assert client_calls <= {"get", "get_all", "pages", "batch"}, client_calls


def test_no_other_write_capable_http_call() -> None:
    found = {}
    for path, tree in modules(COLLECT):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                    "request", "post", "put", "patch", "delete", "send", "urlopen"):
                receiver = node.func.value
                is_super = isinstance(receiver, ast.Call) and dotted(receiver.func) == "super"
                if not is_super and dotted(receiver).split(".")[-1].lower() not in HTTP_RECEIVERS:
                    continue
                key = (path.name, "request" if is_super else ".".join(dotted(node.func).split(".")[-2:]))
                found[key] = found.get(key, 0) + 1
    assert ("http.py", "session.request") in found  # the scan sees the one Graph call site
    assert set(found) <= set(HTTP_CALLS), sorted(set(found) - set(HTTP_CALLS))


@pytest.fixture
def recorded_servers(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    servers: list[Any] = []
    real = auditor.demo.running_emulator

    @contextlib.contextmanager
    def recording(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with real(*args, **kwargs) as server:
            servers.append(server)
            yield server

    monkeypatch.setattr(auditor.demo, "running_emulator", recording)
    return servers


@pytest.mark.parametrize("transport", ["psrp", "rest"])
def test_a_demo_sends_only_reads_over_the_wire(tmp_path: Path, recorded_servers: list[Any], transport: str) -> None:
    code, _, err = run_cli("demo", "--out", str(tmp_path), "--quiet", "--format", "json",
                           "--exchange-transport", transport)
    if code == 2 and "--exchange-transport" in err:
        pytest.skip("this build has no --exchange-transport option")
    assert code == 1, err
    routes = recorded_servers[0].counters.snapshot()
    graph = [r for r in routes if "/v1.0" in r]
    assert graph and all(r.startswith(("GET /v1.0", "batch:GET /v1.0")) or r == "POST /v1.0/$batch"
                         for r in graph), graph
    cmdlets = [r.split(":", 1)[1] for r in routes if r.startswith(("psrp:", "rest:"))]
    assert len(cmdlets) >= 8 and all(c.lower() in ALLOWED for c in cmdlets), cmdlets
    other = [r for r in routes if r not in graph and not r.startswith(("psrp:", "rest:", "wsman:"))]
    assert set(other) <= {"GET /{tenant}/v2.0/.well-known/openid-configuration", "POST /{tenant}/oauth2/v2.0/token",
                          "POST /wsman", "POST /adminapi/{path}"}, other
