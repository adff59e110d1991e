"""HOSTILE.md "Load": hundreds of requesters opening tickets with a file at once, over
real HTTP (the threaded server of the browser tests): no 5xx, no duplicate, no lost
ticket or file, every file with its row, and on PostgreSQL never more connections than
the pool allows."""
import os
import threading
import time
import urllib.error
import urllib.request
import uuid

import sqlalchemy
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import Attachment, Ticket
from app.tenancy import UNSCOPED, account_scope
from tests.conftest import token_for

OPENINGS = 200


def _multipart(fields: dict, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items())
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
             f'filename="planilha.csv"\r\nContent-Type: text/csv\r\n\r\n').encode()
    return body + content + f"\r\n--{boundary}--\r\n".encode(), boundary


def test_hundreds_of_openings_at_once_lose_nothing(app, world, live_server):
    tokens = [token_for(app, world.users[key]) for key in ("requester", "requester2")]
    with app.app_context():
        engine = db.engine
    postgres = engine.dialect.name == "postgresql"
    barrier = threading.Barrier(OPENINGS)
    statuses: list = [None] * OPENINGS
    peak = {"connections": 0}
    sampling = threading.Event()

    # The pool's own connections, by backend pid: the engine starts empty here and every
    # connection it opens is recorded, so connections of other engines or processes on
    # this database (leftovers of earlier tests, autovacuum) are not counted as ours.
    ours: set = set()
    if postgres:
        engine.dispose()

        @sqlalchemy.event.listens_for(engine, "connect")
        def _record(dbapi_connection, _record):
            ours.add(dbapi_connection.get_backend_pid())

    def sample_connections():
        # How many of the pool's connections the server holds at once (the sampler's
        # own connection comes from the same pool and is counted too).
        with engine.connect() as conn:
            while not sampling.is_set():
                alive = set(conn.execute(text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                )).scalars())
                peak["connections"] = max(peak["connections"], len(alive & ours))
                conn.rollback()
                time.sleep(0.01)

    def open_one(i: int):
        body, boundary = _multipart(
            {"department_id": world.departments["TI"], "service_id": world.services["Acesso"],
             "priority": "medium", "description": f"Carga {i}"},
            f"linha;valor\n{i};{i * 2}\n".encode() * 200)
        request = urllib.request.Request(
            live_server + "/api/v1/ticket/", data=body, method="POST",
            headers={"Authorization": f"Bearer {tokens[i % 2]}",
                     "Content-Type": f"multipart/form-data; boundary={boundary}"})
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                statuses[i] = response.status
        except urllib.error.HTTPError as error:
            statuses[i] = error.code
        except OSError as error:
            statuses[i] = repr(error)

    sampler = threading.Thread(target=sample_connections) if postgres else None
    if sampler:
        sampler.start()
    threads = [threading.Thread(target=open_one, args=(i,)) for i in range(OPENINGS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    sampling.set()
    if sampler:
        sampler.join()
        sqlalchemy.event.remove(engine, "connect", _record)

    assert statuses == [201] * OPENINGS, [s for s in statuses if s != 201][:5]
    with app.app_context(), account_scope(UNSCOPED):
        descriptions = db.session.scalars(select(Ticket.description)).all()
        stored = set(db.session.scalars(select(Attachment.stored_name)))
        attached = db.session.scalar(select(func.count(func.distinct(Attachment.ticket_id))))
        db.session.remove()
    assert sorted(descriptions) == sorted(f"Carga {i}" for i in range(OPENINGS))
    assert attached == OPENINGS and len(stored) == OPENINGS
    assert set(os.listdir(app.config["UPLOAD_FOLDER"])) == stored   # every file, its row
    if postgres:
        pool = engine.pool
        assert 0 < peak["connections"] <= pool.size() + pool._max_overflow, peak
