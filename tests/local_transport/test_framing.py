"""The out-of-process framing, on both sides: the packets PowerShell writes, and a stand-in as strict as pwsh."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.collect.outofproc import POOL, Packet, format_packet, parse_packet
from auditor.demo import DEMO_TENANT, running_emulator
from auditor.emulator.faults import FaultPlan
from auditor.emulator.pwsh_launcher import standin_pwsh

# pwsh exits with 4000 when its server mode meets EOF or a bad line; POSIX keeps the low 8 bits of it.
FATAL = 4000 if os.name == "nt" else 4000 % 256
PID = uuid.UUID("5c4a1d4e-0d1b-4bd6-9d0e-6a3a5b8c1f20")


def test_packets_are_written_as_powershell_writes_them() -> None:
    assert format_packet(Packet("Data", POOL, b"\x00\x01")) == (
        b"<Data Stream='Default' PSGuid='00000000-0000-0000-0000-000000000000'>AAE=</Data>\n")
    assert format_packet(Packet("Command", PID)) == b"<Command PSGuid='5c4a1d4e-0d1b-4bd6-9d0e-6a3a5b8c1f20' />\n"
    with pytest.raises(ValueError):
        format_packet(Packet("Data", POOL, b""))  # an empty Data ends pwsh's session


@pytest.mark.parametrize("line", [
    b"<Data Stream='Default' PSGuid='00000000-0000-0000-0000-000000000000'>AAE=</Data>",
    b'<Data PSGuid="00000000-0000-0000-0000-000000000000" Stream="PromptResponse">AAE=</Data>',
    b"\xef\xbb\xbf<CloseAck PSGuid='5C4A1D4E-0D1B-4BD6-9D0E-6A3A5B8C1F20' />",
    b"<SignalAck PSGuid='5c4a1d4e-0d1b-4bd6-9d0e-6a3a5b8c1f20'/>",
])
def test_packets_parse_in_every_form_pwsh_may_write(line: bytes) -> None:
    packet = parse_packet(line)
    assert packet.kind in ("Data", "CloseAck", "SignalAck")
    assert packet.target in (POOL, PID)
    if packet.kind == "Data":
        assert packet.data == b"\x00\x01"


@pytest.mark.parametrize("line", [
    b"", b"WARNING: something", b"<Data Stream='Default' PSGuid='x'>AAE=</Data>",
    b"<Data PSGuid='00000000-0000-0000-0000-000000000000'>AAE=</Data>",
    b"<Data Stream='Default' PSGuid='00000000-0000-0000-0000-000000000000'>not base64!</Data>",
    b"<Data Stream='Default' PSGuid='00000000-0000-0000-0000-000000000000'></Data>",
    b"<Hello PSGuid='00000000-0000-0000-0000-000000000000' />",
    b"<CloseAck PSGuid='00000000-0000-0000-0000-000000000000' Extra='1' />",
])
def test_anything_else_is_refused(line: bytes) -> None:
    with pytest.raises(ValueError):
        parse_packet(line)


@pytest.fixture(scope="module")
def launcher() -> Iterator[Path]:
    with running_emulator(DEMO_TENANT, FaultPlan()) as server:
        yield standin_pwsh(server)


def _talk(launcher: Path, *lines: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(launcher), "-NoLogo", "-NoProfile", "-s"], input=b"".join(lines), capture_output=True,
                          timeout=30, check=False)


def test_the_stand_in_acks_commands_and_ends_like_pwsh_on_eof(launcher: Path) -> None:
    done = _talk(launcher, format_packet(Packet("Command", PID)), format_packet(Packet("Close", PID)))
    assert done.stdout.splitlines() == [format_packet(Packet("CommandAck", PID)).rstrip(),
                                        format_packet(Packet("CloseAck", PID)).rstrip()]
    assert done.returncode == FATAL  # stdin EOF ends pwsh's server mode with 4000, after one line on stderr
    assert b'An unknown element "" was received.' in done.stderr


@pytest.mark.parametrize("bad", [b"\n", b"<DataAck PSGuid='00000000-0000-0000-0000-000000000000' />\n",
                                 b"Get-Mailbox\n"])
def test_the_stand_in_dies_on_what_kills_pwsh(launcher: Path, bad: bytes) -> None:
    done = _talk(launcher, bad, format_packet(Packet("Command", PID)))
    assert done.returncode == FATAL and done.stdout == b""  # nothing after the bad line is read


def test_the_stand_in_needs_server_mode(launcher: Path) -> None:
    done = subprocess.run([str(launcher), "-NoLogo"], capture_output=True, timeout=30, check=False)
    assert done.returncode == 64 and b"server mode" in done.stderr


def test_the_client_channel_signals_and_closes_and_sees_a_fatal_reply(launcher: Path) -> None:
    from auditor.collect import children
    from auditor.collect.outofproc import Channel, ChannelError

    channel = Channel([str(launcher), "-NoLogo", "-NoProfile", "-s"], 10)
    channel.command(PID)
    channel.signal(PID)  # SignalAck, as pwsh always answers (the pipeline never started)
    channel.close(PID)
    channel._send(Packet("Signal", POOL))  # pwsh refuses a Signal to the pool and exits
    with pytest.raises(ChannelError, match=r"^pwsh reported an error: An unknown element \"Signal\""):
        channel.next_data("waiting")
    assert channel.end() == FATAL and children.live_pids() == []
