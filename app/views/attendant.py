"""Área do Atendente: the queue of my departments and the tickets I am handling.

The queue lists the active tickets of the departments the attendant serves: unassigned
first, then the most urgent, then the oldest; the SLA due time is on every row with a
yellow or red badge when near or past it. Names come in by joins and counters are
capped (``app.views.lists``), so the page costs the same few queries on
ten tickets or a million.
"""
from __future__ import annotations

from flask import flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from sqlalchemy import bindparam

from app import workflow
from app.extensions import db
from app.models import Ticket
from app.views.lists import Tab, TicketList, list_page, priority_rank

QUEUE_TABS = [
    Tab("ativos", "Todos ativos", ("open", "assumed", "in_progress", "waiting", "concluded")),
    Tab("nao-atribuidos", "Aguardando atendente", ("open",)),
    Tab("andamento", "Em atendimento", ("assumed", "in_progress")),
    Tab("aguardando", "Aguardando solicitante", ("waiting",)),
    Tab("aprovacao", "Aguardando aprovação", ("concluded",)),
]
MINE_TABS = [
    Tab("ativos", "Em andamento", ("assumed", "in_progress")),
    Tab("aguardando", "Aguardando solicitante", ("waiting",)),
    Tab("aprovacao", "Aguardando aprovação", ("concluded",)),
    Tab("encerrados", "Encerrados", ("closed",)),
    Tab("cancelados", "Cancelados", ("cancelled",)),
    Tab("todos", "Todos", None),
]


def _mine_order(tab):
    if tab.key in ("ativos", "aguardando", "aprovacao"):   # work to do: most urgent first
        return (priority_rank().desc(), Ticket.sla_due_at.asc(), Ticket.id.asc())
    return (Ticket.updated_at.desc(), Ticket.id.desc())   # history: latest first


# The department ids are bound as values, not a subquery: PostgreSQL then reads only
# those departments' rows through the (account, department, status) index.
QUEUE = TicketList(QUEUE_TABS, (Ticket.assignee_id.is_not(None), priority_rank().desc(),
                                Ticket.opened_at.asc(), Ticket.id.asc()),
                   where=Ticket.department_id.in_(bindparam("departments", expanding=True)))
MINE = TicketList(MINE_TABS, _mine_order, where=Ticket.assignee_id == bindparam("me"))
QUEUE_FILTERS = ("search", "status", "department", "service", "priority", "requester",
                 "assignee", "opened_from", "opened_to")
MINE_FILTERS = ("search", "status", "department", "service", "priority", "requester",
                "opened_from", "opened_to")


class AttendantView(BaseView):
    route_base = "/atendente"
    default_view = "queue"

    @expose("/fila")
    @has_access
    @permission_name("queue")
    def queue(self):
        departments = list(db.session.scalars(workflow.attendant_departments(g.user)))
        return self.render_template("tickets/list.html", **list_page(
            QUEUE, {"departments": departments}, endpoint="AttendantView.queue", title="Fila de atendimento",
            subtitle="Chamados dos departamentos que você atende: sem atendente primeiro, "
                     "depois os mais urgentes e os mais antigos.",
            columns=("requester", "assignee", "sla", "assume"),
            empty="Nenhum chamado nesta situação. Bom trabalho!",
            extra={"availability": bool(g.user.available),
                   "empty_link": None if departments else (
                       "Você ainda não atende nenhum departamento: peça a um administrador "
                       "para incluí-lo em Estrutura > Departamentos.", None)},
            offered=QUEUE_FILTERS, departments=departments))

    @expose("/disponibilidade", methods=["POST"])
    @has_access
    @permission_name("queue")
    def availability(self):
        """"Ausente" on or off: an absent attendant gets no automatic assignment."""
        g.user.available = request.form.get("available") == "1"
        db.session.commit()
        flash("Você está disponível para receber chamados." if g.user.available else
              "Você está ausente: não receberá chamados automaticamente.", "success")
        return redirect(url_for("AttendantView.queue"))

    @expose("/meus")
    @has_access
    @permission_name("list")
    def mine(self):
        return self.render_template("tickets/list.html", **list_page(
            MINE, {"me": g.user.id}, endpoint="AttendantView.mine", title="Meus atendimentos",
            subtitle="Chamados que você assumiu: os em andamento dos mais urgentes aos de "
                     "prazo mais curto.",
            columns=("requester", "sla"),
            empty="Nenhum chamado seu nesta situação. Assuma um chamado na fila para "
                  "começar.", offered=MINE_FILTERS,
            extra={"empty_link": ("Ver a fila de atendimento", url_for("AttendantView.queue"))}))
