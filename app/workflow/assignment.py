"""Automatic assignment: a ticket that reaches a department (opened there, or
transferred to it) is assumed at once by one of its available attendants, chosen by the
department's rule, inside the same transaction as the move that brought it.

- ``round_robin``: the next available attendant (by id) after the one chosen last;
- ``least_loaded``: the available attendant with the fewest tickets in ``assumed``,
  ``in_progress`` or ``waiting``; a tie goes to the next in turn, so nobody is chosen
  twice in a row while another is as free;
- ``manual`` (the default) or nobody available: the ticket stays ``open``.

Race safety: the department row is locked (``SELECT ... FOR NO KEY UPDATE``) before the turn
is read and written, so two tickets opened at the same instant on PostgreSQL take turns
instead of both reading the same "last assigned". On SQLite the ticket's INSERT or
UPDATE has already taken the database's write lock, which serialises them the same way.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from app import calendars, notifications
from app.extensions import db
from app.models import Department, Member, Ticket, department_attendant

LOAD_STATUSES = ("assumed", "in_progress", "waiting")
RULE_NAMES = {"round_robin": "rodízio", "least_loaded": "menor carga"}


def available_attendants(department_id: int) -> list[int]:
    """Ids of the department's active, available attendants, in turn order."""
    return list(db.session.scalars(
        select(Member.id)
        .join(department_attendant, department_attendant.c.user_id == Member.id)
        .where(department_attendant.c.department_id == department_id,
               Member.active.is_(True), Member.available.is_(True),
               Member.with_profile("attendant"))
        .order_by(Member.id)))


def _in_turn(candidates: list[int], last: int | None) -> list[int]:
    """The candidates starting after ``last`` and wrapping around."""
    after = [c for c in candidates if last is None or c > last]
    return after + [c for c in candidates if c not in after]


def choose(department: Department, candidates: list[int]) -> int:
    order = _in_turn(candidates, department.last_assigned_id)
    if department.assignment == "round_robin":
        return order[0]
    loads = dict(db.session.execute(
        select(Ticket.assignee_id, func.count())
        .where(Ticket.assignee_id.in_(candidates), Ticket.status.in_(LOAD_STATUSES))
        .group_by(Ticket.assignee_id)).all())
    return min(order, key=lambda c: (loads.get(c, 0), order.index(c)))


def auto_assign(ticket: Ticket, now: dt.datetime) -> Member | None:
    """Assume ``ticket`` (open, in its department) for the attendant the department's
    rule picks; None when the rule is manual or nobody is available."""
    # Most departments assign by hand (the default): nothing to lock then. The row lock
    # below serialises every opening of the department until its commit, so it is taken
    # only when there is a turn to read; a rule switched on at this very instant applies
    # from the next ticket.
    known = db.session.get(Department, ticket.department_id)
    if known is None or known.assignment == "manual":
        return None
    # FOR NO KEY UPDATE: the ticket's INSERT already holds a KEY SHARE lock on this row
    # (its foreign key), which a plain FOR UPDATE would wait on: two openings would
    # deadlock. populate_existing: the opening loaded this department into the session
    # before the lock, and its turn must be read again now.
    department = db.session.scalar(
        select(Department).where(Department.id == ticket.department_id)
        .with_for_update(key_share=True).execution_options(populate_existing=True))
    if department is None or department.assignment == "manual":
        return None
    candidates = available_attendants(department.id)
    if not candidates:
        return None
    chosen = choose(department, candidates)
    department.last_assigned_id = chosen
    calendar = calendars.calendar_for(ticket.account_id)
    result = db.session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status == "open",
               Ticket.version == ticket.version)
        .values(status="assumed", assignee_id=chosen, assumed_at=now, updated_at=now,
                version=Ticket.version + 1,
                business_assume_hours=calendars.working_hours(ticket.opened_at, now,
                                                              calendar))
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:   # someone moved it first: leave it to them
        return None
    db.session.refresh(ticket)
    member = db.session.get(Member, chosen)
    from app.workflow.moves import _event

    _event(ticket, "assumed", None, "open", "assumed", when=now,
           note=f"Atribuído automaticamente a {member.full_name} "
                f"({RULE_NAMES[department.assignment]}).")
    notifications.enqueue("ticket_assumed", ticket, None)
    notifications.enqueue("ticket_reassigned", ticket, None)
    return member
