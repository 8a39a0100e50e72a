"""The fewest requests a collection can make for a tenant and baseline, given page sizes and batch limits.

The reads are those docs/snapshot.md lists for a sweep; each is counted at its cheapest:
- Graph lists page at most 999 objects (`$top=999`), and every list needs at least one request, even an
  empty one. Small reads (one resource's appRoles, one integration's owners, grants or assignments, one
  `in (...)` look-up of at most 15 addresses) ride in `$batch` requests of at most 20.
- Exchange: a runspace pool costs Create + one Receive (its opening handshake) + Connect-ExchangeOnline
  (Command + Receive) + Delete; `[exchange] pools` of them are opened (parallelism is configuration, not
  waste). A pipeline costs one Command plus enough Receives to carry its output: one for small outputs,
  ceil(bytes / what one 500 KiB envelope carries) for the mailbox listing. The listing is
  `Get-EXOMailbox -ResultSize Unlimited -PropertySets Minimum -Properties ExchangeGuid,Sid` as the collector
  asks it: one pipeline (`[exchange] listing = "plain"`), or one per partition filter ("partitioned",
  auditor/collect/listing.py: ten classes of Name's last character and their complement). A partitioned
  listing costs one Command per partition and, per partition, its own Receives: its bytes rounded up to whole
  envelopes, so at most one Command and one Receive more per partition than the single pipeline (eleven
  partitions: at most 22 requests more), which is the price of receiving them side by side.
  The bound before issue 17 counted the bytes of `Get-Mailbox` (every property), more than the collector
  receives, so a run could come in under it. Statements whose rows name their input (Get-Mailbox,
  Get-Recipient, Get-DistributionGroup and Test-ApplicationAccessPolicy -Identity) share pipelines, 50 per
  pipeline; Get-DistributionGroupMember's rows do not, but each group's members followed by the group's own row
  (a marker) do: 25 groups per pipeline, per breadth-first level of nesting (auditor/collect/group_members.py);
  Test-ServicePrincipalAuthorization's rows name nothing, one pipeline each.
- The actual scope (issue 13): the groups valid access policies target that the scope groups' expansion did
  not read, and the nested groups below them, level by level, 25 groups per Get-DistributionGroupMember
  pipeline; each RBAC group scope not read already costs a pipeline of its own; each management scope an
  assignment uses costs one `Get-Recipient -RecipientPreviewFilter` pipeline. Scope canaries (the actual
  scope beyond the queues, the explicit and the sampled canaries, at most `scope_canary_limit`) are probed
  like sampled ones; the count leaves out as many as were sampled, so the bound never exceeds what a run must
  send.
- Entra: msal's discovery of the token endpoint, one Graph token and one Exchange token.
"""

from __future__ import annotations

import math
from typing import Any

from auditor.collect.canaries import POOL_TYPES
from auditor.collect.group_members import GROUPS_PER_PIPELINE
from auditor.emulator.exchange import opath
from auditor.models.baseline import Baseline

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
PAGE = 999  # Graph's largest $top for directory objects
BATCH = 20  # Graph's $batch limit
IN_VALUES = 15  # Graph's limit on values in one `in (...)` filter
STATEMENTS = 50  # statements per pipeline for look-ups and tests
MEMBER_GROUPS = GROUPS_PER_PIPELINE  # groups whose members share a pipeline (a marker statement each)
ENVELOPE = 512_000  # pypsrp's MaxEnvelopeSize once the server speaks PSRP 2.2 (WinRM's default limit)
RECEIVE_PAYLOAD = (ENVELOPE - 2048) * 3 // 4  # raw PSRP bytes per Receive once base64-encoded in the envelope
POOL_COST = 5  # Create, Receive (opening), Command + Receive (Connect-ExchangeOnline), Delete
MESSAGE_OVERHEAD = 40 + 21  # PSRP message header (destination, type, pool and pipeline ids) + fragment header


def pages(count: int) -> int:
    return max(1, math.ceil(count / PAGE))


def lower_bound(doc: dict[str, Any], baseline: Baseline, listing_bytes: list[int]) -> dict[str, Any]:
    """{"graph", "wsman", "entra", "total", "detail"}; `doc` is the loaded tenant (built-ins added),
    `listing_bytes` the PSRP bytes (messages with their headers) of each pipeline of the mailbox listing."""
    graph = _graph(doc, baseline)
    wsman = _wsman(doc, baseline, listing_bytes)
    entra = 3
    return {"graph": graph["total"], "wsman": wsman["total"], "entra": entra,
            "total": graph["total"] + wsman["total"] + entra, "detail": {"graph": graph, "wsman": wsman}}


