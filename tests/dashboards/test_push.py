"""``sloplane dashboards push`` against a local stand-in for Grafana's HTTP API (no Grafana here)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sloplane.dashboards import render_dashboards
from sloplane.dashboards.cli import dashboards as dashboards_cli
from sloplane.dashboards.grafana import GrafanaClient
from sloplane.errors import BackendError
from sloplane.slo.catalog import Catalog
from tests.dashboards.test_dashboards import make_slo
from tests.support.processes import free_port

TOKEN = "glsa_test_token"


class FakeGrafana:
    """Answers like Grafana 10: folders and /api/dashboards/db, with failures on demand."""

    def __init__(self) -> None:
        self.folders: dict[str, str] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.fail: list[int] = []  # statuses to answer to the next dashboard posts
        self.calls: list[str] = []


@pytest.fixture
def grafana() -> Iterator[tuple[str, FakeGrafana]]:
    state = FakeGrafana()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._answer(401, {"message": "invalid API key"})
                return False
            return True

        def do_GET(self) -> None:
            state.calls.append(f"GET {self.path}")
            if not self._authorised():
                return
            uid = self.path.rsplit("/", 1)[-1]
            if uid in state.folders:
                self._answer(200, {"uid": uid, "title": state.folders[uid]})
            else:
                self._answer(404, {"message": "folder not found"})

        def do_POST(self) -> None:
            state.calls.append(f"POST {self.path}")
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if not self._authorised():
                return
            if self.path == "/api/folders":
                state.folders[body["uid"]] = body["title"]
                self._answer(200, {"uid": body["uid"]})
                return
            if state.fail:
                status = state.fail.pop(0)
                self._answer(status, {"message": f"failure {status}"})
                return
            assert body["overwrite"] is True and body["folderUid"] in state.folders
            dash = body["dashboard"]
            assert dash["id"] is None and dash["uid"]
            state.dashboards[dash["uid"]] = dash
            self._answer(200, {"status": "success", "uid": dash["uid"], "url": f"/d/{dash['uid']}"})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", state
    server.shutdown()
    server.server_close()


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    for rel, text in render_dashboards(Catalog.of([make_slo()])).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_push_creates_folder_and_posts_every_dashboard(
    grafana: tuple[str, FakeGrafana], generated: Path
) -> None:
    url, state = grafana
    token = generated / "token"
    token.write_text(TOKEN + "\n")
    result = CliRunner().invoke(
        dashboards_cli, ["push", str(generated), "--grafana-url", url, "--token-file", str(token)]
    )
    assert result.exit_code == 0, result.output
    assert state.folders == {"sloplane": "SLOs"}
    assert set(state.dashboards) == {p.stem for p in (generated / "grafana").glob("*.json")}
    again = CliRunner().invoke(
        dashboards_cli, ["push", str(generated), "--grafana-url", url], env={"GRAFANA_TOKEN": TOKEN}
    )
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize(("status", "words"), [(403, "Editor role"), (412, "precondition failed")])
def test_push_explains_permission_and_precondition_errors(
    grafana: tuple[str, FakeGrafana], status: int, words: str
) -> None:
    url, state = grafana
    state.fail = [status]
    with GrafanaClient(url, TOKEN) as client, pytest.raises(BackendError, match=words):
        client.ensure_folder("f", "F")
        client.push({"uid": "x", "title": "x"}, "f", "m")


def test_push_explains_a_bad_token(grafana: tuple[str, FakeGrafana]) -> None:
    url, _ = grafana
    with (
        GrafanaClient(url, "wrong") as client,
        pytest.raises(BackendError, match=r"401.*GRAFANA_TOKEN"),
    ):
        client.ensure_folder("f", "F")


def test_push_retries_transient_failures(grafana: tuple[str, FakeGrafana]) -> None:
    url, state = grafana
    state.fail = [503, 502]
    with GrafanaClient(url, TOKEN, sleep=lambda s: None) as client:
        client.ensure_folder("f", "F")
        assert client.push({"uid": "x", "title": "x"}, "f", "m")["status"] == "success"
    state.fail = [503, 503, 503]
    with (
        GrafanaClient(url, TOKEN, sleep=lambda s: None) as client,
        pytest.raises(BackendError, match="after 3 attempts"),
    ):
        client.push({"uid": "x", "title": "x"}, "f", "m")


def test_missing_token_is_a_clear_error(generated: Path) -> None:
    result = CliRunner().invoke(
        dashboards_cli,
        ["push", str(generated), "--grafana-url", "http://127.0.0.1:9"],
        env={"GRAFANA_TOKEN": ""},
    )
    assert result.exit_code != 0 and "GRAFANA_TOKEN" in str(result.exception)
