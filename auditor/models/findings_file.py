"""Reading a findings.json file (`auditor report`, `auditor diff`)."""

from __future__ import annotations

import json
from pathlib import Path

from auditor.errors import InputError
from auditor.models.findings import FindingsDocument


def load_findings(path: Path, missing: str = "no such file") -> FindingsDocument:
    """findings.json, for every command that reads one (`report`, `diff`): one loader, so each refuses the
    same bad files with the same one line (InputError, exit 2)."""
    try:
        return FindingsDocument.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise InputError(f"{path}: {missing}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    except RecursionError:  # json.loads recurses into nested arrays
        raise InputError(f"{path}: nested too deeply to be a findings.json document") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{path}: not a findings.json document ({type(exc).__name__}: {exc})") from None
