"""The transition table: which states an action leaves from, where it goes, who may do
it, what it needs and which notification it raises; and, from the same table, the
actions a page offers a person."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models import Member, Survey, Ticket
from app.workflow.visibility import is_department_attendant

ATTENDANT, REQUESTER, ADMIN = "attendant", "requester", "admin"


@dataclass(frozen=True)
class Transition:
    """``who``: the roles that may make the move: ATTENDANT (of the ticket's department),
    REQUESTER (the ticket's own), ADMIN (an administrator of the account).
    ``assignee_only``: an attendant must be the assignee (an administrator need not)."""
    sources: tuple[str, ...]
    target: str | None            # None: the state stays (reassign)
    who: tuple[str, ...]
    assignee_only: bool = False
    needs: str | None = None      # "note" or "reason": a mandatory text
    event: str | None = None      # notification event (app.notifications)
    fields: tuple[str, ...] = ()  # other body fields the move takes


TRANSITIONS: dict[str, Transition] = {
    "assume": Transition(("open",), "assumed", (ATTENDANT,), event="ticket_assumed"),
    "start": Transition(("assumed",), "in_progress", (ATTENDANT,), assignee_only=True,
                        event="ticket_started"),
    # Waiting on the requester stops the SLA clock; a requester's message resumes too.
    "wait": Transition(("in_progress",), "waiting", (ATTENDANT,), assignee_only=True,
                       needs="note", event="ticket_waiting"),
    "resume": Transition(("waiting",), "in_progress", (ATTENDANT,), assignee_only=True),
    # The desk: back to the queue, to a colleague, to another department.
    "release": Transition(("assumed", "in_progress"), "open", (ATTENDANT,),
                          assignee_only=True, event="ticket_released"),
    "reassign": Transition(("assumed", "in_progress", "waiting"), None, (ATTENDANT, ADMIN),
                           assignee_only=True, event="ticket_reassigned",
                           fields=("assignee_id",)),
    "transfer": Transition(("open", "assumed", "in_progress", "waiting"), "open",
                           (ATTENDANT, ADMIN), needs="reason", event="ticket_transferred",
                           fields=("department_id", "service_id")),
    "conclude": Transition(("in_progress",), "concluded", (ATTENDANT,), assignee_only=True,
                           needs="note", event="ticket_concluded"),
    "approve": Transition(("concluded",), "closed", (REQUESTER,),
                          event="conclusion_reviewed"),
    "reject": Transition(("concluded",), "in_progress", (REQUESTER,), needs="reason",
                         event="conclusion_reviewed"),
    "cancel": Transition(("open", "assumed", "in_progress", "waiting"), "cancelled",
                         (REQUESTER,), needs="reason", event="ticket_cancelled"),
}
ACTIONS = tuple(TRANSITIONS) + ("survey",)
# History event types (ticket_event.type); the system's own moves have their own.
EVENT_TYPES = {"assume": "assumed", "start": "started", "wait": "waiting",
               "resume": "resumed", "release": "released", "reassign": "reassigned",
               "transfer": "transferred", "conclude": "concluded", "approve": "approved",
               "reject": "rejected", "cancel": "cancelled"}
SYSTEM_EVENT_TYPES = {"approve": "auto_approved", "cancel": "auto_cancelled"}
OPEN_FOR_MESSAGES = ("open", "assumed", "in_progress", "waiting", "concluded")


def roles(ticket: Ticket, actor: Member, *, attendant: bool | None = None) -> set[str]:
    """The roles ``actor`` holds on ``ticket`` (a page that already knows whether the
    actor attends the department passes it in to save the query)."""
    result = set()
    if ticket.requester_id == actor.id:
        result.add(REQUESTER)
    if attendant if attendant is not None else is_department_attendant(ticket, actor):
        result.add(ATTENDANT)
    if actor.has_profile("admin"):
        result.add(ADMIN)
    return result


def _may(transition: Transition, ticket: Ticket, actor: Member, held=None) -> bool:
    held = roles(ticket, actor) if held is None else held
    return bool(held & set(transition.who))


def is_assignee_or_exempt(transition: Transition, ticket: Ticket, actor: Member,
                          held: set[str]) -> bool:
    """The assignee-only rule: an administrator allowed the move is exempt."""
    if not transition.assignee_only or ticket.assignee_id == actor.id:
        return True
    return ADMIN in transition.who and ADMIN in held


def allowed_actions(ticket: Ticket, actor: Member, *, attendant: bool | None = None,
                    surveyed: bool | None = None) -> list[str]:
    """The buttons a page shows: what the table lets ``actor`` do now. A page that
    already knows whether the actor attends the department, or whether the survey is
    filled, passes it in to save the queries."""
    held = roles(ticket, actor, attendant=attendant)
    result = []
    for action, transition in TRANSITIONS.items():
        if ticket.status not in transition.sources or not _may(transition, ticket, actor,
                                                                held):
            continue
        if is_assignee_or_exempt(transition, ticket, actor, held):
            result.append(action)
    if ticket.status == "closed" and ticket.requester_id == actor.id:
        if surveyed is None:
            surveyed = db.session.scalar(
                select(Survey.id).where(Survey.ticket_id == ticket.id)) is not None
        if not surveyed:
            result.append("survey")
    return result


def can_message(ticket: Ticket, actor: Member) -> bool:
    """Public messages: between the requester and the assignee, while the ticket is
    open for them."""
    return ticket.status in OPEN_FOR_MESSAGES and actor.id in (ticket.requester_id,
                                                              ticket.assignee_id)


def can_write_note(ticket: Ticket, actor: Member, *, attendant: bool | None = None) -> bool:
    """Internal notes: any attendant of the department, managers and administrators;
    never the ticket's own requester (whatever other profiles they hold)."""
    if ticket.requester_id == actor.id:
        return False
    if actor.profile_codes() & {"admin", "manager"}:
        return True
    return attendant if attendant is not None else is_department_attendant(ticket, actor)
