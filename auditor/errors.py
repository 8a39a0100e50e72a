"""One exception hierarchy for the whole tool; the CLI maps each class to an exit code."""

from __future__ import annotations


class AuditorError(Exception):
    """Base class: a problem the user can act on (never a bug)."""

    exit_code = 2


class ConfigError(AuditorError):
    """The baseline, a CLI option or the environment is wrong (exit 2)."""


class InputError(AuditorError):
    """An input file (snapshot, findings, tenant file) is missing or malformed (exit 2)."""


class TenantFileError(InputError):
    """The emulator's tenant file is malformed or inconsistent; the message names the object and field."""


class OutputError(AuditorError):
    """--out (or the history's folder) cannot be created or written: checked before the work, and an OS error
    while writing (disk full) is this too, one line and exit 2, never a traceback."""


class CollectionError(AuditorError):
    """Collection could not even start (e.g. authentication failed). Sections record finer failures."""

    exit_code = 3
