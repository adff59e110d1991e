"""The ticket page shared by every profile, its POST actions, messages and downloads.

One page (``/chamados/<id>``) for requesters, attendants, managers and administrators:
what it shows depends only on ``workflow.get_ticket`` (who may see it) and on
``workflow.allowed_actions`` / ``workflow.can_message`` (the transition table decides
the buttons). Every change is a POST that calls the workflow; the workflow's typed
errors come back as flashed Portuguese messages and the page is shown again with what
the user typed, nothing written. A ticket the user may not see is a 404, never a 403,
so ids of other requesters, departments or accounts reveal nothing.

The helpers at the top (tabs, capped counts, pagination, SLA badge, time zone) are
shared by the lists of the Área do Cliente and the Área do Atendente.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import NotFound

from app import accounts, attachments, workflow
from app.attachments import UploadRejected
from app.extensions import db
from app.tenancy import current_account
from app.models import (
    Account,
    Attachment,
    Survey,
    Ticket,
    TicketEvent,
    TicketMessage,
    as_utc,
    utcnow,
)

PAGE_SIZE = 20
MAX_PAGE = 500              # offsets stay bounded whatever the account's size
COUNT_CAP = 99              # tab badges read at most 100 index entries: "99+" like a mail client
NEAR_FRACTION = 0.25        # "vence em breve": the last quarter of the SLA window

EVENT_ICONS = {  # keyed by ticket_event.type (workflow.EVENT_TYPES' past tense)
    "opened": "fa-plus", "assumed": "fa-hand-paper-o", "started": "fa-play",
    "concluded": "fa-check", "approved": "fa-thumbs-up", "rejected": "fa-undo",
    "cancelled": "fa-ban", "message": "fa-comment", "survey": "fa-star",
    "auto_approved": "fa-clock-o",
}
SHORT_STATUS = {**workflow.STATUS_LABELS, "concluded": "Concluído"}
PRIORITY_RANK = {"urgent": 4, "high": 3, "medium": 2, "low": 1}


# --- shared helpers for every ticket list and page ---------------------------------


def time_formatter(account: Account | None):
    """``when(value)`` -> "dd/mm/aaaa hh:mm" in the account's time zone."""
    def when(value, fmt="%d/%m/%Y %H:%M"):
        if value is None:
            return "—"
        if account is not None:
            local = accounts.local_time(account, value)
        else:
            local = as_utc(value).astimezone(ZoneInfo("America/Sao_Paulo"))
        return local.strftime(fmt)
    return when


def sla_state(ticket: Ticket, now: dt.datetime | None = None) -> str:
    """One word for the SLA badge: ok, near, breached (still open), met, missed (closed),
    or none (cancelled)."""
    now = now or utcnow()
    due = as_utc(ticket.sla_due_at)
    if ticket.status == "cancelled":
        return "none"
    if ticket.status == "closed":
        return "met" if ticket.sla_met else "missed"
    if ticket.status == "concluded":
        return "met" if as_utc(ticket.concluded_at) <= due else "missed"
    if now > due:
        return "breached"
    total = due - as_utc(ticket.opened_at)
    if due - now <= total * NEAR_FRACTION:
        return "near"
    return "ok"


SLA_BADGES = {  # state -> (bootstrap label class, text shown before the due time)
    "ok": ("label-default", "Prazo"), "near": ("label-warning", "Vence em breve"),
    "breached": ("label-danger", "Atrasado"), "met": ("label-success", "No prazo"),
    "missed": ("label-danger", "Fora do prazo"), "none": ("label-default", "Prazo"),
}


def template_helpers(account: Account | None) -> dict:
    now = utcnow()
    return {
        "when": time_formatter(account),
        "sla": lambda ticket: SLA_BADGES[sla_state(ticket, now)] + (sla_state(ticket, now),),
        "status_labels": workflow.STATUS_LABELS,
        "short_status": SHORT_STATUS,
        "priority_labels": workflow.PRIORITY_LABELS,
        "action_labels": workflow.ACTION_LABELS,
        "account": account,
    }


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    statuses: tuple[str, ...] | None   # None: every status


def int_arg(name: str, default: int = 1, maximum: int = MAX_PAGE) -> int:
    value = request.args.get(name, "")
    if not value.isdigit():
        return default
    return max(1, min(int(value), maximum))


def tab_counts(base, tabs) -> dict:
    """Each tab's COUNT over at most COUNT_CAP + 1 rows (a tab shows "99+" instead of
    scanning a million tickets), all tabs in one round trip."""
    counts = []
    for t in tabs:
        stmt = base if t.statuses is None else base.where(Ticket.status.in_(t.statuses))
        inner = stmt.with_only_columns(Ticket.id).order_by(None).limit(COUNT_CAP + 1)
        counts.append(select(func.count()).select_from(inner.subquery()).scalar_subquery())
    return dict(zip((t.key for t in tabs), db.session.execute(select(*counts)).one()))


