"""What the services say about an SLO before their own numbers: a projection of the model.

Every API document and report row about one SLO starts with the same facts, taken
from the :class:`~sloplane.slo.model.SLO` alone: which SLO it is (id, service, name,
team) and what it promises (objective, window). The API's status and the weekly
report's rows extend :class:`SLOFacts`. The API's summary carries the same facts but
extends only :class:`SLOIdentity`: its field order puts the description between the
identity and the target, and pydantic lays out inherited fields first.

These are response models, so their field names and order are part of the API's
contract (see ``sloplane/api/schemas.py``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from sloplane.slo.model import SLO


class SLOIdentity(BaseModel):
    """Which SLO a document is about."""

    id: str
    service: str
    name: str
    team: str | None

    @classmethod
    def fields_from(cls, slo: SLO) -> dict[str, Any]:
        """This model's fields for ``slo``, as keyword arguments for any model extending it."""
        return {"id": slo.id, "service": slo.service, "name": slo.name, "team": slo.team}


class SLOFacts(SLOIdentity):
    """Which SLO, and its target: the objective as a ratio and the window as a duration."""

    objective: float
    window: str

    @classmethod
    def fields_from(cls, slo: SLO) -> dict[str, Any]:
        return {
            **super().fields_from(slo),
            "objective": slo.objective,
            "window": slo.window_text,
        }
