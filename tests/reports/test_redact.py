"""Secrets out of stored and returned error texts: URLs shrink to scheme and host."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sloplane.reports.redact import redact

SECRET = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", min_size=8)


@given(secret=SECRET, host=st.sampled_from(["hooks.slack.com", "127.0.0.1:8080", "db"]))
def test_paths_queries_and_passwords_are_dropped(secret: str, host: str) -> None:
    for url in (
        f"https://{host}/services/T0/B0/{secret}",
        f"postgresql://user:{secret}@{host}/sloplane",
        f"http://{host}/api?token={secret}",
    ):
        text = f"Slack webhook {url}: ReadTimeout: timed out"
        shown = redact(text)
        assert secret not in shown
        assert host.split(":")[0] in shown and shown.endswith(": ReadTimeout: timed out")


def test_text_without_urls_is_unchanged() -> None:
    assert redact("SMTP mail:25: connection refused") == "SMTP mail:25: connection refused"
