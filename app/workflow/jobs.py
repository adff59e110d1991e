"""The workflow's periodic jobs: auto-approval and the cancellation of unanswered waits.
Both run unscoped over every account and move each ticket through ``apply``."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.extensions import db
from app.jobs import periodic
from app.models import Account, Ticket
from app.workflow.errors import TransitionNotAllowed
from app.workflow.moves import _utc, apply


@periodic(seconds=300)
def auto_approve_due(now: dt.datetime | None = None) -> int:
    """Approve concluded tickets whose requester stayed silent for the account's N days.

    Runs unscoped over every account (a platform job); each ticket goes through
    ``apply`` so the history, SLA outcome and notifications are the same as a manual
    approval, and a requester acting at the same moment simply wins the race.
    """
    from app.tenancy import UNSCOPED, account_scope

    now = _utc(now)
    approved = 0
    with account_scope(UNSCOPED):
        accounts = db.session.execute(select(Account.id, Account.auto_approve_days)).all()
    for account_id, days in accounts:
        with account_scope(account_id):
            due = db.session.scalars(
                select(Ticket).where(Ticket.status == "concluded",
                                     Ticket.concluded_at <= now - dt.timedelta(days=days))
                .order_by(Ticket.id).limit(500)
            ).all()
            for ticket in due:
                try:
                    apply(ticket, "approve", None, system=True, now=now)
                    approved += 1
                except TransitionNotAllowed:
                    continue
    return approved


@periodic(seconds=300)
def cancel_unanswered_waiting(now: dt.datetime | None = None) -> int:
    """Cancel tickets left waiting on their requester for the account's N days, with a
    history line and the cancellation mail; like the auto-approval, each goes through
    ``apply``, and a requester answering at the same moment wins (version check)."""
    from app.tenancy import UNSCOPED, account_scope

    now = _utc(now)
    cancelled = 0
    with account_scope(UNSCOPED):
        accounts = db.session.execute(select(Account.id, Account.waiting_cancel_days)).all()
    for account_id, days in accounts:
        with account_scope(account_id):
            due = db.session.scalars(
                select(Ticket).where(Ticket.status == "waiting",
                                     Ticket.waiting_since <= now - dt.timedelta(days=days))
                .order_by(Ticket.id).limit(500)
            ).all()
            for ticket in due:
                try:
                    apply(ticket, "cancel", None, system=True, now=now, note=(
                        f"Cancelado automaticamente: o solicitante não respondeu em "
                        f"{days} dia{'s' if days != 1 else ''}."))
                    cancelled += 1
                except TransitionNotAllowed:
                    continue
    return cancelled
