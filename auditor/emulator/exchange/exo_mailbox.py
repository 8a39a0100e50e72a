"""Get-EXOMailbox: the module's bulk cmdlet, which returns property sets rather than whole mailbox objects.

Documented (docs/microsoft-facts.md, "Exchange Online session"): `-PropertySets` takes All, Minimum (the default)
and the named sets of `cmdlet-property-sets.md`; the Minimum set is exactly Alias, DisplayName, DistinguishedName,
EmailAddresses, ExchangeVersion, ExternalDirectoryObjectId, Guid, Id, Name, OrganizationId, PrimarySmtpAddress,
RecipientType, RecipientTypeDetails, UserPrincipalName. Other sets and `-Properties` come in addition to the Minimum
set (exchange-online-powershell-v2.md). The emulator returns exactly that set (plus the properties asked with
`-Properties` or by another set, when it models them) and refuses any other set name
with the ParameterBindingException PowerShell gives for a value outside an enum.
"""

from __future__ import annotations

from typing import Any

from auditor.emulator.exchange.directory import CUSTOM_ATTRIBUTES, Recipient
from auditor.emulator.exchange.model import CmdletError, parameter_error
from auditor.emulator.exchange.records import EXO_MAILBOX_TYPES, Record

PROPERTY_SETS = ("All", "Minimum", "AddressList", "Archive", "Audit", "Custom", "Delivery", "Hold", "Moderation",
                 "Move", "Policy", "PublicFolder", "Quota", "Resource", "Retention", "SCL", "SoftDelete",
                 "StatisticsSeed")
MINIMUM = ("Alias", "DisplayName", "DistinguishedName", "EmailAddresses", "ExchangeVersion",
           "ExternalDirectoryObjectId", "Guid", "Id", "Name", "OrganizationId", "PrimarySmtpAddress", "RecipientType",
           "RecipientTypeDetails", "UserPrincipalName")
CUSTOM = (*CUSTOM_ATTRIBUTES, "ExternalDirectoryObjectId")
EXCHANGE_VERSION = "0.20 (15.0.0.0)"
PARAMS = ("Identity", "ResultSize", "RecipientTypeDetails", "PropertySets", "Properties", "Filter")


def property_sets(value: Any) -> tuple[str, ...]:
    """The -PropertySets values bound to the PropertySet enum (case-insensitive), or the binding error."""
    values = value if isinstance(value, list | tuple) else str(value).split(",")
    chosen: list[str] = []
    for raw in values:
        name = next((s for s in PROPERTY_SETS if s.lower() == str(raw).strip().lower()), None)
        if name is None:
            raise CmdletError(parameter_error(
                "Get-EXOMailbox", "ParameterArgumentTransformationError",
                f"Cannot bind parameter 'PropertySets'. Cannot convert value \"{raw}\" to type \"PropertySet\". "
                f"Error: \"Unable to match the identifier name {raw} to a valid enumerator name. Specify one of the "
                f"following enumerator names and try again: {', '.join(PROPERTY_SETS)}\"", raw))
        chosen.append(name)
    return tuple(chosen)


def _all_properties(r: Recipient, tenant_domain: str) -> dict[str, Any]:
    dn = f"CN={r.name},OU={tenant_domain},OU=Microsoft Exchange Hosted Organizations,DC=PROD,DC=OUTLOOK,DC=COM"
    return {
        "Alias": r.alias,
        "DisplayName": r.display_name,
        "DistinguishedName": dn,
        "EmailAddresses": [f"SMTP:{r.primary_smtp_address}"],
        "ExchangeVersion": EXCHANGE_VERSION,
        "ExternalDirectoryObjectId": r.external_directory_object_id,
        "Guid": r.guid,
        "ExchangeGuid": r.exchange_guid,  # not in Minimum: a -Properties name, as on Get-Mailbox's objects
        "Sid": r.sid,
        "Id": r.name,
        "Name": r.name,
        "OrganizationId": tenant_domain,
        "PrimarySmtpAddress": r.primary_smtp_address,
        "RecipientType": r.recipient_type,
        "RecipientTypeDetails": r.recipient_type_details,
        "UserPrincipalName": r.attributes.get("UserPrincipalName", ""),
        **{name: r.attributes.get(name, "") for name in CUSTOM_ATTRIBUTES},
    }


def exo_mailbox(r: Recipient, tenant_domain: str, bound: dict[str, Any]) -> Record:
    """One Get-EXOMailbox row: the Minimum set, plus the sets and -Properties asked for that the emulator models."""
    sets = property_sets(bound["PropertySets"]) if "PropertySets" in bound else ("Minimum",)
    every = _all_properties(r, tenant_domain)
    wanted = list(MINIMUM)  # with -PropertySets or -Properties, those come in addition to the Minimum set
    if "Custom" in sets or "All" in sets:
        wanted += CUSTOM
    asked = bound.get("Properties") or ()
    wanted += [str(p) for p in (asked if isinstance(asked, list | tuple) else str(asked).split(","))]
    names = {n.lower(): n for n in every}
    props = {names[w.strip().lower()]: every[names[w.strip().lower()]] for w in wanted if w.strip().lower() in names}
    return Record(EXO_MAILBOX_TYPES, props, r.name)
