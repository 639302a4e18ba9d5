"""The document formats the loaders read: an ordered list of loaders, each ``matches`` + ``load``.

A YAML (or JSON) document goes to the first loader whose ``matches`` accepts it, so
adding a format is adding one entry to :data:`LOADERS`. The last entries are the
refusals: an unknown kind in a group we read, a document of some other tool (skipped
with a warning) and anything else (a problem), so no document is ever dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sloplane.located import Where, did_you_mean, places_of
from sloplane.slo.catalog import Document
from sloplane.slo.loaders import native, openslo, pyrra, slo_generator, sloth, sloth_windows
from sloplane.slo.loaders.common import Report, plain
from sloplane.slo.model import SLO, Source
from sloplane.yamldoc import LineList, type_name


@dataclass
class Context:
    """What loading the inputs has produced so far, shared by every loader."""

    report: Report = field(default_factory=Report)
    slos: list[SLO] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    pending_openslo: list[openslo.RawDoc] = field(default_factory=list)
    sloth_period: int = sloth.DEFAULT_PERIOD
    sloth_windows: list[sloth_windows.PeriodWindows] = field(default_factory=list)


@dataclass(frozen=True)
class FormatLoader:
    """One document format: whether a document is in it, and how to load it."""

    name: str
    matches: Callable[[Mapping[Any, Any]], bool]
    load: Callable[[Mapping[Any, Any], Where, Context], None]


def _is_openslo_object(item: Any) -> bool:
    api = item.get("apiVersion") if isinstance(item, Mapping) else None
    return isinstance(api, str) and api.split("/", 1)[0] in ("openslo", "openslo.com")


def _api(doc: Mapping[Any, Any]) -> Any:
    return doc.get("apiVersion")


def _kind(doc: Mapping[Any, Any]) -> Any:
    return doc.get("kind")


# -- the formats ----------------------------------------------------------------------


def _load_sloth_spec(doc: Mapping[Any, Any], where: Where, ctx: Context) -> None:
    ctx.slos.extend(sloth.load_spec(doc, where.file, ctx.report, ctx.sloth_period))


def _load_sloth_crd(doc: Mapping[Any, Any], where: Where, ctx: Context) -> None:
    ctx.slos.extend(sloth.load_crd(doc, where.file, ctx.report, ctx.sloth_period))


def _load_sloth_windows(doc: Mapping[Any, Any], where: Where, ctx: Context) -> None:
    windows = sloth_windows.load_alert_windows(doc, where.file, ctx.report)
    if windows is not None:
        ctx.sloth_windows.append(windows)


def _load_openslo(doc: Mapping[Any, Any], where: Where, ctx: Context) -> None:
    # Objects refer to each other across files: resolved together once all are read.
    ctx.pending_openslo.append(openslo.RawDoc(doc, where.file, where.line or 1))


def _load_pyrra(doc: Mapping[Any, Any], where: Where, ctx: Context) -> None:
    slo = pyrra.load(doc, where.file, ctx.report)
    if slo is not None:
        ctx.slos.append(slo)


def _load_slo_generator(doc: Mapping[Any, Any], where: Where, ctx: Context) -> None:
    slo = slo_generator.load(doc, where.file, ctx.report)
    if slo is not None:
        ctx.slos.append(slo)


def _load_native_slo(doc: Mapping[Any, Any], where: Where, ctx: Context) -> None:
    slo = native.load_slo(doc, where.file, where.line or 1, ctx.report)
    if slo is not None:
        ctx.slos.append(slo)


def _load_document(doc: Mapping[Any, Any], where: Where, ctx: Context) -> None:
    # The subsystem that reads the document locates its problems through these fields.
    places = places_of(doc, where)
    fields = tuple((path, w.file, w.path, w.line) for path, w in sorted(places.items()))
    source = Source(file=where.file, line=where.line, format=native.FORMAT, fields=fields)
    ctx.documents.append(Document(kind=str(_kind(doc)), body=plain(doc), source=source))


# -- the refusals ---------------------------------------------------------------------


def _unknown_native_kind(doc: Mapping[Any, Any], where: Where, ctx: Context) -> None:
    kind = _kind(doc)
    kinds = sorted({"SLO", *native.DOCUMENT_KINDS})
    ctx.report.problems.append(
        where.child("kind", doc).problem(
            f"unknown {_api(doc)} kind {kind!r}{did_you_mean(kind, kinds)}; "
            f"the kinds are {', '.join(kinds)}"
        )
    )


# API groups of the formats read here; unknown kinds or versions in them stay errors.
_OWN_GROUPS = (
    "sloplane",
    "sloth.slok.dev",
    "openslo",
    "openslo.com",
    "pyrra.dev",
    "sre.google.com",
)


def is_foreign(doc: Mapping[Any, Any]) -> bool:
    """A Kubernetes-style document (Kustomization, ConfigMap, ...) of some other API group.

    SLO directories often sit next to deployment manifests; only documents that
    clearly say what they are, in a group that is not an SLO format, are skipped.
    """
    api, kind = _api(doc), _kind(doc)
    if not (isinstance(api, str) and api.strip() and isinstance(kind, str) and kind.strip()):
        return False
    group = api.split("/", 1)[0] if "/" in api else ""
    return group not in _OWN_GROUPS


_SLO_KINDS = ("servicelevelobjective", "servicelevel", "slo", "sli", "prometheusservicelevel")


def _slo_like(doc: Mapping[Any, Any]) -> bool:
    """An SLO of a tool or version we do not read: refused, never skipped (it would vanish)."""
    kind = _kind(doc)
    return isinstance(kind, str) and kind.lower() in _SLO_KINDS


def _refuse_foreign_slo(doc: Mapping[Any, Any], where: Where, ctx: Context) -> None:
    ctx.report.problems.append(
        where.problem(
            f"an SLO in a format sloplane does not read (apiVersion {_api(doc)}, kind "
            f"{_kind(doc)}): see docs/inputs.md for the formats"
        )
    )


def _skip_foreign(doc: Mapping[Any, Any], where: Where, ctx: Context) -> None:
    ctx.report.warnings.append(
        where.problem(
            f"not an SLO document (apiVersion {_api(doc)}, kind {_kind(doc)}); skipped. Keep SLO "
            "definitions in their own directory to silence this"
        )
    )


UNKNOWN = (
    "not a recognised document: expected a Sloth spec (version: prometheus/v1), "
    "a Sloth CRD (apiVersion: sloth.slok.dev/v1, kind: PrometheusServiceLevel), "
    "OpenSLO (apiVersion: openslo/v1), Pyrra (apiVersion: pyrra.dev/v1alpha1), "
    "slo-generator (apiVersion: sre.google.com/v2) or sloplane (apiVersion: sloplane/v1) "
    "with a kind"
)


def _unknown(doc: Mapping[Any, Any], where: Where, ctx: Context) -> None:
    ctx.report.problems.append(where.problem(unknown_reason(doc)))


def unknown_reason(doc: Mapping[Any, Any]) -> str:
    """Why a document in none of the formats is refused, naming its version when it has one."""
    version, api, kind = doc.get("version"), _api(doc), _kind(doc)
    if isinstance(api, str) and api.split("/", 1)[0] in ("openslo", "openslo.com"):
        return f"OpenSLO {api} is not supported: sloplane reads openslo/v1 (rewrite it as v1)"
    if api == sloth.CRD_API_VERSION:
        return f"Sloth kind {kind!r} is not supported: only PrometheusServiceLevel and AlertWindows"
    if isinstance(api, str) and api.startswith("pyrra.dev/"):
        return f"Pyrra {api} kind {kind!r} is not supported: only {pyrra.API_VERSION} {pyrra.KIND}"
    if isinstance(api, str) and api.startswith("sre.google.com/"):
        return (
            f"slo-generator {api} kind {kind!r} is not supported: only "
            f"{slo_generator.API_VERSION} {slo_generator.KIND}"
        )
    if version is not None and api is None:
        return f"Sloth spec version {version!r} is not supported: use prometheus/v1"
    return UNKNOWN


LOADERS: tuple[FormatLoader, ...] = (
    FormatLoader(
        "sloth-spec",
        lambda d: d.get("version") == sloth.VERSION and _api(d) is None,
        _load_sloth_spec,
    ),
    FormatLoader(
        "sloth-crd",
        lambda d: _api(d) == sloth.CRD_API_VERSION and _kind(d) == sloth.CRD_KIND,
        _load_sloth_crd,
    ),
    FormatLoader(
        "sloth-alert-windows",
        lambda d: _api(d) == sloth.CRD_API_VERSION and _kind(d) == sloth_windows.KIND,
        _load_sloth_windows,
    ),
    FormatLoader("openslo", lambda d: _api(d) == openslo.API_VERSION, _load_openslo),
    FormatLoader(
        "pyrra",
        lambda d: _api(d) == pyrra.API_VERSION and _kind(d) == pyrra.KIND,
        _load_pyrra,
    ),
    FormatLoader(
        "slo-generator",
        lambda d: _api(d) == slo_generator.API_VERSION and _kind(d) == slo_generator.KIND,
        _load_slo_generator,
    ),
    FormatLoader(
        "sloplane-slo",
        lambda d: _api(d) == native.API_VERSION and _kind(d) == "SLO",
        _load_native_slo,
    ),
    FormatLoader(
        "sloplane-document",
        lambda d: _api(d) == native.API_VERSION and _kind(d) in native.DOCUMENT_KINDS,
        _load_document,
    ),
    FormatLoader(
        "sloplane-unknown-kind",
        lambda d: _api(d) == native.API_VERSION and isinstance(_kind(d), str) and bool(_kind(d)),
        _unknown_native_kind,
    ),
    FormatLoader("foreign-slo", lambda d: is_foreign(d) and _slo_like(d), _refuse_foreign_slo),
    FormatLoader("foreign", is_foreign, _skip_foreign),
    FormatLoader("unknown", lambda d: True, _unknown),
)


def dispatch(doc: Any, where: Where, ctx: Context) -> None:
    """Hand ``doc`` to the first loader that matches it.

    An OpenSLO document may also be a list of objects (the go-sdk's decoder reads
    ``- apiVersion: openslo/v1 ...`` files): each item is dispatched on its own.
    """
    if isinstance(doc, list) and doc and all(_is_openslo_object(item) for item in doc):
        for index, item in enumerate(doc):
            line = doc.line_of(index) if isinstance(doc, LineList) else where.line
            dispatch(item, Where(where.file, line=line), ctx)
        return
    if not isinstance(doc, Mapping):
        ctx.report.problems.append(where.problem(UNKNOWN + f" (got {type_name(doc)})"))
        return
    for loader in LOADERS:
        if loader.matches(doc):
            loader.load(doc, where, ctx)
            return
