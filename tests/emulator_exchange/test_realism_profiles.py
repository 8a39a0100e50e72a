"""Realism profiles on the emulator side: the tenant file's `emulator.realism`, `--realism`, and each form served
by the cmdlet layer (so both transports serve it)."""

from __future__ import annotations

import copy
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from auditor.emulator.exchange.cmdlets import ExchangeCmdlets
from auditor.emulator.exchange.model import CmdletError
from auditor.emulator.realism import PROFILES
from auditor.emulator.tenant import load_tenant
from auditor.errors import TenantFileError
from tests.faults.conftest import run_cli

from .helpers import APP_RESTRICTED, tenant_doc

DOC = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"


def _cmdlets(realism: dict[str, str] | None = None, **changes: Any) -> ExchangeCmdlets:
    doc = copy.deepcopy(tenant_doc())
    if realism is not None:
        doc["emulator"]["realism"] = realism
    doc["exchange"].update(changes)
    tenant = load_tenant(doc)
    return ExchangeCmdlets(tenant.id, tenant.doc, tenant.now)


def _props(cmdlets: ExchangeCmdlets, name: str, **parameters: Any) -> dict[str, Any]:
    result = cmdlets.invoke(name, parameters)
    assert not result.errors and result.records, (name, result.errors)
    return result.records[0].properties


def test_the_tenant_file_gets_every_default() -> None:
    assert load_tenant(tenant_doc()).doc["emulator"]["realism"] == {key: values[0] for key, values in PROFILES.items()}


