"""Problems located in the user's files, and pydantic errors in sloplane's words.

Every reader of user input (the SLO loaders, ``AlertRouting``, ``detect.yaml``,
``exporters.yaml``) names a problem the same way: the file, the line, the object
and the field as the user wrote it (``slos[0].sli.events.error_query``,
``spec.teams.payments.pagerduty.routing_key_file``), with the same words
(``missing``, ``unknown field 'x' (did you mean 'y'?)``). This module holds those
shared pieces: :class:`Where` (a position), :func:`places_of` (every key of a YAML
document, with its line), :func:`locate` (a model path to a position) and
:func:`model_error` (a pydantic error as one message).
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from sloplane.errors import Problem
from sloplane.yamldoc import LineDict, LineList

Loc = Sequence[str | int]


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


def unknown_field(key: Any, known: Sequence[str]) -> str:
    """``unknown field 'objectiv' (did you mean 'objective'?)``: the same words for every format."""
    return f"unknown field {key!r}{did_you_mean(key, known)}"


def did_you_mean(key: Any, known: Sequence[str]) -> str:
    """`` (did you mean 'objective'?)`` for the closest of ``known``, or nothing."""
    hint = difflib.get_close_matches(str(key), list(known), n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""


# --- positions in a YAML document ----------------------------------------------------------


def places_of(
    data: Any, where: Where, prefix: str = "", *, into_lists: bool = True
) -> dict[str, Where]:
    """Model paths -> positions, for every key (and list item) the user wrote below ``where``.

    For formats whose keys are the model's field names: ``{"teams": {"payments": ...}}``
    under ``spec`` gives ``"teams.payments"`` -> ``spec.teams.payments`` at that key's line.
    List items are keyed by index (``"times.0"`` -> ``times[0]``).
    """
    out: dict[str, Where] = {}
    items: list[tuple[str | int, Any]]
    if isinstance(data, Mapping):
        items = [(k, v) for k, v in data.items() if isinstance(k, str)]
    elif isinstance(data, list) and into_lists:
        items = list(enumerate(data))
    else:
        return out
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        child = where.child(key, data)
        out[path] = child
        out.update(places_of(value, child, path, into_lists=into_lists))
    return out


def named_places(data: Any, file: str, objects: Mapping[str, str]) -> dict[str, Where]:
    """:func:`places_of` a whole config file, with the items of some collections as objects.

    ``objects`` maps a top-level key to what its items are called: ``{"watches": "watch"}``
    reports ``watches[0].threshold`` as ``watch 'checkout': field 'threshold'``. A list
    item is named by its ``name``, else by its index; a mapping entry by its key.
    """
    root = Where(file, line=data.line if isinstance(data, LineDict) else None)
    places = places_of(data, root)
    if not isinstance(data, Mapping):
        return places
    for key, kind in objects.items():
        items = data.get(key)
        entries: list[tuple[str | int, Any]]
        if isinstance(items, list):
            entries = list(enumerate(items))
        elif isinstance(items, Mapping):
            entries = [(k, v) for k, v in items.items() if isinstance(k, str)]
        else:
            continue
        at = root.child(key, data)
        for index, item in entries:
            name = index if isinstance(index, str) else None
            if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                name = item["name"]
            obj = f"{kind} {name!r}" if name else f"{key}[{index}]"
            item_where = Where(file, obj, "", at.child(index, items).line)
            places[f"{key}.{index}"] = item_where
            places.update(places_of(item, item_where, f"{key}.{index}"))
    return places


def locate(
    places: Mapping[str, Where], loc: Loc, default: Where, *, name_rest: bool = True
) -> Where:
    """Where the field at model path ``loc`` is (or would be) written.

    The longest prefix of ``loc`` the user wrote gives the line. With ``name_rest`` (the
    user's keys are the model's field names) the rest of the path is named under it, so a
    missing field is ``spec.teams.payments.pagerduty.routing_key_file`` at the line of
    ``pagerduty``; formats that spell keys differently stop at the last key they wrote.
    Nothing written: the whole path under ``default``. The one lookup for every reader.
    """
    where, n = default, 0
    for size in range(len(loc), 0, -1):
        found = places.get(".".join(str(p) for p in loc[:size]))
        if found is not None:
            where, n = found, size
            break
    if n and not name_rest:
        return where
    for part in loc[n:]:
        where = where.child(part)
    return where


def validation_problems(
    exc: ValidationError,
    model: type[BaseModel],
    places: Mapping[str, Where],
    default: Where,
    prefix: Loc = (),
) -> list[Problem]:
    """One located problem per pydantic error of ``model`` (whose data sits at ``prefix``)."""
    return [
        locate(places, [*prefix, *user_loc(err, model)], default).problem(model_error(err, model))
        for err in exc.errors()
    ]


# --- pydantic errors -----------------------------------------------------------------------


def model_path(err: ErrorDetails, model: type[BaseModel] | None) -> list[str]:
    """The error's field path as the user wrote it: union tags (``sli.events``) left out."""
    return [str(x) for x in user_loc(err, model)]


