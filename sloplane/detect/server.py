"""Serving the detector's HTTP app on its own thread, on a socket bound up front."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from sloplane.errors import SloplaneError
from sloplane.listen import parse_listen


def bind(listen: str) -> socket.socket:
    """The listening socket, or a one-line error naming the address."""
    host, port = parse_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        raise SloplaneError(f"cannot listen on {listen}: {exc.strerror or exc}") from exc


class HttpServer:
    """uvicorn on a daemon thread; :meth:`start` returns once it accepts requests."""

    def __init__(self, app: Any, listen: str) -> None:
        import uvicorn

        self.listen = listen
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread: threading.Thread | None = None

    def start(self, sock: socket.socket) -> None:
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [sock]},
            name="sloplane-detect-http",
            daemon=True,
        )
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise SloplaneError(f"the HTTP server on {self.listen} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)
