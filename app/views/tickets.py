"""The ticket page shared by every profile, its POST actions, messages and downloads.

One page (``/chamados/<id>``) for requesters, attendants, managers and administrators:
what it shows depends only on ``workflow.get_ticket`` (who may see it) and on
``workflow.allowed_actions`` / ``workflow.can_message`` (the transition table decides
the buttons). Every change is a POST that calls the workflow; the workflow's typed
errors come back as flashed Portuguese messages and the page is shown again with what
the user typed, nothing written. A ticket the user may not see is a 404, never a 403,
so ids of other requesters, departments or accounts reveal nothing.

The account's ticket list (managers and administrators) is here too; the list
machinery is app.views.lists and the display helpers app.views.display.
"""
from __future__ import annotations

from flask import current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import NotFound

from app import attachments, canned, workflow
from app.attachments import UploadRejected
from app.extensions import db
from app.models import (
    Attachment,
    Department,
    Service,
    Survey,
    Ticket,
    TicketEvent,
    TicketMessage,
)
from app.tenancy import current_account
from app.views.display import template_helpers
from app.views.lists import ALL_TABS, TicketList, list_page

EVENT_ICONS = {  # keyed by ticket_event.type (workflow.EVENT_TYPES' past tense)
    "opened": "fa-plus", "assumed": "fa-hand-paper-o", "started": "fa-play",
    "concluded": "fa-check", "approved": "fa-thumbs-up", "rejected": "fa-undo",
    "cancelled": "fa-ban", "message": "fa-comment", "survey": "fa-star",
    "auto_approved": "fa-clock-o", "waiting": "fa-pause", "resumed": "fa-play-circle",
    "auto_cancelled": "fa-clock-o", "released": "fa-reply", "reassigned": "fa-exchange",
    "transferred": "fa-share", "internal_note": "fa-lock",
}
# Managers and administrators: every ticket of the account, newest first.
ACCOUNT_LIST_ORDER = (Ticket.opened_at.desc(), Ticket.id.desc())
ACCOUNT_LIST = TicketList(ALL_TABS, ACCOUNT_LIST_ORDER)
ACCOUNT_FILTERS = ("search", "status", "department", "service", "priority", "requester",
                   "assignee", "opened_from", "opened_to")
# Lists with the "Ir para o chamado nº" box, where a bad number sends the user back.
LIST_ENDPOINTS = {"TicketView.list", "AttendantView.queue", "AttendantView.mine",
                  "RequesterView.mine"}
# What the ticket page reads of the ticket beyond its row, joined in the same query.
PAGE_LOAD = (joinedload(Ticket.service), joinedload(Ticket.department),
             joinedload(Ticket.sector))


