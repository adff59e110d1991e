"""E-mail notifications: event -> recipients -> templates -> outbox -> Flask-Mail.

``enqueue`` is called by app.workflow inside the action's transaction (before its single
commit), so a mail is written if and only if the action happened; nothing here talks to
SMTP. ``app.mailer`` drains the outbox from a worker (``flask send-mail`` or the jobs
loop of ``make run``).

Who receives an event is the account's ``NotificationSetting`` row: requester, assignee,
the department's attendants, managers (members with the Gestor profile). The list is
deduplicated, holds only active members of the ticket's own account that have an
e-mail, and never the actor of the action, except the requester's receipt of a ticket
they opened themselves.
"""
from __future__ import annotations

import contextlib
import contextvars
import re
import uuid

from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.mail_in import threads
from app.models import (
    EVENTS,
    RECIPIENTS,
    Account,
    Department,
    Member,
    NotificationSetting,
    OutboxMail,
    Service,
    Survey,
    TicketMessage,
    department_attendant,
)
from app.outbox import outbox_now
from app.security import ValidationError
from app.vocabulary import NOTIFICATION_LABELS, PRIORITY_LABELS, STATUS_LABELS

EVENT_LABELS = NOTIFICATION_LABELS
RECIPIENT_LABELS = {
    "requester": "Solicitante",
    "assignee": "Atendente responsável",
    "department_attendants": "Atendentes do departamento",
    "managers": "Gestores",
}
SUBJECT_MAX = 255
SUMMARY_MAX = 60
# Anything that could end or fold a header line, plus the other control characters.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")

_muted: contextvars.ContextVar[bool] = contextvars.ContextVar("notifications_muted",
                                                              default=False)


