"""The account's working-hours calendar as administrators edit it: the use cases that
`/api/v1/calendar` and the "Calendário de atendimento" screen share.

Each change validates everything first (app.business_hours does the parsing; its
``CalendarError`` becomes a ``ValidationError`` naming the API field), then writes and
commits once, so a refused change leaves nothing behind. Every write stamps
``BusinessCalendar.updated_at``, creating the row when the account has none: that stamp
is what app.calendars keys its per-process cache on, own days off included.
"""
from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import business_hours
from app.calendars import calendar_for
from app.extensions import db
from app.models import Account, BusinessCalendar, CalendarHoliday, Service, as_utc, utcnow
from app.security import ValidationError

MIN_YEAR, MAX_YEAR = 1900, 2200
_YEAR = re.compile(r"[0-9]{4}")
FIELDS = ("hours", "national_holidays", "subdivision", "holidays")
WEEKDAY_LABELS = {"mon": "Segunda-feira", "tue": "Terça-feira", "wed": "Quarta-feira",
                  "thu": "Quinta-feira", "fri": "Sexta-feira", "sat": "Sábado",
                  "sun": "Domingo"}
# The 27 UFs by name, for the screen's select ("São Paulo (SP)"), from the holidays
# package's own aliases so the list cannot drift from the codes it accepts.
STATE_NAMES = {code: name for name, code in
               business_hours.holidays_package.Brazil.subdivisions_aliases.items()
               if code in business_hours.SUBDIVISIONS}
OPTIONAL = {  # one-click "pontos facultativos" of the screen -> names in optional_days
    "carnaval": "Carnaval",
    "cinzas": "Quarta-feira de Cinzas",
    "corpus_christi": "Corpus Christi",
}


def _error(error: business_hours.CalendarError) -> ValidationError:
    return ValidationError(error.field, error.message)


def _row(account: Account, *, lock: bool = False) -> BusinessCalendar | None:
    stmt = select(BusinessCalendar).where(BusinessCalendar.account_id == account.id)
    if lock:
        stmt = stmt.with_for_update()
    return db.session.scalar(stmt)


def _own_days(account: Account) -> list[CalendarHoliday]:
    return list(db.session.scalars(
        select(CalendarHoliday).where(CalendarHoliday.account_id == account.id)
        .order_by(CalendarHoliday.day)))


def _stored_hours(row: BusinessCalendar | None) -> tuple:
    if row is None:
        return business_hours.DEFAULT_HOURS
    return business_hours.parse_hours(json.loads(row.hours))


def serialize_days(days) -> list[dict]:
    return [{"date": day.isoformat(), "name": name} for day, name in days]


def get_calendar(account: Account) -> dict:
    """The API body: hours, national_holidays, subdivision and the account's own days."""
    row = _row(account)
    return {
        "hours": business_hours.format_hours(_stored_hours(row)),
        "national_holidays": True if row is None else bool(row.national_holidays),
        "subdivision": None if row is None else row.subdivision,
        "holidays": serialize_days((h.day, h.name) for h in _own_days(account)),
    }


def _business_services(account: Account) -> list[str]:
    return list(db.session.scalars(
        select(Service.name).where(Service.account_id == account.id,
                                   Service.sla_clock == "business")
        .order_by(Service.name)))


def update_calendar(account: Account, body) -> dict:
    """Partial update: only the fields sent change; ``hours``, when sent, is the whole
    week and ``holidays`` the whole list of the account's own days off. Refuses a week
    without any working hour while a service counts its SLA in working hours (its due
    times would never come)."""
    if not isinstance(body, dict):
        raise ValidationError("body", "Envie um objeto JSON no corpo da requisição.")
    changes = {}
    try:
        if "hours" in body:
            changes["hours"] = business_hours.parse_hours(body["hours"])
        if "national_holidays" in body:
            if not isinstance(body["national_holidays"], bool):
                raise ValidationError("national_holidays",
                                      "Feriados nacionais: informe true ou false.")
            changes["national_holidays"] = body["national_holidays"]
        if "subdivision" in body:
            changes["subdivision"] = business_hours.parse_subdivision(body["subdivision"])
        if "holidays" in body:
            changes["holidays"] = business_hours.parse_holidays(body["holidays"])
    except business_hours.CalendarError as error:
        raise _error(error) from None
    if not changes:
        return get_calendar(account)
    row = _row(account, lock=True)
    hours = changes.get("hours", _stored_hours(row))
    if not any(hours):
        services = _business_services(account)
        if services:
            raise ValidationError(
                "hours", "O calendário precisa de algum horário de atendimento: "
                + ("o serviço " if len(services) == 1 else "os serviços ")
                + ", ".join(f"“{name}”" for name in services)
                + (" conta" if len(services) == 1 else " contam")
                + " o prazo em horas úteis.")
    if row is None:
        row = BusinessCalendar(account_id=account.id, national_holidays=True,
                               subdivision=None)
        db.session.add(row)
    row.hours = json.dumps(business_hours.format_hours(hours))
    if "national_holidays" in changes:
        row.national_holidays = changes["national_holidays"]
    if "subdivision" in changes:
        row.subdivision = changes["subdivision"]
    if "holidays" in changes:
        _replace_days(account, changes["holidays"])
    # A strictly later stamp, even within the clock's resolution: the cache key.
    now = utcnow()
    if row.updated_at is not None and as_utc(row.updated_at) >= now:
        now = as_utc(row.updated_at) + dt.timedelta(microseconds=1)
    row.updated_at = now
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ValidationError("body", "O calendário foi alterado ao mesmo tempo por outra "
                                      "pessoa. Recarregue e tente de novo.", 409) from None
    return get_calendar(account)


