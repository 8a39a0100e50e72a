"""Baselines (TOML) for `auditor evaluate`: random documents over the real key set, and mutated real files."""

from __future__ import annotations

import datetime as dt
import json
import re

from hypothesis import given
from hypothesis import strategies as st

from auditor.starter import STARTER_BASELINE
from samples import SAMPLES_DIR

from .conftest import FUZZ, ODD_TEXT, judge, run_cli, workspace

SNAPSHOT = SAMPLES_DIR / "snapshots" / "sample-snapshot.json"
SAMPLE = (SAMPLES_DIR / "baselines" / "sample.toml").read_text(encoding="utf-8")
TABLES = {"tenant": ["id", "domain", "name"],
          "auth": ["client_id", "certificate", "certificate_password_env", "authority", "graph_endpoint",
                   "exchange_resource", "ca_bundle", "timeout_s", "run_deadline_s"],
          "exchange": ["transport", "server", "port", "ssl", "path", "auth", "encryption", "username",
                       "configuration_name", "connect", "operation_timeout_s", "pools", "rest_endpoint", "pwsh_path"],
          "policy": ["credential_warning_days", "max_secret_lifetime_days", "canary_sample_size"],
          "sweep": ["enabled", "include_microsoft_apps", "allowed_privileged"],
          "history": ["path"], "report": ["title", "organisation"]}
ARRAYS = {"integration": ["name", "app_id", "permissions", "allowed_extra", "scope_group", "mailboxes", "canaries",
                          "access_model", "group_managers", "owners"],
          "waiver": ["check", "resource", "reason", "expires"]}
STRINGS = st.one_of(st.text(max_size=30), ODD_TEXT.filter(lambda s: not re.search("[\ud800-\udfff]", s)),
                    st.sampled_from(["policy", "rbac", "psrp", "none", "rest", "local", "pwsh", "CRED-005",
                                     "SCOPE-001", "*",
                                     "e7e4dbfc-046f-4074-9b3b-2ae8f144f59b", "support@contoso.com", "Mail.Read",
                                     "Office 365 Exchange Online:full_access_as_app", "critical"]))
SCALARS = st.one_of(STRINGS, st.integers(min_value=-(2**63), max_value=2**63 - 1), st.booleans(),
                    st.floats(allow_nan=True), st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
                    st.datetimes(timezones=st.just(dt.UTC)))
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4), st.lists(STRINGS, max_size=4))


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value > 0 else "-inf") if abs(value) == float("inf") \
            else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, int | dt.date):
        return str(value) if isinstance(value, int) else value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's


@st.composite
def random_baseline(draw: st.DrawFn) -> str:
    """Tables and arrays of tables drawn from the real key set, with now and then a key nobody knows."""
    lines: list[str] = []
    for table in draw(st.lists(st.sampled_from(list(TABLES)), unique=True, max_size=5)):
        lines.append(f"[{table}]")
        for key in draw(st.lists(st.sampled_from(TABLES[table] + ["typo_key"]), unique=True, max_size=5)):
            lines.append(f"{key} = {toml_value(draw(VALUES))}")
    for array in draw(st.lists(st.sampled_from(list(ARRAYS)), max_size=4)):
        lines.append(f"[[{array}]]")
        for key in draw(st.lists(st.sampled_from(ARRAYS[array]), unique=True, min_size=1, max_size=8)):
            lines.append(f"{key} = {toml_value(draw(VALUES))}")
    return "\n".join(lines) + "\n"


SNIPPETS = ["[policy]", "[[integration]]", "[[waiver]]", "[sweep]", "[report]", "[tenant]", "[[tenant]]",
            "x = 1", "title = 1", "expires = 0001-01-01", 'check = "CRED-005"', "name = \"Contact Center\"",
            "[integration]", "permissions = \"Mail.Read\"", "canary_sample_size = -1", "a.b.c = 1", "= 1",
            "mailboxes = [[]]", 'access_model = "RBAC"', "enabled = \"yes\"", "'''"]


@st.composite
def mutated_baseline(draw: st.DrawFn) -> bytes:
    """A real baseline (the sample, or the starter that lists every key) with lines dropped, doubled, changed
    or inserted, sometimes cut short or with bytes that are not UTF-8."""
    lines = draw(st.sampled_from([SAMPLE, STARTER_BASELINE])).splitlines()
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        operation = draw(st.sampled_from(["drop", "double", "value", "insert"]))
        if operation == "drop":
            lines.pop(at)
        elif operation == "double":
            lines.insert(at, lines[at])
        elif operation == "value" and "=" in lines[at]:
            lines[at] = lines[at].split("=", 1)[0] + "= " + toml_value(draw(VALUES))
        else:
            lines.insert(at, draw(st.sampled_from(SNIPPETS)))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    damage = draw(st.sampled_from(["none", "none", "none", "bytes", "truncate", "bom"]))
    if damage == "bytes":
        at = draw(st.integers(min_value=0, max_value=len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    elif damage == "truncate":
        data = data[: draw(st.integers(min_value=0, max_value=len(data)))]
    elif damage == "bom":
        data = b"\xef\xbb\xbf" + data
    return data


def evaluate_with(data: bytes) -> None:
    with workspace() as folder:
        baseline = folder / "baseline.toml"
        baseline.write_bytes(data)
        out = folder / "out"
        code, stdout, err = run_cli("evaluate", str(SNAPSHOT), "--baseline", str(baseline), "--out", str(out),
                                    "--format", "json")
        judge("baseline", code, stdout, err, out, ("findings.json",))


@FUZZ
@given(random_baseline())
def test_random_baselines(text: str) -> None:
    evaluate_with(text.encode("utf-8"))


@FUZZ
@given(mutated_baseline())
def test_mutated_baselines(data: bytes) -> None:
    evaluate_with(data)


def test_deeply_nested_arrays_are_refused_with_one_line() -> None:
    evaluate_with(b"[policy]\nx = " + b"[" * 100_000 + b"]" * 100_000 + b"\n")
