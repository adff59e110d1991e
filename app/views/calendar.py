"""The administrators' "Calendário de atendimento" screen (menu "Conta").

One page: the week's working hours (up to three intervals a day), national holidays on
or off, the state, the account's own days off (add, remove, and one click for Carnaval,
Quarta-feira de Cinzas and Corpus Christi of the shown year), and the shown year's days
off as the SLA clock will skip them. Every change is a POST with the CSRF token through
app.calendar_settings, the same use cases as `/api/v1/calendar`; a refused change shows
the page again with what was typed and the message, and saves nothing.
"""
from __future__ import annotations

import re

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name

from app import calendar_settings as cs
from app.business_hours import WEEKDAYS
from app.extensions import db
from app.security import ValidationError
from app.tenancy import current_account

INTERVALS = 3  # shown per day
_API_FIELD = re.compile(r"hours\.(mon|tue|wed|thu|fri|sat|sun)(?:\[(\d+)\])?")


def _week_for_form(hours: dict) -> dict:
    """API hours -> {day: [[start, end] x INTERVALS]} with blanks for unused slots."""
    week = {}
    for day in WEEKDAYS:
        slots = [list(pair) for pair in hours.get(day, [])][:INTERVALS]
        week[day] = slots + [["", ""]] * (INTERVALS - len(slots))
    return week


def _typed_week(form) -> dict:
    return {day: [[form.get(f"{day}-{i}-start", "")[:20].strip(),
                   form.get(f"{day}-{i}-end", "")[:20].strip()] for i in range(INTERVALS)]
            for day in WEEKDAYS}


def _slot_label(day: str, slot: int) -> str:
    return f"{cs.WEEKDAY_LABELS[day]}, intervalo {slot + 1}"


def _hours_body(week: dict) -> tuple[dict, dict]:
    """The typed week as the API's ``hours``, and (day, sent index) -> screen slot."""
    hours, slots = {}, {}
    for day, pairs in week.items():
        hours[day] = []
        for slot, (start, end) in enumerate(pairs):
            if not start and not end:
                continue
            if not start or not end:
                raise ValidationError(f"hours.{day}[{slot}]",
                                      f"{_slot_label(day, slot)}: informe o início e o fim.")
            slots[day, len(hours[day])] = slot
            hours[day].append([start, end])
    return hours, slots


def _screen_message(error: ValidationError, slots: dict) -> tuple[str, str, int | None]:
    """The API's field names (``hours.mon[1]``) in words; and the day and interval
    (None: the whole day) to highlight."""
    found = _API_FIELD.search(error.field or "")
    day = found.group(1) if found else ""
    slot = None
    if found and found.group(2) is not None:
        slot = slots.get((day, int(found.group(2))), int(found.group(2)))

    def words(match):
        name = match.group(1)
        if match.group(2) is None:
            return cs.WEEKDAY_LABELS[name]
        return _slot_label(name, slots.get((name, int(match.group(2))), int(match.group(2))))

    message = _API_FIELD.sub(words, error.message)
    return message, day, slot


