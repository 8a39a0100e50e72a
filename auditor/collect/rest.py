"""ExchangeShell over Exchange Online's InvokeCommand REST endpoint (`[exchange] transport = "rest"`, experimental).

The ExchangeOnlineManagement module (V3) runs its cmdlets by posting `{"CmdletInput": {"CmdletName", "Parameters"}}`
to `{rest_endpoint}/{tenantId}/InvokeCommand` with an app token for `https://outlook.office365.com/.default`.
Microsoft documents none of it and supports none of it (docs/microsoft-facts.md): it can change or be
blocked at any time, which is why it is opt-in. What this module relies on, and why:

- One request runs one cmdlet: there is no `add_statement` batching, so a look-up of N identities is N requests,
  spread over `[exchange] pools` parallel requests (the pool reads items one per request).
- Results come in `value`; `@odata.nextLink` is followed by re-POSTing the same body to it (what CIPP does; the
  endpoint is a POST action, and the emulator, like Exchange, answers other methods 405). The link must stay on
  the endpoint's origin: the bearer token is never sent anywhere else.
- A 4xx answer carrying the cmdlet's error (`error.details[].message` = `ExNNNN|<exception type>|<message>`) is
  the cmdlet's non-terminating error (a mailbox that does not exist); a 5xx one is a terminating error.
- 429/503/504 are retried honouring `Retry-After` within a wait budget; transient cmdlet errors ("server is
  busy") with backoff, as the PSRP shell does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from auditor.collect import shell as seam
from auditor.collect.allowlist import ensure_allowed
from auditor.collect.bounds import UNBOUNDED, ResponseTooLarge, RunClock, RunStopped, bound_session
from auditor.collect.http import RETRY_STATUSES, VerifyingSession, retry_after
from auditor.collect.paging import NextLinkGuard, PagingRefused
from auditor.collect.rest_errors import NOT_ALLOWED, cmdlet_errors, connection_detail, describe_refusal, error_message
from auditor.collect.shell import CmdletErrorInfo, Command, ItemResult, Output, PipelineFailed, ShellPool, ShellStats
from auditor.collect.tls import tls_failure, verification
from auditor.errors import CollectionError
from auditor.models.baseline import Baseline
from auditor.redact import redact

# The arbitration mailbox the module names for app-only calls, so Exchange routes them to the tenant's forest.
SYSTEM_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"
PAGE_SIZE = 1000  # the module's `Prefer: odata.maxpagesize`
SESSION_ONLY = frozenset({"Connect-ExchangeOnline"})  # a session command: REST has no session to connect
# Opening the pool checks the token with the smallest read there is: one mailbox, one page of one row.
PROBE = Command("Get-Mailbox", {"ResultSize": 1})


@dataclass(frozen=True)
class RestSettings:
    """Where the endpoint is and how patient to be ([exchange] and [auth] of the baseline)."""

    endpoint: str  # rest_endpoint, e.g. https://outlook.office365.com/adminapi/beta
    tenant_id: str
    verify: str | bool = True  # a CA bundle path ([auth] ca_bundle), or True for the system store
    pools: int = 2  # parallel requests
    connect_timeout_s: float = 30.0
    operation_timeout_s: float = 60.0  # a cmdlet runs while the request waits: the read timeout sits above it
    page_size: int = PAGE_SIZE
    max_attempts: int = 6  # per request, on 429/503/504 and dropped connections
    max_total_wait_s: float = 120.0  # summed over the run: a throttled tenant slows the run, never hangs it
    backoff_s: tuple[float, ...] = (0.5, 1.0, 2.0)  # waits before re-running a transient cmdlet error
    clock: RunClock = field(default=UNBOUNDED, compare=False, repr=False)  # the run's deadline (bounds.py)

    @classmethod
    def from_baseline(cls, baseline: Baseline, verify_tls: bool = True, clock: RunClock | None = None
                      ) -> RestSettings:
        ex = baseline.exchange
        return cls(endpoint=ex.rest_endpoint.rstrip("/"), tenant_id=baseline.tenant.id,
                   verify=verification(baseline.auth.ca_bundle, verify_tls), pools=ex.pools,
                   connect_timeout_s=baseline.auth.timeout_s, operation_timeout_s=ex.operation_timeout_s,
                   clock=clock or UNBOUNDED)

    @property
    def url(self) -> str:
        return f"{self.endpoint}/{self.tenant_id}/InvokeCommand"

    @property
    def anchor(self) -> str:
        return f"APP:{SYSTEM_MAILBOX}@{self.tenant_id}"


class RestClient:
    """One requests.Session for every shell of a pool (thread-safe), the token callable, the run's wait budget."""

    def __init__(self, settings: RestSettings, token: Callable[[], str],
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self._token = token
        self._sleep = sleep
        self._tokens_seen: list[str] = []
        self._lock = threading.Lock()
        self.waited_s = 0.0
        self.session = VerifyingSession(verify=settings.verify)  # wins over REQUESTS_CA_BUNDLE
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=max(10, settings.pools))
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        # a whole answer within its timeouts, never past the run's deadline, at most 64 MiB (bounds.py)
        bound_session(self.session, settings.clock, settings.connect_timeout_s + settings.operation_timeout_s + 15)
        self.origin = _origin(settings.url)

    def close(self) -> None:
        self.session.close()

    def invoke(self, command: Command, stats: ShellStats, *, page_size: int | None = None, follow: bool = True,
               retry_cmdlet_errors: bool = True) -> Output:
        """Run one cmdlet: every page of its output, or its errors. PipelineFailed for a terminating error,
        CollectionError (one line) when the endpoint cannot be reached or refuses the token."""
        name = ensure_allowed(command.name)  # again, right before any byte is sent
        if name in SESSION_ONLY:
            raise CollectionError(f"{name} is a PowerShell session command; the REST transport has no session")
        body = {"CmdletInput": {"CmdletName": name, "Parameters": _parameters(command.parameters)}}
        identity = command.parameters.get("Identity")
        target = None if identity is None else str(identity)
        stats.pipelines += 1
        stats.statements += 1
        attempt = 0
        while True:
            try:
                return self._pages(command, body, target, stats, page_size or self.settings.page_size, follow)
            except PipelineFailed as exc:
                if not (retry_cmdlet_errors and exc.error.transient) or attempt >= len(self.settings.backoff_s):
                    raise
                self._wait(self.settings.backoff_s[attempt], command.describe())
                attempt += 1
                stats.retries += 1

    def _pages(self, command: Command, body: dict[str, Any], target: str | None, stats: ShellStats,
               page_size: int, follow: bool) -> Output:
        output = Output()
        url: str | None = self.settings.url
        guard = NextLinkGuard(self.settings.url, command.describe())
        while url is not None:
            response = self._send(url, body, command.describe(), stats, page_size)
            doc = _json(response)
            if not 200 <= response.status_code < 300:
                self._raise_or_record(response, doc, command, target, output, first_page=url == self.settings.url)
                return output
            if not isinstance(doc, dict) or not isinstance(doc.get("value", []), list):
                raise CollectionError(f"{command.describe()}: the answer of {self.settings.url} is not an OData "
                                      f"collection (HTTP {response.status_code})")
            output.rows += [seam.plain_row({k: v for k, v in row.items() if not str(k).startswith("@")})
                            if isinstance(row, dict) else seam.plain_row(row) for row in doc.get("value", [])]
            output.warnings += [seam.one_line(str(w)) for w in doc.get("@adminapi.warnings") or () if w]
            link = doc.get("@odata.nextLink") if follow else None
            url = self._next(link, guard) if link else None
        return output

    def _next(self, link: Any, guard: NextLinkGuard) -> str:
        """The next page's URL, refused when it leaves the endpoint's origin (it would receive the token),
        loops, or passes the page cap (auditor/collect/paging.py)."""
        try:
            return guard.follow(link)
        except PagingRefused as exc:
            raise CollectionError(str(exc)) from None

    def _raise_or_record(self, response: requests.Response, doc: Any, command: Command, target: str | None,
                         output: Output, first_page: bool) -> None:
        status = response.status_code
        if status in (401, 403) and NOT_ALLOWED in error_message(doc).lower():  # a cmdlet outside the app's roles
            denied = CmdletErrorInfo(self._clean(error_message(doc)), f"Unauthorized,{status}", command.name, 0)
            raise PipelineFailed(command.name, denied, output)
        if status in (401, 403):
            raise CollectionError(self._clean(describe_refusal(status, doc, self.settings.url)))
        errors = [CmdletErrorInfo(self._clean(e.message), e.fq_error, target, 0) for e in cmdlet_errors(doc)]
        if not errors:
            text = " ".join((response.text or "").split())[:200]
            raise CollectionError(self._clean(f"{command.describe()}: HTTP {status} from {self.settings.url}: "
                                              f"{text or response.reason or 'no body'}"))
        # 4xx: the cmdlet ran and reported on its input (non-terminating, as PSRP's error stream);
        # 5xx or a later page: the run broke (terminating). "Not found" is an answer about the input either way.
        if first_page and (status < 500 or all(e.not_found for e in errors)):
            output.errors += errors
            return
        raise PipelineFailed(command.name, errors[0], output)

    def _send(self, url: str, body: dict[str, Any], what: str, stats: ShellStats, page_size: int
              ) -> requests.Response:
        """One POST, retried on 429/503/504 (Retry-After honoured) and dropped connections, within the budget."""
        s = self.settings
        refused: tuple[str, requests.Response] | None = None  # a 401: one retry with a fresh token per request
        for attempt in range(1, s.max_attempts + 1):
            token = self._token()
            if refused is not None and token == refused[0]:  # no fresher token to be had: the refusal stands
                return refused[1]
            with self._lock:
                if token not in self._tokens_seen:
                    self._tokens_seen.append(token)
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                       "Prefer": f"odata.maxpagesize={page_size}", "X-AnchorMailbox": s.anchor}
            stats.round_trips += 1
            try:
                response = self.session.post(url, json=body, headers=headers,
                                             timeout=(s.connect_timeout_s, s.operation_timeout_s + 15))
            except requests.exceptions.SSLError as exc:
                raise CollectionError(tls_failure(self.origin, exc)) from None
            except (RunStopped, ResponseTooLarge) as exc:
                raise CollectionError(f"{what}: {exc}") from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                if attempt == s.max_attempts:
                    raise CollectionError(f"{what}: cannot reach {self.origin}: {connection_detail(exc)}") from None
                self._wait(_backoff(attempt), what)
                stats.retries += 1
                continue
            except requests.exceptions.RequestException as exc:  # a bad URL, a broken chunked answer, ...
                raise CollectionError(f"{what}: request to {self.origin} failed: {type(exc).__name__}: "
                                      f"{connection_detail(exc)}") from None
            if response.status_code == 401 and refused is None and attempt < s.max_attempts \
                    and NOT_ALLOWED not in error_message(_json(response)).lower():
                refused = (token, response)  # expired (by the server's clock): ask for a fresh token once
                stats.reconnects += 1
                continue
            if response.status_code in RETRY_STATUSES and attempt < s.max_attempts:
                self._wait(retry_after(response.headers, _backoff(attempt)), what)
                stats.retries += 1
                continue
            return response
        raise AssertionError("unreachable")

    def _wait(self, seconds: float, what: str) -> None:
        with self._lock:
            if self.waited_s + seconds > self.settings.max_total_wait_s:
                raise CollectionError(f"{what}: gave up after waiting {self.waited_s:.0f} s for Exchange to recover "
                                      f"(retry budget {self.settings.max_total_wait_s:.0f} s)")
            self.waited_s += seconds
        try:
            self.settings.clock.sleep(seconds) if self._sleep is time.sleep else self._sleep(seconds)
        except RunStopped as exc:
            raise CollectionError(f"{what}: {exc}") from None

    def _clean(self, text: str) -> str:
        with self._lock:
            return redact(seam.one_line(text), self._tokens_seen)


