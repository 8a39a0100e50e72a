"""HTTP plumbing for Graph: one requests.Session (shared with msal), bounded retries, paging and $batch.

Retries honour Retry-After on 429/503/504 and back off exponentially on dropped connections, within a total
wait budget, so a throttled tenant slows the run down but never hangs it.
https://learn.microsoft.com/graph/throttling
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from auditor.collect.bounds import UNBOUNDED, ResponseTooLarge, RunClock, RunStopped
from auditor.collect.paging import NextLinkGuard, PagingRefused
from auditor.collect.tls import tls_failure
from auditor.errors import ConfigError

log = logging.getLogger("auditor.graph")
RETRY_STATUSES = frozenset({429, 503, 504})
BATCH_LIMIT = 20  # https://learn.microsoft.com/graph/json-batching


class VerifyingSession(requests.Session):
    """A Session whose `verify` wins over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE.

    requests replaces a session-level `verify` with the environment's bundle; passing it per request does
    not, so msal's calls through this session trust the configured CA too."""

    def __init__(self, verify: str | bool = True) -> None:
        super().__init__()
        if isinstance(verify, str) and not os.path.exists(verify):
            # requests would raise a bare OSError on the first request; say which setting is wrong instead.
            raise ConfigError(f"[auth] ca_bundle: {verify}: no such file (a PEM file of the CAs to trust)")
        self.verify_default = verify

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("verify", self.verify_default)
        return super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]  # requests' own stub is narrower than its signature


