"""New mails are due by the database's clock, like every lease and retry (issue 12 item
5): a web host whose own clock runs 400 s ahead must not stamp its mails in the future,
where workers reading the database's clock would hold them back by that skew."""
import datetime as dt

from sqlalchemy import select

from app.extensions import db
from app.mailer import db_now, send_due
from app.models import OutboxMail, as_utc
from tests.helpers import make_ticket
from tests.smtp_server import smtp  # noqa: F401  (fixture)

AHEAD = dt.timedelta(seconds=400)


def _ahead():
    return dt.datetime.now(dt.timezone.utc) + AHEAD


def test_a_web_host_ahead_of_the_database_does_not_hold_its_mails_back(app, world, smtp,
                                                                       monkeypatch):
    # Every name a mail writer could read the host's clock through.
    for module in ("app.notifications", "app.models", "app.outbox"):
        monkeypatch.setattr(f"{module}.utcnow", _ahead, raising=False)
    make_ticket(app, world)          # the opening mails the department's attendants
    with app.app_context():
        now = db_now()
        due = [as_utc(r.next_attempt_at) for r in db.session.scalars(select(OutboxMail))]
        assert due, "the opening wrote no mail"
        assert all(d <= now + dt.timedelta(seconds=5) for d in due), (due, now)
        sent = send_due(max_seconds=20)
        db.session.remove()
    assert sent["sent"] == len(due)
