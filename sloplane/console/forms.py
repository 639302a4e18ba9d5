"""The console's forms: log in, log out, generate a report, approve or reject an action.

Each is a POST with a CSRF token; the admin ones re-check the visitor's scope with the
API and answer 403 to anyone else, whatever the page showed.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from sloplane.console import detectors
from sloplane.console.render import (
    SECURITY_HEADERS,
    ApiFailed,
    Forbidden,
    Page,
    q,
    secure,
    with_params,
)
from sloplane.console.session import (
    NONCE_COOKIE,
    TOKEN_COOKIE,
    TOKEN_MAX_AGE,
    clear_cookie,
    role_of,
    set_cookie,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
MaybeStr = Annotated[str | None, Form(max_length=500)]
V1 = "/api/v1"


@router.post("/reports/generate")
async def generate_report(
    request: Request, scope: MaybeStr = None, week: MaybeStr = None, csrf: MaybeStr = None
) -> Response:
    page = await admin_form(request, csrf)
    if not scope or not week:
        return page.render(
            "message.html",
            status_code=422,
            title="Missing input",
            message="Choose a scope and a week.",
        )
    answer = await page.console.api.post(f"{V1}/reports/{q(scope)}/{q(week)}", page.visitor.token)
    if not answer.ok:
        raise ApiFailed(answer, f"the report for {scope} {week}", verb="generate")
    return page.finish(
        RedirectResponse(
            with_params("/ui/reports", done=f"generated {scope} {week}"), status_code=303
        )
    )


async def admin_form(request: Request, csrf: str | None) -> Page:
    """The checks of every admin form: a valid CSRF token, then the admin scope (403)."""
    page = await Page.of(request)
    if not page.check_csrf(csrf):
        raise Forbidden(
            page, "The form expired or did not come from this console; reload and retry."
        )
    if not page.visitor.is_admin:
        raise Forbidden(page, "This needs an admin token.")
    return page


@router.post("/decisions/{approval_id}/{verdict}")
async def decide(
    request: Request, approval_id: int, verdict: str, csrf: MaybeStr = None
) -> Response:
    page = await admin_form(request, csrf)
    if verdict not in ("approve", "reject"):
        return page.render(
            "message.html", status_code=404, title="Not found", message="Use approve or reject."
        )
    ok, detail = await detectors.decide(page.console.settings, approval_id, verdict)
    if not ok:
        return page.render(
            "message.html", status_code=502, title="The detector service refused", message=detail
        )
    return page.finish(
        RedirectResponse(
            with_params("/ui/decisions", done=f"#{approval_id}: {detail}"), status_code=303
        )
    )


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    page = await Page.of(request)
    return page.render("login.html", next=safe_next(next), error=None)


def safe_next(target: str | None) -> str:
    """Only a console path: never an open redirect to another site."""
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/"


@router.post("/login")
async def login(
    request: Request,
    token: Annotated[str, Form(max_length=500)] = "",
    next: MaybeStr = None,
    csrf: MaybeStr = None,
) -> Response:
    page = await Page.of(request)
    if not page.check_csrf(csrf):
        raise Forbidden(
            page, "The form expired or did not come from this console; reload and retry."
        )
    token = token.strip()
    if await role_of(page.console.api, token) not in ("admin", "read"):
        return page.render(
            "login.html", status_code=401, next=safe_next(next), error="Unknown or revoked token."
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(response, TOKEN_COOKIE, token, secure(request), TOKEN_MAX_AGE)
    # a fresh nonce at each login: a form token seen before login is worth nothing after
    set_cookie(response, NONCE_COOKIE, secrets.token_urlsafe(24), secure(request), TOKEN_MAX_AGE)
    response.headers.update(SECURITY_HEADERS)
    return response


@router.post("/logout")
async def logout(request: Request, csrf: MaybeStr = None) -> Response:
    page = await Page.of(request)
    if not page.check_csrf(csrf):
        raise Forbidden(
            page, "The form expired or did not come from this console; reload and retry."
        )
    response = RedirectResponse("/ui/login", status_code=303)
    clear_cookie(response, TOKEN_COOKIE, secure(request))
    response.headers.update(SECURITY_HEADERS)
    return response
