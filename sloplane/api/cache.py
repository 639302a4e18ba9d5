"""A response cache in front of the router for the hot read endpoints.

Dashboards poll the same status URLs many times a second. Replaying the bytes of a
200 answer for the same path, query string and Authorization header skips routing,
validation, authentication and serialization entirely; the key includes the token,
so a cached answer is never shown to a caller who could not have fetched it. The
TTL is the API's cache period, so answers are never older than the backend cache
already allows (plus one period while a refresh runs).
"""

from __future__ import annotations

import time
from typing import Any

CACHED_PREFIXES = ("/api/v1/slos", "/api/v1/services", "/api/v1/teams")


class ResponseCache:
    def __init__(self, app: Any, ttl: float, max_entries: int = 10_000) -> None:
        self.app = app
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[tuple[str, bytes, bytes], tuple[float, list[Any]]] = {}

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
        key = (scope["path"], scope.get("query_string", b""), headers.get(b"authorization", b""))
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            for message in hit[1]:
                await send(message)
            return
        messages: list[Any] = []

        async def capture(message: Any) -> None:
            messages.append(message)
            await send(message)

        await self.app(scope, receive, capture)
        if messages and messages[0].get("status") == 200 and _complete(messages):
            if len(self._entries) >= self.max_entries:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[key] = (time.monotonic() + self.ttl, messages)


def _complete(messages: list[Any]) -> bool:
    last = messages[-1]
    return bool(last.get("type") == "http.response.body" and not last.get("more_body", False))
