"""Periods of the Painel: the presets a manager picks, the period just before one, and
the buckets (day, week, month) of the trend.

Pure date arithmetic on local dates of the account's time zone (no database, no
Flask): the presets are computed from "today" there, weeks start on Monday (the
Brazilian calendar), and a bucket at either end of a period is cut to the period, so
the buckets always add up to exactly the period.
"""
from __future__ import annotations

import datetime as dt

# code -> label, in the order the Painel offers them
PRESETS = {
    "hoje": "Hoje",
    "7d": "Últimos 7 dias",
    "30d": "Últimos 30 dias",
    "este-mes": "Este mês",
    "mes-passado": "Mês passado",
    "este-ano": "Este ano",
    "inicio": "Desde o início",
    "personalizado": "Personalizado",
}
DEFAULT_PRESET = "30d"
GRANULARITIES = {"day": "Dia", "week": "Semana", "month": "Mês"}
# At most this many points in a trend: a forced "Dia" over ten years becomes weeks.
MAX_BUCKETS = 400


def preset_range(code: str, today: dt.date, first_day: dt.date | None = None
                 ) -> tuple[dt.date, dt.date] | None:
    """(start, end) of a preset; ``first_day`` is the account's first day of data
    ("desde o início"). None for "personalizado" or an unknown code."""
    if code == "hoje":
        return today, today
    if code == "7d":
        return today - dt.timedelta(days=6), today
    if code == "30d":
        return today - dt.timedelta(days=29), today
    if code == "este-mes":
        return today.replace(day=1), today
    if code == "mes-passado":
        last = today.replace(day=1) - dt.timedelta(days=1)
        return last.replace(day=1), last
    if code == "este-ano":
        return today.replace(month=1, day=1), today
    if code == "inicio":
        return min(first_day or today, today), today
    return None


def matching_preset(start: dt.date, end: dt.date, today: dt.date,
                    first_day: dt.date | None = None) -> str:
    """The preset a (start, end) pair is, or "personalizado"."""
    for code in PRESETS:
        if preset_range(code, today, first_day) == (start, end):
            return code
    return "personalizado"


def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date] | None:
    """The period of the same length just before (None before the calendar's start)."""
    length = (end - start).days + 1
    try:
        prev_end = start - dt.timedelta(days=1)
        return prev_end - dt.timedelta(days=length - 1), prev_end
    except OverflowError:
        return None


def auto_granularity(start: dt.date, end: dt.date) -> str:
    """Days up to two months, weeks up to a year and a half, months beyond."""
    days = (end - start).days + 1
    if days <= 62:
        return "day"
    if days <= 550:
        return "week"
    return "month"


def _unit_start(day: dt.date, granularity: str) -> dt.date:
    if granularity == "week":
        return day - dt.timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def _next_unit(day: dt.date, granularity: str) -> dt.date:
    if granularity == "day":
        return day + dt.timedelta(days=1)
    if granularity == "week":
        return day + dt.timedelta(days=7)
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def bucket_count(start: dt.date, end: dt.date, granularity: str) -> int:
    days = (end - start).days + 1
    if granularity == "day":
        return days
    if granularity == "week":
        return (_unit_start(end, "week") - _unit_start(start, "week")).days // 7 + 1
    return (end.year - start.year) * 12 + end.month - start.month + 1


def fitted_granularity(start: dt.date, end: dt.date, wanted: str | None) -> str:
    """The wanted granularity, made coarser while it would give too many points."""
    order = list(GRANULARITIES)
    granularity = wanted if wanted in GRANULARITIES else auto_granularity(start, end)
    while bucket_count(start, end, granularity) > MAX_BUCKETS and granularity != "month":
        granularity = order[order.index(granularity) + 1]
    return granularity


def buckets(start: dt.date, end: dt.date, granularity: str) -> list[tuple[dt.date, dt.date]]:
    """Inclusive (first, last) local dates of each bucket, cut to the period."""
    result = []
    cursor = start
    while cursor <= end:
        following = _next_unit(_unit_start(cursor, granularity), granularity)
        last = min(end, following - dt.timedelta(days=1))
        result.append((cursor, last))
        cursor = following
    return result


def bucket_label(first: dt.date, last: dt.date, granularity: str) -> str:
    """How a bucket reads in pt-BR: "05/11", "semana de 02/11", "nov/2026"."""
    if granularity == "day":
        return f"{first:%d/%m/%Y}"
    if granularity == "week":
        return f"semana de {first:%d/%m/%Y}"
    return f"{MONTHS[first.month - 1]}/{first.year}"


MONTHS = ["jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez"]
