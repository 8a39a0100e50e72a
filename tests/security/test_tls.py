"""TLS stays verified: a CA the auditor was not told to trust, or a certificate for another host, fails the run
with a clear line and ERROR findings (exit 3); the environment's CA variables cannot redirect trust; and no
code path or setting turns verification off."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

import auditor.emulator.server
from auditor.emulator.ca import generate_certificates
from auditor.models.baseline import AuthConfig

from .certs import certificates_for
from .conftest import CLIENT_SECRET, JUMP_PASSWORD, live_baseline, run_cli

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ("snapshot.json", "findings.json", "findings.csv", "report.html", "junit.xml")


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("AUDITOR_PSRP_PASSWORD", JUMP_PASSWORD)


def audit(tmp_path: Path, baseline: Path) -> tuple[int, str, list[dict]]:
    out = tmp_path / "out"
    code, _, err = run_cli("audit", "--baseline", str(baseline), "--out", str(out), "--quiet", "--no-history")
    for name in REPORTS:
        assert (out / name).stat().st_size > 0, name
    return code, err, json.loads((out / "findings.json").read_text(encoding="utf-8"))["findings"]


def serve_certificate_for(monkeypatch: pytest.MonkeyPatch, folder: Path, *names: str) -> None:
    monkeypatch.setattr(auditor.emulator.server, "generate_certificates", lambda: certificates_for(folder, names))


def assert_sign_in_failed(code: int, err: str, findings: list[dict], reason: str) -> None:
    assert code == 3, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "sign-in failed: TLS verification of https://127.0.0.1:" in lines[0] and reason in lines[0], lines[0]
    assert {f["status"] for f in findings} <= {"ERROR", "SKIP"}
    assert any("TLS verification" in f["message"] and reason in f["message"] for f in findings)


def test_a_ca_the_auditor_was_not_told_to_trust(tmp_path: Path) -> None:
    other = generate_certificates(tmp_path / "other").ca_path
    with live_baseline(tmp_path, edit=lambda text, server: text.replace(server.ca_path, str(other))) as (path, _):
        code, err, findings = audit(tmp_path, path)
    assert_sign_in_failed(code, err, findings, "unable to get local issuer certificate")


def test_the_system_store_does_not_trust_the_emulator(tmp_path: Path) -> None:
    # ca_bundle = "" means the operating system's CAs; the emulator's own CA is not among them.
    with live_baseline(tmp_path, edit=lambda text, server: text.replace(server.ca_path, "")) as (path, _):
        code, err, findings = audit(tmp_path, path)
    assert_sign_in_failed(code, err, findings, "unable to get local issuer certificate")


def test_a_certificate_for_another_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serve_certificate_for(monkeypatch, tmp_path / "certs", "login.example.net")
    with live_baseline(tmp_path) as (path, _):
        code, err, findings = audit(tmp_path, path)
    assert_sign_in_failed(code, err, findings, "IP address mismatch, certificate is not valid for '127.0.0.1'")


def test_a_jump_host_certificate_for_another_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The certificate names 127.0.0.1 only: Graph (at 127.0.0.1) verifies, the jump host reached as
    # "localhost" does not. Exchange sections fail naming TLS; Graph evidence is still collected.
    serve_certificate_for(monkeypatch, tmp_path / "certs", "127.0.0.1")

    def jump_host_by_name(text: str, server) -> str:
        return text.replace('server = "127.0.0.1"', 'server = "localhost"')

    with live_baseline(tmp_path, edit=jump_host_by_name) as (path, _):
        code, err, findings = audit(tmp_path, path)
    assert code == 3, err
    assert any("TLS verification of localhost:" in f["message"] for f in findings if f["status"] == "ERROR")
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "TLS verification of localhost:" in lines[0], err
    assert "Hostname mismatch" in lines[0] and "Traceback" not in err
    assert lines[0].endswith("(set [auth] ca_bundle if a proxy inspects TLS)")  # the same words as sign-in's
    snapshot = json.loads((tmp_path / "out" / "snapshot.json").read_text(encoding="utf-8"))
    assert {s["status"] for n, s in snapshot["sections"].items() if n.startswith("graph.")} == {"ok"}
    assert {s["status"] for n, s in snapshot["sections"].items() if n.startswith("exchange.")} == {"error"}


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
@pytest.mark.parametrize("bundle", ["missing", "garbage", "other-ca"])
def test_ca_variables_in_the_environment_do_not_change_whom_the_demo_trusts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, bundle: str) -> None:
    path = {"missing": tmp_path / "nowhere.pem", "garbage": tmp_path / "garbage.pem",
            "other-ca": generate_certificates(tmp_path / "other").ca_path}[bundle]
    if bundle == "garbage":
        path.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    monkeypatch.setenv(variable, str(path))
    code, _, err = run_cli("demo", "--out", str(tmp_path / "out"), "--quiet", "--format", "json")
    assert code == 1 and err == "", err  # the clean demo verdict: nothing failed to verify
    findings = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))["findings"]
    assert all(f["status"] != "ERROR" for f in findings)


def test_a_ca_bundle_that_does_not_exist_is_a_configuration_error(tmp_path: Path) -> None:
    # Not a way to switch verification off either: "false" is a file name like any other.
    for value in ("/nonexistent/ca.pem", "false"):
        with live_baseline(tmp_path, edit=lambda text, server, v=value: text.replace(server.ca_path, v)) as (path, _):
            code, _, err = run_cli("audit", "--baseline", str(path), "--out", str(tmp_path / "out"), "--no-history")
        assert code == 2 and err.strip().splitlines() == [
            f"auditor: error: [auth] ca_bundle: {value}: no such file (a PEM file of the CAs to trust)"], err
        assert not (tmp_path / "out").exists()


UNVERIFIED = ("verify=False", "cert_validation=False", "CERT_NONE", "check_hostname=False",
              "_create_unverified_context", "disable_warnings", "PYTHONHTTPSVERIFY")


def test_no_code_path_turns_verification_off() -> None:
    """No client is ever built with verification off by a constant: only the explicit --insecure-skip-tls-verify
    flag turns it off (through CollectionSettings.verify_tls), no baseline key offers it, and no other option."""
    for path in sorted((ROOT / "auditor" / "collect").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "InsecureRequestWarning" in text:  # silenced only where the flag turned verification off
            assert path.name == "run.py" and "if not settings.verify_tls:" in text, path.name
        for needle in UNVERIFIED:
            assert needle not in text.replace(" ", ""), (path.name, needle)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.keyword) and node.arg in ("verify", "cert_validation"):
                assert not (isinstance(node.value, ast.Constant) and node.value.value in (False, None, 0)), \
                    (path.name, node.lineno)
    assert not [f for f in AuthConfig.__dataclass_fields__ if "verif" in f or "insecure" in f]
    for command in ("audit", "collect", "demo"):
        code, out, _ = run_cli(command, "--help")
        flags = set(re.findall(r"--[a-z-]*(?:insecure|verif)[a-z-]*", out))
        # rich may cut a long option name in a narrow help table ("--insecure-skip-tls-v…")
        assert code == 0 and all(INSECURE_FLAG.startswith(flag) for flag in flags), (command, flags)


INSECURE_FLAG = "--insecure-skip-tls-verify"


def test_skipping_verification_needs_the_explicit_flag_and_warns(tmp_path: Path) -> None:
    """The one way to talk to a host whose certificate cannot be verified: the explicit flag, announced on
    stderr and in every report (SECURITY.md). Skipped while the flag does not exist."""
    code, out, _ = run_cli("audit", "--help")
    if "--insecure-skip-tls" not in out:  # rich may cut the name in a narrow help table
        pytest.skip(f"{INSECURE_FLAG} is not offered: verification cannot be turned off at all")
    other = generate_certificates(tmp_path / "other").ca_path
    with live_baseline(tmp_path, edit=lambda text, server: text.replace(server.ca_path, str(other))) as (path, _):
        code, _, err = run_cli("audit", "--baseline", str(path), "--out", str(tmp_path / "out"), "--quiet",
                               "--no-history", INSECURE_FLAG)
    assert code == 1, err  # the demo verdicts: the connection worked without verification
    assert "auditor: warning: TLS verification is disabled (--insecure-skip-tls-verify)" in err
    doc = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    assert doc["run"]["collection"]["tls_verify"] is False
    assert "TLS verification was disabled" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
