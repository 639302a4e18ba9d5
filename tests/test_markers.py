"""The ``integration`` guard: a unit test may not start a binary or server subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_SERVERS, UnmarkedIntegration, integration_binary, xdist_scope


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


def test_xdist_runs_a_file_whole_and_the_shared_server_files_together(
    pytestconfig: pytest.Config,
) -> None:
    root = pytestconfig.rootpath
    shared = "tests/exporters/test_postgres.py::test_created_rows_temp_files_and_sizes_show_up"
    assert xdist_scope(root, shared) == SHARED_SERVERS
    assert xdist_scope(root, "tests/exporters/test_redis.py::test_x[a::b]") == SHARED_SERVERS
    plain = "tests/exporters/test_topology_redis.py::test_sentinel_without_quorum_says_so"
    assert xdist_scope(root, plain) == "tests/exporters/test_topology_redis.py"
    assert xdist_scope(root, "tests/test_yamldoc.py::test_a[x]") == "tests/test_yamldoc.py"
