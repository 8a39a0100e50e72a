"""Tenant files for `auditor demo --tenant`: the demo tenant mutated (keys dropped, wrong types, ids pointing
nowhere or at the wrong kind of object, huge and odd strings, bytes that are not UTF-8) and random documents.

A tenant file that loads runs the whole demo (about a second), so this target is the slowest of the suite;
reports other than findings.json are left out to keep it quick (their renderers are fuzzed through findings
files)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from auditor.demo import DEMO_TENANT

from .conftest import FUZZ, JSON_VALUE, encoded, ids_in, judge, mutated, retexted, run_cli, workspace

TENANT = json.loads(DEMO_TENANT.read_text(encoding="utf-8"))
IDS = ids_in(TENANT)


def demo_with(data: bytes) -> None:
    with workspace() as folder:
        tenant = folder / "tenant.json"
        tenant.write_bytes(data)
        out = folder / "out"
        code, stdout, err = run_cli("demo", "--tenant", str(tenant), "--out", str(out), "--quiet",
                                    "--format", "json")
        judge("tenant", code, stdout, err, out, ("findings.json", "snapshot.json"))


@FUZZ
@given(st.data())
def test_mutated_tenant_files(data: st.DataObject) -> None:
    demo_with(encoded(data.draw, data.draw(mutated(TENANT, IDS))))


@FUZZ
@given(st.data())
def test_tenant_files_with_odd_strings(data: st.DataObject) -> None:
    demo_with(encoded(data.draw, data.draw(retexted(TENANT)), damage_rate=0.1))


@FUZZ
@given(st.one_of(JSON_VALUE.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200),
                 st.fixed_dictionaries({"tenant": JSON_VALUE, "graph": JSON_VALUE, "exchange": JSON_VALUE,
                                        "emulator": JSON_VALUE}).map(lambda v: json.dumps(v).encode())))
def test_random_tenant_files(data: bytes) -> None:
    demo_with(data)


def test_a_deeply_nested_tenant_file_is_refused_with_one_line() -> None:
    demo_with(b'{"tenant": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
