"""Per-person quotas on openings and uploads (issue 13 item 6, shared/API.md "Rate
limits"): each requester may open at most ``Account.openings_per_hour`` tickets and send
at most ``Account.uploads_per_hour`` files in any sliding hour (account settings,
defaults 100 and 300). Beyond that: a Portuguese 429 whose ``Retry-After`` is the moment
the oldest counted row leaves the hour.

Quotas limit what people send through a request (portal, API, mail handed over by the
MTA); code that opens tickets outside a request (the demo-data generator, CLI jobs,
tests driving the workflow) is not limited.

Counted from the rows themselves (tickets by requester and opening time, attachments by
uploader and time), so every process and host sees the same counts with no extra
storage; both counts use indexed columns of small per-person sets. Checked before
anything is written, so a refused request changes nothing and mails nobody.
"""
from __future__ import annotations

import datetime as dt

from flask import has_request_context
from sqlalchemy import func, select
from werkzeug.exceptions import TooManyRequests

from app.extensions import db
from app.models import Account, Attachment, Ticket, as_utc

WINDOW = dt.timedelta(hours=1)
DEFAULT_OPENINGS_PER_HOUR = 100
DEFAULT_UPLOADS_PER_HOUR = 300
MAX_PER_HOUR = 100_000


class QuotaExceeded(TooManyRequests):
    """A 429 with ``retry_after`` (a datetime) and a message of its own; the app's
    429 handler adds the wait to the message and the ``Retry-After`` header."""

    def __init__(self, message: str, retry_after: dt.datetime):
        super().__init__(message, retry_after=retry_after)
        self.quota_message = message


def _window(now: dt.datetime, times: list) -> dt.datetime:
    oldest = min(as_utc(t) for t in times) if times else now
    return max(oldest + WINDOW, now + dt.timedelta(seconds=1))


def check_opening(actor, now: dt.datetime, with_file: bool = False) -> None:
    if not has_request_context():
        return
    account = db.session.get(Account, actor.account_id)
    limit = account.openings_per_hour if account else DEFAULT_OPENINGS_PER_HOUR
    since = now - WINDOW
    recent = (Ticket.requester_id == actor.id, Ticket.opened_at > since)
    # Counted up to the limit only: an account with a high limit reads no more rows
    # per opening than it needs to know whether the limit is reached.
    count = db.session.scalar(select(func.count()).select_from(
        select(Ticket.id).where(*recent).limit(limit).subquery()))
    if count >= limit:
        times = db.session.scalars(select(Ticket.opened_at).where(*recent)
                                   .order_by(Ticket.opened_at).limit(1)).all()
        raise QuotaExceeded(f"Limite de {limit} chamados abertos por hora atingido.",
                            _window(now, times))
    if with_file:
        check_upload(actor, now)


def check_upload(actor, now: dt.datetime) -> None:
    if not has_request_context():
        return
    account = db.session.get(Account, actor.account_id)
    limit = account.uploads_per_hour if account else DEFAULT_UPLOADS_PER_HOUR
    since = now - WINDOW
    count = db.session.scalar(
        select(func.count()).select_from(Attachment)
        .where(Attachment.uploaded_by_id == actor.id, Attachment.created_at > since))
    if count >= limit:
        times = db.session.scalars(
            select(Attachment.created_at).where(Attachment.uploaded_by_id == actor.id,
                                                Attachment.created_at > since)
            .order_by(Attachment.created_at).limit(1)).all()
        raise QuotaExceeded(f"Limite de {limit} arquivos enviados por hora atingido.",
                            _window(now, times))


def validate_limit(value, field: str) -> int:
    from app.security import ValidationError

    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PER_HOUR:
        raise ValidationError(field, f"Informe um número de 1 a {MAX_PER_HOUR}.")
    return value
