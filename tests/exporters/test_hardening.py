"""Issue 12, exporter part: a hostile neighbour cannot stall the exporter or make targets look down.

Against real PostgreSQL and Redis, and the byte-a-second stand-in of
``tests/support/slow_http.py`` for the one fault no real server shows.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.exporters.conftest import parse, value
from tests.support.slow_http import slow_http

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _write(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def test_once_against_a_byte_a_second_target_exits(tmp_path: Path) -> None:
    with slow_http("body", interval=0.1) as slow:
        config = _write(
            tmp_path / "exporters.yaml",
            {
                "modules": {"web": {"kind": "http", "timeout_seconds": 1}},
                "targets": [{"name": "slow", "module": "web", "address": slow.url + "/"}],
            },
        )
        proc = subprocess.run(
            [sys.executable, "-m", "sloplane.cli", "exporter", "--config", str(config), "--once"],
            capture_output=True,
            text=True,
            timeout=60,  # a bound on the test: without a deadline it takes hours
            cwd=ROOT,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    samples = parse(proc.stdout)
    assert value(samples, "http_probe_up", target="slow") == 0
    assert value(samples, "http_probe_scrape_errors_total", target="slow", reason="timeout") == 1
