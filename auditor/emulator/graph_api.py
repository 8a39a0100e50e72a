"""The emulated Microsoft Graph v1.0: routes, bearer-token and role checks, faults, $batch."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from auditor.emulator.builtin import GRAPH_APP_ID, GRAPH_AUDIENCE
from auditor.emulator.faults import FaultInjector, RequestCounters
from auditor.emulator.graph_handlers import Call, GraphResources, Route
from auditor.emulator.graph_query import QueryOptions
from auditor.emulator.replies import GRAPH_JSON, THROTTLED, UNAVAILABLE, GraphError, Reply, graph_error_body
from auditor.emulator.tenant import Tenant
from auditor.emulator.tokens import TokenClaims, TokenIssuer

MAX_BATCH = 20


class GraphApi:
    """Answers /v1.0 requests for one tenant."""

    def __init__(
        self,
        tenant: Tenant,
        tokens: TokenIssuer,
        counters: RequestCounters,
        faults: FaultInjector,
        base_url: str,
    ) -> None:
        self.tenant = tenant
        self.tokens = tokens
        self.counters = counters
        self.faults = faults
        self.base_url = base_url
        self.resources = GraphResources(tenant, base_url)
        self.failed_dependency_envelopes = 0  # $batch envelopes answered 424 (fault plan batch_failed_dependency)

    # -- dispatch -------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer one HTTP request whose path starts with /v1.0 (the body only matters for $batch)."""
        request_id = str(uuid.uuid4())
        client_request_id = headers.get("client-request-id") or request_id
        ids = (request_id, client_request_id)
        raw_path, _, query = target.partition("?")
        path = unquote(raw_path)[len("/v1.0") :] or "/"
        is_batch = path == "/$batch"
        route, match = (None, None) if is_batch else self._match(path)
        self.counters.count(f"{method} /v1.0" + ("/$batch" if is_batch else self._route_name(route, match)))
        plan = self.faults.plan
        if plan.graph_down:
            return self._error(503, *UNAVAILABLE, ids)
        fault = self.faults.next_graph_fault()
        if fault == "drop":
            return Reply(0, drop=True)
        if fault == "throttle":
            return self._error(429, *THROTTLED, ids, {"Retry-After": f"{plan.retry_after_s:g}"})
        if fault == "error":
            return self._error(503, *UNAVAILABLE, ids)
        try:
            claims = self._authenticate(headers)
            if is_batch:
                if method != "POST":
                    raise GraphError(
                        405,
                        "Request_BadRequest",
                        "Specified HTTP method is not allowed for the request target.",
                    )
                payload = self._batch(body, claims)
            else:
                payload = self._execute(method, path, query, route, match, claims, headers)
        except GraphError as exc:
            return self._error(exc.status, exc.code, exc.message, ids, exc.headers)
        return Reply(self._status(is_batch, payload), self._headers(ids), json.dumps(payload).encode())

    def _status(self, is_batch: bool, payload: dict[str, Any]) -> int:
        """200, or 424 for a $batch envelope holding a throttled item when the plan says so."""
        throttled = is_batch and any(item["status"] == 429 for item in payload["responses"])
        if throttled and self.faults.plan.batch_failed_dependency:
            self.failed_dependency_envelopes += 1
            return 424
        return 200

    def _match(self, path: str) -> tuple[Route | None, re.Match[str] | None]:
        for route in self.resources.routes:
            match = route.pattern.match(path)
            if match:
                return route, match
        return None, None

    @staticmethod
    def _route_name(route: Route | None, match: re.Match[str] | None) -> str:
        if route is None or match is None:
            return "/{unknown}"
        key = "(appId='{appId}')" if match.groupdict().get("appid") is not None else "/{id}"
        return route.template.replace("{KEY}", key)

    def _headers(self, ids: tuple[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {
            "Content-Type": GRAPH_JSON,
            "request-id": ids[0],
            "client-request-id": ids[1],
            **(extra or {}),
        }

    def _error(
        self,
        status: int,
        code: str,
        message: str,
        ids: tuple[str, str],
        extra: Mapping[str, str] | None = None,
    ) -> Reply:
        body = json.dumps(graph_error_body(code, message, *ids)).encode()
        return Reply(status, self._headers(ids, extra), body)

    def _authenticate(self, headers: Mapping[str, str]) -> TokenClaims:
        challenge = {
            "WWW-Authenticate": 'Bearer realm="", authorization_uri="'
            + f'{self.base_url}/{self.tenant.id}/oauth2/authorize", client_id="{GRAPH_APP_ID}"'
        }
        auth = headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", challenge)
        claims = self.tokens.verify(token.strip())
        if claims is None:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.", challenge)
        if claims.audience not in (GRAPH_AUDIENCE, GRAPH_APP_ID):
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Access token validation failure. Invalid audience.",
                challenge,
            )
        if claims.tenant_id.lower() != self.tenant.id.lower():
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Access token validation failure. Invalid issuer.",
                challenge,
            )
        return claims

    def _execute(
        self,
        method: str,
        path: str,
        query: str,
        route: Route | None,
        match: re.Match[str] | None,
        claims: TokenClaims,
        headers: Mapping[str, str],
    ) -> dict[str, Any]:
        if route is None or match is None:
            raise GraphError(
                404, "Request_ResourceNotFound", f"Resource not found for the segment '{path.strip('/')}'."
            )
        if method != "GET":
            raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
        if not claims.roles & route.roles:  # Microsoft's table for this route: graph_permissions.TABLE
            raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        params = {k: v for k, v in match.groupdict().items() if v is not None}
        advanced = (headers.get("ConsistencyLevel") or "").lower() == "eventual"
        call = Call(path, QueryOptions.parse(query), params, advanced, claims.roles)
        handler: Callable[[Call], dict[str, Any]] = getattr(self.resources, route.handler)
        return handler(call)

    # -- $batch ----------------------------------------------------------------------------------

    def _batch(self, body: bytes, claims: TokenClaims) -> dict[str, Any]:
        try:
            requests = json.loads(body or b"null")["requests"]
            if not isinstance(requests, list) or not all(isinstance(r, dict) for r in requests):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise GraphError(400, "BadRequest", "Invalid batch payload format.") from None
        if len(requests) > MAX_BATCH:
            raise GraphError(
                400, "BadRequest", f"Too many requests in a batch: {len(requests)}. Maximum is {MAX_BATCH}."
            )
        seen: set[str] = set()
        for item in requests:
            if not all(isinstance(item.get(k), str) for k in ("id", "method", "url")):
                raise GraphError(
                    400, "BadRequest", "Invalid batch payload format: each request needs id, method and url."
                )
            if item["id"] in seen:
                raise GraphError(400, "BadRequest", f"Batch request contains duplicate request id '{item['id']}'.")
            seen.add(item["id"])
        return {"responses": [self._batch_item(item, claims) for item in requests]}

    def _batch_item(self, item: dict[str, Any], claims: TokenClaims) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        ids = (request_id, request_id)
        method = item["method"].upper()
        url = item["url"] if item["url"].startswith("/") else "/" + item["url"]
        raw_path, _, query = url.partition("?")
        path = unquote(raw_path)
        route, match = self._match(path)
        self.counters.count(f"batch:{method} /v1.0{self._route_name(route, match)}")
        raw_headers = item.get("headers")
        item_headers: dict[str, str] = raw_headers if isinstance(raw_headers, dict) else {}
        status, extra = 200, {}
        plan = self.faults.plan
        try:
            if item["url"].lower().startswith(("http:", "https:")):
                raise GraphError(400, "BadRequest", "Batch request urls must be relative.")
            fault = self.faults.next_graph_fault(can_drop=False)
            if fault == "throttle":
                raise GraphError(429, *THROTTLED, {"Retry-After": f"{plan.retry_after_s:g}"})
            if fault == "error":
                raise GraphError(503, *UNAVAILABLE)
            if method != "GET":
                raise GraphError(
                    405, "Request_BadRequest", "Only GET requests are supported in a batch by the emulator."
                )
            payload = self._execute(method, path, query, route, match, claims, item_headers)
        except GraphError as exc:
            status, extra = exc.status, exc.headers
            payload = graph_error_body(exc.code, exc.message, *ids)
        return {"id": item["id"], "status": status, "headers": self._headers(ids, extra), "body": payload}
