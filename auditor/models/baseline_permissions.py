"""Baseline sanity against the tenant: every permission the baseline names must be an app role its resource
defines. A misspelt name (`Mail.Sned`) would otherwise match nothing and surface as three misleading FAILs
(not requested, no consent, not granted) instead of one configuration error.

The resource's own `appRoles` (read from its service principal, as Graph lists them) are the truth: no list of
permission names is hard-coded. Run at collection, once Graph's resource principals are read (before any
snapshot is written), and by `evaluate` from the snapshot's graph.resources. A resource not in the snapshot (not
in the tenant, or graph.resources failed) cannot be checked here: its checks report it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from auditor.errors import ConfigError
from auditor.models.baseline import Baseline
from auditor.models.graph import GRAPH_APP_ID, ResourcePrincipal, parse_resource
from auditor.models.parsing import DataError
from auditor.models.snapshot import SectionStatus, Snapshot


def resources_in(data: Any) -> list[ResourcePrincipal]:
    """The resource principals in graph.resources data; malformed rows are left to the checks (DataError)."""
    out = []
    for row in data if isinstance(data, list) else []:
        try:
            out.append(parse_resource(row))
        except DataError:
            continue
    return out


def unknown_permissions(baseline: Baseline, resources: Iterable[ResourcePrincipal]) -> list[str]:
    """One sentence per baseline permission its resource's appRoles do not hold, with the closest real names."""
    by_key: dict[str, ResourcePrincipal] = {}
    for r in resources:
        by_key.setdefault(r.app_id.lower(), r)
        by_key.setdefault(r.display_name.lower(), r)
    problems = []
    for integration in baseline.integrations:
        for field, names in (("permissions", integration.permissions), ("allowed_extra", integration.allowed_extra)):
            for name in names:
                resource_name, value = (name.rsplit(":", 1) if ":" in name else (GRAPH_APP_ID, name))
                resource = by_key.get(resource_name.strip().lower())
                if resource is None or not resource.app_roles:
                    continue
                values = [role.value for role in resource.app_roles]
                if value.strip().lower() in {v.lower() for v in values}:
                    continue
                elsewhere = [f"{r.display_name}:{role.value}" for r in resources_seen(by_key) if r is not resource
                             for role in r.app_roles if role.value.lower() == value.strip().lower()]
                hint = f" (did you mean {' or '.join(elsewhere)}?)" if elsewhere else _did_you_mean(value.strip(),
                                                                                                    values)
                problems.append(f"integration {integration.name!r} {field}: {name!r} is not an application "
                                f"permission of {resource.display_name}{hint}")
    return problems


def resources_seen(by_key: dict[str, ResourcePrincipal]) -> list[ResourcePrincipal]:
    return list({r.id: r for r in by_key.values()}.values())


def _did_you_mean(value: str, values: list[str]) -> str:
    lowered = {v.lower(): v for v in values}
    scored = sorted(((difflib.SequenceMatcher(None, value.lower(), v).ratio(), v) for v in lowered), reverse=True)
    # The best match, and any about as close (within 0.05): "did you mean Mail.Send?", not every Mail.* name.
    close = [v for score, v in scored[:3] if score >= 0.75 and score >= scored[0][0] - 0.05] if scored else []
    return f" (did you mean {' or '.join(lowered[c] for c in close)}?)" if close else ""


def check_permissions(baseline: Baseline, resources: Iterable[ResourcePrincipal]) -> None:
    """Raise ConfigError (exit 2) naming every unknown permission."""
    problems = unknown_permissions(baseline, resources)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ConfigError(f"{baseline.source}: {'; '.join(problems[:3])}{more}")


def check_snapshot_permissions(snapshot: Snapshot, baseline: Baseline) -> None:
    section = snapshot.section("graph.resources")
    if section is not None and section.status is SectionStatus.OK:
        check_permissions(baseline, resources_in(section.data))
