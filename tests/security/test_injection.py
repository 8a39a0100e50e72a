"""Hostile tenant strings are shown as text everywhere: in findings.json (unchanged), findings.csv (formula-neutral),
report.html (escaped), junit.xml (well-formed), Exchange (sent as parameter values, never script) and the
terminal (no escape sequence reaches it).

Every value goes into fields an attacker with rights over a directory object controls: display names of apps,
service principals, credentials, users, mailboxes and groups, a mailbox's name and address, group managers and
access-policy descriptions.
"""

from __future__ import annotations

import contextlib
import copy
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditor.demo
from auditor.collect.allowlist import ALLOWED_CMDLETS

from .conftest import DEMO, FIGURES, run_cli

FORMULA = ("=", "+", "-", "@", "\t", "\r")
CONTROL = ("\x1b", "\x07", "\x00", "\x9b", "\u202e", "\r")
HOSTILE = {
    "html": "<img src=x onerror=alert(1)>",
    "script": "</script><script>alert(2)</script>",
    "csv-cmd": "=cmd|' /C calc'!A0",
    "csv-plus": "+1+1 plus",
    "csv-minus": "-1-1 minus",
    "csv-at": "@SUM(1) at",
    "csv-tab": "\t=1 tab",
    "ps-quote": "'; Remove-Mailbox x; '",
    "ps-subexpression": "$(Get-Date) $env:USERNAME",
    "ps-backtick": "`whoami` `n",
    "ansi-colour": "\x1b[31mred\x1b[0m",
    "ansi-title": "\x1b]0;pwned\x07title",
    "csi-8bit": "\x9b31mC1",
    "bidi": "\u202egnp.exe",
    "nul": "nul\x00byte",
    "zalgo-emoji": "Z\u0337\u0335\u0321algo \U0001f600 \u200d\ufeff",
    "long": "L" * 100_000,
}
EVIL_MAILBOX = "o'brien+$(whoami)@contoso.com"


