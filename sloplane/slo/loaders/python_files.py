"""SLOs written in Python: a module-level ``SLOS`` list, or every module-level ``SLO``.

Each file is imported under a unique module name (so two ``api.py`` files in
different folders do not clash) with its own folder appended to ``sys.path`` for
the duration of the import, so it can share helpers from ``_*.py`` files next to
it. Appended, not prepended, so a definition file named like a standard module
(``json.py``) cannot shadow it; modules imported from the folder are evicted
afterwards so they do not leak into the rest of the run (or into the next folder
with a helper of the same name). Anything the file raises becomes a Problem
located at the file's own line in the traceback; the user never sees a traceback.
A model error becomes one Problem per field, named by SLO id when it is known,
worded as the YAML loaders word theirs.

Every SLO collected is validated again, nested models included, because pydantic's
``model_copy(update=...)`` and ``model_construct`` skip validation: a file could
otherwise hand over an objective of 100% or a window of ``"garbage"``. A value that
validation refuses is reported as ``SLO(...)`` would report it; a value that
validation would change (``objective=1.0`` kept as a ratio means 100%, but reads as
1%) is reported too, since the object does not hold what the model keeps.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import math
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from sloplane.errors import Problem
from sloplane.located import model_error, model_path
from sloplane.slo import model as slo_model
from sloplane.slo.loaders.common import Report
from sloplane.slo.model import SLO, Source

FORMAT = "python"


def load_python(path: Path, display: str, report: Report) -> list[SLO]:
    """The SLOs of one Python file, imported in this process (see :mod:`.python_child`)."""
    failures = _Failures()
    module, problems = _import(path, display, failures)
    problems = failures.problems(path, display) + problems
    if problems:
        report.problems.extend(problems)
    if module is None:
        return []
    found = [s for s in _collect(module, display, report) if not failures.holds_failed(s)]
    lines = _definition_lines(path)
    places = _keyword_places(path)
    out = []
    for slo in found:
        service, name = _names(slo)
        line = lines.get((service, name)) or lines.get(("", name))
        checked = _revalidated(slo, display, line, report)
        if checked is None:
            continue
        fields = places.get((service, name)) or places.get(("", name)) or {}
        source = Source(
            file=display,
            line=line,
            format=FORMAT,
            fields=tuple((p, display, p, at) for p, at in sorted(fields.items())),
            model_keys=True,
        )
        if line is not None:
            source = source.model_copy(update={"fields": (("", display, "", line), *source.fields)})
        out.append(checked.model_copy(update={"source": source}))
    return out


class _Failures:
    """Model calls that failed while the file ran, so one run reports every SLO's problems.

    While a file is imported, each model class's ``__init__`` records a validation error
    (with the file's line) and builds the object unvalidated instead of raising, so the
    file goes on to its next SLO. Objects built that way, and SLOs holding them, are never
    loaded: their problems are reported, once.
    """

    def __init__(self) -> None:
        self.errors: list[tuple[ValidationError, int | None, frozenset[str]]] = []
        self.failed: set[int] = set()

    def problems(self, path: Path, display: str) -> list[Problem]:
        out: list[Problem] = []
        for exc, line, parts_failed in self.errors:
            out.extend(_model_problems(exc, path, display, line, parts_failed))
        return out

    def holds_failed(self, value: Any) -> bool:
        if id(value) in self.failed:
            return True
        if isinstance(value, BaseModel):
            return any(self.holds_failed(v) for v in value.__dict__.values())
        if isinstance(value, list | tuple):
            return any(self.holds_failed(v) for v in value)
        if isinstance(value, dict):
            return any(self.holds_failed(v) for v in value.values())
        return False

    @contextmanager
    def recording(self, path: Path) -> Iterator[None]:
        classes = [
            cls
            for cls in vars(slo_model).values()
            if isinstance(cls, type) and issubclass(cls, slo_model.Frozen)
        ]
        saved = {cls: cls.__dict__.get("__init__") for cls in classes}
        for cls in classes:
            cls.__init__ = self._init(cls, path)  # type: ignore[method-assign]
        try:
            yield
        finally:
            for cls, init in saved.items():
                if init is None:
                    del cls.__init__
                else:
                    cls.__init__ = init  # type: ignore[method-assign]

    def _init(self, cls: type[BaseModel], path: Path) -> Any:
        original = cls.__init__
        failures = self

        def init(model: BaseModel, /, **data: Any) -> None:
            try:
                original(model, **data)
            except ValidationError as exc:
                # a field given an object that failed already was reported with that object
                parts = frozenset(k for k, v in data.items() if failures.holds_failed(v))
                failures.errors.append((exc, _stack_line(path), parts))
                failures.failed.add(id(model))
                built = type(model).model_construct(**data)
                for attr in _MODEL_STATE:
                    object.__setattr__(model, attr, getattr(built, attr, None))

        return init


_MODEL_STATE = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")


def _stack_line(path: Path) -> int | None:
    """The line of the innermost frame of the stack that is in the user's file."""
    target = str(path.resolve())
    for frame in reversed(traceback.extract_stack()):
        try:
            if str(Path(frame.filename).resolve()) == target:
                return frame.lineno
        except (OSError, ValueError):
            continue
    return None


@dataclass
class _Check:
    """What validating a collected SLO again found: refused values and values it would change."""

    errors: list[tuple[list[str], ErrorDetails, type[BaseModel]]] = field(default_factory=list)
    changes: list[tuple[list[str], type[BaseModel], Any, Any]] = field(default_factory=list)


def _revalidated(slo: SLO, display: str, line: int | None, report: Report) -> SLO | None:
    """``slo`` validated again (its own class and its nested models' classes kept), or None."""
    check = _Check()
    fresh = _fresh_model(slo, [], check)
    service, name = _names(slo)
    obj = f"{service}-{name}" if service and name else ""
    problems = [
        Problem(
            file=display,
            line=line,
            obj=obj,
            field=".".join([*prefix, *model_path(err, model)]),
            message=model_error(err, model),
        )
        for prefix, err, model in check.errors
    ]
    skipped = "(model_copy(update=...) and model_construct skip validation)"
    problems += [
        Problem(
            file=display,
            line=line,
            obj=obj,
            field=".".join(where),
            message=f"{model.__name__} holds {_short(held)}, which validation reads as "
            f"{_short(kept)} {skipped}: give the value as {model.__name__}(...) keeps it",
        )
        for where, model, held, kept in check.changes
    ]
    if problems:
        report.problems.extend(problems)
        return None
    assert isinstance(fresh, SLO)
    return fresh


def _names(slo: SLO) -> tuple[str, str]:
    """Service and name as the object holds them ("" when model_construct left one out)."""
    service, name = slo.__dict__.get("service"), slo.__dict__.get("name")
    return (service if isinstance(service, str) else "", name if isinstance(name, str) else "")


def _fresh_model(model: BaseModel, where: list[str], check: _Check) -> BaseModel:
    """``model`` validated from its own field values, innermost models first.

    Nested models are validated here (pydantic accepts a model instance as it is), so
    each keeps its class; the outer model then receives the validated instances.
    On a refusal the model itself is returned, so the outer model is still checked.
    """
    cls = type(model)
    given: dict[str, Any] = {}
    data: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        if name not in model.__dict__:
            continue  # model_construct without a required field: validation says "missing"
        key = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        given[name] = _fresh(model.__dict__[name], [*where, name], check)
        data[key or name] = given[name]
    data.update(model.__pydantic_extra__ or {})
    try:
        fresh = cls.model_validate(data)
    except ValidationError as exc:
        check.errors.extend((where, err, cls) for err in exc.errors())
        return model
    for name, value in given.items():
        kept = fresh.__dict__[name]
        if not _same(value, kept):
            check.changes.append(([*where, name], cls, model.__dict__[name], kept))
    return fresh


def _fresh(value: Any, where: list[str], check: _Check) -> Any:
    if isinstance(value, BaseModel):
        return _fresh_model(value, where, check)
    if isinstance(value, list | tuple):
        return type(value)(_fresh(v, [*where, str(i)], check) for i, v in enumerate(value))
    if isinstance(value, dict):
        return {k: _fresh(v, [*where, str(k)], check) for k, v in value.items()}
    return value


def _same(held: Any, kept: Any) -> bool:
    """Whether validation kept ``held`` as it is (a bool is not the number it equals)."""
    if isinstance(held, bool) != isinstance(kept, bool):
        return False
    if isinstance(held, float) and isinstance(kept, float) and math.isnan(held):
        return math.isnan(kept)
    try:
        return bool(held == kept)
    except Exception:  # an exotic value whose == does not give a truth value
        return False


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _import(
    path: Path, display: str, failures: _Failures
) -> tuple[ModuleType | None, list[Problem]]:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    name = f"sloplane_user_slos_{digest}"
    try:
        spec = importlib.util.spec_from_file_location(name, path)
    except Exception as exc:  # bad paths raise all sorts of things
        return None, [Problem(file=display, message=f"cannot import: {exc}")]
    if spec is None or spec.loader is None:
        return None, [Problem(file=display, message="cannot import this file as Python")]
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with _folder_on_path(path.resolve().parent), failures.recording(path):
            spec.loader.exec_module(module)
    except SyntaxError as exc:
        return None, [Problem(file=display, line=exc.lineno, message=f"syntax error: {exc.msg}")]
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        line = _user_line(exc, path)
        if isinstance(exc, ValidationError):
            return None, _model_problems(exc, path, display, line)
        return None, [Problem(file=display, line=line, message=_describe(exc))]
    finally:
        sys.modules.pop(name, None)
    return module, []


@contextmanager
def _folder_on_path(folder: Path) -> Iterator[None]:
    """``folder`` last on ``sys.path`` while importing; its modules evicted afterwards."""
    entry = str(folder)
    added = entry not in sys.path
    if added:
        sys.path.append(entry)
    before = set(sys.modules)
    try:
        yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)
        for mod_name in set(sys.modules) - before:
            if _is_from(sys.modules.get(mod_name), folder):
                sys.modules.pop(mod_name, None)
        importlib.invalidate_caches()


