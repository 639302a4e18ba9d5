"""Times in documents: Unix seconds for programs, RFC 3339 in UTC beside them for people.

Every time the API and the reports return is Unix seconds (exact, easy to compute with);
each also has an ``<name>_rfc3339`` twin derived from it, so nobody has to convert
``1794315000.0`` by hand, and the two can never disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, computed_field


def rfc3339(t: float | None) -> str | None:
    """``2026-11-10T12:50:00Z`` (milliseconds when the time has them); None stays None."""
    if t is None:
        return None
    moment = datetime.fromtimestamp(t, tz=UTC)
    spec = "seconds" if moment.microsecond == 0 else "milliseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


class SpanTimes(BaseModel):
    """The RFC 3339 twins of a document's ``start`` and ``end`` (Unix seconds).

    Subclasses declare ``start`` and ``end`` themselves, where they belong in their
    field order; this base only derives the twins, once for every such document.
    """

    if TYPE_CHECKING:
        start: float
        end: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def start_rfc3339(self) -> str | None:
        """``start`` as an RFC 3339 time in UTC."""
        return rfc3339(self.start)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def end_rfc3339(self) -> str | None:
        """``end`` as an RFC 3339 time in UTC."""
        return rfc3339(self.end)
