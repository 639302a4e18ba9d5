"""The generated rules load unchanged into other rule engines than Prometheus."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sloplane.artifacts import GenerateSettings
from sloplane.slo.loaders import load_catalog
from sloplane.slo.rules import compile_rules

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[2] / "examples" / "slos"
VMALERT = shutil.which("vmalert")


@pytest.mark.skipif(
    VMALERT is None, reason="vmalert (Debian victoria-metrics) not installed; make test installs it"
)
def test_vmalert_accepts_the_generated_rules(tmp_path: Path) -> None:
    artifacts = compile_rules(load_catalog([EXAMPLES]), GenerateSettings(unit_tests=False))
    for rel, text in artifacts.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    result = subprocess.run(
        [str(VMALERT), "-dryRun", f"-rule={tmp_path}/prometheus/*.rules.yml"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "fatal" not in result.stderr
