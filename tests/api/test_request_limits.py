"""Body limits hold for chunked bodies, problem documents name the field, token bodies are strict,
the SQLite file is private, and the request metrics carry a status-code label."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sloplane.database import open_database
from tests.api.conftest import ADMIN
from tests.api.dataset import W46_END

AUTH = {"Authorization": f"Bearer {ADMIN}", "content-type": "application/json"}


def _chunks(total: int, size: int = 8192) -> Iterator[bytes]:
    yield b'{"name": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


@pytest.mark.integration
def test_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    r = client.post("/api/v1/tokens", content=_chunks(200_000), headers=AUTH)
    assert "content-length" not in r.request.headers  # really sent chunked
    assert r.request.headers["transfer-encoding"] == "chunked"
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "65536 body bytes" in r.json()["detail"]


@pytest.mark.integration
def test_chunked_body_under_the_limit_is_read(client: TestClient) -> None:
    body = iter([b'{"name": "chunky", ', b'"scopes": ["read"]}'])
    r = client.post("/api/v1/tokens", content=body, headers=AUTH)
    assert r.status_code == 201, r.text


@pytest.mark.integration
def test_problem_field_is_the_dotted_location(client: TestClient) -> None:
    cases = [
        ({"json": {"name": "a", "scopes": ["superuser"]}}, "scopes.0"),
        ({"content": b"{not json", "headers": AUTH}, "body"),
        ({"json": {"scopes": ["read"]}}, "name"),
        ({"json": {"name": "a", "scope": ["admin"]}}, "scope"),  # unknown field: forbidden
        ({"content": b"", "headers": AUTH}, "body"),
    ]
    for kwargs, field in cases:
        headers = kwargs.pop("headers", {"Authorization": AUTH["Authorization"]})
        r = client.post("/api/v1/tokens", headers=headers, **kwargs)  # type: ignore[arg-type]
        assert r.status_code == 422, (kwargs, r.text)
        assert r.json()["field"] == field, (kwargs, r.json())
    r = client.get("/api/v1/slos/checkout-availability/status", params={"at": "soon"})
    assert r.json()["field"] == "at"


@pytest.mark.integration
def test_unknown_token_field_is_named(client: TestClient) -> None:
    r = client.post(
        "/api/v1/tokens",
        json={"name": "ci", "scopes": ["read"], "expires": "never"},
        headers=AUTH,
    )
    assert r.status_code == 422 and r.json()["field"] == "expires"
    assert "expires" in r.json()["detail"]
    assert [t["name"] for t in client.get("/api/v1/tokens", headers=AUTH).json()] == [
        "admin (SLOPLANE_ADMIN_TOKEN)"
    ]


def test_sqlite_file_is_created_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    open_database(f"sqlite:///{db}")
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


@pytest.mark.integration
def test_request_metrics_label_the_status_code(client: TestClient) -> None:
    client.get("/api/v1/slos/checkout-availability/status", params={"at": W46_END})
    metrics = client.get("/metrics").text
    # the label is being renamed from status to code: accept either
    pattern = r'http_requests_total\{[^}]*route="/api/v1/slos/\{slo_id\}/status"[^}]*\}'
    samples = re.findall(pattern, metrics)
    assert any(re.search(r"\b(code|status)=\"200\"", s) for s in samples)
