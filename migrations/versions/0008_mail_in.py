"""E-mail both ways: thread headers and reply addresses on the outbox, the intake's log

* ``outbox_mail``: ``sender_name`` (the company's name, the From display name),
  ``reply_to`` (the signed reply address of the ticket and recipient), ``thread_refs``
  (the References header: the ticket's root Message-ID, then the previous mail to the
  same recipient); an index to find that previous mail.
* ``inbound_mail``: every mail offered to the intake (app/mail_in), taken or not, with
  its reason, kept 30 days. ``dedup_key`` is unique (set only on taken mails).

* ``notification_setting.event`` takes ``ticket_released`` (the desk's "Devolver à
  fila" now mails the department's attendants by default).

SQLite copies ``notification_setting`` to change its check (it has no triggers); the
other changes only add.

Revision ID: c28d9e0f1a37
Revises: af6a7b8c9d04
Create Date: 2026-12-01 14:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "c28d9e0f1a37"
down_revision = "af6a7b8c9d04"
branch_labels = None
depends_on = None

OLD_EVENTS = ("ticket_opened", "ticket_assumed", "ticket_started", "requester_message",
              "attendant_message", "ticket_concluded", "conclusion_reviewed",
              "survey_filled", "ticket_waiting", "ticket_cancelled", "ticket_transferred",
              "ticket_reassigned")
NEW_EVENTS = OLD_EVENTS + ("ticket_released",)


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade():
    with op.batch_alter_table("notification_setting") as batch:
        batch.drop_constraint(op.f("ck_notification_setting_event"), type_="check")
        batch.create_check_constraint("event", _in("event", NEW_EVENTS))
    with op.batch_alter_table("outbox_mail") as batch:
        batch.add_column(sa.Column("sender_name", sa.String(150), nullable=True))
        batch.add_column(sa.Column("reply_to", sa.String(320), nullable=True))
        batch.add_column(sa.Column("thread_refs", sa.Text(), nullable=True))
    op.create_index("ix_outbox_ticket_recipient", "outbox_mail",
                    ["ticket_id", "recipient_id", "id"])
    op.create_table(
        "inbound_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("dedup_key", sa.String(64), nullable=True),
        sa.Column("sender", sa.String(320), nullable=True),
        sa.Column("subject", sa.String(255), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("ticket_message_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("attachments", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("status IN ('taken', 'ignored', 'refused')",
                           name=op.f("ck_inbound_mail_status")),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"],
                                name=op.f("fk_inbound_mail_account_id_account"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["member_id"], ["ab_user.id"],
                                name=op.f("fk_inbound_mail_member_id_ab_user"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_mail")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_inbound_mail_dedup_key")),
    )
    op.create_index("ix_inbound_mail_sender", "inbound_mail", ["sender", "received_at"])
    op.create_index("ix_inbound_mail_account", "inbound_mail", ["account_id", "received_at"])
    op.create_index("ix_inbound_mail_received", "inbound_mail", ["received_at"])


def downgrade():
    op.drop_index("ix_inbound_mail_received", table_name="inbound_mail")
    op.drop_index("ix_inbound_mail_account", table_name="inbound_mail")
    op.drop_index("ix_inbound_mail_sender", table_name="inbound_mail")
    op.drop_table("inbound_mail")
    op.drop_index("ix_outbox_ticket_recipient", table_name="outbox_mail")
    with op.batch_alter_table("outbox_mail") as batch:
        batch.drop_column("thread_refs")
        batch.drop_column("reply_to")
        batch.drop_column("sender_name")
    op.execute("DELETE FROM notification_setting WHERE event = 'ticket_released'")
    with op.batch_alter_table("notification_setting") as batch:
        batch.drop_constraint(op.f("ck_notification_setting_event"), type_="check")
        batch.create_check_constraint("event", _in("event", OLD_EVENTS))
