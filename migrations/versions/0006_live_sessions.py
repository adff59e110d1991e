"""Live sessions of each member, so sessions and tokens can end

Every login (the page or the API) opens a session whose random id and expiry are kept
in ``ab_user.live_sessions`` (a small JSON object, id -> expiry in epoch seconds); the
session cookie and every JWT carry that id, and a request is accepted only while the id
is still there (app/sessions.py). Logging out removes one id; a password set by an
administrator, a deactivation or a change of profiles clears them all; the member's
own password change keeps only the current one. Only ab_user changes.

Revision ID: b17c8d9e0f26
Revises: 9e5f6a7b8c93
Create Date: 2026-12-01 10:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = "b17c8d9e0f26"
down_revision = "9e5f6a7b8c93"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("ab_user") as batch:
        batch.add_column(sa.Column("live_sessions", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("ab_user") as batch:
        batch.drop_column("live_sessions")
