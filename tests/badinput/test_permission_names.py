"""A permission the baseline names but its resource does not define (a typo) is one configuration error with
the closest real names, exit 2: at collection, before a snapshot is written, and at `evaluate` from the
snapshot's resource principals. Before, `Mail.Sned` produced three misleading FAILs."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.demo import DEMO_BASELINE
from auditor.models.baseline import load_baseline
from auditor.models.baseline_permissions import unknown_permissions
from auditor.models.graph import AppRole, ResourcePrincipal
from samples import SAMPLES_DIR
from tests.security.conftest import run_cli

GRAPH = "00000003-0000-0000-c000-000000000000"


def misspelt(source: Path, folder: Path, wrong: str = "Mail.Sned") -> Path:
    text = source.read_text(encoding="utf-8")
    assert 'permissions = ["Mail.ReadWrite", "Mail.Send"]' in text
    path = folder / source.name
    path.write_text(text.replace('"Mail.Send"]', f'"{wrong}"]', 1), encoding="utf-8")
    return path


def test_demo_collection_refuses_a_misspelt_permission(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, err = run_cli("demo", "--baseline", str(misspelt(DEMO_BASELINE, tmp_path)), "--out", str(out),
                           "--no-history", "-q")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert "'Mail.Sned' is not an application permission of Microsoft Graph (did you mean Mail.Send?)" in lines[0]
    assert not (out / "snapshot.json").exists() and not (out / "findings.json").exists()


def test_evaluate_refuses_it_from_the_snapshot(tmp_path: Path) -> None:
    snapshot = SAMPLES_DIR / "snapshots" / "sample-snapshot.json"
    baseline = misspelt(SAMPLES_DIR / "baselines" / "sample.toml", tmp_path)
    code, _, err = run_cli("evaluate", str(snapshot), "--baseline", str(baseline), "--out", str(tmp_path / "o"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "did you mean Mail.Send?" in err, err
    assert not (tmp_path / "o").exists()
    # the correct baseline still evaluates
    code, _, err = run_cli("evaluate", str(snapshot), "--baseline", str(SAMPLES_DIR / "baselines" / "sample.toml"),
                           "--out", str(tmp_path / "ok"), "-f", "json")
    assert code in (1, 3), err


@pytest.mark.parametrize(("name", "expected"), [
    ("Mail.Send", None), ("mail.send", None), ("Mail.Sned", "did you mean Mail.Send?"),
    ("Microsoft Graph:Mail.Raed", "did you mean Mail.Read"), ("Nonsense.Thing", "of Microsoft Graph"),
    ("Office 365 Exchange Online:full_access_as_app", None), ("Unknown Resource:Anything", None),
])
def test_names_resolve_against_the_resource_app_roles(name: str, expected: str | None) -> None:
    base = load_baseline(SAMPLES_DIR / "baselines" / "sample.toml")
    from dataclasses import replace

    base = replace(base, integrations=(replace(base.integrations[0], permissions=(name,), allowed_extra=()),))
    roles = ("Mail.Read", "Mail.ReadWrite", "Mail.Send", "User.Read.All")
    graph = ResourcePrincipal(id="1" * 8, app_id=GRAPH, display_name="Microsoft Graph",
                              app_roles=tuple(AppRole(id=str(n), value=v) for n, v in enumerate(roles)))
    exchange = ResourcePrincipal(id="2" * 8, app_id="00000002-0000-0ff1-ce00-000000000000",
                                 display_name="Office 365 Exchange Online",
                                 app_roles=(AppRole(id="9", value="full_access_as_app"),))
    problems = unknown_permissions(base, [graph, exchange])
    if expected is None:
        assert problems == []
    else:
        assert len(problems) == 1 and expected in problems[0] and repr(name) in problems[0]


def test_a_bare_name_of_another_resource_points_at_its_full_name() -> None:
    from dataclasses import replace

    base = load_baseline(SAMPLES_DIR / "baselines" / "sample.toml")
    base = replace(base, integrations=(replace(base.integrations[0], permissions=("full_access_as_app",),
                                               allowed_extra=()),))
    graph = ResourcePrincipal(id="1" * 8, app_id=GRAPH, display_name="Microsoft Graph",
                              app_roles=(AppRole(id="1", value="Mail.Read"),))
    exchange = ResourcePrincipal(id="2" * 8, app_id="00000002-0000-0ff1-ce00-000000000000",
                                 display_name="Office 365 Exchange Online",
                                 app_roles=(AppRole(id="9", value="full_access_as_app"),))
    assert unknown_permissions(base, [graph, exchange]) == [
        "integration 'Contact Center' permissions: 'full_access_as_app' is not an application permission of "
        "Microsoft Graph (did you mean Office 365 Exchange Online:full_access_as_app?)"]
