"""Working-hours arithmetic for SLA due times: pure functions, no Flask, no database.

A ``Calendar`` says when an account works: intervals per weekday in local wall-clock time
of its IANA zone, minus Brazilian national holidays (federal law, from the ``holidays``
package), the state's holidays when a UF is set, and the account's own days off.

Why it is shaped like this: the workflow calls ``add``/``between`` on every transition
and the data generator calls ``between`` millions of times, so each calendar (frozen,
hashable) gets a cached ``_Clock`` that lazily turns each local year into sorted UTC
working intervals plus a prefix sum of working microseconds. ``between`` is then two
bisects and a subtraction, ``add`` one bisect, and any year (even far ahead) is computed
only when first touched. Everything internal is integer microseconds since the epoch, so
``between(t, add(t, h)) == h`` holds exactly.

Daylight saving: each local interval becomes one UTC interval of its real length. A wall
time the clock skips means the jump itself (00:30 on a day that jumps 00:00 -> 01:00
opens at 01:00); a wall time that happens twice means its first occurrence.
"""
from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_package
import numpy as np

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_HOURS = (((480, 1080),),) * 5 + ((), ())
# The 27 UFs; the package also lists "São Paulo Capital" (a city), which is not a state.
SUBDIVISIONS = frozenset(s for s in holidays_package.Brazil.subdivisions if len(s) == 2)
OPTIONAL_NAMES = ("Carnaval", "Quarta-feira de Cinzas", "Corpus Christi")
NO_HOURS = "O calendário não tem horário de atendimento."
_UTC = UTC
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_DAY = timedelta(days=1)
_US = timedelta(microseconds=1)
_MINUTE_US = 60_000_000
_HOUR_US = 3_600_000_000
_TIME = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00")  # strict HH:MM, ASCII digits
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class CalendarError(ValueError):
    """Invalid calendar input: ``message`` is shown to the user (pt-BR), ``field`` names
    the offending part of the API body (``hours.mon[1]``, ``holidays[2].date``...)."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True)
class Calendar:
    """An account's working time. Frozen and hashable so it can key the caches; the
    hash is computed once because the hot paths look the calendar up on every call."""

    time_zone: str = "America/Sao_Paulo"
    hours: tuple = DEFAULT_HOURS
    national_holidays: bool = True
    subdivision: str | None = None
    days_off: tuple = ()
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self):
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise CalendarError("Fuso horário desconhecido.", "time_zone") from None
        if self.subdivision is not None and self.subdivision not in SUBDIVISIONS:
            raise CalendarError("Estado desconhecido: use a sigla, como SP.", "subdivision")
        try:
            hours = tuple(tuple((int(s), int(e)) for s, e in day) for day in self.hours)
        except (TypeError, ValueError):
            hours = ()
        if len(hours) != 7:
            raise CalendarError("Envie os sete dias da semana.", "hours")
        for name, day in zip(WEEKDAYS, hours):
            for i, (s, e) in enumerate(day):
                if not 0 <= s < e <= 1440 or (i and day[i - 1][1] > s):
                    raise CalendarError(f"Intervalo inválido em hours.{name}[{i}].",
                                        f"hours.{name}[{i}]")
        days_off = tuple(sorted((d, str(n)) for d, n in self.days_off))
        object.__setattr__(self, "hours", hours)
        object.__setattr__(self, "days_off", days_off)
        object.__setattr__(self, "_hash", hash((self.time_zone, hours, self.national_holidays,
                                                self.subdivision, days_off)))

    def __hash__(self):
        return self._hash

    def holidays(self, year: int) -> list[tuple[date, str]]:
        """That year's days off, sorted, each date once (the first source's name wins:
        national, then state, then the account's own)."""
        return sorted(_days_off(self, year).items())

    def is_day_off(self, day: date) -> bool:
        return day in _days_off(self, day.year)

    def has_working_hours(self) -> bool:
        return any(self.hours)


@lru_cache(maxsize=512)
def _public(subdivision: str | None, year: int) -> dict:
    return dict(holidays_package.Brazil(years=year, subdiv=subdivision, language="pt_BR"))


@lru_cache(maxsize=4096)
def _days_off(calendar: Calendar, year: int) -> dict:
    national = _public(None, year)
    if calendar.subdivision:
        found = dict(_public(calendar.subdivision, year))  # includes the national days
        if not calendar.national_holidays:  # keep the state's own names only
            found = {d: "; ".join(left) for d, n in found.items()
                     if (left := [p for p in n.split("; ")
                                  if p not in national.get(d, "").split("; ")])}
    else:
        found = dict(national) if calendar.national_holidays else {}
    for day, name in calendar.days_off:
        if day.year == year:
            found.setdefault(day, name)
    return found