@contextlib.contextmanager
def muted():
    """Write no mail inside this block: generated demo and benchmark data never mails
    anybody, even when it is driven through app.workflow."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def one_line(value, max_len: int | None = None) -> str:
    """User text made safe for a header: control characters (CR, LF, tab, NUL, the
    Unicode line separators) become single spaces, so no header can be added."""
    text = " ".join(_CONTROL.sub(" ", str(value or "")).split())
    if max_len is not None and len(text) > max_len:
        text = text[: max_len - 1].rstrip() + "…"
    return text


def setting_for(account_id: int, event: str) -> NotificationSetting | None:
    return db.session.scalar(
        select(NotificationSetting).where(NotificationSetting.account_id == account_id,
                                          NotificationSetting.event == event))


UNASSIGNED_GOES_TO_DEPARTMENT = ("requester_message",)
UNATTENDED_GOES_TO_ADMINS = ("ticket_opened", "requester_message", "ticket_transferred")
# A low score is about the requester's own judgement of the desk: it is for the people
# who run the desk, never mailed back to the requester, whatever the settings say.
NEVER_TO_REQUESTER = ("low_score",)
LOW_SCORES = (1, 2)
SURVEY_EVENTS = ("survey_filled", "low_score")   # mails about the survey just filled


def _admin_ids(account_id: int) -> list[int]:
    from flask_appbuilder.security.sqla.models import Role

    from config import PROFILE_ROLES

    return list(db.session.scalars(
        select(Member.id).where(Member.account_id == account_id,
                                Member.roles.any(Role.name == PROFILE_ROLES["admin"]))
        .order_by(Member.id)))


def recipients_for(setting: NotificationSetting, ticket, actor) -> list[tuple[str, Member]]:
    """(role, member) pairs in a stable order, each member once (its first role wins)."""
    account_id = ticket.account_id
    wanted: list[tuple[str, int]] = []
    if setting.to_requester:   # NEVER_TO_REQUESTER events drop the requester below
        wanted.append(("requester", ticket.requester_id))
    if setting.to_assignee and ticket.assignee_id:
        wanted.append(("assignee", ticket.assignee_id))
    # Nobody has assumed the ticket yet: what was meant for its assignee goes to the
    # department's attendants, who are the ones who will pick it up (issue 14).
    unassigned = (setting.to_assignee and not ticket.assignee_id
                  and setting.event in UNASSIGNED_GOES_TO_DEPARTMENT)
    if setting.to_department_attendants or unassigned:
        ids = db.session.scalars(
            select(department_attendant.c.user_id)
            .join(Department, Department.id == department_attendant.c.department_id)
            .where(department_attendant.c.department_id == ticket.department_id,
                   Department.account_id == account_id)
            .order_by(department_attendant.c.user_id)).all()
        wanted += [("department_attendants", i) for i in ids]
        if not ids and setting.event in UNATTENDED_GOES_TO_ADMINS:
            # A department without attendants: its administrators see the ticket in
            # "Sem atendente" and get the mail, so it is never silently lost.
            wanted += [("admins", i) for i in _admin_ids(account_id)]
    if setting.to_managers:
        from flask_appbuilder.security.sqla.models import Role

        from config import PROFILE_ROLES

        ids = db.session.scalars(
            select(Member.id).where(Member.account_id == account_id,
                                    Member.roles.any(Role.name == PROFILE_ROLES["manager"]))
            .order_by(Member.id)).all()
        wanted += [("managers", i) for i in ids]
    if not wanted:
        return []
    members = {m.id: m for m in db.session.scalars(
        select(Member).where(Member.id.in_({i for _, i in wanted}),
                             Member.account_id == account_id))}
    actor_id = actor.id if actor is not None else None
    result, seen = [], set()
    for role, user_id in wanted:
        member = members.get(user_id)
        if member is None or user_id in seen:
            continue
        if not member.active or not (member.email or "").strip():
            continue
        if member.account_id != account_id:  # never anyone of another account
            continue
        if setting.event in NEVER_TO_REQUESTER and user_id == ticket.requester_id:
            continue
        receipt = setting.event == "ticket_opened" and user_id == ticket.requester_id
        if user_id == actor_id and not receipt:
            continue
        seen.add(user_id)
        result.append((role, member))
    return result


def _action_ref(event: str, ticket) -> str:
    """What makes the idempotency key unique per action, found without flushing.

    Transitions (and the opening) bump ``ticket.version``, so the version names the
    action; a survey is one per ticket; a message is named by its id (the workflow
    flushed it to store its files). Nothing here flushes: the caller's pending rows
    (a second survey, say) must fail at the caller's commit, where it expects them to.
    """
    if event in SURVEY_EVENTS:
        return "survey"
    if event in ("requester_message", "attendant_message"):
        ids = [obj.id for obj in list(db.session.identity_map.values())
               if isinstance(obj, TicketMessage) and obj.ticket_id == ticket.id
               and obj.id is not None]
        return f"m{max(ids)}" if ids else "u" + uuid.uuid4().hex[:16]
    return f"v{ticket.version}"


def enqueue(event: str, ticket, actor, *, text: str | None = None,
            exclude=()) -> list[OutboxMail]:
    """Write one outbox row per recipient of ``event`` on ``ticket`` (but the member
    ids in ``exclude``); returns them."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    if _muted.get():
        return []
    with db.session.no_autoflush:
        return _enqueue(event, ticket, actor, text, frozenset(exclude))


def enqueue_survey(ticket, actor, score: int, comment: str | None = None) -> list[OutboxMail]:
    """The mails of a filled survey: ``low_score`` first when the score is 1 or 2 (to
    the managers by default), then ``survey_filled`` to whoever it goes to that did
    not just get the low-score mail, which says the same and more: one mail per
    person for one survey."""
    low = enqueue("low_score", ticket, actor, text=comment) if score in LOW_SCORES else []
    return low + enqueue("survey_filled", ticket, actor, text=comment,
                         exclude={row.recipient_id for row in low})


