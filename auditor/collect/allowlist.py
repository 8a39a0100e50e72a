"""The read-only allowlist: every cmdlet the auditor may ever send to Exchange, named in this one place.

Everything that reaches a shell goes through `ensure_allowed` before a single byte leaves the process, so a
`Set-`, `New-`, `Remove-` or `Add-` cmdlet, a script, or an unknown name can never be sent (docs/architecture.md,
"The Exchange transport seam"). Parameter names are checked too: they must be plain identifiers.
"""

from __future__ import annotations

import re

from auditor.errors import CollectionError

ALLOWED_CMDLETS: tuple[str, ...] = (
    "Connect-ExchangeOnline",
    "Get-ApplicationAccessPolicy",
    "Test-ApplicationAccessPolicy",
    "Get-DistributionGroup",
    "Get-DistributionGroupMember",
    "Get-Mailbox",
    "Get-EXOMailbox",
    "Get-Recipient",
    "Get-ServicePrincipal",
    "Get-ManagementRoleAssignment",
    "Get-ManagementScope",
    "Test-ServicePrincipalAuthorization",
)
_CANONICAL = {name.lower(): name for name in ALLOWED_CMDLETS}
_PARAMETER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")


class NotAllowedError(CollectionError):
    """A cmdlet or parameter name outside the allowlist was about to be sent; nothing left the process."""


def ensure_allowed(name: str) -> str:
    """The canonical spelling of an allowlisted cmdlet (PowerShell names are case-insensitive).

    Raises NotAllowedError for anything else: write cmdlets, scripts, names with spaces or punctuation."""
    canonical = _CANONICAL.get(name.lower()) if isinstance(name, str) else None
    if canonical is None:
        shown = name if isinstance(name, str) and len(name) <= 80 else f"{str(name)[:80]}..."
        raise NotAllowedError(
            f"refusing to send {shown!r} to Exchange: only the read-only cmdlets {', '.join(ALLOWED_CMDLETS)} "
            "may be sent")
    return canonical


def ensure_parameter_name(name: str) -> str:
    """A parameter name is an identifier (`Identity`, `ResultSize`), never text that could carry script."""
    if not isinstance(name, str) or not _PARAMETER_NAME.fullmatch(name):
        raise NotAllowedError(f"refusing to send parameter name {name!r} to Exchange: not a plain identifier")
    return name
