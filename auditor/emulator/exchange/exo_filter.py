"""The -Filter of the module's Get-EXO* cmdlets (Get-EXOMailbox), as documented and no further.

Documented (docs/microsoft-facts.md, "Partitioned mailbox listing"): the Get-EXO* cmdlets support the logical
operators -and, -or, -not and the comparison operators -eq, -ne, -lt, -gt, -like, -notlike; a wildcard (*) may
stand only at the beginning, the end, or both ends of a value (`'A*B*C'` is not supported). Properties are the
filterable properties of filter-properties.md that the emulator models for mailboxes. Anything else is refused
with the binding error a filter outside the grammar gets, never guessed.
"""

from __future__ import annotations

from typing import Any

from auditor.emulator.exchange import opath
from auditor.emulator.exchange.directory import CUSTOM_ATTRIBUTES, Recipient
from auditor.emulator.exchange.model import CmdletError, parameter_error

PROPERTIES = {p.lower(): p for p in ("Alias", "DisplayName", "Name", "PrimarySmtpAddress", "RecipientTypeDetails",
                                     "Department", *CUSTOM_ATTRIBUTES)}
OPERATORS = ("-eq", "-ne", "-lt", "-gt", "-like", "-notlike")


class _ExoParser(opath._Parser):
    properties = PROPERTIES
    operators = OPERATORS

    def check_value(self, op: str, value: str) -> None:
        inner = value[1:-1] if len(value) >= 2 else ""
        if "*" in inner or (value == "*" and op not in ("-like", "-notlike")):
            raise opath.OpathError(f"a wildcard may stand only at the beginning or the end of {value!r}")
        if "*" in value and op not in ("-like", "-notlike"):
            raise opath.OpathError(f"wildcards need -like or -notlike, not {op}")


def exo_filter(cmdlet: str, raw: Any) -> opath.Node:
    """The parsed -Filter, or the error Exchange gives a filter it cannot read."""
    try:
        return opath.parse(str(raw) if isinstance(raw, str) else "", _ExoParser)
    except opath.OpathError as exc:
        raise CmdletError(parameter_error(
            cmdlet, "ParameterArgumentValidationError",
            f"Cannot bind parameter 'Filter' to the target. Invalid filter syntax: {exc}", raw)) from None


def matches(node: opath.Node, r: Recipient) -> bool:
    """The filter on one recipient, each property read (and case-folded) once however often it is compared."""
    seen: dict[str, str] = {}

    def get(name: str) -> str:
        value = seen.get(name)
        if value is None:
            value = seen[name] = r.attribute(name).casefold()
        return value

    return node.evaluate(get)
