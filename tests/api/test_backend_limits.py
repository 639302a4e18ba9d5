"""Issue 12, finding 6: a backend answer too large or of too many series is refused with a
503 naming the cause, before it is parsed into Python objects."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.api.conftest import api
from tests.support.garbage_prometheus import Answer, garbage_prometheus

STATUS = "/api/v1/slos/checkout-availability/status"


def _vector(series: int, pad: int = 0) -> bytes:
    now = time.time()
    result = [
        {"metric": {"sloplane_window": "30d", "i": str(i), "pad": "x" * pad}, "value": [now, "0"]}
        for i in range(series)
    ]
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})


def test_too_many_series_is_a_503_naming_the_limit(tmp_path: Path) -> None:
    answer = Answer(body=_vector(20_000).encode())
    with garbage_prometheus(answer) as url, api(url, tmp_path / "db", open_reads=True) as c:
        r = c.get(STATUS)
    assert r.status_code == 503, r.text
    assert "20000 series, more than the limit of 10000" in r.json()["cause"]


def test_an_answer_over_the_byte_limit_is_a_503(tmp_path: Path) -> None:
    answer = Answer(body=_vector(100, pad=20_000).encode())  # ~2 MB, 100 series
    with (
        garbage_prometheus(answer) as url,
        api(url, tmp_path / "db", open_reads=True, max_answer_bytes=2**20) as c,
    ):
        r = c.get(STATUS)
    assert r.status_code == 503, r.text
    assert f"answer larger than {2**20} bytes" in r.json()["cause"]
