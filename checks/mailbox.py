"""MBX checks: the queue mailboxes themselves."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checks import refs
from auditor.checks.base import Result, check, each_queue, errored, failed, passed, skipped
from auditor.checks.context import Context
from auditor.models.baseline import Integration
from auditor.models.findings import Severity

SHARED = "SharedMailbox"


@check(
    id="MBX-001",
    title="Every queue mailbox exists and is a shared mailbox",
    severity=Severity.MEDIUM,
    needs=("exchange.mailboxes",),
    rationale="A queue should be a shared mailbox: it needs no licence and no one signs in to it; a user "
              "mailbox as a queue is a person's mail exposed to the integration.",
    remediation="New-Mailbox -Shared -Name <queue> -PrimarySmtpAddress <address>, or convert it: "
                "Set-Mailbox <address> -Type Shared.",
    references=(refs.SHARED_MAILBOXES,),
)
def queues_are_shared(ctx: Context, integration: Integration) -> Iterator[Result]:
    def judge(address: str) -> Result:
        mailbox = ctx.mailbox(address)
        if mailbox is None:
            return failed(address, "no such mailbox")
        evidence = {"Name": mailbox.name, "RecipientTypeDetails": mailbox.recipient_type_details,
                    "Guid": mailbox.guid}
        if mailbox.recipient_type_details != SHARED:
            return failed(address, f"is a {mailbox.recipient_type_details}, not a {SHARED}", evidence)
        return passed(address, "shared mailbox", evidence)

    return each_queue(integration, judge)


@check(
    id="MBX-002",
    title="Sign-in is blocked for every queue mailbox's account",
    severity=Severity.MEDIUM,
    needs=("exchange.mailboxes", "graph.users"),
    rationale="Every shared mailbox has an Entra user; if sign-in is allowed, anyone who sets its password "
              "reads the queue directly, outside the integration.",
    remediation="Block sign-in: Update-MgUser -UserId <address> -AccountEnabled:$false, or Microsoft 365 admin "
                "center > Users > Block sign-in.",
    references=(refs.SHARED_MAILBOXES,),
)
def queue_sign_in_blocked(ctx: Context, integration: Integration) -> Iterator[Result]:
    def judge(address: str) -> Result:
        if ctx.mailbox(address) is None:
            return skipped(address, "no such mailbox (see MBX-001)")
        user = ctx.user_for_address(address)
        if user is None:
            return errored(address, "no Entra user has this mail or userPrincipalName")
        evidence = {"userPrincipalName": user.user_principal_name, "accountEnabled": user.account_enabled}
        if user.account_enabled:
            return failed(address, f"sign-in is allowed for {user.user_principal_name}", evidence)
        return passed(address, "sign-in is blocked", evidence)

    return each_queue(integration, judge)
