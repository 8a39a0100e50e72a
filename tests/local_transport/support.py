"""Audits of the demo tenant over the local transport, with the `pwsh` stand-in's fault knobs."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from auditor.collect import children
from auditor.collect.exchange_reader import read_exchange
from auditor.collect.run import collect
from auditor.demo import DEMO_BASELINE, DEMO_TENANT, emulator_baseline, emulator_settings, running_emulator
from auditor.emulator.faults import FaultPlan
from auditor.models.baseline import load_baseline
from auditor.models.snapshot import SectionStatus, Snapshot


def local_audit(*knobs: str, timeout_s: float = 20.0, pools: int = 2, pwsh_path: str | None = None) -> Snapshot:
    """Collect the demo tenant over `local` with these stand-in knobs; every child is gone afterwards."""
    base = load_baseline(DEMO_BASELINE)
    base = dataclasses.replace(base, exchange=dataclasses.replace(
        base.exchange, transport="local", operation_timeout_s=timeout_s, pools=pools))
    with running_emulator(DEMO_TENANT, FaultPlan(pwsh=frozenset(knobs))) as server:
        aimed = emulator_baseline(base, server)
        if pwsh_path is not None:
            aimed = dataclasses.replace(aimed, exchange=dataclasses.replace(aimed.exchange, pwsh_path=pwsh_path))
        snapshot = collect(aimed, emulator_settings(server), read_exchange)
    assert children.live_pids() == []
    return snapshot


def local_audit_with(launcher: Callable[[Any], Path]) -> tuple[Snapshot, list[str]]:
    """Collect the demo tenant over `local` with the launcher `launcher(server)` makes; also the Exchange tokens
    the emulator issued (to look for them where they must not be)."""
    base = load_baseline(DEMO_BASELINE)
    base = dataclasses.replace(base, exchange=dataclasses.replace(base.exchange, transport="local"))
    issued: list[str] = []
    with running_emulator(DEMO_TENANT, FaultPlan()) as server:
        issue = server.tokens.issue

        def recording(*args: Any, **kwargs: Any) -> str:
            issued.append(issue(*args, **kwargs))
            return issued[-1]

        server.tokens.issue = recording  # type: ignore[method-assign]
        aimed = emulator_baseline(base, server)
        aimed = dataclasses.replace(aimed, exchange=dataclasses.replace(aimed.exchange,
                                                                        pwsh_path=str(launcher(server))))
        snapshot = collect(aimed, emulator_settings(server), read_exchange)
    assert children.live_pids() == []
    return snapshot, issued


def exchange_errors(snapshot: Snapshot) -> dict[str, str]:
    return {name: section.error or "" for name, section in snapshot.sections.items()
            if section.source != "graph" and name != "canaries" and section.status is SectionStatus.ERROR}


def graph_ok(snapshot: Snapshot) -> bool:
    return all(s.status is SectionStatus.OK for n, s in snapshot.sections.items() if n.startswith("graph."))


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (Linux /proc)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def child_pids(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == parent:
                found.append(int(entry))
    return found