def _enqueue(event: str, ticket, actor, text: str | None,
             exclude: frozenset = frozenset()) -> list[OutboxMail]:
    setting = setting_for(ticket.account_id, event)
    if setting is None:  # an account without the row: the defaults the screen shows
        from app.accounts import default_notification_setting

        setting = default_notification_setting(ticket.account_id, event)
    if not setting.enabled:
        return []
    recipients = [(role, member) for role, member in recipients_for(setting, ticket, actor)
                  if member.id not in exclude]
    if not recipients:
        return []
    ref = _action_ref(event, ticket)
    context = _context(event, ticket, actor, text)
    now = outbox_now()
    rows = []
    previous = _previous_keys(ticket.id)
    for role, member in recipients:
        reply_to = threads.reply_address(ticket.id, member.id)
        values = {"can_reply": bool(reply_to) and member.id in (ticket.requester_id,
                                                                ticket.assignee_id)}
        subject, body_text, body_html = render(event, {**context, **values}, role, member)
        row = OutboxMail(
            account_id=ticket.account_id, ticket_id=ticket.id, event=event,
            recipient_id=member.id, recipient_email=one_line(member.email, 320),
            subject=subject, body_text=body_text, body_html=body_html,
            idempotency_key=f"{event}:{ticket.id}:{ref}:{member.id}"[:120],
            status="pending", attempts=0, next_attempt_at=now, created_at=now,
            sender_name=context["company"] or None, reply_to=reply_to,
            thread_refs=threads.references_for(ticket.id, previous.get(member.id)),
        )
        db.session.add(row)
        rows.append(row)
    return rows


def _previous_keys(ticket_id: int) -> dict[int, str]:
    """recipient id -> the idempotency key of the last mail written to them about the
    ticket (this transaction's pending ones included): what a new mail replies to.
    One query per event, whatever the number of recipients."""
    latest = (select(func.max(OutboxMail.id)).where(OutboxMail.ticket_id == ticket_id)
              .group_by(OutboxMail.recipient_id))
    keys = dict(db.session.execute(
        select(OutboxMail.recipient_id, OutboxMail.idempotency_key)
        .where(OutboxMail.ticket_id == ticket_id, OutboxMail.id.in_(latest))).all())
    for obj in db.session.new:
        if isinstance(obj, OutboxMail) and obj.ticket_id == ticket_id:
            keys[obj.recipient_id] = obj.idempotency_key
    return keys


# --- settings (the API and the admin screen share these) ---------------------------


def settings_by_event(account_id: int, create: bool = False) -> dict[str, NotificationSetting]:
    """The account's rows per event; missing ones (an account older than a new event)
    are the defaults, added to the session when ``create``."""
    from app.accounts import default_notification_setting

    rows = {s.event: s for s in db.session.scalars(
        select(NotificationSetting).where(NotificationSetting.account_id == account_id))}
    for event in EVENTS:
        if event not in rows:
            rows[event] = default_notification_setting(account_id, event)
            if create:
                db.session.add(rows[event])
    return rows


def serialize_settings(rows: dict[str, NotificationSetting]) -> list[dict]:
    return [{"event": e, "enabled": bool(rows[e].enabled), "recipients": rows[e].recipients()}
            for e in EVENTS]


def parse_settings(body) -> dict[str, dict]:
    """Validated changes per event: ``{"enabled": bool?, "recipients": set?}``."""
    if not isinstance(body, dict) or not isinstance(body.get("settings"), list):
        raise ValidationError("settings", "Envie {\"settings\": [...]} com uma entrada por "
                                          "evento.")
    changes: dict[str, dict] = {}
    for index, entry in enumerate(body["settings"]):
        if not isinstance(entry, dict):
            raise ValidationError("settings", f"Entrada {index} inválida: envie um objeto.")
        event = entry.get("event")
        if not isinstance(event, str) or event not in EVENTS:
            raise ValidationError("event", f"Evento inválido na entrada {index}: use "
                                           + ", ".join(EVENTS) + ".")
        if event in changes:
            raise ValidationError("event", f"Evento {event} repetido.")
        change = {}
        if "enabled" in entry:
            if not isinstance(entry["enabled"], bool):
                raise ValidationError("enabled", f"{event}: enabled deve ser true ou false.")
            change["enabled"] = entry["enabled"]
        if "recipients" in entry:
            recipients = entry["recipients"]
            if not isinstance(recipients, list) or not all(
                    isinstance(r, str) and r in RECIPIENTS for r in recipients):
                raise ValidationError("recipients", f"{event}: destinatários inválidos; use "
                                                    + ", ".join(RECIPIENTS) + ".")
            if event in NEVER_TO_REQUESTER and "requester" in recipients:
                raise ValidationError("recipients", f"{event}: este aviso nunca vai ao "
                                                    "solicitante; use assignee, "
                                                    "department_attendants ou managers.")
            change["recipients"] = set(recipients)
        changes[event] = change
    return changes


