"""Load SLO definitions from files into one validated :class:`~sloplane.slo.catalog.Catalog`.

Inputs are Python files (``*.py``), and YAML or JSON files (``*.yaml``/``*.yml``/
``*.json``) holding any mix of Sloth specs, CRDs and ``AlertWindows``, OpenSLO v1
objects, Pyrra and slo-generator SLOs and ``sloplane/v1`` documents; each document
goes through the list of format loaders in :mod:`.formats`. Every problem in every
file is collected before anything is reported, so one run shows them all; bad input
only ever raises :class:`~sloplane.errors.SpecError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sloplane.errors import Problem, SpecError
from sloplane.located import Where
from sloplane.slo.catalog import Catalog
from sloplane.slo.loaders import openslo, sloth, sloth_windows
from sloplane.slo.loaders.common import Report, plain
from sloplane.slo.loaders.formats import Context, dispatch
from sloplane.slo.loaders.python_child import load_python_files_isolated
from sloplane.slo.loaders.python_files import load_python
from sloplane.yamldoc import load_documents

__all__ = ["Loaded", "load", "load_catalog", "plain"]

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIX = ".json"  # OpenSLO objects are often JSON; YAML's parser reads JSON with lines
DATA_SUFFIXES = (*YAML_SUFFIXES, JSON_SUFFIX)
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


def load(
    paths: Sequence[str | Path],
    *,
    sloth_period: int | None = None,
    isolate_python: bool = False,
) -> Loaded:
    """Like :func:`load_catalog`, also returning the warnings.

    ``sloth_period`` is Sloth's ``--default-slo-period``: the window of every Sloth SLO.
    ``isolate_python`` imports each Python SLO file in a child process with a timeout (the
    CLI does): a file that exits, hangs or crashes is a problem, not the end of the run.
    """
    from sloplane.slo.validate import validate_catalog, warnings_for

    ctx = Context(sloth_period=sloth_period or sloth.DEFAULT_PERIOD)
    report = ctx.report
    files = _input_files(paths, report)
    python_files = [(p, d) for p, d in files if p.suffix == PYTHON_SUFFIX]
    if isolate_python:
        ctx.slos.extend(load_python_files_isolated(python_files, report))
    else:
        for path, display in python_files:
            ctx.slos.extend(load_python(path, display, report))
    for path, display in files:
        if path.suffix != PYTHON_SUFFIX:
            _load_yaml_file(path, display, ctx)
    ctx.slos.extend(openslo.load(ctx.pending_openslo, report))
    periods = sloth_windows.catalog_of(ctx.sloth_windows, report)
    ctx.slos = [
        sloth_windows.with_sloth_windows(s, periods) if s.source.format == sloth.FORMAT else s
        for s in ctx.slos
    ]
    catalog = Catalog.of(ctx.slos, ctx.documents)
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
            found.extend(_walk(path, report))
        elif path.is_file():
            if path.suffix in DATA_SUFFIXES or path.suffix == PYTHON_SUFFIX:
                found.append((path, str(given)))
            else:
                report.warnings.append(
                    Problem(
                        file=str(given), message="not a .py, .yaml, .yml or .json file; ignored"
                    )
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


def _walk(
    root: Path, report: Report, ancestors: tuple[Path, ...] = (), seen: set[Path] | None = None
) -> list[tuple[Path, str]]:
    """Input files under ``root``, each real directory walked once.

    A symlink back to a directory being walked (a loop) is a problem naming both ends,
    not an endless walk; a second link to a directory already walked adds nothing.
    """
    seen = set() if seen is None else seen
    real = root.resolve()
    if real in ancestors:
        report.problems.append(
            Problem(
                file=str(root),
                message=f"symlink loop: this directory is {real}, which contains it; not followed",
            )
        )
        return []
    if real in seen:
        return []
    seen.add(real)
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
                out.extend(_walk(entry, report, (*ancestors, real), seen))
        elif entry.suffix in DATA_SUFFIXES or (
            entry.suffix == PYTHON_SUFFIX and not entry.name.startswith("_")
        ):
            out.append((entry, str(entry)))
    return out


def _load_yaml_file(path: Path, display: str, ctx: Context) -> None:
    report = ctx.report
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        report.problems.append(Problem(file=display, message=f"not UTF-8 text: {exc.reason}"))
        return
    except OSError as exc:
        report.problems.append(Problem(file=display, message=f"cannot read: {exc.strerror}"))
        return
    docs, problems = load_documents(text, display)
    if problems and path.suffix == JSON_SUFFIX:
        docs, problems = _json_documents(text, display)
    report.problems.extend(problems)
    for doc, line in docs:
        if doc is None:
            continue
        if path.suffix == JSON_SUFFIX and not _says_what_it_is(doc):
            # package.json, tsconfig.json, ... next to SLOs: not ours, and not an SLO either
            report.warnings.append(
                Problem(file=display, line=line, message="not an SLO document; skipped")
            )
            continue
        dispatch(doc, Where(display, line=line), ctx)


def _says_what_it_is(doc: Any) -> bool:
    """A JSON document that names a format (``apiVersion``/``version``), or a list of them."""
    items = doc if isinstance(doc, list) else [doc]
    return any(isinstance(d, Mapping) and ("apiVersion" in d or "version" in d) for d in items)


def _json_documents(text: str, display: str) -> tuple[list[tuple[Any, int]], list[Problem]]:
    """JSON that YAML's parser refuses (tabs for indentation): read whole, without lines."""
    try:
        return [(json.loads(text), 1)], []
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        return [], [Problem(file=display, line=line, message=f"invalid JSON: {exc}")]
