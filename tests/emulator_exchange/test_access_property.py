"""Property test: the access-policy evaluation against an independent, straightforward reimplementation."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.emulator.exchange.access import check_access, load_policies
from auditor.emulator.exchange.directory import Directory

TENANT = "5f0e0a6b-1111-4222-8333-944445555666"
MAILBOXES = [("m0", "UserMailbox"), ("m1", "SharedMailbox"), ("m2", "SharedMailbox"), ("m3", "MailUser")]
GROUP_NAMES = ["g0", "g1", "g2"]
APPS = ["app-a", "app-b"]
SCOPES = [*GROUP_NAMES, "m0", "m1", "m3", "gone"]


def _address(name: str) -> str:
    return f"{name}@contoso.com"


@st.composite
def tenants(draw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    members = st.lists(st.sampled_from([m for m, _ in MAILBOXES] + GROUP_NAMES), max_size=4, unique=True)
    group_types = st.sampled_from(["MailUniversalSecurityGroup", "MailUniversalDistributionGroup"])
    groups = [
        {
            "Name": g,
            "PrimarySmtpAddress": _address(g),
            "RecipientTypeDetails": draw(group_types),
            "Members": [_address(m) for m in draw(members) if m != g],
        }
        for g in GROUP_NAMES
    ]
    mailboxes = [{"Name": m, "PrimarySmtpAddress": _address(m), "RecipientTypeDetails": t} for m, t in MAILBOXES]
    policy = st.fixed_dictionaries(
        {
            "AppId": st.sampled_from([*APPS, "*"]),
            "PolicyScopeGroupId": st.sampled_from(SCOPES).map(_address),
            "AccessRight": st.sampled_from(["RestrictAccess", "DenyAccess"]),
        }
    )
    return mailboxes, groups, draw(st.lists(policy, max_size=5))


def reference_access(
    mailboxes: list[dict[str, Any]],
    groups: list[dict[str, Any]],
    policies: list[dict[str, Any]],
    app: str,
    mailbox: str,
) -> str:
    """Straight from the documented rules, written without looking at access.py."""
    types = {r["PrimarySmtpAddress"]: r["RecipientTypeDetails"] for r in mailboxes + groups}
    direct = {g["PrimarySmtpAddress"]: set(g["Members"]) for g in groups}

    def everyone_in(group: str, seen: frozenset[str] = frozenset()) -> set[str]:
        found: set[str] = set()
        for member in direct.get(group, set()):
            if member in seen:
                continue
            found.add(member)
            found |= everyone_in(member, seen | {group})
        return found

    def matches(policy: dict[str, Any]) -> bool:
        scope = policy["PolicyScopeGroupId"]
        return scope == mailbox or mailbox in everyone_in(scope)

    mine = [
        p
        for p in policies
        if p["AppId"] in (app, "*")
        and types.get(p["PolicyScopeGroupId"]) in ("MailUniversalSecurityGroup", "UserMailbox", "MailUser")
    ]
    if any(p["AccessRight"] == "DenyAccess" and matches(p) for p in mine):
        return "Denied"
    restricting = [p for p in mine if p["AccessRight"] == "RestrictAccess"]
    if any(matches(p) for p in restricting):
        return "Granted"
    return "Denied" if restricting else "Granted"


@settings(max_examples=300, deadline=None)
@given(tenants())
def test_access_matches_reference(tenant: tuple[list[dict[str, Any]], ...]) -> None:
    mailboxes, groups, raw_policies = tenant
    directory = Directory(TENANT, mailboxes, groups)
    policies = load_policies(raw_policies, directory)
    for app in APPS:
        for mailbox in directory.mailboxes:
            expected = reference_access(mailboxes, groups, raw_policies, app, mailbox.primary_smtp_address)
            assert check_access(policies, directory, app, mailbox) == expected, (app, mailbox.name)
