"""The console in real Chromium against ``sloplane serve`` and Prometheus with history.

Every number checked here is read from the page's ``data-value`` (the exact value next to
the rounded one) and compared with what the API answers for the same time.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.api.dataset import ALERT_END, ALERT_START
from tests.console.conftest import ADMIN, AT, AT_FIRING, Detector, Server, login, shot

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def values(page: Any, selector: str) -> list[float | None]:
    texts = page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.value)")
    return [float(t) if t else None for t in texts]


def same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (
        a is not None and b is not None and math.isclose(a, b, rel_tol=0, abs_tol=0)
    )


def statuses(server: Server, at: str = AT) -> dict[str, dict[str, Any]]:
    groups = server.api("/api/v1/services", at=at)
    return {s["id"]: s for g in groups for s in g["statuses"]}


def test_reads_need_a_login_and_logout_ends_it(context: Any, server: Server) -> None:
    page = context.new_page()
    page.goto(f"{server.url}/ui/?at={AT}")
    assert "/ui/login" in page.url
    page.fill("#token", "slp_not-a-token")
    page.click("form.login button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "Unknown or revoked token."
    login(page, server, ADMIN)
    (cookie,) = [c for c in context.cookies() if c["name"] == "sloplane_token"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    assert page.locator("[data-role]").inner_text() == "admin"
    page.click("header form button")
    assert "/ui/login" in page.url
    assert not [c for c in context.cookies() if c["name"] == "sloplane_token"]
    page.goto(f"{server.url}/ui/")
    assert "/ui/login" in page.url


def test_list_numbers_equal_the_api_worst_first(context: Any, server: Server) -> None:
    page = context.new_page()
    login(page, server, ADMIN)
    page.goto(f"{server.url}/ui/?at={AT}")
    api = statuses(server)
    ids = page.eval_on_selector_all("tr[data-slo]", "els => els.map(e => e.dataset.slo)")
    assert sorted(ids) == sorted(api)
    for field, get in (
        ("sli", lambda s: s["sli"]),
        ("remaining", lambda s: s["error_budget"]["remaining_ratio"]),
        ("burn", lambda s: s["current_burn_rate"]),
        ("objective", lambda s: s["objective"]),
    ):
        shown = values(page, f"tr[data-slo] [data-field={field}]")
        assert all(same(v, get(api[i])) for i, v in zip(ids, shown, strict=True)), field
    shown_status = page.eval_on_selector_all(
        "tr[data-slo] [data-status]", "els => els.map(e => e.dataset.status)"
    )
    assert shown_status == [api[i]["status"] for i in ids]
    rank = {"breached": 0, "at_risk": 1, "insufficient_data": 2, "no_data": 3, "ok": 4}
    assert [rank[s] for s in shown_status] == sorted(rank[s] for s in shown_status)
    # the dataset gives every status
    assert {"ok", "at_risk", "breached", "no_data"} <= set(shown_status)
    # filters live in the URL
    page.select_option("select[name=status]", "breached")
    page.click("form.filters button")
    assert "status=breached" in page.url and f"at={quote(AT)}" in page.url.replace(":", "%3A")
    shown_status = page.eval_on_selector_all(
        "tr[data-slo] [data-status]", "els => els.map(e => e.dataset.status)"
    )
    assert shown_status and set(shown_status) == {"breached"}
    # sorting by a column keeps the filter
    page.click("thead a:text('SLO')")
    assert "sort=name" in page.url and "status=breached" in page.url


def test_slo_page_numbers_links_and_what_if(context: Any, server: Server) -> None:
    page = context.new_page()
    login(page, server, ADMIN)
    page.goto(f"{server.url}/ui/?at={AT}")
    page.click("a[href*='/ui/slos/checkout-availability-tight']")
    assert page.url.startswith(f"{server.url}/ui/slos/checkout-availability-tight")
    st = server.api("/api/v1/slos/checkout-availability-tight/status", at=AT)
    facts = "#facts"
    assert same(values(page, f"{facts} [data-field=sli]")[0], st["sli"])
    assert same(
        values(page, f"{facts} [data-field=remaining]")[0], st["error_budget"]["remaining_ratio"]
    )
    assert same(
        values(page, f"{facts} [data-field=total_minutes]")[0], st["error_budget"]["total_minutes"]
    )
    assert page.locator("h1 [data-status]").get_attribute("data-status") == st["status"]
    longs = values(page, "#burn-table [data-field=long]")
    assert all(same(v, b["long_burn_rate"]) for v, b in zip(longs, st["burn_rates"], strict=True))
    # charts drawn from the history, with the objective and thresholds
    assert page.locator("svg.chart polyline.series").count() >= 3
    assert page.locator("svg.chart line.hline.objective").count() == 1
    # what if: the control runs (the only script) and recomputes the status from the page
    assert page.locator("#whatif").is_visible()
    assert page.locator("#whatif-status").inner_text() == "At risk"
    page.fill("#whatif-objective", "99.9")
    assert page.locator("#whatif-status").inner_text() == "Breached"
    # the same requests at 99.9% are checkout-availability-strict: the API's own numbers
    strict = server.api("/api/v1/slos/checkout-availability-strict/status", at=AT)
    assert st["source"] == strict["source"]  # both read the same source queries
    left = strict["error_budget"]["remaining_ratio"]
    assert page.locator("#whatif-remaining").inner_text().startswith(f"{left * 100:.2f}%")
    page.fill("#whatif-objective", "99")
    assert page.locator("#whatif-status").inner_text() == "OK"
    page.fill("#whatif-objective", "99.75")
    remaining = st["error_budget"]["remaining_ratio"]
    assert page.locator("#whatif-remaining").inner_text().startswith(f"{remaining * 100:.2f}%")
    # follow the service link to the service page, then the team
    page.click(".crumbs a[href*='/ui/services/checkout']")
    group = server.api("/api/v1/services/checkout", at=AT)
    for key in ("slos", "breached", "at_risk", "ok"):
        assert page.locator(f"dl.facts [data-field={key}]").inner_text() == str(group[key])
    page.click("tbody a[href*='/ui/teams/payments']")
    team = server.api("/api/v1/teams/payments", at=AT)
    assert page.locator("dl.facts [data-field=slos]").inner_text() == str(team["slos"])


def test_firing_alerts_now_and_the_definition(context: Any, server: Server) -> None:
    page = context.new_page()
    login(page, server, ADMIN)
    page.goto(f"{server.url}/ui/slos/checkout-availability?at={AT_FIRING}")
    st = server.api("/api/v1/slos/checkout-availability/status", at=AT_FIRING)
    assert st["firing_alerts"]
    names = page.locator("#alerts-h + p .alert").all_inner_texts()
    assert names == [f"{a['alertname']} ({a['severity']})" for a in st["firing_alerts"]]
    page.goto(f"{server.url}/ui/slos/shop-availability-by-job?at={AT}")
    defn = server.api("/api/v1/slos/shop-availability-by-job/definition")
    assert page.locator("[data-field=source_file]").inner_text().startswith(defn["source_file"])
    assert page.locator("[data-field=error_ratio_query]").inner_text() == defn["error_ratio_query"]
    shown = page.locator("[data-field=alert_names] li").all_inner_texts()
    assert shown == defn["alert_names"]


GROUP_RANK = {"breached": 0, "at_risk": 1, "insufficient_data": 2, "ok": 3, "no_data": 4}


def test_grouped_slo_lists_every_group_worst_first_with_links(context: Any, server: Server) -> None:
    """The groups table equals ``GET /api/v1/slos/{id}/groups``: every group, in the API's
    worst-first order, each number exact; a group's link opens its own history."""
    page = context.new_page()
    login(page, server, ADMIN)
    page.goto(f"{server.url}/ui/?at={AT}")
    page.click("a[href*='/ui/slos/shop-availability-by-job']")
    api = server.api("/api/v1/slos/shop-availability-by-job/groups", at=AT)
    # the dataset's four jobs, one breached, one at risk, two ok
    assert sorted(g["group"]["job"] for g in api) == ["api", "batch", "cart", "web"]
    assert [g["status"] for g in api] == ["breached", "at_risk", "ok", "ok"]
    ranks = [(GROUP_RANK[g["status"]], g["error_budget"]["remaining_ratio"]) for g in api]
    assert ranks == sorted(ranks)  # worst first: status, then the least budget left
    rows = page.locator("#group-table tr[data-group]")
    assert rows.evaluate_all("els => els.map(e => e.dataset.group)") == [
        f"job={g['group']['job']}" for g in api
    ]
    for field, get in (
        ("sli", lambda g: g["sli"]),
        ("remaining", lambda g: g["error_budget"]["remaining_ratio"]),
        ("burn", lambda g: g["current_burn_rate"]),
    ):
        shown = values(page, f"#group-table [data-field={field}]")
        assert all(same(v, get(g)) for v, g in zip(shown, api, strict=True)), field
    shown_status = page.eval_on_selector_all(
        "#group-table [data-status]", "els => els.map(e => e.dataset.status)"
    )
    assert shown_status == [g["status"] for g in api]
    # the SLO's own status is the worst group's, named on the page
    assert page.locator("#facts [data-field=group]").inner_text() == "job=batch"
    # each group links to its own history; follow the at-risk one
    links = rows.locator("th a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert len(links) == len(api) and all("group=job%3D" in h for h in links)
    page.click("#group-table tr[data-group='job=cart'] th a")
    assert "group=job%3Dcart" in page.url and "at=" in page.url
    assert page.locator("[data-field=chosen-group]").inner_text() == "job=cart"
    assert page.locator("#group-table tr.chosen").get_attribute("data-group") == "job=cart"
    end = datetime.fromisoformat(AT.replace("Z", "+00:00")).timestamp()
    history = server.api(
        "/api/v1/slos/shop-availability-by-job/history",
        start=iso(end - 30 * 86400),
        end=iso(end),
        group="job=cart",
    )
    assert history["group"] == {"job": "cart"}
    # the chart's last point is the group's own budget left at the end of the window
    last = history["points"][-1]["budget_remaining_ratio"]
    (cart,) = [g for g in api if g["group"] == {"job": "cart"}]
    assert math.isclose(last, cart["error_budget"]["remaining_ratio"], rel_tol=0.05)
    shot(page, "slo-grouped-chosen")


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def test_reports_generate_list_and_open(context: Any, server: Server) -> None:
    page = context.new_page()
    login(page, server, ADMIN)
    page.goto(f"{server.url}/ui/reports")
    page.fill("#generate input[name=scope]", "all")
    page.fill("#generate input[name=week]", "2026-W46")
    page.click("#generate button")
    assert "done=" in page.url
    listed = server.api("/api/v1/reports")
    rows = page.eval_on_selector_all("tr[data-report]", "els => els.map(e => e.dataset.report)")
    assert rows == [f"{r['scope']}/{r['week']}" for r in listed]
    page.click("tr[data-report='all/2026-W46'] a")
    frame = page.frame_locator("iframe.report")
    assert "2026-W46" in frame.locator("body").inner_text()


def test_firing_intervals_come_from_alerts(context: Any, server: Server) -> None:
    """The SLO page's intervals are the API's ``/alerts`` over the page's window (30 days
    to AT), read from the backfilled ``ALERTS`` (firing 12:02 .. 13:00 on 2026-11-10)."""
    end = datetime.fromisoformat(AT.replace("Z", "+00:00")).timestamp()
    api = server.api(
        "/api/v1/slos/checkout-availability/alerts", start=iso(end - 30 * 86400), end=iso(end)
    )
    step = api["step"]
    assert step == 236  # 30 days in one request under the client's point limit
    (only,) = api["intervals"]
    assert (only["alertname"], only["severity"]) == ("CheckoutAvailabilityErrorBudgetBurn", "page")
    assert ALERT_START <= only["start"] < ALERT_START + step
    # the last sample is seen for Prometheus' 5 minute lookback (backfilled: no staleness)
    assert ALERT_END < only["end"] <= ALERT_END + 300 + step and not only["ongoing"]
    page = context.new_page()
    login(page, server, ADMIN)
    page.goto(f"{server.url}/ui/slos/checkout-availability?at={AT}")
    items = page.locator("[data-field=intervals] li")
    assert items.count() == 1
    assert float(items.first.get_attribute("data-start")) == only["start"]
    assert float(items.first.get_attribute("data-end")) == only["end"]
    assert items.first.inner_text().startswith("CheckoutAvailabilityErrorBudgetBurn (page): ")
    assert "2026-11-10 12:0" in items.first.inner_text()
    assert values(page, "[data-field=step]") == [step]
    assert page.locator("svg.chart rect.bar-bad").count() == 1  # the timeline's one bar
    # an SLO whose alerts never fired says so, from the same source
    page.goto(f"{server.url}/ui/slos/search-availability?at={AT}")
    assert page.locator("[data-field=intervals] li").all_inner_texts() == [
        "No alert fired in this window."
    ]
    assert page.locator("[data-field=intervals-source]").is_visible()


def test_read_only_token_sees_no_admin_controls_and_cannot_post(
    context: Any, server: Server
) -> None:
    page = context.new_page()
    login(page, server, server.read_token)
    assert page.locator("[data-role]").inner_text() == "read"
    page.goto(f"{server.url}/ui/reports")
    assert page.locator("#generate").count() == 0
    page.goto(f"{server.url}/ui/decisions")
    assert page.locator("button.approve, button.reject").count() == 0
    csrf = page.locator("header form input[name=csrf]").get_attribute("value")
    for path, form in (
        ("/ui/reports/generate", {"scope": "all", "week": "2026-W46", "csrf": csrf}),
        ("/ui/decisions/1/reject", {"csrf": csrf}),
    ):
        r = page.request.post(f"{server.url}{path}", form=form)
        assert r.status == 403, path
    # and without the CSRF token even an admin is refused
    page2 = context.new_page()
    login(page2, server, ADMIN)
    r = page2.request.post(
        f"{server.url}/ui/reports/generate", form={"scope": "all", "week": "2026-W46"}
    )
    assert r.status == 403


def watch_errors(page: Any) -> list[str]:
    """Console errors (a CSP violation is one) and uncaught script errors of ``page``."""
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


PAGES = {
    "list": f"/ui/?at={AT}",
    "slo": f"/ui/slos/checkout-availability-tight?at={AT}",
    "slo-firing": f"/ui/slos/checkout-availability?at={AT_FIRING}",
    "slo-grouped": f"/ui/slos/shop-availability-by-job?at={AT}",
    "services": f"/ui/services?at={AT}",
    "team": f"/ui/teams/payments?at={AT}",
    "reports": "/ui/reports",
    "report": "/ui/reports/all/2026-W46",
    "decisions": "/ui/decisions",
    "login": "/ui/login",
}


def test_every_page_has_a_strict_csp_no_inline_code_and_screenshots(
    browser: Any, server: Server
) -> None:
    """Light, dark and phone: each page loads, raises no CSP violation and is captured."""
    httpx.post(
        f"{server.url}/api/v1/reports/all/2026-W46",
        headers={"authorization": f"Bearer {ADMIN}"},
        timeout=120,
    ).raise_for_status()
    for theme, width, height in (("light", 1280, 900), ("dark", 1280, 900), ("phone", 390, 844)):
        ctx = browser.new_context(
            viewport={"width": width, "height": height},
            color_scheme="dark" if theme == "dark" else "light",
            is_mobile=theme == "phone",
        )
        try:
            page = ctx.new_page()
            problems = watch_errors(page)
            login(page, server, ADMIN)
            for name, path in PAGES.items():
                response = page.goto(f"{server.url}{path}")
                assert response is not None and response.status == 200, name
                csp = response.headers["content-security-policy"]
                assert "script-src 'self'" in csp and "unsafe-inline" not in csp
                html = page.content()
                assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), name
                assert " style=" not in html, name
                shot(page, f"{name}-{theme}")
            assert problems == []
            if theme == "light":  # printed: no navigation, no forms, charts kept
                page.emulate_media(media="print")
                for name in ("list", "slo"):
                    page.goto(f"{server.url}{PAGES[name]}")
                    assert not page.locator("header.top nav").is_visible()
                    assert not page.locator("form.filters, #whatif").first.is_visible()
                    shot(page, f"{name}-print")
        finally:
            ctx.close()


# Last: it decides the only pending approval, which the screenshots above show.
def test_admin_approves_a_pending_rollback(
    context: Any, server: Server, detector: Detector
) -> None:
    page = context.new_page()
    login(page, server, ADMIN)
    page.goto(f"{server.url}/ui/decisions")
    refused = page.locator("tr.outcome-refused")
    assert refused.count() >= 1 and refused.first.locator("td").last.inner_text()
    (pending,) = httpx.get(f"{detector.url}/v1/detectors/approvals", timeout=10).json()
    row = page.locator(f"tr[data-approval='{pending['id']}']")
    row.locator("button.approve").click()
    assert "done=" in page.url
    assert "approved" in page.locator("[role=status]").inner_text()
    assert httpx.get(f"{detector.url}/v1/detectors/approvals", timeout=10).json() == []
    outcomes = [
        d["outcome"] for d in httpx.get(f"{detector.url}/v1/detectors/decisions", timeout=10).json()
    ]
    assert outcomes[0] == "executed"
