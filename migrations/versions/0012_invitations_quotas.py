"""Per-requester quotas: openings and uploads per hour, account settings

``account.openings_per_hour`` (default 100) and ``account.uploads_per_hour`` (default
300), read by app/quotas.py. Invitations need no table: their links are signed tokens
(app/invitations.py), like the forgotten-password links.

Revision ID: a6c13c4d5e7b
Revises: af6a7b8c9d04
Create Date: 2026-12-01 14:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = "a6c13c4d5e7b"
down_revision = "f5b02b3c4d6a"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN on both backends (no batch copy of the table on SQLite).
    op.add_column("account", sa.Column("openings_per_hour", sa.Integer(), nullable=False,
                                       server_default="100"))
    op.add_column("account", sa.Column("uploads_per_hour", sa.Integer(), nullable=False,
                                       server_default="300"))


def downgrade():
    with op.batch_alter_table("account") as batch:
        batch.drop_column("uploads_per_hour")
        batch.drop_column("openings_per_hour")
