"""Local stand-ins for PagerDuty's Events API v2 and Slack incoming webhooks.

They validate each request against the documented formats (and answer like the
real services, 202/200 on success, 400 with a reason otherwise), and record every
request so tests can assert on what AlertManager sent.

PagerDuty: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
Slack: https://api.slack.com/messaging/webhooks and the legacy attachment fields.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tests.support.processes import free_port


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PDLink(_Model):
    href: str = Field(min_length=1)
    text: str | None = None


class PDImage(_Model):
    src: str = Field(min_length=1)
    href: str | None = None
    alt: str | None = None


class PDPayload(_Model):
    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1)
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: str | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")
    custom_details: dict[str, Any] | None = None


class PagerDutyEvent(_Model):
    """An Events API v2 event, as PagerDuty validates it."""

    routing_key: str = Field(min_length=1)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, max_length=255)
    payload: PDPayload | None = None
    images: list[PDImage] = Field(default_factory=list)
    links: list[PDLink] = Field(default_factory=list)
    client: str | None = None
    client_url: str | None = None

    @model_validator(mode="after")
    def _rules(self) -> PagerDutyEvent:
        if self.event_action == "trigger" and self.payload is None:
            raise ValueError("payload is required for trigger events")
        if self.event_action != "trigger" and not self.dedup_key:
            raise ValueError("dedup_key is required to acknowledge or resolve")
        return self


class SlackField(_Model):
    title: str
    value: str
    short: bool = False


class SlackAction(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str


class SlackAttachment(BaseModel):
    """Legacy attachment (what AlertManager sends); Slack ignores unknown keys."""

    model_config = ConfigDict(extra="allow")
    fallback: str | None = None
    color: str | None = None
    pretext: str | None = None
    title: str | None = None
    title_link: str | None = None
    text: str | None = None
    fields: list[SlackField] = Field(default_factory=list)
    actions: list[SlackAction] = Field(default_factory=list)
    mrkdwn_in: list[str] = Field(default_factory=list)


class SlackMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    text: str | None = None
    channel: str | None = None
    username: str | None = None
    icon_emoji: str | None = None
    icon_url: str | None = None
    link_names: bool | None = None
    attachments: list[SlackAttachment] = Field(default_factory=list)
    blocks: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_content(self) -> SlackMessage:
        if not (self.text or self.attachments or self.blocks):
            raise ValueError("no_text")
        return self


@dataclass
class Received:
    path: str
    body: Any
    valid: bool
    error: str = ""
    at: float = field(default_factory=time.time)


@dataclass
class StandIn:
    """A running stand-in; ``requests`` holds everything it received, valid or not."""

    url: str
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def valid(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.valid]

    def invalid(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if not r.valid]

    def wait_for(self, predicate: Callable[[Received], bool], timeout: float) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in self.valid():
                if predicate(r):
                    return r
            time.sleep(0.1)
        raise AssertionError(
            f"nothing matching arrived at {self.url} within {timeout}s; got {self.requests!r}"
        )


def _handler(
    stand_in: StandIn, validate: Callable[[Any], tuple[int, bytes]]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            ctype = self.headers.get("Content-Type", "")
            try:
                if "application/json" not in ctype:
                    raise ValueError(f"Content-Type {ctype!r} is not application/json")
                body = json.loads(raw)
                status, answer = validate(body)
                record = Received(self.path, body, True)
            except (ValueError, ValidationError) as exc:
                status, answer = (
                    400,
                    json.dumps({"status": "invalid event", "message": str(exc)}).encode(),
                )
                record = Received(self.path, raw.decode(errors="replace"), False, str(exc))
            with stand_in.lock:
                stand_in.requests.append(record)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _pagerduty(body: Any) -> tuple[int, bytes]:
    event = PagerDutyEvent.model_validate(body)
    answer = {"status": "success", "message": "Event processed", "dedup_key": event.dedup_key}
    return 202, json.dumps(answer).encode()


def _slack(body: Any) -> tuple[int, bytes]:
    SlackMessage.model_validate(body)
    return 200, b'"ok"'


@contextlib.contextmanager
def _serve(validate: Callable[[Any], tuple[int, bytes]], path: str) -> Iterator[StandIn]:
    port = free_port()
    stand_in = StandIn(f"http://127.0.0.1:{port}{path}")
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(stand_in, validate))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def pagerduty_receiver() -> contextlib.AbstractContextManager[StandIn]:
    """PagerDuty Events API v2 stand-in; its ``url`` is the ``/v2/enqueue`` endpoint."""
    return _serve(_pagerduty, "/v2/enqueue")


def slack_receiver() -> contextlib.AbstractContextManager[StandIn]:
    """Slack incoming-webhook stand-in; its ``url`` is a webhook URL."""
    return _serve(_slack, "/services/T0000/B0000/XXXXXXXX")
