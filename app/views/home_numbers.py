"""What the home page counts for each profile, and the administrator's first steps.

Every query goes through the ORM session, so app.tenancy scopes it to the account; each
number is one small COUNT (a handful of queries per home, whatever the account's size).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import url_for
from sqlalchemy import and_, func, or_, select

from app.extensions import db
from app.models import (
    Department,
    Member,
    Service,
    Survey,
    Ticket,
    department_attendant,
    utcnow,
)
from app.views.filters import NO_ASSIGNEE

ACTIVE = ("open", "assumed", "in_progress", "waiting")
UNFINISHED = ACTIVE + ("concluded",)
RISK_HOURS = 4


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    hint: str
    done: bool
    url: str
    action: str


@dataclass(frozen=True)
class Counter:
    key: str
    label: str
    value: str
    url: str
    tone: str = "default"      # default, warning, danger, success


def _count(stmt) -> int:
    return int(db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def first_steps() -> list[Step]:
    """The administrator's checklist of a new company: members (attendants among them),
    a department with its attendants, services with SLA, a test ticket. Members come
    first: a department's attendants are chosen among the members."""
    staffed = db.session.scalar(select(department_attendant.c.department_id).join(
        Department, Department.id == department_attendant.c.department_id).limit(1))
    unstaffed = db.session.scalar(select(Department.id).where(
        ~Department.attendants.any()).order_by(Department.id).limit(1))
    any_service = db.session.scalar(select(Service.id).limit(1)) is not None
    members = _count(select(Member.id).where(Member.account_id.is_not(None)))
    any_ticket = db.session.scalar(select(Ticket.id).limit(1)) is not None
    if staffed is None and unstaffed is not None:
        department_url = url_for("DepartmentView.edit", pk=unstaffed)
        department_action = "Escolher os atendentes"
    else:
        department_url = url_for("DepartmentView.add")
        department_action = "Criar departamento"
    return [
        Step("members", "Convide os membros da empresa",
             "Quem abre chamados (Solicitante), quem atende (Atendente) e quem acompanha "
             "o Painel (Gestor).", members > 1, url_for("MemberView.add"), "Incluir membro"),
        Step("department", "Crie um departamento e escolha seus atendentes",
             "Quem recebe os chamados: TI, RH, Manutenção... Sem atendente, ninguém vê o "
             "chamado.", staffed is not None, department_url, department_action),
        Step("service", "Cadastre os serviços com o prazo (SLA)",
             "O que cada departamento atende e em quantas horas.", any_service,
             url_for("ServiceView.add"), "Cadastrar serviço"),
        Step("ticket", "Abra um chamado de teste",
             "Veja o caminho do chamado do começo ao fim, como os membros vão ver.",
             any_ticket, url_for("RequesterView.open"), "Abrir chamado de teste"),
    ]


def requester_counters(user) -> list[Counter]:
    mine = select(Ticket.id).where(Ticket.requester_id == user.id)
    open_mine = _count(mine.where(Ticket.status.in_(UNFINISHED)))
    waiting = _count(mine.where(Ticket.status.in_(("waiting", "concluded"))))
    return [
        Counter("requester-open", "Meus chamados em aberto", str(open_mine),
                url_for("RequesterView.mine")),
        Counter("requester-waiting", "Esperando você (resposta ou aprovação)", str(waiting),
                url_for("RequesterView.mine"), "warning" if waiting else "default"),
    ]


def attendant_counters(user) -> list[Counter]:
    departments = select(department_attendant.c.department_id).where(
        department_attendant.c.user_id == user.id)
    now = utcnow()
    queue = _count(select(Ticket.id).where(Ticket.department_id.in_(departments),
                                           Ticket.status == "open",
                                           Ticket.assignee_id.is_(None)))
    work = _count(select(Ticket.id).where(Ticket.assignee_id == user.id,
                                          Ticket.status.in_(("assumed", "in_progress"))))
    # At risk: mine or my departments' unassigned, late or due within RISK_HOURS.
    risk = _count(select(Ticket.id).where(
        or_(Ticket.assignee_id == user.id,
            and_(Ticket.department_id.in_(departments), Ticket.assignee_id.is_(None))),
        Ticket.status.in_(("open", "assumed", "in_progress")),
        Ticket.sla_due_at <= now + dt.timedelta(hours=RISK_HOURS)))
    return [
        Counter("attendant-queue", "Na fila, sem atendente", str(queue),
                url_for("AttendantView.queue")),
        Counter("attendant-work", "Meus atendimentos em andamento", str(work),
                url_for("AttendantView.mine")),
        Counter("attendant-risk", f"Atrasados ou vencendo em {RISK_HOURS} h", str(risk),
                url_for("AttendantView.queue"), "danger" if risk else "default"),
    ]


def manager_counters() -> list[Counter]:
    now = utcnow()
    week = now - dt.timedelta(days=7)
    opened = _count(select(Ticket.id).where(Ticket.opened_at >= week))
    # Both figures of the closed week in one read: at 1M tickets each count fetched the
    # week's ~10k closed rows (about 30 ms), so two counts cost twice.
    closed_n, met = db.session.execute(
        select(func.count(), func.count().filter(Ticket.sla_met.is_(True)))
        .where(Ticket.status == "closed", Ticket.closed_at >= week)).one()
    backlog = _count(select(Ticket.id).where(Ticket.status.in_(UNFINISHED)))
    score = db.session.scalar(select(func.avg(Survey.score)).where(Survey.filled_at >= week))
    painel = url_for("PainelView.index")
    return [
        Counter("manager-opened", "Abertos nos últimos 7 dias", str(opened), painel),
        Counter("manager-backlog", "Em aberto agora", str(backlog), url_for("TicketView.list")),
        Counter("manager-sla", "Encerrados no prazo (7 dias)",
                f"{round(100 * met / closed_n)}%" if closed_n else "—", painel,
                "success" if closed_n and met == closed_n else "default"),
        Counter("manager-satisfaction", "Satisfação média (7 dias)",
                f"{score:.1f}".replace(".", ",") if score is not None else "—", painel),
    ]


def admin_counters() -> list[Counter]:
    unattended = _count(select(Ticket.id).where(
        Ticket.status == "open", Ticket.assignee_id.is_(None),
        Ticket.department_id.in_(select(Department.id).where(~Department.attendants.any()))))
    if not unattended:
        return []
    return [Counter("admin-unattended", "Sem atendente (departamento sem atendentes)",
                    str(unattended),
                    url_for("TicketView.list", atendente=NO_ASSIGNEE, aba="abertos"),
                    "danger")]