class GraphRequestError(Exception):
    """A Graph read that failed for good; the message is one line fit for a snapshot section."""

    def __init__(self, message: str, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status, self.code = status, code


@dataclass
class RetryPolicy:
    max_attempts: int = 6
    max_total_wait_s: float = 60.0
    base_backoff_s: float = 0.5


class GraphClient:
    """GET-only Graph access (plus $batch of GETs). Thread-safe; counts requests per route family."""

    def __init__(self, session: requests.Session, endpoint: str, token: Callable[[], str], timeout_s: float = 30,
                 retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep, *,
                 clock: RunClock = UNBOUNDED) -> None:
        self.session, self.base = session, endpoint.rstrip("/") + "/v1.0"
        self.token, self.timeout_s = token, timeout_s
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.requests: Counter[str] = Counter()
        self.waited_s = 0.0
        self._lock = threading.Lock()
        self._rng = random.Random(0)

    def _count(self, key: str) -> None:
        with self._lock:
            self.requests[key] += 1

    def _wait(self, seconds: float, what: str) -> None:
        with self._lock:
            if self.waited_s + seconds > self.retry.max_total_wait_s:
                raise GraphRequestError(f"{what}: gave up after waiting {self.waited_s:.0f} s for Graph to recover "
                                        f"(retry budget {self.retry.max_total_wait_s:.0f} s)")
            self.waited_s += seconds
        try:
            self.clock.sleep(seconds) if self.sleep is time.sleep else self.sleep(seconds)
        except RunStopped as exc:
            raise GraphRequestError(f"{what}: {exc}") from None

    def _send(self, method: str, url: str, what: str, json_body: Any = None) -> requests.Response:
        """One logical request, retried on throttling, 503/504 and dropped connections."""
        for attempt in range(1, self.retry.max_attempts + 1):
            self._count(what)
            started = time.monotonic()
            try:
                response = self.session.request(
                    method, url, json=json_body, timeout=self.timeout_s,
                    headers={"Authorization": f"Bearer {self.token()}", "Accept": "application/json"})
            except requests.exceptions.SSLError as exc:
                raise GraphRequestError(f"{what}: {tls_failure(self.base.removesuffix('/v1.0'), exc)}") from None
            except (RunStopped, ResponseTooLarge) as exc:
                raise GraphRequestError(f"{what}: {exc}") from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                if attempt == self.retry.max_attempts:
                    raise GraphRequestError(f"{what}: connection failed: {_first_line(exc)}") from None
                self._wait(self._backoff(attempt), what)
                continue
            log.debug("%s %s -> %s in %.0f ms (attempt %d)", method, url.split("?")[0], response.status_code,
                      (time.monotonic() - started) * 1000, attempt)
            if response.status_code in RETRY_STATUSES and attempt < self.retry.max_attempts:
                self._wait(retry_after(response.headers, self._backoff(attempt)), what)
                continue
            return response
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        return self.retry.base_backoff_s * (2 ** (attempt - 1)) * (1 + self._rng.random() / 4)

    def get(self, path: str, what: str | None = None) -> dict[str, Any]:
        url = path if "://" in path else self.base + path  # a whole URL: a next link the pager let through
        what = what or f"GET {path.split('?')[0]}"
        response = self._send("GET", url, what)
        return _json_or_raise(response, what)

    def get_all(self, path: str, what: str | None = None) -> list[dict[str, Any]]:
        """Follow @odata.nextLink (the whole URL, as Graph asks) until the last page."""
        return [item for page in self.pages(path, what) for item in page]

    def pages(self, path: str, what: str | None = None) -> Iterator[list[dict[str, Any]]]:
        """Each page's rows. The next link is followed only on Graph's own origin, never twice, and at most
        MAX_PAGES times (auditor/collect/paging.py): the bearer token goes nowhere else."""
        what = what or f"GET {path.split('?')[0]}"
        guard = NextLinkGuard(self.base, what)
        url: str | None = path
        if "://" in path:  # a next link from elsewhere (a $batch item's page): the same guard
            try:
                url = guard.follow(path)
            except PagingRefused as exc:
                raise GraphRequestError(str(exc)) from None
        while url:
            doc = self.get(url, what)
            rows = doc.get("value", [])
            if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
                raise GraphRequestError(f"{what}: the answer's value is not a list of objects")
            yield rows
            link = doc.get("@odata.nextLink")
            try:
                url = guard.follow(link) if link is not None else None
            except PagingRefused as exc:
                raise GraphRequestError(str(exc)) from None

    def batch(self, paths: dict[str, str], what: str) -> dict[str, dict[str, Any] | GraphRequestError]:
        """GET many small things through $batch (20 per request); per-item 429/503 are retried.

        Returns, per caller key, the item's JSON body or the error it ended with."""
        results: dict[str, dict[str, Any] | GraphRequestError] = {}
        pending = dict(paths)
        attempt = 0
        while pending:
            attempt += 1
            keys = list(pending)
            throttled: dict[str, str] = {}
            wait = 0.0
            for start in range(0, len(keys), BATCH_LIMIT):
                chunk = keys[start:start + BATCH_LIMIT]
                ids = {str(i): key for i, key in enumerate(chunk)}
                body = {"requests": [{"id": i, "method": "GET", "url": pending[k]} for i, k in ids.items()]}
                doc = _batch_envelope(self._send("POST", self.base + "/$batch", "POST /$batch", body), what)
                for item in doc.get("responses", []):
                    key = ids.get(str(item.get("id"))) if isinstance(item, dict) else None
                    if key is None:
                        continue
                    status = item.get("status") if isinstance(item.get("status"), int) else 0
                    if status in RETRY_STATUSES and attempt < self.retry.max_attempts:
                        throttled[key] = pending[key]
                        wait = max(wait, retry_after(item.get("headers") or {}, self._backoff(attempt)))
                    elif 200 <= status < 300 and isinstance(item.get("body") or {}, dict):
                        results[key] = item.get("body") or {}
                    else:
                        results[key] = _error_from(status, item.get("body"), f"{what} ({pending[key].split('?')[0]})")
            pending = throttled
            if pending:
                self._wait(wait, what)
        return results


def retry_after(headers: Any, default: float) -> float:
    """Seconds from a Retry-After header (case-insensitive), else `default`."""
    for key, value in dict(headers).items():
        if str(key).lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return default
    return default


def _json_or_raise(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json() if response.content else {}
    except (ValueError, RecursionError):  # RecursionError: JSON nested past Python's stack
        body = None
    if 200 <= response.status_code < 300 and isinstance(body, dict):
        return body
    if 200 <= response.status_code < 300:
        raise GraphRequestError(f"{what}: the answer is not a JSON object", response.status_code)
    raise _error_from(response.status_code, body, what)


def _batch_envelope(response: requests.Response, what: str) -> dict[str, Any]:
    """The $batch answer. Graph may answer the envelope 424 when items inside were throttled; the items' own
    statuses are the answer whenever the body lists them (docs/microsoft-facts.md, Microsoft Graph)."""
    try:
        body = response.json() if response.content else None
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("responses"), list):
        return body
    return _json_or_raise(response, what)


# The least-privileged application permission in Microsoft's table for each read the collector makes
# (docs/microsoft-facts.md, Microsoft Graph); Directory.Read.All is in every one of those tables.
NEEDED_PERMISSION = {
    "GET /servicePrincipals": "Application.Read.All",
    "GET /servicePrincipals/{id}": "Application.Read.All",
    "GET /servicePrincipals(appId=...)": "Application.Read.All",
    "GET /servicePrincipals/{id}/appRoleAssignments": "Application.Read.All",
    "GET /servicePrincipals/{id}/appRoleAssignedTo": "Application.Read.All",
    "GET /applications": "Application.Read.All",
    "GET /applications/{id}/owners": "Application.Read.All",
    "GET /oauth2PermissionGrants": "Directory.Read.All",
    "GET /users": "User.Read.All",
}
COVERS_EVERY_READ = "Directory.Read.All"
_GUID = re.compile(r"/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?=/|$)")


def route_of(what: str) -> str:
    """`GET /applications/{id}/owners` from a request label or a whole URL (paging follows whole URLs)."""
    method, _, target = what.split(" (", 1)[0].partition(" ")
    path = target.split("?", 1)[0]
    if "://" in path:
        path = "/" + path.split("://", 1)[1].split("/", 1)[-1]
        path = path[len("/v1.0"):] if path.startswith("/v1.0/") else path
    path = re.sub(r"\(appId='[^']*'\)", "(appId=...)", _GUID.sub("/{id}", path))
    return f"{method} {path}"


def permission_hint(what: str) -> str:
    needed = NEEDED_PERMISSION.get(route_of(what), COVERS_EVERY_READ)
    if needed == COVERS_EVERY_READ:
        return (f"the auditor's app needs the Graph application permission {needed} for this read "
                "(Microsoft lists no narrower read permission for it)")
    return (f"the auditor's app needs the Graph application permission {needed} for this read, "
            f"or {COVERS_EVERY_READ}, which covers every read the auditor makes")


def _error_from(status: int, body: Any, what: str) -> GraphRequestError:
    code, message = "", ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = str(body["error"].get("code") or "")
        message = str(body["error"].get("message") or "")
    text = f"{what}: HTTP {status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    if status == 403:
        text += f" ({permission_hint(what)})"
    elif status == 401:
        text += " (the access token was refused: check [auth] authority and graph_endpoint)"
    return GraphRequestError(_first_line(text), status, code)


def _first_line(value: Any) -> str:
    return " ".join(str(value).split())[:500]
