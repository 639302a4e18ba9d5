"""A backend that answers garbage is a 503 naming it and what is wrong, never a 500."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

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


@pytest.mark.parametrize(("code", "body", "cause"), GARBAGE)
def test_garbage_is_a_503_problem(code: int, body: object, cause: str, tmp_path: Path) -> None:
    answer = Answer(code, json.dumps(body).encode())
    with (
        garbage_prometheus(answer) as url,
        api(url, tmp_path / "db.sqlite", open_reads=True, cache_ttl=0) as client,
    ):
        for path in (STATUS, "/api/v1/slos", "/api/v1/slos/checkout-availability/history"):
            r = client.get(path)
            assert r.status_code == 503, (path, r.text)
            problem = r.json()
            assert r.headers["content-type"] == "application/problem+json"
            assert problem["backend"] == url and problem["cause"], problem
            # a range query gets a vector where it expects a matrix: caught before the values
            assert "history" in path or cause in problem["cause"], problem
            assert problem["title"] == "PromQL backend unavailable"
    assert answer.paths  # the stand-in was asked


def test_a_refused_query_is_a_502(tmp_path: Path) -> None:
    body = {"status": "error", "errorType": "bad_data", "error": "1:5: parse error"}
    with (
        garbage_prometheus(Answer(400, json.dumps(body).encode())) as url,
        api(url, tmp_path / "db.sqlite", open_reads=True, cache_ttl=0) as client,
    ):
        r = client.get(STATUS)
    assert r.status_code == 502 and "bad_data 1:5: parse error" in r.json()["cause"]
