"""Who sees which tickets: the SELECTs every list, page and API starts from (the account
scope is added by app.tenancy)."""
from __future__ import annotations

from sqlalchemy import false, or_, select

from app.extensions import db
from app.models import (
    Attachment,
    Member,
    Ticket,
    TicketEvent,
    TicketMessage,
    department_attendant,
)
from app.workflow.errors import TicketNotFound


def attendant_departments(actor: Member):
    """SELECT of the ids of the departments ``actor`` attends."""
    return select(department_attendant.c.department_id).where(
        department_attendant.c.user_id == actor.id)


def visible_tickets(actor: Member):
    """SELECT of the tickets ``actor`` may see (the account scope is added by tenancy):
    managers and administrators the whole account, attendants their departments' and
    their own, requesters their own."""
    profiles = actor.profile_codes()
    stmt = select(Ticket)
    if profiles & {"admin", "manager"}:
        return stmt
    conditions = []
    if "requester" in profiles:
        conditions.append(Ticket.requester_id == actor.id)
    if "attendant" in profiles:
        conditions.append(Ticket.department_id.in_(attendant_departments(actor)))
        conditions.append(Ticket.assignee_id == actor.id)
    return stmt.where(or_(*conditions) if conditions else false())


def get_ticket(ticket_id, actor: Member, *options) -> Ticket:
    """The ticket if ``actor`` may see it, else TicketNotFound; ``options`` are loader
    options for what the caller will read (a page joins the names it shows)."""
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int):
        raise TicketNotFound()
    ticket = db.session.scalar(
        visible_tickets(actor).where(Ticket.id == ticket_id).options(*options))
    if ticket is None:
        raise TicketNotFound()
    return ticket


def is_department_attendant(ticket: Ticket, actor: Member) -> bool:
    if not actor.has_profile("attendant"):
        return False
    return db.session.scalar(
        select(department_attendant.c.user_id).where(
            department_attendant.c.department_id == ticket.department_id,
            department_attendant.c.user_id == actor.id)
    ) is not None


# --- internal notes: never to the ticket's requester ---------------------------------


def hides_internal(ticket: Ticket, actor: Member) -> bool:
    """The ticket's own requester never sees internal notes, whatever other profiles
    they hold; everyone else who may see the ticket does."""
    return ticket.requester_id == actor.id


def visible_messages(ticket: Ticket, actor: Member):
    """SELECT of the messages of ``ticket`` that ``actor`` may read, oldest first."""
    stmt = select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)
    if hides_internal(ticket, actor):
        stmt = stmt.where(TicketMessage.internal.is_(False))
    return stmt.order_by(TicketMessage.id)


def visible_events(ticket: Ticket, actor: Member):
    """SELECT of the history of ``ticket`` that ``actor`` may read, oldest first."""
    stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    if hides_internal(ticket, actor):
        stmt = stmt.where(TicketEvent.type != "internal_note")
    return stmt.order_by(TicketEvent.id)


def attachment_visible(row: Attachment, ticket: Ticket, actor: Member) -> bool:
    """A file is as private as the message it came with."""
    if row.ticket_id != ticket.id:
        return False
    if row.message_id is None or not hides_internal(ticket, actor):
        return True
    return db.session.scalar(select(TicketMessage.internal).where(
        TicketMessage.id == row.message_id)) is False
