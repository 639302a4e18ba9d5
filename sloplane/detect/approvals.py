"""Telling approvers that an action waits for them (a Slack incoming webhook)."""

from __future__ import annotations

import logging
import os
from typing import Any

import httpx

from sloplane.detect.config import ActionConfig, ApprovalConfig

log = logging.getLogger("sloplane.detectors")


def announce(approval: ApprovalConfig, approval_id: int, a: ActionConfig, trigger: str) -> None:
    """Post to Slack; a failed post is logged, the approval still waits."""
    url = os.environ.get(approval.slack_webhook_env) if approval.slack_webhook_env else None
    if not url:
        return
    try:
        r = httpx.post(
            url,
            json=approval_message(approval_id, a, trigger, approval.public_url),
            timeout=5.0,
        )
    except httpx.HTTPError as exc:
        log.warning("The Slack announcement of approval #%d failed: %s.", approval_id, exc)
        return
    if r.status_code >= 300:
        log.warning(
            "The Slack announcement of approval #%d was refused: HTTP %d %s.",
            approval_id,
            r.status_code,
            r.text[:200],
        )


def approval_message(
    approval_id: int, a: ActionConfig, trigger: str, public_url: str | None
) -> dict[str, Any]:
    """A Slack incoming-webhook message naming the action, its target and how to decide."""
    base = public_url.rstrip("/") if public_url else ""
    path = f"/v1/detectors/approvals/{approval_id}"
    text = (
        f"sloplane wants to run *{a.name}* on `{a.target_key}` ({trigger}).\n"
        f"Approve: `POST {base}{path}/approve`  Reject: `POST {base}{path}/reject` "
        "(with the API bearer token)"
    )
    return {"text": text}
