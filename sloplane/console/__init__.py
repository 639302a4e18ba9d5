"""The web console of ``sloplane serve``: server-rendered pages under ``/ui/``.

The console owns no data. Every page is built from the API's own JSON routes, called
in-process through :class:`httpx.ASGITransport` with the visitor's token, so each number
on a page is the API's number and refactors of :mod:`sloplane.api` cannot bend it.
Only :func:`mount_console` is imported by the API's app factory.
"""

from __future__ import annotations

from sloplane.console.mount import mount_console

__all__ = ["mount_console"]