@pytest.mark.parametrize(("realism", "needle"), [
    ({"mailboxID": "guid"}, "emulator.realism: unknown key 'mailboxID' (known: scopeIdentityGuid, mailboxId,"),
    ({"mailboxId": "Guid"}, "emulator.realism.mailboxId: must be one of guid, exchange_guid, "),
    ({"noPolicies": None}, "emulator.realism.noPolicies: must be one of empty, error, not None"),
    ("mailbox_sid", "emulator.realism: must be an object"),
])
def test_a_bad_realism_object_is_refused_naming_the_field(realism: Any, needle: str) -> None:
    doc = tenant_doc()
    doc["emulator"]["realism"] = realism
    with pytest.raises(TenantFileError) as exc:
        load_tenant(doc)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize(("command", "spec", "needle"), [
    ("demo", "mailboxId=sid", "--realism.mailboxId: must be one of guid, exchange_guid,"),
    ("demo", "noPolicy=error", "--realism: unknown key 'noPolicy'"),
    ("emulator", "noPolicies", "--realism: 'noPolicies' is not KEY=VALUE"),
])
def test_a_bad_realism_option_is_one_line_and_exit_2(command: str, spec: str, needle: str, tmp_path: Path) -> None:
    code, _, err = run_cli(command, "--realism", spec, *(("--out", str(tmp_path)) if command == "demo" else ()))
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_every_key_and_value_is_documented() -> None:
    section = DOC.read_text(encoding="utf-8").split("## Realism profiles", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `([A-Za-z]+)` \| ([^|]+) \|", section, flags=re.MULTILINE))
    assert sorted(rows) == sorted(PROFILES)
    for key, values in PROFILES.items():
        assert re.findall(r"`([a-z_]+)`", rows[key]) == list(values), key


@pytest.mark.parametrize("form", PROFILES["scopeIdentityGuid"])
def test_scope_identity_raw_carries_the_profiles_guid(form: str) -> None:
    cmdlets = _cmdlets({"scopeIdentityGuid": form})
    group = _props(cmdlets, "Get-DistributionGroup", Identity="cctr_sec_group@contoso.com")
    policy = next(r.properties for r in cmdlets.invoke("Get-ApplicationAccessPolicy", {}).records
                  if r.properties["AppId"] == APP_RESTRICTED)
    guid = group["ExternalDirectoryObjectId"] if form == "entra_object_id" else str(group["Guid"])
    assert policy["ScopeIdentityRaw"] == f"{group['Sid']};{guid}"
    assert policy["Identity"].endswith(f":{group['Sid']};{guid}")
    # An orphaned policy (its group deleted) keeps a Sid and a GUID of the same kind.
    orphan = next(r.properties for r in cmdlets.invoke("Get-ApplicationAccessPolicy", {}).records
                  if r.properties["ScopeName"] == "deleted-group@contoso.com")
    assert re.fullmatch(r"S-1-5-21-[\d-]+;[0-9a-f-]{36}", orphan["ScopeIdentityRaw"])


@pytest.mark.parametrize(("form", "key"), [("guid", "Guid"), ("exchange_guid", "ExchangeGuid"),
                                           ("external_directory_object_id", "ExternalDirectoryObjectId"),
                                           ("mailbox_sid", "Sid")])
def test_mailbox_id_carries_the_profiles_identifier(form: str, key: str) -> None:
    cmdlets = _cmdlets({"mailboxId": form})
    mailbox = _props(cmdlets, "Get-Mailbox", Identity="support@contoso.com")
    test = _props(cmdlets, "Test-ApplicationAccessPolicy", Identity="support@contoso.com", AppId=APP_RESTRICTED)
    assert str(test["MailboxId"]) == str(mailbox[key]) and test["MailboxSid"] == mailbox["Sid"]
    assert isinstance(test["MailboxId"], str if form == "mailbox_sid" else uuid.UUID)
    assert len({str(mailbox[k]) for k in ("Guid", "ExchangeGuid", "ExternalDirectoryObjectId", "Sid")}) == 4


def test_the_role_assignee_type_filter_per_profile() -> None:
    listed = [r.properties for r in _cmdlets().invoke("Get-ManagementRoleAssignment", {}).records]
    assert {r["RoleAssigneeType"] for r in listed} == {"ServicePrincipal", "RoleGroup"}  # what a tenant holds
    accepted = _cmdlets({"roleAssigneeTypeFilter": "accepted"}).invoke(
        "Get-ManagementRoleAssignment", {"RoleAssigneeType": "ServicePrincipal"})
    assert accepted.records and {r.properties["RoleAssigneeType"] for r in accepted.records} == {"ServicePrincipal"}
    with pytest.raises(CmdletError) as exc:
        _cmdlets({"roleAssigneeTypeFilter": "terminating_error"}).invoke(
            "Get-ManagementRoleAssignment", {"RoleAssigneeType": "ServicePrincipal"})
    assert "Cannot convert value \"ServicePrincipal\"" in exc.value.error.message
    soft = _cmdlets({"roleAssigneeTypeFilter": "non_terminating_error"}).invoke(
        "Get-ManagementRoleAssignment", {"RoleAssigneeType": "ServicePrincipal"})
    assert not soft.records and "RoleGroup, LinkedRoleGroup, Computer" in soft.errors[0].message
    with pytest.raises(CmdletError):  # a value outside the documented list, whatever the profile
        _cmdlets().invoke("Get-ManagementRoleAssignment", {"RoleAssigneeType": "Application"})


def test_no_policies_answers_per_profile() -> None:
    assert _cmdlets({"noPolicies": "empty"}, applicationAccessPolicies=[]).invoke(
        "Get-ApplicationAccessPolicy", {}).records == []
    with pytest.raises(CmdletError) as exc:
        _cmdlets({"noPolicies": "error"}, applicationAccessPolicies=[]).invoke("Get-ApplicationAccessPolicy", {})
    assert "The operation couldn't be performed because object" in exc.value.error.message
    assert exc.value.error.exception_type.endswith("ManagementObjectNotFoundException")
    # A tenant that has policies lists them under either profile.
    assert _cmdlets({"noPolicies": "error"}).invoke("Get-ApplicationAccessPolicy", {}).records