class CalendarView(BaseView):
    route_base = "/conta/calendario"
    default_view = "show"

    def _year(self, value) -> int:
        account = current_account()
        if value in (None, ""):
            return cs.current_year(account)
        return cs.parse_year(value)

    def _page(self, account, year: int, *, form: dict | None = None, status: int = 200,
              error_field: str = "", error_day: str = "", error_slot: int | None = None):
        calendar = cs.get_calendar(account)
        values = {
            "week": _week_for_form(calendar["hours"]),
            "national_holidays": calendar["national_holidays"],
            "subdivision": calendar["subdivision"] or "",
            "holiday_date": "", "holiday_name": "", "year": str(year),
        }
        values.update(form or {})
        try:
            days_off = cs.days_off_by_kind(account, year)
            optional = cs.optional_choices(year)
        except ValidationError:
            days_off, optional = [], []
        return self.render_template(
            "account/calendar.html", account=account, calendar=calendar, values=values,
            year=year, days_off=days_off, optional=optional, weekdays=WEEKDAYS,
            weekday_labels=cs.WEEKDAY_LABELS, intervals=INTERVALS,
            states=sorted(cs.STATE_NAMES.items(), key=lambda item: item[1]),
            error_field=error_field, error_day=error_day, error_slot=error_slot,
            min_year=cs.MIN_YEAR, max_year=cs.MAX_YEAR), status

    def _back(self, year):
        return redirect(url_for("CalendarView.show", ano=year))

    def _form_year(self, account) -> int:
        try:
            return self._year(request.form.get("ano"))
        except ValidationError:
            return cs.current_year(account)

    @expose("/")
    @has_access
    @permission_name("show")
    def show(self):
        account = current_account()
        if account is None:
            return self.render_template("account/none.html"), 404
        typed = request.args.get("ano", "")[:20]
        try:
            year = self._year(typed)
        except ValidationError as error:
            flash(error.message, "danger")
            return self._page(account, cs.current_year(account), form={"year": typed},
                              status=400, error_field="year")
        return self._page(account, year)

    @expose("/salvar", methods=["POST"])
    @has_access
    @permission_name("edit")
    def save(self):
        account = current_account()
        if account is None:
            return redirect(url_for("AccountView.show"))
        year = self._form_year(account)
        week = _typed_week(request.form)
        national = request.form.get("national_holidays") == "on"
        subdivision = request.form.get("subdivision", "")[:20]
        typed = {"week": week, "national_holidays": national, "subdivision": subdivision}
        slots = {}
        try:
            hours, slots = _hours_body(week)
            cs.update_calendar(account, {"hours": hours, "national_holidays": national,
                                         "subdivision": subdivision or None})
        except ValidationError as error:
            db.session.rollback()
            message, day, slot = _screen_message(error, slots)
            flash(message, "danger")
            return self._page(account, year, form=typed, status=error.status,
                              error_field=error.field, error_day=day, error_slot=slot)
        flash("Calendário salvo.", "success")
        return self._back(year)

    @expose("/folgas/adicionar", methods=["POST"])
    @has_access
    @permission_name("edit")
    def add_day(self):
        account = current_account()
        if account is None:
            return redirect(url_for("AccountView.show"))
        year = self._form_year(account)
        date_text = request.form.get("holiday_date", "")[:20].strip()
        name = request.form.get("holiday_name", "")[:200]
        try:
            cs.add_day_off(account, date_text, name)
        except ValidationError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return self._page(account, year, status=error.status, error_field=error.field,
                              form={"holiday_date": date_text, "holiday_name": name})
        flash("Dia de folga adicionado.", "success")
        return self._back(year)

    @expose("/folgas/remover", methods=["POST"])
    @has_access
    @permission_name("edit")
    def remove_day(self):
        account = current_account()
        if account is None:
            return redirect(url_for("AccountView.show"))
        year = self._form_year(account)
        try:
            removed = cs.remove_day_off(account, request.form.get("date", "")[:20])
        except ValidationError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return self._page(account, year, status=error.status)
        if removed:
            flash("Dia de folga removido.", "success")
        else:
            flash("Este dia já não estava na lista.", "warning")
        return self._back(year)

    @expose("/folgas/facultativo", methods=["POST"])
    @has_access
    @permission_name("edit")
    def add_optional(self):
        account = current_account()
        if account is None:
            return redirect(url_for("AccountView.show"))
        year = self._form_year(account)
        key = request.form.get("optional", "")
        try:
            added = cs.add_optional_days(account, key, year)
        except ValidationError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return self._page(account, year, status=error.status)
        name = cs.OPTIONAL[key]
        if added:
            dates = " e ".join(f"{d:%d/%m/%Y}" for d in added)
            flash(f"{name} {year} adicionado aos dias de folga ({dates}).", "success")
        else:
            flash(f"{name} {year} já estava nos dias de folga.", "info")
        return self._back(year)
