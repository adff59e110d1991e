"""Writing to the outbox outside the notification matrix (app/notifications.py owns the
matrix's events): the time a new mail is due, and a pending mail whose bodies come from a
template pair ``email/<name>.txt`` / ``.html``.

Due time: the database's clock, like every lease and due time the sender compares
(``app.mailer.db_now``). A web host whose clock runs ahead would otherwise stamp its mails
in the future, and the workers, reading the database's clock, would hold them back by
that skew."""
from __future__ import annotations

import datetime as dt

from flask import current_app

from app.extensions import db
from app.models import OutboxMail


def outbox_now() -> dt.datetime:
    from app.mailer import db_now  # app.mailer imports the jobs loop: imported late

    with db.session.no_autoflush:   # reading the clock must not flush the caller's rows early
        return db_now()


def templated_mail(template: str, values: dict, *, account_id: int, event: str, email: str,
                   subject: str, key: str, ticket_id: int | None = None,
                   recipient_id: int | None = None, **columns) -> OutboxMail:
    """A pending mail rendered from ``email/<template>.txt|.html`` with ``values``, added
    to the session (the caller commits it with the rest of its work). ``columns``: the
    thread's (``sender_name``, ``thread_refs``, ``reply_to``)."""
    from app.notifications import one_line  # app.notifications imports this module

    env = current_app.jinja_env
    now = outbox_now()
    row = OutboxMail(
        account_id=account_id, ticket_id=ticket_id, event=event, recipient_id=recipient_id,
        recipient_email=one_line(email, 320), subject=subject,
        body_text=env.get_template(f"email/{template}.txt").render(**values),
        body_html=env.get_template(f"email/{template}.html").render(**values),
        idempotency_key=key[:120], status="pending", attempts=0, next_attempt_at=now,
        created_at=now, **columns)
    db.session.add(row)
    return row
