"""Shared test configuration: the ``integration`` marker and the binaries it needs.

Tests that need a binary (promtool, prometheus, AlertManager, chromium, vmalert) or a
server (PostgreSQL, Redis, RabbitMQ, any subprocess server) are marked ``integration``, and
so are the few that run ``sloplane generate`` in several fresh interpreters (seconds each;
tests/test_generate.py covers the same write/check/prune logic in-process).
The binaries are demanded only when such a test is selected, so ``pytest -m "not
integration"`` (``make unit``) runs on a machine with nothing but the venv. A test without
the marker that starts one of these binaries fails, naming the marker it lacks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# No timing assertions in tests: Hypothesis's per-example deadline and its "too slow"
# health check are timing assertions, and fail at random on a loaded machine.
settings.register_profile("sloplane", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("sloplane")

# What every integration run needs; `make test` installs them (scripts/install-system-deps.sh).
# chromium and vmalert are optional: the tests that use them skip when they are missing.
REQUIRED_BINARIES = ("promtool", "prometheus", "amtool", "prometheus-alertmanager")
# Binaries and servers only an integration test may start.
INTEGRATION_BINARIES = frozenset(
    {
        *REQUIRED_BINARIES,
        "alertmanager",
        "chromium",
        "chromium-browser",
        "vmalert",
        "pg_ctlcluster",
        "postgres",
        "redis-server",
        "rabbitmq-server",
        "rabbitmq-plugins",
    }
)


def missing_binaries() -> list[str]:
    """The required binaries that are not on PATH."""
    return [binary for binary in REQUIRED_BINARIES if shutil.which(binary) is None]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Stop before running anything when integration tests are selected without their binaries.

    One clear line beats dozens of tests failing on a missing promtool; a unit-only run
    (``-m "not integration"``) never asks for them.
    """
    if not any(item.get_closest_marker("integration") for item in session.items):
        return
    missing = missing_binaries()
    if missing:
        pytest.exit(
            f"{', '.join(missing)} not installed, and integration tests are selected: run "
            "`make test` (installs Debian's prometheus and prometheus-alertmanager) or "
            "select unit tests only with `make unit` / pytest -m 'not integration'",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


class UnmarkedIntegration(Exception):
    """A test without the ``integration`` marker started a binary that needs it."""


_unit_test: list[str] = []  # the node id of the running unit test, if one is running
_real_popen_init = subprocess.Popen.__init__


def integration_binary(args: Any) -> str | None:
    """The integration-only binary that ``args`` (as given to Popen) would run, if any."""
    argv = [args] if isinstance(args, str | bytes | os.PathLike) else list(args)
    if not argv:
        return None
    first = os.fsdecode(argv[0])
    name = os.path.basename(first.split()[0] if isinstance(args, str) else first)
    return name if name in INTEGRATION_BINARIES else None


def _guarded_popen_init(self: subprocess.Popen[Any], args: Any, *rest: Any, **kw: Any) -> None:
    binary = integration_binary(args)
    if _unit_test and binary:
        raise UnmarkedIntegration(
            f"{_unit_test[0]} starts {binary} but is not marked integration: add "
            "@pytest.mark.integration (or a module-level pytestmark), so `make unit` stays fast "
            "and runs without binaries"
        )
    _real_popen_init(self, args, *rest, **kw)


def pytest_configure(config: pytest.Config) -> None:
    subprocess.Popen.__init__ = _guarded_popen_init  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    subprocess.Popen.__init__ = _real_popen_init  # type: ignore[method-assign]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """Setup, call and teardown of a test without the marker run under the guard."""
    unit = item.get_closest_marker("integration") is None
    if unit:
        _unit_test.append(item.nodeid)
    try:
        return (yield)
    finally:
        if unit:
            _unit_test.clear()
