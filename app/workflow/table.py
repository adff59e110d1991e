"""The transition table: which states an action leaves from, where it goes, who may do
it, what it needs and which notification it raises; and, from the same table, the
actions a page offers a person."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models import Member, Survey, Ticket
from app.workflow.visibility import is_department_attendant

ATTENDANT, REQUESTER = "attendant", "requester"


@dataclass(frozen=True)
class Transition:
    sources: tuple[str, ...]
    target: str
    who: str                      # ATTENDANT of the ticket's department, or its REQUESTER
    assignee_only: bool = False   # among attendants, only the assignee
    needs: str | None = None      # "note" or "reason": a mandatory text
    event: str | None = None      # notification event (app.notifications)


TRANSITIONS: dict[str, Transition] = {
    "assume": Transition(("open",), "assumed", ATTENDANT, event="ticket_assumed"),
    "start": Transition(("assumed",), "in_progress", ATTENDANT, assignee_only=True,
                        event="ticket_started"),
    # Waiting on the requester stops the SLA clock; a requester's message resumes too.
    "wait": Transition(("in_progress",), "waiting", ATTENDANT, assignee_only=True,
                       needs="note", event="ticket_waiting"),
    "resume": Transition(("waiting",), "in_progress", ATTENDANT, assignee_only=True),
    "conclude": Transition(("in_progress",), "concluded", ATTENDANT, assignee_only=True,
                           needs="note", event="ticket_concluded"),
    "approve": Transition(("concluded",), "closed", REQUESTER, event="conclusion_reviewed"),
    "reject": Transition(("concluded",), "in_progress", REQUESTER, needs="reason",
                         event="conclusion_reviewed"),
    "cancel": Transition(("open", "assumed", "in_progress", "waiting"), "cancelled",
                         REQUESTER, needs="reason", event="ticket_cancelled"),
}
ACTIONS = tuple(TRANSITIONS) + ("survey",)
# History event types (ticket_event.type); the system's own moves have their own.
EVENT_TYPES = {"assume": "assumed", "start": "started", "wait": "waiting",
               "resume": "resumed", "conclude": "concluded", "approve": "approved",
               "reject": "rejected", "cancel": "cancelled"}
SYSTEM_EVENT_TYPES = {"approve": "auto_approved", "cancel": "auto_cancelled"}
OPEN_FOR_MESSAGES = ("open", "assumed", "in_progress", "waiting", "concluded")


def _may(transition: Transition, ticket: Ticket, actor: Member) -> bool:
    if transition.who == REQUESTER:
        return ticket.requester_id == actor.id
    return is_department_attendant(ticket, actor)


def allowed_actions(ticket: Ticket, actor: Member, *, attendant: bool | None = None,
                    surveyed: bool | None = None) -> list[str]:
    """The buttons a page shows: what the table lets ``actor`` do now. A page that
    already knows whether the actor attends the department, or whether the survey is
    filled, passes it in to save the queries."""
    result = []
    for action, transition in TRANSITIONS.items():
        if ticket.status not in transition.sources:
            continue
        if transition.who == ATTENDANT:
            attendant = is_department_attendant(ticket, actor) if attendant is None else attendant
            if not attendant or (transition.assignee_only and ticket.assignee_id != actor.id):
                continue
        elif ticket.requester_id != actor.id:
            continue
        result.append(action)
    if ticket.status == "closed" and ticket.requester_id == actor.id:
        if surveyed is None:
            surveyed = db.session.scalar(
                select(Survey.id).where(Survey.ticket_id == ticket.id)) is not None
        if not surveyed:
            result.append("survey")
    return result


def can_message(ticket: Ticket, actor: Member) -> bool:
    return ticket.status in OPEN_FOR_MESSAGES and actor.id in (ticket.requester_id,
                                                              ticket.assignee_id)
