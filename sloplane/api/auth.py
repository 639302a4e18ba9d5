"""Bearer API tokens with ``read`` and ``admin`` scopes, stored only as SHA-256 hashes.

Tokens are 32 random bytes, so a fast unsalted hash is enough: there is nothing to
brute-force, and a database leak reveals no usable token. Lookups are cached for
a few seconds so authentication does not put a query on every request.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from sloplane.api.db import ApiToken
from sloplane.api.schemas import TokenCreated, TokenInfo

PREFIX = "slp_"
SCOPES = ("read", "admin")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def grants(scopes: frozenset[str], needed: str) -> bool:
    """``admin`` implies ``read``."""
    return needed in scopes or "admin" in scopes


@dataclass
class TokenStore:
    sessions: sessionmaker[Session]
    cache_seconds: float = 5.0
    _cache: dict[str, tuple[float, frozenset[str] | None]] = field(default_factory=dict)

    def scopes_of(self, token: str) -> frozenset[str] | None:
        digest = hash_token(token)
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.sessions() as s:
            row = s.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
            scopes = frozenset(row.scopes.split(",")) if row else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + self.cache_seconds, scopes)
        return scopes

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
            return TokenCreated(**_info(row).model_dump(), token=token)

    def ensure(self, name: str, token: str, scopes: list[str]) -> None:
        """Register a token given by the operator (e.g. ``SLOPLANE_ADMIN_TOKEN``) if new."""
        with self.sessions() as s:
            row = s.scalar(select(ApiToken).where(ApiToken.name == name))
            if row is not None:
                row.token_hash = hash_token(token)
                row.scopes = ",".join(sorted(set(scopes)))
                s.commit()
                self._cache.clear()
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
            s.delete(row)
            s.commit()
        self._cache.clear()
        return True


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id, name=row.name, scopes=row.scopes.split(","), created_at=row.created_at
    )
