"""Times in documents: Unix seconds for programs, RFC 3339 in UTC beside them for people.

Every time the API and the reports return is Unix seconds (exact, easy to compute with);
each also has an ``<name>_rfc3339`` twin derived from it, so nobody has to convert
``1794315000.0`` by hand, and the two can never disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(t: float | None) -> str | None:
    """``2026-11-10T12:50:00Z`` (milliseconds when the time has them); None stays None."""
    if t is None:
        return None
    moment = datetime.fromtimestamp(t, tz=UTC)
    spec = "seconds" if moment.microsecond == 0 else "milliseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")
