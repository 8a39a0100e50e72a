"""The synthetic tenant generator: deterministic by seed, loadable by the emulator, sized as asked."""

from __future__ import annotations

import json

import pytest

from auditor.emulator.tenant import load_tenant
from auditor.models.baseline import parse_baseline
from benchmarks.generate import Sizes, generate, main

SMALL = Sizes(service_principals=60, mailboxes=120, integrations=3, seed=5)


def test_the_same_seed_gives_the_same_files_and_another_seed_another_tenant(tmp_path):
    main(["--service-principals", "60", "--mailboxes", "120", "--integrations", "3", "--seed", "5",
          "--out", str(tmp_path / "a")])
    main(["--service-principals", "60", "--mailboxes", "120", "--integrations", "3", "--seed", "5",
          "--out", str(tmp_path / "b")])
    for name in ("tenant.json", "baseline.toml"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    other = generate(Sizes(60, 120, 3, seed=6))
    assert other.tenant != json.loads((tmp_path / "a" / "tenant.json").read_text())


def test_the_tenant_loads_and_has_the_sizes_asked_for():
    generated = generate(SMALL)
    tenant = load_tenant(generated.tenant)  # validated as any tenant file
    file_sps = {sp["appId"] for sp in generated.tenant["graph"]["servicePrincipals"]}
    assert len(file_sps) == SMALL.service_principals
    assert len(tenant.doc["exchange"]["mailboxes"]) == SMALL.mailboxes
    kinds = {m["RecipientTypeDetails"] for m in tenant.doc["exchange"]["mailboxes"]}
    assert {"UserMailbox", "SharedMailbox"} <= kinds
    baseline = parse_baseline(generated.baseline, "bench.toml")
    assert len(baseline.integrations) == SMALL.integrations and baseline.sweep.enabled
    assert baseline.tenant.id == tenant.id
    assert {i.app_id for i in baseline.integrations} <= file_sps
    mailboxes = {m["PrimarySmtpAddress"] for m in tenant.doc["exchange"]["mailboxes"]}
    assert all(set(i.mailboxes) <= mailboxes and set(i.canaries) <= mailboxes for i in baseline.integrations)


def test_mailbox_and_takeover_permissions_are_drawn_for_some_apps():
    tenant = generate(Sizes(service_principals=400, mailboxes=200, integrations=2, seed=1)).tenant
    held = {a["appRoleId"] for a in tenant["graph"]["appRoleAssignments"]}
    assert {"Mail.ReadWrite", "Mail.Send"} <= held and held & {"Application.ReadWrite.All",
                                                                "RoleManagement.ReadWrite.Directory",
                                                                "Directory.ReadWrite.All"}
    assert tenant["exchange"]["applicationAccessPolicies"] and tenant["exchange"]["managementRoleAssignments"]


def test_sizes_too_small_for_the_integrations_are_refused():
    with pytest.raises(ValueError, match="mailboxes"):
        generate(Sizes(service_principals=10, mailboxes=10, integrations=3))
