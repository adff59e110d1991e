"""`flask jobs` as production runs it: real worker processes, the real SMTP sink, one
PostgreSQL database (issue 12, item 5).

* SIGTERM mid-drain: the worker finishes the mail in flight, gives the rest of its
  batch back at once and exits 0; SIGKILL: its batch waits for the short lease (by the
  database's clock), then another worker sends it. Every mail arrives, and only the
  one a killed worker had in flight may arrive twice.
* A worker whose clock is 400 s ahead (tests/skewed_clock.py) sends nothing twice.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import build_world
from tests.conftest import test_config as config_for
from tests.deploy_helpers import ROOT, flask_command, flask_env
from tests.smtp_server import SmtpTestServer, smtp  # noqa: F401

LEASE = 4


@pytest.fixture(scope="module")
def mail_db(pg_server, tmp_path_factory):
    """A migrated database with one account, and an engine to watch its outbox."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.security import sync_roles_and_permissions

    url = pg_server.create_database(f"workers_{uuid.uuid4().hex[:8]}")
    folder = tmp_path_factory.mktemp("workers")
    app = create_app(config_for(url, str(folder)))
    with app.app_context():
        upgrade()
        sync_roles_and_permissions(app.appbuilder)
        db.engine.dispose()
    world = build_world(app, "fila")
    engine = create_engine(url)
    yield url, world, engine
    engine.dispose()


@pytest.fixture
def sink():
    server = SmtpTestServer().start()
    yield server
    server.stop()


def _fill(engine, world, count: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE outbox_mail RESTART IDENTITY CASCADE"))
        conn.execute(text(
            "INSERT INTO outbox_mail (account_id, event, recipient_email, subject, body_text,"
            " idempotency_key, status, attempts, next_attempt_at, created_at)"
            " SELECT :account, 'ticket_opened', 'pessoa' || n || '@fila.example',"
            " 'Chamado ' || n, 'Corpo ' || n, 'ticket_opened:' || n || ':1:1', 'pending', 0,"
            " now(), now() FROM generate_series(1, :count) AS n"),
            {"account": world.account_id, "count": count})


def _start(url, tmp_path, sink, name: str, *, skew: float | None = None, **extra):
    settings = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(sink.port),
                "MAIL_BATCH_SIZE": "10", "MAIL_LEASE_SECONDS": str(LEASE),
                "MAIL_TIMEOUT_SECONDS": "5", "LOG_FORMAT": "text", **extra}
    env = flask_env(url, tmp_path / name, **settings)
    command = flask_command("jobs")
    if skew is not None:
        env["GESTOR_TEST_CLOCK_SKEW"] = str(skew)
        command = [sys.executable, os.path.join(ROOT, "tests", "skewed_clock.py"),
                   "--app", "run", "jobs"]
    log = open(tmp_path / f"{name}.log", "w+")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               text=True)
    process.log = log
    return process


def _output(process) -> str:
    process.log.flush()
    process.log.seek(0)
    return process.log.read()


def _stop(process, sig=signal.SIGTERM, timeout: float = 30) -> int:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _held(engine, process) -> list[int]:
    """Ids of the pending mails whose lease belongs to ``process``."""
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT id FROM outbox_mail WHERE status = 'pending' AND locked_by LIKE :mine"),
            {"mine": f"%:{process.pid}:%"}).scalars())


def _status(engine) -> Counter:
    with engine.connect() as conn:
        return Counter(dict(conn.execute(text(
            "SELECT status, count(*) FROM outbox_mail GROUP BY status")).all()))


