"""The API's caches: one TTL cache bounded in bytes, and the response cache built on it.

Every cache of the API (rendered responses, backend answers, status documents) is a
:class:`ByteBudgetCache`: entries expire after their TTL and the least recently used are
dropped as soon as the entries' estimated size passes the budget, so a caller asking for
many distinct ranges cannot grow the process by more than the budget (an entry count is
no bound when one answer may be kilobytes or megabytes).

The response cache replays the bytes of a 200 answer for the same path, query string and
Authorization header, skipping routing, validation and serialization, for the TTL or the
answer's own ``Cache-Control: max-age`` if shorter (an answer built from a status that is
being refreshed says 0 and is not kept). The key includes
the token, and the token is checked again on every hit (an in-memory lookup), so a
revoked token stops being served at once.
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

V = TypeVar("V")

CACHED_PREFIXES = ("/api/v1/slos", "/api/v1/services", "/api/v1/teams")
ENTRY_OVERHEAD = 200
"""Bytes counted per entry on top of its value: key, tuple and dict slot."""


class ByteBudgetCache(Generic[V]):
    """A TTL + LRU cache whose entries' estimated sizes never sum above ``max_bytes``.

    ``size`` estimates one value's footprint in bytes; a value larger than the whole
    budget is not stored at all (it would evict everything else for one caller).
    """

    def __init__(self, max_bytes: int, size: Callable[[V], int]) -> None:
        self.max_bytes = max_bytes
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[float, int, V]] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, now: float | None = None) -> V | None:
        """The value if present and not expired (expired entries are dropped on sight)."""
        hit = self._entries.get(key)
        if hit is None:
            return None
        if hit[0] <= (time.monotonic() if now is None else now):
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return hit[2]

    def expiry(self, key: Hashable) -> float | None:
        """When ``key`` expires (monotonic seconds), expired or not; None when absent."""
        hit = self._entries.get(key)
        return None if hit is None else hit[0]

    def peek(self, key: Hashable) -> V | None:
        """The value even if expired (stale-while-revalidate), without touching recency."""
        hit = self._entries.get(key)
        return None if hit is None else hit[2]

    def put(self, key: Hashable, value: V, ttl: float) -> None:
        size = self._size(value) + ENTRY_OVERHEAD
        if key in self._entries:
            self._drop(key)
        if size > self.max_bytes:
            return
        now = time.monotonic()
        self._drop_expired_oldest(now)
        self._entries[key] = (now + ttl, size, value)
        self.bytes += size
        if self.bytes > self.max_bytes:
            self._evict(now)

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes -= entry[1]

    def _drop_expired_oldest(self, now: float) -> None:
        """Drop expired entries from the least recently used end, up to the first live one.

        Without it an expired entry stayed until the budget filled: under requests that
        never repeat (a new history range each time) the API grew by about 1.1 MiB a
        minute, steadily, through a 10-minute soak (``benchmarks/api_memory.py``; with
        this, +5 KiB a minute). Stopping at the first live entry
        keeps a put O(1) amortised; expired entries behind it go when they reach the end
        or are asked for.
        """
        while self._entries:
            oldest = next(iter(self._entries))
            if self._entries[oldest][0] > now:
                return
            self._drop(oldest)

    def _evict(self, now: float) -> None:
        """Expired entries first, then the least recently used until under budget."""
        for key in [k for k, e in self._entries.items() if e[0] <= now]:
            self._drop(key)
        while self.bytes > self.max_bytes and self._entries:
            self._drop(next(iter(self._entries)))


def messages_size(messages: list[Any]) -> int:
    """Bytes of a captured ASGI response: bodies plus headers."""
    total = 0
    for m in messages:
        total += len(m.get("body", b""))
        total += sum(len(k) + len(v) for k, v in m.get("headers", ()))
    return total


TokenCheck = Callable[[Any, bytes], bool]
"""(ASGI scope, Authorization header) -> may a cached answer be shown to this caller?"""


def _app_token_check(scope: Any, authorization: bytes) -> bool:
    """Ask the application's token store (through ``scope["app"]``) whether the caller's
    token is still valid; without a token store (tests of the cache alone) allow."""
    st = getattr(getattr(scope.get("app"), "state", None), "sloplane", None)
    if st is None:
        return True
    return bool(st.cached_answer_allowed(authorization))


class ResponseCache:
    def __init__(
        self,
        app: Any,
        ttl: float,
        max_bytes: int = 32 * 2**20,
        token_check: TokenCheck = _app_token_check,
    ) -> None:
        self.app = app
        self.ttl = ttl
        self.token_check = token_check
        self.entries: ByteBudgetCache[list[Any]] = ByteBudgetCache(max_bytes, messages_size)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            self.ttl <= 0
            or scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith(CACHED_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        authorization = headers.get(b"authorization", b"")
        key = (scope["path"], scope.get("query_string", b""), authorization)
        hit = self.entries.get(key)
        if hit is not None and self.token_check(scope, authorization):
            for message in hit:
                await send(message)
            return
        messages: list[Any] = []

        async def capture(message: Any) -> None:
            messages.append(message)
            await send(message)

        await self.app(scope, receive, capture)
        if messages and messages[0].get("status") == 200 and _complete(messages):
            ttl = min(self.ttl, max_age(messages[0]))
            if ttl > 0:
                self.entries.put(key, messages, ttl)


MAX_AGE = re.compile(rb"(?:^|[,\s])max-age=(\d+)")


def max_age(start: Any) -> float:
    """The ``max-age`` of a response's ``Cache-Control`` (the routes built from statuses
    set it to when their data goes stale); without one, no limit (``inf``)."""
    for name, value in start.get("headers", ()):
        if name.lower() == b"cache-control":
            found = MAX_AGE.search(value.lower())
            if found:
                return float(found.group(1))
            if b"no-store" in value.lower() or b"no-cache" in value.lower():
                return 0.0
    return math.inf


def _complete(messages: list[Any]) -> bool:
    last = messages[-1]
    return bool(last.get("type") == "http.response.body" and not last.get("more_body", False))
