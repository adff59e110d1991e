"""The attendant's desk: subjects, internal notes, transfer and reassignment mails

* ``ticket.subject`` ("Assunto"), backfilled from the first line of the description
  (cut at 120 characters, as the workflow does for tickets opened without one);
* ``ticket_message.internal``: a note among staff that the requester never sees;
* two notification events: ``ticket_transferred`` and ``ticket_reassigned``.

Revision ID: 9e5f6a7b8c93
Revises: 8d4e5f6a7b82
Create Date: 2026-12-01 11:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "9e5f6a7b8c93"
down_revision = "8d4e5f6a7b82"
branch_labels = None
depends_on = None

OLD_EVENTS = ("ticket_opened", "ticket_assumed", "ticket_started", "requester_message",
              "attendant_message", "ticket_concluded", "conclusion_reviewed", "survey_filled",
              "ticket_waiting", "ticket_cancelled")
NEW_EVENTS = OLD_EVENTS + ("ticket_transferred", "ticket_reassigned")


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade():
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=200), nullable=False,
                                   server_default=""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE ticket SET subject = left(btrim(split_part("
                   "ltrim(description, E' \\t\\r\\n'), E'\\n', 1), E' \\t\\r'), 120)")
    else:
        op.execute("UPDATE ticket SET subject = substr(trim(substr(ltrim(description, "
                   "' ' || char(9) || char(13) || char(10)), 1, instr(ltrim(description, "
                   "' ' || char(9) || char(13) || char(10)) || char(10), char(10)) - 1), "
                   "' ' || char(9) || char(13)), 1, 120)")
    with op.batch_alter_table("ticket_message") as batch:
        batch.add_column(sa.Column("internal", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("notification_setting") as batch:
        batch.drop_constraint(op.f("ck_notification_setting_event"), type_="check")
        batch.create_check_constraint("event", _in("event", NEW_EVENTS))


def downgrade():
    op.execute("DELETE FROM notification_setting WHERE event IN "
               "('ticket_transferred', 'ticket_reassigned')")
    with op.batch_alter_table("notification_setting") as batch:
        batch.drop_constraint(op.f("ck_notification_setting_event"), type_="check")
        batch.create_check_constraint("event", _in("event", OLD_EVENTS))
    with op.batch_alter_table("ticket_message") as batch:
        batch.drop_column("internal")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("subject")
