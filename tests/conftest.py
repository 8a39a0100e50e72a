"""Suite-wide isolation: runs never touch the developer's real history database or crash log."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_user_data(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))


@pytest.fixture(scope="session", autouse=True)
def private_crash_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Crash logs of the suite's runs (exit 4) go to a session folder, not the machine's /tmp."""
    folder = tmp_path_factory.mktemp("crash-logs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", str(folder))
        yield folder
