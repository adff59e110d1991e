"""Painel reports by mail: ``report_subscription`` and ``outbox_attachment``

* ``report_subscription``: a manager's (or administrator's) weekly or monthly report of
  the Painel, with its filters (JSON) and ``next_run_at``, the claim the jobs move with
  a conditional UPDATE (app.reports);
* ``outbox_attachment``: files an outbox mail carries (the report's XLSX), deleted with
  their mail.

Revision ID: d9f46f7a8bae
Revises: af6a7b8c9d04
Create Date: 2026-12-01 15:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "d9f46f7a8bae"
down_revision = "a6c13c4d5e7b"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "report_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.String(length=8), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=True),
        sa.Column("day_of_month", sa.Integer(), nullable=True),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("filters", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_period_start", sa.Date(), nullable=True),
        sa.Column("last_period_end", sa.Date(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("frequency IN ('weekly', 'monthly')",
                           name=op.f("ck_report_subscription_frequency")),
        sa.CheckConstraint("hour BETWEEN 0 AND 23", name=op.f("ck_report_subscription_hour")),
        sa.CheckConstraint(
            "(frequency = 'weekly' AND weekday BETWEEN 0 AND 6 AND day_of_month IS NULL) OR "
            "(frequency = 'monthly' AND day_of_month BETWEEN 1 AND 31 AND weekday IS NULL)",
            name=op.f("ck_report_subscription_schedule")),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE",
                                name=op.f("fk_report_subscription_account_id_account")),
        sa.ForeignKeyConstraint(["user_id"], ["ab_user.id"], ondelete="CASCADE",
                                name=op.f("fk_report_subscription_user_id_ab_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_subscription")),
    )
    op.create_index(op.f("ix_report_subscription_account_id"), "report_subscription",
                    ["account_id"])
    op.create_index(op.f("ix_report_subscription_user_id"), "report_subscription",
                    ["user_id"])
    op.create_index("ix_report_subscription_due", "report_subscription",
                    ["active", "next_run_at"])
    op.create_table(
        "outbox_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mail_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=120), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE",
                                name=op.f("fk_outbox_attachment_account_id_account")),
        sa.ForeignKeyConstraint(["mail_id"], ["outbox_mail.id"], ondelete="CASCADE",
                                name=op.f("fk_outbox_attachment_mail_id_outbox_mail")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_attachment")),
    )
    op.create_index(op.f("ix_outbox_attachment_account_id"), "outbox_attachment",
                    ["account_id"])
    op.create_index(op.f("ix_outbox_attachment_mail_id"), "outbox_attachment", ["mail_id"])


def downgrade():
    op.drop_table("outbox_attachment")
    op.drop_table("report_subscription")
