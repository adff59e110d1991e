"""E-mail notifications: event -> recipients -> templates -> outbox -> Flask-Mail.

``enqueue`` is called by app.workflow inside the action's transaction (before its single
commit), so a mail is written if and only if the action happened.
"""
from __future__ import annotations


def enqueue(event: str, ticket, actor, *, text: str | None = None) -> list:
    """Write the outbox rows of ``event`` for ``ticket`` (filled in by the notifications
    work; until then no mail is produced)."""
    return []
