"""Run real Prometheus and AlertManager on free loopback ports for tests and benchmarks.

Each process gets its own temporary directory, is started with a bounded wait for
readiness, and is always stopped (terminate, then kill) when the context exits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from tests.support.servers import wait_for

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http_ok(
    url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``url`` until it answers 200, the process dies, or ``timeout`` passes."""
    wait_for(
        lambda: httpx.get(url, timeout=2).status_code == 200,
        timeout,
        url,
        proc,
        errors=(httpx.HTTPError,),
    )


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


@dataclass
class Prometheus:
    """A running Prometheus; ``url`` is its base URL."""

    url: str
    port: int
    data_dir: Path
    config_file: Path
    proc: subprocess.Popen[bytes]
    log_file: Path

    def query(self, expr: str, time_: float | None = None) -> list[dict]:
        params: dict[str, str | float] = {"query": expr}
        if time_ is not None:
            params["time"] = time_
        resp = httpx.get(f"{self.url}/api/v1/query", params=params, timeout=30)
        resp.raise_for_status()
        return list(resp.json()["data"]["result"])

    def reload(self) -> None:
        httpx.post(f"{self.url}/-/reload", timeout=30).raise_for_status()

    def stop(self) -> None:
        stop_process(self.proc)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")


def prometheus_config(
    scrape_targets: Sequence[str] = (),
    rule_files: Sequence[str | Path] = (),
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    alertmanager_urls: Sequence[str] = (),
    job: str = "test",
) -> dict:
    """A minimal prometheus.yml as a dict; targets are ``host:port`` strings."""
    config: dict = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval},
        "rule_files": [str(p) for p in rule_files],
    }
    if scrape_targets:
        config["scrape_configs"] = [
            {"job_name": job, "static_configs": [{"targets": list(scrape_targets)}]}
        ]
    if alertmanager_urls:
        config["alerting"] = {
            "alertmanagers": [
                {
                    "static_configs": [
                        {"targets": [u.split("://", 1)[-1] for u in alertmanager_urls]}
                    ]
                }
            ]
        }
    return config


@contextlib.contextmanager
def run_prometheus(
    config: dict | None = None,
    data_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    retention: str = "400d",
) -> Iterator[Prometheus]:
    """Start Prometheus with ``config`` (see :func:`prometheus_config`); stop it on exit.

    Pass ``data_dir`` to start on a TSDB prepared beforehand, e.g. with
    ``promtool tsdb create-blocks-from openmetrics``.
    """
    tmp = Path(tempfile.mkdtemp(prefix="sloplane-prom-"))
    data = data_dir or tmp / "data"
    data.mkdir(parents=True, exist_ok=True)
    config_file = tmp / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config or prometheus_config()))
    port = free_port()
    log_file = tmp / "prometheus.log"
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={data}",
                f"--storage.tsdb.retention.time={retention}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
                "--web.enable-admin-api",
                *extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "GOMAXPROCS": "1"},
        )
    prom = Prometheus(f"http://127.0.0.1:{port}", port, data, config_file, proc, log_file)
    try:
        wait_http_ok(f"{prom.url}/-/ready", proc=proc)
        yield prom
    finally:
        stop_process(proc)
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class Alertmanager:
    url: str
    port: int
    config_file: Path
    proc: subprocess.Popen[bytes]
    log_file: Path

    def alerts(self) -> list[dict]:
        resp = httpx.get(f"{self.url}/api/v2/alerts", timeout=10)
        resp.raise_for_status()
        return list(resp.json())

    def stop(self) -> None:
        stop_process(self.proc)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")


@contextlib.contextmanager
def run_alertmanager(config_text: str, extra_args: Sequence[str] = ()) -> Iterator[Alertmanager]:
    """Start AlertManager with the given configuration text; stop it on exit.

    Clustering is disabled (``--cluster.listen-address=``) so tests never gossip.
    """
    tmp = Path(tempfile.mkdtemp(prefix="sloplane-am-"))
    config_file = tmp / "alertmanager.yml"
    config_file.write_text(config_text)
    port = free_port()
    log_file = tmp / "alertmanager.log"
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={config_file}",
                f"--storage.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                *extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
    am = Alertmanager(f"http://127.0.0.1:{port}", port, config_file, proc, log_file)
    try:
        wait_http_ok(f"{am.url}/-/ready", proc=proc)
        yield am
    finally:
        stop_process(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def promtool(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run promtool and return the completed process (never raises on a non-zero exit)."""
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False
    )


def amtool(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AMTOOL, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def backfill_openmetrics(openmetrics_text: str, data_dir: Path, block_duration: str = "") -> None:
    """Write OpenMetrics text into TSDB blocks under ``data_dir`` (promtool tsdb create-blocks-from)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    src = data_dir.parent / f"{data_dir.name}-input.om"
    src.write_text(
        openmetrics_text if openmetrics_text.endswith("# EOF\n") else openmetrics_text + "# EOF\n"
    )
    args = ["tsdb", "create-blocks-from", "openmetrics", str(src), str(data_dir)]
    if block_duration:
        args.insert(3, f"--max-block-duration={block_duration}")
    result = promtool(*args, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"promtool backfill failed: {result.stderr or result.stdout}")


def outward_ip() -> str | None:
    """An IPv4 address of this machine that is not loopback, or None when it has none.

    ``/probe`` refuses loopback targets by default; tests of what it does for an
    ordinary address bind their stand-ins here. Nothing is sent: connecting a UDP
    socket only picks the source address the kernel would route with.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: a route lookup, never a packet
        except OSError:
            return None
        ip = str(sock.getsockname()[0])
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip
