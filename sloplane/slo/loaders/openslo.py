"""OpenSLO v1 (placeholder until the full loader lands)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sloplane.slo.loaders.common import Report, Where
from sloplane.slo.model import SLO

API_VERSION = "openslo/v1"


@dataclass(frozen=True)
class RawDoc:
    doc: Mapping[Any, Any]
    file: str
    line: int


def load(docs: list[RawDoc], report: Report) -> list[SLO]:
    for d in docs:
        report.problems.append(Where(d.file, line=d.line).problem("OpenSLO is not supported yet"))
    return []
