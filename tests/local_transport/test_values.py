"""What the local transport reads from psrpcore: the PowerShell version in every form pwsh may send it, and
output objects outside the fast path rendered as the WSMan transport renders them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from psrpcore.types import PSCustomObject, PSDateTime, PSObject, PSVersion

from auditor.collect.local_values import plain_row, powershell_version


def _semantic(text: str) -> PSObject:
    """PowerShell 7's SemanticVersion, deserialised: an object whose ToString is the version."""
    obj = PSObject()
    obj.PSObject.type_names = ["Deserialized.System.Management.Automation.SemanticVersion",
                               "Deserialized.System.Object"]
    obj.PSObject.to_string = text
    return obj


@pytest.mark.parametrize(("version", "expected"), [
    (PSVersion("7.4.6"), (7, 4, 6)),  # System.Version, <Version>7.4.6</Version>
    (_semantic("7.5.0-preview.2"), (7, 5, 0)),
    ("7.2", (7, 2)),
    (PSVersion("5.1.22621.4391"), (5, 1, 22621, 4391)),  # Windows PowerShell: refused as older than 7.2
])
def test_the_powershell_version_is_read_in_every_form(version: Any, expected: tuple[int, ...]) -> None:
    assert powershell_version({"PSVersionTable": {"PSVersion": version, "PSEdition": "Core"}}) == expected


@pytest.mark.parametrize("data", [{}, {"PSVersionTable": {}}, {"PSVersionTable": "7.4"}, None,
                                  {"PSVersionTable": {"PSVersion": "unknown"}}])
def test_no_version_is_none_and_refused(data: Any) -> None:
    assert powershell_version(data) is None


def test_objects_outside_the_fast_path_read_like_the_wsman_transport() -> None:
    guid = uuid.UUID("6933401A-19B3-56AA-9705-84AE099DE87B")
    obj = PSCustomObject(Name="support", Guid=guid, Count=3, Enabled=True, Members=["a", "b"],
                         WhenChanged=PSDateTime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), Nothing=None)
    row = plain_row(obj)
    assert row == {"Name": "support", "Guid": "6933401a-19b3-56aa-9705-84ae099de87b", "Count": 3, "Enabled": True,
                   "Members": ["a", "b"], "WhenChanged": row["WhenChanged"], "Nothing": None}
    assert row["WhenChanged"].startswith("2026-01-02T03:04:05")  # the CLIXML text, as pypsrp keeps a DateTime
    assert plain_row("text") == {"Value": "text"}
    assert datetime.fromisoformat(row["WhenChanged"].replace("Z", "+00:00")).year == 2026
