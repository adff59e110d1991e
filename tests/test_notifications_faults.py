"""A faulty mail server never slows a request, never loses a mail, never sends twice.

All against aiosmtpd on loopback (tests/smtp_server.py): stopped (connection refused),
a black hole that accepts TCP and never greets, a server that hangs after DATA, 421
(retried) and 550 (failed after the configured attempts, error stored without secrets).
"""
import base64
import threading
import time
from collections import Counter

from app import mailer
from app.extensions import db
from tests.helpers import make_ticket
from tests.smtp_server import SmtpTestServer, drain, later, outbox, set_all, smtp  # noqa: F401

TICKETS = 10


def _open_via_api(api, world, description="Impressora sem toner."):
    response = api(world.users["requester"]).post("/api/v1/ticket/", json={
        "department_id": world.departments["TI"], "service_id": world.services["Acesso"],
        "priority": "medium", "description": description})
    assert response.status_code == 201, response.json
    return response.json["id"]


def _assert_each_key_arrived_once(app, server):
    rows = outbox(app)
    assert rows and all(r["status"] == "sent" for r in rows)
    ids = Counter(m["message"]["Message-ID"] for m in server.received())
    assert len(ids) == len(rows) and set(ids.values()) == {1}


def test_nothing_is_sent_inside_a_request(app, world, api, smtp):
    set_all(app, world)
    _open_via_api(api, world)
    assert smtp.received() == []
    assert {r["status"] for r in outbox(app)} == {"pending"}
    drain(app)
    assert len(smtp.received()) == len(outbox(app))


def test_server_down_tickets_stay_fast_and_every_mail_arrives_once_when_it_returns(
        app, world, api, smtp):
    set_all(app, world)
    smtp.stop()  # connection refused
    started = time.monotonic()
    for i in range(TICKETS):
        _open_via_api(api, world, f"Chamado {i}")
    elapsed = time.monotonic() - started
    assert elapsed / TICKETS < 0.5, f"{elapsed / TICKETS:.3f} s per ticket"
    expected = len(outbox(app))
    assert expected == TICKETS * 5  # receipt + 2 attendants + 2 managers

    counts = drain(app)
    assert counts["sent"] == 0 and counts["retry"] == counts["claimed"] > 0
    rows = outbox(app)
    assert {r["status"] for r in rows} == {"pending"}
    tried = [r for r in rows if r["attempts"]]
    assert tried and all("recusada" in r["last_error"] for r in tried)
    # Still down a few times, a minute apart: the mails keep waiting, never "failed".
    for minute in range(1, 4):
        drain(app, later(61 * minute))
    assert {r["status"] for r in outbox(app)} == {"pending"}

    smtp.start()
    drain(app, later(61 * 5))
    drain(app, later(61 * 6))  # a second pass sends nothing again
    _assert_each_key_arrived_once(app, smtp)
    assert len(smtp.received()) == expected


def test_back_off_is_capped_at_one_minute_and_retries_for_at_least_a_day(app, world, smtp):
    with app.app_context():
        delays = [mailer.backoff_seconds(n) for n in range(1, 40)]
        assert max(delays) <= 60 and delays[-1] >= 50
        assert delays[0] < delays[3]
        assert app.config.get("MAIL_RETRY_FOR_SECONDS", mailer.DEFAULTS[
            "MAIL_RETRY_FOR_SECONDS"]) >= 24 * 3600
    set_all(app, world, recipients=("requester",), events=("ticket_opened",))
    make_ticket(app, world, "open")
    smtp.stop()
    drain(app, later(23 * 3600))  # almost a day of outage: still pending
    row = outbox(app)[0]
    assert row["status"] == "pending" and row["attempts"] == 1
    next_at = row["next_attempt_at"].replace(tzinfo=None)
    assert (next_at - later(23 * 3600).replace(tzinfo=None)).total_seconds() <= 61


def test_a_server_that_accepts_and_never_answers_hangs_nothing(app, world, api, smtp):
    set_all(app, world)
    smtp.blackhole()
    started = time.monotonic()
    ticket_id = _open_via_api(api, world)
    assert time.monotonic() - started < 1.0
    started = time.monotonic()
    counts = drain(app)
    assert time.monotonic() - started < 5.0  # one 1 s timeout, not one per mail
    assert counts["retry"] == counts["claimed"] > 0
    assert all(r["status"] == "pending" for r in outbox(app))
    # Requests keep answering while the sender is stuck on the black hole.
    worker = threading.Thread(target=drain, args=(app, later(61)))
    worker.start()
    started = time.monotonic()
    assert api(world.users["requester"]).get(f"/api/v1/ticket/{ticket_id}").status_code == 200
    assert time.monotonic() - started < 1.0
    worker.join(10)
    assert not worker.is_alive()

    smtp.start()
    drain(app, later(300))
    _assert_each_key_arrived_once(app, smtp)


def test_a_server_that_hangs_after_data_times_out_and_the_mail_is_retried(app, world, smtp):
    set_all(app, world, recipients=("requester",), events=("ticket_opened",))
    make_ticket(app, world, "open")
    smtp.answer = "hang"
    started = time.monotonic()
    counts = drain(app)
    assert time.monotonic() - started < 5.0
    assert counts["retry"] == 1
    smtp.answer = "accept"
    drain(app, later(61))
    _assert_each_key_arrived_once(app, smtp)


