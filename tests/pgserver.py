"""A throw-away PostgreSQL server on loopback for the test run.

initdb into a temporary folder, start on a free port, hand out a URL, stop and delete
at the end. PostgreSQL refuses to run as root, so when the tests run as root the
cluster belongs to the unprivileged ``postgres`` (or ``nobody``) user.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time


def _bindir() -> str:
    env = os.environ.get("PG_BINDIR")
    if env:
        return env
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(initdb)
    raise RuntimeError(
        "PostgreSQL binaries not found (apt-get install -y postgresql, or set PG_BINDIR)"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    # Durability off: a throw-away server for tests and benchmarks.
    SETTINGS = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200")

    def __init__(self):
        self.bindir = _bindir()
        self.port = free_port()
        self.root = tempfile.mkdtemp(prefix="gestor-pg-")
        self.datadir = os.path.join(self.root, "data")
        self.user = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    self.user = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)

    def _run(self, *args, **kwargs):
        def demote():
            if self.user is not None:
                os.setgid(self.user.pw_gid)
                os.setuid(self.user.pw_uid)

        return subprocess.run(args, preexec_fn=demote, check=True, capture_output=True,
                              cwd=self.root, **kwargs)

    def start(self) -> "PostgresServer":
        self._run(os.path.join(self.bindir, "initdb"), "-D", self.datadir, "-U", "gestor",
                  "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8")
        self.resume()
        return self

    def resume(self) -> None:
        """Start the server on its data folder (after ``start``'s initdb, or a ``pause``)."""
        self._run(
            os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir, "-l",
            os.path.join(self.root, "server.log"), "-w", "-t", "60", "start", "-o",
            f"-h 127.0.0.1 -p {self.port} -k {self.root} {self.SETTINGS}",
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not start")

    def pause(self) -> None:
        """Stop the server but keep its data (a database restart, for fault tests)."""
        self._run(os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir, "-m", "fast",
                  "-w", "stop")

    def create_database(self, name: str) -> str:
        self._run(os.path.join(self.bindir, "createdb"), "-h", "127.0.0.1", "-p",
                  str(self.port), "-U", "gestor", name)
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql+psycopg2://gestor@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self.pause()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


    # --- a streaming replica (tests of DATABASE_REPLICA_URL) ---------------------------

    def start_replica(self) -> "PostgresServer":
        """A hot standby of this server on its own free port: ``pg_basebackup -R``
        (streams the WAL, writes ``standby.signal`` and ``primary_conninfo``). The
        primary needs ``wal_level=replica`` (PostgreSQL 15's default) and a
        ``replication`` line in pg_hba.conf (initdb writes one for 127.0.0.1)."""
        self._ensure_replication()
        replica = PostgresServer.__new__(PostgresServer)
        replica.bindir, replica.user = self.bindir, self.user
        replica.port = free_port()
        replica.root = tempfile.mkdtemp(prefix="gestor-pg-replica-")
        replica.datadir = os.path.join(replica.root, "data")
        if replica.user is not None:
            os.chown(replica.root, replica.user.pw_uid, replica.user.pw_gid)
        replica._run(os.path.join(self.bindir, "pg_basebackup"), "-h", "127.0.0.1", "-p",
                     str(self.port), "-U", "gestor", "-D", replica.datadir, "-R",
                     "-X", "stream", "-c", "fast")
        replica.resume()
        return replica

    def _ensure_replication(self) -> None:
        hba = os.path.join(self.datadir, "pg_hba.conf")
        line = "host replication all 127.0.0.1/32 trust"
        content = self._run("cat", hba).stdout.decode()
        if line not in content.split("\n"):
            self._run("sh", "-c", f"echo '{line}' >> '{hba}'")
            self._run(os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir, "reload")

    def sql(self, database: str, statement: str) -> str:
        """Run one statement with psql (as the test role) and return its output."""
        result = self._run(os.path.join(self.bindir, "psql"), "-h", "127.0.0.1", "-p",
                           str(self.port), "-U", "gestor", "-d", database, "-At", "-c",
                           statement)
        return result.stdout.decode().strip()
