"""The start/wait/clean-up shape every private test server shares.

The PostgreSQL, Redis and RabbitMQ topologies (tests/support/topology_*.py) each build
servers in a private temporary directory owned by the server's user, wait a bounded
time for each to answer (failing at once, with its log, if it exits), and stop every
server they started and remove the directory whatever happens. Those three steps live
here once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol


def wait_for(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
    log: Callable[[], str] | None = None,
    interval: float = 0.1,
    errors: tuple[type[BaseException], ...] = (),
) -> None:
    """Poll ``check`` until it is true; raise naming ``what`` on timeout or if ``proc`` exits.

    Exceptions of the ``errors`` types count as "not yet" (a server refusing connections
    while it starts); the last one is in the timeout's message. ``log`` gives the
    server's output for the message when it exits.
    """
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        if proc is not None and proc.poll() is not None:
            tail = log()[-2000:] if log is not None else ""
            raise RuntimeError(f"{what}: exited with {proc.returncode}: {tail}")
        try:
            if check():
                return
        except errors as exc:
            last = str(exc) or type(exc).__name__
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not ready after {timeout}s{': ' + last if last else ''}")
        time.sleep(interval)


@contextlib.contextmanager
def private_dir(prefix: str) -> Iterator[Path]:
    """A fresh temporary directory (readable by all, so a server's user can enter it).

    Call :func:`give_to` on it once the server's files are written when the server runs as
    another user. Removed on exit.
    """
    base = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(base, 0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def give_to(path: Path, user: str) -> None:
    """``chown -R user:user path``: the servers run as their Debian users."""
    subprocess.run(["chown", "-R", f"{user}:{user}", str(path)], check=True, timeout=60)


class Stoppable(Protocol):
    def stop(self) -> None: ...


def stop_all(servers: Iterable[Stoppable]) -> None:
    """Stop each server, last started first; one that fails to stop does not keep the others up."""
    for server in reversed(list(servers)):
        with contextlib.suppress(Exception):
            server.stop()
