"""Heavy reads on a PostgreSQL streaming replica (issue 12, item 7).

``DATABASE_REPLICA_URL`` (optional) names a hot standby of the primary. A request that
calls ``use_replica()`` (the Painel's callbacks and exports, after their guard has
checked the caller on the primary; ``GET /api/v1/painel/kpis``, after ``@protect``)
reads through the replica for the rest of the request: the session's ``get_bind``
returns the replica's engine for every read (``session.connection()``, which the
Painel's queries use, included) while a flush or a write statement still goes to the
primary.

The replica is used only while it answers and its replay lag is at most
``REPLICA_MAX_LAG_SECONDS`` (30): lag = 0 when everything received is replayed, else
the age of the last replayed transaction. The check is cached for
``REPLICA_CHECK_SECONDS`` (2) per process; a replica that fails mid-request is marked
down at once (the next requests use the primary). Otherwise the request reads from the
primary, as without a replica.
"""
from __future__ import annotations

import logging
import threading
import time

from flask import current_app, g, has_app_context
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import Delete, Insert, Update, create_engine, event, text

log = logging.getLogger(__name__)

LAG_SQL = text(
    "SELECT pg_is_in_recovery(), CASE "
    "WHEN NOT pg_is_in_recovery() THEN 0 "
    "WHEN pg_last_wal_receive_lsn() IS NOT NULL "
    " AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END")


class ReplicaState:
    """One per app: the replica's engine and its last known state."""

    def __init__(self, url: str, max_lag: float, check_every: float):
        self.engine = create_engine(url, pool_pre_ping=True,
                                    connect_args={"connect_timeout": 2})
        self.max_lag, self.check_every = max_lag, check_every
        self.checked = -1e9
        self.state = {"status": "unknown"}
        self.lock = threading.Lock()
        self._warned = 0.0
        event.listen(self.engine, "handle_error", self._failed)

    def _failed(self, context) -> None:
        if context.is_disconnect or context.connection is None:
            self.mark({"status": "unavailable", "error": "disconnected"})

    def mark(self, state: dict) -> None:
        with self.lock:
            self.state, self.checked = state, time.monotonic()
        if state["status"] != "ok" and time.monotonic() - self._warned >= 60:
            self._warned = time.monotonic()
            log.warning("read replica not used (%s): reading from the primary",
                        state.get("error") or f"lag {state.get('lag_seconds')} s")

    def check(self, force: bool = False) -> dict:
        with self.lock:
            fresh = time.monotonic() - self.checked < self.check_every
            if fresh and not force:
                return self.state
        try:
            with self.engine.connect() as connection:
                in_recovery, lag = connection.execute(LAG_SQL).one()
            lag = round(float(lag), 3)
            if lag > self.max_lag:
                state = {"status": "lagging", "lag_seconds": lag}
            else:
                state = {"status": "ok", "lag_seconds": lag,
                         "standby": bool(in_recovery)}
        except Exception as error:  # noqa: BLE001 - down, refused, bad password...
            state = {"status": "unavailable", "error": error.__class__.__name__}
        self.mark(state)
        return state


class RoutingSession(FlaskSession):
    """Flask-SQLAlchemy's session; reads go to the replica once the request asked."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and not self._flushing and has_app_context() \
                and g.get("_read_replica") is not None \
                and not isinstance(clause, (Insert, Update, Delete)):
            return g._read_replica
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


def install(app, db) -> None:
    url = app.config.get("DATABASE_REPLICA_URL")
    if not url:
        return
    from config import database_url

    url = database_url(url)  # docs/deploy.md spells it postgresql://, like DATABASE_URL
    app.extensions["read_replica"] = ReplicaState(
        url, float(app.config.get("REPLICA_MAX_LAG_SECONDS") or 30),
        float(app.config.get("REPLICA_CHECK_SECONDS") or 0))
    factory = db.session.session_factory
    if not issubclass(factory.class_, RoutingSession):
        factory.class_ = RoutingSession

    @app.before_request
    def painel_reads_from_the_replica():
        """Registered after the Painel's guard (dashboards.guard), so it runs only
        for a caller the guard let through, checked on the primary."""
        from flask import request

        if request.path.startswith(PAINEL_PREFIX):
            use_replica()


PAINEL_PREFIX = "/painel/"  # the Dash app, its callbacks and /painel/exportar.*


def replica_state(app=None) -> ReplicaState | None:
    return (app or current_app).extensions.get("read_replica")


def use_replica() -> bool:
    """Read from the replica for the rest of this request, if it is fit to serve;
    True when it will. Call it after the caller has been authorised."""
    state = replica_state()
    if state is None:
        return False
    if state.check()["status"] != "ok":
        return False
    g._read_replica = state.engine
    return True


def reading_from_replica() -> bool:
    return has_app_context() and g.get("_read_replica") is not None
