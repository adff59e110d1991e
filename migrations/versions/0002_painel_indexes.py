"""Painel indexes: tickets by assumption time, surveys covering their aggregate

The Painel's step "abertura -> assumido" filters tickets by ``assumed_at`` in the
period, which had no index (a full scan at a million tickets); the satisfaction views
read surveys filled in the period with their ticket and score, which this index
answers without visiting the survey rows. On PostgreSQL two covering indexes let the
six "tickets opened in the period per group" counts and the survey -> ticket join run
as index-only scans (SQLite has no INCLUDE; its plain indexes serve it well enough).

Revision ID: 5b1c2d3e4f60
Revises: 40e59cb00ad2
Create Date: 2026-11-29 12:30:00
"""
from alembic import op

revision = "5b1c2d3e4f60"
down_revision = "40e59cb00ad2"
branch_labels = None
depends_on = None


DIMENSIONS = ["department_id", "service_id", "priority", "sector_id", "assignee_id",
              "requester_id"]


def upgrade():
    op.create_index("ix_ticket_assumed", "ticket", ["account_id", "assumed_at"])
    op.create_index("ix_survey_filled_score", "survey",
                    ["account_id", "filled_at", "ticket_id", "score"])
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_ticket_opened_dims", "ticket", ["account_id", "opened_at"],
                        postgresql_include=DIMENSIONS + ["reopen_count"])
        op.create_index("ix_ticket_id_dims", "ticket", ["id"],
                        postgresql_include=["account_id"] + DIMENSIONS)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_ticket_id_dims", table_name="ticket")
        op.drop_index("ix_ticket_opened_dims", table_name="ticket")
    op.drop_index("ix_survey_filled_score", table_name="survey")
    op.drop_index("ix_ticket_assumed", table_name="ticket")
