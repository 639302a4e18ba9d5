"""Shared pieces of the YAML loaders: locating problems, checking keys, building SLOs.

Loaders never raise for bad input: they record a :class:`~sloplane.errors.Problem`
in a :class:`Report` and carry on, so one run shows every problem at once.
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from sloplane.errors import Problem
from sloplane.slo.loaders.yamldoc import LineDict, LineList
from sloplane.slo.model import SLO, Source


@dataclass
class Report:
    """Problems (errors) and warnings collected while loading."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def extend(self, other: Report) -> None:
        self.problems.extend(other.problems)
        self.warnings.extend(other.warnings)


@dataclass(frozen=True)
class Where:
    """A position in one input document: file, object name and the field path in the user's format."""

    file: str
    obj: str = ""
    path: str = ""
    line: int | None = None

    def child(self, key: str | int, container: Any = None) -> Where:
        path = f"{self.path}[{key}]" if isinstance(key, int) else _join(self.path, key)
        line = self.line
        if isinstance(container, LineDict | LineList):
            line = container.line_of(key) or line  # type: ignore[arg-type]
        return Where(self.file, self.obj, path, line)

    def named(self, obj: str) -> Where:
        return Where(self.file, obj, self.path, self.line)

    def problem(self, message: str, field_path: str | None = None) -> Problem:
        return Problem(
            file=self.file,
            line=self.line,
            obj=self.obj,
            field=self.path if field_path is None else field_path,
            message=message,
        )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def line_of(value: Any) -> int | None:
    return value.line if isinstance(value, LineDict | LineList) else None


def type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"[:80]


def expect_mapping(value: Any, where: Where, report: Report) -> Mapping[Any, Any] | None:
    if isinstance(value, Mapping):
        return value
    report.problems.append(where.problem(f"expected a mapping, got {type_name(value)}"))
    return None


def expect_list(value: Any, where: Where, report: Report) -> list[Any] | None:
    if isinstance(value, list):
        return value
    report.problems.append(where.problem(f"expected a list, got {type_name(value)}"))
    return None


def expect_str(value: Any, where: Where, report: Report, *, required: bool = True) -> str | None:
    if isinstance(value, str) and (value.strip() or not required):
        return value
    if value is None and not required:
        return None
    what = "missing" if value is None else f"expected text, got {type_name(value)}"
    if isinstance(value, str):
        what = "must not be empty"
    report.problems.append(where.problem(what))
    return None


def expect_number(value: Any, where: Where, report: Report) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    what = "missing" if value is None else f"expected a number, got {type_name(value)}"
    report.problems.append(where.problem(what))
    return None


def check_keys(
    data: Mapping[Any, Any],
    allowed: Iterable[str],
    where: Where,
    report: Report,
    key_fn: Callable[[str], str] | None = None,
) -> None:
    """Report every key not in ``allowed`` (after ``key_fn``), suggesting the closest known key."""
    known = list(allowed)
    for key in data:
        if isinstance(key, str) and (key_fn(key) if key_fn else key) in known:
            continue
        report.problems.append(where.child(str(key), data).problem(unknown_field(key, known)))


def unknown_field(key: Any, known: Sequence[str]) -> str:
    """``unknown field 'objectiv' (did you mean 'objective'?)``: the same words for every format."""
    return f"unknown field {key!r}{did_you_mean(key, known)}"


