"""The one guard every pager uses (Graph and Exchange REST) before it follows `@odata.nextLink`.

Graph says to follow the whole nextLink URL as given (docs/microsoft-facts.md, Microsoft Graph paging). A
hostile or broken server decides that URL, so before the bearer token goes with it: the link must stay on the
origin the run was configured for (scheme, host and port), must not repeat a page already read, and a
listing stops at MAX_PAGES pages. Each refusal is one line for the section's ERROR, never a short list.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

MAX_PAGES = 10_000
"""Per listing: 10,000 pages of Graph's 999 (or Exchange's 1,000) rows is ten million rows, past any tenant."""


class PagingRefused(Exception):
    """The next page's link is unsafe or does not progress; the message is one line naming it."""


def origin(url: str) -> str:
    parts = urlsplit(str(url))
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower(), 0)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


class NextLinkGuard:
    """One per listing: `follow(link)` gives the URL to request next, or raises PagingRefused."""

    def __init__(self, base_url: str, what: str, max_pages: int = MAX_PAGES) -> None:
        self.origin, self.what, self.max_pages = origin(base_url), what, max_pages
        self.seen: set[str] = set()

    def follow(self, link: Any) -> str:
        if not isinstance(link, str) or not link:
            raise PagingRefused(f"{self.what}: @odata.nextLink is not a URL ({type(link).__name__})")
        try:
            target = origin(link)
        except ValueError:
            raise PagingRefused(f"{self.what}: @odata.nextLink is not a URL") from None
        if target != self.origin:
            raise PagingRefused(f"{self.what}: refusing to follow @odata.nextLink to {_shown(target)}, outside "
                                f"{_shown(self.origin)} (it would receive the access token)")
        if link in self.seen:
            raise PagingRefused(f"{self.what}: @odata.nextLink does not progress after {len(self.seen)} pages "
                                "(it repeats a page already read)")
        if len(self.seen) >= self.max_pages:
            raise PagingRefused(f"{self.what}: more than {self.max_pages} pages; stopped (page cap)")
        self.seen.add(link)
        return link


def _shown(value: str) -> str:
    return value.removesuffix(":443") if value.startswith("https://") else value.removesuffix(":80")
