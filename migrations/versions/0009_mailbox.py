"""A company's own mailbox over IMAP: the ``mailbox`` table (one per account).

Settings (host, port, TLS, user, the password encrypted, folders, the department and
service new mail opens tickets in) and the poller's state (app/mailbox).

Revision ID: d39e0f1a2b48
Revises: c28d9e0f1a37 (0008_mail_in on the mail branch; the lead re-chains)
Create Date: 2026-12-01 14:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = "d39e0f1a2b48"
down_revision = "c28d9e0f1a37"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "mailbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("security", sa.String(10), nullable=False),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=False),
        sa.Column("folder", sa.String(100), nullable=False),
        sa.Column("processed_folder", sa.String(100), nullable=False),
        sa.Column("rejected_folder", sa.String(100), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("state", sa.String(12), server_default="new", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("taken_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("security IN ('ssl', 'starttls', 'none')",
                           name=op.f("ck_mailbox_security")),
        sa.CheckConstraint("state IN ('new', 'ok', 'error', 'auth_error')",
                           name=op.f("ck_mailbox_state")),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"],
                                name=op.f("fk_mailbox_account_id_account"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"],
                                name=op.f("fk_mailbox_department_id_department"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"],
                                name=op.f("fk_mailbox_service_id_service"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailbox")),
        sa.UniqueConstraint("account_id", name=op.f("uq_mailbox_account_id")),
    )
    op.create_index("ix_mailbox_account_id", "mailbox", ["account_id"])


def downgrade():
    op.drop_index("ix_mailbox_account_id", table_name="mailbox")
    op.drop_table("mailbox")
