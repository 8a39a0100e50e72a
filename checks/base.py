"""What a check is: a small pure function with its metadata beside it (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from auditor.models.baseline import Integration
from auditor.models.findings import Severity, Status
from auditor.models.parsing import DataError


class SectionUnavailable(Exception):
    """A snapshot section (or an item in it) a check needs was not collected or its collection failed."""

    def __init__(self, section: str, reason: str, skip: bool = False) -> None:
        super().__init__(f"{section}: {reason}")
        self.section, self.reason, self.skip = section, reason, skip


class NotApplicable(Exception):
    """The check does not apply to this integration (e.g. APP-001 fails); the engine records one SKIP."""

    def __init__(self, resource: str, reason: str) -> None:
        super().__init__(reason)
        self.resource, self.reason = resource, reason


@dataclass(frozen=True)
class Result:
    """What a check yields; the engine adds id, title, severity, provenance and waivers."""

    status: Status
    resource: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


def passed(resource: str, message: str, evidence: dict[str, Any] | None = None) -> Result:
    return Result(Status.PASS, resource, message, evidence or {})


def failed(resource: str, message: str, evidence: dict[str, Any] | None = None) -> Result:
    return Result(Status.FAIL, resource, message, evidence or {})


def skipped(resource: str, message: str, evidence: dict[str, Any] | None = None) -> Result:
    return Result(Status.SKIP, resource, message, evidence or {})


def errored(resource: str, message: str, evidence: dict[str, Any] | None = None) -> Result:
    return Result(Status.ERROR, resource, message, evidence or {})


def per_item(resource: str, judge: Callable[[], Result]) -> Result:
    """Judge one item of a per-item check; data missing for this item alone makes this item ERROR."""
    try:
        return judge()
    except SectionUnavailable as exc:
        return Result(Status.SKIP if exc.skip else Status.ERROR, resource, str(exc))
    except DataError as exc:
        return errored(resource, str(exc))


def each_queue(integration: Integration, judge: Callable[[str], Result]) -> Iterator[Result]:
    """A per-item check over the queue mailboxes (lower-cased); one SKIP when the baseline lists none."""
    if not integration.mailboxes:
        yield skipped(integration.app_id, "no queue mailboxes in the baseline")
        return
    for mailbox in integration.mailboxes:
        yield per_item(mailbox.lower(), partial(judge, mailbox.lower()))


IntegrationCheckFn = Callable[..., Iterable[Result]]


@dataclass(frozen=True)
class CheckSpec:
    id: str
    title: str
    severity: Severity
    scope: str  # "integration" or "tenant"
    needs: tuple[str, ...]
    rationale: str
    remediation: str
    references: tuple[str, ...]
    func: IntegrationCheckFn
    default_resource: str = "app"  # "app" or "group": what a check-level ERROR/SKIP names

    def run(self, *args: Any) -> Iterator[Result]:
        yield from self.func(*args)


def check(
    *,
    id: str,
    title: str,
    severity: Severity,
    needs: tuple[str, ...],
    rationale: str,
    remediation: str,
    references: tuple[str, ...],
    scope: str = "integration",
    default_resource: str = "app",
) -> Callable[[IntegrationCheckFn], CheckSpec]:
    def wrap(func: IntegrationCheckFn) -> CheckSpec:
        return CheckSpec(id=id, title=title, severity=severity, scope=scope, needs=needs, rationale=rationale,
                         remediation=remediation, references=references, func=func,
                         default_resource=default_resource)

    return wrap


def attempt(func: Callable[[], Any]) -> tuple[Any, SectionUnavailable | DataError | None]:
    """Run a read whose absence should not sink a whole sweep: (value, None) or (None, the reason)."""
    try:
        return func(), None
    except (SectionUnavailable, DataError) as exc:
        return None, exc
