"""Shared test configuration: the ``integration`` marker and the binaries it needs.

Tests that need a binary (promtool, prometheus, AlertManager, chromium, vmalert) or a
server (PostgreSQL, Redis, RabbitMQ, any subprocess server) are marked ``integration``, and
so are the few that run ``sloplane generate`` in several fresh interpreters (seconds each;
tests/test_generate.py covers the same write/check/prune logic in-process).
The binaries are demanded only when such a test is selected, so ``pytest -m "not
integration"`` (``make unit``) runs on a machine with nothing but the venv. A test without
the marker that starts one of these binaries fails, naming the marker it lacks.

Under pytest-xdist (``make test`` runs ``-n 2``) each test file runs whole on one
worker, and the files that use the machine's shared servers share one worker
(:func:`pytest_xdist_make_scheduler`).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from _pytest.mark.expression import Expression  # pytest's own -m parser
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


def _exit_missing(missing: list[str]) -> None:
    pytest.exit(
        f"{', '.join(missing)} not installed, and integration tests are selected: run "
        "`make test` (installs Debian's prometheus and prometheus-alertmanager) or "
        "select unit tests only with `make unit` / pytest -m 'not integration'",
        returncode=pytest.ExitCode.USAGE_ERROR,
    )


def _xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _xdist_controller(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and not _xdist_worker(config)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Stop before running anything when integration tests are selected without their binaries.

    One clear line beats dozens of tests failing on a missing promtool; a unit-only run
    (``-m "not integration"``) never asks for them. Under pytest-xdist the controller
    checks instead (:func:`pytest_sessionstart`): a worker that exits is a crash report.
    """
    if _xdist_worker(session.config):
        return
    if not any(item.get_closest_marker("integration") for item in session.items):
        return
    missing = missing_binaries()
    if missing:
        _exit_missing(missing)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Under pytest-xdist, check the binaries before the workers start.

    The controller collects nothing, so it goes by ``-m``: unless the expression rules
    out the ``integration`` marker, integration tests may be selected.
    """
    config = session.config
    if not _xdist_controller(config):
        return
    markexpr = config.option.markexpr
    if markexpr and not Expression.compile(markexpr).evaluate(
        lambda name, **_: name == "integration"
    ):
        return
    missing = missing_binaries()
    if missing:
        _exit_missing(missing)


#: fixtures of tests/exporters/conftest.py that hand out the machine's shared servers
SHARED_SERVER_FIXTURES = (
    "postgres_server",
    "redis_server",
    "rabbitmq_server",
    "rabbitmq_management",
)
SHARED_SERVERS = "shared-servers"


@functools.cache
def uses_shared_servers(path: Path) -> bool:
    """Whether the test file names one of the shared-server fixtures.

    The controller schedules by node id and has no items to ask for their fixtures, so it
    reads the file: a test that takes such a fixture names it there. (A conftest fixture
    built on them and used elsewhere would need its users' files to name it too.)
    """
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return False
    return any(name in text for name in SHARED_SERVER_FIXTURES)


def xdist_scope(root: Path, nodeid: str) -> str:
    """The scope a test is scheduled with: its file, or :data:`SHARED_SERVERS`."""
    file = nodeid.split("::", 1)[0]
    return SHARED_SERVERS if uses_shared_servers(root / file) else file


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # tryfirst: before xdist's own
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist, send each test file whole to one worker; the shared-server files to one.

    A module's expensive fixture (a PostgreSQL, Redis or RabbitMQ topology, a Prometheus)
    is then built once, and the files that count connections and flush databases on the
    machine's shared PostgreSQL (5432), Redis (6379) and RabbitMQ (5672) run one after
    another. (``--dist loadgroup`` cannot do this with pytest 9: xdist 3.8 renames node
    ids through an attribute pytest 9 no longer reads.) ``--dist each`` is left alone.
    """
    if config.getvalue("dist") == "each":
        return None
    from xdist.scheduler import LoadScopeScheduling

    root = config.rootpath

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(root, nodeid)

    return FileScheduling(config, log)


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
