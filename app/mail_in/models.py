"""The log of every mail offered to the intake, taken or not (30 days).

``account_id`` is NULL when the mail named no account we could trust (no reply
address, a forged one): those rows are seen only by the platform operator. The class
is still a ``TenantMixin``, so app.tenancy scopes every query of it to the current
account (NULL rows never match an account's scope).

``dedup_key`` is set only on the row of a mail that became a message, inside the
message's own transaction; its unique constraint is what makes the same mail offered
twice at once (an MTA retry, two pollers) one message.
"""
from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)

from app.models import TenantMixin, _in, utcnow

INBOUND_STATUSES = ("taken", "ignored", "refused")


class InboundMail(TenantMixin, Model):
    __tablename__ = "inbound_mail"
    id = Column(Integer, primary_key=True)
    account_id = Column(Integer, ForeignKey("account.id", ondelete="CASCADE"))
    received_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    source = Column(String(20), nullable=False)
    message_id = Column(String(255))            # the mail's Message-ID header
    content_hash = Column(String(64))
    dedup_key = Column(String(64), unique=True)  # only on a taken mail
    sender = Column(String(320))
    subject = Column(String(255))
    status = Column(String(10), nullable=False)
    reason = Column(String(32), nullable=False)
    detail = Column(Text)
    ticket_id = Column(Integer)
    ticket_message_id = Column(Integer)
    member_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    attachments = Column(Integer, nullable=False, default=0, server_default="0")
    __table_args__ = (
        CheckConstraint(_in("status", INBOUND_STATUSES), name="status"),
        Index("ix_inbound_mail_sender", "sender", "received_at"),
        Index("ix_inbound_mail_account", "account_id", "received_at"),
        Index("ix_inbound_mail_received", "received_at"),
    )
