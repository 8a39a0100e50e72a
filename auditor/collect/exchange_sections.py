"""The Exchange sections' sources and the small helpers that build them from cmdlet results (exchange.py reads)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from auditor.collect.canaries import CANARIES_SOURCE
from auditor.collect.shell import ItemResult, one_line
from auditor.models.snapshot import Section, SectionStatus

ACTUAL_SCOPE_SOURCE = (
    "exo:Get-ApplicationAccessPolicy, Get-DistributionGroupMember -ResultSize Unlimited (nested expanded), "
    "Get-ManagementRoleAssignment, Get-Recipient -RecipientPreviewFilter -ResultSize Unlimited, "
    "Get-Mailbox -ResultSize Unlimited")
SOURCES = {
    "exchange.applicationAccessPolicies": "exo:Get-ApplicationAccessPolicy",
    "exchange.recipients": "exo:Get-Recipient -Identity",
    "exchange.groups": "exo:Get-DistributionGroup -Identity, Get-DistributionGroupMember -ResultSize Unlimited",
    "exchange.mailboxes": "exo:Get-Mailbox -Identity (sampled canaries: Get-Mailbox -ResultSize Unlimited)",
    "exchange.accessTests": "exo:Test-ApplicationAccessPolicy -Identity -AppId",
    "exchange.servicePrincipals": "exo:Get-ServicePrincipal",
    "exchange.roleAssignments": "exo:Get-ManagementRoleAssignment",
    "exchange.managementScopes": "exo:Get-ManagementScope",
    "exchange.authorizationTests": "exo:Test-ServicePrincipalAuthorization -Identity -Resource",
    "canaries": CANARIES_SOURCE,
    "exchange.actualScope": ACTUAL_SCOPE_SOURCE,
}
SECTIONS = tuple(SOURCES)
IDENTITY_KEYS = ("PrimarySmtpAddress", "Guid", "Name", "Alias", "DisplayName", "Identity", "ExternalDirectoryObjectId",
                 "UserPrincipalName")


def error_sections(reason: str) -> dict[str, Section]:
    """Every Exchange section (and `canaries`) as `error` with one reason: Exchange could not be reached."""
    return {name: Section(name, SOURCES[name], SectionStatus.ERROR, one_line(reason)) for name in SECTIONS}


def ok(name: str, data: Any, queried: Sequence[str] | None = None, errors: dict[str, str] | None = None,
        source: str | None = None) -> Section:
    return Section(name, source or SOURCES[name], SectionStatus.OK, None, data,
                   tuple(queried) if queried is not None else None, errors or {})


def failed(name: str, reason: str, source: str | None = None) -> Section:
    return Section(name, source or SOURCES[name], SectionStatus.ERROR, one_line(reason))


def names(row: dict[str, Any]) -> set[str]:
    """Every identity a recipient row answers to (addresses, proxy addresses, Guid, names, directory id)."""
    found = {str(row[k]).lower() for k in IDENTITY_KEYS if row.get(k)}
    proxies = row.get("EmailAddresses")
    return found | {str(p).split(":", 1)[-1].lower() for p in (proxies if isinstance(proxies, list) else ())}


def unique(values: Sequence[str]) -> list[str]:
    """First spelling of each value, compared case-insensitively, in order; blanks dropped."""
    return list({v.lower(): v for v in reversed([v for v in values if v.strip()])}.values())[::-1]


def by_guid(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return list({str(r.get("Guid") or r.get("PrimarySmtpAddress") or r.get("Name")).lower(): r for r in rows}.values())


def items_section(name: str, keys: Sequence[str], items: dict[str, ItemResult], absent_if_not_found: bool,
                   entry: Callable[[str, ItemResult], list[dict[str, Any]]], queried: Sequence[str]) -> Section:
    """`error` when every item's pipeline broke; else the entries, with per-item errors beside them."""
    broken = [items[k].error or "" for k in keys if items[k].failed]
    if keys and len(broken) == len(keys):
        return failed(name, broken[0])
    data: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for key in keys:
        item = items[key]
        if item.error is not None and not (item.not_found and absent_if_not_found):
            errors[key] = one_line(item.error)
        elif item.error is None:
            rows = entry(key, item)
            if not rows and not absent_if_not_found:
                errors[key] = "the cmdlet returned no output and no error"
            data += rows
    return ok(name, data, queried, errors)