def _replace_days(account: Account, days: tuple) -> None:
    """Keep the rows whose date stays (renamed if needed), delete the others, add the
    new ones: no delete-then-insert of one date inside a flush."""
    wanted = dict(days)
    for holiday in _own_days(account):
        if holiday.day in wanted:
            holiday.name = wanted.pop(holiday.day)
        else:
            db.session.delete(holiday)
    db.session.flush()
    for day, name in sorted(wanted.items()):
        db.session.add(CalendarHoliday(account_id=account.id, day=day, name=name))


def parse_year(value) -> int:
    """A year of 1900..2200 given as four ASCII digits (query string or form)."""
    if isinstance(value, int) and not isinstance(value, bool):
        year = value
    elif isinstance(value, str) and _YEAR.fullmatch(value.strip()):
        year = int(value.strip())
    else:
        raise ValidationError("year", f"Ano inválido: informe um ano de {MIN_YEAR} a "
                                      f"{MAX_YEAR}.")
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationError("year", f"Ano inválido: informe um ano de {MIN_YEAR} a "
                                      f"{MAX_YEAR}.")
    return year


def holidays_of_year(account: Account, year: int) -> list[dict]:
    """That year's days off: national (when on), the state's (when set), the account's."""
    return serialize_days(calendar_for(account.id).holidays(year))


def days_off_by_kind(account: Account, year: int) -> list[dict]:
    """The screen's list: each day off of the year with where it comes from."""
    calendar = calendar_for(account.id)
    national = set()
    if calendar.national_holidays:
        national = {d for d, _ in business_hours.Calendar(
            time_zone=calendar.time_zone).holidays(year)}
    state = set()
    if calendar.subdivision:
        state = {d for d, _ in business_hours.Calendar(
            time_zone=calendar.time_zone, national_holidays=False,
            subdivision=calendar.subdivision).holidays(year)}
    result = []
    for day, name in calendar.holidays(year):  # the first source's name wins
        kind = "Nacional" if day in national else "Estadual" if day in state else "Da empresa"
        result.append({"date": day, "name": name, "kind": kind})
    return result


def current_year(account: Account) -> int:
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(account.time_zone)).year


def add_day_off(account: Account, date_text, name) -> dict:
    """The screen's "Adicionar": one more day off of the account's own."""
    days = get_calendar(account)["holidays"]
    try:
        (day, clean), = business_hours.parse_holidays([{"date": date_text, "name": name}])
    except business_hours.CalendarError as error:
        field = "holiday_date" if error.field.endswith(".date") else "holiday_name"
        message = ("Data inválida: informe uma data que exista." if field == "holiday_date"
                   else "Nome do dia de folga: obrigatório, até 100 caracteres.")
        raise ValidationError(field, message) from None
    if any(d["date"] == day.isoformat() for d in days):
        raise ValidationError("holiday_date",
                              f"O dia {day:%d/%m/%Y} já está na lista de dias de folga.")
    return update_calendar(account, {"holidays": days + [{"date": day.isoformat(),
                                                          "name": clean}]})


def remove_day_off(account: Account, date_text) -> bool:
    """The screen's "Remover"; False when the day was not in the list."""
    days = get_calendar(account)["holidays"]
    kept = [d for d in days if d["date"] != date_text]
    if len(kept) == len(days):
        return False
    update_calendar(account, {"holidays": kept})
    return True


def add_optional_days(account: Account, key, year: int) -> list[dt.date]:
    """One click: Carnaval (its two days), Quarta-feira de Cinzas or Corpus Christi of
    ``year`` as days off of the account's own. Returns the dates added (none when they
    were already in the list)."""
    if key not in OPTIONAL:
        raise ValidationError("optional", "Ponto facultativo desconhecido.")
    wanted = [(d, n) for d, n in business_hours.optional_days(year) if n == OPTIONAL[key]]
    days = get_calendar(account)["holidays"]
    present = {d["date"] for d in days}
    added = [(d, n) for d, n in wanted if d.isoformat() not in present]
    if added:
        update_calendar(account, {"holidays": days + serialize_days(added)})
    return [d for d, _ in added]


def optional_choices(year: int) -> list[dict]:
    """The one-click buttons of the shown year: key, label and dates."""
    found = business_hours.optional_days(year)
    return [{"key": key, "name": name, "dates": [d for d, n in found if n == name]}
            for key, name in OPTIONAL.items()]
