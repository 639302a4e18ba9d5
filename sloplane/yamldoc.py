"""YAML documents that remember where each mapping and key came from.

Problems must name the line, so mappings load as :class:`LineDict` (a dict that
also knows its own line and the line of each key). Syntax errors and duplicate
keys become :class:`~sloplane.errors.Problem` objects, never exceptions.

Every YAML reader of user input goes through here (SLO files, ``AlertRouting``,
``exporters.yaml``, ``detect.yaml``), so they share one set of limits, checked on
the composed node graph before anything is built from it: a file size, a number of
aliases, a nesting depth, and a number of nodes once aliases are expanded. A
"billion laughs" file is a few hundred bytes whose aliases expand to 10^9 nodes;
PyYAML builds it cheaply as shared objects, but whatever walks the result (pydantic,
the places of every field) walks all of them. Here it is one problem, at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from sloplane.errors import Problem


class LineDict(dict[Any, Any]):
    """A mapping from YAML with ``line`` (1-based, of the mapping) and ``key_lines``."""

    line: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int | None:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence from YAML with the line of the sequence and of each item."""

    line: int | None = None

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.item_lines: list[int] = []

    def line_of(self, index: int) -> int | None:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


#: The largest YAML input read, in bytes: configuration and SLO files are far smaller.
MAX_BYTES = 8 << 20
#: Alias uses (``*name``) in one document; merge keys of shared defaults need a handful.
MAX_ALIASES = 1_000
#: Nesting of mappings and lists.
MAX_DEPTH = 100
#: Nodes in one document with every alias expanded: what a reader of the result walks.
MAX_NODES = 1_000_000


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


class _Limit(yaml.MarkedYAMLError):
    """A document past one of the limits above."""


class _Loader(yaml.SafeLoader):
    """The safe loader, counting aliases and depth while it composes a document."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_document(self) -> Any:
        self._aliases = 0
        return super().compose_document()

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise _Limit(None, None, f"more than {MAX_ALIASES} aliases in a document", mark)
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _Limit(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _check_expansion(root: yaml.Node) -> None:
    """Raise :class:`_Limit` when ``root`` expands (aliases followed) past the limits.

    Sizes are memoised per node, so a graph of shared nodes costs its own size to
    measure, not its expansion. An alias inside its own anchor is a cycle: refused too.
    """
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    open_nodes: set[int] = set()

    def measure(node: yaml.Node) -> tuple[int, int]:
        key = id(node)
        if key in sizes:
            return sizes[key], depths[key]
        if key in open_nodes:
            raise _Limit(None, None, "an alias refers to a node that contains it", node.start_mark)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        open_nodes.add(key)
        size, depth = 1, 0
        for child in children:
            child_size, child_depth = measure(child)
            size += child_size
            depth = max(depth, child_depth)
            if size > MAX_NODES:
                raise _Limit(
                    None,
                    None,
                    f"expands to more than {MAX_NODES:,} values once its aliases are followed",
                    node.start_mark,
                )
        depth += 1
        if depth > MAX_DEPTH:
            raise _Limit(None, None, f"nested more than {MAX_DEPTH} levels deep", node.start_mark)
        open_nodes.discard(key)
        sizes[key], depths[key] = size, depth
        return size, depth

    measure(root)


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> Iterator[LineDict]:
    data = LineDict()
    data.line = node.start_mark.line + 1
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found an unhashable key",
                key_node.start_mark,
            ) from None
        if key in data:
            raise _DuplicateKey(
                None, None, f"duplicate key {key!r} in a mapping", key_node.start_mark
            )
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = key_node.start_mark.line + 1


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> Iterator[LineList]:
    data = LineList()
    data.line = node.start_mark.line + 1
    yield data
    for child in node.value:
        data.append(loader.construct_object(child, deep=True))
        data.item_lines.append(child.start_mark.line + 1)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def type_name(value: Any) -> str:
    """What a YAML value is, in the user's terms: ``a mapping``, ``a list``, ``str 'x'``."""
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"[:80]


def load_documents(text: str, file: str) -> tuple[list[tuple[Any, int]], list[Problem]]:
    """Every document in ``text`` with its first line, or the problem that stopped parsing.

    Documents before a syntax error are returned too, so a later error does not
    hide problems in earlier documents.
    """
    docs: list[tuple[Any, int]] = []
    if len(text) > MAX_BYTES:
        message = f"larger than {MAX_BYTES >> 20} MiB; not read"
        return docs, [Problem(file=file, message=message)]
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:
        return docs, [Problem(file=file, message=f"YAML error: {exc}")]
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there is one
                break
            line = node.start_mark.line + 1
            _check_expansion(node)
            docs.append((loader.construct_document(node), line))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        context = exc.context
        opened = exc.context_mark
        if context and opened is not None and opened.line + 1 != line:
            # "while parsing a flow sequence" is found at the end of the file: say where it began
            context = f"{context} (opened on line {opened.line + 1}):"
        message = " ".join(str(x) for x in (context, exc.problem) if x) or str(exc)
        return docs, [Problem(file=file, line=line, message=f"YAML error: {message}")]
    except yaml.YAMLError as exc:
        return docs, [Problem(file=file, message=f"YAML error: {exc}")]
    except RecursionError:
        return docs, [Problem(file=file, message="YAML error: document is nested too deeply")]
    finally:
        loader.dispose()
    return docs, []


def load_mapping(path: Path, file: str | None = None) -> tuple[LineDict | None, list[Problem]]:
    """A configuration file of one YAML document that is a mapping, or why it is not.

    ``file`` is the name problems show (default: ``path`` as given). An empty file is a
    problem too: it is more often a wrong or truncated file than a wish for every default.
    """
    shown = str(path) if file is None else file
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)  # never more: the limit holds for any file
        if len(raw) > MAX_BYTES:
            return None, [
                Problem(file=shown, message=f"larger than {MAX_BYTES >> 20} MiB; not read")
            ]
        text = raw.decode("utf-8")
    except FileNotFoundError:
        return None, [Problem(file=shown, message="no such file or directory")]
    except UnicodeDecodeError as exc:
        return None, [Problem(file=shown, message=f"not UTF-8 text: {exc.reason}")]
    except OSError as exc:
        return None, [Problem(file=shown, message=f"cannot read: {exc.strerror or exc}")]
    docs, problems = load_documents(text, shown)
    if problems:
        return None, problems
    if len(docs) > 1:
        extra = docs[1][1]
        message = f"expected one YAML document, found {len(docs)} (a second one starts here)"
        return None, [Problem(file=shown, line=extra, message=message)]
    if not docs or docs[0][0] is None:
        message = "the file is empty: expected a mapping of settings (write {} for all defaults)"
        return None, [Problem(file=shown, message=message)]
    data, line = docs[0]
    if not isinstance(data, LineDict):
        message = f"expected a mapping of settings at the top level, got {type_name(data)}"
        return None, [Problem(file=shown, line=line, message=message)]
    return data, []
