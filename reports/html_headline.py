"""The first screen of report.html: what is wrong, in sentences, worst first; why an audit is incomplete.

The sentences only restate findings (checks judge, the report shows): an app's reach comes from the SCOPE-007 or
TEN-001 FAIL that judged it and the inventory's `reach` the engine recorded beside it; other sentences are the
remaining critical FAILs. Anything that follows from a root cause already named is counted, not repeated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from auditor.models.findings import Finding, Severity, Status

REACH_CHECKS = ("SCOPE-007", "TEN-001")
"""A FAIL of either says the app can reach mailboxes beyond its queues (an unscoped tenant app has none)."""
SAME_RISK = ("SCOPE-001", "SCOPE-007", "TEN-001")
"""Checks on an app's own resource that restate its reach: named once, in the reach sentence."""
HEADLINE_LIMIT = 8
_ROOT_CAUSE = re.compile(r" \(root cause: .*\)$", re.DOTALL)
_SECTION = re.compile(r"^((?:graph|exchange|canaries|tenant)[\w.$-]*): (.+)$", re.DOTALL)


@dataclass(frozen=True)
class Sentence:
    """One line of the headline: a sentence, the finding it rests on, how many findings follow from it."""

    subject: str
    """The app (or integration) the sentence is about; shown in bold."""
    text: str
    """The rest of the sentence, after the subject."""
    check_id: str
    severity: Severity
    anchor: str
    follows: int = 0
    joiner: str = ""
    """Written straight after the subject (":" when the text is a finding's message about it)."""


@dataclass(frozen=True)
class Headline:
    sentences: tuple[Sentence, ...]
    more: int
    """Further FAILs of the headline's severity not written out (they are under All findings)."""
    worst: Severity | None


@dataclass(frozen=True)
class Cause:
    """One reason findings could not be evaluated, with how many ERROR findings it cost."""

    number: int
    section: str
    reason: str
    count: int
    anchor: str
    """The first finding it cost."""


def without_root_cause(message: str) -> str:
    return _ROOT_CAUSE.sub("", message)


def _app_names(inventory: Mapping[str, Any]) -> dict[str, str]:
    names: dict[str, str] = {}
    for key, label in (("sweep", "display_name"), ("integrations", "name")):  # an integration's own name wins
        items = inventory.get(key)
        for item in items if isinstance(items, list) else []:
            if isinstance(item, Mapping) and item.get("app_id") and item.get(label):
                names[str(item["app_id"]).lower()] = str(item[label])
    return names