def optional_days(year: int) -> list[tuple[date, str]]:
    """Carnaval (Monday and Tuesday), Ash Wednesday and Corpus Christi: "pontos
    facultativos" the screen offers in one click. The package's optional category also
    has Dia do Servidor Público and the eves of Christmas and New Year: left out."""
    found = holidays_package.Brazil(years=year, categories=("optional",), language="pt_BR")
    return sorted((d, n) for d, names in found.items() for n in names.split("; ")
                  if n in OPTIONAL_NAMES)


def _to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)
    return (moment - _EPOCH) // _US


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(0, 0, us)  # positional: twice as fast as microseconds=


def _duration_us(hours) -> int:
    """int, float, Decimal or timedelta of hours -> whole microseconds (rounded)."""
    if isinstance(hours, timedelta):
        us = hours // _US
    elif isinstance(hours, (int, float, Decimal)) and not isinstance(hours, bool):
        if not math.isfinite(hours):
            raise ValueError("hours must be finite")
        us = hours * _HOUR_US if isinstance(hours, int) else round(hours * _HOUR_US)
    else:
        raise TypeError(f"hours must be a number or timedelta, not {type(hours).__name__}")
    if us < 0:
        raise ValueError("hours must not be negative")
    return us


class _Clock:
    """One calendar's working intervals in UTC, built a local year at a time. For year
    y: ``starts``/``ends`` (sorted, microseconds) and ``cum`` (working time before each
    interval; cum[-1] is the year's total). Year y spans [lo(y), lo(y+1))."""

    def __init__(self, calendar: Calendar):
        self.calendar, self.tz = calendar, ZoneInfo(calendar.time_zone)
        self.tables: dict[int, tuple[list, list, list]] = {}
        self.los: dict[int, int] = {}
        self.arrays: dict[tuple[int, int], tuple] = {}

    def local_us(self, naive: datetime) -> int:
        """The first instant at which the wall clock shows ``naive`` or later: the
        earlier one of a repeated hour, the DST jump itself for a skipped time."""
        after = naive.replace(tzinfo=self.tz).astimezone(_UTC)
        if after.astimezone(self.tz).replace(tzinfo=None) == naive:
            return _to_us(after)
        low = _to_us(naive.replace(tzinfo=self.tz, fold=1)) // 1_000_000
        high = _to_us(after) // 1_000_000  # the jump is in (low, high], whole seconds
        while high - low > 1:
            mid = (low + high) // 2
            wall = _from_us(mid * 1_000_000).astimezone(self.tz).replace(tzinfo=None)
            low, high = (mid, high) if wall < naive else (low, mid)
        return high * 1_000_000

    def lo(self, year: int) -> int:
        if year not in self.los:
            if not 2 <= year <= 9998:
                raise OverflowError("date out of the supported range (years 2 to 9998)")
            self.los[year] = self.local_us(datetime(year, 1, 1))
        return self.los[year]

    def table(self, year: int) -> tuple[list, list, list]:
        if year not in self.tables:
            self.lo(year)
            starts, ends, cum = [], [], [0]
            day, hours, off = date(year, 1, 1), self.calendar.hours, self.offset(year, 1, 1)
            while day.year == year:
                after = day + _DAY
                next_off = self.offset(after.year, after.month, after.day)
                if hours[day.weekday()] and not self.calendar.is_day_off(day):
                    midnight = datetime(day.year, day.month, day.day)
                    base = (midnight - _NAIVE_EPOCH) // _US - off
                    for s, e in hours[day.weekday()]:
                        if off == next_off:  # no DST change today: one offset for all
                            a, b = base + s * _MINUTE_US, base + e * _MINUTE_US
                        else:
                            a = self.local_us(midnight + timedelta(minutes=s))
                            b = self.local_us(midnight + timedelta(minutes=e))
                        if b > a:  # an interval inside a skipped hour vanishes
                            starts.append(a), ends.append(b), cum.append(cum[-1] + b - a)
                day, off = after, next_off
            self.tables[year] = starts, ends, cum
        return self.tables[year]

    def offset(self, year: int, month: int, day: int) -> int:
        """UTC offset at local midnight, in microseconds (earlier offset if skipped)."""
        return datetime(year, month, day, tzinfo=self.tz).utcoffset() // _US

    def year_of(self, us: int) -> int:
        """The local year holding ``us``: a guess from the mean Gregorian year, then
        corrected against the cached year starts (a step at most, usually none)."""
        year = 1970 + us // 31_556_952_000_000
        while us < (self.los.get(year) or self.lo(year)):
            year -= 1
        while us >= (self.los.get(year + 1) or self.lo(year + 1)):
            year += 1
        return year

    def worked(self, year: int, us: int) -> int:
        """Working microseconds in [lo(year), us), for us inside that year."""
        starts, ends, cum = self.table(year)
        i = bisect_right(ends, us)
        return cum[i] + (max(0, us - starts[i]) if i < len(starts) else 0)

    def between(self, a: int, b: int) -> int:
        ya, yb = self.year_of(a), self.year_of(b)
        if ya == yb:
            return self.worked(yb, b) - self.worked(ya, a)
        middle = sum(self.table(y)[2][-1] for y in range(ya + 1, yb))
        return self.table(ya)[2][-1] - self.worked(ya, a) + middle + self.worked(yb, b)

    def add(self, start: int, need: int) -> int:
        year = self.year_of(start)
        target = self.worked(year, start) + need
        while target > self.table(year)[2][-1]:  # carry the rest into the next year
            target -= self.table(year)[2][-1]
            year += 1
        starts, _, cum = self.table(year)
        i = bisect_left(cum, target) - 1  # reaching an interval's end returns that end
        return starts[i] + target - cum[i]

    def span(self, first: int, last: int) -> tuple:
        """Years first..last concatenated into numpy arrays for ``between_many``; a
        sentinel interval far in the future keeps every searchsorted index in range."""
        found = self.arrays.get((first, last))
        if found is None:
            starts, ends, cum = [], [], [0]
            for year in range(first, last + 1):
                s, e, c = self.table(year)
                starts += s
                ends += e
                cum += [cum[-1] + x for x in c[1:]]
            found = (np.array(starts + [2**62], dtype=np.int64),
                     np.array(ends + [2**62], dtype=np.int64),
                     np.array(cum + [cum[-1]], dtype=np.int64))
            if len(self.arrays) > 8:  # the generator uses a few spans; don't hoard
                self.arrays.clear()
            self.arrays[first, last] = found
        return found


