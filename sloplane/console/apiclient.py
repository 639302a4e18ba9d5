"""Calls the API's public JSON routes in-process, as the visitor.

The transport is the same ASGI app (no socket, no second server), and the visitor's
token is forwarded as ``Authorization: Bearer``, so the API decides what the visitor
may read exactly as it would for a script, and its response cache is shared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

INTERNAL_BASE = "http://sloplane.console"
Params = Mapping[str, str | list[str]] | None


@dataclass(frozen=True)
class ApiAnswer:
    """One API answer: the status code and the parsed JSON body (or text for non-JSON)."""

    status: int
    body: Any
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def detail(self) -> str:
        """The problem document's detail (RFC 9457), or the raw text."""
        if isinstance(self.body, dict):
            return str(self.body.get("detail") or self.body.get("title") or self.text)
        return self.text[:500]


class ApiClient:
    """``get``/``post`` against the API mounted in the same app."""

    def __init__(self, app: Any) -> None:
        # An exception inside an API route is the API's 500 answer (a page saying so),
        # not an exception raised again in the console's handler.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._client = httpx.AsyncClient(transport=transport, base_url=INTERNAL_BASE, timeout=60.0)

    async def get(self, path: str, token: str | None, params: Params = None) -> ApiAnswer:
        return await self._send("GET", path, token, params)

    async def post(self, path: str, token: str | None, params: Params = None) -> ApiAnswer:
        return await self._send("POST", path, token, params)

    async def _send(self, method: str, path: str, token: str | None, params: Params) -> ApiAnswer:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        r = await self._client.request(method, path, params=params, headers=headers)
        return answer_of(r)

    async def aclose(self) -> None:
        await self._client.aclose()


def answer_of(r: httpx.Response) -> ApiAnswer:
    body: Any = None
    if r.headers.get("content-type", "").split(";")[0].strip().endswith("json"):
        try:
            body = r.json()
        except ValueError:
            body = None
    return ApiAnswer(r.status_code, body, r.text)
