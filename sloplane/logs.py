"""Logging for the long-running commands (``exporter``, ``detect serve``): one format, one
set of levels, and the libraries that talk too much kept quiet unless debugging."""

from __future__ import annotations

import logging
from collections.abc import Iterable

LEVELS = ("debug", "info", "warning", "error")
"""The ``--log-level`` choices."""

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: str, quiet: Iterable[str] = (), silent: Iterable[str] = ()) -> None:
    """Log at ``level`` (one of :data:`LEVELS`) to stderr.

    ``quiet`` loggers (HTTP clients, schedulers) log every request or job at INFO: below
    ``debug`` they show warnings and worse only. ``silent`` loggers say what our own
    metrics and log lines already say, with tracebacks (pika on every refused
    connection): below ``debug`` they show nothing short of CRITICAL.
    """
    numeric = logging.getLevelNamesMapping()[level.upper()]
    logging.basicConfig(level=numeric, format=FORMAT)
    debugging = level == "debug"
    for name in quiet:
        logging.getLogger(name).setLevel(numeric if debugging else max(numeric, logging.WARNING))
    for name in silent:
        logging.getLogger(name).setLevel(numeric if debugging else logging.CRITICAL)
