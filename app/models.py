"""Every table of the product.

Account-owned rows carry ``account_id`` (TenantMixin); ``app.tenancy`` scopes every
query of those models to the current account. Where the database can hold a rule it
does: composite foreign keys keep a ticket's service inside its department and every
child row inside its ticket's account, check constraints hold the enumerations and
ranges, and one survey per ticket is a unique key.
"""
from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import declared_attr, relationship

Model.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

STATUSES = ("open", "assumed", "in_progress", "waiting", "concluded", "closed", "cancelled")
FINAL_STATUSES = ("closed", "cancelled")
PRIORITIES = ("low", "medium", "high", "urgent")
EVENTS = (
    "ticket_opened",
    "ticket_assumed",
    "ticket_started",
    "requester_message",
    "attendant_message",
    "ticket_concluded",
    "conclusion_reviewed",
    "survey_filled",
    "ticket_waiting",
    "ticket_cancelled",
    "ticket_transferred",
    "ticket_reassigned",
    "ticket_released",
    "low_score",  # a survey scored 1 or 2: the managers hear of it (issue 15)
)
RECIPIENTS = ("requester", "assignee", "department_attendants", "managers")
OUTBOX_STATUSES = ("pending", "sent", "failed")
SLA_CLOCKS = ("24x7", "business")
ASSIGNMENTS = ("manual", "round_robin", "least_loaded")


# Every id is an INTEGER (4 bytes on PostgreSQL): a larger number names no row, and
# passing one to the database is an overflow error (SQLite) rather than "not found".
MAX_ID = 2**31 - 1


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands DateTime(timezone=True) back naive; every stored time is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.timezone.utc)


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Account(Model):
    __tablename__ = "account"
    id = Column(Integer, primary_key=True)
    name = Column(String(150), nullable=False)
    time_zone = Column(String(64), nullable=False, default="America/Sao_Paulo")
    plan_expires_at = Column(DateTime(timezone=True), nullable=False)
    auto_approve_days = Column(Integer, nullable=False, default=7)
    # A ticket left "waiting" on its requester this many days is cancelled.
    waiting_cancel_days = Column(Integer, nullable=False, default=7, server_default="7")
    # Per-requester quotas in any sliding hour (app/quotas.py).
    openings_per_hour = Column(Integer, nullable=False, default=100, server_default="100")
    uploads_per_hour = Column(Integer, nullable=False, default=300, server_default="300")
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    __table_args__ = (
        CheckConstraint("auto_approve_days BETWEEN 1 AND 90", name="auto_approve_days"),
        CheckConstraint("waiting_cancel_days BETWEEN 1 AND 90", name="waiting_cancel_days"),
    )

    def __repr__(self) -> str:
        return self.name

    def plan_active(self, now: dt.datetime | None = None) -> bool:
        return as_utc(self.plan_expires_at) > (now or utcnow())


class TenantMixin:
    """Marks a model as account-owned; app.tenancy filters and stamps ``account_id``."""

    @declared_attr
    def account_id(cls):
        return Column(
            Integer, ForeignKey("account.id", ondelete="CASCADE"), nullable=False, index=True
        )


class PlanRenewal(TenantMixin, Model):
    __tablename__ = "plan_renewal"
    id = Column(Integer, primary_key=True)
    months = Column(Integer, nullable=False)
    previous_expires_at = Column(DateTime(timezone=True), nullable=False)
    new_expires_at = Column(DateTime(timezone=True), nullable=False)
    renewed_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    __table_args__ = (CheckConstraint("months BETWEEN 1 AND 24", name="months"),)


class Sector(TenantMixin, Model):
    __tablename__ = "sector"
    id = Column(Integer, primary_key=True)
    name = Column(String(120), nullable=False)
    __table_args__ = (
        UniqueConstraint("account_id", "name"),
        UniqueConstraint("id", "account_id"),
    )

    def __repr__(self) -> str:
        return self.name


class Member(User):
    """FAB's user extended with its account and sector (same ``ab_user`` table).

    ``account_id`` is NULL only for the platform operator (FAB's Admin). Tenancy treats
    this model specially: it is filtered only when an account scope is active, so the
    login form can find a user before anyone is known.
    """

    __tablename__ = "ab_user"
    account_id = Column(Integer, ForeignKey("account.id", ondelete="CASCADE"), index=True)
    sector_id = Column(Integer, ForeignKey("sector.id", ondelete="SET NULL"), index=True)
    # An attendant marked "Ausente" receives no automatic assignment.
    available = Column(Boolean, nullable=False, default=True, server_default=true())
    sector = relationship("Sector", foreign_keys=[sector_id])
    account = relationship("Account", foreign_keys=[account_id])
    # JSON {session id: expiry (epoch seconds)} of the member's sessions (app/sessions.py).
    live_sessions = Column(Text)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def profile_codes(self) -> set[str]:
        from config import PROFILE_ROLES

        names = {r.name for r in self.roles}
        return {code for code, role in PROFILE_ROLES.items() if role in names}

    def has_profile(self, code: str) -> bool:
        return code in self.profile_codes()

    @classmethod
    def with_profile(cls, code: str):
        """SQL condition: the member holds profile ``code`` (no per-row role loads)."""
        from flask_appbuilder.security.sqla.models import Role

        from config import PROFILE_ROLES

        return cls.roles.any(Role.name == PROFILE_ROLES[code])

    def __repr__(self) -> str:
        return self.full_name or self.username


