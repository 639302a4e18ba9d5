"""An exporter for one kind of server loads that kind's client library only.

A PostgreSQL-only exporter must not pay (in start-up time and memory) for the Redis,
RabbitMQ and HTTP stacks: each backend is imported when a target of its kind is made.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"psycopg", "redis", "pika", "httpx", "fastapi", "sklearn", "numpy", "kubernetes"}

SCRIPT = """
import json, sys
from sloplane.exporters.config import BUILTIN_MODULES
from sloplane.exporters.exporter import make_backend
import sloplane.exporters.server, sloplane.exporters.cli
make_backend(BUILTIN_MODULES[{kind!r}], {address!r})
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & {heavy!r})))
"""


@pytest.mark.parametrize(
    ("kind", "address", "expected"),
    [
        ("postgres", "127.0.0.1:5432", {"psycopg"}),
        ("pgbouncer", "127.0.0.1:6432", {"psycopg"}),
        ("redis", "127.0.0.1:6379", {"redis"}),
        ("rabbitmq", "127.0.0.1:5672", {"pika", "httpx"}),
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
