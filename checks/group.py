"""GRP checks: the mail-enabled security group that an access policy scopes the app to.

An ApplicationAccessPolicy's scope must be a security principal; a mail-enabled security group
(MailUniversalSecurityGroup) covers its members, nested groups included.
https://learn.microsoft.com/powershell/module/exchange/new-applicationaccesspolicy
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checks import refs
from auditor.checks.base import Result, check, failed, passed, skipped
from auditor.checks.context import Context
from auditor.models.baseline import Integration
from auditor.models.exchange import Group
from auditor.models.findings import Severity

SECURITY_GROUP = "MailUniversalSecurityGroup"


def scope_group(ctx: Context, integration: Integration) -> tuple[Group | None, Result | None]:
    """The scope group, or the SKIP that GRP-002 to GRP-004 give without one."""
    if not integration.scope_group:
        return None, skipped(integration.app_id, "no scope_group in the baseline")
    group = ctx.group(integration.scope_group)
    if group is None:
        return None, skipped(integration.scope_group.lower(), "the scope group does not exist (see GRP-001)")
    return group, None


@check(
    id="GRP-001",
    title="The scope group exists and is a mail-enabled security group",
    severity=Severity.CRITICAL,
    needs=("exchange.recipients", "exchange.groups"),
    rationale="An access policy can only be scoped to a security principal; a distribution group or a deleted "
              "group leaves the policy invalid and the app unrestricted.",
    remediation="New-DistributionGroup -Name <name> -Type Security -PrimarySmtpAddress <address>, add the queue "
                "mailboxes, and re-create the policy against it.",
    references=(refs.NEW_AAP, refs.DISTRIBUTION_GROUPS),
    default_resource="group",
)
def group_is_security_group(ctx: Context, integration: Integration) -> Iterator[Result]:
    if not integration.scope_group:
        yield skipped(integration.app_id, "no scope_group in the baseline")
        return
    address = integration.scope_group.lower()
    group = ctx.group(address)
    if group is None:
        other = ctx.recipient_if_known(address)
        detail = f" (a {other.recipient_type_details} has that address)" if other else ""
        yield failed(address, f"no distribution group {address}{detail}")
        return
    evidence = {"Name": group.recipient.name, "RecipientTypeDetails": group.recipient.recipient_type_details,
                "Guid": group.recipient.guid}
    if group.recipient.recipient_type_details == SECURITY_GROUP:
        yield passed(address, "mail-enabled security group", evidence)
    else:
        yield failed(address, f"is a {group.recipient.recipient_type_details}, not a {SECURITY_GROUP}", evidence)


@check(
    id="GRP-002",
    title="Every queue mailbox is in the scope group",
    severity=Severity.HIGH,
    needs=("exchange.groups",),
    rationale="A queue mailbox outside the scope group is denied to the app: the integration silently stops "
              "reading that queue.",
    remediation="Add-DistributionGroupMember -Identity <scope group> -Member <mailbox>.",
    references=(refs.NEW_AAP, refs.DISTRIBUTION_GROUPS),
)
def queues_in_group(ctx: Context, integration: Integration) -> Iterator[Result]:
    group, skip = scope_group(ctx, integration)
    if skip:
        yield skip
        return
    assert group is not None
    if not integration.mailboxes:
        yield skipped(integration.app_id, "no queue mailboxes in the baseline")
        return
    members, _ = ctx.transitive_members(group)
    addresses = {m.address for m in members}
    for mailbox in integration.mailboxes:
        address = mailbox.lower()
        if address in addresses:
            yield passed(address, f"member of {group.address}")
        else:
            yield failed(address, f"not a member of {group.address}, directly or through nested groups",
                         {"group": group.address})


@check(
    id="GRP-003",
    title="The scope group holds nothing beyond the queue mailboxes",
    severity=Severity.HIGH,
    needs=("exchange.groups",),
    rationale="Every member of the scope group is readable (and writable) by the app: one extra member, say "
              "an executive's mailbox, is a data leak by design.",
    remediation="Remove-DistributionGroupMember -Identity <scope group> -Member <member>; replace nested groups "
                "by their intended mailboxes.",
    references=(refs.NEW_AAP, refs.LIMIT_MAILBOX_ACCESS),
)
def group_has_only_queues(ctx: Context, integration: Integration) -> Iterator[Result]:
    group, skip = scope_group(ctx, integration)
    if skip:
        yield skip
        return
    assert group is not None
    queues = {m.lower() for m in integration.mailboxes}
    members, nested = ctx.transitive_members(group)
    found = False
    for member in members:
        if member.address and member.address in queues:
            continue
        found = True
        yield failed(member.address or member.name,
                     f"{member.recipient_type_details} {member.name} is in the scope group but is no queue mailbox",
                     {"Name": member.name, "RecipientTypeDetails": member.recipient_type_details})
    for inner in nested:
        found = True
        yield failed(inner.address or inner.name, f"nested group {inner.name} widens the scope group",
                     {"Name": inner.name, "RecipientTypeDetails": inner.recipient_type_details})
    if not found:
        yield passed(group.address, "the scope group holds only queue mailboxes", {"members": len(members)})


@check(
    id="GRP-004",
    title="Only approved managers can change the scope group",
    severity=Severity.MEDIUM,
    needs=("exchange.groups", "exchange.recipients"),
    rationale="Whoever can change the scope group decides which mailboxes the app reaches; an open group lets "
              "anyone join and become readable.",
    remediation="Set-DistributionGroup -Identity <group> -MemberJoinRestriction Closed -ManagedBy <approved "
                "managers>.",
    references=(refs.SET_DISTRIBUTION_GROUP, refs.DISTRIBUTION_GROUPS),
    default_resource="group",
)
def group_managed(ctx: Context, integration: Integration) -> Iterator[Result]:
    group, skip = scope_group(ctx, integration)
    if skip:
        yield skip
        return
    assert group is not None
    problems = []
    if group.member_join_restriction.lower() != "closed":
        problems.append(f"MemberJoinRestriction is {group.member_join_restriction}, not Closed")
    unapproved = []
    if integration.group_managers is not None:
        approved = {m.lower() for m in integration.group_managers}
        for entry in group.managed_by:
            resolved = ctx.recipient(entry, required=True)
            names = {entry.lower()} | ({resolved.address, resolved.name.lower()} if resolved else set())
            if not names & approved:
                unapproved.append(entry)
    if unapproved:
        problems.append(f"ManagedBy includes unapproved {', '.join(unapproved)}")
    evidence = {"MemberJoinRestriction": group.member_join_restriction, "ManagedBy": list(group.managed_by),
                "approved": list(integration.group_managers) if integration.group_managers is not None else None}
    if problems:
        yield failed(group.address, "; ".join(problems), evidence)
    else:
        yield passed(group.address, "closed to joins; managed by approved managers only", evidence)
