"""What `auditor emulator --state-dir DIR` keeps across restarts, so a baseline written for a lab emulator stays
valid: the CA (its ca_bundle), the keys, and the port. The directory is private (0700), the keys 0600.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from auditor.emulator.ca import CertPaths, kept_certificates
from auditor.errors import ConfigError

PORT_FILE = "port.json"


@dataclass(frozen=True)
class EmulatorState:
    directory: Path
    certs: CertPaths
    port: int
    """The port of the last run (0: none kept yet)."""


def open_state(directory: Path) -> EmulatorState:
    """The state directory, made (0700) and filled with a CA and server certificate on first use."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not directory.is_dir():
            raise ConfigError(f"--state-dir {directory}: not a directory")
        os.chmod(directory, 0o700)  # the keys live here: private, whatever umask made it
        certs = kept_certificates(directory)
        port = _kept_port(directory / PORT_FILE)
    except OSError as exc:
        raise ConfigError(f"--state-dir {directory}: {exc.strerror or exc}") from None
    except ValueError as exc:  # a damaged PEM file
        raise ConfigError(f"--state-dir {directory}: cannot read the kept certificates ({exc}); "
                          "remove the directory to start afresh") from None
    return EmulatorState(directory=directory, certs=certs, port=port)


def keep_port(state: EmulatorState, port: int) -> None:
    path = state.directory / PORT_FILE
    partial = path.with_name(PORT_FILE + ".partial")
    partial.write_text(json.dumps({"port": port}) + "\n", encoding="utf-8")
    os.replace(partial, path)


def _kept_port(path: Path) -> int:
    try:
        port = json.loads(path.read_text(encoding="utf-8")).get("port")
    except FileNotFoundError:
        return 0
    except (ValueError, AttributeError):
        raise ValueError(f"{path.name} is damaged") from None
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ValueError(f"{path.name} holds no port")
    return port
