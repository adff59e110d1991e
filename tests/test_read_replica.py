"""DATABASE_REPLICA_URL (issue 12, item 7): the Painel's exports and the KPI API read
from a real PostgreSQL streaming replica (``pg_basebackup -R`` on loopback, built once
per session), and from the primary when the replica lags past
REPLICA_MAX_LAG_SECONDS or is stopped.

Which server answered is visible in the data: with the replica's replay paused, a
ticket opened on the primary is missing from an answer that came from the replica.
"""
from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import build_world, login_browser_client, token_for
from tests.conftest import test_config as config_for
from tests.helpers import make_ticket


@pytest.fixture(scope="session")
def pg_replica(pg_server):
    replica = pg_server.start_replica()
    replica.primary = pg_server
    yield replica
    replica.stop()


@pytest.fixture(scope="module")
def replicated(pg_server, pg_replica, tmp_path_factory):
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.security import sync_roles_and_permissions

    name = f"replicated_{uuid.uuid4().hex[:8]}"
    url = pg_server.create_database(name)
    config = {**config_for(url, str(tmp_path_factory.mktemp("replica"))),
              "DATABASE_REPLICA_URL": pg_replica.url(name),
              "REPLICA_MAX_LAG_SECONDS": 3600, "REPLICA_CHECK_SECONDS": 0}
    app = create_app(config)
    with app.app_context():
        upgrade()
        sync_roles_and_permissions(app.appbuilder)
        db.engine.dispose()
    world = build_world(app, "replica")
    make_ticket(app, world, "open")
    yield app, world, name
    with app.app_context():
        db.engine.dispose()
    app.extensions["read_replica"].engine.dispose()


def _caught_up(replica, name, timeout=60):
    """Replayed up to the primary's WAL as of now. (Comparing the replica's received and
    replayed positions alone passed before the last commits were even sent: the test
    server commits with synchronous_commit=off.)"""
    primary = replica.primary.sql(name, "SELECT pg_current_wal_lsn()")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if replica.sql(name, f"SELECT pg_last_wal_replay_lsn() >= '{primary}'::pg_lsn") == "t":
            return
        time.sleep(0.1)
    raise AssertionError("the replica did not catch up")


def _kpis(client, token):
    response = client.get("/api/v1/painel/kpis", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.json["opened_in_period"]


def _exported(web) -> int:
    response = web.get("/painel/exportar.csv")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return len(response.get_data(as_text=True).strip().splitlines()) - 1  # header


def test_painel_reads_come_from_the_replica_until_it_lags_or_stops(
        replicated, pg_replica, monkeypatch):
    app, world, name = replicated
    state = app.extensions["read_replica"]
    monkeypatch.setattr(state, "max_lag", 3600.0)
    client = app.test_client()
    token = token_for(app, world.users["manager"])
    web = login_browser_client(app, "replica_manager")
    _caught_up(pg_replica, name)
    before_api, before_csv = _kpis(client, token), _exported(web)
    assert before_api >= 1 and before_csv == before_api
    ready = client.get("/health/ready").json
    assert ready["checks"]["replica"]["status"] == "ok", ready

    pg_replica.sql(name, "SELECT pg_wal_replay_pause()")
    try:
        make_ticket(app, world, "open", description="Aberto com a réplica parada.")
        time.sleep(1.2)
        # From the replica: the new ticket is not there yet.
        assert _kpis(client, token) == before_api
        assert _exported(web) == before_csv
        # Lagging more than allowed: the primary answers, with the new ticket.
        monkeypatch.setattr(state, "max_lag", 1.0)
        assert _kpis(client, token) == before_api + 1
        assert _exported(web) == before_csv + 1
        lagging = client.get("/health/ready")
        assert lagging.status_code == 200 and lagging.json["status"] == "degraded"
        assert lagging.json["checks"]["replica"]["status"] == "lagging"
    finally:
        pg_replica.sql(name, "SELECT pg_wal_replay_resume()")
    _caught_up(pg_replica, name)
    assert _kpis(client, token) == before_api + 1

    pg_replica.pause()
    try:
        # Stopped: the primary answers, nothing fails.
        assert _kpis(client, token) == before_api + 1
        assert _exported(web) == before_csv + 1
        down = client.get("/health/ready")
        assert down.status_code == 200 and down.json["checks"]["replica"]["status"] == \
            "unavailable"
    finally:
        pg_replica.resume()
    monkeypatch.setattr(state, "max_lag", 3600.0)
    deadline = time.monotonic() + 30
    while state.check(force=True)["status"] != "ok":
        assert time.monotonic() < deadline, state.state
        time.sleep(0.2)
    assert client.get("/health/ready").json["checks"]["replica"]["status"] == "ok"


def test_writes_in_a_replica_request_still_go_to_the_primary(replicated, pg_replica):
    """The session routes reads only: a flush during a request that reads from the
    replica is written on the primary (a hot standby refuses writes)."""
    app, world, name = replicated
    _caught_up(pg_replica, name)  # run alone (or first, under xdist) the rows may lag
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Member
    from app.replica import reading_from_replica, use_replica
    from app.tenancy import account_scope

    with app.test_request_context("/painel/"), account_scope(world.account_id):
        assert use_replica() and reading_from_replica()
        member = db.session.scalars(select(Member).where(
            Member.id == world.users["manager"])).one()
        member.first_name = "Gerente via réplica"
        db.session.commit()
        db.session.remove()
    with app.app_context(), account_scope(world.account_id):
        assert db.session.get(Member, world.users["manager"]).first_name == \
            "Gerente via réplica"
        db.session.remove()
