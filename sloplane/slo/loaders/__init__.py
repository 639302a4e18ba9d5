"""Load SLO definitions from files into one validated :class:`~sloplane.slo.catalog.Catalog`.

Inputs are Python files (``*.py``), and YAML files (``*.yaml``/``*.yml``) holding
any mix of Sloth ``prometheus/v1`` specs, Sloth ``PrometheusServiceLevel`` CRDs,
OpenSLO ``openslo/v1`` objects and ``sloplane/v1`` documents. Every problem in
every file is collected before anything is reported, so one run shows them all;
bad input only ever raises :class:`~sloplane.errors.SpecError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sloplane.errors import Problem, SpecError
from sloplane.located import Where, did_you_mean, places_of
from sloplane.slo.catalog import Catalog, Document
from sloplane.slo.loaders import native, openslo, sloth
from sloplane.slo.loaders.common import Report
from sloplane.slo.loaders.python_files import load_python
from sloplane.slo.model import SLO, Source
from sloplane.yamldoc import LineDict, LineList, load_documents, type_name

__all__ = ["Loaded", "load", "load_catalog", "plain"]

YAML_SUFFIXES = (".yaml", ".yml")
PYTHON_SUFFIX = ".py"
SKIPPED_DIRS = {"__pycache__", "node_modules"}


@dataclass(frozen=True)
class Loaded:
    """A validated catalog and the warnings (problems that do not stop a build)."""

    catalog: Catalog
    warnings: tuple[Problem, ...] = ()


def load_catalog(paths: Sequence[str | Path]) -> Catalog:
    """Load and validate every SLO under ``paths``; raise SpecError listing all problems."""
    return load(paths).catalog


def load(paths: Sequence[str | Path]) -> Loaded:
    """Like :func:`load_catalog`, also returning the warnings."""
    from sloplane.slo.validate import validate_catalog, warnings_for

    report = Report()
    slos: list[SLO] = []
    documents: list[Document] = []
    pending_openslo: list[openslo.RawDoc] = []
    for path, display in _input_files(paths, report):
        if path.suffix == PYTHON_SUFFIX:
            slos.extend(load_python(path, display, report))
        else:
            _load_yaml_file(path, display, slos, documents, pending_openslo, report)
    slos.extend(openslo.load(pending_openslo, report))
    catalog = Catalog.of(slos, documents)
    report.problems.extend(validate_catalog(catalog))
    if report.problems:
        raise SpecError(report.problems)
    warnings = sorted(set(report.warnings + warnings_for(catalog)), key=Problem.sort_key)
    return Loaded(catalog, tuple(warnings))


def _input_files(paths: Sequence[str | Path], report: Report) -> list[tuple[Path, str]]:
    """Every input file, in a deterministic order, with the name to show in problems."""
    found: list[tuple[Path, str]] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found.extend(_walk(path))
        elif path.is_file():
            if path.suffix in YAML_SUFFIXES or path.suffix == PYTHON_SUFFIX:
                found.append((path, str(given)))
            else:
                report.warnings.append(
                    Problem(file=str(given), message="not a .py, .yaml or .yml file; ignored")
                )
        else:
            report.problems.append(Problem(file=str(given), message="no such file or directory"))
    seen: set[Path] = set()
    unique = []
    for path, display in found:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            unique.append((path, display))
    return unique


def _walk(root: Path) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    try:
        entries = sorted(root.iterdir(), key=lambda p: p.name)
    except OSError:
        return out
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if entry.name not in SKIPPED_DIRS:
                out.extend(_walk(entry))
        elif entry.suffix in YAML_SUFFIXES or (
            entry.suffix == PYTHON_SUFFIX and not entry.name.startswith("_")
        ):
            out.append((entry, str(entry)))
    return out


def _load_yaml_file(
    path: Path,
    display: str,
    slos: list[SLO],
    documents: list[Document],
    pending_openslo: list[openslo.RawDoc],
    report: Report,
) -> None:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        report.problems.append(Problem(file=display, message=f"not UTF-8 text: {exc.reason}"))
        return
    except OSError as exc:
        report.problems.append(Problem(file=display, message=f"cannot read: {exc.strerror}"))
        return
    docs, problems = load_documents(text, display)
    report.problems.extend(problems)
    for doc, line in docs:
        if doc is None:
            continue
        _dispatch(doc, line, display, slos, documents, pending_openslo, report)


def _dispatch(
    doc: Any,
    line: int,
    file: str,
    slos: list[SLO],
    documents: list[Document],
    pending_openslo: list[openslo.RawDoc],
    report: Report,
) -> None:
    where = Where(file, line=line)
    if not isinstance(doc, Mapping):
        report.problems.append(where.problem(_UNKNOWN + f" (got {type_name(doc)})"))
        return
    version = doc.get("version")
    api = doc.get("apiVersion")
    kind = doc.get("kind")
    if version == sloth.VERSION and api is None:
        slos.extend(sloth.load_spec(doc, file, report))
    elif api == sloth.CRD_API_VERSION and kind == sloth.CRD_KIND:
        slos.extend(sloth.load_crd(doc, file, report))
    elif api == openslo.API_VERSION:
        pending_openslo.append(openslo.RawDoc(doc, file, line))
    elif api == native.API_VERSION and kind == "SLO":
        slo = native.load_slo(doc, file, line, report)
        if slo is not None:
            slos.append(slo)
    elif api == native.API_VERSION and kind in native.DOCUMENT_KINDS:
        # The subsystem that reads the document locates its problems through these fields.
        places = places_of(doc, where)
        fields = tuple((path, w.file, w.path, w.line) for path, w in sorted(places.items()))
        source = Source(file=file, line=line, format="sloplane", fields=fields)
        documents.append(Document(kind=kind, body=plain(doc), source=source))
    elif api == native.API_VERSION and isinstance(kind, str) and kind:
        kinds = sorted({"SLO", *native.DOCUMENT_KINDS})
        report.problems.append(
            where.child("kind", doc).problem(
                f"unknown {api} kind {kind!r}{did_you_mean(kind, kinds)}; "
                f"the kinds are {', '.join(kinds)}"
            )
        )
    elif _is_foreign(api, kind):
        report.warnings.append(
            where.problem(
                f"not an SLO document (apiVersion {api}, kind {kind}); skipped. Keep SLO "
                "definitions in their own directory to silence this"
            )
        )
    else:
        report.problems.append(where.problem(_unknown_reason(version, api, kind)))


# API groups of the formats read here; unknown kinds or versions in them stay errors.
_OWN_GROUPS = ("sloplane", "sloth.slok.dev", "openslo", "openslo.com")


def _is_foreign(api: Any, kind: Any) -> bool:
    """A Kubernetes-style document (Kustomization, ConfigMap, ...) of some other API group.

    SLO directories often sit next to deployment manifests; only documents that
    clearly say what they are, in a group that is not an SLO format, are skipped.
    """
    if not (isinstance(api, str) and api.strip() and isinstance(kind, str) and kind.strip()):
        return False
    group = api.split("/", 1)[0] if "/" in api else ""
    return group not in _OWN_GROUPS


_UNKNOWN = (
    "not a recognised document: expected a Sloth spec (version: prometheus/v1), "
    "a Sloth CRD (apiVersion: sloth.slok.dev/v1, kind: PrometheusServiceLevel), "
    "OpenSLO (apiVersion: openslo/v1) or sloplane (apiVersion: sloplane/v1) with a kind"
)


def _unknown_reason(version: Any, api: Any, kind: Any) -> str:
    if isinstance(api, str) and api.startswith("openslo/"):
        return f"OpenSLO {api} is not supported: use openslo/v1"
    if api == sloth.CRD_API_VERSION:
        return f"Sloth kind {kind!r} is not supported: only PrometheusServiceLevel"
    if version is not None and api is None:
        return f"Sloth spec version {version!r} is not supported: use prometheus/v1"
    return _UNKNOWN


def plain(value: Any) -> Any:
    """Deep copy of YAML data as plain dicts and lists (no line bookkeeping)."""
    if isinstance(value, LineDict | dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, LineList | list):
        return [plain(v) for v in value]
    return value
