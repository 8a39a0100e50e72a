"""remediation.ps1: one commented block per failing finding, for an administrator to review and run by hand.

The auditor never runs it (it is read-only by construction). Every state-changing line ends in -WhatIf, so a
first run only shows what would change; the operator removes -WhatIf line by line. Blocks are ordered so no step
widens access: the access policy is added before grants or members are removed, permissions are added last, and
the read-only Test-ApplicationAccessPolicy checks close the script. The commands come from each finding's `fix`
(checks/fixes.py), whose values are PowerShell single-quoted literals; tenant text in comments is escaped onto
one line. A command already made (a member already added) fails with Exchange's error and changes nothing, so the
script can be re-run.
"""

from __future__ import annotations

import re
from pathlib import Path

from auditor.models.findings import Finding, FindingsDocument, Status
from auditor.reports.file_names import FILE_NAMES
from auditor.reports.files import write_atomic
from auditor.terminal import one_line

# Lower runs first. Unlisted checks go with phase 3.
PHASES = {
    "SCOPE-001": 1, "SCOPE-002": 1,  # restrict the app before anything else changes
    "GRP-002": 2, "SCOPE-004": 2, "GRP-004": 2, "GRP-001": 2, "MBX-001": 2, "MBX-002": 2,
    "GRP-003": 3, "SCOPE-006": 3, "SCOPE-003": 3, "PERM-002": 3, "PERM-003": 3, "PERM-004": 3, "CONSENT-002": 3,
    "OWN-001": 3, "TEN-001": 3, "TEN-002": 3, "TEN-004": 3,
    "CRED-001": 4, "CRED-002": 4, "CRED-003": 4, "CRED-004": 4, "CRED-006": 4, "TEN-003": 4,
    "PERM-001": 5, "CONSENT-001": 5,  # grant what is missing only once the app is restricted
    "SCOPE-005": 6, "SCOPE-007": 6, "APP-001": 6,  # check again, read-only
}
PHASE_TITLES = {1: "Restrict the apps", 2: "Scope groups and queue mailboxes", 3: "Remove excess access",
                4: "Credentials", 5: "Missing permissions", 6: "Check again"}
STATE_CHANGING = re.compile(r"^(New|Set|Add|Remove|Update|Grant|Revoke|Enable|Disable)-")


def guarded(line: str) -> str:
    """A state-changing command with -WhatIf: nothing changes until the operator removes it."""
    command = line.split(" = ", 1)[-1] if line.startswith("$") else line
    return f"{line} -WhatIf" if STATE_CHANGING.match(command) else line


def ordered(findings: tuple[Finding, ...]) -> list[Finding]:
    failing = [f for f in findings if f.status is Status.FAIL and f.fix]
    return sorted(failing, key=lambda f: (PHASES.get(f.check_id, 3), f.severity.rank, f.check_id, f.integration,
                                          f.resource))


def header(doc: FindingsDocument, blocks: int) -> list[str]:
    run = doc.run
    return [
        "# remediation.ps1: proposed fixes for the failing findings of a mailbox access audit.",
        f"# Tenant: {one_line(run.tenant_name)} ({one_line(run.tenant_domain)}, {one_line(run.tenant_id)})",
        f"# Collected: {one_line(run.collected_at)}; baseline {one_line(run.baseline_file)}; "
        f"auditor {run.tool_version}",
        f"# {blocks} blocks, one per failing finding, ordered so no step widens access.",
        "#",
        "# The auditor NEVER runs this script; it only reads the tenant. Review every block before running it.",
        "# Every state-changing line carries -WhatIf: run as is, it only shows what would change. Remove -WhatIf",
        "# from the lines you approve. Lines starting with # are steps for a person (portal paths, choices).",
        "# Needs: Connect-ExchangeOnline (Exchange cmdlets) and Connect-MgGraph with the scopes each Graph cmdlet",
        "# documents (Application.ReadWrite.All, DelegatedPermissionGrant.ReadWrite.All, User.ReadWrite.All).",
        "# Re-running is safe: a change already made fails with the service's error and changes nothing.",
        "",
    ]


def render(doc: FindingsDocument) -> str:
    findings = ordered(doc.findings)
    lines = header(doc, len(findings))
    done: dict[str, int] = {}
    phase = 0
    for n, f in enumerate(findings, 1):
        if PHASES.get(f.check_id, 3) != phase:
            phase = PHASES.get(f.check_id, 3)
            lines += [f"# ===== {phase}. {PHASE_TITLES[phase]} =====", ""]
        lines += [f"# [{n}] {f.check_id} ({f.severity.value}) {one_line(f.title)}",
                  f"# Integration: {one_line(f.integration or 'tenant sweep')}; resource: {one_line(f.resource)}",
                  f"# Why: {one_line(f.message)}"]
        for line in f.fix.splitlines():
            if line.startswith("#") or line.startswith("$"):
                lines.append(line)
            elif line in done:
                lines.append(f"# (the same command as in block [{done[line]}])")
            else:
                done[line] = n
                lines.append(guarded(line))
        lines.append("")
    if not findings:
        lines.append("# No failing finding has a scripted fix.")
    return "\n".join(lines) + "\n"


def write(doc: FindingsDocument, out_dir: Path) -> Path:
    path = out_dir / FILE_NAMES["ps1"]
    write_atomic(path, render(doc))
    return path
