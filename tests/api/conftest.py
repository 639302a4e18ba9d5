"""Real Prometheus servers on the hand-computed histories (dataset.py, latency_dataset.py) and
the API in front of them."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sloplane.api.app import create_app
from sloplane.api.settings import ApiSettings
from sloplane.slo.catalog import Catalog
from tests.api.dataset import CATALOG, built_tsdb, tsdb_copy
from tests.api.latency_dataset import built_latency_tsdb
from tests.support.processes import Prometheus, prometheus_config, run_prometheus

ADMIN = "slp_test-admin-token"


@contextlib.contextmanager
def _prometheus_on(tsdb: Path) -> Iterator[Prometheus]:
    data = tsdb_copy(tsdb)
    try:
        with run_prometheus(prometheus_config(), data_dir=data) as p:
            yield p
    finally:
        shutil.rmtree(data.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def prom() -> Iterator[Prometheus]:
    with _prometheus_on(built_tsdb()) as p:
        yield p


@pytest.fixture(scope="session")
def latency_prom() -> Iterator[Prometheus]:
    """Prometheus on latency_dataset.py: histograms with le="1.0" and le="1" buckets."""
    with _prometheus_on(built_latency_tsdb()) as p:
        yield p


@contextlib.contextmanager
def api(
    prometheus_url: str,
    db: Path | str,
    catalog: Catalog = CATALOG,
    **overrides: object,
) -> Iterator[TestClient]:
    url = db if isinstance(db, str) else f"sqlite:///{db}"
    settings = ApiSettings(
        prometheus_url=prometheus_url,
        database_url=url,
        admin_token=ADMIN,
        schedule=None,
        **overrides,  # type: ignore[arg-type]
    )
    with TestClient(create_app(catalog, settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture()
def client(prom: Prometheus, tmp_path: Path) -> Iterator[TestClient]:
    with api(prom.url, tmp_path / "api.db", open_reads=True) as c:
        yield c
