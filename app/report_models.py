"""Tables of the mailed Painel reports (app.reports): subscriptions, and the files an
outbox mail carries.

Imported at the end of app.models, so ``Model.metadata`` (migrations, the tests' drift
check) knows them; the logic lives in app.reports.
"""
from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    select,
)

from app.models import TenantMixin, utcnow

FREQUENCIES = ("weekly", "monthly")


class ReportSubscription(TenantMixin, Model):
    """A manager's (or administrator's) weekly or monthly Painel report.

    ``weekday`` (0 = Monday) for weekly ones, ``day_of_month`` (1-31; a shorter month
    sends on its last day) for monthly ones, ``hour`` in the account's time zone.
    ``filters`` is the JSON of the KPI API's filter names (lists of ids, priorities,
    clock). ``next_run_at`` (UTC) is the claim: a worker moves it forward with a
    conditional UPDATE, so one run of a period is taken by one worker."""

    __tablename__ = "report_subscription"
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False,
                     index=True)
    frequency = Column(String(8), nullable=False)
    weekday = Column(Integer)
    day_of_month = Column(Integer)
    hour = Column(Integer, nullable=False)
    filters = Column(Text, nullable=False, default="{}")
    active = Column(Boolean, nullable=False, default=True)
    next_run_at = Column(DateTime(timezone=True), nullable=False)
    last_run_at = Column(DateTime(timezone=True))
    last_period_start = Column(Date)
    last_period_end = Column(Date)
    last_error = Column(String(300))
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    __table_args__ = (
        CheckConstraint("frequency IN ('weekly', 'monthly')", name="frequency"),
        CheckConstraint("hour BETWEEN 0 AND 23", name="hour"),
        CheckConstraint(
            "(frequency = 'weekly' AND weekday BETWEEN 0 AND 6 AND day_of_month IS NULL) OR "
            "(frequency = 'monthly' AND day_of_month BETWEEN 1 AND 31 AND weekday IS NULL)",
            name="schedule"),
        Index("ix_report_subscription_due", "active", "next_run_at"),
    )


class OutboxAttachment(TenantMixin, Model):
    """A file sent with an outbox mail (the report's XLSX); goes with its mail."""

    __tablename__ = "outbox_attachment"
    id = Column(Integer, primary_key=True)
    mail_id = Column(Integer, ForeignKey("outbox_mail.id", ondelete="CASCADE"),
                     nullable=False, index=True)
    filename = Column(String(255), nullable=False)
    content_type = Column(String(120), nullable=False)
    data = Column(LargeBinary, nullable=False)


def attach_files(message, mail_id: int) -> None:
    """Add an outbox mail's files to its Flask-Mail message (app.mailer.build_message)."""
    from app.extensions import db

    for name, content_type, data in db.session.execute(
            select(OutboxAttachment.filename, OutboxAttachment.content_type,
                   OutboxAttachment.data)
            .where(OutboxAttachment.mail_id == mail_id).order_by(OutboxAttachment.id)):
        message.attach(name, content_type, bytes(data))
