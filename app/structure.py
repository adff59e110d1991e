"""Use cases of the service structure: sectors, departments (with attendants), services.

Shared by the REST API and the generated screens (their pre_add/pre_update call the
same checks), so a rule holds everywhere. Ids sent by a client are looked up through
the tenancy-scoped session: another account's row is simply "inexistente" (400 naming
the field), which reveals nothing.
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app import calendars
from app.extensions import db
from app.models import (
    ASSIGNMENTS,
    MAX_ID,
    PRIORITIES,
    SLA_CLOCKS,
    Department,
    Member,
    Sector,
    Service,
    Ticket,
)
from app.security import ValidationError, clean_text


def _int_id(value, field: str, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise ValidationError(field, f"{label}: informe um id numérico.")
    return value


def _unique_name(model, name: str, field_label: str, exclude_id=None, **scope):
    stmt = select(model.id).where(func.lower(model.name) == name.lower())
    for key, value in scope.items():
        stmt = stmt.where(getattr(model, key) == value)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    if db.session.scalar(stmt) is not None:
        raise ValidationError("name", f"Já existe {field_label} com este nome.", 409)


def _commit():
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ValidationError("name", "Conflito com um registro existente.", 409)


# --- sectors -----------------------------------------------------------------------


def save_sector(sector: Sector | None, body: dict) -> Sector:
    sector = sector or Sector()
    if "name" in body or sector.id is None:
        name = clean_text(body.get("name"), "name", "Nome", max_len=120)
        _unique_name(Sector, name, "um setor", exclude_id=sector.id)
        sector.name = name
    db.session.add(sector)
    _commit()
    return sector


def delete_sector(sector: Sector) -> None:
    in_use = db.session.scalar(select(func.count()).select_from(Member)
                               .where(Member.sector_id == sector.id))
    if in_use:
        raise ValidationError("id", "Setor com membros não pode ser excluído: mova-os antes.",
                              409)
    db.session.delete(sector)
    _commit()


# --- departments -------------------------------------------------------------------


def attendants_from_ids(ids) -> list[Member]:
    if not isinstance(ids, list):
        raise ValidationError("attendant_ids", "attendant_ids: informe uma lista de ids.")
    wanted = list(dict.fromkeys(_int_id(i, "attendant_ids", "Atendente") for i in ids))
    if not wanted:
        return []
    found = {m.id: m for m in db.session.scalars(
        select(Member).options(selectinload(Member.roles)).where(Member.id.in_(wanted)))}
    for member_id in wanted:
        member = found.get(member_id)
        if member is None:
            raise ValidationError("attendant_ids", f"Atendente {member_id} inexistente.")
        if not member.has_profile("attendant"):
            raise ValidationError(
                "attendant_ids", f"{member.full_name} não tem o perfil Atendente."
            )
    return [found[i] for i in wanted]


def save_department(department: Department | None, body: dict) -> Department:
    department = department or Department()
    if "name" in body or department.id is None:
        name = clean_text(body.get("name"), "name", "Nome", max_len=120)
        _unique_name(Department, name, "um departamento", exclude_id=department.id)
        department.name = name
    if "attendant_ids" in body:
        department.attendants = attendants_from_ids(body["attendant_ids"])
    if "assignment" in body:
        department.assignment = check_assignment(body["assignment"])
    db.session.add(department)
    _commit()
    return department


def check_assignment(value, field: str = "assignment") -> str:
    if value not in ASSIGNMENTS:
        raise ValidationError(field, "Atribuição inválida: use manual, round_robin (rodízio) "
                                     "ou least_loaded (menor carga).")
    return value


def assignment_warning(department: Department) -> str | None:
    """Why tickets of this department would wait for nobody, for the admin's list (from
    the attendants the list already loaded: no query per row)."""
    if not department.attendants:
        return "Sem atendentes: os chamados deste departamento não chegam a ninguém."
    if department.assignment != "manual" and not any(
            m.active and m.available for m in department.attendants):
        return "Nenhum atendente disponível: a atribuição automática está parada."
    return None


def delete_department(department: Department) -> None:
    if db.session.scalar(select(Ticket.id).where(Ticket.department_id == department.id)
                         .limit(1)) is not None:
        raise ValidationError("id", "Departamento com chamados não pode ser excluído.", 409)
    db.session.delete(department)
    _commit()


# --- services ----------------------------------------------------------------------


def _hours(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 8760:
        raise ValidationError(field, "Informe um número inteiro de horas entre 1 e 8760.")
    return value


def check_sla_clock(value, field: str = "sla_clock") -> str:
    """``24x7`` or ``business``; the business clock needs a calendar with working hours
    (otherwise no due time would ever come)."""
    if value not in SLA_CLOCKS:
        raise ValidationError(field, "Relógio do SLA inválido: use 24x7 (horas corridas) ou "
                                     "business (horas úteis).")
    if value == "business":
        from app.tenancy import current_account_id

        if not calendars.calendar_for(current_account_id()).has_working_hours():
            raise ValidationError(field, "O calendário da conta não tem horário de "
                                         "atendimento: defina-o antes de usar horas úteis.")
    return value


def save_service(service: Service | None, body: dict) -> Service:
    creating = service is None
    service = service or Service()
    if "department_id" in body or creating:
        dep_id = _int_id(body.get("department_id"), "department_id", "Departamento")
        department = db.session.get(Department, dep_id)
        if department is None:
            raise ValidationError("department_id", "Departamento inexistente.")
        if not creating and dep_id != service.department_id and db.session.scalar(
            select(Ticket.id).where(Ticket.service_id == service.id).limit(1)
        ) is not None:
            raise ValidationError("department_id",
                                  "Serviço com chamados não pode mudar de departamento.", 409)
        service.department_id = department.id
    if "name" in body or creating:
        name = clean_text(body.get("name"), "name", "Nome", max_len=120)
        _unique_name(Service, name, "um serviço neste departamento", exclude_id=service.id,
                     department_id=service.department_id)
        service.name = name
    if "sla_hours" in body or creating:
        service.sla_hours = _hours(body.get("sla_hours", 24) if creating else body["sla_hours"],
                                   "sla_hours")
    if "sla_hours_by_priority" in body:
        by_priority = body["sla_hours_by_priority"] or {}
        if not isinstance(by_priority, dict):
            raise ValidationError("sla_hours_by_priority", "Informe um objeto por prioridade.")
        unknown = set(by_priority) - set(PRIORITIES)
        if unknown:
            raise ValidationError("sla_hours_by_priority",
                                  "Prioridade desconhecida: " + ", ".join(sorted(unknown)))
        for priority in PRIORITIES:
            value = by_priority.get(priority)
            setattr(service, f"sla_{priority}_hours",
                    None if value is None else _hours(value, "sla_hours_by_priority"))
    if "sla_clock" in body:
        service.sla_clock = check_sla_clock(body["sla_clock"])
    elif creating:
        service.sla_clock = "24x7"
    db.session.add(service)
    _commit()
    return service


def delete_service(service: Service) -> None:
    if db.session.scalar(select(Ticket.id).where(Ticket.service_id == service.id)
                         .limit(1)) is not None:
        raise ValidationError("id", "Serviço com chamados não pode ser excluído.", 409)
    db.session.delete(service)
    _commit()
