"""Options shared by the service commands (``serve``, ``report``): SLO files, the PromQL
backend and the database, each also read from a ``SLOPLANE_*`` environment variable; and
the ``--log-level`` of the long-running ones (``exporter``, ``detect serve``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.decorators import FC

from sloplane import logs
from sloplane.errors import SloplaneError
from sloplane.slo.catalog import Catalog


def load(paths: tuple[str, ...]) -> Catalog:
    try:
        from sloplane.slo.loaders import load_catalog
    except ImportError as exc:  # pragma: no cover - depends on the state of the tree
        raise SloplaneError(f"SLO loaders are not available: {exc}") from None
    return load_catalog([Path(p) for p in paths])  # type: ignore[no-any-return,unused-ignore]


def env_option(*decls: str, envvar: str, **kw: Any) -> Callable[[FC], FC]:
    """An option that also reads ``envvar`` and says so in ``--help``: settings and secrets
    (webhooks, database passwords) can come from the environment instead of argv."""
    return click.option(*decls, envvar=envvar, show_envvar=True, **kw)


# No exists=True: the loader reports a missing path as one problem line (exit 1) next to
# every other problem, as `sloplane validate` does; click would print a usage block, exit 2.
slos_option = env_option(
    "--slos",
    "slos",
    envvar="SLOPLANE_SLOS",
    multiple=True,
    required=True,
    type=click.Path(),
    help="SLO definition files or directories (the same inputs as `sloplane generate`).",
)
prom_option = env_option(
    "--prometheus-url",
    envvar="SLOPLANE_PROMETHEUS_URL",
    required=True,
    help="Any Prometheus-compatible query API (Prometheus, Thanos, Mimir, VictoriaMetrics).",
)
db_option = env_option(
    "--database-url",
    envvar="SLOPLANE_DATABASE_URL",
    default="sqlite:///sloplane.db",
    show_default=True,
    help="SQLAlchemy URL; e.g. postgresql://user@host/db.",
)


def file_option(*decls: str, **kw: Any) -> Callable[[FC], FC]:
    """An option naming one file (a directory is refused by click), passed on as a Path.

    No exists=True: each command says itself what is wrong with the file, naming it.
    """
    return click.option(*decls, type=click.Path(dir_okay=False, path_type=Path), **kw)


def log_level_option(help: str | None = None) -> Callable[[FC], FC]:
    """``--log-level`` of a long-running command; :func:`sloplane.logs.configure` applies it."""
    return click.option(
        "--log-level", type=click.Choice(logs.LEVELS), default="info", show_default=True, help=help
    )
