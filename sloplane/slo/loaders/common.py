"""Shared pieces of the YAML loaders: locating problems, checking keys, building SLOs.

Loaders never raise for bad input: they record a :class:`~sloplane.errors.Problem`
in a :class:`Report` and carry on, so one run shows every problem at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from sloplane.errors import Problem
from sloplane.located import Where, locate, model_error, model_path, unknown_field, user_loc
from sloplane.slo.durations import DurationError, parse_duration
from sloplane.slo.model import SLO, Source
from sloplane.yamldoc import LineDict, LineList, type_name


@dataclass
class Report:
    """Problems (errors) and warnings collected while loading."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def extend(self, other: Report) -> None:
        self.problems.extend(other.problems)
        self.warnings.extend(other.warnings)


def plain(value: Any) -> Any:
    """Deep copy of YAML data as plain dicts and lists (no line bookkeeping)."""
    if isinstance(value, LineDict | dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, LineList | list):
        return [plain(v) for v in value]
    return value


def line_of(value: Any) -> int | None:
    return value.line if isinstance(value, LineDict | LineList) else None


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


def expect_duration(value: Any, where: Where, report: Report, *, zero: bool = False) -> int | None:
    """A Prometheus duration ("5m", "1h30m") as whole seconds.

    ``zero``: also take "0", "0s", "0m" and "0h" (as 0), for formats where a zero
    duration means "at once" (OpenSLO's alert ``lookbackWindow``); a window never is.
    """
    text = expect_str(value, where, report)
    if text is None:
        return None
    if zero and text.strip() in ("0", "0m", "0s", "0h"):
        return 0
    try:
        return parse_duration(text)
    except DurationError as exc:
        report.problems.append(where.problem(str(exc)))
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


def build_slo(
    data: dict[str, Any],
    where: Where,
    fields: Mapping[str, Where],
    source: Source,
    report: Report,
    *,
    model_keys: bool = False,
) -> SLO | None:
    """Validate ``data`` as an :class:`SLO`; map pydantic errors back onto the user's fields.

    ``fields`` maps model paths (``"objective"``, ``"sli.errors"``) to where the
    user wrote them; the longest matching prefix locates each error. The SLO's
    ``source`` keeps them, so the catalog's checks name the same places.

    With ``model_keys`` the user's keys are the model's field names (sloplane/v1): the
    rest of the path below the longest written prefix is named under it, so a missing
    field is ``spec.sli.total`` at the line of ``sli``. Other formats spell their keys
    differently, so the path stops at the last field they wrote.
    """
    try:
        slo = SLO.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            if model_keys:
                target = locate(fields, user_loc(err, SLO), where)
            else:
                target = locate(fields, model_path(err, SLO), where, name_rest=False)
            report.problems.append(target.problem(model_error(err, SLO)))
        return None
    places = sorted({**fields, "": where}.items(), key=lambda item: item[0])
    located = Source(
        file=source.file,
        line=source.line,
        format=source.format,
        fields=tuple((path, w.file, w.path, w.line) for path, w in places),
        model_keys=model_keys,
        spec=source.spec,
    )
    return slo.model_copy(update={"source": located})
