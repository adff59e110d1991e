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

from app import attachments, business_hours, calendars, notifications, quotas
from app.extensions import db
from app.models import (
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
from app.workflow.assignment import auto_assign
from app.workflow.desk import desk_fields, desk_note, desk_snapshot, desk_values
from app.workflow.errors import (
    Forbidden,
    InvalidInput,
    PlanExpired,
    TicketNotFound,
    TransitionNotAllowed,
)
from app.workflow.inputs import _due, _id, _text, _utc
from app.workflow.table import (
    ADMIN,
    EVENT_TYPES,
    OPEN_FOR_MESSAGES,
    REQUESTER,
    SYSTEM_EVENT_TYPES,
    TRANSITIONS,
    Transition,
    _may,
    can_write_note,
    is_assignee_or_exempt,
    roles,
)
from app.workflow.visibility import is_department_attendant

MAX_DESCRIPTION = 20_000
MAX_NOTE = 5_000
MAX_SUBJECT = 200
# Moves that store a working-hours duration or recompute a due time (and any move out
# of "waiting", which measures the pause).
CLOCKED_ACTIONS = ("assume", "start", "conclude", "approve", "transfer")
SUBJECT_FROM_DESCRIPTION = 120


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


def subject_of(subject, description: str) -> str:
    """The ticket's "Assunto": as typed (at most 200 characters), or the description's
    first non-blank line, trimmed and cut at 120."""
    if subject is None or (isinstance(subject, str) and not subject.strip()):
        first = next((line.strip() for line in description.splitlines() if line.strip()), "")
        return first[:SUBJECT_FROM_DESCRIPTION]
    return " ".join(_text(subject, "subject", "O assunto", MAX_SUBJECT).split())


def open_ticket(actor: Member, *, department_id, service_id, priority, description,
                subject=None, upload=None, now: dt.datetime | None = None,
                uploads=()) -> Ticket:
    """A requester opens a ticket: validated, SLA due time computed, history and
    notifications written, optional file stored; all or nothing. ``uploads``: more
    files (a mail's attachments, app.mailbox.opening)."""
    if not actor.has_profile("requester"):
        raise Forbidden("Apenas solicitantes abrem chamados.")
    account = db.session.get(Account, actor.account_id)
    if account is None or not account.plan_active():
        raise PlanExpired("O plano da conta expirou: não é possível abrir chamados. "
                          "Peça a um administrador para renovar o plano.")
    quotas.check_opening(actor, _utc(now), with_file=bool(getattr(upload, "filename", None)))
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
    subject = subject_of(subject, description)
    now = _utc(now)
    calendar = calendars.calendar_for(actor.account_id)
    due = _due(now, service.sla_hours_for(priority), calendars.clock_for(service, calendar))
    ticket = Ticket(
        account_id=actor.account_id, requester_id=actor.id, department_id=department.id,
        service_id=service.id, sector_id=actor.sector_id, priority=priority, status="open",
        subject=subject, description=description, opened_at=now, updated_at=now, sla_due_at=due,
        sla_paused_seconds=0.0, reopen_count=0, version=1,
    )
    db.session.add(ticket)
    stored: list[str] = []
    try:
        db.session.flush()
        _store(upload, ticket, actor, stored)
        for extra in uploads:
            _store(extra, ticket, actor, stored)
        _event(ticket, "opened", actor, None, "open", when=now)
        notifications.enqueue("ticket_opened", ticket, actor, text=description)
        auto_assign(ticket, now)
    except BaseException:
        db.session.rollback()
        _remove_files(stored)
        raise
    _commit_or_clean(stored)
    return ticket


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


def _check_action(ticket: Ticket, action: str, actor: Member) -> tuple[Transition, set]:
    """The role check (403) of a move; returns the transition and the actor's roles."""
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise TicketNotFound("Ação desconhecida.")
    held = roles(ticket, actor)
    if not _may(transition, ticket, actor, held):
        if transition.who == (REQUESTER,):
            raise Forbidden("Apenas o solicitante do chamado pode fazer isso.")
        if ADMIN in transition.who:
            raise Forbidden("Apenas atendentes do departamento do chamado ou administradores "
                            "podem fazer isso.")
        raise Forbidden("Apenas atendentes do departamento do chamado podem fazer isso.")
    return transition, held


def apply(ticket: Ticket, action: str, actor: Member | None, *, note=None,
          fields: dict | None = None, system: bool = False,
          now: dt.datetime | None = None) -> Ticket:
    """Move ``ticket`` by ``action``. Checks in the contract's order: role (403), body
    (400), state and race (409), assignee (403). ``fields`` holds the move's other body
    fields (``assignee_id`` of a reassignment; ``department_id`` and ``service_id`` of a
    transfer). ``system`` marks the periodic jobs' moves (auto-approval, cancellation of
    an unanswered wait): no actor, no role check."""
    if action == "survey":
        raise InvalidInput("Use a pesquisa de satisfação.", "action")
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise TicketNotFound("Ação desconhecida.")
    held = set() if system else _check_action(ticket, action, actor)[1]
    text = None
    if transition.needs:
        label = "A nota de conclusão" if transition.needs == "note" else "O motivo"
        text = _text(note, transition.needs, label, MAX_NOTE)
    elif note is not None and not system:
        text = _text(note, "note", "A observação", MAX_NOTE, required=False)
    desk = desk_fields(action, ticket, fields or {})
    if ticket.status not in transition.sources:
        raise _state_error(ticket, action)
    if not system and not is_assignee_or_exempt(transition, ticket, actor, held):
        raise Forbidden("Apenas o atendente responsável pelo chamado pode fazer isso.")

    now = _utc(now)
    # The calendar (one query) only for the moves that measure working time.
    calendar = (calendars.calendar_for(ticket.account_id)
                if action in CLOCKED_ACTIONS or ticket.status == "waiting" else None)
    values = {"status": transition.target or ticket.status, "version": Ticket.version + 1,
              "updated_at": now}
    paused = None
    if action == "assume":
        values.update(assignee_id=actor.id, assumed_at=now, business_assume_hours=(
            calendars.working_hours(ticket.opened_at, now, calendar)))
    elif action == "start":
        values.update(started_at=now, business_start_hours=(
            calendars.working_hours(ticket.assumed_at, now, calendar)))
    elif action == "wait":
        values["waiting_since"] = now
    elif ticket.status == "waiting" and action in ("resume", "cancel"):
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
    elif action in ("release", "reassign", "transfer"):
        values.update(desk_values(action, ticket, desk, values, calendar))
    from_status, version = ticket.status, ticket.version
    before = desk_snapshot(ticket) if action in ("reassign", "transfer") else None
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
    elif action in ("reassign", "transfer"):
        text = desk_note(action, before, ticket, text)
    elif system and action == "approve":
        text = "Aprovado automaticamente por falta de resposta do solicitante."
    _event(ticket, SYSTEM_EVENT_TYPES[action] if system else EVENT_TYPES[action], actor,
           from_status, ticket.status, note=text, when=now)
    if transition.event:
        notifications.enqueue(transition.event, ticket, actor, text=text)
    if action == "transfer":
        auto_assign(ticket, now)
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
    notifications.enqueue_survey(ticket, actor, score, comment)  # + low_score at 1-2
    try:
        db.session.commit()
    except IntegrityError:  # the same requester submitting twice at once
        db.session.rollback()
        raise TransitionNotAllowed("A pesquisa deste chamado já foi respondida.")
    return survey


def post_message(ticket: Ticket, actor: Member, body, upload=None,
                 now: dt.datetime | None = None, internal=False,
                 uploads=()) -> TicketMessage:
    """A message (with an optional file) between the requester and the assignee; the
    requester's answer to a ticket waiting on them resumes it. ``internal``: a note
    among staff (any attendant of the department, managers, administrators) that the
    requester never sees, in any state of the ticket; it mails nobody."""
    if not isinstance(internal, bool):
        raise InvalidInput("internal deve ser true ou false.", "internal")
    if internal:
        if not can_write_note(ticket, actor):
            raise Forbidden("Notas internas são escritas pelos atendentes do departamento, "
                            "gestores e administradores.")
    elif actor.id != ticket.requester_id and not is_department_attendant(ticket, actor):
        raise Forbidden("Apenas o solicitante e o atendente do chamado trocam mensagens.")
    has_file = (upload is not None and getattr(upload, "filename", None)) or any(
        getattr(u, "filename", None) for u in uploads)   # ``uploads``: more files (mail)
    label = "A nota interna" if internal else "A mensagem"
    body = _text(body, "body", label, MAX_DESCRIPTION, required=not has_file) or ""
    if not internal:
        if ticket.status not in OPEN_FOR_MESSAGES:
            raise TransitionNotAllowed("Chamado encerrado ou cancelado não recebe mensagens.")
        if actor.id != ticket.requester_id and ticket.assignee_id != actor.id:
            raise Forbidden("Apenas o atendente responsável pelo chamado envia mensagens. "
                            "Assuma o chamado primeiro.")
    now = _utc(now)
    if has_file:
        quotas.check_upload(actor, now)
    message = TicketMessage(account_id=ticket.account_id, ticket_id=ticket.id,
                            author_id=actor.id, body=body, internal=internal, created_at=now)
    db.session.add(message)
    stored: list[str] = []
    try:
        db.session.flush()
        _store(upload, ticket, actor, stored, message_id=message.id)
        for extra in uploads:
            _store(extra, ticket, actor, stored, message_id=message.id)
        _event(ticket, "internal_note" if internal else "message", actor, ticket.status,
               ticket.status, note=body[:500] or "(arquivo)", when=now)
        if not internal:
            if actor.id == ticket.requester_id and ticket.status == "waiting":
                _resume_by_message(ticket, actor, now)
            event = ("requester_message" if actor.id == ticket.requester_id
                     else "attendant_message")
            notifications.enqueue(event, ticket, actor, text=body)
    except BaseException:
        db.session.rollback()
        _remove_files(stored)
        raise
    _commit_or_clean(stored)
    return message
