"""SLOs written in Python: a module-level ``SLOS`` list, or every module-level ``SLO``.

Each file is imported under a unique module name (so two ``api.py`` files in
different folders do not clash) with its own folder on ``sys.path`` for the
duration of the import, so it can share helpers from ``_*.py`` files next to it.
Anything the file raises becomes a Problem located at the file's own line in the
traceback; the user never sees a traceback.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from sloplane.errors import Problem
from sloplane.slo.loaders.common import Report
from sloplane.slo.model import SLO, Source

FORMAT = "python"


def load_python(path: Path, display: str, report: Report) -> list[SLO]:
    module, problem = _import(path, display)
    if problem is not None:
        report.problems.append(problem)
        return []
    assert module is not None
    found = _collect(module, display, report)
    lines = _definition_lines(path)
    out = []
    for slo in found:
        line = lines.get((slo.service, slo.name)) or lines.get(("", slo.name))
        source = Source(file=display, line=line, format=FORMAT)
        out.append(slo.model_copy(update={"source": source}))
    return out


def _import(path: Path, display: str) -> tuple[ModuleType | None, Problem | None]:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    name = f"sloplane_user_slos_{digest}"
    try:
        spec = importlib.util.spec_from_file_location(name, path)
    except Exception as exc:  # bad paths raise all sorts of things
        return None, Problem(file=display, message=f"cannot import: {exc}")
    if spec is None or spec.loader is None:
        return None, Problem(file=display, message="cannot import this file as Python")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.modules[name] = module
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        return None, Problem(file=display, line=exc.lineno, message=f"syntax error: {exc.msg}")
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None, Problem(file=display, line=_user_line(exc, path), message=_describe(exc))
    finally:
        sys.modules.pop(name, None)
        if folder in sys.path:
            sys.path.remove(folder)
    return module, None


def _user_line(exc: BaseException, path: Path) -> int | None:
    """The line of the deepest traceback frame inside the user's file."""
    target = str(path.resolve())
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            if str(Path(frame.filename).resolve()) == target:
                line = frame.lineno
        except (OSError, ValueError):
            continue
    return line


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            parts.append(f"{loc}: {msg}" if loc else msg)
        return f"invalid {exc.title}: " + "; ".join(parts)
    if isinstance(exc, SystemExit):
        return f"the file called exit({exc.code!r}) while being imported"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _collect(module: ModuleType, display: str, report: Report) -> list[SLO]:
    namespace: dict[str, Any] = vars(module)
    if "SLOS" in namespace:
        value = namespace["SLOS"]
        if not isinstance(value, list | tuple):
            report.problems.append(
                Problem(file=display, field="SLOS", message="SLOS must be a list or tuple of SLO")
            )
            return []
        bad = [i for i, item in enumerate(value) if not isinstance(item, SLO)]
        for i in bad:
            report.problems.append(
                Problem(
                    file=display,
                    field=f"SLOS[{i}]",
                    message=f"expected an SLO, got {type(value[i]).__name__}",
                )
            )
        return [] if bad else list(value)
    seen: set[int] = set()
    out = []
    for value in namespace.values():
        if isinstance(value, SLO) and id(value) not in seen:
            seen.add(id(value))
            out.append(value)
    return out


def _definition_lines(path: Path) -> dict[tuple[str, str], int]:
    """Lines of ``SLO(service=..., name=...)`` calls with literal names, best effort."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return {}
    lines: dict[tuple[str, str], int] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if called != "SLO":
            continue
        kw = {
            k.arg: k.value.value
            for k in node.keywords
            if k.arg and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)
        }
        if "name" in kw:
            lines.setdefault((kw.get("service", ""), kw["name"]), node.lineno)
    return lines