def apply_settings(account_id: int, changes: dict[str, dict]) -> dict[str, NotificationSetting]:
    rows = settings_by_event(account_id, create=True)
    for event, change in changes.items():
        row = rows[event]
        if "enabled" in change:
            row.enabled = change["enabled"]
        if "recipients" in change:
            for recipient in RECIPIENTS:
                setattr(row, f"to_{recipient}", recipient in change["recipients"]
                        and not (recipient == "requester" and event in NEVER_TO_REQUESTER))
    db.session.commit()
    return rows


# --- rendering ---------------------------------------------------------------------


def _context(event: str, ticket, actor, text: str | None) -> dict:
    service = db.session.get(Service, ticket.service_id)
    department = db.session.get(Department, ticket.department_id)
    base_url = current_app.config.get("BASE_URL", "").rstrip("/")
    context = {
        "event": event,
        "event_label": EVENT_LABELS[event],
        "ticket_id": ticket.id,
        "service": service.name if service else "",
        "department": department.name if department else "",
        "status": ticket.status,
        "status_label": STATUS_LABELS.get(ticket.status, ticket.status),
        "priority_label": PRIORITY_LABELS.get(ticket.priority, ticket.priority),
        "description": ticket.description,
        "ticket_subject": ticket.subject or ticket.description,
        "actor_name": actor.full_name if actor is not None else "Sistema",
        "assignee_name": (db.session.get(Member, ticket.assignee_id).full_name
                          if ticket.assignee_id else ""),
        "automatic": actor is None,
        "text": text or "",
        "link": f"{base_url}/chamados/{ticket.id}",
        "open_link": f"{base_url}/cliente/abrir",
        "company": one_line(getattr(db.session.get(Account, ticket.account_id), "name", ""),
                            150),
        "approved": ticket.status == "closed",
        "score": None,
    }
    if event == "conclusion_reviewed":
        context["event_label"] = ("Conclusão aprovada" if context["approved"]
                                  else "Conclusão reprovada")
    if event in SURVEY_EVENTS:
        pending = [obj for obj in db.session.new
                   if isinstance(obj, Survey) and obj.ticket_id == ticket.id]
        survey = pending[-1] if pending else db.session.scalar(
            select(Survey).where(Survey.ticket_id == ticket.id))
        context["score"] = survey.score if survey else None
    return context


def thread_subject(ticket_id: int, ticket_subject: str) -> str:
    """``[Chamado #<id>] <assunto>``: one line, at most 255 characters."""
    return one_line(f"[Chamado #{ticket_id}] {one_line(ticket_subject, 200)}", SUBJECT_MAX)


def render(event: str, context: dict, role: str, member: Member) -> tuple[str, str, str]:
    """Subject (one line, always with ``#<ticket id>``), text and HTML bodies.

    Templates are rendered straight from the Jinja environment (no request, no context
    processors); Flask autoescapes the ``.html`` ones, the ``.txt`` ones stay plain.
    """
    # One subject for every mail of the ticket, so that readers that thread by subject
    # (Gmail) keep them together; what happened is the body's first line.
    subject = thread_subject(context["ticket_id"], context["ticket_subject"])
    values = {**context, "subject": subject, "recipient_role": role,
              "recipient_name": member.full_name or member.username}
    env = current_app.jinja_env
    body_text = env.get_template(f"email/{event}.txt").render(**values)
    body_html = env.get_template(f"email/{event}.html").render(**values)
    return subject, body_text, body_html


# The sender and its periodic job live in app.mailer; importing it here is how the jobs
# loop (which imports this module) finds the job.
from app import mailer  # noqa: E402,F401
