"""Bearer API tokens with ``read`` and ``admin`` scopes, stored only as SHA-256 hashes.

Tokens are 32 random bytes, so a fast unsalted hash is enough: there is nothing to
brute-force, and a database leak reveals no usable token.

Authentication never waits on the database per request. The store keeps a snapshot of
every valid token hash (the table is small: one row per person or script), so

* a valid token is one dictionary lookup;
* an unknown token is refused from the snapshot too: that is the negative cache, and it
  covers every unknown token at once, so spraying random tokens costs at most one
  reload of the snapshot per ``max_age`` seconds, not one query per guess;
* a token revoked through this process is gone from the snapshot (and from the response
  cache, which asks :meth:`TokenStore.valid_now` on every hit) at once; one revoked
  through another replica is refused within ``max_age`` seconds.

The snapshot is reloaded in the background once it is older than ``max_age``; an unknown
token seen with a stale snapshot waits for that one shared reload (so a token created by
another replica works at once). Reloads run on the database's bounded thread pool and
end at its deadline; while the database is down the last snapshot keeps answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from sloplane.api.db import ApiToken
from sloplane.api.schemas import TokenCreated, TokenInfo
from sloplane.database import Database, DatabaseUnavailable

PREFIX = "slp_"
SCOPES = ("read", "admin")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def grants(scopes: frozenset[str], needed: str) -> bool:
    """``admin`` implies ``read``."""
    return needed in scopes or "admin" in scopes


def _load(sessions: sessionmaker[Session]) -> dict[str, frozenset[str]]:
    with sessions() as s:
        rows = s.execute(select(ApiToken.token_hash, ApiToken.scopes))
        return {h: frozenset(scopes.split(",")) for h, scopes in rows}


@dataclass
class TokenStore:
    db: Database
    max_age: float = 1.0
    _known: dict[str, frozenset[str]] = field(default_factory=dict)
    _loaded_at: float = float("-inf")
    _reload: asyncio.Task[None] | None = None
    # hashes revoked here, with when: a reload that started earlier must not bring them back
    _revoked: dict[str, float] = field(default_factory=dict)
    reloads: int = 0

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.db.sessions

    def load(self) -> None:
        """Synchronous first load (at startup, before serving)."""
        self._known = _load(self.sessions)
        self._loaded_at = time.monotonic()

    async def scopes_of(self, token: str) -> frozenset[str] | None:
        """The token's scopes, or None for an unknown or revoked token.

        Raises DatabaseUnavailable only when the token is unknown to the snapshot and
        the database cannot be asked (a valid token keeps working while it is down)."""
        digest = hash_token(token)
        fresh = time.monotonic() - self._loaded_at <= self.max_age
        scopes = self._known.get(digest)
        if scopes is not None or fresh:
            if not fresh:
                self._start_reload()
            return scopes
        await asyncio.shield(self._start_reload())
        return self._known.get(digest)

    def valid_now(self, token: str) -> bool:
        """Whether the snapshot holds the token (for the response cache: no I/O)."""
        return hash_token(token) in self._known

    def _start_reload(self) -> asyncio.Task[None]:
        if self._reload is None or self._reload.done():
            self._reload = asyncio.create_task(self._reload_now())
        return self._reload

    async def _reload_now(self) -> None:
        self.reloads += 1
        started = time.monotonic()
        with contextlib.suppress(DatabaseUnavailable):
            known = await self.db.call(_load, self.sessions)
            for digest in self._revoked:
                known.pop(digest, None)
            self._revoked = {h: t for h, t in self._revoked.items() if t >= started}
            self._known = known
            self._loaded_at = started

    def create(self, name: str, scopes: list[str], token: str | None = None) -> TokenCreated:
        token = token or new_token()
        row = ApiToken(
            name=name,
            token_hash=hash_token(token),
            scopes=",".join(sorted(set(scopes))),
            created_at=time.time(),
        )
        with self.sessions() as s:
            s.add(row)
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                raise ValueError(f"a token named {name!r} already exists") from None
            self._known[row.token_hash] = frozenset(row.scopes.split(","))
            return TokenCreated(**_info(row).model_dump(), token=token)

    def ensure(self, name: str, token: str, scopes: list[str]) -> None:
        """Register a token given by the operator (e.g. ``SLOPLANE_ADMIN_TOKEN``) if new."""
        with self.sessions() as s:
            row = s.scalar(select(ApiToken).where(ApiToken.name == name))
            if row is not None:
                row.token_hash = hash_token(token)
                row.scopes = ",".join(sorted(set(scopes)))
                s.commit()
                self.load()
                return
        self.create(name, scopes, token)

    def list(self) -> list[TokenInfo]:
        with self.sessions() as s:
            return [_info(r) for r in s.scalars(select(ApiToken).order_by(ApiToken.id))]

    def delete(self, token_id: int) -> bool:
        with self.sessions() as s:
            row = s.get(ApiToken, token_id)
            if row is None:
                return False
            # refused from now on, before the commit
            self._revoked[row.token_hash] = time.monotonic()
            self._known.pop(row.token_hash, None)
            s.delete(row)
            s.commit()
        return True


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id, name=row.name, scopes=row.scopes.split(","), created_at=row.created_at
    )
