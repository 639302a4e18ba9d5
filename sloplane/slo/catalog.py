"""A catalog: every SLO (and every other sloplane document) loaded from the user's inputs.

Compilers take a :class:`Catalog`, never files: loading and validation happen once,
at the edge, and the rest of the pipeline is pure.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sloplane.errors import Problem, SpecError
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
class DocumentKind:
    """A ``sloplane/v1`` kind besides ``SLO`` and the parser of the subsystem that reads it.

    The parser is named as ``"module:function"`` and imported only when a catalog is
    checked, so loading SLOs never imports the subsystems (nor their dependencies). It
    takes every document of its kind and raises :class:`SpecError` for bad input.
    """

    kind: str
    parser: str

    def parse(self, documents: Iterable[Document]) -> Any:
        module, _, name = self.parser.partition(":")
        function: Callable[[Iterable[Document]], Any] = getattr(
            importlib.import_module(module), name
        )
        return function(documents)


# Every sloplane/v1 document kind besides SLO; any other kind is a problem, not a document
# nobody reads. A subsystem with a document adds it here with its parser.
DOCUMENT_KINDS: tuple[DocumentKind, ...] = (
    DocumentKind("AlertRouting", "sloplane.alerts.routing:parse_routing"),
)


def document_kind_names() -> tuple[str, ...]:
    return tuple(k.kind for k in DOCUMENT_KINDS)


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

    def document_problems(self) -> list[Problem]:
        """Every problem the registered parsers find in this catalog's documents."""
        problems: list[Problem] = []
        for kind in DOCUMENT_KINDS:
            try:
                kind.parse(self.documents_of(kind.kind))
            except SpecError as exc:
                problems.extend(exc.problems)
        return problems

    @classmethod
    def of(cls, slos: Iterable[SLO], documents: Iterable[Document] = ()) -> Catalog:
        return cls(tuple(slos), tuple(documents))