def hostile_tenant() -> dict[str, Any]:
    """The demo tenant with every hostile value in at least one service principal's or app's display name (the
    sweep's findings name them), and the rest spread over the other tenant-controlled fields."""
    doc = copy.deepcopy(DEMO)
    values = list(HOSTILE.values())
    graph, exchange = doc["graph"], doc["exchange"]
    for n, sp in enumerate(graph["servicePrincipals"]):
        sp["displayName"] = values[n % len(values)]
    for n, app in enumerate(graph["applications"][1:]):  # [0] is the auditor's own app
        app["displayName"] = values[(n + len(graph["servicePrincipals"])) % len(values)]
        for m, credential in enumerate(app.get("passwordCredentials", []) + app.get("keyCredentials", [])):
            credential["displayName"] = values[(n + m + 8) % len(values)]
    for n, user in enumerate(graph["users"]):
        user["displayName"] = values[(n + 5) % len(values)]
    for n, mailbox in enumerate(exchange["mailboxes"]):
        mailbox["DisplayName"] = values[(n + 7) % len(values)]
    for n, policy in enumerate(exchange["applicationAccessPolicies"]):
        policy["Description"] = values[(n + 9) % len(values)]
    for group in exchange["distributionGroups"]:
        group["DisplayName"] = values[11]
        if group["Name"] == "tickets_group":
            # Exchange receives these as -Identity values (Get-Recipient); the names and address of an extra
            # member travel back in GRP-003's finding. Control characters stay out of Exchange identities: see
            # test_control_characters_in_an_exchange_identity.
            group["ManagedBy"] += [HOSTILE[k] for k in ("ps-quote", "ps-subexpression", "ps-backtick", "html")]
            group["Members"].append(EVIL_MAILBOX)
    exchange["mailboxes"].append({"Name": HOSTILE["ps-quote"], "DisplayName": HOSTILE["html"],
                                  "PrimarySmtpAddress": EVIL_MAILBOX, "RecipientTypeDetails": "UserMailbox",
                                  "ExternalDirectoryObjectId": "0e0e0e0e-0000-4000-8000-00000000e0e0"})
    return doc


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("hostile")
    tenant = folder / "tenant.json"
    tenant.write_text(json.dumps(hostile_tenant()), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        routes: list[dict[str, int]] = []
        real = auditor.demo.running_emulator

        @contextlib.contextmanager
        def recording(*args: Any, **kwargs: Any) -> Iterator[Any]:
            with real(*args, **kwargs) as server:
                yield server
                routes.append(server.counters.snapshot())

        patch.setattr(auditor.demo, "running_emulator", recording)
        code, out, err = run_cli("demo", "--tenant", str(tenant), "--out", str(folder / "out"), "-vv")
    FIGURES["injection_values"] = len(HOSTILE)
    return {"code": code, "out": out, "err": err, "folder": folder / "out", "routes": routes[0]}


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_the_run_completes_with_the_usual_verdicts(hostile_run: dict[str, Any]) -> None:
    assert hostile_run["code"] == 1, hostile_run["err"]
    findings = json.loads((hostile_run["folder"] / "findings.json").read_text(encoding="utf-8"))["findings"]
    assert [f for f in findings if f["status"] == "ERROR"] == []


@pytest.mark.parametrize("name", ["findings.json", "snapshot.json"])
def test_json_files_round_trip_every_value(hostile_run: dict[str, Any], name: str) -> None:
    doc = json.loads((hostile_run["folder"] / name).read_text(encoding="utf-8"))
    texts = list(strings(doc))
    missing = [key for key, value in HOSTILE.items() if not any(value in text for text in texts)]
    assert missing == []
    FIGURES["injection_outputs"] += 1


def test_csv_cells_are_formula_neutral_and_keep_the_text(hostile_run: dict[str, Any]) -> None:
    frame = pd.read_csv(hostile_run["folder"] / "findings.csv", dtype=str, keep_default_na=False)
    cells = [str(v) for v in frame.to_numpy().ravel()]
    assert cells and not [c[:40] for c in cells if c.startswith(FORMULA)]
    for key in ("csv-cmd", "csv-plus", "csv-minus", "csv-at", "csv-tab"):
        assert any(c.startswith("'" + HOSTILE[key]) for c in cells), key  # neutralised, not dropped
    everything = "\n".join(cells)
    assert [k for k, v in HOSTILE.items() if v not in everything] == []
    FIGURES["injection_outputs"] += 1


def test_html_escapes_every_value(hostile_run: dict[str, Any]) -> None:
    page = (hostile_run["folder"] / "report.html").read_text(encoding="utf-8")
    assert "<img src=x" not in page and "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
    assert "<script>alert(2)" not in page and "</script><script>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "L" * 1_000 in page  # the long value is shown, as text (the report may shorten it)
    FIGURES["injection_outputs"] += 1


def test_junit_is_well_formed_and_carries_the_text(hostile_run: dict[str, Any]) -> None:
    root = ET.parse(hostile_run["folder"] / "junit.xml").getroot()
    texts = [t for element in root.iter() for t in (element.text or "", *element.attrib.values())]
    assert any(HOSTILE["html"] in t for t in texts) and any(HOSTILE["script"] in t for t in texts)
    assert any("red" in t and "\x1b" not in t for t in texts)  # control characters replaced, text kept
    FIGURES["injection_outputs"] += 1


def test_powershell_metacharacters_travel_as_data(hostile_run: dict[str, Any]) -> None:
    routes = hostile_run["routes"]
    cmdlets = {r.split(":", 1)[1] for r in routes if r.startswith(("psrp:", "rest:"))}
    assert cmdlets and cmdlets <= set(ALLOWED_CMDLETS)  # no Remove-Mailbox, no Get-Date ran
    findings = json.loads((hostile_run["folder"] / "findings.json").read_text(encoding="utf-8"))["findings"]
    member = [f for f in findings if f["check_id"] == "GRP-003" and f["resource"] == EVIL_MAILBOX]
    assert member and member[0]["status"] == "FAIL"  # found by its literal address, quote and all
    managers = [f for f in findings if f["check_id"] == "GRP-004" and f["status"] == "FAIL"]
    assert any(HOSTILE["ps-quote"] in f["message"] for f in managers)
    FIGURES["injection_outputs"] += 1


def test_the_terminal_gets_no_control_characters(hostile_run: dict[str, Any]) -> None:
    printed = hostile_run["out"] + hostile_run["err"]
    assert "auditor INFO" in printed  # -vv: log lines were printed too
    assert [c for c in CONTROL if c in printed] == []
    FIGURES["injection_outputs"] += 1


@pytest.mark.parametrize("value", [HOSTILE["ansi-title"] + "\x1b[2J", "\u202e" + "exe.txt", "a\rOVERWRITTEN"])
def test_a_tenant_file_error_quoting_a_hostile_id_prints_it_escaped(tmp_path: Path, value: str) -> None:
    doc = copy.deepcopy(DEMO)
    doc["graph"]["appRoleAssignments"][0]["principalId"] = value
    tenant = tmp_path / "tenant.json"
    tenant.write_text(json.dumps(doc), encoding="utf-8")
    code, out, err = run_cli("demo", "--tenant", str(tenant), "--out", str(tmp_path / "out"))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "principalId" in lines[0], err
    assert [c for c in CONTROL if c in err] == []
    assert "\\x1b" in lines[0] or "\\u202e" in lines[0] or "a OVERWRITTEN" in lines[0]  # \r: one line, no return


def test_diff_of_hostile_findings_prints_them_escaped(tmp_path: Path, hostile_run: dict[str, Any]) -> None:
    new = json.loads((hostile_run["folder"] / "findings.json").read_text(encoding="utf-8"))
    old = copy.deepcopy(new)
    old["findings"] = [f for f in old["findings"] if f["status"] != "FAIL"]
    for finding in new["findings"]:
        if finding["status"] == "FAIL":
            finding["resource"] = HOSTILE["ansi-title"] + finding["resource"]
            finding["message"] = HOSTILE["ansi-colour"] + HOSTILE["bidi"] + finding["message"]
    (tmp_path / "old.json").write_text(json.dumps(old), encoding="utf-8")
    (tmp_path / "new.json").write_text(json.dumps(new), encoding="utf-8")
    code, out, err = run_cli("diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"), "--out",
                             str(tmp_path / "diff.json"))
    assert code in (0, 1), err
    assert "\\x1b]0;pwned\\x07" in out + err  # shown, as text
    assert [c for c in CONTROL if c in out + err] == []
    FIGURES["injection_outputs"] += 1