department_attendant = Table(
    "department_attendant",
    Model.metadata,
    Column("department_id", Integer, ForeignKey("department.id", ondelete="CASCADE"),
           primary_key=True),
    Column("user_id", Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_department_attendant_user", "user_id"),
)


class Department(TenantMixin, Model):
    __tablename__ = "department"
    id = Column(Integer, primary_key=True)
    name = Column(String(120), nullable=False)
    # Who gets a new ticket: nobody until someone assumes it (manual), the next
    # available attendant in turn (round_robin) or the least busy one (least_loaded).
    assignment = Column(String(12), nullable=False, default="manual", server_default="manual")
    last_assigned_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    # Loaded on demand: a ticket page needs the department's name, not its people.
    attendants = relationship(Member, secondary=department_attendant,
                              order_by=Member.first_name)
    __table_args__ = (
        UniqueConstraint("account_id", "name"),
        UniqueConstraint("id", "account_id"),
        CheckConstraint(_in("assignment", ASSIGNMENTS), name="assignment"),
    )

    def __repr__(self) -> str:
        return self.name

    @property
    def warning(self) -> str:
        """Shown on the administrators' department list (app.structure)."""
        from app.structure import assignment_warning

        return assignment_warning(self) or ""


class Service(TenantMixin, Model):
    __tablename__ = "service"
    id = Column(Integer, primary_key=True)
    department_id = Column(Integer, nullable=False, index=True)
    name = Column(String(120), nullable=False)
    sla_hours = Column(Integer, nullable=False, default=24)
    sla_low_hours = Column(Integer)
    sla_medium_hours = Column(Integer)
    sla_high_hours = Column(Integer)
    sla_urgent_hours = Column(Integer)
    # "24x7": every hour counts; "business": only the account calendar's working hours.
    sla_clock = Column(String(10), nullable=False, default="24x7", server_default="24x7")
    department = relationship(Department, backref="services")
    __table_args__ = (
        ForeignKeyConstraint(["department_id", "account_id"],
                             ["department.id", "department.account_id"], ondelete="CASCADE"),
        UniqueConstraint("department_id", "name"),
        UniqueConstraint("id", "department_id"),
        CheckConstraint("sla_hours > 0", name="sla_hours"),
        CheckConstraint(
            "(sla_low_hours IS NULL OR sla_low_hours > 0) AND "
            "(sla_medium_hours IS NULL OR sla_medium_hours > 0) AND "
            "(sla_high_hours IS NULL OR sla_high_hours > 0) AND "
            "(sla_urgent_hours IS NULL OR sla_urgent_hours > 0)",
            name="sla_priority_hours",
        ),
        CheckConstraint(_in("sla_clock", SLA_CLOCKS), name="sla_clock"),
    )

    def sla_hours_for(self, priority: str) -> int:
        return getattr(self, f"sla_{priority}_hours", None) or self.sla_hours

    def sla_by_priority(self) -> dict:
        return {p: getattr(self, f"sla_{p}_hours") for p in PRIORITIES
                if getattr(self, f"sla_{p}_hours")}

    def __repr__(self) -> str:
        return self.name


class Ticket(TenantMixin, Model):
    """A chamado. Lifecycle columns are written only by app.workflow.

    ``sector_id`` is the requester's sector when the ticket was opened, so the Painel's
    "by sector" reads a column instead of joining the current user table. ``version``
    makes every transition a conditional update (the race guard).
    """

    __tablename__ = "ticket"
    id = Column(Integer, primary_key=True)
    requester_id = Column(Integer, ForeignKey("ab_user.id"), nullable=False)
    assignee_id = Column(Integer, ForeignKey("ab_user.id"))
    department_id = Column(Integer, nullable=False)
    service_id = Column(Integer, nullable=False)
    sector_id = Column(Integer, ForeignKey("sector.id", ondelete="SET NULL"))
    priority = Column(String(10), nullable=False, default="medium")
    status = Column(String(12), nullable=False, default="open")
    # "Assunto": typed at opening, or the description's first line (app.workflow).
    subject = Column(String(200), nullable=False, default="", server_default="")
    description = Column(Text, nullable=False)
    opened_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    assumed_at = Column(DateTime(timezone=True))
    started_at = Column(DateTime(timezone=True))
    concluded_at = Column(DateTime(timezone=True))
    closed_at = Column(DateTime(timezone=True))
    cancelled_at = Column(DateTime(timezone=True))
    sla_due_at = Column(DateTime(timezone=True), nullable=False)
    sla_met = Column(Boolean)
    # Waiting on the requester: since when (NULL unless waiting), and the SLA time paused
    # so far on the service's clock, in seconds (sla_due_at already includes it).
    waiting_since = Column(DateTime(timezone=True))
    sla_paused_seconds = Column(Float, nullable=False, default=0.0, server_default="0")
    # Steps measured in the account calendar's working hours when they happen, so the
    # Painel's "horas úteis" reads columns instead of computing calendars per ticket.
    business_assume_hours = Column(Float)     # opened -> assumed
    business_start_hours = Column(Float)      # assumed -> started
    business_handling_hours = Column(Float)   # started -> final conclusion
    business_approve_hours = Column(Float)    # conclusion -> approval
    reopen_count = Column(Integer, nullable=False, default=0)
    auto_approved = Column(Boolean, nullable=False, default=False)
    version = Column(Integer, nullable=False, default=1)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)

    requester = relationship(Member, foreign_keys=[requester_id])
    assignee = relationship(Member, foreign_keys=[assignee_id])
    department = relationship(Department, foreign_keys=[department_id], viewonly=True,
                              primaryjoin="Ticket.department_id == Department.id")
    service = relationship(Service, foreign_keys=[service_id], viewonly=True,
                           primaryjoin="Ticket.service_id == Service.id")
    sector = relationship(Sector, foreign_keys=[sector_id])

    __table_args__ = (
        ForeignKeyConstraint(["department_id", "account_id"],
                             ["department.id", "department.account_id"]),
        ForeignKeyConstraint(["service_id", "department_id"],
                             ["service.id", "service.department_id"]),
        UniqueConstraint("id", "account_id"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("priority", PRIORITIES), name="priority"),
        CheckConstraint("reopen_count >= 0", name="reopen_count"),
        # The attendant's queue and the Painel's group-bys.
        Index("ix_ticket_queue", "account_id", "department_id", "status", "opened_at"),
        # An attendant's work by status, and their finished work latest first.
        Index("ix_ticket_assignee", "account_id", "assignee_id", "status", "updated_at"),
        Index("ix_ticket_assignee_recent", "account_id", "assignee_id", "updated_at"),
        Index("ix_ticket_requester", "account_id", "requester_id", "opened_at"),
        Index("ix_ticket_opened", "account_id", "opened_at"),
        Index("ix_ticket_started", "account_id", "started_at"),
        Index("ix_ticket_closed", "account_id", "closed_at"),
        Index("ix_ticket_status_due", "account_id", "status", "sla_due_at"),
    )


