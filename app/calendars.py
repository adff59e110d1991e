"""The account's working-hours calendar as the SLA arithmetic needs it.

``app.business_hours`` is pure (no database); this module turns an account's
``business_calendar`` row and its own days off into a ``business_hours.Calendar`` and
keeps it per process, keyed by the row's ``updated_at`` (every change of the calendar,
its own days off included, stamps it), so an action costs one small query and other
processes see a change at their next action. An account without a row has the
defaults: Monday to Friday 08:00-18:00, national holidays, no state, no days of its own.
"""
from __future__ import annotations

import datetime as dt
import json
import threading

from sqlalchemy import select

from app import business_hours
from app.extensions import db
from app.models import Account, BusinessCalendar, CalendarHoliday, Service, as_utc

_cache: dict[int, tuple[object, business_hours.Calendar]] = {}
_lock = threading.Lock()


def _row(account_id: int):
    return db.session.execute(
        select(BusinessCalendar.id, BusinessCalendar.hours, BusinessCalendar.national_holidays,
               BusinessCalendar.subdivision, BusinessCalendar.updated_at, Account.time_zone)
        .select_from(Account)
        .outerjoin(BusinessCalendar, BusinessCalendar.account_id == Account.id)
        .where(Account.id == account_id)).one_or_none()


def calendar_for(account_id: int) -> business_hours.Calendar:
    """The account's calendar (one query when it has not changed since last time)."""
    row = _row(account_id)
    time_zone = row.time_zone if row is not None else "America/Sao_Paulo"
    if row is None or row.id is None:
        return business_hours.Calendar(time_zone=time_zone, hours=business_hours.DEFAULT_HOURS)
    key = (as_utc(row.updated_at), time_zone)
    cached = _cache.get(account_id)
    if cached is not None and cached[0] == key:
        return cached[1]
    days_off = tuple((day, name) for day, name in db.session.execute(
        select(CalendarHoliday.day, CalendarHoliday.name)
        .where(CalendarHoliday.account_id == account_id)
        .order_by(CalendarHoliday.day)))
    calendar = business_hours.Calendar(
        time_zone=time_zone, hours=business_hours.parse_hours(json.loads(row.hours)),
        national_holidays=bool(row.national_holidays), subdivision=row.subdivision,
        days_off=days_off)
    with _lock:
        _cache[account_id] = (key, calendar)
    return calendar


def clock_for(service: Service | None, calendar: business_hours.Calendar):
    """The clock a service's SLA counts on: the calendar, or None (every hour)."""
    if service is not None and service.sla_clock == "business":
        return calendar
    return None


def working_hours(start: dt.datetime | None, end: dt.datetime | None,
                  calendar: business_hours.Calendar) -> float | None:
    """Working hours of the calendar between two moments, as a float (None if either
    is unknown): what the Painel's "horas úteis" reads."""
    if start is None or end is None:
        return None
    return business_hours.between(as_utc(start), as_utc(end), calendar).total_seconds() / 3600
