"""Working-hours SLA and waiting on the requester

* ``business_calendar`` (one per account) and ``calendar_holiday`` (the account's own
  days off): the calendar a service on the ``business`` clock counts its target in;
* ``service.sla_clock`` (``24x7`` as before, or ``business``);
* the ``waiting`` state ("Aguardando solicitante"): ``ticket.waiting_since`` and the
  SLA time paused so far, ``ticket.sla_paused_seconds``;
* each step of a ticket measured in working hours when it happens
  (``business_*_hours``), so the Painel's "horas úteis" reads columns;
* ``account.waiting_cancel_days``: a waiting ticket left unanswered is cancelled;
* two notification events: ``ticket_waiting`` and ``ticket_cancelled``.

The status and event checks are recreated (a batch copy on SQLite, which cannot alter
a constraint in place).

Revision ID: 8d4e5f6a7b82
Revises: 7c3d4e5f6a71
Create Date: 2026-12-01 10:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = "8d4e5f6a7b82"
down_revision = "7c3d4e5f6a71"
branch_labels = None
depends_on = None

OLD_STATUSES = ("open", "assumed", "in_progress", "concluded", "closed", "cancelled")
NEW_STATUSES = ("open", "assumed", "in_progress", "waiting", "concluded", "closed",
                "cancelled")
OLD_EVENTS = ("ticket_opened", "ticket_assumed", "ticket_started", "requester_message",
              "attendant_message", "ticket_concluded", "conclusion_reviewed", "survey_filled")
NEW_EVENTS = OLD_EVENTS + ("ticket_waiting", "ticket_cancelled")


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade():
    op.create_table(
        "business_calendar",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hours", sa.Text(), nullable=False),
        sa.Column("national_holidays", sa.Boolean(), nullable=False),
        sa.Column("subdivision", sa.String(length=2), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE",
                                name=op.f("fk_business_calendar_account_id_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_calendar")),
        sa.UniqueConstraint("account_id", name=op.f("uq_business_calendar_account_id")),
    )
    op.create_index(op.f("ix_business_calendar_account_id"), "business_calendar",
                    ["account_id"])
    op.create_table(
        "calendar_holiday",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE",
                                name=op.f("fk_calendar_holiday_account_id_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_holiday")),
        sa.UniqueConstraint("account_id", "day", name=op.f("uq_calendar_holiday_account_id_day")),
    )
    op.create_index(op.f("ix_calendar_holiday_account_id"), "calendar_holiday",
                    ["account_id"])

    with op.batch_alter_table("account") as batch:
        batch.add_column(sa.Column("waiting_cancel_days", sa.Integer(), nullable=False,
                                   server_default="7"))
        batch.create_check_constraint("waiting_cancel_days",
                                      "waiting_cancel_days BETWEEN 1 AND 90")
    with op.batch_alter_table("service") as batch:
        batch.add_column(sa.Column("sla_clock", sa.String(length=10), nullable=False,
                                   server_default="24x7"))
        batch.create_check_constraint("sla_clock", _in("sla_clock", ("24x7", "business")))
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("sla_paused_seconds", sa.Float(), nullable=False,
                                   server_default="0"))
        for name in ("assume", "start", "handling", "approve"):
            batch.add_column(sa.Column(f"business_{name}_hours", sa.Float()))
        batch.drop_constraint(op.f("ck_ticket_status"), type_="check")
        batch.create_check_constraint("status", _in("status", NEW_STATUSES))
    with op.batch_alter_table("notification_setting") as batch:
        batch.drop_constraint(op.f("ck_notification_setting_event"), type_="check")
        batch.create_check_constraint("event", _in("event", NEW_EVENTS))


def downgrade():
    op.execute("DELETE FROM notification_setting WHERE event IN "
               "('ticket_waiting', 'ticket_cancelled')")
    op.execute("UPDATE ticket SET status = 'in_progress' WHERE status = 'waiting'")
    with op.batch_alter_table("notification_setting") as batch:
        batch.drop_constraint(op.f("ck_notification_setting_event"), type_="check")
        batch.create_check_constraint("event", _in("event", OLD_EVENTS))
    with op.batch_alter_table("ticket") as batch:
        batch.drop_constraint(op.f("ck_ticket_status"), type_="check")
        batch.create_check_constraint("status", _in("status", OLD_STATUSES))
        for name in ("approve", "handling", "start", "assume"):
            batch.drop_column(f"business_{name}_hours")
        batch.drop_column("sla_paused_seconds")
        batch.drop_column("waiting_since")
    with op.batch_alter_table("service") as batch:
        batch.drop_constraint(op.f("ck_service_sla_clock"), type_="check")
        batch.drop_column("sla_clock")
    with op.batch_alter_table("account") as batch:
        batch.drop_constraint(op.f("ck_account_waiting_cancel_days"), type_="check")
        batch.drop_column("waiting_cancel_days")
    op.drop_index(op.f("ix_calendar_holiday_account_id"), table_name="calendar_holiday")
    op.drop_table("calendar_holiday")
    op.drop_index(op.f("ix_business_calendar_account_id"), table_name="business_calendar")
    op.drop_table("business_calendar")