class TicketEvent(TenantMixin, Model):
    """One row per transition or message: who, when, from, to, note."""

    __tablename__ = "ticket_event"
    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, nullable=False)
    type = Column(String(20), nullable=False)
    actor_id = Column(Integer, ForeignKey("ab_user.id"))  # NULL: the system (auto-approval)
    from_status = Column(String(12))
    to_status = Column(String(12))
    note = Column(Text)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    actor = relationship(Member, foreign_keys=[actor_id])
    __table_args__ = (
        ForeignKeyConstraint(["ticket_id", "account_id"], ["ticket.id", "ticket.account_id"],
                             ondelete="CASCADE"),
        Index("ix_ticket_event_ticket", "ticket_id", "id"),
    )


class TicketMessage(TenantMixin, Model):
    __tablename__ = "ticket_message"
    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, nullable=False)
    author_id = Column(Integer, ForeignKey("ab_user.id"), nullable=False)
    body = Column(Text, nullable=False)
    # An internal note: staff only, never shown, counted or mailed to the requester.
    internal = Column(Boolean, nullable=False, default=False, server_default=false())
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    author = relationship(Member, foreign_keys=[author_id])
    attachments = relationship("Attachment", lazy="selectin", order_by="Attachment.id",
                               viewonly=True,
                               primaryjoin="TicketMessage.id == foreign(Attachment.message_id)")
    __table_args__ = (
        ForeignKeyConstraint(["ticket_id", "account_id"], ["ticket.id", "ticket.account_id"],
                             ondelete="CASCADE"),
        Index("ix_ticket_message_ticket", "ticket_id", "id"),
    )


