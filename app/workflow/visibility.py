"""Who sees which tickets: the SELECTs every list, page and API starts from (the account
scope is added by app.tenancy)."""
from __future__ import annotations

from sqlalchemy import false, or_, select

from app.extensions import db
from app.models import Member, Ticket, department_attendant
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
