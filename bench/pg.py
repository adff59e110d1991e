"""The benchmark's own PostgreSQL: the tests' throw-away server, sized like a small
production one (shared_buffers and work_mem a dedicated database would have), since
a million tickets with their indexes do not fit the default 128 MB of buffers."""
from __future__ import annotations

from tests.pgserver import PostgresServer


class BenchPostgres(PostgresServer):
    SETTINGS = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c shared_buffers=1GB -c work_mem=64MB -c maintenance_work_mem=512MB "
                "-c max_wal_size=4GB -c checkpoint_timeout=30min -c wal_level=minimal "
                "-c max_wal_senders=0")