def _is_from(module: ModuleType | None, folder: Path) -> bool:
    spec = getattr(module, "__spec__", None)
    places = [
        getattr(spec, "origin", None),
        *(getattr(spec, "submodule_search_locations", None) or []),
    ]
    for place in places:
        if isinstance(place, str):
            try:
                if Path(place).resolve().is_relative_to(folder):
                    return True
            except (OSError, ValueError):
                continue
    return False


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


def _model_problems(
    exc: ValidationError,
    path: Path,
    display: str,
    line: int | None,
    skip: frozenset[str] = frozenset(),
) -> list[Problem]:
    """One Problem per field of a failed model call, at the keyword's line where it is visible."""
    model = getattr(slo_model, exc.title, None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        model = SLO if exc.title == "SLO" else None
    site = _call_site(path, exc.title, line)
    obj = _slo_id(exc) or site.obj
    problems = []
    for err in exc.errors():
        field_path = model_path(err, model)
        if field_path and field_path[0] in skip:
            continue
        message = model_error(err, model) if model is not None else err["msg"]
        at = site.keyword_lines.get(field_path[0], line) if field_path else line
        problems.append(
            Problem(
                file=display,
                line=at,
                obj=obj,
                field=".".join([*site.prefix, *field_path]),
                message=message,
            )
        )
    return problems


def _slo_id(exc: ValidationError) -> str:
    """``service-name`` when the failed SLO call's input shows both (pydantic keeps it on 'missing')."""
    if exc.title != "SLO":
        return ""
    for err in exc.errors():
        data = err.get("input")
        if isinstance(data, dict):
            service, name = data.get("service"), data.get("name")
            if isinstance(service, str) and isinstance(name, str):
                return f"{service}-{name}"
    return ""


class _Site:
    """What the source shows about the failing call: enclosing SLO id, field prefix, keyword lines."""

    def __init__(self) -> None:
        self.obj = ""
        self.prefix: list[str] = []
        self.keyword_lines: dict[str, int] = {}


def _call_site(path: Path, title: str, line: int | None) -> _Site:
    site = _Site()
    if line is None:
        return site
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return site
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and n.lineno <= line <= (n.end_lineno or n.lineno)
    ]
    failing = _innermost([c for c in calls if _called(c) == title])
    slo_call = _innermost([c for c in calls if _called(c) == "SLO"])
    if failing is not None:
        site.keyword_lines = {k.arg: k.value.lineno for k in failing.keywords if k.arg}
    if slo_call is not None:
        literals = _literal_keywords(slo_call)
        if "service" in literals and "name" in literals:
            site.obj = f"{literals['service']}-{literals['name']}"
        if failing is not None and failing is not slo_call:
            site.prefix = _keyword_path(slo_call, failing) or []
    return site