def _graph(doc: dict[str, Any], baseline: Baseline) -> dict[str, int]:
    g = doc["graph"]
    sps = {sp["id"].lower(): sp for sp in g["servicePrincipals"]}
    by_app = {sp["appId"].lower(): sp for sp in g["servicePrincipals"]}
    apps = {a["appId"].lower(): a for a in g["applications"]}
    resource_ids = {app_id: (by_app.get(app_id) or {}).get("id", "").lower() for app_id in (GRAPH_APP_ID,
                                                                                           EXCHANGE_APP_ID)}
    on = {app_id: sum(a["resourceId"].lower() == rid for a in g["appRoleAssignments"])
          for app_id, rid in resource_ids.items()}
    ours = [i.app_id.lower() for i in baseline.integrations]
    with_sp = [sps_id for a in ours if (sps_id := (by_app.get(a) or {}).get("id", "").lower())]
    other_resources = {a["resourceId"].lower() for a in g["appRoleAssignments"] if a["principalId"].lower()
                       in with_sp} | {sps_id for a in ours if a in apps for r in apps[a]["requiredResourceAccess"]
                                      if (sps_id := (by_app.get(r["resourceAppId"].lower()) or {}).get("id"))}
    other_resources -= set(resource_ids.values())
    addresses = {a.lower() for i in baseline.integrations for a in (*i.mailboxes, *i.canaries)}
    user_items = 2 * math.ceil(len(addresses) / IN_VALUES)  # `mail in (...)` and `userPrincipalName in (...)`
    small = (len([r for r in resource_ids.values() if r]) + len(other_resources & set(sps))
             + sum(a in apps for a in ours) + len(with_sp) + user_items)  # appRoles, owners, assignments, users
    # Delegated grants: per integration (one batch item each) or the whole tenant's list, whichever is cheaper.
    grants = min(math.ceil((small + len(with_sp)) / BATCH),
                 math.ceil(small / BATCH) + pages(len(g["oauth2PermissionGrants"])))
    detail = {"servicePrincipals": pages(len(sps)), "applications": pages(len(apps)),
              "appRoleAssignedTo": sum(pages(on[a]) for a, rid in resource_ids.items() if rid),
              "batched_reads": grants}
    return {**detail, "total": sum(detail.values())}


def _wsman(doc: dict[str, Any], baseline: Baseline, listing_bytes: list[int]) -> dict[str, int]:
    ex = doc["exchange"]
    mailboxes = {m["PrimarySmtpAddress"].lower(): m for m in ex["mailboxes"]}
    groups = {g["PrimarySmtpAddress"].lower(): g for g in ex["distributionGroups"]}
    pool = [m for m in mailboxes.values() if m.get("RecipientTypeDetails", "UserMailbox") in POOL_TYPES]
    pipelines, receives = 0, 0

    def pipeline(count: int = 1, out_bytes: int = 0) -> None:
        nonlocal pipelines, receives
        pipelines += count
        receives += count * max(1, math.ceil(out_bytes / RECEIVE_PAYLOAD))

    for _ in range(4):  # policies, management scopes, service principals, role assignments
        pipeline()
    for part in listing_bytes:  # the canary pool: one pipeline, or one per partition
        pipeline(1, part)
    scope = sorted({i.scope_group.lower() for i in baseline.integrations if i.scope_group})
    level, seen, managers = scope, set(), set()
    while level:  # Get-DistributionGroup per breadth-first level (batched), its members one group at a time
        pipeline(math.ceil(len(level) / STATEMENTS))
        found = [groups[a] for a in level if a in groups and a not in seen]
        seen |= {g["PrimarySmtpAddress"].lower() for g in found}
        pipeline(math.ceil(len(found) / MEMBER_GROUPS))  # their members, batched with a marker per group
        managers |= {str(m).lower() for g in found for m in g.get("ManagedBy") or ()}
        level = sorted({m.lower() for g in found for m in g["Members"] if m.lower() in groups} - seen)
    lookups = {a.lower() for i in baseline.integrations for a in (*i.mailboxes, *i.canaries)}
    pipeline(math.ceil(len(lookups) / STATEMENTS))  # Get-Mailbox -Identity
    recipients = set(scope) | {str(p["PolicyScopeGroupId"]).lower() for p in ex["applicationAccessPolicies"]}
    pipeline(math.ceil(len(recipients | managers) / STATEMENTS))  # Get-Recipient -Identity
    expanded, previews = _scope_reads(ex, groups, seen)
    pipeline(expanded + previews)  # members of policy and RBAC group scopes; one preview per management scope
    probes, rbac_probes = _probes(baseline, doc, groups, len(pool))
    pipeline(math.ceil(probes / STATEMENTS))  # Test-ApplicationAccessPolicy
    pipeline(rbac_probes)  # Test-ServicePrincipalAuthorization
    pools = max(1, baseline.exchange.pools)
    detail = {"pools": pools * POOL_COST, "Command": pipelines, "Receive": receives}
    return {**detail, "total": sum(detail.values())}


