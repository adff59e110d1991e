"""The use cases: open a ticket, move it by the table, message, survey. Each validates,
writes its history event and outbox mails, and commits once; every move is a
conditional UPDATE on (id, status, version), so two people acting at once produce one
winner and one 409, on SQLite and PostgreSQL alike."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app import attachments, business_hours, calendars, notifications
from app.extensions import db
from app.models import (
    MAX_ID,
    PRIORITIES,
    Account,
    Attachment,
    Department,
    Member,
    Service,
    Survey,
    Ticket,
    TicketEvent,
    TicketMessage,
    as_utc,
    utcnow,
)
from app.vocabulary import ACTION_LABELS, STATUS_LABELS, duration_text
from app.workflow.errors import (
    Forbidden,
    InvalidInput,
    PlanExpired,
    TicketNotFound,
    TransitionNotAllowed,
)
from app.workflow.table import (
    EVENT_TYPES,
    OPEN_FOR_MESSAGES,
    REQUESTER,
    SYSTEM_EVENT_TYPES,
    TRANSITIONS,
    Transition,
    _may,
)
from app.workflow.visibility import is_department_attendant

MAX_DESCRIPTION = 20_000
MAX_NOTE = 5_000


def _text(value, field: str, label: str, max_len: int, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{label}: informe um texto.", field)
    if "\x00" in value:
        raise InvalidInput(f"{label} contém caracteres inválidos.", field)
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{label} é obrigatório.", field)
    if len(value) > max_len:
        raise InvalidInput(f"{label} deve ter no máximo {max_len} caracteres.", field)
    return value or None


def _id(value, field: str, label: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise InvalidInput(f"{label}: informe um id numérico.", field)
    return value


def _utc(now: dt.datetime | None) -> dt.datetime:
    """The moment of an action, in UTC: SQLite keeps a time's wall clock and drops its
    offset, so every stored time must already be UTC."""
    return utcnow() if now is None else as_utc(now).astimezone(dt.timezone.utc)


def _event(ticket: Ticket, type_: str, actor: Member | None, from_status, to_status,
           note=None, when=None) -> TicketEvent:
    event = TicketEvent(account_id=ticket.account_id, ticket_id=ticket.id, type=type_,
                        actor_id=actor.id if actor else None, from_status=from_status,
                        to_status=to_status, note=note, created_at=when or utcnow())
    db.session.add(event)
    return event


def _store(upload, ticket: Ticket, actor: Member, stored: list, message_id=None):
    """Save an optional upload; remember its file so a later failure removes it."""
    if upload is None or not getattr(upload, "filename", None):
        return None
    config = current_app.config
    saved = attachments.store_upload(upload, config["UPLOAD_FOLDER"],
                                     config["MAX_UPLOAD_MB"] * 1024 * 1024)
    stored.append(saved.stored_name)
    row = Attachment(account_id=ticket.account_id, ticket_id=ticket.id, message_id=message_id,
                     uploaded_by_id=actor.id, stored_name=saved.stored_name,
                     filename=saved.filename, size=saved.size, content_type=saved.content_type)
    db.session.add(row)
    return row


def _commit_or_clean(stored: list) -> None:
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        _remove_files(stored)
        raise


def _remove_files(stored: list) -> None:
    for name in stored:
        attachments.delete_stored(current_app.config["UPLOAD_FOLDER"], name)


# --- use cases ---------------------------------------------------------------------


def open_ticket(actor: Member, *, department_id, service_id, priority, description,
                upload=None, now: dt.datetime | None = None) -> Ticket:
    """A requester opens a ticket: validated, SLA due time computed, history and
    notifications written, optional file stored; all or nothing."""
    if not actor.has_profile("requester"):
        raise Forbidden("Apenas solicitantes abrem chamados.")
    account = db.session.get(Account, actor.account_id)
    if account is None or not account.plan_active():
        raise PlanExpired("O plano da conta expirou: não é possível abrir chamados. "
                          "Peça a um administrador para renovar o plano.")
    department_id = _id(department_id, "department_id", "Departamento")
    service_id = _id(service_id, "service_id", "Serviço")
    department = db.session.get(Department, department_id)
    if department is None:
        raise InvalidInput("Departamento inexistente.", "department_id")
    service = db.session.get(Service, service_id)
    if service is None:
        raise InvalidInput("Serviço inexistente.", "service_id")
    if service.department_id != department.id:
        raise InvalidInput("Este serviço não pertence ao departamento escolhido.", "service_id")
    if priority not in PRIORITIES:
        raise InvalidInput("Prioridade inválida: use low, medium, high ou urgent.", "priority")
    description = _text(description, "description", "Descrição", MAX_DESCRIPTION)
    now = _utc(now)
    calendar = calendars.calendar_for(actor.account_id)
    due = _due(now, service.sla_hours_for(priority), calendars.clock_for(service, calendar))
    ticket = Ticket(
        account_id=actor.account_id, requester_id=actor.id, department_id=department.id,
        service_id=service.id, sector_id=actor.sector_id, priority=priority, status="open",
        description=description, opened_at=now, updated_at=now, sla_due_at=due,
        sla_paused_seconds=0.0, reopen_count=0, version=1,
    )
    db.session.add(ticket)
    stored: list[str] = []
    try:
        db.session.flush()
        _store(upload, ticket, actor, stored)
        _event(ticket, "opened", actor, None, "open", when=now)
        notifications.enqueue("ticket_opened", ticket, actor, text=description)
    except BaseException:
        db.session.rollback()
        _remove_files(stored)
        raise
    _commit_or_clean(stored)
    return ticket


def _due(start: dt.datetime, hours, clock) -> dt.datetime:
    """``start`` plus ``hours`` on the service's clock (None: every hour counts)."""
    try:
        return business_hours.add(start, hours, clock)
    except business_hours.CalendarError:
        raise InvalidInput("Este serviço conta o prazo em horas úteis, mas o calendário da "
                           "conta não tem horário de atendimento. Peça a um administrador "
                           "para ajustar o calendário.", "service_id")


