"""`auditor preflight` run as a user runs it: the CLI in-process, against the emulator of a tenant file."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.demo import DEMO_TENANT, baseline_toml, running_emulator
from auditor.emulator.pwsh_launcher import standin_pwsh
from tests.faults.conftest import run_cli

AUDITOR_SP = "f954f1f1-5227-5d35-a7f9-09b06f0519c8"  # the demo tenant's service principal of the auditor's app


def demo_doc() -> dict[str, Any]:
    return copy.deepcopy(json.loads(DEMO_TENANT.read_text(encoding="utf-8")))


def without_directory_read_all(doc: dict[str, Any]) -> dict[str, Any]:
    """The auditor's app with Application.Read.All and User.Read.All in place of Directory.Read.All."""
    kept = []
    for ra in doc["graph"]["appRoleAssignments"]:
        if ra["principalId"] == AUDITOR_SP and ra["appRoleId"] == "Directory.Read.All":
            kept += [{**ra, "appRoleId": "Application.Read.All"},
                     {**ra, "id": "778a0cad-50f4-53fe-bc85-5d419a17ffff", "appRoleId": "User.Read.All"}]
        else:
            kept.append(ra)
    doc["graph"]["appRoleAssignments"] = kept
    return doc


@dataclass
class Result:
    code: int
    out: str
    err: str
    folder: Path

    @property
    def record(self) -> dict[str, Any]:
        return json.loads((self.folder / "preflight.json").read_text(encoding="utf-8"))

    def line(self, need: str) -> str:
        (found,) = [line for line in self.out.splitlines() if line.startswith(need + " ")]
        return found


@contextmanager
def emulated(folder: Path, doc: dict[str, Any] | None = None, realism: str | None = None,
             transport: str = "psrp") -> Iterator[Path]:
    """A running emulator of `doc` (default: the demo tenant), its secrets in the environment as a real run
    takes them, and a baseline for it; yields the baseline's path."""
    doc = doc if doc is not None else demo_doc()
    tenant_file = folder / "tenant.json"
    tenant_file.write_text(json.dumps(doc), encoding="utf-8")
    saved = {k: os.environ.get(k) for k in ("AUDITOR_CLIENT_SECRET", "AUDITOR_PSRP_PASSWORD", "AZURE_CLIENT_SECRET")}
    os.environ["AUDITOR_CLIENT_SECRET"] = doc["emulator"]["clients"][0]["secret"]
    os.environ["AUDITOR_PSRP_PASSWORD"] = doc["emulator"]["jumpHost"]["password"]
    os.environ.pop("AZURE_CLIENT_SECRET", None)
    try:
        with running_emulator(tenant_file, realism=realism) as server:
            toml = baseline_toml(server)
            if transport != "psrp":
                toml = toml.replace('transport = "psrp"', f'transport = "{transport}"')
            if transport == "local":
                toml += f"pwsh_path = {json.dumps(str(standin_pwsh(server)))}\n"
            baseline = folder / "baseline.toml"
            baseline.write_text(toml, encoding="utf-8")
            yield baseline
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def preflight(folder: Path, doc: dict[str, Any] | None = None, realism: str | None = None,
              transport: str = "psrp", *args: str) -> Result:
    """`auditor preflight --baseline B --out preflight.json ARGS` against the tenant."""
    with emulated(folder, doc, realism, transport) as baseline:
        code, out, err = run_cli("preflight", "--baseline", str(baseline), "--out", str(folder / "preflight.json"),
                                 *args)
    return Result(code, out, err, folder)
