"""Shared test configuration: the ``integration`` marker and the binaries it needs.

Tests that need a binary (promtool, prometheus, AlertManager, chromium, vmalert) or a
server (PostgreSQL, Redis, RabbitMQ, any subprocess server) are marked ``integration``, and
so are the few that run ``sloplane generate`` in several fresh interpreters (seconds each;
tests/test_generate.py covers the same write/check/prune logic in-process).
The binaries are demanded only when such a test is selected, so ``pytest -m "not
integration"`` (``make unit``) runs on a machine with nothing but the venv.
"""

from __future__ import annotations

import shutil

import pytest

# What every integration run needs; `make test` installs them (scripts/install-system-deps.sh).
# chromium and vmalert are optional: the tests that use them skip when they are missing.
REQUIRED_BINARIES = ("promtool", "prometheus", "amtool", "prometheus-alertmanager")


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
