"""The emulator's `pwsh`: a launcher script the local transport starts in place of PowerShell 7.

`standin_pwsh(server)` writes, in a private temporary directory, the stand-in's config (the resolved tenant, the
emulator's clock, its token issuer and verification key, the Exchange fault knobs; mode 0600) and a `pwsh`
launcher that runs `python -m auditor.emulator.exchange.pwsh_standin --config <that file>` with the arguments it
was given. The auditor then points `[exchange] pwsh_path` at the launcher. No token is ever written: the
stand-in verifies the ones the auditor sends inside the PSRP stream, as Exchange would.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_DIRS: dict[int, Path] = {}


def standin_pwsh(server: Any, knobs: Sequence[str] | None = None, directory: Path | None = None,
                 command_log: Path | None = None) -> Path:
    """The launcher for a running EmulatorServer (made once per server unless `knobs` or `directory` are given);
    `command_log`: a file where the stand-in writes each command it receives (name and parameter names)."""
    if knobs is None and directory is None and id(server) in _DIRS:
        return _launcher_path(_DIRS[id(server)])
    where = directory or Path(tempfile.mkdtemp(prefix="auditor-pwsh-"))
    where.mkdir(mode=0o700, parents=True, exist_ok=True)
    tenant = server.tenant
    config = {
        "tenant": tenant.doc, "tenant_id": tenant.id, "domain": tenant.default_domain, "name": tenant.display_name,
        "now": tenant.now.isoformat(), "issuer": server.tokens.issuer,
        "key": base64.b64encode(server.tokens.verification_key()).decode("ascii"),
        "psrp_fail": sorted(server.faults.psrp_fail), "exchange_down": bool(server.faults.exchange_down),
        "pwsh_faults": sorted(server.faults.pwsh if knobs is None else knobs),
        "command_log": str(command_log) if command_log else None,
    }
    config_path = where / "standin.json"
    fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(config, handle, default=str)
    launcher = _launcher_path(where)
    if os.name == "nt":
        launcher.write_text(f'@"{sys.executable}" -m auditor.emulator.exchange.pwsh_standin --config '
                            f'"{config_path}" %*\r\n', encoding="utf-8")
    else:
        launcher.write_text("#!/bin/sh\n" + f"exec {shlex.quote(sys.executable)} -m auditor.emulator.exchange."
                            f"pwsh_standin --config {shlex.quote(str(config_path))} \"$@\"\n", encoding="utf-8")
        launcher.chmod(0o700)
    if knobs is None and directory is None:
        _DIRS[id(server)] = where
    return launcher


def _launcher_path(directory: Path) -> Path:
    return directory / ("pwsh.cmd" if os.name == "nt" else "pwsh")


def remove_standin(server: Any) -> None:
    """Delete the launcher and config made for `server` (when the emulator stops)."""
    where = _DIRS.pop(id(server), None)
    if where is not None:
        shutil.rmtree(where, ignore_errors=True)