def test_control_characters_in_an_exchange_identity(tmp_path: Path) -> None:
    doc = copy.deepcopy(DEMO)
    group = next(g for g in doc["exchange"]["distributionGroups"] if g["Name"] == "tickets_group")
    group["ManagedBy"].append(HOSTILE["ansi-colour"])
    tenant = tmp_path / "tenant.json"
    tenant.write_text(json.dumps(doc), encoding="utf-8")
    code, out, err = run_cli("demo", "--tenant", str(tenant), "--out", str(tmp_path / "out"), "--quiet")
    assert code == 1, err
    assert [c for c in CONTROL if c in out + err] == []


def test_remediation_script_holds_hostile_values_as_literals(hostile_run: dict[str, Any]) -> None:
    """remediation.ps1 quotes every tenant value: each line is a comment or an allowlisted command whose arguments
    are single-quoted literals, so `'; Remove-Mailbox`, `$(...)` and backticks stay text (tests/reports)."""
    from tests.reports.test_formats import check_grammar

    script = (hostile_run["folder"] / "remediation.ps1").read_text(encoding="utf-8")
    assert check_grammar(script) > 5
    assert "'o''brien+$(whoami)@contoso.com'" in script  # GRP-003's extra member, quoted and doubled
    assert not any(c in script for c in CONTROL)
    FIGURES["injection_outputs"] += 1


def test_markdown_summary_shows_hostile_values_as_text(hostile_run: dict[str, Any]) -> None:
    import re

    text = (hostile_run["folder"] / "summary.md").read_text(encoding="utf-8")
    assert not re.search(r"(?<!\\)[\[\]<>`*()]", text) and not any(c in text for c in CONTROL)
    FIGURES["injection_outputs"] += 1
