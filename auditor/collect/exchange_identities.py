"""Tolerant readers for Exchange output whose form Microsoft does not document (docs/microsoft-facts.md,
"Exchange identities (undocumented forms)"). Each accepts every plausible form, so no verdict depends on which
one a tenant serves; the emulator serves each form under a realism profile (docs/emulator.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from auditor.models.snapshot import Section, SectionStatus

NO_POLICIES_SOURCE = ("exo:Get-ApplicationAccessPolicy (answered not-found: a tenant that never had a policy; "
                      "read as no policies)")
ROLE_SOURCE = ("exo:Get-ManagementRoleAssignment (those whose RoleAssigneeType is ServicePrincipal or whose "
               "RoleAssignee is a Get-ServicePrincipal ObjectId)")
MAILBOX_ID_KEYS = ("Guid", "ExchangeGuid", "ExternalDirectoryObjectId", "Sid", "MailboxSid")
TEST_ROW_ID_KEYS = ("MailboxId", "MailboxSid")


def _values(row: Mapping[str, Any], keys: Sequence[str]) -> set[str]:
    return {str(row[k]).strip().lower() for k in keys if row.get(k)} - {""}


def mailbox_ids(row: Mapping[str, Any]) -> set[str]:
    """Every identifier of a Get-Mailbox row that a Test-ApplicationAccessPolicy row's MailboxId may carry:
    Guid, ExchangeGuid, ExternalDirectoryObjectId, Sid (whichever the row has), lower-cased."""
    return _values(row, MAILBOX_ID_KEYS)


def names_mailbox(test_row: Mapping[str, Any], ids: set[str]) -> bool:
    """Whether a Test-ApplicationAccessPolicy row is about the mailbox with these identifiers: its MailboxId
    (or MailboxSid) is one of them, whichever identifier Exchange chose to put there."""
    return bool(ids) and bool(_values(test_row, TEST_ROW_ID_KEYS) & ids)


def service_principal_assignments(rows: Sequence[Mapping[str, Any]], principals: Section
                                  ) -> tuple[list[dict[str, Any]], str | None]:
    """The RBAC for Applications assignments among every Get-ManagementRoleAssignment row, or why they cannot be
    told apart. `-RoleAssigneeType ServicePrincipal` is not a documented value, so the listing is unfiltered
    and a row is kept when its RoleAssigneeType says ServicePrincipal or its RoleAssignee is a service
    principal's ObjectId (or AppId) from Get-ServicePrincipal."""
    ids: set[str] | None = None
    if principals.status is SectionStatus.OK:
        ids = {str(sp.get(k) or "").lower() for sp in principals.data for k in ("ObjectId", "AppId")} - {""}
    kept: list[dict[str, Any]] = []
    for row in rows:
        kind = str(row.get("RoleAssigneeType") or "").strip().lower()
        if kind == "serviceprincipal" or (ids and str(row.get("RoleAssignee") or "").lower() in ids):
            kept.append(dict(row))
        elif not kind and ids is None:
            return [], (f"role assignment {row.get('Name')} names no RoleAssigneeType, and the service principals "
                        f"to tell it by could not be read: {principals.error}")
    return kept, None