def _resume_values(ticket: Ticket, now: dt.datetime, calendar) -> tuple[dict, dt.timedelta]:
    """Leaving ``waiting``: the pause is measured on the service's clock, added to the
    ticket's total, and the due time moves forward by it (on the same clock, so a pause
    over a weekend moves a business-hours deadline by nothing)."""
    clock = calendars.clock_for(ticket.service, calendar)
    since = as_utc(ticket.waiting_since) or now
    paused = business_hours.between(since, now, clock)
    values = {"waiting_since": None,
              "sla_paused_seconds": Ticket.sla_paused_seconds + paused.total_seconds(),
              "sla_due_at": business_hours.add(as_utc(ticket.sla_due_at), paused, clock)}
    return values, paused


def _pause_note(ticket: Ticket, paused: dt.timedelta, calendar, prefix: str) -> str:
    due = as_utc(ticket.sla_due_at).astimezone(ZoneInfo(calendar.time_zone))
    return (f"{prefix} após {duration_text(paused.total_seconds())} de pausa no prazo "
            f"(total pausado: {duration_text(ticket.sla_paused_seconds or 0)}). "
            f"Novo prazo: {due:%d/%m/%Y %H:%M}.")


def _check_action(ticket: Ticket, action: str, actor: Member) -> Transition:
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise TicketNotFound("Ação desconhecida.")
    if not _may(transition, ticket, actor):
        if transition.who == REQUESTER:
            raise Forbidden("Apenas o solicitante do chamado pode fazer isso.")
        raise Forbidden("Apenas atendentes do departamento do chamado podem fazer isso.")
    return transition


