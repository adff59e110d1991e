"""What a Painel view is filtered by, and how untrusted input becomes those filters.

One ``Filters`` value carries the period (inclusive dates in the account's time zone)
and the dimension filters. The same parser serves the KPI API (query string) and the
Dash callbacks (component values), so both refuse the same things with the same
pt-BR messages: ids that are not integers, and ids that do not belong to the caller's
account (an id of another account is answered exactly like an unknown one, so it never
reveals that the row exists).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.models import PRIORITIES, SLA_CLOCKS, Department, Member, Sector, Service
from app.security import ValidationError

DEFAULT_PERIOD_DAYS = 30
# Any real period is answered (shared/API.md, "Periods"); only the UTC bounds are kept
# inside what datetime can hold, so 0001-01-01 or 9999-12-31 never overflow.
FIRST_BOUND_DAY = dt.date(1, 1, 2)
LAST_BOUND_DAY = dt.date(9999, 12, 30)
# The clock the mean times are read on: elapsed hours, or the account calendar's working
# hours (stored on each ticket by the workflow when each step happened).
CLOCKS = SLA_CLOCKS
DEFAULT_CLOCK = "24x7"
# field -> (model whose ids it holds, pt-BR label)
ID_FIELDS = {
    "department_id": (Department, "Departamento"),
    "service_id": (Service, "Serviço"),
    "sector_id": (Sector, "Setor"),
    "attendant_id": (Member, "Atendente"),
    "requester_id": (Member, "Solicitante"),
}


@dataclasses.dataclass(frozen=True)
class Filters:
    start: dt.date
    end: dt.date
    time_zone: str = "America/Sao_Paulo"
    department_ids: tuple = ()
    service_ids: tuple = ()
    priorities: tuple = ()
    sector_ids: tuple = ()
    attendant_ids: tuple = ()
    requester_ids: tuple = ()
    clock: str = DEFAULT_CLOCK

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """UTC [start, end) of the period: local midnight of ``start`` up to local
        midnight after ``end``, so both dates are whole days in the account's zone
        (daylight-saving days included)."""
        zone = ZoneInfo(self.time_zone)
        first = max(self.start, FIRST_BOUND_DAY)
        after = min(self.end, LAST_BOUND_DAY - dt.timedelta(days=1)) + dt.timedelta(days=1)
        low = dt.datetime.combine(first, dt.time(), zone)
        high = dt.datetime.combine(max(after, first), dt.time(), zone)
        return _utc(low), _utc(high)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def replace(self, **changes) -> "Filters":
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data


def _utc(value: dt.datetime) -> dt.datetime:
    """Binds are aware UTC: PostgreSQL then compares instants whatever the server's
    TimeZone (a naive value would be read in it), and SQLite's DateTime type writes
    the same UTC wall time it stores."""
    return value.astimezone(dt.timezone.utc)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_utc(value: dt.datetime) -> dt.datetime:
    """Naive values are UTC (what SQLite hands back); aware ones are converted."""
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else _utc(value)


def today_in(time_zone: str) -> dt.date:
    return dt.datetime.now(ZoneInfo(time_zone)).date()


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(value, field: str, label: str, default: dt.date) -> dt.date:
    """``AAAA-MM-DD`` and a real calendar date (2025-02-30 is a 400, not March)."""
    if value in (None, ""):
        return default
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise ValidationError(field, f"{label}: use uma data no formato AAAA-MM-DD.")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(field, f"{label}: {_br(value)} não é uma data do calendário.")


def _br(value: str) -> str:
    year, month, day = value.split("-")
    return f"{day}/{month}/{year}"


def parse_period(start, end, time_zone: str) -> tuple[dt.date, dt.date]:
    today = today_in(time_zone)
    end_date = parse_date(end, "end", "Data final", today)
    start_date = parse_date(start, "start", "Data inicial",
                            end_date - dt.timedelta(days=min(DEFAULT_PERIOD_DAYS - 1,
                                                             (end_date - dt.date.min).days)))
    if end_date < start_date:
        raise ValidationError("end", "A data final deve ser igual ou posterior à inicial.")
    return start_date, end_date


def parse_ids(value, field: str) -> tuple[int, ...]:
    """One id or a list of ids, as ints, strings of digits (query string) or None."""
    label = ID_FIELDS[field][1]
    if value in (None, "", []):
        return ()
    values = value if isinstance(value, (list, tuple)) else [value]
    if len(values) > 200:
        raise ValidationError(field, f"{label}: valores demais.")
    ids = []
    for item in values:
        if isinstance(item, str) and item.strip().isdigit() and len(item.strip()) < 10:
            item = int(item.strip())
        if isinstance(item, bool) or not isinstance(item, int) or not 0 < item < 2**31:
            raise ValidationError(field, f"{label} inválido.")
        ids.append(item)
    return tuple(sorted(set(ids)))


def parse_priorities(value) -> tuple[str, ...]:
    if value in (None, "", []):
        return ()
    values = value if isinstance(value, (list, tuple)) else [value]
    if not all(isinstance(v, str) and v in PRIORITIES for v in values):
        raise ValidationError("priority", "Prioridade inválida: use low, medium, high ou urgent.")
    return tuple(p for p in PRIORITIES if p in values)


def parse_clock(value) -> str:
    """``24x7`` (default: every hour counts) or ``business`` (working hours)."""
    if value in (None, ""):
        return DEFAULT_CLOCK
    if not isinstance(value, str) or value not in CLOCKS:
        raise ValidationError("clock", "Relógio inválido: use 24x7 (horas corridas) ou "
                                       "business (horas úteis).")
    return value


def check_ids_belong(session, account_id: int, field: str, ids: tuple[int, ...]) -> None:
    """400 naming the field unless every id is a row of this account. The account is
    bound explicitly (not left to the request's tenancy scope) so the check is right
    in callbacks, CLI and tests alike."""
    if not ids:
        return
    model = ID_FIELDS[field][0]
    found = set(session.scalars(
        select(model.id).where(model.id.in_(ids), model.account_id == account_id)
    ))
    if found != set(ids):
        raise ValidationError(field, f"{ID_FIELDS[field][1]} inexistente.")


def build_filters(session, account_id: int, time_zone: str, *, start=None, end=None,
                  department_id=None, service_id=None, priority=None, sector_id=None,
                  attendant_id=None, requester_id=None, clock=None) -> Filters:
    """Validate raw values (API query string or Dash component values) into Filters."""
    start_date, end_date = parse_period(start, end, time_zone)
    raw = {"department_id": department_id, "service_id": service_id,
           "sector_id": sector_id, "attendant_id": attendant_id,
           "requester_id": requester_id}
    ids = {field: parse_ids(value, field) for field, value in raw.items()}
    priorities = parse_priorities(priority)
    clock = parse_clock(clock)
    for field, values in ids.items():
        check_ids_belong(session, account_id, field, values)
    return Filters(
        start=start_date, end=end_date, time_zone=time_zone,
        department_ids=ids["department_id"], service_ids=ids["service_id"],
        priorities=priorities, sector_ids=ids["sector_id"],
        attendant_ids=ids["attendant_id"], requester_ids=ids["requester_id"], clock=clock,
    )