@lru_cache(maxsize=256)
def _clock(calendar: Calendar) -> _Clock:
    return _Clock(calendar)


def add(start: datetime, hours, calendar: Calendar | None) -> datetime:
    """The instant when ``hours`` working hours have elapsed since ``start`` (counting
    from the next working minute when ``start`` is outside hours), in UTC. Zero hours
    returns ``start`` itself (as UTC), not the next opening."""
    need, begin = _duration_us(hours), _to_us(start)
    if need == 0 or calendar is None:
        return _from_us(begin + need)
    if not calendar.has_working_hours():
        raise CalendarError(NO_HOURS, "hours")
    return _from_us(_clock(calendar).add(begin, need))


def between(a: datetime, b: datetime, calendar: Calendar | None) -> timedelta:
    """Working time inside [a, b), exact to the microsecond; zero when b <= a."""
    ua, ub = _to_us(a), _to_us(b)
    if ub <= ua:
        return timedelta(0)
    if calendar is None:
        return timedelta(0, 0, ub - ua)
    if not calendar.has_working_hours():
        return timedelta(0)
    return timedelta(0, 0, _clock(calendar).between(ua, ub))


def between_many(starts, ends, calendar: Calendar | None) -> np.ndarray:
    """``between`` for arrays of naive-UTC datetime64 (the generator's bulk path), in
    float64 hours; NaT on either side gives NaN."""
    a = np.asarray(starts, dtype="datetime64[us]")
    b = np.asarray(ends, dtype="datetime64[us]")
    if a.shape != b.shape:
        raise ValueError("starts and ends must have the same length")
    good = ~(np.isnat(a) | np.isnat(b))
    ua, ub = a[good].astype(np.int64), b[good].astype(np.int64)
    out = np.full(a.shape, np.nan)
    if calendar is None or not ua.size:
        worked = np.maximum(ub - ua, 0)
    elif not calendar.has_working_hours():
        worked = np.zeros(ua.shape, dtype=np.int64)
    else:
        clock = _clock(calendar)
        s, e, cum = clock.span(clock.year_of(int(min(ua.min(), ub.min()))),
                               clock.year_of(int(max(ua.max(), ub.max()))))

        def worked_until(x):  # the vector form of _Clock.worked over the span
            i = np.searchsorted(e, x, side="right")
            return cum[i] + np.maximum(0, x - s[i])

        worked = np.where(ub > ua, worked_until(ub) - worked_until(ua), 0)
    out[good] = worked / _HOUR_US
    return out


