"""Reading the audit log: every action decision the detector service made, and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from sloplane.detect.store import DecisionRow, Store


@dataclass(frozen=True)
class Decision:
    id: int
    at: float
    action: str
    target: str
    trigger: str
    outcome: str
    reason: str
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_decisions(
    store: Store,
    *,
    action: str | None = None,
    target: str | None = None,
    outcome: str | None = None,
    since: float | None = None,
    limit: int = 100,
) -> list[Decision]:
    """Most recent decisions first, optionally filtered."""
    q = select(DecisionRow).order_by(DecisionRow.id.desc()).limit(max(1, min(limit, 10_000)))
    if action:
        q = q.where(DecisionRow.action == action)
    if target:
        q = q.where(DecisionRow.target == target)
    if outcome:
        q = q.where(DecisionRow.outcome == outcome)
    if since is not None:
        q = q.where(DecisionRow.at >= since)
    with store.session() as s:
        return [
            Decision(
                r.id,
                r.at,
                r.action,
                r.target,
                r.trigger,
                r.outcome,
                r.reason,
                dict(r.details or {}),
            )
            for r in s.scalars(q)
        ]