def _probes(baseline: Baseline, doc: dict[str, Any], groups: dict[str, Any], pool_size: int) -> tuple[int, int]:
    """Test-ApplicationAccessPolicy probes (queues, explicit and sampled canaries of every integration) and
    how many of them Test-ServicePrincipalAuthorization also runs for (apps with RBAC assignments)."""
    ex = doc["exchange"]
    assignees = {str(a.get("App") or "").lower() for a in ex["managementRoleAssignments"]}
    rbac_apps = {str(sp["AppId"]).lower() for sp in ex["servicePrincipals"]
                 if {str(sp["ObjectId"]).lower(), str(sp["AppId"]).lower()} & assignees}
    size = baseline.policy.canary_sample_size
    probes = rbac = 0
    for i in baseline.integrations:
        own = {a.lower() for a in (*i.mailboxes, *i.canaries)}
        members = len(groups.get(i.scope_group.lower(), {}).get("Members", ())) if i.scope_group else 0
        sampled = max(0, min(size, pool_size - len(own) - members))
        reach = _reach(i.app_id.lower(), i.access_model, ex, groups)
        scope = max(0, min(baseline.policy.scope_canary_limit, len(reach - own) - sampled))
        count = len(own) + sampled + scope
        probes += count
        if i.access_model == "rbac" or i.app_id.lower() in rbac_apps:
            rbac += count
    return probes, rbac


def _valid_groups(ex: dict[str, Any], groups: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(AppId, AccessRight, group address) of every policy whose scope is a mail-enabled security group."""
    return [(str(p["AppId"]).lower(), str(p.get("AccessRight") or "RestrictAccess"), g)
            for p in ex["applicationAccessPolicies"] if (g := str(p["PolicyScopeGroupId"]).lower()) in groups
            and groups[g].get("RecipientTypeDetails") == "MailUniversalSecurityGroup"]


def _scope_reads(ex: dict[str, Any], groups: dict[str, Any], read: set[str]) -> tuple[int, int]:
    """(member pipelines, preview pipelines) the actual scope adds to what the scope groups' expansion read."""
    level, expanded, batches = sorted({g for _, _, g in _valid_groups(ex, groups)} - read), set(), 0
    while level:  # breadth first, each level's groups batched (auditor/collect/group_members.py)
        expanded |= set(level)
        batches += math.ceil(len(level) / MEMBER_GROUPS)
        level = sorted({m.lower() for g in level for m in groups[g]["Members"] if m.lower() in groups}
                       - read - expanded)
    direct = {str(a["RecipientGroupScope"]).lower() for a in ex["managementRoleAssignments"]
              if a.get("RecipientGroupScope")} - read - expanded
    scopes = {str(a["CustomResourceScope"]).lower() for a in ex["managementRoleAssignments"]
              if a.get("CustomResourceScope")}
    return batches + len(direct), len(scopes)


def _transitive(groups: dict[str, Any], address: str) -> set[str]:
    found, seen, queue = set(), {address}, [address]
    while queue:
        for member in groups[queue.pop()]["Members"]:
            member = member.lower()
            if member in groups:
                if member not in seen:
                    seen.add(member)
                    queue.append(member)
            else:
                found.add(member)
    return found


def _reach(app: str, model: str, ex: dict[str, Any], groups: dict[str, Any]) -> set[str]:
    """The mailboxes an integration's scope canaries come from (see auditor/collect/actual_scope.py)."""
    pool = {str(m["PrimarySmtpAddress"]).lower(): m for m in ex["mailboxes"]
            if m.get("RecipientTypeDetails", "UserMailbox") in POOL_TYPES}
    mine = [(right, g) for a, right, g in _valid_groups(ex, groups) if a in (app, "*")]
    deny = set().union(*(_transitive(groups, g) for right, g in mine if right == "DenyAccess"))
    restrict = [g for right, g in mine if right == "RestrictAccess"]
    policy = (set().union(*(_transitive(groups, g) for g in restrict)) & set(pool)) if restrict else set(pool)
    objects = {str(sp["ObjectId"]).lower() for sp in ex["servicePrincipals"] if str(sp["AppId"]).lower() == app}
    scopes = {str(s["Name"]).lower(): s for s in ex["managementScopes"]}
    rbac: set[str] = set()
    for a in ex["managementRoleAssignments"]:
        if str(a.get("App") or "").lower() not in objects:
            continue
        if a.get("CustomResourceScope"):
            node = opath.parse(scopes[str(a["CustomResourceScope"]).lower()]["RecipientRestrictionFilter"])
            rbac |= {k for k, m in pool.items() if node.evaluate(lambda prop, m=m: str(m.get(prop) or ""))}
        elif a.get("RecipientGroupScope"):
            group = groups.get(str(a["RecipientGroupScope"]).lower(), {"Members": []})
            rbac |= {m.lower() for m in group["Members"]} & set(pool)
        else:
            rbac |= set(pool)
    if model == "rbac" and not restrict:
        return rbac
    return (policy - deny) | rbac
