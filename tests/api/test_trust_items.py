"""Issue 13's small trust items in the API: the list has statuses, the future is refused,
times come as RFC 3339 next to Unix seconds, and serve says where it listens."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from sloplane.times import rfc3339
from tests.api.conftest import ADMIN
from tests.api.dataset import W46_END
from tests.support.processes import Prometheus, stop_process

pytestmark = pytest.mark.integration  # a real Prometheus behind the API
CHECKOUT = "/api/v1/slos/checkout-availability"


def test_the_list_fills_every_status(client: TestClient) -> None:
    listed = client.get("/api/v1/slos", params={"at": W46_END}).json()
    assert [s["status"] for s in listed] == [
        client.get(f"/api/v1/slos/{s['id']}/status", params={"at": W46_END}).json()["status"]
        for s in listed
    ]
    assert all(s["status"] is not None for s in listed)
    assert {s["status"] for s in client.get("/api/v1/slos").json()} <= {
        "ok",
        "at_risk",
        "breached",
        "no_data",
    }


@pytest.mark.parametrize("path", [f"{CHECKOUT}/status", "/api/v1/slos", "/api/v1/teams"])
def test_a_time_in_the_future_is_422(client: TestClient, path: str) -> None:
    r = client.get(path, params={"at": time.time() + 3600})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "at" and "future" in r.json()["detail"]
    assert client.get(path, params={"at": time.time() - 1}).status_code == 200


def test_times_are_rfc3339_next_to_unix_seconds(client: TestClient) -> None:
    status = client.get(f"{CHECKOUT}/status", params={"at": W46_END}).json()
    assert status["evaluated_at_rfc3339"] == "2026-11-16T00:00:00Z"
    assert status["evaluated_at"] == W46_END
    params = {"start": W46_END - 3600, "end": W46_END, "step": "30m"}
    history = client.get(f"{CHECKOUT}/history", params=params).json()
    assert (history["start_rfc3339"], history["end_rfc3339"]) == (
        "2026-11-15T23:00:00Z",
        "2026-11-16T00:00:00Z",
    )
    assert [p["t_rfc3339"] for p in history["points"]] == [
        rfc3339(p["t"]) for p in history["points"]
    ]
    admin = {"Authorization": f"Bearer {ADMIN}"}
    tokens = client.get("/api/v1/tokens", headers=admin).json()
    assert all(t["created_at_rfc3339"] == rfc3339(t["created_at"]) for t in tokens)


def test_serve_prints_the_address_it_listens_on(prom: Prometheus, tmp_path: Path) -> None:
    env = {**os.environ, "SLOPLANE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
    examples = str(Path(__file__).resolve().parents[2] / "examples" / "slos")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sloplane.cli", "serve", "--slos", examples,
         "--prometheus-url", prom.url, "--port", "0", "--report-schedule", "off",
         "--open-reads"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # printed before uvicorn starts
        assert line.startswith("sloplane: SLO API listening on http://127.0.0.1:"), line
        url = line.split()[5]
        assert int(url.rsplit(":", 1)[1]) > 0
        deadline = time.monotonic() + 30
        while True:
            try:
                assert httpx.get(f"{url}/healthz", timeout=2).status_code == 200
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
    finally:
        stop_process(proc)
        if proc.stderr is not None:
            proc.stderr.close()