def list_page(base, tabs: list[Tab], order_by, *, endpoint: str, title: str,
              subtitle: str, columns: tuple[str, ...], empty: str, extra=None) -> dict:
    """Everything a list page needs: the chosen tab, capped counts per tab, one page of
    tickets with their names loaded by joins (constant query count), and paging.
    ``order_by`` is a tuple of columns, or a function of the chosen tab returning one."""
    chosen = request.args.get("aba")
    tab = next((t for t in tabs if t.key == chosen), tabs[0])
    counts = tab_counts(base, tabs)
    stmt = base if tab.statuses is None else base.where(Ticket.status.in_(tab.statuses))
    if callable(order_by):
        order_by = order_by(tab)
    page = int_arg("pagina")
    # Two steps: pick the page's ids by sorting narrow index rows, then load those few
    # tickets with their names. Joining first made PostgreSQL join every candidate row
    # before sorting (30 ms instead of 8 ms on a queue of a 1M-ticket account).
    ids = db.session.scalars(
        stmt.with_only_columns(Ticket.id).order_by(*order_by)
        .limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)
    ).all()
    position = {ticket_id: index for index, ticket_id in enumerate(ids)}
    rows = sorted(db.session.scalars(
        select(Ticket).options(joinedload(Ticket.requester), joinedload(Ticket.assignee),
                               joinedload(Ticket.service), joinedload(Ticket.department))
        .where(Ticket.id.in_(ids))
    ).unique().all(), key=lambda ticket: position[ticket.id]) if ids else []
    has_next = len(rows) > PAGE_SIZE and page < MAX_PAGE
    tickets = rows[:PAGE_SIZE]
    surveyed = set()
    if "survey" in columns and tickets:
        surveyed = set(db.session.scalars(select(Survey.ticket_id).where(
            Survey.ticket_id.in_([t.id for t in tickets if t.status == "closed"]))))
    return dict(
        tabs=tabs, tab=tab, counts=counts, count_cap=COUNT_CAP, tickets=tickets,
        page=page, has_next=has_next, endpoint=endpoint, title=title, subtitle=subtitle,
        columns=columns, empty=empty, surveyed=surveyed, extra=extra or {},
        **template_helpers(current_account()),
    )


def priority_rank():
    return case(PRIORITY_RANK, value=Ticket.priority, else_=0)


# --- the ticket page ---------------------------------------------------------------

ALL_TABS = [
    Tab("todos", "Todos", None),
    Tab("abertos", "Abertos", ("open",)),
    Tab("andamento", "Em atendimento", ("assumed", "in_progress")),
    Tab("aprovacao", "Aguardando aprovação", ("concluded",)),
    Tab("encerrados", "Encerrados", ("closed",)),
    Tab("cancelados", "Cancelados", ("cancelled",)),
]