def _fail(what: str, where: str, hint: str = ""):
    raise CalendarError(f"{what} em {where}" + (f": {hint}." if hint else "."), where)


def _minutes(text, where: str, *, end: bool) -> int:
    if not isinstance(text, str) or len(text) != 5 or not _TIME.fullmatch(text):
        _fail("Horário inválido", where, "use HH:MM entre 00:00 e 24:00")
    if text == "24:00" and not end:
        _fail("Horário inválido", where, "24:00 só pode ser o fim de um intervalo")
    return int(text[:2]) * 60 + int(text[3:])


def parse_hours(value) -> tuple:
    """API JSON ``{"mon": [["08:00", "12:00"], ...], ...}`` -> ``Calendar.hours``. A day
    left out has no hours; a day's intervals may come in any order (they are sorted).
    Times are strictly HH:MM: "8:00" is refused, like "25:00" and "24:00" as a start."""
    if not isinstance(value, dict):
        _fail("Horário inválido", "hours", "envie um objeto com os dias mon a sun")
    if any(key not in WEEKDAYS for key in value):
        _fail("Dia desconhecido", "hours", "use mon, tue, wed, thu, fri, sat ou sun")
    week = []
    for name in WEEKDAYS:
        day = value.get(name, [])
        if not isinstance(day, (list, tuple)):
            _fail("Dia inválido", f"hours.{name}", "envie uma lista de intervalos")
        intervals = []
        for i, pair in enumerate(day):
            where = f"hours.{name}[{i}]"
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                _fail("Intervalo inválido", where, 'envie ["HH:MM", "HH:MM"]')
            s, e = _minutes(pair[0], where, end=False), _minutes(pair[1], where, end=True)
            if e <= s:
                _fail("Intervalo inválido", where, "o fim deve ser depois do início")
            intervals.append((s, e, i))
        intervals.sort()
        for (_, end, _), (start, _, i) in pairwise(intervals):
            if start < end:
                _fail("Intervalo sobreposto a outro", f"hours.{name}[{i}]")
        week.append(tuple((s, e) for s, e, _ in intervals))
    return tuple(week)


def format_hours(hours: tuple) -> dict:
    """``Calendar.hours`` -> API JSON, every day present, ``HH:MM`` (1440 is 24:00)."""
    return {name: [[f"{m // 60:02d}:{m % 60:02d}" for m in pair] for pair in day]
            for name, day in zip(WEEKDAYS, hours)}


def parse_subdivision(value) -> str | None:
    """A UF code (``"SP"``; case and surrounding spaces forgiven) or None/"" for none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    code = value.strip().upper() if isinstance(value, str) and value.isascii() else None
    if code not in SUBDIVISIONS:
        raise CalendarError("Estado desconhecido: use a sigla, como SP.", "subdivision")
    return code


def parse_holidays(value) -> tuple:
    """``[{"date": "YYYY-MM-DD", "name": "..."}]`` -> ``Calendar.days_off``, sorted.
    Names are trimmed; control characters (NUL included) are refused: the database
    could not store a NUL and the screen could not show the rest."""
    if not isinstance(value, (list, tuple)):
        _fail("Feriados inválidos", "holidays", 'envie uma lista de {"date", "name"}')
    seen: dict[date, str] = {}
    for i, item in enumerate(value):
        where = f"holidays[{i}]"
        if not isinstance(item, dict) or set(item) - {"date", "name"}:
            _fail("Feriado inválido", where, 'envie {"date": "AAAA-MM-DD", "name": "..."}')
        text, name = item.get("date"), item.get("name")
        day = None
        if isinstance(text, str) and _DATE.fullmatch(text):
            try:
                day = date.fromisoformat(text)
            except ValueError:  # 2027-02-30
                pass
        if day is None:
            _fail("Data inválida", f"{where}.date", "use AAAA-MM-DD com uma data que exista")
        if day in seen:
            _fail("Data repetida", f"{where}.date", f"{text} já está na lista")
        name = name.strip() if isinstance(name, str) else ""
        if not name or len(name) > 100 or any(unicodedata.category(c) == "Cc" for c in name):
            _fail("Nome inválido", f"{where}.name", "obrigatório, até 100 caracteres")
        seen[day] = name
    return tuple(sorted(seen.items()))