def did_you_mean(key: Any, known: Sequence[str]) -> str:
    """`` (did you mean 'objective'?)`` for the closest of ``known``, or nothing."""
    hint = difflib.get_close_matches(str(key), list(known), n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""


def string_map(value: Any, where: Where, report: Report) -> dict[str, str]:
    """A label or annotation map; scalar values become text (``tier: 2`` -> ``"2"``)."""
    if value is None:
        return {}
    data = expect_mapping(value, where, report)
    if data is None:
        return {}
    out: dict[str, str] = {}
    for key, item in data.items():
        if not isinstance(key, str):
            report.problems.append(where.problem(f"key {key!r} must be text"))
            continue
        if isinstance(item, bool):
            out[key] = "true" if item else "false"
        elif isinstance(item, str | int | float):
            out[key] = str(item)
        elif isinstance(item, list) and all(isinstance(x, str | int | float) for x in item):
            out[key] = ",".join(str(x) for x in item)
        else:
            report.problems.append(
                where.child(key, data).problem(f"expected text, got {type_name(item)}")
            )
    return out


def severity_label_warning(
    labels: Mapping[str, str], where: Where, report: Report, written: Any = None
) -> None:
    """Warn that an alert label ``severity`` is replaced: sloplane sets page/ticket itself.

    Sloth's own examples use ``severity: pageteam``; silently overwriting it would
    surprise whoever routes on it. ``written`` is the mapping as loaded (for its line).
    """
    value = labels.get("severity")
    if value is None or value in {"page", "ticket"}:
        return
    report.warnings.append(
        where.child("severity", written).problem(
            f"alert label severity {value!r} is replaced: sloplane sets severity to page/ticket "
            "itself (its AlertManager routing depends on it); put your value under another "
            "label name (e.g. 'notify')"
        )
    )


def build_slo(
    data: dict[str, Any],
    where: Where,
    fields: Mapping[str, Where],
    source: Source,
    report: Report,
) -> SLO | None:
    """Validate ``data`` as an :class:`SLO`; map pydantic errors back onto the user's fields.

    ``fields`` maps model paths (``"objective"``, ``"sli.errors"``) to where the
    user wrote them; the longest matching prefix locates each error. The SLO's
    ``source`` keeps them, so the catalog's checks name the same places.
    """
    try:
        slo = SLO.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            target = _locate(model_path(err), fields, where)
            report.problems.append(target.problem(model_error(err, SLO)))
        return None
    places = sorted({**fields, "": where}.items(), key=lambda item: item[0])
    located = Source(
        file=source.file,
        line=source.line,
        format=source.format,
        fields=tuple((path, w.file, w.path, w.line) for path, w in places),
    )
    return slo.model_copy(update={"source": located})


def model_path(err: ErrorDetails) -> list[str]:
    """The error's field path as the user wrote it: union tags (``sli.events``) left out."""
    return [str(x) for x in err["loc"] if not _is_union_tag(x)]


def model_error(err: ErrorDetails, model: type[BaseModel]) -> str:
    """A pydantic error in the loaders' words; unknown fields get a "did you mean"."""
    if err["type"] == "extra_forbidden" and err["loc"]:
        return unknown_field(err["loc"][-1], fields_at(model, err["loc"][:-1]))
    if err["type"] == "missing":
        return "missing"
    return _clean(err["msg"])


def fields_at(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """Field names (aliases where set) of the model(s) found at ``loc`` inside ``model``."""
    current = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        tagged = [m for m in current if _tag(m) == part]
        if tagged:
            current = tagged
            continue
        inner: list[type[BaseModel]] = []
        named = False
        for m in current:
            for name, info in m.model_fields.items():
                if part in (name, info.alias):
                    named = True
                    inner.extend(_models_in(info.annotation))
        if named:  # else a key of a dict of models (``teams.payments``): same models
            current = inner
    names = {info.alias or name for m in current for name, info in m.model_fields.items()}
    return sorted(names)


def _tag(model: type[BaseModel]) -> Any:
    info = model.model_fields.get("kind")
    return info.default if info is not None else None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _is_union_tag(part: Any) -> bool:
    return part in {"events", "latency", "raw", "availability"}


def _locate(loc: list[str], fields: Mapping[str, Where], default: Where) -> Where:
    for n in range(len(loc), 0, -1):
        key = ".".join(loc[:n])
        if key in fields:
            return fields[key]
    return default.child(".".join(loc)) if loc else default


def _clean(message: str) -> str:
    return re.sub(r"^(Value error|Assertion failed), ", "", message)
