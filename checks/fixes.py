"""The concrete fix for a failing finding: its remediation with the tenant's real values filled in.

Pure, like the checks: built from the finding's own evidence and resource and the baseline's integration, never
from I/O. The result is PowerShell text: commands (Exchange Online and Microsoft Graph PowerShell cmdlets) whose
every value is a single-quoted literal (`ps_quote`), and `#` comment lines for steps only a person can take (a
portal path, a choice such as which group to create). reports/ps1_report.py turns these into remediation.ps1;
the other reports show them beside the generic remediation. The auditor never runs them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from auditor.models.baseline import AccessModel, Integration

# PowerShell ends a single-quoted string at any of these (about_Quoting_Rules: the left/right single quotation
# marks and the single low-9 / high-reversed-9 marks count as quotes too); inside one, each is escaped by doubling.
PS_QUOTES = "'\u2018\u2019\u201a\u201b"
# A line break (or a character a console shows as one) inside a value would end the command or the comment.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


class Unquotable(ValueError):
    """A value that holds control characters: written as a comment for a person, never as a command."""


def ps_quote(value: str) -> str:
    """`value` as a PowerShell single-quoted literal: nothing inside ($, `, ", ;) is interpreted."""
    if _UNSAFE.search(value):
        raise Unquotable(value)
    return "'" + "".join(c + c if c in PS_QUOTES else c for c in value) + "'"


def comment(text: str) -> str:
    """A `#` line; control characters shown as escapes so the text cannot end the comment."""
    return "# " + _UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def command(verb_noun: str, *params: tuple[str, Any]) -> str:
    """`Verb-Noun -Name 'value' ...`: str values quoted; lists as 'a','b'; True as a switch; False as -Name:$false;
    a `$name.Property` reference passes as it is (a variable set by an earlier line of the same block)."""
    parts = [verb_noun]
    for name, value in params:
        if value is True:
            parts.append(f"-{name}")
        elif value is False:
            parts.append(f"-{name}:$false")
        elif isinstance(value, Ref):
            parts.append(f"-{name} {value.text}")
        elif isinstance(value, list | tuple):
            parts.append(f"-{name} " + ",".join(ps_quote(str(v)) for v in value))
        else:
            parts.append(f"-{name} {ps_quote(str(value))}")
    return " ".join(parts)


class Ref:
    """A variable reference such as `$app.Id`."""

    def __init__(self, text: str) -> None:
        if not re.fullmatch(r"\$[a-z]+(\.[A-Za-z]+)?", text):
            raise ValueError(text)
        self.text = text


def app_lookup(app_id: str) -> str:
    return f"$app = {command('Get-MgApplication', ('Filter', f'appId eq {ps_quote(app_id)}'))}"


def sp_lookup(app_id: str) -> str:
    return f"$sp = {command('Get-MgServicePrincipal', ('Filter', f'appId eq {ps_quote(app_id)}'))}"


Fixer = Callable[[str, dict[str, Any], "Integration | None", str], list[str]]
"""(resource, evidence, integration or None for the tenant sweep, message) -> lines."""


def _group(integration: Integration | None) -> str:
    return integration.scope_group if integration and integration.scope_group else ""


def _portal(path: str) -> list[str]:
    return [comment(f"Portal: {path}")]


def _add_policy(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
    if integ and integ.access_model is AccessModel.POLICY and integ.scope_group:
        return [command("New-ApplicationAccessPolicy", ("AppId", integ.app_id),
                        ("PolicyScopeGroupId", integ.scope_group),
                        ("AccessRight", "RestrictAccess"),
                        ("Description", f"Restrict {integ.name} to its queue mailboxes"))]
    return [comment(f"Scope app {resource}: an RBAC for Applications assignment with -CustomResourceScope, or an "
                    "access policy on a mail-enabled security group holding only the mailboxes it needs.")]


def _sweep_policy(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
    held = ", ".join(ev.get("entra_mailbox_permissions") or [])
    return [comment(f"App {resource} ({msg.split(' (', 1)[0]}) holds {held} "
                    "for every mailbox. Create a mail-enabled security group with only the mailboxes it needs, then:"),
            comment(f"New-ApplicationAccessPolicy -AppId {ps_quote(resource)} -PolicyScopeGroupId <that group> "
                    "-AccessRight RestrictAccess"),
            *_portal("Entra admin center > Enterprise applications > (the app) > Permissions: revoke what it does "
                     "not need")]


def _revoke(names_key: str) -> Fixer:
    def fixer(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
        value = ev.get(names_key)
        names = sorted(value) if isinstance(value, dict | list) else [str(ev.get("permission", ""))]
        who = integ.name if integ else msg.split(" (", 1)[0]
        return _portal(f"Entra admin center > Enterprise applications > {who} ({resource}) > Permissions: revoke "
                       f"{', '.join(names)}; and remove them under App registrations > API permissions")
    return fixer


def _add_permission(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
    who = integ.name if integ else resource
    return _portal(f"Entra admin center > App registrations > {who} ({resource}) > API permissions > Add "
                   f"{', '.join(ev.get('missing') or [])} (Application permission), then Grant admin consent")


def _delegated(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
    risky = set(msg.split(": ", 1)[-1].split(", "))
    lines = []
    for grant in ev.get("grants") or []:
        keep = [s for s in str(grant.get("scope", "")).split() if s not in risky]
        if keep:
            lines.append(command("Update-MgOauth2PermissionGrant", ("OAuth2PermissionGrantId", grant["id"]),
                                 ("Scope", " ".join(keep))))
        else:
            lines.append(command("Remove-MgOauth2PermissionGrant", ("OAuth2PermissionGrantId", grant["id"])))
    return lines


def _rotate(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
    who = integ.name if integ else msg.split(":", 1)[0]
    old = [ev["latest"]] if ev.get("latest") else list(ev.get("credentials") or [])
    then = "; ".join(f"{c.get('type', 'credential')} '{c.get('displayName', '')}' (keyId {c.get('keyId', '')}, ends "
                     f"{c.get('endDateTime', '')})" for c in old)
    return _portal(f"Entra admin center > App registrations > {who} > Certificates & secrets: add a certificate "
                   f"(or a secret), deploy it" + (f", then delete {then}" if then else ""))


def _remove_credential(owner: str) -> Fixer:
    def fixer(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
        app_id = integ.app_id if integ else resource.split("/", 1)[0]
        creds = ev.get("credentials") or [ev]
        lookup, ref = (app_lookup(app_id), Ref("$app.Id")) if owner == "app" else (sp_lookup(app_id), Ref("$sp.Id"))
        lines = [lookup]
        for cred in creds:
            if cred.get("type") == "secret":
                verb, param = ("Remove-MgApplicationPassword", "ApplicationId") if owner == "app" else (
                    "Remove-MgServicePrincipalPassword", "ServicePrincipalId")
                lines.append(command(verb, (param, ref), ("KeyId", cred.get("keyId", ""))))
            else:  # Remove-Mg*Key needs a proof signed by another of the app's keys: by hand
                lines += _portal(f"Certificates & secrets: delete certificate '{cred.get('displayName', '')}' "
                                 f"(keyId {cred.get('keyId', '')})")
        return lines
    return fixer


def _lifetime(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
    who = integ.name if integ else resource
    return _portal(f"Entra admin center > App registrations > {who} > Certificates & secrets: add a secret that "
                   f"expires within {ev.get('max_days')} days (or a certificate), deploy it, then delete "
                   f"'{ev.get('displayName', '')}' (keyId {ev.get('keyId', '')}, lives {ev.get('lifetime_days')} days)")


def _owners(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
    lines = [app_lookup(resource)]
    for owner in ev.get("owners") or []:
        label = owner.get("userPrincipalName") or owner.get("mail") or owner.get("appId") or owner.get("id")
        if f"{label}: " in msg + "; " or msg.startswith(f"{label}:"):
            lines.append(command("Remove-MgApplicationOwnerByRef", ("ApplicationId", Ref("$app.Id")),
                                 ("DirectoryObjectId", owner.get("id", ""))))
    return lines


def _member(verb: str) -> Fixer:
    def fixer(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
        group = str(ev.get("group") or _group(integ))
        if not group or (integ and integ.access_model is not AccessModel.POLICY):
            return [comment(f"Add {resource} to the management scope of {integ.name if integ else 'the app'}")]
        extra = [("Confirm", False)] if verb == "Remove-DistributionGroupMember" else []
        return [command(verb, ("Identity", group), ("Member", resource), ("BypassSecurityGroupManagerCheck", True),
                        *extra)]
    return fixer


def _group_settings(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
    params: list[tuple[str, Any]] = [("Identity", resource), ("MemberJoinRestriction", "Closed")]
    if ev.get("approved"):
        params.append(("ManagedBy", list(ev["approved"])))
    return [command("Set-DistributionGroup", *params, ("BypassSecurityGroupManagerCheck", True))]


def _security_group(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
    name = ev.get("Name") or resource.split("@", 1)[0]
    return [comment(f"{resource} must be a mail-enabled security group holding only the queue mailboxes. "
                    "Create one (New-DistributionGroup -Type "
                    f"Security -Name '<new name>'), add the queue mailboxes of {integ.name if integ else 'the app'}, "
                    f"point the access policy at it, then remove {name}.")]


def _shared(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
    return [command("Set-Mailbox", ("Identity", resource), ("Type", "Shared"))]


def _block_sign_in(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
    return [command("Update-MgUser", ("UserId", ev.get("userPrincipalName") or resource), ("AccountEnabled", False))]


def _replace_policy(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
    lines = _add_policy(resource, ev, integ, msg)  # the new policy first: the app is never left unrestricted
    lines += [command("Remove-ApplicationAccessPolicy", ("Identity", p["Identity"]), ("Confirm", False))
              for p in ev.get("policies") or [] if p.get("IsValid") is False and p.get("Identity")]
    return lines


def _policies(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
    return [comment(f"Keep one RestrictAccess policy for {resource}; the policies naming it now:"),
            *(comment(f"  {p.get('AccessRight')} on {p.get('ScopeName')}: {p.get('Identity')}")
              for p in ev.get("naming") or [])]


def _test_access(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
    app = integ.app_id if integ else ""
    return [comment("After the fixes above, check again (read-only):"),
            command("Test-ApplicationAccessPolicy", ("Identity", resource), ("AppId", app))]


def _org_wide_role(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
    name = resource.split("/", 1)[-1]
    lines = []
    if integ and integ.access_model is AccessModel.RBAC and "outside the baseline" not in msg:
        lines.append(comment(f"First: New-ManagementRoleAssignment -App {ps_quote(integ.app_id)} -Role "
                             f"{ps_quote(str(ev.get('Role', '')))} -CustomResourceScope <the management scope>"))
    return [*lines, command("Remove-ManagementRoleAssignment", ("Identity", name), ("Confirm", False))]


def _reach(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
    paths = "; ".join(f"{p.get('path')} on {p.get('scope')}: {p.get('outside_queues')} beyond the queues"
                      for p in ev.get("by_path") or [] if p.get("outside_queues"))
    cause = f" (root cause: {ev['root_cause']}; its block above)" if ev.get("root_cause") else ""
    return [comment(f"{resource} reaches {ev.get('beyond_queues')} mailboxes beyond its queues{cause}. "
                    f"Paths that reach beyond: {paths or 'see the finding'}."),
            comment("The SCOPE-001/002, GRP-003 and SCOPE-006 blocks narrow those paths; re-run the audit to "
                    "confirm this app reaches only its queue mailboxes.")]


def _app_missing(resource: str, ev: dict[str, Any], integ: Integration | None, msg: str) -> list[str]:
    return _portal(f"Entra admin center > Enterprise applications: look up app id {resource}; fix the baseline's "
                   "app_id, or create or re-enable its service principal")


FIXERS: dict[str, Fixer] = {
    "SCOPE-001": _add_policy, "SCOPE-002": _replace_policy, "SCOPE-003": _policies, "SCOPE-004": _member(
        "Add-DistributionGroupMember"), "SCOPE-005": _test_access, "SCOPE-006": _org_wide_role, "SCOPE-007": _reach,
    "GRP-001": _security_group, "GRP-002": _member("Add-DistributionGroupMember"),
    "GRP-003": _member("Remove-DistributionGroupMember"), "GRP-004": _group_settings,
    "MBX-001": _shared, "MBX-002": _block_sign_in,
    "PERM-001": _add_permission, "CONSENT-001": _add_permission, "PERM-002": _revoke("extra"),
    "PERM-003": _revoke("requested"), "CONSENT-002": _revoke("undeclared"), "PERM-004": _delegated,
    "CRED-001": _rotate, "CRED-002": _rotate, "CRED-003": _remove_credential("app"), "CRED-004": _lifetime,
    "CRED-006": _remove_credential("sp"), "OWN-001": _owners, "APP-001": _app_missing,
    "TEN-001": _sweep_policy, "TEN-002": _revoke("permissions"), "TEN-003": _rotate, "TEN-004": _revoke("permission"),
}


def fix_for(check_id: str, resource: str, evidence: dict[str, Any], integration: Integration | None,
            message: str) -> str:
    """The concrete fix as PowerShell text ("" when the check has none); a value PowerShell cannot hold safely
    turns the whole fix into one comment naming the generic remediation."""
    fixer = FIXERS.get(check_id)
    if fixer is None:
        return ""
    try:
        return "\n".join(fixer(resource, evidence, integration, message))
    except (Unquotable, KeyError, TypeError, ValueError, AttributeError):
        return comment(f"{resource}: a value here holds control characters or is malformed; fix by hand "
                       "(see the remediation)")
