"""`sloplane serve`: startup failures are one line and exit 1; options show their env vars;
a real server (uvicorn over TCP) enforces the body limit on chunked requests."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from sloplane.api.cli import serve
from sloplane.cli import main
from tests.support.processes import Prometheus, free_port, stop_process, wait_http_ok

EXAMPLES = str(Path(__file__).resolve().parents[2] / "examples" / "slos")
BASE = ["serve", "--slos", EXAMPLES, "--prometheus-url", "http://127.0.0.1:9", "--open-reads"]


def _serve(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main([*BASE, *args])
    return int(exited.value.code or 0), capsys.readouterr().err


def test_unreachable_database_is_one_line_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://postgres:hunter2@127.0.0.1:{port}/sloplane"
    code, err = _serve(["--database-url", url], capsys)
    assert code == 1
    assert err.startswith(f"error: database postgresql://postgres:***@127.0.0.1:{port}/sloplane: ")
    assert "refused" in err.lower() and err.count("\n") == 1
    assert "hunter2" not in err and "Traceback" not in err


def test_port_in_use_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = _serve(
            ["--database-url", f"sqlite:///{tmp_path / 'db'}", "--port", str(port)], capsys
        )
    assert code == 1
    assert err == f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_a_missing_slos_path_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # click's exists=True printed a usage block and exited 2; validate says it in one line
    missing = tmp_path / "nope"
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--slos", str(missing), "--prometheus-url", "http://127.0.0.1:9"])
    assert exited.value.code == 1
    assert capsys.readouterr().err == f"error: {missing}: no such file or directory\n"
    # reported with the other problems, as validate does
    (tmp_path / "bad.yaml").write_text("apiVersion: sloplane/v1\nkind: SLO\nspec: []\n")
    args = ["--slos", str(missing), "--slos", str(tmp_path / "bad.yaml")]
    with pytest.raises(SystemExit) as exited:
        main(["serve", *args, "--prometheus-url", "http://127.0.0.1:9"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "Usage:" not in err and "Traceback" not in err
    assert err.splitlines() == [
        f"error: {tmp_path / 'bad.yaml'}:3: field 'spec': expected a mapping, got a list",
        f"error: {missing}: no such file or directory",
    ]


def test_help_shows_the_environment_variable_of_every_option() -> None:
    text = CliRunner().invoke(serve, ["--help"], terminal_width=200).output
    for var in ("SLOPLANE_PROMETHEUS_URL", "SLOPLANE_DATABASE_URL", "SLOPLANE_SLACK_WEBHOOK"):
        assert f"env var: {var}" in text
    options = [p for p in serve.params if p.name != "help"]
    assert all(p.envvar for p in options)  # type: ignore[attr-defined]
    assert len(re.findall(r"env var: SLOPLANE_\w+", text)) == len(options)


@pytest.fixture()
def server(prom: Prometheus, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "SLOPLANE_ADMIN_TOKEN": "slp_e2e-admin"}
    env["SLOPLANE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'serve.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sloplane.cli", *BASE[:3], "--prometheus-url", prom.url,
         "--port", str(port), "--report-schedule", "off"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/healthz", timeout=30, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)
        if proc.stderr is not None:
            proc.stderr.close()
    assert (tmp_path / "serve.db").stat().st_mode & 0o077 == 0


@pytest.mark.integration
def test_real_server_rejects_a_chunked_body_over_the_limit(server: str) -> None:
    auth = {"Authorization": "Bearer slp_e2e-admin", "content-type": "application/json"}

    def body() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 8192
        yield b'"}'

    r = httpx.post(f"{server}/api/v1/tokens", content=body(), headers=auth, timeout=10)
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    ok = httpx.post(
        f"{server}/api/v1/tokens", content=iter([b'{"name": "ok"}']), headers=auth, timeout=10
    )
    assert ok.status_code == 201, ok.text