def apply(ticket: Ticket, action: str, actor: Member | None, *, note=None,
          system: bool = False, now: dt.datetime | None = None) -> Ticket:
    """Move ``ticket`` by ``action``. Checks in the contract's order: role (403), body
    (400), state and race (409), assignee (403). ``system`` marks the periodic jobs'
    moves (auto-approval, cancellation of an unanswered wait): no actor, no role check."""
    if action == "survey":
        raise InvalidInput("Use a pesquisa de satisfação.", "action")
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise TicketNotFound("Ação desconhecida.")
    if not system:
        _check_action(ticket, action, actor)
    text = None
    if transition.needs:
        label = "A nota de conclusão" if transition.needs == "note" else "O motivo"
        text = _text(note, transition.needs, label, MAX_NOTE)
    elif note is not None and not system:
        text = _text(note, "note", "A observação", MAX_NOTE, required=False)
    if ticket.status not in transition.sources:
        raise _state_error(ticket, action)
    if transition.assignee_only and ticket.assignee_id != actor.id:
        raise Forbidden("Apenas o atendente responsável pelo chamado pode fazer isso.")

    now = _utc(now)
    calendar = calendars.calendar_for(ticket.account_id)
    values = {"status": transition.target, "version": Ticket.version + 1, "updated_at": now}
    paused = None
    if action == "assume":
        values.update(assignee_id=actor.id, assumed_at=now, business_assume_hours=(
            calendars.working_hours(ticket.opened_at, now, calendar)))
    elif action == "start":
        values.update(started_at=now, business_start_hours=(
            calendars.working_hours(ticket.assumed_at, now, calendar)))
    elif action == "wait":
        values["waiting_since"] = now
    elif action == "resume" or (action == "cancel" and ticket.status == "waiting"):
        resumed, paused = _resume_values(ticket, now, calendar)
        values.update(resumed)
    if action == "conclude":
        values.update(concluded_at=now, business_handling_hours=(
            calendars.working_hours(ticket.started_at, now, calendar)))
    elif action == "reject":
        values.update(concluded_at=None, business_handling_hours=None,
                      reopen_count=Ticket.reopen_count + 1)
    elif action == "approve":
        values.update(closed_at=now, auto_approved=system,
                      sla_met=as_utc(ticket.concluded_at) <= as_utc(ticket.sla_due_at),
                      business_approve_hours=(
                          calendars.working_hours(ticket.concluded_at, now, calendar)))
    elif action == "cancel":
        values["cancelled_at"] = now
    from_status, version = ticket.status, ticket.version
    result = db.session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status == from_status, Ticket.version == version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise _lost_race(ticket.id, action)
    db.session.refresh(ticket)
    if action == "resume":
        text = " ".join(filter(None, [
            _pause_note(ticket, paused, calendar, "Atendimento retomado"), text]))
    elif system and action == "approve":
        text = "Aprovado automaticamente por falta de resposta do solicitante."
    _event(ticket, SYSTEM_EVENT_TYPES[action] if system else EVENT_TYPES[action], actor,
           from_status, transition.target, note=text, when=now)
    if transition.event:
        notifications.enqueue(transition.event, ticket, actor, text=text)
    db.session.commit()
    return ticket


def _resume_by_message(ticket: Ticket, actor: Member, now: dt.datetime) -> bool:
    """A requester's message on a ``waiting`` ticket resumes it, in the message's own
    transaction. Racing the assignee's "resume" (or another message), exactly one
    UPDATE matches ``status = 'waiting'``; the loser's message is still posted and the
    ticket is resumed once."""
    calendar = calendars.calendar_for(ticket.account_id)
    for _ in range(2):
        if ticket.status != "waiting":
            return False
        values, paused = _resume_values(ticket, now, calendar)
        result = db.session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id, Ticket.status == "waiting",
                   Ticket.version == ticket.version)
            .values(status="in_progress", version=Ticket.version + 1, updated_at=now,
                    **values)
            .execution_options(synchronize_session=False))
        if result.rowcount == 1:
            db.session.refresh(ticket)
            _event(ticket, "resumed", actor, "waiting", "in_progress", when=now,
                   note=_pause_note(ticket, paused, calendar,
                                    "Retomado pela resposta do solicitante"))
            return True
        db.session.refresh(ticket)   # someone else moved it: look again
    return False


