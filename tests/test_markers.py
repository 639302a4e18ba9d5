"""The ``integration`` guard: a unit test may not start a binary or server subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import UnmarkedIntegration, integration_binary


@pytest.mark.parametrize(
    ("args", "binary"),
    [
        (["promtool", "check", "rules"], "promtool"),
        (["/usr/bin/prometheus-alertmanager", "--config.file=x"], "prometheus-alertmanager"),
        ([Path("/usr/bin/amtool"), "check-config"], "amtool"),
        ("chromium --headless", "chromium"),
        (b"/usr/bin/vmalert", "vmalert"),
        (["pg_ctlcluster", "15", "main", "start"], "pg_ctlcluster"),
        ([sys.executable, "-m", "sloplane.cli"], None),
        (["git", "status"], None),
        ([], None),
    ],
)
def test_integration_binaries_are_recognised(args: object, binary: str | None) -> None:
    assert integration_binary(args) == binary


def test_a_unit_test_starting_promtool_fails_naming_the_marker() -> None:
    with pytest.raises(UnmarkedIntegration, match=r"test_markers\.py::.* starts promtool but"):
        subprocess.run(["promtool", "--version"], capture_output=True, check=False)


def test_other_subprocesses_run() -> None:
    done = subprocess.run([sys.executable, "-c", "print('ok')"], capture_output=True, text=True)
    assert done.stdout == "ok\n"


@pytest.mark.integration
def test_an_integration_test_may_start_promtool() -> None:
    done = subprocess.run(["promtool", "--version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "promtool" in done.stdout + done.stderr
