"""`auditor demo` gives the same findings whichever undocumented Exchange form the emulator serves.

Every combination of the four realism keys (2 x 4 x 3 x 2 = 48 profiles), each run once, over PSRP or REST by
the parity of its value indexes, so each transport meets every value of every key. In-process a run takes about
0.4 s, the 48 about 20 s on an idle 2-core machine, inside the minute allowed for it; both transports for every
profile would double that for little: the transports share one cmdlet layer. Each run is compared with the
default profile over PSRP, on all of findings.json but `run`.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from auditor.emulator.realism import PROFILES
from tests.faults.conftest import apply_fast_waits, run_cli

COMBINATIONS = [
    (values, ("psrp", "rest")[sum(PROFILES[k].index(v) for k, v in zip(PROFILES, values, strict=True)) % 2])
    for values in itertools.product(*PROFILES.values())
]


def demo(folder: Path, *args: str) -> tuple[int, dict[str, Any], dict[str, Any]]:
    code, _, err = run_cli("demo", "--out", str(folder), "--quiet", *args)
    assert "Traceback" not in err and code == 1, err
    findings = json.loads((folder / "findings.json").read_text(encoding="utf-8"))
    snapshot = json.loads((folder / "snapshot.json").read_text(encoding="utf-8"))
    return code, findings, snapshot


def comparable(findings: dict[str, Any], snapshot: dict[str, Any]) -> str:
    """findings.json without the run facts, every recipient identifier written as the recipient's Guid.

    Evidence quotes Microsoft's own strings (a policy's Identity ends in ScopeIdentityRaw, SCOPE-004 shows
    MailboxId), and those carry whichever identifier the profile serves; the recipient behind them is the same.
    """
    text = json.dumps({k: v for k, v in findings.items() if k != "run"}, sort_keys=True)
    sections = snapshot["sections"]
    for name in ("exchange.mailboxes", "exchange.groups", "exchange.recipients"):
        for row in sections[name]["data"] or ():
            for key in ("ExchangeGuid", "ExternalDirectoryObjectId", "Sid"):
                if row.get(key) and row.get("Guid"):
                    text = re.sub(re.escape(str(row[key])), str(row["Guid"]), text, flags=re.IGNORECASE)
    return text


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    with pytest.MonkeyPatch.context() as patch:
        apply_fast_waits(patch)
        _, findings, snapshot = demo(tmp_path_factory.mktemp("default"))
    return comparable(findings, snapshot), findings


def test_each_transport_meets_every_value() -> None:
    for transport in ("psrp", "rest"):
        for i, key in enumerate(PROFILES):
            assert {values[i] for values, t in COMBINATIONS if t == transport} == set(PROFILES[key]), (transport, key)


@pytest.mark.parametrize(("values", "transport"), COMBINATIONS, ids=["-".join((*v, t)) for v, t in COMBINATIONS])
def test_demo_findings_do_not_depend_on_the_realism_profile(tmp_path: Path, reference: tuple[str, dict[str, Any]],
                                                            values: tuple[str, ...], transport: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    apply_fast_waits(monkeypatch)
    spec = ",".join(f"{key}={value}" for key, value in zip(PROFILES, values, strict=True))
    _, findings, snapshot = demo(tmp_path, "--realism", spec, "--exchange-transport", transport)
    assert findings["summary"] == reference[1]["summary"]
    assert comparable(findings, snapshot) == reference[0]
    assert not [f for f in findings["findings"] if f["status"] == "ERROR"]
