"""The desk moves of the transition table: release to the queue, reassign to a colleague,
transfer to another department. ``apply`` calls these for the parts that differ from a
plain state change (the body's ids, the new values, the history note); the checks'
order, the conditional UPDATE, the history event and the mail stay in ``apply``.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app import business_hours, calendars
from app.extensions import db
from app.models import Department, Member, Service, Ticket, department_attendant
from app.workflow.errors import InvalidInput
from app.workflow.inputs import _due, _id


@dataclass(frozen=True)
class DeskSnapshot:
    """What the history note names: the ticket's place before the move."""
    assignee_name: str | None
    department_name: str
    service_name: str


def _attendant_of(department_id: int, user_id: int) -> Member | None:
    member = db.session.get(Member, user_id)
    if member is None or not member.active or not member.has_profile("attendant"):
        return None
    linked = db.session.scalar(select(department_attendant.c.user_id).where(
        department_attendant.c.department_id == department_id,
        department_attendant.c.user_id == user_id))
    return member if linked is not None else None


def desk_fields(action: str, ticket: Ticket, fields: dict) -> dict:
    """The move's body ids, checked (400 naming the field) before the state is."""
    if action == "reassign":
        assignee_id = _id(fields.get("assignee_id"), "assignee_id", "Atendente")
        member = _attendant_of(ticket.department_id, assignee_id)
        if member is None:
            raise InvalidInput("Escolha um atendente ativo do departamento do chamado.",
                               "assignee_id")
        if assignee_id == ticket.assignee_id:
            raise InvalidInput("Este atendente já é o responsável pelo chamado.",
                               "assignee_id")
        return {"assignee": member}
    if action == "transfer":
        department_id = _id(fields.get("department_id"), "department_id", "Departamento")
        service_id = _id(fields.get("service_id"), "service_id", "Serviço")
        department = db.session.get(Department, department_id)
        if department is None:          # another account's is invisible: same answer
            raise InvalidInput("Departamento inexistente.", "department_id")
        service = db.session.get(Service, service_id)
        if service is None:
            raise InvalidInput("Serviço inexistente.", "service_id")
        if service.department_id != department.id:
            raise InvalidInput("Este serviço não pertence ao departamento escolhido.",
                               "service_id")
        if service.id == ticket.service_id:
            raise InvalidInput("O chamado já está neste serviço: escolha outro.",
                               "service_id")
        return {"department": department, "service": service}
    return {}


def desk_values(action: str, ticket: Ticket, desk: dict, values: dict, calendar) -> dict:
    """The columns the move writes besides status and version. A transfer starts the
    ticket over in the new department: back to ``open`` with nobody assigned, its due
    time the opening time plus the new service's target and the time paused so far,
    on the new service's clock."""
    if action == "release":
        return {"assignee_id": None}
    if action == "reassign":
        return {"assignee_id": desk["assignee"].id}
    service = desk["service"]
    paused_seconds = (ticket.sla_paused_seconds or 0.0)
    if ticket.status == "waiting":   # the wait ends with the transfer: count it too
        paused_seconds += business_hours.between(
            ticket.waiting_since, values["updated_at"],
            calendars.clock_for(ticket.service, calendar)).total_seconds()
    hours = service.sla_hours_for(ticket.priority) + paused_seconds / 3600
    return {"department_id": desk["department"].id, "service_id": service.id,
            "assignee_id": None, "waiting_since": None,
            "sla_paused_seconds": paused_seconds,
            "sla_due_at": _due(ticket.opened_at, hours, calendars.clock_for(service, calendar))}


def desk_snapshot(ticket: Ticket) -> DeskSnapshot:
    return DeskSnapshot(
        assignee_name=ticket.assignee.full_name if ticket.assignee else None,
        department_name=ticket.department.name, service_name=ticket.service.name)


def desk_note(action: str, before: DeskSnapshot, ticket: Ticket, text: str | None) -> str:
    """The history line of a reassignment or transfer: from whom or where, to what."""
    db.session.expire(ticket, ["assignee", "department", "service"])
    if action == "reassign":
        line = f"De {before.assignee_name or 'ninguém'} para {ticket.assignee.full_name}."
    else:
        line = (f"De {before.department_name} / {before.service_name} para "
                f"{ticket.department.name} / {ticket.service.name}.")
    return f"{line} {text}" if text else line