def desk_choices(ticket: Ticket, actions: list[str]) -> dict:
    """What the reassign and transfer forms offer: the department's other attendants,
    and every other service of the account with its department (only when offered)."""
    choices = {}
    if "reassign" in actions:
        department = db.session.get(Department, ticket.department_id)
        choices["attendants"] = [(m.id, m.full_name) for m in department.attendants
                                 if m.active and m.id != ticket.assignee_id]
    if "transfer" in actions:
        choices["services"] = [
            (s.id, s.name, s.department_id, s.department.name) for s in db.session.scalars(
                select(Service).options(joinedload(Service.department))
                .where(Service.id != ticket.service_id).order_by(Service.name))]
        choices["services"].sort(key=lambda s: (s[3], s[1]))
    return choices


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
        ticket_list = ACCOUNT_LIST
        if not g.user.profile_codes() & {"admin", "manager"}:
            # Only those two profiles hold this permission; should another ever get
            # it, the list still shows only what that user may see.
            ticket_list = TicketList(ALL_TABS, ACCOUNT_LIST_ORDER,
                                     where=workflow.visible_tickets(g.user).whereclause)
        return self.render_template("tickets/list.html", **list_page(
            ticket_list, endpoint="TicketView.list", title="Chamados",
            subtitle="Todos os chamados da empresa (somente leitura).",
            columns=("requester", "assignee", "sla"),
            empty="Nenhum chamado nesta situação.", offered=ACCOUNT_FILTERS, total=True,
            extra={"empty_link": ("Abrir chamado", url_for("RequesterView.open"))
                   if g.user.has_profile("requester") else None}))

    @expose("/ir")
    @has_access
    @permission_name("show")
    def jump(self):
        """"Ir para o chamado nº" in every list: the ticket page of the number typed
        (which answers 404 for a ticket the user may not see, like any other id)."""
        number = request.args.get("numero", "").strip().lstrip("#").strip()
        if number.isdigit() and len(number) <= 12:
            return redirect(url_for("TicketView.show", ticket_id=int(number)))
        flash("Informe o número do chamado, por exemplo 1234.", "warning")
        back = request.args.get("origem")
        return redirect(url_for(back if back in LIST_ENDPOINTS else "HomeView.index"))

    def render_ticket(self, ticket: Ticket, *, status: int = 200, drafts: dict | None = None):
        user = g.user
        account = current_account()
        events = db.session.scalars(
            workflow.visible_events(ticket, user).options(joinedload(TicketEvent.actor))
        ).all()
        messages = db.session.scalars(
            workflow.visible_messages(ticket, user).options(joinedload(TicketMessage.author))
        ).all()
        opening_files = db.session.scalars(
            select(Attachment).where(Attachment.ticket_id == ticket.id,
                                     Attachment.message_id.is_(None)).order_by(Attachment.id)
        ).all()
        survey = db.session.scalar(select(Survey).where(Survey.ticket_id == ticket.id))
        attendant = workflow.is_department_attendant(ticket, user)
        actions = workflow.allowed_actions(ticket, user, attendant=attendant,
                                           surveyed=survey is not None)
        can_message = workflow.can_message(ticket, user)
        can_note = workflow.can_write_note(ticket, user, attendant=attendant)
        replies = (canned.for_ticket(ticket, user)
                   if can_message and ticket.requester_id != user.id else [])
        return self.render_template(
            "tickets/show.html", ticket=ticket, events=events, messages=messages,
            opening_files=opening_files, survey=survey, actions=actions,
            can_message=can_message, can_note=can_note, canned_replies=replies,
            desk=desk_choices(ticket, actions),
            is_requester=ticket.requester_id == user.id, is_attendant=attendant,
            read_only=not actions and not can_message,
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
            ticket = workflow.get_ticket(ticket_id, g.user, *PAGE_LOAD)
        except workflow.TicketNotFound:
            return self._not_found()
        return self.render_ticket(ticket, status=error.status, drafts=drafts)

    @expose("/<int:ticket_id>")
    @has_access
    @permission_name("show")
    def show(self, ticket_id):
        try:
            ticket = workflow.get_ticket(ticket_id, g.user, *PAGE_LOAD)
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
        fields = {k: request.form.get(k) for k in workflow.TRANSITIONS[action].fields}
        if action == "transfer" and ":" in request.form.get("target", ""):
            # The page's one select names both: "<department id>:<service id>".
            fields["department_id"], _, fields["service_id"] = request.form["target"].partition(":")
        try:
            ticket = workflow.get_ticket(ticket_id, g.user)
            workflow.apply(ticket, action, g.user, note=note, fields=fields)
        except workflow.TicketNotFound:
            db.session.rollback()
            return self._not_found()
        except workflow.WorkflowError as error:
            return self._failed(ticket_id, error, {
                action: note or "", "target": request.form.get("target", ""),
                "assignee_id": request.form.get("assignee_id", "")})
        flash(DONE_MESSAGES[action], "success")
        if action in ("transfer", "release", "reassign"):
            try:   # the mover may no longer see it (another department's now)
                workflow.get_ticket(ticket_id, g.user)
            except workflow.TicketNotFound:
                return redirect(url_for("AttendantView.queue"))
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
        internal = request.form.get("internal") == "1"
        try:
            ticket = workflow.get_ticket(ticket_id, g.user)
            workflow.post_message(ticket, g.user, body, upload=request.files.get("file"),
                                  internal=internal)
        except workflow.TicketNotFound:
            db.session.rollback()
            return self._not_found()
        except (workflow.WorkflowError, UploadRejected) as error:
            return self._failed(ticket_id, error, {"note_body" if internal else "body": body})
        flash("Nota interna registrada." if internal else "Mensagem enviada.", "success")
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
        if row is None or not workflow.attachment_visible(row, ticket, g.user):
            return self._not_found()
        try:
            return attachments.download_response(current_app.config["UPLOAD_FOLDER"], row)
        except (ValueError, FileNotFoundError, NotFound):
            return self._not_found()


DONE_MESSAGES = {
    "assume": "Chamado assumido. Inicie o atendimento quando começar a trabalhar nele.",
    "start": "Atendimento iniciado.",
    "wait": "Pedido enviado ao solicitante. O prazo fica pausado até a resposta.",
    "resume": "Atendimento retomado. O prazo voltou a correr.",
    "release": "Chamado devolvido à fila do departamento.",
    "reassign": "Chamado passado ao outro atendente.",
    "transfer": "Chamado transferido. Ele está na fila do novo departamento.",
    "conclude": "Atendimento concluído. O solicitante foi avisado para aprovar.",
    "approve": "Encerramento aprovado. Conte como foi o atendimento na pesquisa abaixo.",
    "reject": "Encerramento reprovado. O chamado voltou para o atendente.",
    "cancel": "Chamado cancelado.",
}