def user_loc(err: ErrorDetails, model: type[BaseModel] | None) -> list[str | int]:
    """The error's ``loc`` without the parts pydantic adds for a union: the member's tag.

    ``modules.pg.postgres.pasword`` is ``modules.pg.pasword`` in the file; which parts are
    tags follows from ``model``, so a module named ``postgres`` keeps its name. A bad or
    missing tag is an error of the tag's own field (``modules.pg.kind``).
    """
    out: list[str | int] = []
    current: list[Any] = [model] if model is not None else []
    for part in err["loc"]:
        current, is_tag = _step(current, part)
        if not is_tag:
            out.append(part)
    if err["type"] in _TAG_ERRORS:
        out.append(str((err.get("ctx") or {}).get("discriminator", "kind")).strip("'"))
    return out


_TAG_ERRORS = ("union_tag_invalid", "union_tag_not_found")

# pydantic's type errors, in the words of the YAML loaders' own checks ("expected text, got
# a list"). The value itself is not repeated: it may be a password given unquoted.
_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
}


def model_error(err: ErrorDetails, model: type[BaseModel] | None) -> str:
    """A pydantic error in the loaders' words; unknown fields and kinds get a "did you mean"."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden" and err["loc"] and model is not None:
        return unknown_field(err["loc"][-1], fields_at(model, err["loc"][:-1]))
    if kind in ("missing", "union_tag_not_found"):
        return "missing"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_kind_of(err.get('input'))}"
    if kind == "union_tag_invalid":
        tag = ctx.get("tag")
        tags = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
        return f"unknown kind {tag!r}{did_you_mean(tag, tags)}; the kinds are {', '.join(tags)}"
    if kind == "literal_error":
        value = err.get("input")
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        shown = repr(value) if isinstance(value, str | int | float | bool) else _kind_of(value)
        return f"expected {ctx.get('expected')}, got {shown}{hint}"
    return _clean(err["msg"])


def _kind_of(value: Any) -> str:
    """What kind of value the user gave, without the value (``text``, ``a list``)."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "empty text" if not value else "text"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names (aliases where set) of the model(s) found at ``loc`` inside ``model``."""
    current: list[Any] = [model]
    for part in loc:
        current, _ = _step(current, part)
    names = {info.alias or name for m in _models(current) for name, info in m.model_fields.items()}
    return sorted(names)


def _step(annotations: list[Any], part: str | int) -> tuple[list[Any], bool]:
    """The types found at ``part`` inside any of ``annotations``, and whether ``part`` is the
    tag pydantic adds for a member of a union of models (``kind`` value or class name)."""
    members = [m for a in annotations for m in _members(a)]
    models = _models(members)
    if isinstance(part, str) and len(models) > 1:
        tagged = [m for m in models if part in _tags(m) or part == m.__name__]
        if tagged:
            return tagged, True
    inner: list[Any] = []
    for member in members:
        if _is_model(member):
            for name, info in member.model_fields.items():
                if part in (name, info.alias):
                    inner.append(info.annotation)
            continue
        origin, args = typing.get_origin(member), typing.get_args(member)
        if isinstance(part, int) and origin in _SEQUENCES and args:
            fixed = origin is tuple and args[-1] is not Ellipsis and part < len(args)
            inner.append(args[part] if fixed else args[0])
        elif origin in _MAPPINGS and len(args) == 2:
            inner.append(args[1])
    return inner, False


_SEQUENCES = (list, tuple, set, frozenset, Sequence)
_MAPPINGS = (dict, Mapping)


def _members(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _models(annotations: list[Any]) -> list[type[BaseModel]]:
    return [m for a in annotations for m in _members(a) if _is_model(m)]


def _tags(model: type[BaseModel]) -> tuple[Any, ...]:
    """The values of the model's ``kind`` literal: its tag in a discriminated union."""
    info = model.model_fields.get("kind")
    if info is None:
        return ()
    return tuple(
        value
        for member in _members(info.annotation)
        if typing.get_origin(member) is Literal
        for value in typing.get_args(member)
    )


def _clean(message: str) -> str:
    return re.sub(r"^(Value error|Assertion failed), ", "", message)