class Attachment(TenantMixin, Model):
    """A stored file. ``stored_name`` is server-generated; ``filename`` is display text."""

    __tablename__ = "attachment"
    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, nullable=False)
    message_id = Column(Integer, ForeignKey("ticket_message.id", ondelete="CASCADE"))
    uploaded_by_id = Column(Integer, ForeignKey("ab_user.id"), nullable=False)
    stored_name = Column(String(64), nullable=False, unique=True)
    filename = Column(String(255), nullable=False)
    size = Column(Integer, nullable=False)
    content_type = Column(String(120), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    __table_args__ = (
        ForeignKeyConstraint(["ticket_id", "account_id"], ["ticket.id", "ticket.account_id"],
                             ondelete="CASCADE"),
        CheckConstraint("size > 0", name="size"),
        Index("ix_attachment_ticket", "ticket_id", "message_id"),
    )


class Survey(TenantMixin, Model):
    __tablename__ = "survey"
    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, nullable=False, unique=True)
    score = Column(Integer, nullable=False)
    comment = Column(Text)
    filled_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    __table_args__ = (
        ForeignKeyConstraint(["ticket_id", "account_id"], ["ticket.id", "ticket.account_id"],
                             ondelete="CASCADE"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score"),
        Index("ix_survey_filled", "account_id", "filled_at"),
    )


class CannedReply(TenantMixin, Model):
    """A "resposta pronta": a reply administrators write once, for one department or
    (``department_id`` NULL) for all, with placeholders filled per ticket."""

    __tablename__ = "canned_reply"
    id = Column(Integer, primary_key=True)
    title = Column(String(120), nullable=False)
    body = Column(Text, nullable=False)
    department_id = Column(Integer, ForeignKey("department.id", ondelete="CASCADE"),
                           index=True)
    department = relationship(Department)
    __table_args__ = (UniqueConstraint("account_id", "title"),)

    def __repr__(self) -> str:
        return self.title


class BusinessCalendar(TenantMixin, Model):
    """The account's working hours (one row per account; none means the defaults).

    ``hours`` is the API's JSON week (``{"mon": [["08:00", "18:00"]], ...}``); the
    arithmetic lives in app.business_hours, which this row only feeds."""

    __tablename__ = "business_calendar"
    id = Column(Integer, primary_key=True)
    hours = Column(Text, nullable=False)
    national_holidays = Column(Boolean, nullable=False, default=True)
    subdivision = Column(String(2))
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    __table_args__ = (UniqueConstraint("account_id"),)


class CalendarHoliday(TenantMixin, Model):
    """A day off of the account's own (a company anniversary, a municipal holiday)."""

    __tablename__ = "calendar_holiday"
    id = Column(Integer, primary_key=True)
    day = Column(Date, nullable=False)
    name = Column(String(100), nullable=False)
    __table_args__ = (UniqueConstraint("account_id", "day"),)


class NotificationSetting(TenantMixin, Model):
    __tablename__ = "notification_setting"
    id = Column(Integer, primary_key=True)
    event = Column(String(32), nullable=False)
    enabled = Column(Boolean, nullable=False, default=True)
    to_requester = Column(Boolean, nullable=False, default=False)
    to_assignee = Column(Boolean, nullable=False, default=False)
    to_department_attendants = Column(Boolean, nullable=False, default=False)
    to_managers = Column(Boolean, nullable=False, default=False)
    __table_args__ = (
        UniqueConstraint("account_id", "event"),
        CheckConstraint(_in("event", EVENTS), name="event"),
    )

    def recipients(self) -> list[str]:
        return [r for r in RECIPIENTS if getattr(self, f"to_{r}")]


class OutboxMail(TenantMixin, Model):
    """A mail waiting to be sent; written in the same transaction as its action."""

    __tablename__ = "outbox_mail"
    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer)
    event = Column(String(32), nullable=False)
    recipient_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    recipient_email = Column(String(320), nullable=False)
    subject = Column(String(255), nullable=False)
    body_text = Column(Text, nullable=False)
    body_html = Column(Text)
    idempotency_key = Column(String(120), nullable=False, unique=True)
    status = Column(String(10), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    locked_until = Column(DateTime(timezone=True))
    locked_by = Column(String(64))  # the worker holding the lease (app.mailer)
    last_error = Column(Text)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    sent_at = Column(DateTime(timezone=True))
    # Threads and replies (app.mail_in.threads): the From display name (the company),
    # the signed Reply-To, and "References" (the ticket's root Message-ID first).
    sender_name = Column(String(150))
    reply_to = Column(String(320))
    thread_refs = Column(Text)
    __table_args__ = (
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_ticket_recipient", "ticket_id", "recipient_id", "id"),
    )


import app.mail_in.models  # noqa: E402,F401  (InboundMail: the mail intake's log)
import app.mailbox.models  # noqa: E402,F401  (Mailbox: a company's own IMAP mailbox)
from app.report_models import OutboxAttachment, ReportSubscription  # noqa: E402,F401  (app.reports)
