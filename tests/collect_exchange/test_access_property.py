"""Property: for generated tenants and policy sets, the collected AccessCheckResult of every (app, mailbox) is what
Microsoft's access-policy semantics say (docs/microsoft-facts.md), computed here independently; batching never
mixes rows up."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.emulator.tenant import load_tenant
from auditor.models import exchange as ex
from auditor.models.baseline import PolicyConfig
from tests.builders import baseline, integration
from tests.emulator_exchange.helpers import running, tenant_doc

from .support import collect

APPS = ["aaaaaaaa-0000-4000-8000-00000000000a", "bbbbbbbb-0000-4000-8000-00000000000b"]
MAILBOXES = {"m0": "UserMailbox", "m1": "SharedMailbox", "m2": "SharedMailbox", "m3": "UserMailbox",
             "m4": "RoomMailbox"}
GROUPS = ["g0", "g1", "g2"]
SCOPES = [*GROUPS, "m0", "m1", "gone"]
SECURITY_PRINCIPALS = ("MailUniversalSecurityGroup", "UserMailbox")


def address(name: str) -> str:
    return f"{name}@contoso.com"


@st.composite
def tenants(draw: Any) -> dict[str, Any]:
    members = st.lists(st.sampled_from([*MAILBOXES, *GROUPS]), max_size=4, unique=True)
    kinds = st.sampled_from(["MailUniversalSecurityGroup", "MailUniversalDistributionGroup"])
    groups = [{"Name": g, "PrimarySmtpAddress": address(g), "RecipientTypeDetails": draw(kinds),
               "ExternalDirectoryObjectId": f"33333333-cccc-4ccc-8ccc-00000000000{i}",
               "Members": [address(m) for m in draw(members) if m != g]} for i, g in enumerate(GROUPS)]
    policy = st.fixed_dictionaries({"AppId": st.sampled_from([*APPS, "*"]),
                                    "PolicyScopeGroupId": st.sampled_from(SCOPES).map(address),
                                    "AccessRight": st.sampled_from(["RestrictAccess", "DenyAccess"])})
    doc = tenant_doc(bulk=0)
    doc["exchange"] = {
        "mailboxes": [{"Name": m, "PrimarySmtpAddress": address(m), "RecipientTypeDetails": t}
                      for m, t in MAILBOXES.items()],
        "distributionGroups": groups, "applicationAccessPolicies": draw(st.lists(policy, max_size=5))}
    return doc


def expected_access(doc: dict[str, Any], app: str, mailbox: str) -> str:
    """docs/microsoft-facts.md: a matching DenyAccess denies; else a matching RestrictAccess grants; else, if the app
    has any RestrictAccess policy, deny; else grant. Nested groups count; invalid policies take no part."""
    exchange = doc["exchange"]
    kinds = {r["PrimarySmtpAddress"]: r["RecipientTypeDetails"] for r in exchange["mailboxes"]}
    kinds.update({g["PrimarySmtpAddress"]: g["RecipientTypeDetails"] for g in exchange["distributionGroups"]})
    direct = {g["PrimarySmtpAddress"]: g["Members"] for g in exchange["distributionGroups"]}

    def reached(scope: str) -> set[str]:
        seen, todo = set(), [scope]
        while todo:
            for member in direct.get(todo.pop(), []):
                if member not in seen:
                    seen.add(member)
                    todo.append(member)
        return seen

    def matches(p: dict[str, Any]) -> bool:
        return p["PolicyScopeGroupId"] == mailbox or mailbox in reached(p["PolicyScopeGroupId"])

    mine = [p for p in exchange["applicationAccessPolicies"]
            if p["AppId"] in (app, "*") and kinds.get(p["PolicyScopeGroupId"]) in SECURITY_PRINCIPALS]
    if any(p["AccessRight"] == "DenyAccess" and matches(p) for p in mine):
        return "Denied"
    restrict = [p for p in mine if p["AccessRight"] == "RestrictAccess"]
    if any(matches(p) for p in restrict):
        return "Granted"
    return "Denied" if restrict else "Granted"


@settings(max_examples=12, deadline=None)
@given(doc=tenants(), batch_size=st.sampled_from([1, 3, 50]))
def test_collected_access_matches_the_documented_semantics(doc: dict[str, Any], batch_size: int) -> None:
    queues = tuple(address(m) for m in MAILBOXES)
    base = baseline(*(integration(name=f"app {i}", app_id=app, scope_group="", mailboxes=queues)
                      for i, app in enumerate(APPS)), policy=PolicyConfig(canary_sample_size=0))
    with running(load_tenant(copy.deepcopy(doc)), "direct") as (server, _):
        sections, _ = collect(server, base, batch_size=batch_size, pools=2, connect="direct",
                              configuration_name="Microsoft.Exchange")
    tests = sections["exchange.accessTests"]
    assert not tests.item_errors
    got = {(t.app_id, t.identity): t.access_check_result for t in map(ex.parse_access_test, tests.data)}
    assert got == {(app, q): expected_access(doc, app, q) for app in APPS for q in queues}
