"""Prometheus-style durations (``5m``, ``1h30m``, ``30d``) as whole seconds.

SLO windows are stored as integer seconds so that window arithmetic is exact and
the same SLO always renders the same duration strings.
"""

from __future__ import annotations

import re

_UNITS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION_RE = re.compile(r"^(?:\d+[smhdw])+$")
_PART_RE = re.compile(r"(\d+)([smhdw])")


class DurationError(ValueError):
    """A duration string that is not a Prometheus duration we accept."""


def parse_duration(text: str) -> int:
    """Return the number of seconds in ``text`` (``"30d"``, ``"1h30m"``)."""
    cleaned = text.strip()
    if not _DURATION_RE.match(cleaned):
        raise DurationError(
            f"invalid duration {text!r}: use a number followed by s, m, h, d or w, e.g. 30d or 1h30m"
        )
    return sum(int(n) * _UNITS[u] for n, u in _PART_RE.findall(cleaned))


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
