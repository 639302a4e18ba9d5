"""A catalog: every SLO (and every other sloplane document) loaded from the user's inputs.

Compilers take a :class:`Catalog`, never files: loading and validation happen once,
at the edge, and the rest of the pipeline is pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sloplane.slo.model import SLO, Source


@dataclass(frozen=True)
class Document:
    """A non-SLO document from the inputs (``apiVersion: sloplane/v1``), e.g. ``AlertRouting``.

    The owning subpackage (alerts, dashboards, ...) parses ``body`` itself.
    """

    kind: str
    body: dict[str, Any]
    source: Source


@dataclass(frozen=True)
class Catalog:
    slos: tuple[SLO, ...] = ()
    documents: tuple[Document, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "slos", tuple(sorted(self.slos, key=lambda s: s.id)))

    def by_id(self, slo_id: str) -> SLO | None:
        return next((s for s in self.slos if s.id == slo_id), None)

    def services(self) -> list[str]:
        return sorted({s.service for s in self.slos})

    def teams(self) -> list[str]:
        return sorted({s.team for s in self.slos if s.team})

    def for_service(self, service: str) -> tuple[SLO, ...]:
        return tuple(s for s in self.slos if s.service == service)

    def documents_of(self, kind: str) -> tuple[Document, ...]:
        return tuple(d for d in self.documents if d.kind == kind)

    @classmethod
    def of(cls, slos: Iterable[SLO], documents: Iterable[Document] = ()) -> Catalog:
        return cls(tuple(slos), tuple(documents))
