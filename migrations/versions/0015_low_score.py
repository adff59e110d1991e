"""The low-score mail: ``notification_setting.event`` takes ``low_score``

A survey scored 1 or 2 mails the account's managers (issue 15, item 5). The event
check is recreated (a batch copy on SQLite, which cannot alter a constraint in place),
and every existing account gets its row with the default a new account has (on, to the
managers), so the screen, the API and the sender agree from the first survey on.

Revision ID: c8e35f6a7b9d
Revises: b7d24e5f6a8c
Create Date: 2026-12-01 17:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = "c8e35f6a7b9d"
down_revision = "b7d24e5f6a8c"
branch_labels = None
depends_on = None

OLD_EVENTS = ("ticket_opened", "ticket_assumed", "ticket_started", "requester_message",
              "attendant_message", "ticket_concluded", "conclusion_reviewed",
              "survey_filled", "ticket_waiting", "ticket_cancelled", "ticket_transferred",
              "ticket_reassigned", "ticket_released")
NEW_EVENTS = OLD_EVENTS + ("low_score",)


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade():
    with op.batch_alter_table("notification_setting") as batch:
        batch.drop_constraint(op.f("ck_notification_setting_event"), type_="check")
        batch.create_check_constraint("event", _in("event", NEW_EVENTS))
    op.get_bind().execute(sa.text(
        "INSERT INTO notification_setting (account_id, event, enabled, to_requester, "
        "to_assignee, to_department_attendants, to_managers) "
        "SELECT a.id, 'low_score', :on, :off, :off, :off, :on FROM account a "
        "WHERE NOT EXISTS (SELECT 1 FROM notification_setting n "
        "WHERE n.account_id = a.id AND n.event = 'low_score')"), {"on": True, "off": False})


def downgrade():
    op.execute("DELETE FROM notification_setting WHERE event = 'low_score'")
    with op.batch_alter_table("notification_setting") as batch:
        batch.drop_constraint(op.f("ck_notification_setting_event"), type_="check")
        batch.create_check_constraint("event", _in("event", OLD_EVENTS))
