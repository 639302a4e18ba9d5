"""PromQL helpers shared by the loaders, the validator and the rule compiler.

A user's SLI query comes in one of two shapes, and :func:`window_query` is the one
place that decides which:

* a **template** with Sloth's ``{{.window}}`` placeholder
  (``sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))``): the placeholder
  is replaced by the window and the query is otherwise used as written;
* a **counter expression** without placeholder (OpenSLO, Python SLOs): if it has
  no range selectors, every vector selector is wrapped as
  ``rate(<selector>[<window>])``; if it already has range selectors (or
  subqueries), their ranges are replaced by the window and bare selectors are left
  alone (they are joins or gauges). The result is then summed ``by`` the SLO's
  group labels unless its outermost operation is already an aggregation.

``promql_parser`` validates queries and finds selectors, but its printer loses
escapes and ``or`` matchers, so rewrites are done on the original text with a
small lexer: what the user wrote is kept byte for byte outside the rewritten spans.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import promql_parser

__all__ = [
    "PromQLError",
    "Selector",
    "has_placeholder",
    "node_selector",
    "num",
    "parse_error",
    "render_template",
    "selectors",
    "window_query",
    "windowed",
]

SAMPLE_WINDOW = "5m"

_PLACEHOLDER_RE = re.compile(r"\{\{\s*\.window\s*\}\}")

Selector = tuple[str, list[tuple[str, str, str]]]


class PromQLError(ValueError):
    """A query that does not parse, or that cannot be windowed."""


def num(value: float) -> str:
    """A float as the shortest PromQL literal that round-trips (``0.001``, ``14.4``, ``6``).

    The rules, their unit tests, the dashboards and ``sloplane list`` all print numbers
    with it, so an objective or a factor reads the same everywhere.
    """
    text = format(value, ".12g")
    return text if "e" not in text else repr(value)


def has_placeholder(query: str) -> bool:
    """True if ``query`` is a Sloth-style template using ``{{.window}}``."""
    return bool(_PLACEHOLDER_RE.search(query))


def render_template(query: str, window: str) -> str:
    """Replace every ``{{.window}}`` (spaces inside the braces allowed) with ``window``."""
    return _PLACEHOLDER_RE.sub(window, query)


def parse_error(query: str) -> str | None:
    """The parser's message if ``query`` is not valid PromQL, else None.

    Templates are rendered with a sample window first, so ``{{.window}}`` is fine.
    """
    text = render_template(query, SAMPLE_WINDOW) if has_placeholder(query) else query
    if not text.strip():
        return "empty query"
    try:
        promql_parser.parse(text)
    except BaseException as exc:  # the Rust parser may panic (pyo3 PanicException)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return str(exc).strip() or type(exc).__name__
    return None


def window_query(query: str, window: str, group_by: tuple[str, ...] | list[str] = ()) -> str:
    """The query for one window: the template rendered, or the counter expression windowed."""
    if has_placeholder(query):
        return render_template(query, window)
    template = _window_template(query, tuple(group_by))
    if template is None:
        return windowed(query, window, group_by)
    return template.replace(f"[{_SENTINELS[0]}]", f"[{window}]")


_SENTINELS = ("1111111s", "2222222s")


@functools.lru_cache(maxsize=1 << 16)
def _window_template(query: str, group_by: tuple[str, ...]) -> str | None:
    """``windowed`` with a sentinel window, so each query is parsed and rewritten once.

    Only the ranges depend on the window. None when two sentinels do not give the same
    text (then every window is rewritten directly).
    """
    a, b = (windowed(query, w, group_by) for w in _SENTINELS)
    same = a.replace(f"[{_SENTINELS[0]}]", "\0") == b.replace(f"[{_SENTINELS[1]}]", "\0")
    return a if same else None


def windowed(query: str, window: str, group_by: tuple[str, ...] | list[str] = ()) -> str:
    """Turn a counter expression without placeholder into a rate over ``window``.

    Raises :class:`PromQLError` if the query does not parse.
    """
    error = parse_error(query)
    if error is not None:
        raise PromQLError(error)
    tokens = _lex(query)
    ranged = any(t.kind == "range" for t in tokens)
    edits = _range_edits(tokens, window) if ranged else _wrap_edits(query, tokens, window)
    result = _apply(query, edits).strip()
    result = _aggregate(result, group_by)
    error = parse_error(result)
    if error is not None:  # pragma: no cover - would be a bug in the rewrite
        raise PromQLError(f"cannot window {query!r}: {error}")
    return result


def selectors(query: str) -> list[Selector]:
    """Every vector selector as ``(metric_name, [(label, op, value), ...])``, in query order.

    ``metric_name`` is ``""`` when the selector has no name. Label values are
    unescaped. For selectors with ``or`` matcher groups only the first group is
    returned. Raises :class:`PromQLError` if the query does not parse.
    """
    error = parse_error(query)
    if error is not None:
        raise PromQLError(error)
    text = render_template(query, SAMPLE_WINDOW) if has_placeholder(query) else query
    found: list[Selector] = []

    def visit(node: promql_parser.Expr) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node_selector(node))
        return True

    promql_parser.walk(promql_parser.parse(text), visit)
    return found


_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


def node_selector(node: promql_parser.VectorSelector) -> Selector:
    """``(metric_name, [(label, op, value), ...])`` of one parsed vector selector."""
    matchers = list(node.matchers.matchers)
    if not matchers and node.matchers.or_matchers:
        matchers = list(node.matchers.or_matchers[0])
    name = node.name or ""
    labels: list[tuple[str, str, str]] = []
    for m in matchers:
        op = _OPS.get(str(m.op).rsplit(".", 1)[-1], "=")
        if m.name == "__name__" and op == "=" and not name:
            name = m.value
            continue
        labels.append((m.name, op, m.value))
    return name, labels


# -- a small lexer, enough to find selectors and ranges in the original text -------

_STRING = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`'
_TOKEN_RE = re.compile(
    rf"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<braces>\{{(?:[^{{}}"'`]|{_STRING})*\}})
  | (?P<range>\[[^\]]*\])
  | (?P<string>{_STRING})
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+(?![A-Za-z0-9_:]))
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>==|!=|>=|<=|=~|!~|.)
    """,
    re.VERBOSE | re.DOTALL,
)

