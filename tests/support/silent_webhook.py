"""A webhook that accepts the connection, reads the request and never answers.

A real Slack cannot be made to hang on purpose; a proxy in a bad state or a firewall
that drops answers does exactly this. The stand-in counts the connections it got so a
test can wait until the caller is stuck on it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Silent:
    url: str
    connected: threading.Event = field(default_factory=threading.Event)


@contextlib.contextmanager
def silent_webhook(path: str = "/services/T000/B000/s3cr3t") -> Iterator[Silent]:
    """Yields the stand-in; ``url`` ends in ``path`` (the secret part of a Slack webhook)."""
    listener = socket.create_server(("127.0.0.1", 0))
    silent = Silent(f"http://127.0.0.1:{listener.getsockname()[1]}{path}")
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)  # never answered, closed at the end
            silent.connected.set()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield silent
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()
