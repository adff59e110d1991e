"""How the sender runs: `flask send-mail --once`, the jobs loop, leases of dead workers."""
import datetime as dt

from app import mailer
from app.extensions import db, mail
from app.jobs import _JOBS, _load_jobs
from tests.helpers import make_ticket
from tests.smtp_server import drain, later, outbox, set_all, smtp  # noqa: F401


def test_flask_send_mail_once_sends_what_is_pending(app, world, smtp):
    set_all(app, world)
    make_ticket(app, world, "open")
    result = app.test_cli_runner().invoke(args=["send-mail", "--once"])
    assert result.exit_code == 0, result.output
    assert "Enviados: 5" in result.output
    assert len(smtp.received()) == 5
    result = app.test_cli_runner().invoke(args=["send-mail", "--once"])
    assert "Enviados: 0" in result.output and len(smtp.received()) == 5


def test_the_jobs_loop_knows_the_sender():
    _load_jobs()
    assert any(func is mailer.send_outbox and seconds <= 5 for seconds, func in _JOBS)


def test_a_dead_workers_claim_is_sent_after_its_lease(app, world, smtp):
    set_all(app, world, recipients=("requester",), events=("ticket_opened",))
    make_ticket(app, world, "open")
    now = dt.datetime.now(dt.timezone.utc)
    with app.app_context():
        from app.tenancy import UNSCOPED, account_scope

        with account_scope(UNSCOPED):  # a worker claims, then dies before sending
            assert len(mailer.claim(10, now, now + dt.timedelta(seconds=300))) == 1
        db.session.remove()
    assert drain(app)["claimed"] == 0  # leased: nobody else takes it
    assert smtp.received() == []
    drain(app, later(301))
    assert len(smtp.received()) == 1 and outbox(app)[0]["status"] == "sent"


def test_a_transient_failure_gives_up_only_after_days(app, world, smtp, monkeypatch):
    set_all(app, world, recipients=("requester",), events=("ticket_opened",))
    make_ticket(app, world, "open")
    smtp.stop()
    drain(app, later(2 * 24 * 3600))
    assert outbox(app)[0]["status"] == "pending"
    drain(app, later(3 * 24 * 3600 + 120))
    row = outbox(app)[0]
    assert row["status"] == "failed" and "recusada" in row["last_error"]


def test_suppressed_sending_marks_nothing_lost(app, world, smtp, monkeypatch):
    """MAIL_SUPPRESS_SEND (Flask-Mail's switch for development) records instead of
    sending; the outbox still moves on."""
    monkeypatch.setitem(app.config, "MAIL_SUPPRESS_SEND", True)
    set_all(app, world, recipients=("requester",), events=("ticket_opened",))
    make_ticket(app, world, "open")
    with app.app_context():
        with mail.record_messages() as seen:
            mailer.send_due()
        db.session.remove()
    assert len(seen) == 1 and smtp.received() == []
    assert outbox(app)[0]["status"] == "sent"

