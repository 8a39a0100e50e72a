"""Baseline validation: every mistake is one line naming the file, the key and the problem."""

from datetime import date
from pathlib import Path

import pytest

from auditor.errors import ConfigError
from auditor.models.baseline import load_baseline, parse_baseline
from auditor.starter import STARTER_BASELINE

GOOD = """
[tenant]
id = "11111111-2222-3333-4444-555555555555"
[[integration]]
name = "Contact Center"
app_id = "E7E4DBFC-046F-4074-9B3B-2AE8F144F59B"
permissions = ["Mail.ReadWrite", "Mail.Send"]
scope_group = "cctr_sec_group@contoso.com"
mailboxes = ["support@contoso.com"]
[[waiver]]
check = "CRED-005"
resource = "e7e4dbfc-*"
reason = "vendor"
expires = 2027-03-31
"""


def test_good_baseline_parses_with_defaults_and_normalised_ids():
    b = parse_baseline(GOOD, origin="b.toml")
    integ = b.integrations[0]
    assert integ.app_id == "e7e4dbfc-046f-4074-9b3b-2ae8f144f59b"
    assert integ.access_model == "policy" and integ.owners is None and integ.group_managers is None
    assert b.policy.credential_warning_days == 30 and b.sweep.enabled
    assert b.waivers[0].expires == date(2027, 3, 31)
    assert b.exchange.transport == "psrp" and b.exchange.pools == 2
    assert b.exchange.pwsh_path == "pwsh"  # looked up on PATH when transport = "local"


def test_local_transport_takes_a_pwsh_path():
    b = parse_baseline(GOOD + "\n[exchange]\ntransport = 'local'\npwsh_path = '/opt/PowerShell 7/pwsh'\n",
                       origin="b.toml")
    assert b.exchange.transport == "local" and b.exchange.pwsh_path == "/opt/PowerShell 7/pwsh"


def test_starter_baseline_from_init_is_valid():
    b = parse_baseline(STARTER_BASELINE, origin="starter")
    assert b.integrations[0].name == "Contact Center"
    assert b.exchange.username == "CONTOSO\\svc-audit"