_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS = _GROUPING | {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
_AGGREGATORS = {
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int


def _lex(query: str) -> list[_Token]:
    tokens = []
    for match in _TOKEN_RE.finditer(query):
        kind = match.lastgroup or "op"
        if kind != "space":
            tokens.append(_Token(kind, match.group(), match.start(), match.end()))
    return tokens


def _range_edits(tokens: list[_Token], window: str) -> list[tuple[int, int, str]]:
    edits = []
    for t in tokens:
        if t.kind == "range":
            inner = t.text[1:-1]
            step = inner.split(":", 1)[1] if ":" in inner else None
            text = f"[{window}]" if step is None else f"[{window}:{step.strip()}]"
            edits.append((t.start, t.end, text))
    return edits


def _wrap_edits(query: str, tokens: list[_Token], window: str) -> list[tuple[int, int, str]]:
    edits: list[tuple[int, int, str]] = []
    i = 0
    n = len(tokens)
    while i < n:
        t = tokens[i]
        nxt = tokens[i + 1] if i + 1 < n else None
        if t.kind == "ident":
            low = t.text.lower()
            if low in _GROUPING and nxt is not None and nxt.text == "(":
                i = _skip_parens(tokens, i + 1)
                continue
            followed_by_braces = nxt is not None and nxt.kind == "braces"
            # `by{code="5"}` is a metric named "by": keywords never take label braces
            if (low in _KEYWORDS and not followed_by_braces) or (
                nxt is not None and nxt.text == "("
            ):
                i += 1
                continue
            if low in _AGGREGATORS and nxt is not None and nxt.kind == "ident":
                i += 1
                continue
        if t.kind == "op" and t.text == "@":
            i = _skip_at(tokens, i)
            continue
        if t.kind == "ident" or t.kind == "braces":
            start = t.start
            end = t.end
            if t.kind == "ident" and nxt is not None and nxt.kind == "braces":
                end = nxt.end
                i += 1
            i += 1
            mods_end, i = _modifiers(tokens, i)
            selector = query[start:end]
            modifiers = query[end:mods_end] if mods_end > end else ""
            edits.append((start, max(end, mods_end), f"rate({selector}[{window}]{modifiers})"))
            continue
        i += 1
    return edits


def _skip_parens(tokens: list[_Token], i: int) -> int:
    depth = 0
    while i < len(tokens):
        if tokens[i].text == "(":
            depth += 1
        elif tokens[i].text == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def _skip_at(tokens: list[_Token], i: int) -> int:
    i += 1
    if i < len(tokens) and tokens[i].text in "+-":
        i += 1
    if i < len(tokens) and tokens[i].text.lower() in {"start", "end"}:
        return _skip_parens(tokens, i + 1)
    return i + 1


def _modifiers(tokens: list[_Token], i: int) -> tuple[int, int]:
    """Consume ``offset <dur>`` and ``@ <time>`` after a selector; return (end offset, next index)."""
    end = 0
    while i < len(tokens):
        t = tokens[i]
        if t.kind == "ident" and t.text.lower() == "offset":
            j = i + 1
            if j < len(tokens) and tokens[j].text in "+-":
                j += 1
            end = tokens[min(j, len(tokens) - 1)].end
            i = j + 1
        elif t.text == "@":
            j = _skip_at(tokens, i)
            end = tokens[min(j, len(tokens)) - 1].end
            i = j
        else:
            break
    return end, i


def _apply(query: str, edits: list[tuple[int, int, str]]) -> str:
    out = []
    pos = 0
    for start, end, text in sorted(edits):
        out.append(query[pos:start])
        out.append(text)
        pos = end
    out.append(query[pos:])
    return "".join(out)


def _aggregate(query: str, group_by: tuple[str, ...] | list[str]) -> str:
    expr = promql_parser.parse(query)
    while isinstance(expr, promql_parser.ParenExpr):
        expr = expr.expr
    if isinstance(
        expr,
        promql_parser.AggregateExpr | promql_parser.NumberLiteral | promql_parser.StringLiteral,
    ):
        return query
    by = f" by ({', '.join(group_by)}) " if group_by else ""
    closing = "\n)" if "#" in query else ")"  # a trailing comment must not swallow the paren
    candidate = f"sum{by}({query}{closing}"
    return candidate if parse_error(candidate) is None else query
