"""The Exchange collector: which read-only cmdlets, batched how, into which snapshot sections (docs/snapshot.md).

It never judges. Each section names its cmdlet(s) and is `ok` or `error` (one line, the cmdlet's message); a
failed read marks its own section and collection goes on. Look-up sections list what was asked (`queried`):
a not-found identity is absent from `data`, any other per-item failure is an `item_errors` entry.
Only calls whose rows name their input are batched as statements of one pipeline (Get-Mailbox, Get-Recipient,
Get-DistributionGroup, Test-ApplicationAccessPolicy); a batch that fails is rerun item by item, so one bad
mailbox costs one item.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from auditor.collect import listing
from auditor.collect.actual_scope import ScopeReader, actual_scope_section, with_scope_canaries
from auditor.collect.canaries import EXO_POOL_SOURCE, POOL_SOURCE, canaries_section, in_pool, is_group, iso_week, probes
from auditor.collect.exchange_identities import (
    NO_POLICIES_SOURCE,
    ROLE_SOURCE,
    mailbox_ids,
    names_mailbox,
    service_principal_assignments,
)
from auditor.collect.exchange_sections import (
    SECTIONS,
    SOURCES,
    by_guid,
    error_sections,
    failed,
    items_section,
    names,
    ok,
    unique,
)
from auditor.collect.group_members import read_members
from auditor.collect.shell import Command, ExchangeShell, ItemResult, PipelineFailed, ShellPool, one_line
from auditor.collect.shortlists import Shortlists
from auditor.errors import CollectionError
from auditor.models.baseline import Baseline, MailboxListing
from auditor.models.snapshot import Section, SectionStatus

__all__ = ["SECTIONS", "SOURCES", "ExchangeCollector", "collect_exchange", "error_sections"]

MEMBER_KEYS = ("Name", "PrimarySmtpAddress", "Guid", "ExternalDirectoryObjectId", "RecipientTypeDetails")
TEST_BATCH = 50  # Test-ApplicationAccessPolicy statements per pipeline (measured: see the report of issue 4)
LOOKUP_BATCH = 50


def collect_exchange(baseline: Baseline, open_pool: Callable[[], ShellPool], *, batch_size: int = TEST_BATCH,
                     collector: type[ExchangeCollector] | None = None) -> tuple[dict[str, Section], dict[str, Any]]:
    """Open the shells, collect every Exchange section, close the shells: (sections, {"exchange": run facts})."""
    try:
        pool = open_pool()
    except CollectionError as exc:
        return error_sections(str(exc)), {"exchange": {"error": one_line(str(exc))}}
    try:
        sections, facts = (collector or ExchangeCollector)(pool, baseline, batch_size=batch_size).collect()
    finally:
        pool.close()
    facts["exchange"].update(pool.facts())  # again: closing the pools costs round trips too
    return sections, facts


class ExchangeCollector:
    """Collects the Exchange sections over a ShellPool (or one ExchangeShell) for a baseline."""

    lookup_batch = LOOKUP_BATCH
    """Get-Mailbox, Get-Recipient and Get-DistributionGroup statements per pipeline."""

    def __init__(self, shells: ShellPool | ExchangeShell, baseline: Baseline, *, batch_size: int = TEST_BATCH,
                 now: datetime | None = None):
        self.pool = shells if isinstance(shells, ShellPool) else ShellPool([shells])
        self.baseline = baseline
        # Sampled and scope canaries rotate with the ISO week of the collection ([policy] canary_rotation).
        self.week = iso_week(now or datetime.now(UTC)) if baseline.policy.canary_rotation == "weekly" else ""
        self.integrations = baseline.integrations
        self.batch_size = max(1, batch_size)
        self._scope_guids: dict[str, str | None] = {}
        self._pool_facts: dict[str, str] = {"source": EXO_POOL_SOURCE}  # which listing served the canary pool
        # Canary ranks worked out per partition as the listing arrives (shortlists.py); used only when every
        # partition of the served pool went through them.
        self._shortlists = Shortlists([i.app_id for i in self.integrations], baseline.policy.canary_sample_size,
                                      self.week)
        self._shortlists_whole = False

    def collect(self) -> tuple[dict[str, Section], dict[str, Any]]:
        """Every read starts as soon as what it needs is known, so the shells never idle while work waits.

        The mailbox listing (the canary pool) is by far the longest read; it starts first, and everything that
        does not need it (listings, groups, look-ups, the integrations' scope reads, and the access and
        authorization tests of queues and explicit canaries) takes the shells between its partitions. Only
        the sampled and scope canaries wait for it; the sweep apps' scope reads fill the shells' idle moments."""
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=12, thread_name_prefix="exo-read") as run:
            pool_f = run.submit(self._mailbox_pool)
            policies_f = run.submit(self._policies)
            principals_f = run.submit(self._principals)
            groups_f = run.submit(self._groups)
            scopes_f = run.submit(self._listing, "exchange.managementScopes", Command("Get-ManagementScope"))
            found_f = run.submit(self._lookup, "Get-Mailbox",
                                 [a for i in self.integrations for a in (*i.mailboxes, *i.canaries)])
            breaker: list[str] = []  # one run of like failures for both waves of authorization tests
            early = probes(self.integrations, None)
            auth_early_f = run.submit(lambda: self._authorization_items(
                early, *principals_f.result(), breaker, _found_rows(found_f.result())))
            # The queues' and explicit canaries' access tests need only their look-ups: as many whole batches of
            # them as there are run while the pool lists (whole ones only: the run sends no more pipelines).
            ahead = dict(list(early.items())[:len(early) // self.batch_size * self.batch_size])
            access_early_f = run.submit(lambda: self._access_items(ahead, _found_rows(found_f.result())))
            recipients_f = run.submit(lambda: self._recipients(policies_f.result(), groups_f.result()))
            reader, ours = ScopeReader(self.pool), {i.app_id.lower() for i in self.integrations}
            reads = lambda by, **more: by.read(policies_f.result(), recipients_f.result(),  # noqa: E731
                                               groups_f.result(), scopes_f.result(), *principals_f.result(), **more)
            targets_f = run.submit(lambda: reads(reader, apps=ours))
            # The sweep apps' targets need no pool either, and only the last section waits for them: read in the
            # shells' idle moments, never ahead of a read on the longest path (the listing, canaries, tests).
            sweep_reader = reader.sharing(self.pool.background())
            sweep_targets_f = run.submit(lambda: reads(sweep_reader, done=targets_f.result()))
            (pool, pool_error), groups = pool_f.result(), groups_f.result()
            canaries, sampled = canaries_section(self.integrations, groups, self._scope_guids, pool, pool_error,
                                                 self.baseline.policy.canary_sample_size, self._pool_facts["source"],
                                                 self.week, self._shortlists if self._shortlists_whole else None)
            canaries, sampled = self._scope_canaries(canaries, sampled, policies_f.result(),
                                                     *principals_f.result(), targets_f.result(), pool, pool_error)
            probed = probes(self.integrations, canaries)
            later = {k: v for k, v in probed.items() if k not in early}
            mailboxes, rows = self._mailboxes(found_f.result(), sampled)
            auth_late_f = run.submit(lambda: (auth_early_f.result(),
                                              self._authorization_items(later, *principals_f.result(), breaker, rows)))
            rest = {k: v for k, v in probed.items() if k not in ahead}
            access = self._access_section(probed, {**access_early_f.result(), **self._access_items(rest, rows)})
            (auth_keys_early, found_early), (auth_keys_late, found_late) = auth_late_f.result()
            authorization = self._authorization_section(probed, [*auth_keys_early, *auth_keys_late],
                                                        {**found_early, **found_late})
            sps, roles = principals_f.result()
            actual, _ = actual_scope_section([(i.app_id, i.mailboxes) for i in self.integrations], policies_f.result(),
                                             roles, sps, {**targets_f.result(), **sweep_targets_f.result()}, pool,
                                             pool_error)
            sections = [policies_f.result(), recipients_f.result(), groups, mailboxes, access, sps, roles,
                        scopes_f.result(), authorization, canaries, actual]
        pool_facts = {f"canary_pool_{k}": v for k, v in self._pool_facts.items()}  # source (and fallback)
        facts = {**self.pool.facts(), "test_batch_size": self.batch_size, **pool_facts,
                 "canary_pool_size": len(pool or []), "wall_s": round(time.monotonic() - started, 3)}
        return {s.name: s for s in sections}, {"exchange": facts}

    def _scope_canaries(self, canaries: Section, sampled: dict[str, list[dict[str, Any]]], policies: Section,
                        sps: Section, roles: Section, targets: Any, pool: list[dict[str, Any]] | None,
                        pool_error: str | None) -> tuple[Section, dict[str, list[dict[str, Any]]]]:
        """The canaries with each integration's scope canaries, from the integrations' targets (rows merged into
        `sampled`, so that their Guids are known to the access tests)."""
        limit = self.baseline.policy.scope_canary_limit
        apps = [(i.app_id, i.mailboxes) for i in self.integrations]
        _, reaches = actual_scope_section(apps, policies, roles, sps, targets, pool, pool_error)
        canaries, scope_rows = with_scope_canaries(self.integrations, canaries, reaches, targets, pool, limit,
                                                   self.week)
        merged = {app: [*sampled.get(app, []), *scope_rows.get(app, [])] for app in {*sampled, *scope_rows}}
        return canaries, merged

    def _listing(self, name: str, command: Command, source: str | None = None,
                 on_failure: Callable[[PipelineFailed], Section] | None = None) -> Section:
        """A complete listing: any error or a truncation warning makes the section `error`, never a short list."""
        try:
            out = self.pool.run([command])
        except PipelineFailed as exc:
            return on_failure(exc) if on_failure else failed(name, str(exc), source)
        except CollectionError as exc:
            return failed(name, str(exc), source)
        problem = out.incomplete
        return failed(name, f"{command.describe()}: {problem}", source) if problem else ok(name, out.rows,
                                                                                             source=source)

    def _policies(self) -> Section:
        """Every access policy. A tenant that never had one may answer not-found instead of an empty list
        (docs/microsoft-facts.md): that is no policies, and the section's source says so."""
        name = "exchange.applicationAccessPolicies"

        def none_yet(exc: PipelineFailed) -> Section:
            return ok(name, [], source=NO_POLICIES_SOURCE) if exc.error.not_found else failed(name, str(exc))

        section = self._listing(name, Command("Get-ApplicationAccessPolicy"), on_failure=none_yet)
        if section.status is SectionStatus.ERROR and "couldn't be found" in (section.error or ""):
            return ok(name, [], source=NO_POLICIES_SOURCE)  # the same answer as a non-terminating error
        return section

    def _principals(self) -> tuple[Section, Section]:
        """Service principals, then every role assignment, kept to those of service principals here: the
        -RoleAssigneeType filter would need ServicePrincipal, which is not a documented value."""
        sps = self._listing("exchange.servicePrincipals", Command("Get-ServicePrincipal"))
        name = "exchange.roleAssignments"
        every = self._listing(name, Command("Get-ManagementRoleAssignment"), ROLE_SOURCE)
        if every.status is not SectionStatus.OK:
            return sps, every
        kept, problem = service_principal_assignments(every.data, sps)
        return sps, failed(name, problem, ROLE_SOURCE) if problem else ok(name, kept, source=ROLE_SOURCE)

    def _mailbox_pool(self) -> tuple[list[dict[str, Any]] | None, str | None]:
        """Get-EXOMailbox's Minimum set where the endpoint has the module's cmdlets, else Get-Mailbox (a direct
        endpoint, or a REST endpoint without them, answers CommandNotFound; the run facts say which served)."""
        def fallback(exc: PipelineFailed) -> Section:
            if not exc.error.command_not_found:
                return failed("canaries", str(exc), EXO_POOL_SOURCE)
            self._pool_facts.update(source=POOL_SOURCE, fallback=f"Get-EXOMailbox: {one_line(exc.error.message)}")
            return self._listing("canaries", Command("Get-Mailbox", {"ResultSize": "Unlimited"}), POOL_SOURCE)

        # ExchangeGuid and Sid ride along: Test-ApplicationAccessPolicy's MailboxId may carry either
        # (undocumented), and sampled canaries are matched back by them without a look-up of their own.
        exo = Command("Get-EXOMailbox", {"ResultSize": "Unlimited", "PropertySets": "Minimum",
                                         "Properties": ["ExchangeGuid", "Sid"]})
        if self.baseline.exchange.listing is MailboxListing.PARTITIONED:
            return self._partitioned_pool(exo, fallback)
        pool = self._listing("canaries", exo, EXO_POOL_SOURCE, on_failure=fallback)
        if pool.status is not SectionStatus.OK:
            return None, pool.error
        return [row for row in pool.data if in_pool(row)], None

    def _partitioned_pool(self, exo: Command, fallback: Callable[[PipelineFailed], Section]
                          ) -> tuple[list[dict[str, Any]] | None, str | None]:
        """The same listing as disjoint -Filter partitions read at once (auditor/collect/listing.py); any
        partition failing fails the pool, as the single listing would; CommandNotFound falls back as above."""
        missing: list[PipelineFailed] = []

        def not_found(exc: PipelineFailed) -> Section:
            if exc.error.command_not_found:
                missing.append(exc)
            return failed("canaries", str(exc), EXO_POOL_SOURCE)

        def part(text: str) -> Section:
            command = Command("Get-EXOMailbox", {**exo.parameters, "Filter": text})
            section = self._listing("canaries", command, EXO_POOL_SOURCE, on_failure=not_found)
            if section.status is SectionStatus.OK:
                self._shortlists.add(section.data)
            return section

        sections = self.pool.map(part, listing.partition_filters())
        if missing:  # Get-EXOMailbox is not a command here: one plain Get-Mailbox, as the single listing does
            plain = fallback(missing[0])
            return (None, plain.error) if plain.status is not SectionStatus.OK else (
                [row for row in plain.data if in_pool(row)], None)
        broken = next((s for s in sections if s.status is not SectionStatus.OK), None)
        if broken is not None:
            return None, broken.error
        rows, doubles = listing.merge(s.data for s in sections)
        self._pool_facts.update(partitions=str(len(sections)), doubles=str(doubles))
        self._shortlists_whole = True
        return [row for row in rows if in_pool(row)], None

    def _lookup(self, cmdlet: str, identities: Sequence[str]) -> dict[str, ItemResult]:
        """Get-Mailbox / Get-Recipient -Identity, batched; results keyed by the identity lower-cased."""
        given = {i.lower(): i for i in unique(identities)}
        return self.pool.read_items(list(given), lambda key: Command(cmdlet, {"Identity": given[key]}),
                                    lambda key, row: key in names(row), lambda key: given[key], self.lookup_batch)

    def _groups(self) -> Section:
        """Each scope group and, breadth first, every nested group as its own entry (cycles cut by Guid).

        Get-DistributionGroup rows name their input, so each level's groups share pipelines; so do their members,
        although Get-DistributionGroupMember rows do not name the group (group_members.py tells them apart)."""
        wanted = unique([i.scope_group for i in self.integrations if i.scope_group])
        scope_keys = {g.lower() for g in wanted}
        entries: list[dict[str, Any]] = []
        errors: dict[str, str] = {}
        seen: set[str] = set()
        level = [(g, g.lower()) for g in wanted]  # (identity asked, item key)
        while level:
            following: dict[str, tuple[str, str]] = {}
            for (_, key), (entry, error, not_found) in zip(level, self._read_level(level), strict=True):
                if key in scope_keys:
                    self._scope_guids[key] = str(entry["Guid"]).lower() if entry else None
                if error and not (not_found and key in scope_keys):  # a nested group must be readable
                    errors[key] = error
                if entry is None or str(entry.get("Guid")).lower() in seen:
                    continue
                seen.add(str(entry.get("Guid")).lower())
                entries.append(entry)
                for m in entry["Members"]:
                    guid = str(m.get("Guid") or "").lower()
                    if is_group(m) and guid and guid not in seen:
                        following[guid] = (guid, str(m.get("PrimarySmtpAddress") or guid).lower())
            level = list(following.values())
        broken = [errors[k] for k in scope_keys if k in errors]
        return failed("exchange.groups", broken[0]) if wanted and len(broken) == len(wanted) else ok(
            "exchange.groups", entries, wanted, errors)

    def _read_level(self, level: list[tuple[str, str]]) -> list[tuple[dict[str, Any] | None, str | None, bool]]:
        """(the group's properties plus `Members`, error, not found) for each (identity asked, key) of a level."""
        asked = {key: identity for identity, key in level}
        found = self.pool.read_items(list(asked), lambda key: Command("Get-DistributionGroup", {
            "Identity": asked[key]}), lambda key, row: key in names(row), lambda key: asked[key], self.lookup_batch)

        rows = {key: found[key].rows[0] for _, key in level
                if found[key].error is None and len(found[key].rows) == 1}
        members = dict(zip(rows, read_members(self.pool, [str(r.get("Guid") or asked[k]) for k, r in rows.items()]),
                           strict=True))

        def group(identity: str, key: str) -> tuple[dict[str, Any] | None, str | None, bool]:
            item = found[key]
            if item.error is not None:
                return None, item.error, item.not_found
            if key not in rows:
                return None, f"Get-DistributionGroup -Identity {identity} gave {len(item.rows)} groups", not item.rows
            read = members[key]
            if read.failure:
                return None, read.failure, False
            if read.problem:
                return None, f"Get-DistributionGroupMember: {read.problem}", False
            return {**rows[key], "Members": [{k: m[k] for k in MEMBER_KEYS if k in m} for m in read.rows]}, None, False

        return [group(identity, key) for identity, key in level]

    def _mailboxes(self, found: dict[str, ItemResult], sampled: dict[str, list[dict[str, Any]]]
                   ) -> tuple[Section, dict[str, dict[str, Any]]]:
        """Queue and explicit-canary mailboxes (looked up) plus the sampled canaries (rows from the pool); and
        each address's row, whose identifiers the tests need (MailboxId, -Resource)."""
        extra = {str(r["PrimarySmtpAddress"]).lower(): r for rows in sampled.values() for r in rows}
        queried = [*found, *(a for a in extra if a not in found)]
        section = items_section("exchange.mailboxes", list(found), found, True, lambda k, it: it.rows, queried)
        if section.status is SectionStatus.OK:
            section = ok(section.name, by_guid([*section.data, *extra.values()]), queried, section.item_errors)
        return section, {**_found_rows(found), **extra}

    def _recipients(self, policies: Section, groups: Section) -> Section:
        """Get-Recipient for the scope groups, each policy's scope (the Guid of ScopeIdentityRaw "<Sid>;<Guid>")
        and every ManagedBy entry of the collected groups."""
        wanted = [i.scope_group for i in self.integrations if i.scope_group]
        if policies.status is SectionStatus.OK:
            raws = (str(p.get("ScopeIdentityRaw") or "") for p in policies.data)
            wanted += [raw.split(";", 1)[1].strip() for raw in raws if ";" in raw]
        if groups.status is SectionStatus.OK:
            for group in groups.data:
                managers = group.get("ManagedBy")
                wanted += [managers] if isinstance(managers, str) else [str(m) for m in managers or ()]
        wanted = unique(wanted)
        found = self._lookup("Get-Recipient", wanted)
        section = items_section("exchange.recipients", list(found), found, True, lambda k, it: it.rows, wanted)
        if section.status is SectionStatus.OK:
            section = ok(section.name, by_guid(section.data), wanted, section.item_errors)
        return section

    def _access_items(self, probed: dict[str, tuple[str, str]], rows: dict[str, dict[str, Any]]
                      ) -> dict[str, ItemResult]:
        """Test-ApplicationAccessPolicy, batched: rows name their input by AppId and MailboxId, whichever of the
        mailbox's identifiers MailboxId carries (undocumented; a row matching none reruns alone)."""
        ids = {address: mailbox_ids(row) for address, row in rows.items()}

        def owns(key: str, row: dict[str, Any]) -> bool:
            app, address = probed[key]
            return str(row.get("AppId") or "").lower() == app and names_mailbox(row, ids.get(address.lower(), set()))

        return self.pool.read_items(list(probed), lambda k: Command("Test-ApplicationAccessPolicy", {
            "Identity": probed[k][1], "AppId": probed[k][0]}), owns, lambda k: probed[k][1], self.batch_size)

    @staticmethod
    def _access_section(probed: dict[str, tuple[str, str]], found: dict[str, ItemResult]) -> Section:
        keys = list(probed)
        return items_section("exchange.accessTests", keys, found, False, lambda k, it: [
            {**it.rows[0], "Identity": probed[k][1].lower()}] if it.rows else [], keys)

    def _authorization_items(self, probed: dict[str, tuple[str, str]], sps: Section, roles: Section,
                             breaker: list[str], mailboxes: dict[str, dict[str, Any]]
                             ) -> tuple[list[str], dict[str, ItemResult]]:
        """Test-ServicePrincipalAuthorization, one pipeline each (rows name neither app nor mailbox), spread over
        the pools; for apps with RBAC assignments and every `access_model = "rbac"` integration. -Resource is
        the mailbox's Guid: the parameter takes a name, DN or GUID, not an address (docs/microsoft-facts.md),
        so a mailbox that was not found is not tested (the checks skip it: MBX-001)."""
        apps = {i.app_id.lower() for i in self.integrations if i.access_model == "rbac"}
        if sps.status is SectionStatus.OK and roles.status is SectionStatus.OK:
            assignees = {str(r.get("RoleAssignee") or "").lower() for r in roles.data}
            apps |= {str(sp.get("AppId")).lower() for sp in sps.data
                     if {str(sp.get("ObjectId") or "").lower(), str(sp.get("AppId") or "").lower()} & assignees}
        guids = {a: str(row.get("Guid") or "") for a, row in mailboxes.items()}
        keys = [k for k, (app, address) in probed.items() if app in apps and guids.get(address.lower())]
        found = self.pool.read_items(keys, lambda k: Command("Test-ServicePrincipalAuthorization", {
            "Identity": probed[k][0], "Resource": guids[probed[k][1].lower()]}), lambda k, row: True,
            lambda k: guids[probed[k][1].lower()], 1, failures=breaker)
        return keys, found

    def _authorization_section(self, probed: dict[str, tuple[str, str]], tested: list[str],
                               found: dict[str, ItemResult]) -> Section:
        keys = [k for k in probed if k in set(tested)]  # in probe order, whichever wave tested them
        return items_section("exchange.authorizationTests", keys, found, False, lambda k, it: [
            {"AppId": probed[k][0], "Resource": probed[k][1].lower(), "Rows": it.rows}], keys)


def _found_rows(found: dict[str, ItemResult]) -> dict[str, dict[str, Any]]:
    """The one Get-Mailbox row of each address looked up and found."""
    return {k: it.rows[0] for k, it in found.items() if it.rows and not it.error}