class RestShell:
    """An ExchangeShell whose `run` sends each command as its own InvokeCommand request (statements in order,
    their outputs joined, as one PSRP pipeline of statements would give them)."""

    def __init__(self, client: RestClient) -> None:
        self.client = client
        self.stats = ShellStats()

    def run(self, commands: Sequence[Command]) -> Output:
        for command in commands:
            ensure_allowed(command.name)  # the whole batch is checked before the first request
        seam.quiet_transport_logs()
        output = Output()
        for index, command in enumerate(commands):
            try:
                part = self.client.invoke(command, self.stats)
            except PipelineFailed as exc:
                output.rows += exc.output.rows
                raise PipelineFailed(", ".join(dict.fromkeys(c.name for c in commands)), exc.error, output) from None
            output.rows += part.rows
            output.errors += [CmdletErrorInfo(e.message, e.fq_error, e.target, index if len(commands) > 1 else 0)
                              for e in part.errors]
            output.warnings += part.warnings
        return output

    def close(self) -> None:
        """Nothing to close per shell: the session belongs to the pool."""


class RestShellPool(ShellPool):
    """`[exchange] pools` RestShells over one RestClient: that many requests in flight at once."""

    client: RestClient
    statements_share_a_request = False

    @classmethod
    def open(cls, settings: RestSettings, exchange_token: Callable[[], str],
             sleep: Callable[[float], None] = time.sleep) -> RestShellPool:
        """Check the endpoint and the token with one small read, so a refused token or an unreachable endpoint
        fails every Exchange section with one cause (as a failed Connect-ExchangeOnline does over PSRP) instead
        of failing each read on its own. A cmdlet-level error from the probe still proves the token works."""
        seam.quiet_transport_logs()
        client = RestClient(settings, exchange_token, sleep)
        shells = [RestShell(client) for _ in range(max(1, settings.pools))]
        try:
            client.invoke(PROBE, shells[0].stats, page_size=1, follow=False, retry_cmdlet_errors=False)
        except PipelineFailed:
            pass
        except CollectionError:
            client.close()
            raise
        pool = cls(shells)
        pool.client = client
        return pool

    def read_items(self, keys: Sequence[str], command: Callable[[str], Command],
                   owns: Callable[[str, dict[str, Any]], bool], target: Callable[[str], str],
                   batch: int, *args: Any, **kwargs: Any) -> dict[str, ItemResult]:
        """One item per request whatever `batch` says: REST has no statements to batch, and a batch would only
        queue its requests behind one shell while the others idle. Everything else is ShellPool's."""
        return super().read_items(keys, command, owns, target, 1, *args, **kwargs)

    def facts(self) -> dict[str, Any]:
        return {"transport": "rest", "experimental": True, "endpoint": self.client.settings.url, **super().facts(),
                "test_batch_size": 1, "retry_wait_s": round(self.client.waited_s, 2)}

    def close(self) -> None:
        super().close()
        self.client.close()


def open_rest_pool(baseline: Baseline, exchange_token: Callable[[], str], verify_tls: bool = True,
                   clock: RunClock | None = None) -> RestShellPool:
    """The pool `auditor collect`/`audit`/`demo` use for `[exchange] transport = "rest"`.
    `verify_tls` is False only with --insecure-skip-tls-verify."""
    return RestShellPool.open(RestSettings.from_baseline(baseline, verify_tls, clock), exchange_token)


def _parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """JSON parameters: a switch (None in a Command) is `true`; everything else is data as given."""
    return {name: True if value is None else value for name, value in parameters.items()}


def _json(response: requests.Response) -> Any:
    try:
        return response.json() if response.content else None
    except (ValueError, RecursionError):  # RecursionError: JSON nested past Python's stack
        return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _backoff(attempt: int) -> float:
    return min(8.0, 0.5 * 2 ** (attempt - 1))
