"""Shared helpers for alert-routing tests: an SLO catalog with a routing document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sloplane.alerts import render_alertmanager
from sloplane.artifacts import Artifacts, GenerateSettings
from sloplane.slo.catalog import Catalog, Document
from sloplane.slo.model import SLO, Source

ROOT = Path(__file__).resolve().parents[2]


def slo(service: str, name: str, team: str | None, **kw: Any) -> SLO:
    return SLO(
        service=service,
        name=name,
        objective=99.9,
        sli={
            "kind": "events",
            "errors": 'http_requests_total{code=~"5.."}',
            "total": "http_requests_total",
        },
        team=team,
        **kw,
    )


def routing_doc(body: dict[str, Any], file: str = "routing.yaml") -> Document:
    return Document("AlertRouting", body, Source(file=file))


def example_routing() -> Document:
    path = ROOT / "examples" / "slos" / "routing.yaml"
    return routing_doc(yaml.safe_load(path.read_text()), str(path))


def write_artifacts(artifacts: Artifacts, root: Path) -> Path:
    for rel, text in artifacts.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def render(
    slos: list[SLO], docs: list[Document], settings: GenerateSettings | None = None
) -> Artifacts:
    return render_alertmanager(Catalog.of(slos, docs), settings or GenerateSettings())
