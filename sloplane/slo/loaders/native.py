"""sloplane's own YAML form: ``apiVersion: sloplane/v1``, ``kind: SLO``, ``spec:`` = the model.

The spec is the :class:`~sloplane.slo.model.SLO` model field for field, so the
Python and YAML forms cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sloplane.located import Where, places_of
from sloplane.slo.catalog import document_kind_names
from sloplane.slo.loaders.common import Report, build_slo, check_keys, expect_mapping, plain
from sloplane.slo.model import SLO, Source

API_VERSION = "sloplane/v1"
FORMAT = "sloplane"
# sloplane/v1 kinds besides SLO, kept as Documents for the subsystem that reads them
# (registered in sloplane.slo.catalog); any other kind is a problem.
DOCUMENT_KINDS = document_kind_names()


def load_slo(doc: Mapping[Any, Any], file: str, line: int, report: Report) -> SLO | None:
    where = Where(file, line=line)
    check_keys(doc, ("apiVersion", "kind", "metadata", "spec"), where, report)
    spec_where = where.child("spec", doc)
    spec = expect_mapping(doc.get("spec"), spec_where, report)
    if spec is None:
        return None
    service, name = spec.get("service"), spec.get("name")
    if isinstance(service, str) and isinstance(name, str):
        spec_where = spec_where.named(f"{service}-{name}")
    # The spec's keys are the model's fields: every key and list item the user wrote, and
    # a field below them is named in full under the nearest one (spec.sli.total at sli).
    fields = places_of(spec, spec_where)
    source = Source(file=file, line=spec_where.line or line, format=FORMAT)
    return build_slo(plain(spec), spec_where, fields, source, report, model_keys=True)
