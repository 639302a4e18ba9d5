"""Delivery of a rendered report: files on disk, a Slack message, an email over SMTP."""

from __future__ import annotations

import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import httpx

from sloplane.clients.http import describe
from sloplane.errors import BackendError
from sloplane.reports.model import Report
from sloplane.reports.redact import redact, redact_url
from sloplane.reports.render import headline


@dataclass(frozen=True)
class Delivery:
    out_dir: Path | None = None
    slack_webhook: str | None = None
    link_base: str | None = None  # where the API serves reports, for the Slack/email link
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "sloplane@localhost"
    smtp_to: tuple[str, ...] = ()


def file_stem(report: Report) -> str:
    return f"slo-report-{report.week}-{report.scope.replace(':', '-').replace('/', '-')}"


def write_files(report: Report, rendered: dict[str, str], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt, text in sorted(rendered.items()):
        path = out_dir / f"{file_stem(report)}.{fmt}"
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)  # atomic: a rerun replaces, readers never see half a file
        paths.append(path)
    return paths


def report_link(report: Report, link_base: str | None) -> str | None:
    if not link_base:
        return None
    return f"{link_base.rstrip('/')}/api/v1/reports/{report.scope}/{report.week}?format=html"


def slack_payload(report: Report, link: str | None) -> dict[str, object]:
    lines = [f"*{headline(report)}*"]
    for s in report.slos:
        mark = (
            ":white_check_mark:"
            if s.week_met
            else (":x:" if s.week_met is False else ":grey_question:")
        )
        sli = "n/a" if s.week_sli is None else f"{s.week_sli * 100:.3f}%"
        left = (
            "n/a" if s.budget_remaining_ratio is None else f"{s.budget_remaining_ratio * 100:.1f}%"
        )
        lines.append(
            f"{mark} {s.id}: SLI {sli} (objective {s.objective * 100:g}%), budget left {left}"
        )
    if link:
        lines.append(f"<{link}|Full report>")
    return {"text": "\n".join(lines)}


def send_slack(report: Report, webhook: str, link: str | None, timeout: float = 10.0) -> None:
    """POST the summary; errors name the webhook's host only (its path is the secret).

    ``timeout`` bounds the whole call (connect, send and the answer), not each read, so
    a webhook that trickles bytes cannot hold a delivery longer."""
    shown = redact_url(webhook)
    try:
        with httpx.Client(timeout=timeout) as http:
            resp = _post_within(http, webhook, slack_payload(report, link), timeout)
    except httpx.HTTPError as exc:
        raise BackendError(f"Slack webhook {shown}: {redact(describe(exc))}") from None
    if resp.status_code >= 300:
        body = redact(" ".join(resp.text[:200].split()))
        raise BackendError(f"Slack webhook {shown}: HTTP {resp.status_code} {body}".strip())


def _post_within(
    http: httpx.Client, url: str, payload: dict[str, object], timeout: float
) -> httpx.Response:
    deadline = time.monotonic() + timeout
    with http.stream("POST", url, json=payload) as resp:
        body = b""
        for chunk in resp.iter_bytes():
            body += chunk
            if time.monotonic() > deadline or len(body) > 65536:
                raise httpx.ReadTimeout("the answer did not end in time", request=resp.request)
        return httpx.Response(resp.status_code, content=body, request=resp.request)


def send_email(report: Report, rendered: dict[str, str], d: Delivery, link: str | None) -> None:
    assert d.smtp_host
    msg = EmailMessage()
    msg["Subject"] = f"SLO report {report.week} ({report.scope})"
    msg["From"] = d.smtp_from
    msg["To"] = ", ".join(d.smtp_to)
    msg.set_content(rendered["md"] + (f"\nFull report: {link}\n" if link else ""))
    msg.add_alternative(rendered["html"], subtype="html")
    try:
        with smtplib.SMTP(d.smtp_host, d.smtp_port, timeout=30) as smtp:
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise BackendError(f"SMTP {d.smtp_host}:{d.smtp_port}: {exc}") from None


def deliver(report: Report, rendered: dict[str, str], d: Delivery) -> list[Path]:
    link = report_link(report, d.link_base)
    paths = write_files(report, rendered, d.out_dir) if d.out_dir else []
    if d.slack_webhook:
        send_slack(report, d.slack_webhook, link)
    if d.smtp_host and d.smtp_to:
        send_email(report, rendered, d, link)
    return paths
