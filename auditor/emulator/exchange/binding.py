"""Parameter binding shared by every emulated cmdlet, as PowerShell binds them (values are data only)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from auditor.emulator.exchange.directory import Recipient
from auditor.emulator.exchange.model import CmdletError, CmdletResult, ErrorInfo, parameter_error

T = TypeVar("T")
# An enum parameter: its .NET type and documented values. -RoleAssigneeType (Get-ManagementRoleAssignment.md) does
# not list ServicePrincipal; the realism profile roleAssigneeTypeFilter decides whether the emulator accepts it.
ROLE_ASSIGNEE_TYPE = ("Microsoft.Exchange.Data.Directory.SystemConfiguration.RoleAssigneeType",
                      ("User", "SecurityGroup", "RoleAssignmentPolicy", "ForeignSecurityPrincipal", "RoleGroup",
                       "LinkedRoleGroup", "Computer"))
Parameters = Mapping[str, Any] | Sequence[tuple[str | None, Any]]
DEFAULT_RESULT_SIZE = 1000
MORE_RESULTS = (
    "There are more results available than are currently displayed. To view them, increase the value for the "
    "ResultSize parameter."
)


def text(value: Any) -> str:
    return str(value) if isinstance(value, (str, uuid.UUID)) else str(value or "")


def bind(cmdlet: str, params: Sequence[str], parameters: Parameters, mandatory: Sequence[str] = ()) -> dict[str, Any]:
    """Bind parameters by name (case-insensitive); a positional argument binds to -Identity.

    A `$null` value leaves the parameter unbound; unknown names and missing mandatory parameters raise the
    ParameterBindingException PowerShell raises."""
    pairs = parameters.items() if isinstance(parameters, Mapping) else parameters
    known = {p.lower(): p for p in params}
    bound: dict[str, Any] = {}
    for name, value in pairs:
        if name is None:
            if "Identity" not in params or "Identity" in bound:
                raise CmdletError(
                    parameter_error(
                        cmdlet,
                        "PositionalParameterNotFound",
                        f"A positional parameter cannot be found that accepts argument '{value}'.",
                        value,
                    )
                )
            canonical = "Identity"
        else:
            canonical = known.get(name.lstrip("-").lower(), "")
            if not canonical:
                raise CmdletError(
                    parameter_error(
                        cmdlet,
                        "NamedParameterNotFound",
                        f"A parameter cannot be found that matches parameter name '{name}'.",
                        name,
                    )
                )
        if value is not None:
            bound[canonical] = _plain(value)
    missing = [p for p in mandatory if p not in bound]
    if missing:
        raise CmdletError(
            parameter_error(
                cmdlet,
                "MissingMandatoryParameter",
                f"Cannot process command because of one or more missing mandatory parameters: {' '.join(missing)}.",
            )
        )
    return bound


def _plain(value: Any) -> Any:
    if isinstance(value, bool | int | uuid.UUID):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def limit(cmdlet: str, items: list[T], bound: Mapping[str, Any], result: CmdletResult) -> list[T]:
    raw = bound.get("ResultSize", DEFAULT_RESULT_SIZE)
    if isinstance(raw, str) and raw.strip().lower() == "unlimited":
        return items
    try:
        size = int(raw)
        if size < 1:
            raise ValueError
    except (TypeError, ValueError):
        raise CmdletError(
            parameter_error(
                cmdlet,
                "ParameterArgumentTransformationError",
                f"Cannot bind parameter 'ResultSize'. Cannot convert value \"{raw}\" to type "
                '"Microsoft.Exchange.Data.Unlimited`1[System.UInt32]".',
                raw,
            )
        ) from None
    if len(items) > size:
        result.warnings.append(MORE_RESULTS)
        return items[:size]
    return items


def type_filter(bound: Mapping[str, Any]) -> Callable[[Recipient], bool]:
    wanted = bound.get("RecipientTypeDetails")
    if wanted is None:
        return lambda r: True
    values = wanted if isinstance(wanted, list) else str(wanted).split(",")
    names = {str(v).strip().lower() for v in values}
    return lambda r: r.recipient_type_details.lower() in names


def enum_refused(cmdlet: str, parameter: str, value: str, enum: tuple[str, tuple[str, ...]]) -> ErrorInfo:
    """The parameter-binding error PowerShell gives a value outside an enum parameter's names."""
    type_name, names = enum
    return parameter_error(
        cmdlet, "CannotConvertArgumentNoMessage",
        f"Cannot bind parameter '{parameter}'. Cannot convert value \"{value}\" to type \"{type_name}\". Error: "
        f"\"Unable to match the identifier name {value} to a valid enumerator name. Specify one of the following "
        f"enumerator names and try again: {', '.join(names)}\"", value)