@pytest.mark.parametrize(("text", "expected"), [
    ("[tenant]\nidd = 'x'\n", "b.toml: tenant.idd: unknown key"),
    ("[unknown]\n", "b.toml: unknown: unknown key"),
    ("[policy]\ncredential_warning_days = 'thirty'\n", "b.toml: policy.credential_warning_days: must be an integer"),
    ("[policy]\ncredential_warning_days = true\n", "b.toml: policy.credential_warning_days: must be a number"),
    ("[policy]\ncanary_sample_size = -1\n", "b.toml: policy.canary_sample_size: must be at least 0"),
    ("[exchange]\ntransport = 'ssh'\n", "b.toml: exchange.transport: 'ssh' is not one of psrp, rest, local, none"),
    ("[exchange]\npwsh_path = ''\n", "b.toml: exchange.pwsh_path: must be the path (or name) of PowerShell 7's "
     "pwsh, without surrounding spaces"),
    ("[exchange]\npwsh_path = '-c Get-Process'\n", "b.toml: exchange.pwsh_path: must be a path to pwsh, not "
     "options or control characters"),
    ("[exchange]\npwsh_path = \"pwsh\\nrm\"\n", "b.toml: exchange.pwsh_path: must be a path to pwsh, not options "
     "or control characters"),
    ("[exchange]\nport = 70000\n", "b.toml: exchange.port: must be at most 65535"),
    ("[auth]\nauthority = 'http://login'\n", "b.toml: auth.authority: 'http://login' must be an https:// URL"),
    ("[tenant]\nid = 'contoso'\n", "b.toml: tenant.id: 'contoso' is not a GUID"),
    ("[[integration]]\nname = 'x'\napp_id = 'nope'\npermissions = []\nscope_group = 'g@x'\n",
     "b.toml: integration[0] (x).app_id: 'nope' is not a GUID"),
    ("[[integration]]\nname = 'x'\napp_id = '11111111-2222-3333-4444-555555555555'\npermissions = []\n",
     'b.toml: integration[0] (x).scope_group: is required when access_model is "policy"'),
    ("[[integration]]\nname = 'x'\napp_id = '11111111-2222-3333-4444-555555555555'\nscope_group = 'g@x'\n",
     "b.toml: integration[0] (x).permissions: is required"),
    ("[[integration]]\nname = 'x'\napp_id = '11111111-2222-3333-4444-555555555555'\npermissions = ['Mail.Read']\n"
     "scope_group = 'g@x'\nmailboxes = [1]\n", "b.toml: integration[0] (x).mailboxes[0]: must be a non-empty string"),
    ("[[integration]]\nname = 'x'\napp_id = '11111111-2222-3333-4444-555555555555'\npermissions = ['Mail.Read']\n"
     "scope_group = 'g@x'\nflavour = 1\n", "b.toml: integration[0].flavour: unknown key"),
    ("[[waiver]]\ncheck = 'CRED-005'\nresource = 'x'\nreason = 'r'\nexpires = 'soon'\n",
     "b.toml: waiver[0].expires: 'soon' is not a date"),
    ("[[waiver]]\ncheck = 'CRED-005'\nresource = 'x'\nexpires = 2027-01-01\n", "b.toml: waiver[0].reason: is required"),
    ("integration = 3\n", "b.toml: integration: must be an array of tables"),
    ("[tenant\n", "b.toml: not valid TOML"),
])
def test_bad_baselines_give_one_line_naming_file_key_and_problem(text, expected):
    with pytest.raises(ConfigError) as err:
        parse_baseline(text, origin="b.toml")
    message = str(err.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_duplicate_integration_names_and_canary_that_is_a_queue_are_refused():
    two = GOOD.split("[[waiver]]")[0] * 2
    with pytest.raises(ConfigError, match="used by another integration"):
        parse_baseline(two.replace("[tenant]\nid = \"11111111-2222-3333-4444-555555555555\"\n", "", 1), "b.toml")
    with pytest.raises(ConfigError, match="also a queue mailbox"):
        text = GOOD.replace('mailboxes = ["support@contoso.com"]',
                            'mailboxes = ["support@contoso.com"]\ncanaries = ["SUPPORT@contoso.com"]')
        parse_baseline(text, "b.toml")


def test_missing_and_unreadable_files(tmp_path: Path):
    with pytest.raises(ConfigError, match="no such file"):
        load_baseline(tmp_path / "nope.toml")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_baseline(binary)
    good = tmp_path / "good.toml"
    good.write_text(GOOD)
    assert len(load_baseline(good).sha256) == 64


def test_each_closed_choice_is_one_enum_read_by_the_toml_reader_and_offered_by_the_cli(tmp_path, capsys):
    """The baseline's [exchange] transport and `demo --exchange-transport` take the same values, from one enum:
    a value the baseline accepts is never refused on the command line (`none` used to be)."""
    import json

    from auditor.cli import main
    from auditor.models.baseline import AccessModel, ExchangeAuth, ExchangeConnect, ExchangeTransport

    for transport in ExchangeTransport:
        assert parse_baseline(f'[exchange]\ntransport = "{transport}"\n').exchange.transport is transport
    b = parse_baseline('[exchange]\nauth = "basic"\nconnect = "direct"\n' + GOOD)
    assert (b.exchange.auth, b.exchange.connect) == (ExchangeAuth.BASIC, ExchangeConnect.DIRECT)
    assert b.integrations[0].access_model is AccessModel.POLICY
    with pytest.raises(ConfigError, match=r"exchange\.transport: 'winrm' is not one of psrp, rest, local, none"):
        parse_baseline('[exchange]\ntransport = "winrm"\n', origin="b.toml")
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--exchange-transport", "none", "--out", str(tmp_path), "--quiet", "--format", "json"])
    # A run, not a usage error (old: exit 2), and not an incomplete one: with Exchange switched off every check
    # that needs its data, SCOPE-005's canaries included, SKIPs saying why. Exit 1: the Graph-side drift FAILs.
    assert exc.value.code == 1, capsys.readouterr().err
    snapshot = json.loads((tmp_path / "snapshot.json").read_text())
    assert snapshot["collection"]["exchange_transport"] == "none"
    findings = json.loads((tmp_path / "findings.json").read_text())["findings"]
    assert [f["check_id"] for f in findings if f["status"] == "ERROR"] == []
    canary_checks = [f for f in findings if f["check_id"] in ("SCOPE-005", "SCOPE-007")]
    assert canary_checks and all(f["status"] == "SKIP" for f in canary_checks)
    assert all("switched off" in f["message"] for f in canary_checks if "APP-001" not in f["message"])