def _innermost(calls: list[ast.Call]) -> ast.Call | None:
    return max(calls, key=lambda c: (c.lineno, c.col_offset), default=None)


def _called(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _literal_keywords(node: ast.Call) -> dict[str, str]:
    return {
        k.arg: k.value.value
        for k in node.keywords
        if k.arg and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)
    }


def _keyword_path(outer: ast.Call, target: ast.Call) -> list[str] | None:
    """Keyword names leading from ``outer`` down to ``target`` (``['alerting', 'page']``)."""
    for kw in outer.keywords:
        for node in ast.walk(kw.value):
            if node is target:
                inner = kw.value
                if isinstance(inner, ast.Call) and inner is not target:
                    return [kw.arg or "", *(_keyword_path(inner, target) or [])]
                return [kw.arg or ""]
    return None


def _describe(exc: BaseException) -> str:
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


def _keyword_places(path: Path) -> dict[tuple[str, str], dict[str, int]]:
    """For each ``SLO(...)`` call with literal names: model path -> line of the argument.

    ``sli=EventsSLI(errors=...)`` gives ``"sli"`` and ``"sli.errors"`` their own lines, so
    a problem found after loading (invalid PromQL in ``errors=``) points at that argument,
    not at ``SLO(``.
    """
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return {}
    out: dict[tuple[str, str], dict[str, int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called(node) == "SLO":
            kw = _literal_keywords(node)
            if "name" in kw:
                out.setdefault((kw.get("service", ""), kw["name"]), _arguments(node, ""))
    return out


def _arguments(call: ast.Call, prefix: str) -> dict[str, int]:
    places: dict[str, int] = {}
    for kw in call.keywords:
        if not kw.arg:
            continue
        path = f"{prefix}.{kw.arg}" if prefix else kw.arg
        places[path] = kw.value.lineno
        if isinstance(kw.value, ast.Call):
            places.update(_arguments(kw.value, path))
    return places


def _definition_lines(path: Path) -> dict[tuple[str, str], int]:
    """Lines of ``SLO(service=..., name=...)`` calls with literal names, best effort."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return {}
    lines: dict[tuple[str, str], int] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or _called(node) != "SLO":
            continue
        kw = _literal_keywords(node)
        if "name" in kw:
            lines.setdefault((kw.get("service", ""), kw["name"]), node.lineno)
    return lines
