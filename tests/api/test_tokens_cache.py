"""Issue 12, finding 8: a revoked token is refused at once (cached answers included), and
random-token spraying costs no database query per guess."""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy import event

from tests.api.conftest import ADMIN, api

NOWHERE = "http://127.0.0.1:9"
ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}
DEFINITION = "/api/v1/slos/checkout-availability"


def test_revoked_token_is_refused_at_once(tmp_path: Path) -> None:
    with api(NOWHERE, tmp_path / "db.sqlite") as c:
        created = c.post(
            "/api/v1/tokens", json={"name": "dash", "scopes": ["read"]}, headers=ADMIN_AUTH
        ).json()
        reader = {"Authorization": f"Bearer {created['token']}"}
        assert c.get(DEFINITION, headers=reader).status_code == 200
        assert c.get(DEFINITION, headers=reader).status_code == 200  # from the response cache
        assert c.delete(f"/api/v1/tokens/{created['id']}", headers=ADMIN_AUTH).status_code == 204
        assert c.get(DEFINITION, headers=reader).status_code == 401
        assert c.get(DEFINITION, headers=ADMIN_AUTH).status_code == 200


def test_random_tokens_do_not_reach_the_database(tmp_path: Path) -> None:
    with api(NOWHERE, tmp_path / "db.sqlite", token_max_age=60) as c:
        engine = c.app.state.sloplane.sessions.kw["bind"]  # type: ignore[attr-defined]
        statements: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        for _ in range(300):
            guess = {"Authorization": f"Bearer slp_{secrets.token_urlsafe(32)}"}
            assert c.get(DEFINITION, headers=guess).status_code == 401
        assert c.get(DEFINITION, headers=ADMIN_AUTH).status_code == 200
        assert statements == []


def test_a_token_created_elsewhere_works_once_the_snapshot_is_old(tmp_path: Path) -> None:
    """Another replica's new token: refused only while the snapshot is fresh (max age 0 here)."""
    db = tmp_path / "db.sqlite"
    with api(NOWHERE, db, token_max_age=0) as c, api(NOWHERE, db, token_max_age=0) as other:
        token = other.post(
            "/api/v1/tokens", json={"name": "elsewhere", "scopes": ["read"]}, headers=ADMIN_AUTH
        ).json()["token"]
        assert c.get(DEFINITION, headers={"Authorization": f"Bearer {token}"}).status_code == 200
