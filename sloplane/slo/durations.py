"""Prometheus-style durations (``5m``, ``1h30m``, ``30d``): the one parser of the project.

Two faces share one grammar. SLO windows are whole seconds (:func:`parse_duration`), so
window arithmetic is exact and the same SLO always renders the same duration strings.
Service timings (steps, timeouts, cooldowns) may be fractional or in milliseconds
(:func:`parse_seconds`), and a bare number there means seconds.
"""

from __future__ import annotations

import re
from typing import Any

_UNITS: dict[str, float] = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
}
_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


class DurationError(ValueError):
    """A duration string that is not a Prometheus duration we accept."""


def _parts(text: str) -> list[tuple[str, str]] | None:
    """``[(number, unit), ...]`` when the whole of ``text`` is duration parts, else None."""
    parts = _PART_RE.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return parts


def parse_duration(text: str) -> int:
    """Return the number of whole seconds in ``text`` (``"30d"``, ``"1h30m"``)."""
    cleaned = text.strip()
    parts = _parts(cleaned)
    if parts is None or any("." in n or u == "ms" for n, u in parts):
        raise DurationError(
            f"invalid duration {text!r}: use a number followed by s, m, h, d or w, e.g. 30d or 1h30m"
        )
    return sum(int(n) * int(_UNITS[u]) for n, u in parts)


def parse_seconds(value: Any) -> float:
    """Seconds from a number or a duration such as ``250ms``, ``1.5s``, ``5m`` or ``1h30m``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    parts = _parts(text)
    if parts is None:
        raise DurationError(f"not a duration: {value!r} (use e.g. 30s, 5m, 1h)")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def format_duration(seconds: int) -> str:
    """Render seconds as the shortest compound duration Prometheus accepts (``5400`` -> ``1h30m``)."""
    if seconds <= 0:
        raise DurationError(f"duration must be positive, got {seconds}s")
    parts: list[str] = []
    remaining = seconds
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
