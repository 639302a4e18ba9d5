"""A backend that answers garbage is a 503 naming it and what is wrong, never a 500."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import api
from tests.support.garbage_prometheus import Answer, garbage_prometheus

STATUS = "/api/v1/slos/checkout-availability/status"
NOW = time.time()

GARBAGE = [
    pytest.param(200, [1, 2, 3], "not a response object but a list", id="list"),
    pytest.param(200, None, "not a response object but null", id="null"),
    pytest.param(200, {"status": "success"}, "success without data", id="no data"),
    pytest.param(
        200,
        {
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {}, "value": [NOW, "abc"]}]},
        },
        "not a number: 'abc'",
        id="abc",
    ),
    pytest.param(
        200,
        {
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [{"metric": {}, "value": [NOW + 10 * 365 * 86400, "1"]}],
            },
        },
        "after the time asked for",
        id="far future",
    ),
    pytest.param(200, "<html>", "not a response object but a string", id="string"),
    pytest.param(502, {"oops": 1}, "status", id="bad gateway, no status"),
]


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Answer, str, TestClient]]:
    """One stand-in and one API for the module (no caching): tests change the answer."""
    answer = Answer()
    db = tmp_path_factory.mktemp("garbage") / "db.sqlite"
    with garbage_prometheus(answer) as url, api(url, db, open_reads=True, cache_ttl=0) as client:
        yield answer, url, client


@pytest.mark.parametrize(("code", "body", "cause"), GARBAGE)
def test_garbage_is_a_503_problem(
    backend: tuple[Answer, str, TestClient], code: int, body: object, cause: str
) -> None:
    answer, url, client = backend
    answer.status, answer.body = code, json.dumps(body).encode()
    answer.paths.clear()
    for path in (
        STATUS,
        "/api/v1/slos?status=breached",
        "/api/v1/slos/checkout-availability/history",
        "/api/v1/slos/checkout-availability/alerts",
    ):
        r = client.get(path)
        assert r.status_code == 503, (path, r.text)
        problem = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        assert problem["backend"] == url and problem["cause"], problem
        # a range query gets a vector where it expects a matrix: caught before the values
        ranged = path.endswith(("/history", "/alerts"))
        assert ranged or cause in problem["cause"], problem
        assert problem["title"] == "PromQL backend unavailable"
    assert answer.paths  # the stand-in was asked
    # the inventory still answers: every SLO listed, its status unknown with the same cause
    listed = client.get("/api/v1/slos")
    assert listed.status_code == 200, listed.text
    for slo in listed.json():
        assert slo["status"] == "unknown" and url in slo["status_cause"], slo
        assert cause in slo["status_cause"], slo


def test_a_refused_query_is_a_502(backend: tuple[Answer, str, TestClient]) -> None:
    answer, _, client = backend
    body = {"status": "error", "errorType": "bad_data", "error": "1:5: parse error"}
    answer.status, answer.body = 400, json.dumps(body).encode()
    r = client.get(STATUS)
    assert r.status_code == 502 and "bad_data 1:5: parse error" in r.json()["cause"]
