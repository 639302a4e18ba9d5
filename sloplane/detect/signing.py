"""Webhook signatures that a receiver can check for origin, integrity and freshness.

The scheme is Stripe's and Slack's: the signed text is the timestamp, the
idempotency key and the body joined by dots, so a captured call cannot be
replayed later (the timestamp is too old) nor re-labelled with another key::

    Sloplane-Signature: t=1700000000,v1=<hex HMAC-SHA256(secret, "1700000000.<key>.<body>")>

A receiver recomputes ``v1`` over the raw body, compares in constant time, refuses a
``t`` further than its tolerance from its own clock, and drops a key it has already
processed. :func:`verify` does all but the last.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Sloplane-Signature"
#: Seconds either side of the receiver's clock a signature stays acceptable.
TOLERANCE = 300.0


class SignatureError(ValueError):
    """The signature is missing, malformed, wrong, or outside the tolerance window."""


def signed_text(timestamp: int, idempotency_key: str, body: bytes) -> bytes:
    return f"{timestamp}.{idempotency_key}.".encode() + body


def sign(secret: bytes, timestamp: int, idempotency_key: str, body: bytes) -> str:
    """The header value for one attempt: ``t=<unix seconds>,v1=<hex>``."""
    mac = hmac.new(secret, signed_text(timestamp, idempotency_key, body), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: bytes,
    header: str,
    idempotency_key: str,
    body: bytes,
    now: float,
    tolerance: float = TOLERANCE,
) -> int:
    """Check a ``Sloplane-Signature`` header; returns its timestamp or raises SignatureError."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(name, []).append(value)
    stamps = fields.get("t", [])
    if len(stamps) != 1 or not stamps[0].isdigit():
        raise SignatureError("no timestamp t=<unix seconds> in the signature")
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance:
        raise SignatureError(
            f"timestamp {timestamp} is {abs(now - timestamp):.0f}s from now "
            f"(tolerance {tolerance:g}s): a replay or a wrong clock"
        )
    expected = sign(secret, timestamp, idempotency_key, body).partition(",v1=")[2]
    if not any(hmac.compare_digest(expected, given) for given in fields.get("v1", [])):
        raise SignatureError("no v1 signature matches the body and idempotency key")
    return timestamp