def _state_error(ticket: Ticket, action: str) -> TransitionNotAllowed:
    if action == "assume" and ticket.assignee is not None:
        return TransitionNotAllowed(f"Chamado já assumido por {ticket.assignee.full_name}.")
    return TransitionNotAllowed(
        f"Não é possível {ACTION_LABELS[action].lower()}: o chamado está "
        f"{STATUS_LABELS[ticket.status].lower()}.")


def _lost_race(ticket_id: int, action: str) -> TransitionNotAllowed:
    current = db.session.get(Ticket, ticket_id, populate_existing=True)
    if current is None:
        return TransitionNotAllowed("O chamado mudou enquanto você agia. Atualize a página.")
    return _state_error(current, action)


def fill_survey(ticket: Ticket, actor: Member, score, comment=None) -> Survey:
    if ticket.requester_id != actor.id:
        raise Forbidden("Apenas o solicitante do chamado responde a pesquisa.")
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise InvalidInput("A nota deve ser um número inteiro de 1 a 5.", "score")
    comment = _text(comment, "comment", "O comentário", 2000, required=False)
    if ticket.status != "closed":
        raise TransitionNotAllowed("A pesquisa só pode ser respondida após a aprovação.")
    if db.session.scalar(select(Survey.id).where(Survey.ticket_id == ticket.id)) is not None:
        raise TransitionNotAllowed("A pesquisa deste chamado já foi respondida.")
    now = utcnow()
    survey = Survey(account_id=ticket.account_id, ticket_id=ticket.id, score=score,
                    comment=comment, filled_at=now)
    db.session.add(survey)
    _event(ticket, "survey", actor, "closed", "closed", note=f"Nota {score}", when=now)
    notifications.enqueue("survey_filled", ticket, actor, text=comment)
    try:
        db.session.commit()
    except IntegrityError:  # the same requester submitting twice at once
        db.session.rollback()
        raise TransitionNotAllowed("A pesquisa deste chamado já foi respondida.")
    return survey


def post_message(ticket: Ticket, actor: Member, body, upload=None,
                 now: dt.datetime | None = None) -> TicketMessage:
    """A message (with an optional file) between the requester and the assignee; the
    requester's answer to a ticket waiting on them resumes it."""
    if actor.id != ticket.requester_id and not is_department_attendant(ticket, actor):
        raise Forbidden("Apenas o solicitante e o atendente do chamado trocam mensagens.")
    has_file = upload is not None and getattr(upload, "filename", None)
    body = _text(body, "body", "A mensagem", MAX_DESCRIPTION, required=not has_file) or ""
    if ticket.status not in OPEN_FOR_MESSAGES:
        raise TransitionNotAllowed("Chamado encerrado ou cancelado não recebe mensagens.")
    if actor.id != ticket.requester_id and ticket.assignee_id != actor.id:
        raise Forbidden("Apenas o atendente responsável pelo chamado envia mensagens. "
                        "Assuma o chamado primeiro.")
    now = _utc(now)
    message = TicketMessage(account_id=ticket.account_id, ticket_id=ticket.id,
                            author_id=actor.id, body=body, created_at=now)
    db.session.add(message)
    stored: list[str] = []
    try:
        db.session.flush()
        _store(upload, ticket, actor, stored, message_id=message.id)
        _event(ticket, "message", actor, ticket.status, ticket.status,
               note=body[:500] or "(arquivo)", when=now)
        if actor.id == ticket.requester_id and ticket.status == "waiting":
            _resume_by_message(ticket, actor, now)
        event = "requester_message" if actor.id == ticket.requester_id else "attendant_message"
        notifications.enqueue(event, ticket, actor, text=body)
    except BaseException:
        db.session.rollback()
        _remove_files(stored)
        raise
    _commit_or_clean(stored)
    return message
