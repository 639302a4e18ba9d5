"""Secrets out of every text that is stored or shown: URLs reduced to scheme and host.

A Slack webhook's secret is its path, a database or backend URL may carry a password,
and a query string may carry a token. Error texts that end up in the database (a report
run's ``error``) or in an API answer pass through :func:`redact` first, so a read-scope
caller learns which system failed and why, never how to call it.
"""

from __future__ import annotations

import re

_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*)://([^\s/?#'\"<>]+)([^\s'\"<>]*)")


def _host(netloc: str) -> str:
    return netloc.rpartition("@")[2]


def redact(text: str) -> str:
    """Every URL in ``text`` as ``scheme://host[:port]`` (+ ``/…`` when it had more)."""

    def short(m: re.Match[str]) -> str:
        tail = m.group(3)
        kept = tail.rstrip(".,:;)")  # punctuation after a URL belongs to the sentence
        rest = "/…" if kept not in ("", "/") else ""
        return f"{m.group(1)}://{_host(m.group(2))}{rest}{tail[len(kept) :]}"

    return _URL.sub(short, text)


def redact_url(url: str) -> str:
    """One URL as :func:`redact` shows it (for messages that name a configured endpoint)."""
    return redact(url)
