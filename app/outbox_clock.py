"""The time a new outbox mail is due: the database's clock, like every lease and due
time the sender compares (``app.mailer.db_now``). A web host whose clock runs ahead would
otherwise stamp its mails in the future, and the workers, reading the database's clock,
would hold them back by that skew."""
from __future__ import annotations

import datetime as dt


def outbox_now() -> dt.datetime:
    from app.mailer import db_now  # app.mailer imports the jobs loop: imported late

    return db_now()
