"""The serving process of ``sloplane exporter``: validated settings in, nothing else loaded.

Why a second process image: the command line (click), the YAML reader and the config
schema (pydantic) cost more memory than the Go exporters sloplane's exporter is measured
against use in all, and none of them is needed once the config is checked. So
``sloplane exporter`` (:mod:`.cli`) validates ``exporters.yaml``, binds the listening
socket (a taken port is reported as a config error, before anything starts), and then
replaces itself with this module through ``exec``: same PID, so service managers and
``kill`` see one process. The validated :mod:`.settings` dataclasses travel in an
anonymous memory file (``memfd_create``, pickled: both ends are this same program) and
the socket as an inherited descriptor. The new image starts without ``site``
(``python -S``) on the parent's ``sys.path``, so no ``.pth`` hooks load either.
``tests/exporters/test_lazy_imports.py`` pins what the serving process never imports.

Where ``memfd_create`` is missing (not Linux), :func:`serve` runs in the first process.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import NoReturn

import sloplane
from sloplane import logs
from sloplane.exporters.exporter import Exporter
from sloplane.exporters.server import ExporterServer
from sloplane.exporters.settings import ExporterConfig


def configure_logging(level: str) -> None:
    # pika logs ERRORs with tracebacks for every refused connection and warns on every
    # passive declare of a missing queue; the metrics and our one WARNING line say it.
    logs.configure(level, silent=("pika",))


def listening_socket(address: tuple[str, int]) -> socket.socket:
    """Bound and listening, as the HTTP server would make it (raises OSError)."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(ExporterServer.request_queue_size)
    except OSError:
        sock.close()
        raise
    return sock


def can_hand_off() -> bool:
    return hasattr(os, "memfd_create")


def hand_off(config: ExporterConfig, sock: socket.socket, log_level: str) -> NoReturn:
    """Replace this process with a lean one serving ``config`` on ``sock``; never returns."""
    memfd = os.memfd_create("sloplane-exporter-settings", 0)  # not inherited unless asked
    os.write(memfd, pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL))
    os.lseek(memfd, 0, os.SEEK_SET)
    os.set_inheritable(memfd, True)
    sock.set_inheritable(True)
    # The package's own root first (an editable install finds it through a .pth hook that
    # -S skips), then whatever this process could import from.
    root = str(Path(sloplane.__file__).resolve().parents[1])
    path = [root, *(p for p in sys.path if p and p != root)]
    code = f"import sys; sys.path[:0] = {path!r}; from sloplane.exporters.serve import main; main()"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(
        sys.executable,
        [sys.executable, "-S", "-c", code, str(memfd), str(sock.fileno()), log_level],
    )


def main() -> None:
    """Entry of the exec'd image: ``-c CODE MEMFD SOCKFD LOG_LEVEL``."""
    memfd, sockfd, log_level = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    configure_logging(log_level)
    with os.fdopen(memfd, "rb") as handed:
        config = pickle.load(handed)
    serve(config, socket.socket(fileno=sockfd))


def serve(config: ExporterConfig, sock: socket.socket) -> None:
    """Serve ``/metrics`` and ``/probe`` on ``sock`` until SIGTERM or SIGINT."""
    app = Exporter(config)
    server = ExporterServer.on_socket(sock, app)

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stderr.write(f"sloplane exporter listening on {server.url}\n")
    sys.stderr.flush()
    try:
        server.serve_forever()
    finally:
        server.server_close()
        app.close()
