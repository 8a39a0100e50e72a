"""The evaluation context: typed, indexed, strictly-parsed views of one snapshot plus the baseline.

Every accessor names the section it reads; the engine records those names as each finding's provenance.
A section that is missing, `error` or `not_collected`, or an item that was never asked for, raises
SectionUnavailable (the engine turns it into ERROR, or SKIP when Exchange collection is switched off).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from auditor.checks.base import SectionUnavailable
from auditor.checks.indexed import Indexed
from auditor.models import exchange as ex
from auditor.models import graph as gr
from auditor.models.baseline import Baseline, Integration
from auditor.models.parsing import DataError
from auditor.models.snapshot import Section, SectionStatus, Snapshot

GROUP_TYPES_SUFFIX = "Group"  # MailUniversalSecurityGroup, MailUniversalDistributionGroup, MailNonUniversalGroup


def is_group_type(recipient_type_details: str) -> bool:
    return recipient_type_details.endswith(GROUP_TYPES_SUFFIX) or recipient_type_details == "RoomList"


def item_key(app_id: str, address: str) -> str:
    return f"{app_id.lower()}|{address.lower()}"


class Context(Indexed):
    def __init__(self, snapshot: Snapshot, baseline: Baseline) -> None:
        self.snapshot = snapshot
        self.baseline = baseline
        self.now: datetime = snapshot.collected_at
        self.policy = baseline.policy
        self.tenant_id = snapshot.tenant_id.lower()
        self.touched: dict[str, str] = {}
        self._cache: dict[str, Any] = {}

    # -- sections -------------------------------------------------------------------------------

    def section(self, name: str) -> Section:
        sec = self.snapshot.section(name)
        self.touched[name] = sec.source if sec else ""
        if sec is not None and sec.status is SectionStatus.OK:
            return sec
        # The canaries come from Exchange's mailbox pool: off with the rest of Exchange.
        exchange_data = name.startswith("exchange.") or name == "canaries"
        off = exchange_data and self.snapshot.collection.get("exchange_transport") == "none"
        if off:
            raise SectionUnavailable(name, 'Exchange collection is switched off ([exchange] transport = "none")',
                                     skip=True)
        if sec is None:
            raise SectionUnavailable(name, "not in the snapshot")
        if sec.status is SectionStatus.ERROR:
            raise SectionUnavailable(name, f"collection failed: {sec.error or 'no reason recorded'}")
        raise SectionUnavailable(name, f"not collected{': ' + sec.error if sec.error else ''}")

    def item_error(self, name: str, key: str) -> str | None:
        """The error a collector recorded for one item of a section, if any."""
        return self._lowered(self.section(name))[1].get(key.lower())

    def _require_queried(self, name: str, key: str, what: str) -> Section:
        sec = self.section(name)
        queried, errors = self._lowered(sec)
        if key.lower() in errors:  # a failed item is not in `queried` either; its reason is what the user needs
            raise SectionUnavailable(name, f"{what}: {errors[key.lower()]}")
        if queried is not None and key.lower() not in queried:
            raise SectionUnavailable(name, f"{what} was not collected")
        return sec

    # -- Graph ----------------------------------------------------------------------------------

    def resources(self) -> list[gr.ResourcePrincipal]:
        return self._parsed("graph.resources", gr.parse_resource)

    def resource_by_id(self, object_id: str) -> gr.ResourcePrincipal | None:
        return self._first("resource_by_id", "graph.resources", gr.parse_resource, lambda r: (r.id,)).get(
            object_id.lower())

    def resource_by_app_id(self, app_id: str) -> gr.ResourcePrincipal | None:
        return self._first("resource_by_app", "graph.resources", gr.parse_resource, lambda r: (r.app_id,)).get(
            app_id.lower())

    def resource_by_name(self, name: str) -> gr.ResourcePrincipal | None:
        """A baseline resource prefix: the resource's displayName (case-insensitive) or appId."""
        return self._first("resource_by_name", "graph.resources", gr.parse_resource,
                           lambda r: (r.app_id, r.display_name.lower())).get(name.strip().lower())

    def service_principals(self) -> list[gr.ServicePrincipal]:
        sec = self.section("graph.servicePrincipals")
        if sec.queried is not None:
            raise SectionUnavailable("graph.servicePrincipals", "only looked up by app id, not listed in full")
        return self._parsed("graph.servicePrincipals", gr.parse_service_principal)

    def service_principal(self, app_id: str) -> gr.ServicePrincipal | None:
        self._require_queried("graph.servicePrincipals", app_id, f"service principal of app {app_id}")
        sps = self._index("sp_by_app", "graph.servicePrincipals", gr.parse_service_principal, lambda s: s.app_id)
        return sps.get(app_id.lower())

    def applications(self) -> list[gr.Application]:
        sec = self.section("graph.applications")
        if sec.queried is not None:
            raise SectionUnavailable("graph.applications", "only looked up by app id, not listed in full")
        return self._parsed("graph.applications", gr.parse_application)

    def application(self, app_id: str) -> gr.Application | None:
        self._require_queried("graph.applications", app_id, f"application object of app {app_id}")
        apps = self._index("app_by_app", "graph.applications", gr.parse_application, lambda a: a.app_id)
        return apps.get(app_id.lower())

    def assignments_held_by(self, sp_id: str) -> list[gr.AppRoleAssignment]:
        """Every app role granted to this service principal (needs its own client-side listing)."""
        self._require_queried("graph.appRoleAssignments", f"principal:{sp_id}", f"app role assignments of {sp_id}")
        return self._in_order(self._every("assignments_by_principal", "graph.appRoleAssignments",
                                          gr.parse_assignment, lambda a: a.principal_id).get(sp_id))

    def assignments_on(self, resource: gr.ResourcePrincipal) -> list[gr.AppRoleAssignment]:
        """Every app role granted on this resource (the resource-side appRoleAssignedTo listing)."""
        self._require_queried("graph.appRoleAssignments", f"resource:{resource.id}",
                              f"app role assignments on {resource.display_name}")
        return self._in_order(self._every("assignments_by_resource", "graph.appRoleAssignments",
                                          gr.parse_assignment, lambda a: a.resource_id).get(resource.id))

    def grants_by_client(self, sp_id: str) -> list[gr.PermissionGrant]:
        self._require_queried("graph.oauth2PermissionGrants", sp_id, f"delegated grants of {sp_id}")
        return self._in_order(self._every("grants_by_client", "graph.oauth2PermissionGrants", gr.parse_grant,
                                          lambda g: g.client_id).get(sp_id))

    def user_for_address(self, address: str) -> gr.User | None:
        """The Entra user behind a mailbox: `mail` or `userPrincipalName` equal to the address."""
        self._require_queried("graph.users", address, f"Entra user for {address}")
        return self._first("user_by_address", "graph.users", gr.parse_user,
                           lambda u: ((u.mail or "").lower(), u.user_principal_name.lower())).get(address.lower())

    # -- Exchange -------------------------------------------------------------------------------

    def policies(self) -> list[ex.AccessPolicy]:
        return self._parsed("exchange.applicationAccessPolicies", ex.parse_policy)

    def recipient(self, identity: str, required: bool = False) -> ex.Recipient | None:
        """Get-Recipient's answer for an identity (address, name or GUID); None when not found.

        An identity never asked for is None too, unless `required`: then it is a collection gap (ERROR)."""
        queried = self._lowered(self.section("exchange.recipients"))[0]
        if queried is not None and identity.lower() not in queried:
            if required:
                raise SectionUnavailable("exchange.recipients", f"Get-Recipient was not run for {identity!r}")
            return None
        return self._first("recipient_by_identity", "exchange.recipients", ex.parse_recipient, lambda r: (
            r.address, r.guid, r.name.lower(), r.external_directory_object_id or "")).get(identity.lower())

    def groups(self) -> list[ex.Group]:
        return self._parsed("exchange.groups", ex.parse_group)

    def group(self, address: str) -> ex.Group | None:
        self._require_queried("exchange.groups", address, f"group {address}")
        return self._first("group_by_address", "exchange.groups", ex.parse_group, lambda g: (g.address,)).get(
            address.lower())

    def _group_for_member(self, member: ex.Recipient) -> ex.Group:
        by_guid = self._every("groups_by_guid", "exchange.groups", ex.parse_group, lambda g: g.recipient.guid)
        by_address = self._every("groups_by_address", "exchange.groups", ex.parse_group, lambda g: g.address)
        found = self._in_order(by_guid.get(member.guid), by_address.get(member.address) if member.address else None)
        if found:
            return found[0]
        raise DataError(f"exchange.groups: members of nested group {member.address or member.name} were not collected")

    def transitive_members(self, group: ex.Group) -> tuple[list[ex.Recipient], list[ex.Recipient]]:
        """(non-group members, nested groups) reached from `group`, nested groups expanded, cycles cut.

        Access policies count members of nested groups:
        https://learn.microsoft.com/powershell/module/exchange/new-applicationaccesspolicy
        """
        members: dict[str, ex.Recipient] = {}
        nested: dict[str, ex.Recipient] = {}
        seen = {group.recipient.guid}
        queue = [group]
        while queue:
            current = queue.pop(0)
            for m in current.members:
                if is_group_type(m.recipient_type_details):
                    if m.guid in seen:
                        continue
                    seen.add(m.guid)
                    nested[m.guid] = m
                    queue.append(self._group_for_member(m))
                else:
                    members.setdefault(m.guid, m)
        return list(members.values()), list(nested.values())

    def mailbox(self, address: str) -> ex.Recipient | None:
        self._require_queried("exchange.mailboxes", address, f"mailbox {address}")
        return self._first("mailbox_by_address", "exchange.mailboxes", ex.parse_recipient, lambda m: (m.address,)).get(
            address.lower())

    def access_test(self, app_id: str, address: str) -> ex.AccessTest:
        key = item_key(app_id, address)
        self._require_queried("exchange.accessTests", key, f"Test-ApplicationAccessPolicy for {address}")
        test = self._first("access_tests", "exchange.accessTests", ex.parse_access_test,
                           lambda t: ((t.app_id, t.identity),)).get((app_id.lower(), address.lower()))
        if test is not None:
            return test
        raise DataError(f"exchange.accessTests: no result for app {app_id} and mailbox {address}")

    def exo_service_principals(self) -> list[ex.ExoServicePrincipal]:
        return self._parsed("exchange.servicePrincipals", ex.parse_exo_service_principal)

    def exo_service_principal(self, app_id: str) -> ex.ExoServicePrincipal | None:
        return self._first("exo_sp_by_app", "exchange.servicePrincipals", ex.parse_exo_service_principal,
                           lambda s: (s.app_id,)).get(app_id.lower())

    def role_assignments_for(self, app_id: str) -> list[ex.RoleAssignment]:
        """RBAC for Applications assignments whose assignee is the app's Exchange service principal."""
        sp = self.exo_service_principal(app_id)
        if sp is None:
            return []
        by_assignee = self._every("roles_by_assignee", "exchange.roleAssignments", ex.parse_role_assignment,
                                  lambda a: a.role_assignee)
        return self._in_order(by_assignee.get(sp.object_id), by_assignee.get(sp.app_id))

    def policies_naming(self, app_id: str) -> list[ex.AccessPolicy]:
        """The policies whose AppId is `app_id` (as given) or the wildcard `*`, in section order."""
        by_app = self._every("policies_by_app", "exchange.applicationAccessPolicies", ex.parse_policy,
                             lambda p: p.app_id)
        return self._in_order(by_app.get(app_id), by_app.get("*"))

    def authorization_test(self, app_id: str, address: str) -> ex.AuthorizationTest:
        key = item_key(app_id, address)
        self._require_queried("exchange.authorizationTests", key, f"Test-ServicePrincipalAuthorization for {address}")
        test = self._first("authorization_tests", "exchange.authorizationTests", ex.parse_authorization_test,
                           lambda t: ((t.app_id, t.resource),)).get((app_id.lower(), address.lower()))
        if test is not None:
            return test
        raise DataError(f"exchange.authorizationTests: no result for app {app_id} and mailbox {address}")

    def canaries(self, integration: Integration) -> list[str]:
        """Explicit, sampled and scope canaries (the actual scope's non-queue mailboxes), as chosen at
        collection time; snapshots from before scope canaries have none."""
        sec = self.section("canaries")
        if not isinstance(sec.data, dict):
            raise DataError("canaries: data is not an object")
        entry = sec.data.get(integration.app_id.lower())
        if entry is None:
            raise SectionUnavailable("canaries", f"no canaries were chosen for app {integration.app_id}")
        if not isinstance(entry, dict):
            raise DataError(f"canaries.{integration.app_id}: not an object")
        for key in ("explicit", "sampled"):
            if not isinstance(entry.get(key), list) or not all(isinstance(c, str) for c in entry[key]):
                raise DataError(f"canaries.{integration.app_id}.{key}: missing, or not a list of addresses")
        scope = entry.get("scope") or []
        if not isinstance(scope, list) or not all(isinstance(c, str) for c in scope):
            raise DataError(f"canaries.{integration.app_id}.scope: not a list of addresses")
        return list(dict.fromkeys(c.lower() for c in [*entry["explicit"], *entry["sampled"], *scope]))

    def recipient_if_known(self, identity: str) -> ex.Recipient | None:
        """Like recipient(), but None when exchange.recipients is unavailable: for wording messages only."""
        try:
            return self.recipient(identity)
        except (SectionUnavailable, DataError):
            return None
