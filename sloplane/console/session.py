"""Who is visiting: the token cookie, the visitor's scope as the API sees it, CSRF tokens.

The token lives in an HttpOnly, SameSite=Strict cookie scoped to ``/ui``: page scripts
cannot read it and no other site can make the browser send it. Every state-changing
form also carries a CSRF token: an HMAC of a per-browser nonce cookie under a secret
held only by this process, checked with a constant-time comparison.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from fastapi import Request
from fastapi.responses import Response

from sloplane.console.apiclient import ApiClient

TOKEN_COOKIE = "sloplane_token"
NONCE_COOKIE = "sloplane_nonce"
COOKIE_PATH = "/ui"
TOKEN_MAX_AGE = 12 * 3600

Role = Literal["admin", "read", "anonymous", "invalid"]


@dataclass(frozen=True)
class Visitor:
    token: str | None
    role: Role
    can_read: bool

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def logged_in(self) -> bool:
        return self.role in ("admin", "read")


async def role_of(api: ApiClient, token: str | None) -> Role:
    """The token's scope, asked of the API itself: ``/api/v1/tokens`` needs admin, so it
    answers 200 to an admin token, 403 to a valid read token and 401 to anything else."""
    if not token:
        return "anonymous"
    answer = await api.get("/api/v1/tokens", token)
    if answer.status == 200:
        return "admin"
    if answer.status == 403:
        return "read"
    return "invalid"


async def visitor_of(request: Request, api: ApiClient, open_reads: bool) -> Visitor:
    token = request.cookies.get(TOKEN_COOKIE) or None
    role = await role_of(api, token)
    return Visitor(token, role, role in ("admin", "read") or open_reads)


class Csrf:
    """Form tokens bound to the browser's nonce cookie; valid until this process restarts."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def token_for(self, nonce: str) -> str:
        return hmac.new(self._secret, nonce.encode(), hashlib.sha256).hexdigest()

    def check(self, nonce: str | None, given: str | None) -> bool:
        if not nonce or not given:
            return False
        # bytes: a non-ASCII form value is a mismatch, not a TypeError
        return hmac.compare_digest(self.token_for(nonce).encode(), given.encode())


def nonce_of(request: Request) -> tuple[str, bool]:
    """The browser's nonce and whether it is new (and must be set on the response)."""
    nonce = request.cookies.get(NONCE_COOKIE)
    if nonce and 16 <= len(nonce) <= 100:
        return nonce, False
    return secrets.token_urlsafe(24), True


def set_cookie(response: Response, name: str, value: str, secure: bool, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def clear_cookie(response: Response, name: str, secure: bool) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure)