def _reaches(inventory: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for key in ("sweep", "integrations"):
        items = inventory.get(key)
        for item in items if isinstance(items, list) else []:
            if isinstance(item, Mapping) and isinstance(item.get("reach"), Mapping) and item.get("app_id"):
                out[str(item["app_id"]).lower()] = item["reach"]
    return out


def app_names(inventory: Any) -> dict[str, str]:
    """app id (lower-case) -> the name the baseline or the tenant gives it, for names beside GUIDs."""
    return _app_names(inventory) if isinstance(inventory, Mapping) else {}


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def reach_phrase(reach: Mapping[str, Any] | None) -> str:
    """"all 2,000 mailboxes", "40 mailboxes (37 beyond its queue mailboxes)", or the recorded can_reach text."""
    if not reach or "unavailable" in reach:
        return "mailboxes beyond its queues"
    count, beyond = _count(reach.get("count")), _count(reach.get("beyond_queues"))
    if count is None:
        return str(reach.get("can_reach") or "mailboxes beyond its queues")
    text = f"all {count:,} mailboxes" if reach.get("all") else f"{count:,} mailbox{'' if count == 1 else 'es'}"
    if beyond is not None and 0 < beyond < count:
        text += f" ({beyond:,} beyond its queue mailboxes)"
    return text


def _permissions(findings: Iterable[Finding]) -> set[str]:
    names: set[str] = set()
    for f in findings:
        ev = f.evidence
        names.update(str(p) for p in ev.get("entra_mailbox_permissions") or () if isinstance(p, str))
        for part in list(ev.get("rbac_mailbox_roles") or ()) + list(ev.get("by_path") or ()):
            if isinstance(part, Mapping) and part.get("Role"):
                names.add(str(part["Role"]))
    return names


VERBS = ("read and change", "read", "send as", "reach")
"""Worst first: an app that can change mail outranks one that can read it."""


def _verb(permissions: set[str]) -> str:
    lowered = {p.lower() for p in permissions}
    if any("readwrite" in p or "full_access" in p or "fullaccess" in p for p in lowered):
        return "read and change"
    if any("read" in p for p in lowered):
        return "read"
    if any("send" in p for p in lowered):
        return "send as"
    return "reach"


def _why(f: Finding) -> str:
    """The reason part of a SCOPE-007 or TEN-001 message ("can reach 23 mailboxes ...: <why>")."""
    message = without_root_cause(f.message)
    if f.check_id == "TEN-001" and "): " in message:
        return message.split("): ", 1)[1]
    if f.check_id == "SCOPE-007" and message.startswith("can reach") and ": " in message:
        return message.split(": ", 1)[1]
    return ""


def headline(findings: tuple[Finding, ...], inventory: Any) -> Headline:
    inventory = inventory if isinstance(inventory, Mapping) else {}
    names, reaches = _app_names(inventory), _reaches(inventory)
    failing = [(i, f) for i, f in enumerate(findings) if f.status is Status.FAIL]
    reaching: dict[str, list[tuple[int, Finding]]] = {}
    for i, f in failing:
        if f.check_id in REACH_CHECKS:
            reaching.setdefault(f.resource.lower(), []).append((i, f))
    consequences: dict[str, int] = {}
    for _, f in failing:
        if f.evidence.get("root_cause") and f.check_id not in REACH_CHECKS:
            consequences[f.integration] = consequences.get(f.integration, 0) + 1
    reach_sentences = []
    for app_id, hits in reaching.items():
        hits.sort(key=lambda p: REACH_CHECKS.index(p[1].check_id))  # SCOPE-007 knows the queues
        i, first = hits[0]
        name = names.get(app_id) or first.integration or app_id
        why = next((w for _, f in hits if (w := _why(f))), "")
        reach = reaches.get(app_id)
        verb = _verb(_permissions(f for _, f in hits))
        text = f"can {verb} {reach_phrase(reach)}" + (f": {why}" if why else "")
        follows = sum(consequences.get(f.integration, 0) for _, f in hits if f.integration)
        order = (not (reach or {}).get("all"), -(_count((reach or {}).get("count")) or 0), VERBS.index(verb),
                 -follows, name.lower())
        reach_sentences.append((order, Sentence(name, text, first.check_id, first.severity, f"f-{i}", follows)))
    reach_sentences.sort(key=lambda p: p[0])
    sentences = [s for _, s in reach_sentences]
    worst = min((f.severity for _, f in failing), key=lambda s: s.rank, default=None)
    others = [(i, f) for i, f in failing if f.severity is worst and f.check_id not in REACH_CHECKS
              and not f.evidence.get("root_cause")
              and not (f.check_id in SAME_RISK and f.resource.lower() in reaching)]
    for i, f in others:
        subject, message = f.integration, without_root_cause(f.message)
        named = names.get(f.resource.lower(), "")
        if named and message.startswith(f"{named} ({f.resource})"):  # tenant checks: "Name (app id) holds ..."
            subject, message = named, message[len(f"{named} ({f.resource})"):].lstrip(": ")
        elif f.resource and f.resource.lower() not in names and f.resource not in message:
            message = f"{f.resource} {message}"  # a group or mailbox of the integration: say which
        sentences.append(Sentence(subject, message, f.check_id, f.severity, f"f-{i}", joiner=":" if
                                  f.integration and subject == f.integration else ""))
    shown = sentences[:HEADLINE_LIMIT]
    return Headline(tuple(shown), len(sentences) - len(shown), worst)


def error_causes(findings: tuple[Finding, ...]) -> tuple[Cause, ...]:
    """ERROR findings grouped by what stopped them (the section and its reason), most findings first."""
    grouped: dict[tuple[str, str], list[int]] = {}
    for i, f in enumerate(findings):
        if f.status is Status.ERROR:
            message = without_root_cause(f.message)
            hit = _SECTION.match(message)
            key = (hit.group(1), hit.group(2)) if hit else ("", message)
            grouped.setdefault(key, []).append(i)
    ordered = sorted(grouped.items(), key=lambda kv: (-len(kv[1]), kv[1][0]))
    return tuple(Cause(n, section, reason, len(idx), f"f-{idx[0]}")
                 for n, ((section, reason), idx) in enumerate(ordered, start=1))


def cause_of(causes: tuple[Cause, ...], message: str) -> Cause | None:
    """The cause an ERROR finding's message names, when at least one other finding shares it."""
    message = without_root_cause(message)
    for c in causes:
        if c.count > 1 and message == (f"{c.section}: {c.reason}" if c.section else c.reason):
            return c
    return None
