"""Cmdlets outside the auditor's Exchange roles, and the canary pool read with Get-EXOMailbox or Get-Mailbox."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from auditor.collect.exchange_reader import read_exchange
from auditor.collect.listing import partition_filters
from auditor.collect.run import collect
from auditor.commands.live import snapshot_problems
from auditor.demo import DEMO_BASELINE, DEMO_TENANT, emulator_baseline, emulator_settings, running_emulator
from auditor.emulator.tenant import load_tenant
from auditor.engine import evaluate
from auditor.models.baseline import load_baseline
from auditor.models.snapshot import SectionStatus
from tests.collect_exchange.support import audit_baseline, collector_doc
from tests.collect_exchange.support import collect as collect_exchange_only
from tests.emulator_exchange.helpers import running

UNDOCUMENTED_ROLES = {  # the cmdlets whose read-only role is undocumented, and the section each one reads
    "Test-ApplicationAccessPolicy": "exchange.accessTests",
    "Test-ServicePrincipalAuthorization": "exchange.authorizationTests",
    "Get-ManagementRoleAssignment": "exchange.roleAssignments",
    "Get-ServicePrincipal": "exchange.servicePrincipals",
}


def _audit(tmp_path: Any, denied: list[str], transport: str = "psrp") -> tuple[Any, Any]:
    doc = json.loads(DEMO_TENANT.read_text())
    doc["emulator"]["clients"][0]["deniedCmdlets"] = denied
    tenant_file = tmp_path / "tenant.json"
    tenant_file.write_text(json.dumps(doc))
    with running_emulator(tenant_file) as server:
        base = emulator_baseline(load_baseline(DEMO_BASELINE), server)
        base = dataclasses.replace(base, exchange=dataclasses.replace(base.exchange, transport=transport))
        snapshot = collect(base, emulator_settings(server), read_exchange)
    return snapshot, evaluate(snapshot, base)


def _identities(result: Any) -> list[tuple[str, ...]]:
    return sorted((f.check_id, f.integration or "", f.resource, f.status.value) for f in result.findings)


@pytest.mark.parametrize(("cmdlet", "transport"), [*((c, "psrp") for c in UNDOCUMENTED_ROLES),
                                                   ("Test-ApplicationAccessPolicy", "rest")])
def test_a_cmdlet_outside_the_apps_roles_is_one_error_line_naming_it(tmp_path: Any, cmdlet: str,
                                                                        transport: str) -> None:
    snapshot, result = _audit(tmp_path, [cmdlet], transport)
    section = snapshot.sections[UNDOCUMENTED_ROLES[cmdlet]]
    assert section.status is SectionStatus.ERROR
    assert section.error is not None and section.error.startswith(f"{cmdlet} is not available to the auditor's app")
    assert f"Get-ManagementRole -Cmdlet {cmdlet}" in section.error and "\n" not in section.error
    lines = [line for line in snapshot_problems(snapshot) if cmdlet in line]
    assert len(lines) == 1 and f"Get-ManagementRole -Cmdlet {cmdlet}" in lines[0]
    assert "Traceback" not in json.dumps(snapshot.to_dict())
    errors = [f for f in result.findings if f.status.value == "ERROR"]
    assert errors and all(f"Get-ManagementRole -Cmdlet {cmdlet}" in f.message for f in errors), [
        f.message for f in errors if cmdlet not in f.message]


def test_the_canary_pool_comes_from_get_exomailbox(tmp_path: Any) -> None:
    snapshot, _ = _audit(tmp_path, [])
    facts = snapshot.collection["exchange"]
    assert facts["canary_pool_source"] == ("exo:Get-EXOMailbox -ResultSize Unlimited -PropertySets Minimum"
                                           " -Properties ExchangeGuid,Sid")
    assert facts["pipelines_by_cmdlet"].get("Get-EXOMailbox") == len(partition_filters()) and (
        "canary_pool_fallback" not in facts)  # the partitioned listing: one pipeline per partition


def test_without_get_exomailbox_the_pool_falls_back_to_get_mailbox_with_the_same_verdicts(tmp_path: Any) -> None:
    normal, normal_result = _audit(tmp_path, [])
    fallback, fallback_result = _audit(tmp_path, ["Get-EXOMailbox"])
    facts = fallback.collection["exchange"]
    assert facts["canary_pool_source"] == "exo:Get-Mailbox -ResultSize Unlimited"
    assert "Get-EXOMailbox" in facts["canary_pool_fallback"] and "not recognized" in facts["canary_pool_fallback"]
    assert facts["canary_pool_size"] == normal.collection["exchange"]["canary_pool_size"]
    sampled = {app: entry["sampled"] for app, entry in normal.sections["canaries"].data.items()}
    assert {app: entry["sampled"] for app, entry in fallback.sections["canaries"].data.items()} == sampled
    assert _identities(fallback_result) == _identities(normal_result)
    assert fallback.sections["canaries"].status is SectionStatus.OK


def test_a_direct_endpoint_without_the_module_uses_get_mailbox() -> None:
    with running(load_tenant(copy.deepcopy(collector_doc())), "direct") as (server, _):
        sections, facts = collect_exchange_only(server, audit_baseline(), connect="direct",
                                                configuration_name="Microsoft.Exchange")
    assert facts["exchange"]["canary_pool_source"] == "exo:Get-Mailbox -ResultSize Unlimited"
    assert sections["canaries"].status is SectionStatus.OK and sections["canaries"].source == (
        "sampled from exo:Get-Mailbox -ResultSize Unlimited")
