"""One IMAP mailbox per account: where to connect, where new mail opens tickets, and
the poller's state (shown to the account's administrators).

The password is stored only encrypted (app.mailbox.crypto); nothing ever reads it
back to a page or an API answer. ``locked_until`` lets several ``flask jobs``
processes share the work: a poller claims a mailbox with a conditional UPDATE, and
``next_attempt_at`` carries the back-off after a failure.
"""
from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)

from app.models import TenantMixin, _in, utcnow

SECURITIES = ("ssl", "starttls", "none")
MAILBOX_STATES = ("new", "ok", "error", "auth_error")


class Mailbox(TenantMixin, Model):
    __tablename__ = "mailbox"
    id = Column(Integer, primary_key=True)
    host = Column(String(255), nullable=False)
    port = Column(Integer, nullable=False)
    security = Column(String(10), nullable=False, default="ssl")
    username = Column(String(255), nullable=False)
    password_encrypted = Column(Text, nullable=False)
    folder = Column(String(100), nullable=False, default="INBOX")
    processed_folder = Column(String(100), nullable=False, default="Processados")
    rejected_folder = Column(String(100), nullable=False, default="Recusados")
    department_id = Column(Integer, ForeignKey("department.id", ondelete="SET NULL"))
    service_id = Column(Integer, ForeignKey("service.id", ondelete="SET NULL"))
    active = Column(Boolean, nullable=False, default=False, server_default=false())
    state = Column(String(12), nullable=False, default="new", server_default="new")
    last_error = Column(Text)
    failures = Column(Integer, nullable=False, default=0, server_default="0")
    last_attempt_at = Column(DateTime(timezone=True))
    last_success_at = Column(DateTime(timezone=True))
    next_attempt_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    locked_until = Column(DateTime(timezone=True))
    taken_count = Column(Integer, nullable=False, default=0, server_default="0")
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    __table_args__ = (
        UniqueConstraint("account_id"),
        CheckConstraint(_in("security", SECURITIES), name="security"),
        CheckConstraint(_in("state", MAILBOX_STATES), name="state"),
    )
