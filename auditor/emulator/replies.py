"""HTTP reply values shared by the emulator's endpoints, and Graph's error shape."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

GRAPH_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
PLAIN_JSON = "application/json; charset=utf-8"


@dataclass
class Reply:
    """Status, headers and body; ``drop`` closes the connection without answering."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    drop: bool = False


def json_reply(
    status: int, payload: Any, headers: dict[str, str] | None = None, content_type: str = PLAIN_JSON
) -> Reply:
    return Reply(status, {"Content-Type": content_type, **(headers or {})}, json.dumps(payload).encode())


class GraphError(Exception):
    """A Graph error answer raised from inside a handler."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def graph_error_body(code: str, message: str, request_id: str, client_request_id: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }


THROTTLED = ("TooManyRequests", "Please retry again later.")
UNAVAILABLE = ("serviceNotAvailable", "The service is temporarily unavailable. Please retry later.")
