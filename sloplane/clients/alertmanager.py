"""The one client for AlertManager's API v2: post and list alerts, manage silences.

``sloplane alertmanager`` uses it from the command line and the detector service posts
its findings through it (an outbox keeps the JSON of each batch: :meth:`post_alerts`
sends it again as it was). Reads are retried once when the connection failed or a proxy
said AlertManager is briefly unavailable; writes are not (a silence posted twice is two
silences). Every failure becomes a :class:`~sloplane.errors.BackendError` naming the URL
and AlertManager's answer.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from sloplane.clients.http import RETRYABLE_STATUS, backoff, describe, retryable_error
from sloplane.errors import BackendError


def iso_time(moment: dt.datetime | float) -> str:
    """RFC 3339 in UTC with microseconds, as AlertManager wants it (a naive time is UTC)."""
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.fromtimestamp(moment, tz=dt.UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Alert:
    """An alert to post. ``ends_at`` in the past resolves it: a resolved alert is the same
    alert with ``ends_at`` now. Times are datetimes or unix seconds."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)
    starts_at: dt.datetime | float | None = None
    ends_at: dt.datetime | float | None = None
    generator_url: str = ""

    def to_json(self) -> dict[str, Any]:
        """The postable alert; labels and annotations sorted, so equal alerts are equal JSON."""
        out: dict[str, Any] = {
            "labels": dict(sorted(self.labels.items())),
            "annotations": dict(sorted(self.annotations.items())),
        }
        if self.starts_at is not None:
            out["startsAt"] = iso_time(self.starts_at)
        if self.ends_at is not None:
            out["endsAt"] = iso_time(self.ends_at)
        if self.generator_url:
            out["generatorURL"] = self.generator_url
        return out


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.is_regex,
            "isEqual": self.is_equal,
        }

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """``name=value``, ``name!=value``, ``name=~regex`` or ``name!~regex``."""
        for op, regex, equal in (("!~", True, False), ("=~", True, True), ("!=", False, False)):
            if op in text:
                name, value = text.split(op, 1)
                return cls(name.strip(), _unquote(value), regex, equal)
        if "=" not in text:
            raise BackendError(
                f"matcher {text!r} is not name=value, name!=value, name=~re or name!~re"
            )
        name, value = text.split("=", 1)
        return cls(name.strip(), _unquote(value))

    def __str__(self) -> str:
        op = (
            ("=" if self.is_equal else "!=")
            if not self.is_regex
            else ("=~" if self.is_equal else "!~")
        )
        return f'{self.name}{op}"{self.value}"'


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


class AlertmanagerClient:
    """AlertManager API v2 at ``url`` (e.g. ``http://alertmanager:9093``)."""

    def __init__(
        self,
        url: str,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        *,
        retries: int = 1,
    ) -> None:
        self.url = url.rstrip("/")
        self.retries = retries
        self._http = httpx.Client(
            base_url=f"{self.url}/api/v2", timeout=timeout, transport=transport
        )

    def __enter__(self) -> AlertmanagerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self._send(method, path, **kwargs)
        if resp.status_code >= 400:
            detail = resp.text.strip()[:300]
            raise BackendError(
                f"AlertManager {method} {path} answered {resp.status_code}: {detail}"
            )
        try:
            return resp.json() if resp.content else None
        except ValueError:
            raise BackendError(
                f"AlertManager {method} {path} answered {resp.status_code} with a body that "
                f"is not JSON: {resp.text[:200]!r}"
            ) from None

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; a GET is repeated when a retry can cure the failure."""
        attempt = 0
        while True:
            again = method == "GET" and attempt < self.retries
            try:
                resp = self._http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                if not (again and retryable_error(exc)):
                    raise BackendError(
                        f"AlertManager at {self.url} is unreachable: {describe(exc)}"
                    ) from exc
            else:
                if not (again and resp.status_code in RETRYABLE_STATUS):
                    return resp
            time.sleep(backoff(attempt))
            attempt += 1

    def status(self) -> dict[str, Any]:
        return dict(self._request("GET", "/status"))

    def post_alerts(self, alerts: Sequence[Alert | Mapping[str, Any]]) -> None:
        """Post alerts: :class:`Alert` objects or postable JSON kept from an earlier batch."""
        body = [a.to_json() if isinstance(a, Alert) else dict(a) for a in alerts]
        self._request("POST", "/alerts", json=body)

    def alerts(
        self,
        matchers: Sequence[Matcher] = (),
        active: bool = True,
        silenced: bool = True,
        inhibited: bool = True,
        receiver: str | None = None,
    ) -> list[dict[str, Any]]:
        params: list[tuple[str, str]] = [
            ("active", _bool(active)),
            ("silenced", _bool(silenced)),
            ("inhibited", _bool(inhibited)),
            *(("filter", str(m)) for m in matchers),
        ]
        if receiver:
            params.append(("receiver", receiver))
        return list(self._request("GET", "/alerts", params=params))

    def silences(self, matchers: Sequence[Matcher] = ()) -> list[dict[str, Any]]:
        params = [("filter", str(m)) for m in matchers]
        return list(self._request("GET", "/silences", params=params))

    def create_silence(
        self,
        matchers: Sequence[Matcher],
        duration: dt.timedelta,
        comment: str,
        created_by: str = "sloplane",
        starts_at: dt.datetime | None = None,
    ) -> str:
        """Create a silence and return its id."""
        if not matchers:
            raise BackendError("a silence needs at least one matcher")
        start = starts_at or dt.datetime.now(dt.UTC)
        body = {
            "matchers": [m.to_json() for m in matchers],
            "startsAt": iso_time(start),
            "endsAt": iso_time(start + duration),
            "createdBy": created_by,
            "comment": comment,
        }
        return str(self._request("POST", "/silences", json=body)["silenceID"])

    def expire_silence(self, silence_id: str) -> None:
        self._request("DELETE", f"/silence/{silence_id}")


def _bool(value: bool) -> str:
    return "true" if value else "false"
