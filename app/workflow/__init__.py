"""The ticket state machine: a transition table, one ``apply()``, typed errors.

The table is data: which states an action leaves from, where it goes, who may do it,
what it needs, which notification it raises. ``apply()`` enforces it and is the only
code that writes a ticket's status; pages use ``allowed_actions()`` (the same table) to
decide which buttons to show. Every move is a conditional UPDATE on (id, status,
version), so two people acting at once produce one winner and one 409, on SQLite and
PostgreSQL alike. Each use case validates, writes its history event and outbox mails,
and commits once; errors are typed and become HTTP codes or flashes only at the edge.
"""
from __future__ import annotations

from app.vocabulary import (  # noqa: F401 (pages name things through here)
    ACTION_LABELS,
    PRIORITY_LABELS,
    STATUS_LABELS,
)
from app.vocabulary import (
    HISTORY_LABELS as EVENT_LABELS,
)
from app.workflow.errors import (  # noqa: F401
    Forbidden,
    InvalidInput,
    PlanExpired,
    TicketNotFound,
    TransitionNotAllowed,
    WorkflowError,
)
from app.workflow.jobs import auto_approve_due, cancel_unanswered_waiting  # noqa: F401
from app.workflow.moves import (  # noqa: F401
    MAX_DESCRIPTION,
    MAX_NOTE,
    _check_action,
    apply,
    fill_survey,
    open_ticket,
    post_message,
    subject_of,
)
from app.workflow.table import (  # noqa: F401
    ACTIONS,
    ATTENDANT,
    EVENT_TYPES,
    OPEN_FOR_MESSAGES,
    REQUESTER,
    SYSTEM_EVENT_TYPES,
    TRANSITIONS,
    Transition,
    allowed_actions,
    can_message,
    can_write_note,
    roles,
)
from app.workflow.visibility import (  # noqa: F401
    attachment_visible,
    attendant_departments,
    get_ticket,
    hides_internal,
    is_department_attendant,
    visible_events,
    visible_messages,
    visible_tickets,
)
