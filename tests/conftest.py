"""Shared fixtures: real Prometheus and AlertManager binaries must be installed (make test does it)."""

from __future__ import annotations

import shutil

import pytest


def pytest_configure(config: pytest.Config) -> None:
    for binary in ("promtool", "prometheus", "amtool", "prometheus-alertmanager"):
        if shutil.which(binary) is None:
            raise pytest.UsageError(
                f"{binary} is not installed: run `make test`, which installs Debian's "
                "prometheus and prometheus-alertmanager packages"
            )
