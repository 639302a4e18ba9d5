"""Errors a user can act on.

Every problem with user input is reported as a :class:`Problem` that names the
file, the line where known, the object (usually an SLO id) and the field. The CLI
prints problems one per line and exits non-zero; it never shows a traceback for a
:class:`SloplaneError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the user's input, located as precisely as we can."""

    file: str = ""
    line: int | None = None
    obj: str = ""
    field: str = ""
    message: str = ""

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        parts = [where]
        if self.obj:
            parts.append(self.obj)
        if self.field:
            parts.append(f"field {self.field!r}")
        return ": ".join(parts) + f": {self.message}"

    def sort_key(self) -> tuple[str, int, str, str, str]:
        """Report order: by file, line (unknown first), object, field and message.

        The dataclass order cannot do it: it would compare a missing line (None) with a number.
        """
        return (self.file, self.line or 0, self.obj, self.field, self.message)


class SloplaneError(Exception):
    """Base class of errors the CLI reports without a traceback."""


class SpecError(SloplaneError):
    """One or more problems in SLO (or other) definitions."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = sorted(set(problems), key=Problem.sort_key)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self) -> tuple[type[SpecError], tuple[list[Problem]]]:
        # Exceptions pickle their message by default; a worker process must
        # hand back the problems themselves (benchmarks, process pools).
        return (type(self), (self.problems,))


class BackendError(SloplaneError):
    """A backend (Prometheus, AlertManager, Grafana, a database) failed or is unreachable."""
