"""Rendering a console page: the common context, security headers, and API errors as pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from sloplane.console.apiclient import ApiAnswer
from sloplane.console.mount import Console
from sloplane.console.session import NONCE_COOKIE, Visitor, nonce_of, set_cookie, visitor_of

# No inline script or style anywhere: scripts and styles come from /ui/static only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "connect-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class LoginRequired(Exception):
    """The API answered 401: send the visitor to the login page."""


class ApiFailed(Exception):
    """The API refused or failed: shown as "Could not <verb> <what>" with its detail."""

    def __init__(self, answer: ApiAnswer, what: str, verb: str = "read") -> None:
        super().__init__(f"{what}: {answer.status} {answer.detail}")
        self.answer = answer
        self.what = what
        self.verb = verb


def console_of(request: Request) -> Console:
    console: Console = request.app.state.sloplane_console
    return console


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def q(part: str) -> str:
    """One path segment of an API or console URL (an SLO id, a scope)."""
    return quote(part, safe="")


Param = str | list[str] | None


def with_params(path: str, **params: Param) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")}, doseq=True)
    return f"{path}?{query}" if query else path


class Page:
    """One request's view of the console: who the visitor is, and the API as them."""

    def __init__(self, request: Request, console: Console, visitor: Visitor) -> None:
        self.request = request
        self.console = console
        self.visitor = visitor
        self.nonce, self.new_nonce = nonce_of(request)
        self.at = request.query_params.get("at") or None

    @classmethod
    async def of(cls, request: Request) -> Page:
        console = console_of(request)
        visitor = await visitor_of(request, console.api, console.open_reads)
        return cls(request, console, visitor)

    def require_read(self) -> None:
        if not self.visitor.can_read:
            raise LoginRequired

    async def get(self, path: str, what: str, **params: Param) -> Any:
        """The API's JSON for ``path`` (``at`` passed through), or a clear error page."""
        if self.at and "at" not in params:
            params["at"] = self.at
        query = {k: v for k, v in params.items() if v is not None}
        answer = await self.console.api.get(path, self.visitor.token, query)
        if answer.status == 401:
            raise LoginRequired
        if not answer.ok:
            raise ApiFailed(answer, what)
        return answer.body

    async def try_get(self, path: str, **params: Param) -> ApiAnswer:
        """Like :meth:`get` for what the API may not offer: the caller degrades on failure."""
        if self.at and "at" not in params:
            params["at"] = self.at
        query = {k: v for k, v in params.items() if v is not None}
        return await self.console.api.get(path, self.visitor.token, query)

    def link(self, path: str, **params: Param) -> str:
        """A console URL keeping ``at`` (the time the pages look at); ``link('')`` is just
        the query string, for templates that build many links."""
        return with_params(path, at=self.at, **params)

    def render(self, template: str, status_code: int = 200, **context: Any) -> Response:
        ctx = {
            "request": self.request,
            "visitor": self.visitor,
            "csrf": self.console.csrf.token_for(self.nonce),
            "at": self.at,
            "link": self.link,
            "detectors": self.console.settings.detector_url is not None,
            **context,
        }
        response = self.console.templates.TemplateResponse(
            self.request, template, ctx, status_code=status_code
        )
        return self.finish(response)

    def finish(self, response: Response) -> Response:
        if self.new_nonce:
            set_cookie(response, NONCE_COOKIE, self.nonce, secure(self.request), 12 * 3600)
        response.headers.update(SECURITY_HEADERS)
        return response

    def check_csrf(self, given: str | None) -> bool:
        return self.console.csrf.check(self.request.cookies.get(NONCE_COOKIE), given)


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(with_params("/ui/login", next=target), status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response


class Forbidden(Exception):
    """A form the visitor may not send (no CSRF token, or not an admin): a 403 page."""

    def __init__(self, page: Page, message: str) -> None:
        super().__init__(message)
        self.page = page
        self.message = message


def install_handlers(app: Any) -> None:
    """Login redirects, API failures and refusals as console pages (only console code raises them)."""

    async def on_login(request: Request, exc: Exception) -> Response:
        return login_redirect(request)

    async def on_failed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiFailed)
        page = await Page.of(request)
        status = exc.answer.status if exc.answer.status in (403, 404, 422, 503) else 502
        return page.render(
            "message.html",
            status_code=status,
            title=f"Could not {exc.verb} {exc.what}",
            message=f"The API answered {exc.answer.status}: {exc.answer.detail}",
        )

    async def on_forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Forbidden)
        return exc.page.render(
            "message.html", status_code=403, title="Forbidden", message=exc.message
        )

    app.add_exception_handler(LoginRequired, on_login)
    app.add_exception_handler(ApiFailed, on_failed)
    app.add_exception_handler(Forbidden, on_forbidden)
