"""Indexes for an attendant's finished work, latest first

"Meus atendimentos" lists an attendant's closed, cancelled or all tickets by
``updated_at`` (latest first). With only (account, assignee, status) PostgreSQL sorted
every ticket the attendant ever handled: 45 ms per page for an attendant of a 1M-ticket
account. (account, assignee, status, updated_at) serves the tabs of one or a few
statuses, replacing the old index it extends; (account, assignee, updated_at) serves
the "Todos" tab. Both pages now read 21 index entries (1.6 ms).

Revision ID: 7c3d4e5f6a71
Revises: 5b1c2d3e4f60
Create Date: 2026-11-29 14:05:00
"""
from alembic import op

revision = "7c3d4e5f6a71"
down_revision = "5b1c2d3e4f60"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_ticket_assignee", table_name="ticket")
    op.create_index("ix_ticket_assignee", "ticket",
                    ["account_id", "assignee_id", "status", "updated_at"])
    op.create_index("ix_ticket_assignee_recent", "ticket",
                    ["account_id", "assignee_id", "updated_at"])


def downgrade():
    op.drop_index("ix_ticket_assignee_recent", table_name="ticket")
    op.drop_index("ix_ticket_assignee", table_name="ticket")
    op.create_index("ix_ticket_assignee", "ticket", ["account_id", "assignee_id", "status"])
