"""The Exchange side of preflight: connect as the audit does, then one cheap call per allowlisted cmdlet the audit
runs, each telling whether the auditor's Exchange roles hold it; on the way, the undocumented forms are observed
(docs/microsoft-facts.md, "Exchange identities (undocumented forms)"; the values are the emulator's realism
values, auditor/emulator/realism.py).

A cmdlet outside the app's roles answers CommandNotFound (or, over REST, "is not allowed to call"): that is a
missing role, fixed with a role that holds it (`Get-ManagementRole -Cmdlet <name>`). Any other answer, a
not-found identity or a refused parameter value included, shows the cmdlet is in the session.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditor.collect.allowlist import ALLOWED_CMDLETS
from auditor.collect.exchange_identities import MAILBOX_ID_KEYS
from auditor.collect.shell import (
    CmdletErrorInfo,
    CmdletUnavailable,
    Command,
    Output,
    PipelineFailed,
    ShellPool,
    observing_types,
    one_line,
    role_hint,
)
from auditor.errors import CollectionError
from auditor.preflight.model import NOT_OBSERVED, UNKNOWN, Need, NeedStatus, Preflight

NOT_AUDIT_CMDLETS = ("Connect-ExchangeOnline", "Import-Module")  # session set-up, not reads of the audit
AUDIT_CMDLETS = tuple(c for c in ALLOWED_CMDLETS if c not in NOT_AUDIT_CMDLETS)
OPTIONAL = {"Get-EXOMailbox": "not available: the audit reads the mailbox pool with Get-Mailbox instead"}
NIL = "00000000-0000-0000-0000-000000000000"  # an identity that names nothing: the answer is still telling
# Test-ApplicationAccessPolicy's MailboxId: which of the mailbox's identifiers it equals (realism mailboxId).
MAILBOX_ID_FORMS = (("Guid", "guid"), ("ExchangeGuid", "exchange_guid"),
                    ("ExternalDirectoryObjectId", "external_directory_object_id"), ("Sid", "mailbox_sid"),
                    ("MailboxSid", "mailbox_sid"))
MANAGE_AS_APP_FIX = ("add the Office 365 Exchange Online application permission Exchange.ManageAsApp to the "
                     "auditor's app and grant admin consent; give its service principal a read-only Exchange role "
                     "(the Entra role Global Reader, or the role group View-Only Organization Management)")
Call = tuple[Output | None, PipelineFailed | None]


def connect_fix(message: str) -> str:
    text = message.lower()
    if any(word in text for word in ("manageasapp", "unauthorized", "401", "access is denied", "audience")):
        return MANAGE_AS_APP_FIX
    return "Exchange could not be reached: check the [exchange] settings of the baseline (the line above says why)"


class ExchangeProbe:
    """Runs the calls over an open pool and fills in `record` (needs, realism, output types)."""

    def __init__(self, pool: ShellPool, client_id: str, record: Preflight) -> None:
        self.pool, self.client_id, self.record = pool, client_id, record

    def run(self) -> None:
        policies = self._policies()
        mailbox = self._first("Get-Mailbox", {"ResultSize": 1})
        self._first("Get-EXOMailbox", {"ResultSize": 1, "PropertySets": "Minimum"})
        self._first("Get-Recipient", {"ResultSize": 1})
        group = self._first("Get-DistributionGroup", {"ResultSize": 1})
        self._first("Get-DistributionGroupMember", {"Identity": _guid(group), "ResultSize": 1})
        self._mailbox_id(mailbox)
        principals = self._rows("Get-ServicePrincipal", {})
        self._role_assignee_filter()
        self._rows("Get-ManagementScope", {})
        sp = str((principals or [{}])[0].get("AppId") or self.client_id)
        auth = {"Identity": sp, **({"Resource": _guid(mailbox)} if mailbox else {})}
        self._rows("Test-ServicePrincipalAuthorization", auth)
        self._scope_identity(policies)

    # -- one call, and the need it shows ---------------------------------------------------------------------

    def call(self, cmdlet: str, parameters: Mapping[str, Any]) -> Call:
        with observing_types() as seen:
            try:
                out: Output | None = self.pool.run([Command(cmdlet, parameters)])
                failure: PipelineFailed | None = None
            except PipelineFailed as exc:
                out, failure = None, exc
            except CollectionError as exc:
                failure = PipelineFailed(cmdlet, CmdletErrorInfo(one_line(str(exc)), "", None, 0))
                out = None
        if seen:
            self.record.output_types.setdefault(cmdlet, seen[0])
        return out, failure

    def need(self, cmdlet: str, out: Output | None, failure: PipelineFailed | None) -> None:
        name = f"Exchange: {cmdlet}"
        errors = [failure.error] if failure else list(out.errors if out else [])
        denied = isinstance(failure, CmdletUnavailable) or any(e.role_denied for e in errors)
        if denied and cmdlet in OPTIONAL:
            self.record.needs.append(Need(name, NeedStatus.OK, OPTIONAL[cmdlet]))
        elif denied:
            self.record.needs.append(Need(name, NeedStatus.MISSING, role_hint(cmdlet)))
        elif failure is None or failure.error.not_found or _binding(failure.error):
            self.record.needs.append(Need(name, NeedStatus.OK))
        else:
            code = failure.error.fq_error.split(",", 1)[0] or "no error id"
            self.record.needs.append(Need(name, NeedStatus.UNCHECKED, f"the call failed ({code}); run preflight "
                                          "again", failure.error.message))

    def _rows(self, cmdlet: str, parameters: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        out, failure = self.call(cmdlet, parameters)
        self.need(cmdlet, out, failure)
        return out.rows if out is not None else None

    def _first(self, cmdlet: str, parameters: Mapping[str, Any]) -> dict[str, Any] | None:
        return next(iter(self._rows(cmdlet, parameters) or []), None)

    # -- the observations ------------------------------------------------------------------------------------

    def _policies(self) -> list[dict[str, Any]]:
        """noPolicies: an empty answer, or a not-found error, from a tenant without a policy."""
        out, failure = self.call("Get-ApplicationAccessPolicy", {})
        self.need("Get-ApplicationAccessPolicy", out, failure)
        rows = out.rows if out is not None else []
        errors = [failure.error] if failure else list(out.errors if out else [])
        if rows:
            self.record.realism["noPolicies"] = NOT_OBSERVED  # the tenant has policies
        elif errors and all(e.not_found for e in errors):
            self.record.realism["noPolicies"] = "error"
        elif not errors:
            self.record.realism["noPolicies"] = "empty"
        return rows

    def _mailbox_id(self, mailbox: dict[str, Any] | None) -> None:
        """mailboxId: which of the tested mailbox's identifiers Test-ApplicationAccessPolicy's MailboxId is."""
        out, failure = self.call("Test-ApplicationAccessPolicy", {"Identity": _guid(mailbox), "AppId": self.client_id})
        self.need("Test-ApplicationAccessPolicy", out, failure)
        if mailbox is None or out is None or not out.rows:
            return
        value = str(out.rows[0].get("MailboxId") or "").strip().lower()
        ids = {key: str(mailbox.get(key) or "").strip().lower() for key in MAILBOX_ID_KEYS}
        self.record.realism["mailboxId"] = next(
            (form for key, form in MAILBOX_ID_FORMS if value and ids.get(key) == value), UNKNOWN)

    def _role_assignee_filter(self) -> None:
        """roleAssigneeTypeFilter: whether `-RoleAssigneeType ServicePrincipal` (undocumented value) is taken."""
        cmdlet = "Get-ManagementRoleAssignment"
        out, failure = self.call(cmdlet, {"RoleAssigneeType": "ServicePrincipal"})
        self.need(cmdlet, out, failure)
        if failure is not None:
            if _binding(failure.error):
                self.record.realism["roleAssigneeTypeFilter"] = "terminating_error"
            return  # otherwise no role, or no answer: nothing learnt about the filter
        if out is not None and not out.errors:
            self.record.realism["roleAssigneeTypeFilter"] = "accepted"
        elif out is not None and not out.rows and all(_binding(e) for e in out.errors):
            self.record.realism["roleAssigneeTypeFilter"] = "non_terminating_error"
        elif out is not None and not any(e.role_denied for e in out.errors):
            self.record.realism["roleAssigneeTypeFilter"] = UNKNOWN

    def _scope_identity(self, policies: list[dict[str, Any]]) -> None:
        """scopeIdentityGuid: the GUID after the `;` of a policy's ScopeIdentityRaw, compared with its scope's
        recipient (looked up by the policy's scope name, else by that GUID)."""
        raw = next((str(p.get("ScopeIdentityRaw")) for p in policies if ";" in str(p.get("ScopeIdentityRaw"))), "")
        if not raw:
            return
        scope = next(str(p.get("ScopeIdentity") or p.get("ScopeName") or "") for p in policies
                     if str(p.get("ScopeIdentityRaw")) == raw)
        guid = raw.split(";", 1)[1].strip().lower()
        for identity in dict.fromkeys(i for i in (scope, guid) if i):
            out, _ = self.call("Get-Recipient", {"Identity": identity})
            if out is not None and len(out.rows) == 1:
                row = out.rows[0]
                self.record.realism["scopeIdentityGuid"] = (
                    "exchange_guid" if str(row.get("Guid") or "").lower() == guid else
                    "entra_object_id" if str(row.get("ExternalDirectoryObjectId") or "").lower() == guid else UNKNOWN)
                return
        self.record.realism["scopeIdentityGuid"] = UNKNOWN


def _guid(row: dict[str, Any] | None) -> str:
    return str((row or {}).get("Guid") or NIL)


def _binding(error: CmdletErrorInfo) -> bool:
    """A parameter value refused at binding (PowerShell's "Cannot bind parameter ..."): the cmdlet is in the
    session, only the value was not taken."""
    fq = error.fq_error.split(",", 1)[0]
    return ("Parameter" in fq or "CannotConvertArgument" in fq
            or error.message.lower().startswith("cannot bind parameter"))
