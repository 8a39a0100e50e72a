"""The synthetic tenant itself (benchmarks/generate.py describes its distributions and writes the files)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

GRAPH = "00000003-0000-0000-c000-000000000000"
EXO = "00000002-0000-0ff1-ce00-000000000000"
MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
DOMAIN = "fabrikam-bench.com"
HARMLESS = ("User.Read.All", "Group.Read.All", "GroupMember.Read.All", "Directory.Read.All", "Organization.Read.All",
            "Files.ReadWrite.All", "Sites.FullControl.All", "Application.Read.All", "RoleManagement.Read.Directory")
MAILBOX_DATA = ("Mail.Read", "Mail.ReadWrite", "Mail.Send", "Calendars.Read", "Calendars.ReadWrite", "Contacts.Read",
                "MailboxSettings.Read", "Mail.ReadBasic.All")
TAKEOVER = ("Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "RoleManagement.ReadWrite.Directory",
            "Directory.ReadWrite.All", "User.ReadWrite.All", "Group.ReadWrite.All")
AUDITOR_ROLES = ((GRAPH, "Directory.Read.All"), (EXO, "Exchange.ManageAsApp"))  # the README's set
DELEGATED = ("User.Read", "openid profile User.Read", "Mail.Read User.Read", "Files.Read.All offline_access")
SECRET = "bench-only-auditor-secret-5b2f"
JUMP_PASSWORD = "bench-only-jump-password-91c3"


@dataclass(frozen=True)
class Sizes:
    service_principals: int
    mailboxes: int
    integrations: int
    seed: int = 1


class TenantBuilder:
    def __init__(self, sizes: Sizes) -> None:
        if sizes.service_principals < sizes.integrations + 1:
            raise ValueError("need at least one service principal per integration, plus the auditor's own")
        if sizes.mailboxes < 6 * sizes.integrations + 20:
            raise ValueError("need at least 6 mailboxes per integration, plus 20")
        self.sizes, self.rng = sizes, random.Random(sizes.seed)
        self.tenant_id = self.uid()
        self.g: dict[str, list[Any]] = {k: [] for k in ("applications", "servicePrincipals", "appRoleAssignments",
                                                         "oauth2PermissionGrants", "users")}
        self.x: dict[str, list[Any]] = {k: [] for k in ("mailboxes", "distributionGroups", "applicationAccessPolicies",
                                                         "servicePrincipals", "managementScopes",
                                                         "managementRoleAssignments")}
        self.people: list[dict[str, Any]] = []  # user-mailbox users: owners, canaries, group members
        self.integrations: list[dict[str, Any]] = []

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # -- directory ---------------------------------------------------------------------------------

    def mailbox(self, name: str, kind: str, enabled: bool, **extra: Any) -> str:
        address = f"{name}@{DOMAIN}"
        user = {"id": self.uid(), "displayName": name.replace("-", " ").title(), "userPrincipalName": address,
                "mail": address, "accountEnabled": enabled, "userType": "Member"}
        self.g["users"].append(user)
        self.x["mailboxes"].append({"Name": name, "DisplayName": user["displayName"], "Alias": name,
                                    "PrimarySmtpAddress": address, "RecipientTypeDetails": kind,
                                    "ExternalDirectoryObjectId": user["id"], **extra})
        if kind == "UserMailbox" and enabled:
            self.people.append(user)
        return address

    def directory(self) -> None:
        self.mailbox("exchange-admin", "UserMailbox", True, Department="IT")
        for k in range(self.sizes.integrations):
            rbac = k % 10 == 9
            queues = [self.mailbox(f"queue{k:03d}-{j}", "SharedMailbox", False,
                                   **({"CustomAttribute1": f"int{k:03d}"} if rbac else {}))
                      for j in range(2 + self.rng.randrange(4))]
            self.integrations.append({"index": k, "rbac": rbac, "queues": queues})
        kinds = (("UserMailbox", 0.85, "user"), ("SharedMailbox", 0.97, "shared"), ("RoomMailbox", 0.99, "room"),
                 ("EquipmentMailbox", 1.0, "equipment"))
        departments = ("Sales", "Finance", "Engineering", "Support", "Legal", "Executive")
        for i in range(self.sizes.mailboxes - len(self.x["mailboxes"])):
            roll = self.rng.random()
            kind, _, prefix = next(k for k in kinds if roll < k[1])
            enabled = self.rng.random() < (0.98 if kind == "UserMailbox" else 0.1)
            self.mailbox(f"{prefix}{i:05d}", kind, enabled, Department=self.rng.choice(departments))
        for n in range(max(5, self.sizes.mailboxes // 200)):
            address = f"partner{n:04d}_contoso.com#EXT#@{DOMAIN}"
            self.g["users"].append({"id": self.uid(), "displayName": f"Partner {n}", "userPrincipalName": address,
                                    "mail": f"partner{n:04d}@contoso.com", "accountEnabled": True, "userType": "Guest"})

    def group(self, name: str, kind: str, members: list[str], managers: tuple[str, ...] = ("exchange-admin",),
              join: str = "Closed") -> str:
        address = f"{name}@{DOMAIN}"
        self.x["distributionGroups"].append({
            "Name": name, "DisplayName": name, "PrimarySmtpAddress": address, "RecipientTypeDetails": kind,
            "ExternalDirectoryObjectId": self.uid(), "ManagedBy": list(managers), "MemberJoinRestriction": join,
            "Members": members})
        return address

    def teams(self) -> list[str]:
        teams: list[str] = []
        for t in range(max(2, self.sizes.mailboxes // 500)):
            members = [u["mail"] for u in self.rng.sample(self.people, min(len(self.people),
                                                                             5 + self.rng.randrange(26)))]
            if teams and self.rng.random() < 0.1:
                members.append(self.rng.choice(teams))
            kind = "MailUniversalSecurityGroup" if self.rng.random() < 0.7 else "MailUniversalDistributionGroup"
            teams.append(self.group(f"team{t:04d}", kind, members))
        return teams

    # -- applications ------------------------------------------------------------------------------

    def credentials(self, count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        secrets, certificates = [], []
        for _ in range(count):
            roll = self.rng.random()
            end = (-1 - self.rng.randrange(300)) if roll < 0.1 else (
                1 + self.rng.randrange(29) if roll < 0.2 else 31 + self.rng.randrange(700))
            start = end - (365 if self.rng.random() < 0.7 else 730)
            cred = {"keyId": self.uid(), "displayName": "bench", "startDateTime": f"now{start:+d}d",
                    "endDateTime": f"now{end:+d}d"}
            if self.rng.random() < 0.6:
                secrets.append({**cred, "hint": "ben"})
            else:
                certificates.append({**cred, "type": "AsymmetricX509Cert", "usage": "Verify"})
        return secrets, certificates

    def app(self, name: str, roles: list[tuple[str, str]], owner_org: str | None, *, requested: list[tuple[str, str]]
            | None = None, credentials: tuple[list[Any], list[Any]] | None = None, owners: list[str] | None = None,
            sp_secret: bool = False) -> dict[str, Any]:
        app_id, sp_id = self.uid(), self.uid()
        if owner_org is None:
            rra: dict[str, list[dict[str, str]]] = {}
            for resource, role in requested if requested is not None else roles:
                rra.setdefault(resource, []).append({"id": role, "type": "Role"})
            secrets, certificates = credentials or ([], [])
            self.g["applications"].append({
                "id": self.uid(), "appId": app_id, "displayName": name,
                "requiredResourceAccess": [{"resourceAppId": r, "resourceAccess": a} for r, a in rra.items()],
                "passwordCredentials": secrets, "keyCredentials": certificates, "owners": owners or []})
        sp: dict[str, Any] = {"id": sp_id, "appId": app_id, "displayName": name, "accountEnabled": True,
                              "passwordCredentials": [], "keyCredentials": []}
        if owner_org is not None:
            sp["appOwnerOrganizationId"] = owner_org
        if sp_secret:
            sp["passwordCredentials"] = [{"keyId": self.uid(), "displayName": "", "startDateTime": "now-5d",
                                          "endDateTime": "now+360d", "hint": "sp_"}]
        self.g["servicePrincipals"].append(sp)
        for resource, role in roles:
            self.g["appRoleAssignments"].append({
                "id": self.uid(), "principalId": sp_id, "principalType": "ServicePrincipal", "resourceId": resource,
                "appRoleId": role, "createdDateTime": "now-200d"})
        return sp

    def exchange_rbac(self, sp: dict[str, Any], name: str, roles: list[str], scope: dict[str, str]) -> None:
        self.x["servicePrincipals"].append({"AppId": sp["appId"], "ObjectId": sp["id"],
                                            "DisplayName": sp["displayName"]})
        for role in roles:
            self.x["managementRoleAssignments"].append({"Name": f"{name}-{role.split()[-1]}", "Role": role,
                                                        "App": sp["id"], **scope})

    def policy(self, app_id: str, scope: str, right: str = "RestrictAccess") -> None:
        self.x["applicationAccessPolicies"].append({"AppId": app_id, "PolicyScopeGroupId": scope,
                                                    "AccessRight": right, "Description": "bench"})

    # -- what is audited ---------------------------------------------------------------------------

    def cert(self, end: str = "now+300d") -> dict[str, Any]:
        return {"keyId": self.uid(), "displayName": "CN=bench", "startDateTime": "now-30d", "endDateTime": end,
                "type": "AsymmetricX509Cert", "usage": "Verify"}

    def integration(self, spec: dict[str, Any]) -> None:
        """One baseline integration; its drift is planted by index, so every size has a mix of verdicts."""
        k = spec["index"]
        owner, spec["canary"] = self.rng.choice(self.people), self.rng.choice(self.people)["mail"]
        spec["owner"], spec["name"] = owner["userPrincipalName"], f"Integration {k:03d}"
        if spec["rbac"]:
            sp = self.app(spec["name"], [], None, credentials=([], [self.cert()]), owners=[owner["id"]])
            scope = f"Integration {k:03d} queues"
            self.x["managementScopes"].append({"Name": scope,
                                               "RecipientRestrictionFilter": f"CustomAttribute1 -eq 'int{k:03d}'"})
            self.exchange_rbac(sp, f"int{k:03d}", ["Application Mail.ReadWrite", "Application Mail.Send"],
                               {"CustomResourceScope": scope})
            spec.update(app_id=sp["appId"], group="")
            return
        roles = [(GRAPH, "Mail.ReadWrite"), (GRAPH, "Mail.Send")] + ([(GRAPH, "Mail.Read")] if k % 6 == 2 else [])
        expiring = {"keyId": self.uid(), "displayName": "bench", "startDateTime": "now-100d",
                    "endDateTime": "now+10d", "hint": "int"}
        creds = ([expiring], []) if k % 8 == 5 else ([], [self.cert()])
        sp = self.app(spec["name"], roles, None, credentials=creds, owners=[owner["id"]])
        members = [*spec["queues"], *([self.rng.choice(self.people)["mail"]] if k % 5 == 1 else [])]
        group = self.group(f"int{k:03d}-scope", "MailUniversalSecurityGroup", members,
                           join="Open" if k % 11 == 4 else "Closed")
        if k % 7 != 3:
            self.policy(sp["appId"], group)
        spec.update(app_id=sp["appId"], group=group)

    def sweep_apps(self, teams: list[str]) -> list[str]:
        """Every other service principal; returns the two takeover apps the baseline approves."""
        vendors = [self.uid() for _ in range(20)]
        secure_teams = [t for t, g in zip(teams, self.x["distributionGroups"][-len(teams):], strict=True)
                        if g["RecipientTypeDetails"] == "MailUniversalSecurityGroup"] or teams
        self.policy("*", secure_teams[0], "DenyAccess")  # keep every app away from one team: defence in depth
        approved: list[str] = []
        for i in range(self.sizes.service_principals - self.sizes.integrations - 1):
            origin = self.rng.random()
            owner_org = MICROSOFT_TENANT if origin < 0.05 else (self.rng.choice(vendors) if origin < 0.15 else None)
            roll = self.rng.random()
            roles: list[str] = []
            if roll >= 0.99:
                exo_roles = [(EXO, "full_access_as_app")]
            else:
                exo_roles = []
                if 0.80 <= roll < 0.95:
                    roles += self.rng.sample(MAILBOX_DATA, 1 + self.rng.randrange(2))
                elif roll >= 0.95:
                    roles.append(self.rng.choice(TAKEOVER))
                if roll >= 0.30:
                    roles += self.rng.sample(HARMLESS, (1 + self.rng.randrange(4)) if roll < 0.8 else
                                             self.rng.randrange(3))
            granted = [(GRAPH, r) for r in roles] + exo_roles
            requested = granted + ([(GRAPH, "Organization.Read.All")] if self.rng.random() < 0.05
                                   and "Organization.Read.All" not in roles else [])
            owners = [u["id"] for u in self.rng.sample(self.people, self.rng.randrange(4))]
            if self.rng.random() < 0.03:
                owners.append(self.g["users"][-1]["id"])  # a guest
            label = {MICROSOFT_TENANT: "Microsoft Service"}.get(owner_org or "", "Vendor App" if owner_org else "App")
            sp = self.app(f"{label} {i:05d}", granted, owner_org, requested=requested, owners=owners,
                          credentials=self.credentials(self.rng.choice((0, 1, 1, 2))),
                          sp_secret=self.rng.random() < 0.01)
            if self.rng.random() < 0.08:
                self.g["oauth2PermissionGrants"].append({
                    "id": self.uid(), "clientId": sp["id"], "consentType": "AllPrincipals", "principalId": None,
                    "resourceId": GRAPH, "scope": self.rng.choice(DELEGATED)})
            if any(r in MAILBOX_DATA for r in roles):
                policy_roll = self.rng.random()
                if policy_roll < 0.5:
                    self.policy(sp["appId"], self.rng.choice(teams))
                elif policy_roll < 0.55:
                    self.policy(sp["appId"], self.rng.choice(teams), "DenyAccess")
            if self.rng.random() < 0.01:
                scope = {} if self.rng.random() < 0.5 else {"RecipientGroupScope": self.rng.choice(teams)}
                self.exchange_rbac(sp, f"app{i:05d}", ["Application Mail.Read"], scope)
            if any(r in TAKEOVER for r in roles) and owner_org is None and len(approved) < 2:
                approved.append(sp["appId"])
        return approved

    def build(self) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
        """(tenant document, the integrations' specs for the baseline, the approved takeover apps)."""
        self.directory()
        self.app("Mailbox Access Auditor", list(AUDITOR_ROLES), None, credentials=([
            {"keyId": self.uid(), "displayName": "auditor", "startDateTime": "now-10d", "endDateTime": "now+170d",
             "hint": "aud"}], []))
        teams = self.teams()
        for spec in self.integrations:
            self.integration(spec)
        approved = self.sweep_apps(teams)
        auditor = self.g["servicePrincipals"][0]["appId"]
        tenant = {
            "tenant": {"id": self.tenant_id, "defaultDomain": "fabrikambench.onmicrosoft.com",
                       "displayName": "Fabrikam (benchmark)"},
            "graph": self.g, "exchange": self.x,
            "emulator": {"clients": [{"appId": auditor, "secret": SECRET}],
                         "jumpHost": {"username": "FABRIKAM\\svc-audit", "password": JUMP_PASSWORD}}}
        return tenant, self.integrations, approved


