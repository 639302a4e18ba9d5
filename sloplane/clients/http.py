"""When a failed HTTP call to a backend is worth repeating, and how long to wait first.

Only idempotent reads are retried, and only for failures that a second attempt can
cure: the connection could not be made or broke, or a proxy or the backend said it is
briefly unavailable. A slow answer (a read timeout) is not retried: the same query
would be just as slow, and repeating it doubles the load on a backend that is already
struggling.
"""

from __future__ import annotations

import httpx

RETRYABLE_STATUS = frozenset({502, 503, 504})
"""Bad gateway, unavailable, gateway timeout: a proxy or a restarting backend."""

_RETRYABLE_ERRORS = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
)


def retryable_error(exc: httpx.HTTPError) -> bool:
    """True for a connection that failed or broke; False for a timeout or a bad request."""
    return isinstance(exc, _RETRYABLE_ERRORS)


def backoff(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): 0.1, 0.2, 0.4 ... at most 1."""
    return float(min(0.1 * 2**attempt, 1.0))


def describe(exc: httpx.HTTPError) -> str:
    """One line for an httpx failure; some (e.g. a refused connection) have an empty text."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text or 'connection failed'}"
