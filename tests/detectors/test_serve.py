"""``detect serve`` start-up: API tokens, a listener that cannot bind, quiet library logs."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sloplane.cli import main
from sloplane.detect.config import parse_config
from sloplane.detect.service import QUIET_LOGGERS, Service, configure_logging
from sloplane.errors import SloplaneError
from tests.support.processes import free_port


def _raw(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "prometheus": {"url": "http://127.0.0.1:1"},
        "alertmanager": {"url": None},
        "database": f"sqlite:///{tmp_path / 'detect.db'}",
        "listen": f"127.0.0.1:{free_port()}",
        "actions": [{"name": "scale", "hook": {"kind": "keda"}, "scaling": {"min_replicas": 2}}],
        **extra,
    }


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[str, str]]:
    (tmp_path / "token").write_text("s3cret\n")
    svc = Service(parse_config(_raw(tmp_path, api={"token_file": str(tmp_path / "token")})))
    svc.start(serve_http=True)
    try:
        yield f"http://{svc.config.listen}", "s3cret"
    finally:
        svc.stop()


def test_posts_need_the_bearer_token_and_reads_stay_open(running: tuple[str, str]) -> None:
    base, token = running
    deploy = {"target": "checkout", "time": 1_700_000_000}
    with httpx.Client(base_url=base, timeout=5) as c:
        assert c.post("/v1/detectors/deploys", json=deploy).status_code == 401
        bad = {"Authorization": "Bearer nope"}
        assert c.post("/v1/detectors/deploys", json=deploy, headers=bad).status_code == 401
        assert c.post("/v1/detectors/approvals/1/approve").status_code == 401
        assert c.post("/v1/detectors/approvals/1/reject").status_code == 401
        good = {"Authorization": f"Bearer {token}"}
        assert c.post("/v1/detectors/deploys", json=deploy, headers=good).status_code == 200
        assert c.post("/v1/detectors/approvals/1/approve", headers=good).status_code == 404
        assert c.get("/v1/detectors/decisions").status_code == 200
        assert c.get("/v1/detectors/approvals").status_code == 200
        assert c.get("/v1/detectors/keda/scale").json()["desired_replicas"] == 2
        assert c.get("/healthz").status_code == 200


def test_no_token_refuses_to_start_unless_read_only_or_explicitly_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLOPLANE_DETECT_TOKEN", raising=False)
    svc = Service(parse_config(_raw(tmp_path)))
    with pytest.raises(SloplaneError, match="token"):
        svc.start(serve_http=True)
    assert svc._scheduler is None
    svc.stop()
    for api in ({"read_only": True}, {"allow_unauthenticated": True}):
        svc = Service(parse_config(_raw(tmp_path, api=api)))
        svc.start(serve_http=True)
        r = httpx.post(f"http://{svc.config.listen}/v1/detectors/approvals/1/approve", timeout=5)
        svc.stop()
        assert r.status_code == (403 if "read_only" in api else 404)
    monkeypatch.setenv("SLOPLANE_DETECT_TOKEN", "from-env")
    svc = Service(parse_config(_raw(tmp_path)))
    svc.start(serve_http=True)
    r = httpx.post(
        f"http://{svc.config.listen}/v1/detectors/approvals/1/approve",
        headers={"Authorization": "Bearer from-env"},
        timeout=5,
    )
    svc.stop()
    assert r.status_code == 404


def test_serve_exits_with_one_line_when_the_port_is_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging.getLogger(), "level", logging.getLogger().level)
    for name in QUIET_LOGGERS:
        monkeypatch.setattr(logging.getLogger(name), "level", logging.getLogger(name).level)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        cfg = tmp_path / "detect.yaml"
        cfg.write_text(
            f"listen: 127.0.0.1:{port}\ndatabase: sqlite:///{tmp_path / 'd.db'}\n"
            "alertmanager: {url: null}\napi: {read_only: true}\n"
        )
        with pytest.raises(SystemExit) as info:
            main(["detect", "serve", "--config", str(cfg)])
    assert info.value.code == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {cfg}: cannot listen on 127.0.0.1:{port}: ")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "database: sqlite:////nonexistent/dir/x.db\napi: {read_only: true}\n",
            "database sqlite:////nonexistent/dir/x.db: unable to open database file",
        ),
        (
            "database: postgresql://nobody:secret@127.0.0.1:1/x\napi: {read_only: true}\n",
            "database postgresql+psycopg://nobody:***@127.0.0.1:1/x: connection failed",
        ),
        (
            "database: sqlite:///{tmp}/d.db\n",
            "the detector API's POST endpoints (approvals, deploys) need a bearer token",
        ),
    ],
)
def test_start_up_failures_are_one_line_naming_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, error: str
) -> None:
    cfg = tmp_path / "detect.yaml"
    cfg.write_text("alertmanager: {url: null}\n" + text.replace("{tmp}", str(tmp_path)))
    with pytest.raises(SystemExit) as info:
        main(["detect", "serve", "--config", str(cfg)])
    assert info.value.code == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {cfg}: {error}"), line
    assert "secret" not in line


@pytest.mark.parametrize(("level", "quiet"), [("info", logging.WARNING), ("debug", logging.DEBUG)])
def test_library_chatter_is_hidden_unless_debugging(
    level: str, quiet: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in QUIET_LOGGERS:
        monkeypatch.setattr(logging.getLogger(name), "level", logging.getLogger(name).level)
    configure_logging(level)
    assert all(logging.getLogger(n).level == quiet for n in ("apscheduler", "httpx"))