class TicketView(BaseView):
    """``/chamados``: the account's tickets (managers and administrators, read-only) and
    the one ticket page every profile shares."""

    route_base = "/chamados"
    default_view = "list"

    def _not_found(self):
        return self.render_template("tickets/not_found.html"), 404

    @expose("/")
    @has_access
    @permission_name("list")
    def list(self):
        return self.render_template("tickets/list.html", **list_page(
            workflow.visible_tickets(g.user), ALL_TABS,
            (Ticket.opened_at.desc(), Ticket.id.desc()),
            endpoint="TicketView.list", title="Chamados",
            subtitle="Todos os chamados da empresa (somente leitura).",
            columns=("requester", "assignee", "sla"),
            empty="Nenhum chamado nesta situação."))

    def render_ticket(self, ticket: Ticket, *, status: int = 200, drafts: dict | None = None):
        user = g.user
        account = current_account()
        events = db.session.scalars(
            select(TicketEvent).options(joinedload(TicketEvent.actor))
            .where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        ).all()
        messages = db.session.scalars(
            select(TicketMessage).options(joinedload(TicketMessage.author))
            .where(TicketMessage.ticket_id == ticket.id).order_by(TicketMessage.id)
        ).all()
        opening_files = db.session.scalars(
            select(Attachment).where(Attachment.ticket_id == ticket.id,
                                     Attachment.message_id.is_(None)).order_by(Attachment.id)
        ).all()
        survey = db.session.scalar(select(Survey).where(Survey.ticket_id == ticket.id))
        attendant = workflow.is_department_attendant(ticket, user)
        actions = workflow.allowed_actions(ticket, user, attendant=attendant,
                                           surveyed=survey is not None)
        return self.render_template(
            "tickets/show.html", ticket=ticket, events=events, messages=messages,
            opening_files=opening_files, survey=survey, actions=actions,
            can_message=workflow.can_message(ticket, user),
            is_requester=ticket.requester_id == user.id, is_attendant=attendant,
            read_only=not actions and not workflow.can_message(ticket, user),
            drafts=drafts or {}, event_labels=workflow.EVENT_LABELS, event_icons=EVENT_ICONS,
            max_upload_mb=current_app.config["MAX_UPLOAD_MB"],
            accept=",".join(sorted(attachments.ALLOWED)),
            max_description=workflow.MAX_DESCRIPTION, max_note=workflow.MAX_NOTE,
            **template_helpers(account),
        ), status

    def _failed(self, ticket_id: int, error, drafts: dict):
        """A refused POST: roll back, flash the reason, show the page again as it is in
        the database with what the user typed still in the form."""
        db.session.rollback()
        flash(error.message, "danger")
        try:
            ticket = workflow.get_ticket(ticket_id, g.user)
        except workflow.TicketNotFound:
            return self._not_found()
        return self.render_ticket(ticket, status=error.status, drafts=drafts)

    @expose("/<int:ticket_id>")
    @has_access
    @permission_name("show")
    def show(self, ticket_id):
        try:
            ticket = workflow.get_ticket(ticket_id, g.user)
        except workflow.TicketNotFound:
            return self._not_found()
        return self.render_ticket(ticket)

    @expose("/<int:ticket_id>/acao/<string:action>", methods=["POST"])
    @has_access
    @permission_name("act")
    def act(self, ticket_id, action):
        if action not in workflow.TRANSITIONS:
            return self._not_found()
        note = request.form.get("note")
        try:
            ticket = workflow.get_ticket(ticket_id, g.user)
            workflow.apply(ticket, action, g.user, note=note)
        except workflow.TicketNotFound:
            db.session.rollback()
            return self._not_found()
        except workflow.WorkflowError as error:
            return self._failed(ticket_id, error, {action: note or ""})
        flash(DONE_MESSAGES[action], "success")
        anchor = "pesquisa" if action == "approve" else None
        return redirect(url_for("TicketView.show", ticket_id=ticket_id, _anchor=anchor))

    @expose("/<int:ticket_id>/pesquisa", methods=["POST"])
    @has_access
    @permission_name("act")
    def survey(self, ticket_id):
        raw = request.form.get("score", "")
        score = int(raw) if raw.isdigit() else raw
        comment = request.form.get("comment") or None
        try:
            ticket = workflow.get_ticket(ticket_id, g.user)
            workflow.fill_survey(ticket, g.user, score, comment)
        except workflow.TicketNotFound:
            db.session.rollback()
            return self._not_found()
        except workflow.WorkflowError as error:
            return self._failed(ticket_id, error, {"survey": comment or "", "score": raw})
        flash("Obrigado! Sua avaliação foi registrada.", "success")
        return redirect(url_for("TicketView.show", ticket_id=ticket_id))

    @expose("/<int:ticket_id>/mensagens", methods=["POST"])
    @has_access
    @permission_name("message")
    def message(self, ticket_id):
        body = request.form.get("body", "")
        try:
            ticket = workflow.get_ticket(ticket_id, g.user)
            workflow.post_message(ticket, g.user, body, upload=request.files.get("file"))
        except workflow.TicketNotFound:
            db.session.rollback()
            return self._not_found()
        except (workflow.WorkflowError, UploadRejected) as error:
            return self._failed(ticket_id, error, {"body": body})
        flash("Mensagem enviada.", "success")
        return redirect(url_for("TicketView.show", ticket_id=ticket_id, _anchor="conversa"))

    @expose("/<int:ticket_id>/anexos/<int:attachment_id>")
    @has_access
    @permission_name("download")
    def download(self, ticket_id, attachment_id):
        """A file only through its own ticket: the ticket must be visible to the user
        and the attachment must belong to it (a child under the wrong parent is 404)."""
        try:
            ticket = workflow.get_ticket(ticket_id, g.user)
        except workflow.TicketNotFound:
            return self._not_found()
        row = db.session.get(Attachment, attachment_id)
        if row is None or row.ticket_id != ticket.id:
            return self._not_found()
        try:
            return attachments.download_response(current_app.config["UPLOAD_FOLDER"], row)
        except (ValueError, FileNotFoundError, NotFound):
            return self._not_found()


DONE_MESSAGES = {
    "assume": "Chamado assumido. Inicie o atendimento quando começar a trabalhar nele.",
    "start": "Atendimento iniciado.",
    "conclude": "Atendimento concluído. O solicitante foi avisado para aprovar.",
    "approve": "Encerramento aprovado. Conte como foi o atendimento na pesquisa abaixo.",
    "reject": "Encerramento reprovado. O chamado voltou para o atendente.",
    "cancel": "Chamado cancelado.",
}
