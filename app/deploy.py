"""What `flask setup` needs to run on many hosts at once."""
from __future__ import annotations

import logging
from contextlib import contextmanager

from sqlalchemy import text

log = logging.getLogger(__name__)

# One number for "this application's set-up" among PostgreSQL's advisory locks
# (any bigint; other applications on the same server pick their own).
SETUP_LOCK_KEY = 7_271_020_612


@contextmanager
def setup_lock(engine):
    """Hold PostgreSQL's session advisory lock while the block runs: a second host
    running `flask setup` waits here, then finds the schema upgraded and the
    permissions written. The lock lives on its own connection (autocommit, so it
    holds no transaction open) and dies with it, even if this process is killed.
    SQLite is one file on one host: nothing to coordinate."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        log.info("waiting for the set-up lock")
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SETUP_LOCK_KEY})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SETUP_LOCK_KEY})
