"""A PostgreSQL primary with a streaming replica, and PgBouncer in front, on loopback.

Built from the machine's Debian binaries (``/usr/lib/postgresql/*/bin``): ``initdb``
for the primary, ``pg_basebackup -R`` through a physical replication slot for the
replica, each cluster on a free port under its own temporary directory, run as the
``postgres`` user. Authentication is ``trust`` on 127.0.0.1 only. The primary
preloads ``pg_stat_statements``. Every start waits at most a bounded time, and
:func:`postgres_topology` stops every server and removes the directories on exit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.support.processes import free_port
from tests.support.servers import give_to, private_dir, stop_all, wait_for


def pg_bin() -> Path:
    root = Path("/usr/lib/postgresql")
    versions = sorted(os.listdir(root), key=int) if root.exists() else ["15"]
    return root / versions[-1] / "bin"


def _as_postgres(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["runuser", "-u", "postgres", "--", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stdout}{done.stderr}")
    return done


@dataclass
class PgNode:
    """One PostgreSQL cluster we own."""

    name: str
    port: int
    data_dir: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _ctl(self, *args: str) -> None:
        _as_postgres(str(pg_bin() / "pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "60", *args)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1"
        self._ctl("-o", options, "-l", str(self.data_dir / "server.log"), "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")

    def running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname=dbname,
            autocommit=True,
            connect_timeout=5,
        )


@dataclass
class PgBouncer:
    port: int
    config: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> None:
        log = (self.config.parent / "pgbouncer.out").open("ab")
        self.proc = subprocess.Popen(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                shutil.which("pgbouncer") or "/usr/sbin/pgbouncer",
                str(self.config),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._answers, timeout, "pgbouncer", self.proc, self.log, errors=(psycopg.Error,))

    def _answers(self) -> bool:
        self.admin().close()
        return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=10)

    def admin(self) -> psycopg.Connection:
        """A connection to the ``pgbouncer`` admin console."""
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname="pgbouncer",
            autocommit=True,
            connect_timeout=3,
            prepare_threshold=None,
        )

    def log(self) -> str:
        path = self.config.parent / "pgbouncer.out"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class PgTopology:
    primary: PgNode
    replica: PgNode
    slot: str
    base: Path


_PRIMARY_CONF = """
wal_level = replica
max_wal_senders = 5
max_replication_slots = 5
hot_standby = on
fsync = off
synchronous_commit = off
full_page_writes = off
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.max = 1000
track_io_timing = on
archive_mode = on
archive_command = 'cp %p {archive}/%f'
wal_keep_size = 0
"""

_HBA = """
local all all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
"""


@contextlib.contextmanager
def postgres_topology(replica_name: str = "replica1") -> Iterator[PgTopology]:
    """A primary and one streaming replica connected through a replication slot."""
    if shutil.which("runuser") is None or not (pg_bin() / "initdb").exists():
        raise RuntimeError("PostgreSQL server binaries or runuser are not installed")
    with private_dir("sloplane-pgtopo-") as base:
        archive = base / "archive"
        archive.mkdir()
        give_to(base, "postgres")
        primary = PgNode("primary", free_port(), base / "primary")
        replica = PgNode(replica_name, free_port(), base / "replica")
        slot = f"slot_{replica_name}"
        started: list[_Immediate] = []
        try:
            _init_primary(primary, archive)
            primary.start()
            started.append(_Immediate(primary))
            with primary.connect() as conn:
                conn.execute("SELECT pg_create_physical_replication_slot(%s)", [slot])
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            _clone_replica(primary, replica, slot)
            replica.start()
            started.append(_Immediate(replica))
            wait_streaming(primary, replica_name)
            yield PgTopology(primary, replica, slot, base)
        finally:
            stop_all(started)


@dataclass
class _Immediate:
    """Stops a node the fastest way (the topology is thrown away)."""

    node: PgNode

    def stop(self) -> None:
        if self.node.running():
            self.node.stop("immediate")


def _init_primary(primary: PgNode, archive: Path) -> None:
    _as_postgres(
        str(pg_bin() / "initdb"), "-D", str(primary.data_dir), "-U", "postgres", "--no-sync"
    )
    with (primary.data_dir / "postgresql.conf").open("a") as conf:
        conf.write(_PRIMARY_CONF.format(archive=archive))
    (primary.data_dir / "pg_hba.conf").write_text(_HBA)


def _clone_replica(primary: PgNode, replica: PgNode, slot: str) -> None:
    """``pg_basebackup -R`` of the primary through ``slot``, as a hot standby."""
    _as_postgres(
        str(pg_bin() / "pg_basebackup"),
        *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
        *("-D", str(replica.data_dir), "-R", "-S", slot, "-X", "stream", "--no-sync"),
        "-d",
        f"host=127.0.0.1 port={primary.port} user=postgres application_name={replica.name}",
    )
    with (replica.data_dir / "postgresql.conf").open("a") as conf:
        conf.write("archive_mode = off\nhot_standby_feedback = on\n")


def wait_streaming(primary: PgNode, application_name: str, timeout: float = 60) -> None:
    """Wait until the primary sees the replica streaming."""

    def streaming() -> bool:
        with primary.connect() as conn:
            row = conn.execute(
                "SELECT state FROM pg_stat_replication WHERE application_name = %s",
                [application_name],
            ).fetchone()
        return bool(row and row[0] == "streaming")

    wait_for(streaming, timeout, f"replica {application_name} streaming")


@contextlib.contextmanager
def pgbouncer(backend: PgNode, pool_size: int = 2) -> Iterator[PgBouncer]:
    """PgBouncer on a free port in front of ``backend`` (transaction pooling, trust auth)."""
    if shutil.which("pgbouncer") is None and not Path("/usr/sbin/pgbouncer").exists():
        raise RuntimeError("pgbouncer is not installed (scripts/install-system-deps.sh --test)")
    with private_dir("sloplane-pgbouncer-") as base:
        port = free_port()
        users = base / "users.txt"
        users.write_text('"postgres" ""\n"app" ""\n')
        config = base / "pgbouncer.ini"
        config.write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = host=127.0.0.1 port={backend.port}",
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {port}",
                    f"unix_socket_dir = {base}",
                    "auth_type = trust",
                    f"auth_file = {users}",
                    "admin_users = postgres",
                    "stats_users = postgres",
                    "pool_mode = transaction",
                    f"default_pool_size = {pool_size}",
                    "max_client_conn = 100",
                    "ignore_startup_parameters = extra_float_digits,options,statement_timeout",
                    f"pidfile = {base / 'pgbouncer.pid'}",
                    "",
                ]
            )
        )
        give_to(base, "postgres")
        bouncer = PgBouncer(port, config)
        try:
            bouncer.start()
            yield bouncer
        finally:
            bouncer.stop()