def _wait(predicate, timeout: float, what: str, processes=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for process in processes:
            assert process.poll() is None, f"worker died:\n{_output(process)[-3000:]}"
        time.sleep(0.05)
    logs = "\n".join(f"--- {p.pid}:\n{_output(p)[-2000:]}" for p in processes)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def _ready(processes) -> None:
    """Every worker up (its banner printed) before the mails exist: they compete."""
    _wait(lambda: all("Executando" in _output(p) for p in processes), 180,
          "the workers to start", processes)


def _delivered(sink) -> Counter:
    return Counter(m["message"]["Message-ID"] for m in sink.received())


def test_sigterm_gives_the_batch_back_and_sigkill_waits_for_the_short_lease(
        mail_db, sink, tmp_path):
    url, world, engine = mail_db
    total = 90
    _fill(engine, world, 0)
    sink.delay_seconds = 0.15  # ~1.5 s per batch of 10
    workers = {name: _start(url, tmp_path, sink, name) for name in ("term", "kill", "third")}
    try:
        term, kill, third = workers["term"], workers["kill"], workers["third"]
        _ready(list(workers.values()))
        _fill(engine, world, total)
        _wait(lambda: _held(engine, term) and _held(engine, kill), 120,
              "both workers to hold a batch", workers.values())
        killed_batch = _held(engine, kill)
        kill.send_signal(signal.SIGKILL)
        with engine.connect() as conn:
            killed_at = conn.execute(text("SELECT now()")).scalar_one()
        assert _stop(term, signal.SIGTERM, timeout=20) == 0, _output(term)[-3000:]
        assert "Parado." in _output(term)
        # Given back at once, not left to its lease: nothing pending is still its.
        assert _held(engine, term) == []
        kill.wait(10)
        # The killed worker's mails wait for their lease, then the third sends them.
        _wait(lambda: _status(engine)["sent"] == total, 90, "every mail sent", [third])
        with engine.connect() as conn:
            taken_over = conn.execute(text(
                "SELECT min(sent_at) FROM outbox_mail WHERE id = ANY(:ids) AND "
                "sent_at > :killed"), {"ids": killed_batch, "killed": killed_at}).scalar_one()
        assert taken_over is not None
        waited = (taken_over - killed_at).total_seconds()
        assert LEASE - 1.5 <= waited < LEASE + 20, waited
        assert _stop(third) == 0, _output(third)[-3000:]
    finally:
        for process in workers.values():
            _stop(process, signal.SIGKILL)
    delivered = _delivered(sink)
    assert len(delivered) == total  # every mail arrived
    twice = [key for key, n in delivered.items() if n > 1]
    # Only a mail the killed worker had on the wire may arrive twice (at least once
    # across a crash; its Message-ID says it is the same mail).
    assert len(twice) <= 1 and max(delivered.values()) <= 2, twice


def test_a_worker_400_s_ahead_sends_nothing_twice(mail_db, sink, tmp_path):
    url, world, engine = mail_db
    total = 80
    _fill(engine, world, 0)
    sink.delay_seconds = 0.05
    ahead = _start(url, tmp_path, sink, "ahead", skew=400, MAIL_LEASE_SECONDS="30")
    normal = _start(url, tmp_path, sink, "normal", MAIL_LEASE_SECONDS="30")
    try:
        _ready([ahead, normal])
        _fill(engine, world, total)
        _wait(lambda: _status(engine)["sent"] == total, 120, "every mail sent",
              [ahead, normal])
        with engine.connect() as conn:
            future = conn.execute(text(
                "SELECT count(*) FROM outbox_mail WHERE sent_at > now() "
                "OR locked_until > now() + interval '60 seconds'")).scalar_one()
        assert future == 0  # nothing stamped by the worker's own clock
    finally:
        codes = [_stop(ahead), _stop(normal)]
    assert codes == [0, 0], _output(ahead)[-3000:]
    assert "sent" in _output(ahead), _output(ahead)[-3000:]  # it did take part
    delivered = _delivered(sink)
    assert len(delivered) == total and set(delivered.values()) == {1}


def test_a_batch_longer_than_its_lease_keeps_it_by_the_heartbeat(
        app, world, smtp, monkeypatch):  # noqa: F811
    """In one process, on both backends: a batch that takes twice its lease to send is
    renewed while it lives; a second sender trying all along takes none of it."""
    import threading

    from tests.helpers import make_ticket
    from tests.smtp_server import drain, set_all

    monkeypatch.setitem(app.config, "MAIL_LEASE_SECONDS", 1.5)
    set_all(app, world, recipients=("requester",), events=("ticket_opened",))
    for i in range(8):
        make_ticket(app, world, "open", description=f"Lento {i}")
    smtp.delay_seconds = 0.4  # 8 mails: about 3.2 s, twice the lease
    first = threading.Thread(target=drain, args=(app,), kwargs={"batch": 8})
    first.start()
    _wait(lambda: smtp.received(), 30, "the first mail")
    second = Counter()
    while first.is_alive():
        second.update(drain(app, batch=8))
        time.sleep(0.1)
    first.join()
    assert second["claimed"] == 0
    assert len(smtp.received()) == 8 and set(_delivered(smtp).values()) == {1}
