"""Exchange recipients of the emulated tenant: derived Guid and Sid, identity resolution, group membership.

Everything here is computed once from the resolved tenant document and is read-only afterwards, so one
`Directory` is shared by every runspace pool and thread.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# RecipientTypeDetails -> RecipientType, as Exchange reports them.
RECIPIENT_TYPE: dict[str, str] = {
    "UserMailbox": "UserMailbox",
    "SharedMailbox": "UserMailbox",
    "RoomMailbox": "UserMailbox",
    "EquipmentMailbox": "UserMailbox",
    "SchedulingMailbox": "UserMailbox",
    "DiscoveryMailbox": "UserMailbox",
    "LinkedMailbox": "UserMailbox",
    "TeamMailbox": "UserMailbox",
    "MailUser": "MailUser",
    "GuestMailUser": "MailUser",
    "MailUniversalSecurityGroup": "MailUniversalSecurityGroup",
    "MailUniversalDistributionGroup": "MailUniversalDistributionGroup",
    "MailNonUniversalGroup": "MailNonUniversalGroup",
    "RoomList": "MailUniversalDistributionGroup",
    "GroupMailbox": "MailUniversalDistributionGroup",
}
# What New-ApplicationAccessPolicy accepts as PolicyScopeGroupId (Get-Recipient's IsValidSecurityPrincipal).
SECURITY_PRINCIPALS = frozenset({"UserMailbox", "MailUser", "MailUniversalSecurityGroup"})
CUSTOM_ATTRIBUTES = tuple(f"CustomAttribute{i}" for i in range(1, 16))


@dataclass(frozen=True, eq=False)
class Recipient:
    """One mail recipient (mailbox or mail-enabled group) with its derived Exchange identifiers."""

    kind: str  # "mailbox" | "group"
    name: str
    display_name: str
    alias: str
    primary_smtp_address: str
    guid: uuid.UUID
    sid: str
    external_directory_object_id: str
    recipient_type_details: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    members: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.primary_smtp_address.lower()

    @property
    def recipient_type(self) -> str:
        return RECIPIENT_TYPE.get(self.recipient_type_details, self.recipient_type_details)

    @property
    def is_valid_security_principal(self) -> bool:
        return self.recipient_type_details in SECURITY_PRINCIPALS

    @property
    def exchange_guid(self) -> uuid.UUID:
        """The mailbox's ExchangeGuid (its mailbox store identity), distinct from the object Guid."""
        return uuid.uuid5(self.guid, "ExchangeGuid")

    @property
    def sid_guid(self) -> str:
        """`<Sid>;<Guid>`, the form of `ScopeIdentityRaw`."""
        return f"{self.sid};{self.guid}"

    def attribute(self, name: str) -> str:
        """An OPATH-visible property as a string ("" when not set)."""
        builtin = {
            "Name": self.name,
            "Alias": self.alias,
            "PrimarySmtpAddress": self.primary_smtp_address,
            "RecipientTypeDetails": self.recipient_type_details,
            "DisplayName": self.display_name,
        }
        if name in builtin:
            return builtin[name]
        return self.attributes.get(name, "")


def derive_guid(tenant_id: str, address: str) -> uuid.UUID:
    """The recipient's Exchange Guid: uuid5 over the tenant id and the lower-cased address."""
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:auditor-emulator:exchange:{tenant_id.lower()}")
    return uuid.uuid5(namespace, address.lower())


def _domain_sid(tenant_id: str) -> str:
    digest = hashlib.sha256(f"domain|{tenant_id.lower()}".encode()).digest()
    parts = [int.from_bytes(digest[i : i + 4], "big") for i in (0, 4, 8)]
    return "S-1-5-21-" + "-".join(str(p) for p in parts)


def _rid(tenant_id: str, address: str) -> int:
    digest = hashlib.sha256(f"rid|{tenant_id.lower()}|{address.lower()}".encode()).digest()
    return 1000 + int.from_bytes(digest[:4], "big") % 2_000_000_000


def _external_id(tenant_id: str, address: str, configured: Any) -> str:
    if configured:
        return str(configured)
    return str(uuid.uuid5(derive_guid(tenant_id, address), "ExternalDirectoryObjectId"))


