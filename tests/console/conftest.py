"""A real stack for the console's browser tests: Prometheus on the backfilled history,
``sloplane serve`` as a subprocess, a detector service with a pending approval, and
Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.dataset import tsdb_copy
from tests.console.dataset import console_tsdb
from tests.support.processes import (
    Prometheus,
    free_port,
    prometheus_config,
    run_prometheus,
    stop_process,
    wait_http_ok,
)

HERE = Path(__file__).parent
SLOS = HERE / "slos"
SCREENSHOTS = HERE / "screenshots"
ADMIN = "slp_console-admin-token"
DETECTOR_TOKEN = "detector-s3cret"
# Every page looks at the end of the dataset's second week (the history is in the past).
AT = "2026-11-16T00:00:00Z"
# While checkout's page alert fires (2026-11-10 12:02 .. 13:00).
AT_FIRING = "2026-11-10T12:30:00Z"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def prom() -> Iterator[Prometheus]:
    data = tsdb_copy(console_tsdb())
    try:
        with run_prometheus(prometheus_config(), data_dir=data) as p:
            yield p
    finally:
        shutil.rmtree(data.parent, ignore_errors=True)


@dataclass
class Detector:
    url: str
    service: Any


@pytest.fixture(scope="session")
def detector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Detector]:
    """The detector service's own app with one executed-then-refused history and one
    rollback waiting for approval."""
    import uvicorn

    from sloplane.detect.config import parse_config
    from sloplane.detect.guards import Evidence
    from sloplane.detect.routes import ApiAuth, create_app
    from sloplane.detect.service import Service

    tmp = tmp_path_factory.mktemp("detector")
    marker = tmp / "hook.log"
    hook = {"kind": "command", "argv": ["/bin/sh", "-c", f"echo ran >> {marker}"]}
    cfg = parse_config(
        {
            "prometheus": {"url": "http://127.0.0.1:1"},
            "alertmanager": {"url": None},
            "database": f"sqlite:///{tmp / 'audit.db'}",
            "guards": {"cooldown": "10m", "max_actions_per_hour": 2, "dry_run": False},
            "actions": [
                {"name": "scale-up", "target": "deploy/search", "hook": hook},
                {
                    "name": "rollback",
                    "target": "deploy/checkout",
                    "hook": hook,
                    "require_approval": True,
                },
            ],
        }
    )
    svc = Service(cfg)
    evidence = Evidence(breaches=3, required_breaches=3)
    scale = cfg.action("scale-up")
    assert svc.request_action(scale, trigger="latency burn", evidence=evidence, context={}) == (
        "executed"
    )
    assert svc.request_action(scale, trigger="latency burn", evidence=evidence, context={}) == (
        "refused"
    )
    rollback = cfg.action("rollback")
    assert (
        svc.request_action(rollback, trigger="checkout page burn", evidence=evidence, context={})
        == "pending_approval"
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(svc, ApiAuth(DETECTOR_TOKEN)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(f"{url}/healthz", timeout=30)
    try:
        yield Detector(url, svc)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        svc.stop()


@dataclass
class Server:
    url: str
    read_token: str

    def api(self, path: str, token: str = ADMIN, **params: str) -> Any:
        r = httpx.get(
            f"{self.url}{path}",
            params=params,
            headers={"authorization": f"Bearer {token}"},
            timeout=30,
        )
        r.raise_for_status()
        return r.json()


@pytest.fixture(scope="session")
def server(
    prom: Prometheus, detector: Detector, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """``sloplane serve`` (reads need a token: no --open-reads)."""
    tmp = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {
        **os.environ,
        "SLOPLANE_ADMIN_TOKEN": ADMIN,
        "SLOPLANE_DATABASE_URL": f"sqlite:///{tmp / 'serve.db'}",
        "SLOPLANE_DETECTOR_URL": detector.url,
        "SLOPLANE_DETECTOR_TOKEN": DETECTOR_TOKEN,
    }
    env.pop("SLOPLANE_OPEN_READS", None)
    log = (tmp / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sloplane.cli", "serve", "--slos", str(SLOS),
         "--prometheus-url", prom.url, "--port", str(port), "--report-schedule", "off"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(f"{url}/healthz", timeout=60, proc=proc)
        r = httpx.post(
            f"{url}/api/v1/tokens",
            json={"name": "viewer", "scopes": ["read"]},
            headers={"authorization": f"Bearer {ADMIN}"},
            timeout=30,
        )
        r.raise_for_status()
        yield Server(url, r.json()["token"])
    finally:
        stop_process(proc)
        log.close()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Chromium for this package's tests, closed when the package's last test is done.

    Not session-scoped: while ``sync_playwright()`` is open its asyncio loop stays the
    main thread's *running* loop (it runs in a greenlet, and greenlet switches do not
    unset it), so every later test's ``asyncio.run()`` would fail with "cannot be
    called from a running event loop". Leaving the ``with`` stops the loop and unsets it.
    """
    from playwright.sync_api import sync_playwright

    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(30_000)
    try:
        yield ctx
    finally:
        ctx.close()


def login(page: Any, server: Server, token: str) -> None:
    page.goto(f"{server.url}/ui/login")
    page.fill("#token", token)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{server.url}/ui/")


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
