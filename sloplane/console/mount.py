"""The one hook the API's app factory calls: mount the console under ``/ui/``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from sloplane.api.settings import ApiSettings
from sloplane.console import charts, views
from sloplane.console.apiclient import ApiClient
from sloplane.console.session import Csrf
from sloplane.console.settings import ConsoleSettings

HERE = Path(__file__).parent


@dataclass
class Console:
    api: ApiClient
    templates: Jinja2Templates
    csrf: Csrf
    settings: ConsoleSettings
    open_reads: bool


def mount_console(
    app: FastAPI, settings: ApiSettings, console: ConsoleSettings | None = None
) -> None:
    """Routes under ``/ui``, static files under ``/ui/static`` and the in-process API client."""
    from sloplane.console import forms, routes
    from sloplane.console.render import install_handlers

    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters.update(views.FILTERS)
    templates.env.globals.update(
        budget_bar=charts.budget_bar,
        coverage=views.coverage_short,
        coverage_ratio=views.coverage_ratio,
    )
    app.state.sloplane_console = Console(
        api=ApiClient(app),
        templates=templates,
        csrf=Csrf(),
        settings=console or ConsoleSettings.from_env(),
        open_reads=settings.open_reads,
    )
    app.include_router(routes.router)
    app.include_router(forms.router)
    install_handlers(app)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="console-static")
