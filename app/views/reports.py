"""The managers' "Relatórios por e-mail" screen (menu "Conta").

One page: the caller's own subscriptions (schedule, filters, next and last send, pause
or resume, delete) and a form for a new one (weekly or monthly, weekday or day of the
month, hour in the account's time zone, the Painel's filters). Every change is a POST
with the CSRF token through app.reports, the same use cases as
``/api/v1/painel/report-subscription``; a refused one shows the page again with what
was typed and the Portuguese message, and saves nothing.
"""
from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from flask import flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from sqlalchemy import select

from app import reports
from app.extensions import db
from app.models import (
    PRIORITIES,
    Department,
    Member,
    Sector,
    Service,
    as_utc,
    department_attendant,
)
from app.security import ValidationError
from app.tenancy import current_account
from app.vocabulary import PRIORITY_LABELS, SLA_CLOCK_LABELS

FORM_FILTERS = ("department_id", "service_id", "priority", "sector_id", "attendant_id")


def _options(account_id: int) -> dict:
    def pairs(stmt):
        return [(str(ident), name) for ident, name in db.session.execute(stmt)]

    return {
        "department_id": pairs(select(Department.id, Department.name)
                               .where(Department.account_id == account_id)
                               .order_by(Department.name)),
        "service_id": pairs(select(Service.id, Service.name)
                            .where(Service.account_id == account_id).order_by(Service.name)),
        "priority": [(code, PRIORITY_LABELS[code]) for code in PRIORITIES],
        "sector_id": pairs(select(Sector.id, Sector.name)
                           .where(Sector.account_id == account_id).order_by(Sector.name)),
        "attendant_id": pairs(select(Member.id, Member.first_name + " " + Member.last_name)
                              .where(Member.account_id == account_id,
                                     Member.id.in_(select(department_attendant.c.user_id)))
                              .order_by(Member.first_name, Member.last_name)),
    }


def _typed(form) -> dict:
    return {
        "frequency": form.get("frequency", "")[:20],
        "weekday": form.get("weekday", "")[:5].strip(),
        "day_of_month": form.get("day_of_month", "")[:5].strip(),
        "hour": form.get("hour", "")[:5].strip(),
        "filters": {field: [v[:20] for v in form.getlist(field)[:200]]
                    for field in FORM_FILTERS},
        "clock": form.get("clock", "")[:20],
    }


def _body(typed: dict) -> dict:
    filters = {k: v for k, v in typed["filters"].items() if v}
    if typed["clock"]:
        filters["clock"] = typed["clock"]
    body = {"frequency": typed["frequency"], "hour": typed["hour"], "filters": filters}
    if typed["frequency"] == "weekly":
        body["weekday"] = typed["weekday"]
    elif typed["frequency"] == "monthly":
        body["day_of_month"] = typed["day_of_month"]
    return body


def _local(value, time_zone: str) -> str:
    if value is None:
        return ""
    return as_utc(value).astimezone(ZoneInfo(time_zone)).strftime("%d/%m/%Y %H:%M")


class ReportsView(BaseView):
    route_base = "/conta/relatorios"
    default_view = "list"

    def _page(self, account, *, typed: dict | None = None, status: int = 200,
              error_field: str = ""):
        member = g.user
        rows = []
        for sub in reports.subscriptions_of(member):
            stored = json.loads(sub.filters or "{}")
            rows.append({"sub": sub, "data": reports.serialize(sub),
                         "filters": reports.describe_filters(account.id, stored),
                         "next": _local(sub.next_run_at, account.time_zone),
                         "last": _local(sub.last_run_at, account.time_zone)})
        values = typed or {"frequency": "weekly", "weekday": "0", "day_of_month": "1",
                           "hour": "8", "filters": {f: [] for f in FORM_FILTERS},
                           "clock": "24x7"}
        return self.render_template(
            "reports/subscriptions.html", account=account, rows=rows, values=values,
            options=_options(account.id), weekdays=reports.WEEKDAY_LABELS,
            clocks=SLA_CLOCK_LABELS, error_field=error_field,
            max_per_member=reports.MAX_PER_MEMBER), status

    def _gate(self):
        account = current_account()
        if account is None or not reports.can_subscribe(g.user):
            return None
        return account

    @expose("/")
    @has_access
    @permission_name("list")
    def list(self):
        account = self._gate()
        if account is None:
            return self.render_template("account/none.html"), 404
        return self._page(account)

    @expose("/criar", methods=["POST"])
    @has_access
    @permission_name("edit")
    def create(self):
        account = self._gate()
        if account is None:
            return redirect(url_for("ReportsView.list"))
        typed = _typed(request.form)
        try:
            reports.create_subscription(g.user, account, _body(typed))
        except ValidationError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return self._page(account, typed=typed, status=error.status,
                              error_field=error.field)
        flash("Relatório assinado: você o receberá por e-mail no horário escolhido.", "success")
        return redirect(url_for("ReportsView.list"))

    def _own(self, pk: int):
        account = self._gate()
        sub = reports.subscription_of(g.user, pk) if account is not None else None
        return account, sub

    @expose("/<int:pk>/pausar", methods=["POST"])
    @has_access
    @permission_name("edit")
    def toggle(self, pk):
        account, sub = self._own(pk)
        if sub is None:
            flash("Relatório não encontrado.", "warning")
            return redirect(url_for("ReportsView.list"))
        reports.set_active(sub, account, not sub.active)
        flash("Relatório retomado." if sub.active else "Relatório pausado.", "success")
        return redirect(url_for("ReportsView.list"))

    @expose("/<int:pk>/excluir", methods=["POST"])
    @has_access
    @permission_name("edit")
    def remove(self, pk):
        account, sub = self._own(pk)
        if sub is None:
            flash("Relatório não encontrado.", "warning")
            return redirect(url_for("ReportsView.list"))
        reports.delete_subscription(sub)
        flash("Relatório excluído.", "success")
        return redirect(url_for("ReportsView.list"))