class Directory:
    """The tenant's mailboxes and distribution groups, indexed for Exchange-style identity resolution."""

    def __init__(self, tenant_id: str, mailboxes: Iterable[Mapping[str, Any]], groups: Iterable[Mapping[str, Any]]):
        self.tenant_id = tenant_id
        domain = _domain_sid(tenant_id)
        raws = [("mailbox", m) for m in mailboxes] + [("group", g) for g in groups]
        used_rids: set[int] = set()
        recipients: list[Recipient] = []
        # Sorted by address so that the (rare) RID collision probing is deterministic.
        for kind, raw in sorted(raws, key=lambda kr: str(kr[1].get("PrimarySmtpAddress", "")).lower()):
            rid = _rid(tenant_id, str(raw.get("PrimarySmtpAddress", "")))
            while rid in used_rids:
                rid += 1
            used_rids.add(rid)
            recipients.append(self._build(kind, raw, f"{domain}-{rid}"))
        order = {str(raw.get("PrimarySmtpAddress", "")).lower(): i for i, (_, raw) in enumerate(raws)}
        recipients.sort(key=lambda r: order.get(r.key, 0))
        self.recipients: tuple[Recipient, ...] = tuple(recipients)
        self.mailboxes = tuple(r for r in recipients if r.kind == "mailbox")
        self.groups = tuple(r for r in recipients if r.kind == "group")
        self._strong: dict[str, list[Recipient]] = {}
        self._weak: dict[str, list[Recipient]] = {}
        for r in recipients:
            strong = [
                str(r.guid),
                r.external_directory_object_id,
                r.sid,
                r.sid_guid,
                r.primary_smtp_address,
                r.attributes.get("UserPrincipalName", ""),
            ]
            for key in strong:
                self._add(self._strong, key, r)
            for key in (r.name, r.alias, r.display_name):
                self._add(self._weak, key, r)
        self._transitive: dict[str, frozenset[str]] = {}

    def _build(self, kind: str, raw: Mapping[str, Any], sid: str) -> Recipient:
        address = str(raw.get("PrimarySmtpAddress", ""))
        alias = str(raw.get("Alias") or address.split("@", 1)[0])
        name = str(raw.get("Name") or alias)
        default_rtd = "UserMailbox" if kind == "mailbox" else "MailUniversalDistributionGroup"
        attributes = {a: str(raw.get(a) or "") for a in ("Department", *CUSTOM_ATTRIBUTES)}
        if kind == "mailbox":
            attributes["UserPrincipalName"] = str(raw.get("UserPrincipalName") or address)
        return Recipient(
            kind=kind,
            name=name,
            display_name=str(raw.get("DisplayName") or name),
            alias=alias,
            primary_smtp_address=address,
            guid=derive_guid(self.tenant_id, address),
            sid=sid,
            external_directory_object_id=_external_id(self.tenant_id, address, raw.get("ExternalDirectoryObjectId")),
            recipient_type_details=str(raw.get("RecipientTypeDetails") or default_rtd),
            attributes=attributes,
            members=tuple(str(m) for m in raw.get("Members") or ()),
            raw=raw,
        )

    @staticmethod
    def _add(index: dict[str, list[Recipient]], key: str, recipient: Recipient) -> None:
        if not key:
            return
        bucket = index.setdefault(key.lower(), [])
        if recipient not in bucket:
            bucket.append(recipient)

    def resolve(self, identity: Any, kinds: Sequence[str] = ("mailbox", "group")) -> list[Recipient]:
        """Every recipient of the given kinds an identity names (Guid, address, Sid, Name, Alias, ...).

        Strong identifiers (Guid, ExternalDirectoryObjectId, Sid, `<Sid>;<Guid>`, address, UPN) win over
        names; more than one result means the identity is ambiguous.
        """
        text = str(identity).lower()
        if not text:
            return []
        for index in (self._strong, self._weak):
            found = [r for r in index.get(text, ()) if r.kind in kinds]
            if found:
                return found
        return []

    def orphan_sid_guid(self, reference: str, entra_object_id: bool = False) -> str:
        """The `<Sid>;<Guid>` a deleted recipient named `reference` would have had (policies keep it); with
        `entra_object_id`, its directory object id in place of the Guid (a realism profile)."""
        rid = _rid(self.tenant_id, reference)
        guid = _external_id(self.tenant_id, reference, None) if entra_object_id else derive_guid(self.tenant_id,
                                                                                                  reference)
        return f"{_domain_sid(self.tenant_id)}-{rid};{guid}"

    def by_key(self, key: str) -> Recipient | None:
        found = [r for r in self._strong.get(key.lower(), ()) if r.key == key.lower()]
        return found[0] if found else None

    def direct_members(self, group: Recipient) -> list[Recipient]:
        """Direct members (mailboxes and nested groups) in configured order; unresolvable ones skipped."""
        seen: set[str] = set()
        out: list[Recipient] = []
        for ref in group.members:
            found = self.resolve(ref)
            if len(found) == 1 and found[0].key not in seen:
                seen.add(found[0].key)
                out.append(found[0])
        return out

    def transitive_members(self, group: Recipient) -> frozenset[str]:
        """Keys (lower-case addresses) of every member, direct or through nested groups; cycles are cut."""
        cached = self._transitive.get(group.key)
        if cached is not None:
            return cached
        seen: set[str] = set()
        stack = [group]
        while stack:
            current = stack.pop()
            for member in self.direct_members(current):
                if member.key in seen or member.key == group.key:
                    continue
                seen.add(member.key)
                if member.kind == "group":
                    stack.append(member)
        result = frozenset(seen)
        self._transitive[group.key] = result
        return result
