"""The mail sender's lease names its holder: outbox_mail.locked_by

A worker renews the lease of the mails it still holds (a heartbeat) and releases
them when it stops; both touch only the rows whose ``locked_by`` is its own claim
token, so a worker never extends or frees a lease that another worker took over.

Revision ID: f5b02b3c4d6a
Revises: af6a7b8c9d04
Create Date: 2026-12-01 14:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "f5b02b3c4d6a"
down_revision = "d39e0f1a2b48"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_mail") as batch:
        batch.add_column(sa.Column("locked_by", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox_mail") as batch:
        batch.drop_column("locked_by")
