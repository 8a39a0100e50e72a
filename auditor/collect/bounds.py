"""Every run ends: one deadline per run, a total time and a size cap per HTTP answer, and Ctrl+C honoured.

requests only bounds each socket read, so a peer that drips a byte every few seconds, or one that accepts and
never answers the sign-in, would hold a run forever. `bound_session` puts a `BoundedAdapter` in front of a
session's adapters (Graph and msal share one session; the REST and WSMan clients have their own): each request
runs on a daemon thread the caller waits for with the clock in hand, so the caller gets its answer, or a
`RunStopped`/`TotalTimeout`/`ResponseTooLarge`, in bounded time whatever the peer does. A request abandoned
that way cannot hold the process: its thread is a daemon, and the socket's own read timeout ends it later.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import requests
from requests.adapters import BaseAdapter

from auditor.collect import children

DEFAULT_RUN_DEADLINE_S = 1800.0
MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # per answer (Graph, WSMan, REST, sign-in): README "Limits"
_POLL_S = 0.1


class RunStopped(requests.exceptions.RequestException):
    """The run's deadline was reached, or the operator interrupted it: no request may start or go on."""


class TotalTimeout(requests.exceptions.ReadTimeout):
    """One answer took longer than its total time (not just longer than one read): a dripping peer."""


class ResponseTooLarge(requests.exceptions.RequestException):
    """An answer longer than MAX_RESPONSE_BYTES."""


class RunClock:
    """The deadline of one run (or one portfolio tenant): `deadline_s` from its start."""

    def __init__(self, deadline_s: float = DEFAULT_RUN_DEADLINE_S) -> None:
        self.deadline_s = float(deadline_s)
        self.started = time.monotonic()
        self.ends = self.started + self.deadline_s

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def stop_reason(self) -> str | None:
        """Why nothing more may be sent: interrupted, or past the deadline; None while the run may go on."""
        if children.stopping():
            return f"interrupted ({children.signal_name() or 'signal'}): the run was stopped before this was read"
        if self.expired():
            return (f"the run's deadline of {self.deadline_s:g} s ([auth] run_deadline_s) was reached before this "
                    "was read")
        return None

    def check(self) -> None:
        reason = self.stop_reason()
        if reason is not None:
            raise RunStopped(reason)

    def sleep(self, seconds: float) -> None:
        """A retry's wait, cut short (RunStopped) by an interrupt or the deadline."""
        end = time.monotonic() + max(0.0, seconds)
        while True:
            self.check()
            left = end - time.monotonic()
            if left <= 0:
                return
            children.wait_for_stop(min(left, max(self.remaining(), 0.01), 1.0))


UNBOUNDED = RunClock(float("inf"))
"""For clients used outside a run (tests, tools): only Ctrl+C stops them."""


class BoundedAdapter(BaseAdapter):
    """Sends through `inner` on a daemon thread; waits at most `total_s` and never past the run's deadline."""

    def __init__(self, inner: BaseAdapter, clock: RunClock, total_s: float, read_s: float | None = None,
                 max_bytes: int = MAX_RESPONSE_BYTES) -> None:
        super().__init__()
        self.inner, self.clock, self.total_s = inner, clock, float(total_s)
        self.read_s = float(read_s if read_s is not None else total_s)
        self.max_bytes = max_bytes

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        self.clock.check()
        if timeout is None:  # msal passes none: connect and read timeouts all the same
            timeout = (min(self.read_s, 30.0), self.read_s)
        box: dict[str, Any] = {}
        done = threading.Event()

        def work() -> None:
            try:
                response = self.inner.send(request, stream=True, timeout=timeout, verify=verify, cert=cert,
                                           proxies=proxies)
                box["response"] = response
                box["response"]._content = self._read(response)
                box["response"]._content_consumed = True
            except BaseException as exc:  # handed to the waiting caller
                box["error"] = exc
            finally:
                done.set()

        threading.Thread(target=work, name="http-bounded", daemon=True).start()
        ends = time.monotonic() + self.total_s
        while not done.wait(_POLL_S):
            reason = self.clock.stop_reason()
            if reason is not None or time.monotonic() >= ends:
                _abandon(box)
                if reason is not None:
                    raise RunStopped(reason)
                raise TotalTimeout(f"no complete answer from {_origin(request.url)} within {self.total_s:g} s")
        if "error" in box:
            raise box["error"]
        return box["response"]  # type: ignore[no-any-return]

    def _read(self, response: requests.Response) -> bytes:
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            response.close()
            raise ResponseTooLarge(f"the answer of {_origin(response.url)} is {int(length)} bytes, over the "
                                   f"{self.max_bytes // (1024 * 1024)} MiB cap per answer")
        chunks, size = [], 0
        for chunk in response.iter_content(65536):
            size += len(chunk)
            if size > self.max_bytes:
                response.close()
                raise ResponseTooLarge(f"the answer of {_origin(response.url)} is over the "
                                       f"{self.max_bytes // (1024 * 1024)} MiB cap per answer")
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self.inner.close()


def bound_session(session: requests.Session, clock: RunClock, total_s: float, read_s: float | None = None
                  ) -> requests.Session:
    """Put a BoundedAdapter in front of each adapter the session has mounted (idempotent)."""
    for prefix, adapter in list(session.adapters.items()):
        inner = adapter.inner if isinstance(adapter, BoundedAdapter) else adapter
        session.mount(prefix, BoundedAdapter(inner, clock, total_s, read_s))
    return session


def _abandon(box: dict[str, Any]) -> None:
    response = box.get("response")
    if response is not None:
        with contextlib.suppress(Exception):  # closing a half-read answer on another thread is best effort
            response.close()


def _origin(url: str | None) -> str:
    text = str(url or "")
    scheme, _, rest = text.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}" if rest else text[:80]
