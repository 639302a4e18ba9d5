"""What the exporter's processes load, because that is what they cost in memory.

A PostgreSQL-only exporter must not pay (in start-up time and memory) for the Redis,
RabbitMQ and HTTP stacks: each backend is imported when a target of its kind is made.
And the serving process (:mod:`sloplane.exporters.serve`, exec'd once the config is
valid) never loads the config schema (pydantic), the YAML reader, the command line
(click) or prometheus_client: together they were 20 MiB of a process measured against
Go exporters of 16-18 MiB (docs/exporters.md, "Memory").
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.processes import free_port, stop_process, wait_http_ok

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"psycopg", "redis", "pika", "httpx", "fastapi", "sklearn", "numpy", "kubernetes"}
#: Never in the serving process, whatever its targets.
NOT_SERVING = {"pydantic", "pydantic_core", "yaml", "click", "prometheus_client", "opentelemetry"}

SCRIPT = """
import json, sys
from sloplane.exporters.config import BUILTIN_MODULES
from sloplane.exporters.exporter import make_backend
import sloplane.exporters.server, sloplane.exporters.cli
make_backend(BUILTIN_MODULES[{kind!r}], {address!r})
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & {heavy!r})))
"""

# What the exec'd serving image runs (see serve.hand_off): no site, the settings unpickled.
SERVING = """
import json, pickle, sys
sys.path[:0] = {path!r}
from sloplane.exporters.serve import serve
from sloplane.exporters.exporter import Exporter
config = pickle.loads({settings!r})
Exporter(config).close()
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})))
"""


@pytest.mark.parametrize(
    ("kind", "address", "expected"),
    [
        ("postgres", "127.0.0.1:5432", {"psycopg"}),
        ("pgbouncer", "127.0.0.1:6432", {"psycopg"}),
        ("redis", "127.0.0.1:6379", set()),  # sloplane.exporters.resp, no client library
        ("rabbitmq", "127.0.0.1:5672", {"pika"}),
    ],
)
def test_a_kind_loads_only_its_own_client(kind: str, address: str, expected: set[str]) -> None:
    code = SCRIPT.format(kind=kind, address=address, heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout.strip().splitlines()[-1])) == expected


@pytest.mark.parametrize("kind", ["postgres", "pgbouncer", "redis", "rabbitmq", "http"])
def test_the_serving_process_loads_no_schema_cli_or_client_library(kind: str) -> None:
    import pickle

    from sloplane.exporters.config import parse_config

    address = "http://127.0.0.1:9/" if kind == "http" else "127.0.0.1:9"
    config = parse_config({"targets": [{"name": "t", "module": kind, "address": address}]})
    path = [str(ROOT), *(p for p in sys.path if p)]
    code = SERVING.format(path=path, settings=pickle.dumps(config))
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert not loaded & NOT_SERVING


@pytest.mark.integration
def test_sloplane_exporter_serves_from_the_lean_image(tmp_path: Path) -> None:
    """End to end: the CLI validates, execs (same PID) and the served process maps no
    pydantic_core nor PyYAML's C extension, and answers /metrics."""
    port = free_port()
    config = tmp_path / "exporters.yaml"
    config.write_text(
        yaml.safe_dump({"targets": [{"name": "gone", "module": "redis", "address": "127.0.0.1:9"}]})
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sloplane.cli",
            "exporter",
            "--config",
            str(config),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/-/healthy", timeout=60, proc=proc)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
        assert 'redis_up{target="gone"} 0.0' in text
        assert "process_resident_memory_bytes" in text
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        assert "_pydantic_core" not in maps and "_yaml" not in maps
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1] == b"-S"  # the exec'd image, under the PID the caller started
    finally:
        stop_process(proc)