def test_421_is_retried_then_delivered_once(app, world, smtp):
    set_all(app, world, recipients=("requester", "department_attendants"),
            events=("ticket_opened",))
    make_ticket(app, world, "open")
    smtp.answer = "421"
    counts = drain(app)
    assert counts["sent"] == 0 and counts["retry"] == 3
    rows = outbox(app)
    assert all(r["status"] == "pending" and r["last_error"].startswith("421") for r in rows)
    drain(app, later(61))  # still 421: still pending, more attempts
    assert all(r["status"] == "pending" and r["attempts"] == 2 for r in outbox(app))
    smtp.answer = "accept"
    drain(app, later(200))
    _assert_each_key_arrived_once(app, smtp)
    assert all(r["last_error"] is None for r in outbox(app))


def test_550_ends_failed_after_the_configured_attempts_with_no_secret_stored(
        app, world, smtp, monkeypatch):
    user, password = "gestor-bot", "S3nha-Secreta-Do-SMTP"
    smtp.stop()
    server = SmtpTestServer(smtp.port, username=user, password=password).start()
    try:
        monkeypatch.setitem(app.config, "MAIL_USERNAME", user)
        monkeypatch.setitem(app.config, "MAIL_PASSWORD", password)
        monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 3)
        plain = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        # A chatty server that echoes the credentials in its refusal.
        server.answer = "550"
        server.answer_suffix = f" (AUTH PLAIN {plain} user={user} pass={password})"
        set_all(app, world, recipients=("requester",), events=("ticket_opened",))
        make_ticket(app, world, "open")
        for n in range(1, 4):
            drain(app, later(61 * n))
            row = outbox(app)[0]
            assert row["attempts"] == n
            assert row["status"] == ("failed" if n == 3 else "pending")
        drain(app, later(61 * 10))
        row = outbox(app)[0]
        assert row["status"] == "failed" and row["attempts"] == 3
        assert row["last_error"].startswith("550")
        for secret in (password, plain, base64.b64encode(password.encode()).decode(),
                       "AUTH PLAIN"):
            assert secret not in row["last_error"]
        assert server.received() == []

        # The administrators' "Reenviar": back in the queue, delivered once.
        server.answer = "accept"
        with app.app_context():
            from app.tenancy import account_scope

            with account_scope(world.account_id):
                assert mailer.resend(row["id"])
                assert not mailer.resend(row["id"])  # only a failed mail can be re-sent
            db.session.remove()
        drain(app)
        assert outbox(app)[0]["status"] == "sent"
        assert len(server.received()) == 1
    finally:
        server.stop()


def test_another_account_cannot_resend_a_failed_mail(app, world, other_world, smtp):
    set_all(app, world, recipients=("requester",), events=("ticket_opened",))
    make_ticket(app, world, "open")
    smtp.answer = "550"
    for n in range(1, 6):
        drain(app, later(61 * n))
    row = outbox(app)[0]
    assert row["status"] == "failed"
    with app.app_context():
        from app.tenancy import account_scope

        with account_scope(other_world.account_id):
            assert not mailer.resend(row["id"])
        db.session.remove()
    assert outbox(app)[0]["status"] == "failed"


def test_concurrent_senders_deliver_each_mail_exactly_once(app, world, smtp):
    set_all(app, world)
    for i in range(8):
        make_ticket(app, world, "open", description=f"Concorrência {i}")
    total = len(outbox(app))
    barrier = threading.Barrier(3)
    errors = []

    def worker():
        try:
            barrier.wait()
            drain(app, batch=5)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    drain(app)
    assert len(smtp.received()) == total
    _assert_each_key_arrived_once(app, smtp)


def test_a_wrong_smtp_password_keeps_the_mails_waiting_without_storing_it(
        app, world, smtp, monkeypatch):
    """A login failure is the server's configuration, not the mail's: the mails
    wait for the operator to fix it instead of failing, and the password is not kept."""
    smtp.stop()
    server = SmtpTestServer(smtp.port, username="gestor-bot", password="certa-1234567").start()
    try:
        monkeypatch.setitem(app.config, "MAIL_USERNAME", "gestor-bot")
        monkeypatch.setitem(app.config, "MAIL_PASSWORD", "errada-7654321")
        set_all(app, world, recipients=("requester", "department_attendants"),
                events=("ticket_opened",))
        make_ticket(app, world, "open")
        for n in range(1, 4):
            drain(app, later(61 * n))
        rows = outbox(app)
        assert all(r["status"] == "pending" and r["attempts"] == 3 for r in rows)
        assert all(r["last_error"] and "errada-7654321" not in r["last_error"]
                   for r in rows)
        monkeypatch.setitem(app.config, "MAIL_PASSWORD", "certa-1234567")
        drain(app, later(61 * 9))
        assert len(server.received()) == 3
        assert all(r["status"] == "sent" for r in outbox(app))
    finally:
        server.stop()
