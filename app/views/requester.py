"""Área do Cliente: open a ticket and follow my tickets.

The opening form embeds the account's departments and services as JSON so the service
select can follow the department select in plain JavaScript; the server validates the
pair again (``workflow.open_ticket``), so a crafted POST with another department's
service is refused like any other bad input. A refusal (expired plan included) shows
the form again with everything typed, and writes nothing.
"""
from __future__ import annotations

from flask import current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from app import attachments, workflow
from app.attachments import UploadRejected
from app.extensions import db
from app.models import PRIORITIES, Service, Ticket, TicketEvent
from app.tenancy import current_account
from app.views.display import id_url, template_helpers, time_formatter
from app.views.lists import ALL_TABS, TicketList, list_page

FIELDS = ("department_id", "service_id", "priority", "subject", "description")


def catalogue() -> tuple[list[dict], list[dict]]:
    """Departments that deliver at least one service, and every service with its SLA
    hours per priority (for the hint beside the form). Two queries."""
    services = db.session.scalars(
        select(Service).options(joinedload(Service.department))
        .order_by(Service.name)
    ).all()
    departments = {}
    for service in services:
        departments[service.department_id] = service.department.name
    return (
        [{"id": i, "name": n} for i, n in sorted(departments.items(), key=lambda x: x[1])],
        [{"id": s.id, "name": s.name, "department_id": s.department_id,
          "sla": {p: s.sla_hours_for(p) for p in PRIORITIES}} for s in services],
    )

WAITING_SHOWN = 10


def waiting_on_me(requester_id: int) -> list[dict]:
    """The requester's tickets waiting on them, with the attendant's question, shown
    above the list: two small queries (the tickets, then their latest "waiting" note)."""
    rows = db.session.execute(
        select(Ticket.id, Ticket.waiting_since, Service.name)
        .join(Service, Service.id == Ticket.service_id)
        .where(Ticket.requester_id == requester_id, Ticket.status == "waiting")
        .order_by(Ticket.waiting_since).limit(WAITING_SHOWN)).all()
    if not rows:
        return []
    questions = dict(db.session.execute(
        select(TicketEvent.ticket_id, TicketEvent.note)
        .where(TicketEvent.ticket_id.in_([r.id for r in rows]), TicketEvent.type == "waiting")
        .order_by(TicketEvent.id)).all())   # the latest wins
    when, url = time_formatter(current_account()), id_url("TicketView.show")
    return [{"id": r.id, "service": r.name, "since": when(r.waiting_since),
             "question": questions.get(r.id) or "", "url": url(r.id)} for r in rows]


MINE = TicketList(ALL_TABS, (Ticket.opened_at.desc(), Ticket.id.desc()),
                  where=Ticket.requester_id == bindparam("me"), public_only=True)
FILTERS = ("search", "status", "department", "service", "priority", "opened_from",
           "opened_to")


class RequesterView(BaseView):
    route_base = "/cliente"
    default_view = "open"

    def _form(self, values: dict, status: int = 200):
        departments, services = catalogue()
        account = current_account()
        return self.render_template(
            "tickets/open.html", values=values, departments=departments, services=services,
            plan_active=account is None or account.plan_active(),
            max_description=workflow.MAX_DESCRIPTION,
            max_upload_mb=current_app.config["MAX_UPLOAD_MB"],
            accept=",".join(sorted(attachments.ALLOWED)),
            **template_helpers(account),
        ), status

    @expose("/abrir", methods=["GET", "POST"])
    @has_access
    @permission_name("open")
    def open(self):
        if request.method == "GET":
            return self._form({"priority": "medium"})
        values = {k: request.form.get(k, "") for k in FIELDS}
        upload = request.files.get("file")
        try:
            ticket = workflow.open_ticket(
                g.user, department_id=values["department_id"],
                service_id=values["service_id"], priority=values["priority"],
                description=values["description"], subject=values["subject"] or None,
                upload=upload)
        except (workflow.WorkflowError, UploadRejected) as error:
            db.session.rollback()
            message = error.message
            if upload is not None and upload.filename and not isinstance(error, UploadRejected):
                message += " Selecione o arquivo novamente antes de enviar."
            flash(message, "danger")
            return self._form(values, getattr(error, "status", 400))
        flash(f"Chamado #{ticket.id} aberto. Você será avisado a cada novidade.", "success")
        return redirect(url_for("TicketView.show", ticket_id=ticket.id))

    @expose("/chamados")
    @has_access
    @permission_name("list")
    def mine(self):
        return self.render_template("tickets/list.html", **list_page(
            MINE, {"me": g.user.id}, endpoint="RequesterView.mine", title="Meus chamados",
            subtitle="Acompanhe seus pedidos, converse com o atendente e aprove a solução.",
            columns=("assignee", "sla", "survey"),
            empty="Você ainda não tem chamados nesta situação.",
            extra={"new_ticket": True, "waiting": waiting_on_me(g.user.id)},
            offered=FILTERS))
