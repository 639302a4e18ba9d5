"""What a webhook receiver can rely on: ``Sloplane-Signature`` covers the time, the
idempotency key and the body, and ages out; the body-only ``X-Sloplane-Signature`` is
deprecated and sent only when a hook asks for it (``legacy_signature: true``)."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sloplane.detect import hooks, signing
from sloplane.detect.config import WebhookHook, parse_config
from sloplane.detect.service import run_service
from sloplane.errors import SpecError
from tests.support.standins import Answer, scripted_server

SECRET = b"s3cret"


def _post(monkeypatch: pytest.MonkeyPatch, **hook: Any) -> tuple[dict[str, str], bytes]:
    """One webhook call to a loopback receiver; the headers and body it received."""
    monkeypatch.setenv("HOOK_SECRET", SECRET.decode())
    with scripted_server(lambda _req: Answer(body=b"{}")) as receiver:
        spec = WebhookHook(kind="webhook", url=receiver.url, secret_env="HOOK_SECRET", **hook)
        hooks.run_webhook(spec, {"action": "rollback", "target": "api"}, "rollback-1")
    (call,) = receiver.requests
    return call.headers, call.body


def test_only_the_current_signature_is_sent_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    headers, body = _post(monkeypatch)
    assert hooks.LEGACY_HEADER not in headers
    stamp = signing.verify(SECRET, headers[signing.HEADER], "rollback-1", body, now=time.time())
    assert abs(stamp - time.time()) < 60


def test_the_legacy_signature_is_opt_in_and_signs_the_body_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers, body = _post(monkeypatch, legacy_signature=True)
    assert headers[hooks.LEGACY_HEADER] == hooks.legacy_sign(SECRET, body)
    # still signed the current way too: a receiver can move over before the switch goes
    assert signing.verify(SECRET, headers[signing.HEADER], "rollback-1", body, now=time.time())


def test_detect_serve_warns_that_the_legacy_signature_is_deprecated(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    config = parse_config(
        {
            "database": f"sqlite:///{tmp_path / 'd.db'}",
            "listen": "127.0.0.1:1",
            "alertmanager": {"url": None},
            "actions": [
                {
                    "name": "rollback",
                    "hook": {
                        "kind": "webhook",
                        "url": "http://127.0.0.1:1/hook",
                        "secret_env": "HOOK_SECRET",
                        "legacy_signature": True,
                    },
                }
            ],
        }
    )

    class Stop(Exception):
        pass

    def refuse(*_args: Any, **_kw: Any) -> None:
        raise Stop  # the warning comes before the service starts: stop there

    monkeypatch.setattr("sloplane.detect.service.Service", refuse)
    monkeypatch.setattr("sloplane.detect.service.configure_logging", lambda _level: None)
    with caplog.at_level(logging.WARNING, logger="sloplane"), pytest.raises(Stop):
        run_service(config)
    assert "Action rollback: legacy_signature is deprecated" in caplog.text


@given(
    body=st.binary(max_size=200),
    # an Idempotency-Key is a header value: visible ASCII
    key=st.text(
        st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=","),
        min_size=1,
        max_size=30,
    ),
    stamp=st.integers(min_value=10**9, max_value=2 * 10**9),
    shift=st.integers(min_value=1, max_value=int(signing.TOLERANCE)),
)
def test_the_signature_covers_time_key_and_body(
    body: bytes, key: str, stamp: int, shift: int
) -> None:
    """Each of the three signed parts, changed alone, breaks the signature: a captured
    call cannot be given a fresh time, another key, or another body."""
    header = signing.sign(SECRET, stamp, key, body)
    assert signing.verify(SECRET, header, key, body, now=stamp) == stamp
    v1 = header.partition(",v1=")[2]
    fresh = f"t={stamp + shift},v1={v1}"  # a replay with its timestamp moved into the window
    with pytest.raises(signing.SignatureError, match="no v1 signature matches"):
        signing.verify(SECRET, fresh, key, body, now=stamp + shift)
    with pytest.raises(signing.SignatureError, match="no v1 signature matches"):
        signing.verify(SECRET, header, key + "x", body, now=stamp)
    with pytest.raises(signing.SignatureError, match="no v1 signature matches"):
        signing.verify(SECRET, header, key, body + b"x", now=stamp)


def test_a_replay_after_the_window_is_refused() -> None:
    header = signing.sign(SECRET, 1_700_000_000, "k", b"{}")
    late = 1_700_000_000 + signing.TOLERANCE + 1
    with pytest.raises(signing.SignatureError, match="a replay or a wrong clock"):
        signing.verify(SECRET, header, "k", b"{}", now=late)


def test_the_legacy_signature_without_a_secret_is_one_line() -> None:
    hook = {"kind": "webhook", "url": "http://127.0.0.1:1/hook", "legacy_signature": True}
    with pytest.raises(SpecError) as info:
        parse_config({"actions": [{"name": "rollback", "hook": hook}]}, "detect.yaml")
    (line,) = str(info.value).splitlines()
    assert line.startswith("detect.yaml: action 'rollback': field 'hook.legacy_signature': ")
    assert "needs secret_env" in line
