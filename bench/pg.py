"""The benchmark's own PostgreSQL: the tests' throw-away server, sized like a small
production one (shared_buffers and work_mem a dedicated database would have), since
a million tickets with their indexes do not fit the default 128 MB of buffers."""
from __future__ import annotations

import os
import socket
import time

from tests.pgserver import PostgresServer

TUNING = ("-c shared_buffers=1GB -c work_mem=64MB -c maintenance_work_mem=512MB "
          "-c max_wal_size=4GB -c checkpoint_timeout=30min -c wal_level=minimal "
          "-c max_wal_senders=0")


class BenchPostgres(PostgresServer):
    def start(self) -> "BenchPostgres":
        self._run(os.path.join(self.bindir, "initdb"), "-D", self.datadir, "-U", "gestor",
                  "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8")
        self._run(
            os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir, "-l",
            os.path.join(self.root, "server.log"), "-w", "-t", "60", "start", "-o",
            f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
            f"-c synchronous_commit=off -c full_page_writes=off {TUNING}",
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not start")
