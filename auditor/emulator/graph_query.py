"""OData query options for the emulated Graph: $select, $filter (eq, in), $top and opaque paging."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

from auditor.emulator.replies import GraphError

DEFAULT_PAGE_SIZE = 100  # Graph's default for directory collections.
MAX_IN_VALUES = 15  # "in" is limited to 15 expressions unless advanced queries are used.
_SUPPORTED = ("$select", "$filter", "$top", "$skiptoken")


@dataclass(frozen=True)
class QueryOptions:
    """Parsed query options of one request."""

    select: tuple[str, ...] | None = None
    filter: str | None = None
    top: int | None = None
    skiptoken: str | None = None

    @classmethod
    def parse(cls, query: str) -> QueryOptions:
        seen: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            if not key.startswith("$"):
                continue  # Graph ignores custom query options.
            if key not in _SUPPORTED:
                raise GraphError(400, "Request_BadRequest", f"'{key}' is not supported by the service.")
            if key in seen:
                raise GraphError(400, "Request_BadRequest", f"Query option '{key}' was specified more than once.")
            seen[key] = value
        select = None
        if "$select" in seen:
            select = tuple(p.strip() for p in seen["$select"].split(",") if p.strip())
            if not select:
                raise GraphError(400, "Request_BadRequest", "Invalid $select: no property named.")
        top = None
        if "$top" in seen:
            try:
                top = int(seen["$top"])
            except ValueError:
                top = 0
            if not 1 <= top <= 999:
                raise GraphError(
                    400,
                    "Request_BadRequest",
                    f"Invalid page size specified: '{seen['$top']}'. Must be between 1 and 999 inclusive.",
                )
        return cls(select, seen.get("$filter"), top, seen.get("$skiptoken"))


_TERM = re.compile(r"\s*([A-Za-z][A-Za-z0-9]*)\s+(eq|in)\s+", re.DOTALL)
_LITERAL = re.compile(r"\s*(?:'((?:[^']|'')*)'|(true|false|null))", re.DOTALL)


def _literal(text: str, resource: str) -> tuple[Any, str]:
    match = _LITERAL.match(text)
    if not match:
        raise GraphError(
            400, "Request_BadRequest", f"Invalid filter clause near '{text.strip()[:40]}' on '{resource}'."
        )
    quoted, keyword = match.groups()
    if quoted is not None:
        return quoted.replace("''", "'"), text[match.end() :]
    return {"true": True, "false": False, "null": None}[keyword], text[match.end() :]


def parse_filter(text: str, allowed: Sequence[str], resource: str, *, advanced: bool = False) -> Filter:
    """A predicate for ``prop eq 'v'`` or ``prop in ('a','b')``; anything else is unsupported."""
    match = _TERM.match(text)
    if not match:
        raise GraphError(400, "Request_UnsupportedQuery", "Unsupported Query.")
    prop, operator = match.groups()
    if prop not in allowed:
        raise GraphError(
            400,
            "Request_UnsupportedQuery",
            f"Unsupported or invalid query filter clause specified for property '{prop}' of resource '{resource}'.",
        )
    rest = text[match.end() :]
    values: list[Any] = []
    if operator == "eq":
        value, rest = _literal(rest, resource)
        values.append(value)
    else:
        rest = rest.lstrip()
        if not rest.startswith("("):
            raise GraphError(400, "Request_BadRequest", "The 'in' operator needs a parenthesised list.")
        rest = rest[1:]
        while True:
            value, rest = _literal(rest, resource)
            values.append(value)
            rest = rest.lstrip()
            if rest.startswith(","):
                rest = rest[1:]
                continue
            if rest.startswith(")"):
                rest = rest[1:]
                break
            raise GraphError(400, "Request_BadRequest", "Unterminated list after 'in'.")
    if rest.strip():
        raise GraphError(400, "Request_UnsupportedQuery", "Unsupported Query.")
    if len(values) > MAX_IN_VALUES and not advanced:
        raise GraphError(
            400,
            "Request_UnsupportedQuery",
            f"Too many child clauses specified in search filter expression containing 'OR' operators: "
            f"{len(values)}. Max allowed: {MAX_IN_VALUES}.",
        )
    return Filter(prop, frozenset(normalise(v) for v in values))


def normalise(value: Any) -> Any:
    """Directory string comparisons are case-insensitive (mail, userPrincipalName, GUIDs alike)."""
    return value.lower() if isinstance(value, str) else value


@dataclass(frozen=True)
class Filter:
    """``prop`` equals one of ``values`` (already normalised)."""

    prop: str
    values: frozenset[Any]

    def __call__(self, obj: dict[str, Any]) -> bool:
        return normalise(obj.get(self.prop)) in self.values


def check_select(select: tuple[str, ...] | None, known: set[str], type_name: str) -> None:
    for prop in select or ():
        if prop not in known:
            raise GraphError(
                400,
                "Request_BadRequest",
                f"Parsing OData Select and Expand failed: Could not find a property named '{prop}' "
                f"on type 'microsoft.graph.{type_name}'.",
            )


def _page_key(path: str, options: QueryOptions) -> str:
    material = json.dumps([path, options.select, options.filter, options.top])
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _encode_token(offset: int, key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "k": key}).encode()).decode().rstrip("=")


def _decode_token(token: str, key: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = data["o"]
        if data["k"] != key or not isinstance(offset, int) or offset < 0:
            raise ValueError(token)
        return offset
    except (ValueError, KeyError, TypeError):
        raise GraphError(
            400, "Request_BadRequest", "The specified page token value has expired or is invalid."
        ) from None


def page(items: Sequence[Any], path: str, options: QueryOptions, base_url: str) -> tuple[list[Any], str | None]:
    """One page of ``items`` and the absolute ``@odata.nextLink`` for the rest (None at the end)."""
    key = _page_key(path, options)
    offset = _decode_token(options.skiptoken, key) if options.skiptoken else 0
    size = options.top or DEFAULT_PAGE_SIZE
    chunk = list(items[offset : offset + size])
    if offset + size >= len(items):
        return chunk, None
    params = []
    if options.select is not None:
        params.append(("$select", ",".join(options.select)))
    if options.filter is not None:
        params.append(("$filter", options.filter))
    if options.top is not None:
        params.append(("$top", str(options.top)))
    params.append(("$skiptoken", _encode_token(offset + size, key)))
    query = "&".join(f"{k}={quote(v, safe=',()@:')}" for k, v in params)
    return chunk, f"{base_url}/v1.0{quote(path, safe='/()=@:,$')}?{query}"
