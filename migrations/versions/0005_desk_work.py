"""The attendant's desk: subjects, internal notes, canned replies, automatic assignment

* ``ticket.subject`` ("Assunto"), backfilled from the first line of the description
  (cut at 120 characters, as the workflow does for tickets opened without one);
* ``ticket_message.internal``: a note among staff that the requester never sees;
* ``canned_reply`` ("respostas prontas"), per department or for the whole account;
* automatic assignment: ``department.assignment`` (manual, round_robin, least_loaded),
  the department's ``last_assigned_id`` (whose turn came last) and the attendant's
  ``ab_user.available`` ("Ausente" when false);
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
    op.create_table(
        "canned_reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE",
                                name=op.f("fk_canned_reply_account_id_account")),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"], ondelete="CASCADE",
                                name=op.f("fk_canned_reply_department_id_department")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_reply")),
        sa.UniqueConstraint("account_id", "title", name=op.f("uq_canned_reply_account_id_title")),
    )
    op.create_index(op.f("ix_canned_reply_account_id"), "canned_reply", ["account_id"])
    op.create_index(op.f("ix_canned_reply_department_id"), "canned_reply", ["department_id"])
    with op.batch_alter_table("department") as batch:
        batch.add_column(sa.Column("assignment", sa.String(length=12), nullable=False,
                                   server_default="manual"))
        batch.add_column(sa.Column("last_assigned_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_department_last_assigned_id_ab_user"), "ab_user",
                                 ["last_assigned_id"], ["id"], ondelete="SET NULL")
        batch.create_check_constraint(
            "assignment", _in("assignment", ("manual", "round_robin", "least_loaded")))
    with op.batch_alter_table("ab_user") as batch:
        batch.add_column(sa.Column("available", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))


def downgrade():
    with op.batch_alter_table("ab_user") as batch:
        batch.drop_column("available")
    with op.batch_alter_table("department") as batch:
        batch.drop_constraint(op.f("ck_department_assignment"), type_="check")
        batch.drop_constraint(op.f("fk_department_last_assigned_id_ab_user"),
                              type_="foreignkey")
        batch.drop_column("last_assigned_id")
        batch.drop_column("assignment")
    op.drop_index(op.f("ix_canned_reply_department_id"), table_name="canned_reply")
    op.drop_index(op.f("ix_canned_reply_account_id"), table_name="canned_reply")
    op.drop_table("canned_reply")
    op.execute("DELETE FROM notification_setting WHERE event IN "
               "('ticket_transferred', 'ticket_reassigned')")
    with op.batch_alter_table("notification_setting") as batch:
        batch.drop_constraint(op.f("ck_notification_setting_event"), type_="check")
        batch.create_check_constraint("event", _in("event", OLD_EVENTS))
    with op.batch_alter_table("ticket_message") as batch:
        batch.drop_column("internal")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("subject")
