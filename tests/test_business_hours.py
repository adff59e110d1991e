"""app.business_hours: hand-computed due times, DST days, holidays, property tests and
input validation. Plain functions: no app, no database (so they run once, not per
backend)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from app.business_hours import (
    DEFAULT_HOURS,
    WEEKDAYS,
    Calendar,
    CalendarError,
    add,
    between,
    between_many,
    format_hours,
    optional_days,
    parse_holidays,
    parse_hours,
    parse_subdivision,
)

SP = ZoneInfo("America/Sao_Paulo")
NY = ZoneInfo("America/New_York")
H = timedelta(hours=1)
US = timedelta(microseconds=1)
WEEK_LUNCH = {day: [["08:00", "12:00"], ["13:00", "18:00"]] for day in WEEKDAYS[:5]}
LUNCH = Calendar(hours=parse_hours(WEEK_LUNCH))
DEFAULT = Calendar()
ALL_DAY = parse_hours({day: [["00:00", "24:00"]] for day in WEEKDAYS})


def sp(*args) -> datetime:
    return datetime(*args, tzinfo=SP)


def local(moment: datetime, zone=SP) -> datetime:
    assert moment.utcoffset() == timedelta(0), "outputs are in UTC"
    return moment.astimezone(zone)


# --- hand-computed due times (default: Mon-Fri 08-18, national holidays, SP zone) ---

@pytest.mark.parametrize("start, hours, due", [
    (sp(2027, 3, 1, 10), 4, sp(2027, 3, 1, 14)),       # inside hours
    (sp(2027, 3, 1, 6), 2, sp(2027, 3, 1, 10)),        # before opening
    (sp(2027, 3, 1, 19), 2, sp(2027, 3, 2, 10)),       # after closing
    (sp(2027, 3, 1, 17, 30), 0.5, sp(2027, 3, 1, 18)),  # ends exactly at closing
    (sp(2027, 3, 6, 11), 3, sp(2027, 3, 8, 11)),       # Saturday -> Monday
    (sp(2027, 4, 20, 17), 8, sp(2027, 4, 22, 15)),     # eve of Tiradentes (Wed 04-21)
    (sp(2027, 3, 1, 8), 100, sp(2027, 3, 12, 18)),     # longer than a week
    (sp(2027, 3, 1, 8), 101, sp(2027, 3, 15, 9)),
    (sp(2027, 3, 25, 17), 2, sp(2027, 3, 29, 9)),      # Sexta-feira Santa 2027
    (sp(2028, 4, 13, 17), 2, sp(2028, 4, 17, 9)),      # Sexta-feira Santa 2028
    (sp(2027, 2, 5, 17), 2, sp(2027, 2, 8, 9)),        # Carnaval is a working day
    (sp(2030, 12, 31, 17), 2, sp(2031, 1, 2, 9)),      # years ahead, 01-01 off
])
def test_add_default_calendar(start, hours, due):
    assert local(add(start, hours, DEFAULT)) == due
    assert between(start, due, DEFAULT) == timedelta(hours=hours)


@pytest.mark.parametrize("start, hours, due", [
    (sp(2027, 3, 1, 11), 2, sp(2027, 3, 1, 14)),   # across lunch
    (sp(2027, 3, 1, 10), 2, sp(2027, 3, 1, 12)),   # the end of the morning, not 13:00
    (sp(2027, 3, 1, 12, 30), 1, sp(2027, 3, 1, 14)),  # opened during lunch
    (sp(2027, 3, 1, 17), 5, sp(2027, 3, 2, 12)),      # 1 h + 4 h: the morning's end
    (sp(2027, 3, 1, 17), 5.5, sp(2027, 3, 2, 13, 30)),  # and on after lunch
])
def test_add_with_lunch_break(start, hours, due):
    assert local(add(start, hours, LUNCH)) == due
    assert between(start, due, LUNCH) == timedelta(hours=hours)


def test_between_with_lunch_and_nights():
    assert between(sp(2027, 3, 1, 11, 30), sp(2027, 3, 1, 13, 30), LUNCH) == H
    assert between(sp(2027, 3, 1, 17), sp(2027, 3, 2, 9), DEFAULT) == 2 * H
    # Fri 1 h + Mon 10 h + Tue 10 h + Wed 04-21 (Tiradentes) 0 + Thu 2 h
    assert between(sp(2027, 4, 16, 17), sp(2027, 4, 22, 10), DEFAULT) == 23 * H
    assert between(sp(2027, 4, 22, 10), sp(2027, 4, 16, 17), DEFAULT) == timedelta(0)
    assert between(sp(2027, 3, 6, 0), sp(2027, 3, 8, 0), DEFAULT) == timedelta(0)


def test_state_holiday_only_with_subdivision():
    thursday = sp(2027, 7, 8, 17)  # 07-09 Revolução Constitucionalista, SP only
    assert local(add(thursday, 2, DEFAULT)) == sp(2027, 7, 9, 9)
    assert local(add(thursday, 2, Calendar(subdivision="SP"))) == sp(2027, 7, 12, 9)
    assert local(add(thursday, 2, Calendar(subdivision="RJ"))) == sp(2027, 7, 9, 9)
    assert Calendar(subdivision="SP").is_day_off(date(2027, 7, 9))
    assert not DEFAULT.is_day_off(date(2027, 7, 9))


def test_own_day_off():
    cal = Calendar(days_off=((date(2027, 3, 2), "Aniversário da cidade"),))
    assert local(add(sp(2027, 3, 1, 17), 2, cal)) == sp(2027, 3, 3, 9)
    assert (date(2027, 3, 2), "Aniversário da cidade") in cal.holidays(2027)
    assert cal.is_day_off(date(2027, 3, 2)) and not DEFAULT.is_day_off(date(2027, 3, 2))
    assert cal.holidays(2028) == DEFAULT.holidays(2028)


def test_national_holidays_are_the_ten_of_federal_law():
    assert DEFAULT.holidays(2027) == [
        (date(2027, 1, 1), "Confraternização Universal"),
        (date(2027, 3, 26), "Sexta-feira Santa"),
        (date(2027, 4, 21), "Tiradentes"),
        (date(2027, 5, 1), "Dia do Trabalhador"),
        (date(2027, 9, 7), "Independência do Brasil"),
        (date(2027, 10, 12), "Nossa Senhora Aparecida"),
        (date(2027, 11, 2), "Finados"),
        (date(2027, 11, 15), "Proclamação da República"),
        (date(2027, 11, 20), "Dia Nacional de Zumbi e da Consciência Negra"),
        (date(2027, 12, 25), "Natal"),
    ]
    assert (date(2028, 4, 14), "Sexta-feira Santa") in DEFAULT.holidays(2028)
    assert not DEFAULT.is_day_off(date(2027, 2, 8))  # Carnaval
    assert not DEFAULT.is_day_off(date(2027, 5, 27))  # Corpus Christi


def test_holidays_sources_combine():
    sp_cal = Calendar(subdivision="SP")
    assert sp_cal.holidays(2027) == sorted(DEFAULT.holidays(2027)
                                           + [(date(2027, 7, 9), "Revolução Constitucionalista")])
    state_only = Calendar(national_holidays=False, subdivision="SP")
    assert state_only.holidays(2027) == [(date(2027, 7, 9), "Revolução Constitucionalista")]
    assert Calendar(national_holidays=False).holidays(2027) == []
    # an own day off on a national holiday is listed once, under the national name
    both = Calendar(days_off=((date(2027, 12, 25), "Recesso"), (date(2027, 12, 26), "Recesso")))
    days = [d for d, _ in both.holidays(2027)]
    assert days == sorted(set(days)) and (date(2027, 12, 25), "Natal") in both.holidays(2027)


def test_optional_days():
    assert optional_days(2027) == [
        (date(2027, 2, 8), "Carnaval"), (date(2027, 2, 9), "Carnaval"),
        (date(2027, 2, 10), "Quarta-feira de Cinzas"), (date(2027, 5, 27), "Corpus Christi")]
    assert [d for d, _ in optional_days(2028)] == [
        date(2028, 2, 28), date(2028, 2, 29), date(2028, 3, 1), date(2028, 6, 15)]
    cal = Calendar(days_off=tuple(optional_days(2027)))
    assert local(add(sp(2027, 2, 5, 17), 2, cal)) == sp(2027, 2, 11, 9)


# --- daylight saving time ---

def test_new_york_dst_days():
    full = Calendar("America/New_York", ALL_DAY, national_holidays=False)

    def ny(*args):
        return datetime(*args, tzinfo=NY)

    assert between(ny(2027, 3, 14), ny(2027, 3, 15), full) == 23 * H
    assert between(ny(2027, 11, 7), ny(2027, 11, 8), full) == 25 * H
    assert local(add(ny(2027, 3, 14), 24, full), NY) == ny(2027, 3, 15, 1)
    office = Calendar("America/New_York", (((540, 1020),),) * 5 + ((), ()),
                      national_holidays=False)
    # Fri 16:00 EST + 2 h -> Mon 10:00 EDT: the clock moved, the hours did not
    assert add(ny(2027, 3, 12, 16), 2, office) == datetime(2027, 3, 15, 14, tzinfo=UTC)
    assert between(ny(2027, 3, 12, 16), ny(2027, 3, 15, 10), office) == 2 * H
    # an interval across the jump has its real length
    night = Calendar("America/New_York", ((),) * 6 + (((60, 240),),), national_holidays=False)
    assert between(ny(2027, 3, 14), ny(2027, 3, 15), night) == 2 * H
    assert between(ny(2027, 11, 7), ny(2027, 11, 8), night) == 4 * H


def test_sao_paulo_2018_dst_start():
    # 2018-11-04 (Sunday) clocks jumped from 00:00 to 01:00: a 23-hour day
    full = Calendar(hours=ALL_DAY, national_holidays=False)
    assert between(sp(2018, 11, 4), sp(2018, 11, 5), full) == 23 * H
    assert between(sp(2018, 11, 3), sp(2018, 11, 6), full) == 71 * H
    assert add(sp(2018, 11, 3, 23), 2, full) == datetime(2018, 11, 4, 4, tzinfo=UTC)
    assert local(add(sp(2018, 11, 3, 23), 2, full)).hour == 2
    # an interval opening inside the skipped hour opens at the jump (01:00 new time)
    skipped = Calendar(hours=((),) * 6 + (((30, 120),),), national_holidays=False)
    assert between(sp(2018, 11, 4), sp(2018, 11, 5), skipped) == H
    assert add(sp(2018, 11, 3, 12), 0.5, skipped) == datetime(2018, 11, 4, 3, 30, tzinfo=UTC)
    # and the 2019-02-17 return: 23:00-24:00 of 02-16 happened twice, a 25-hour day
    assert between(sp(2019, 2, 16), sp(2019, 2, 17), full) == 25 * H


def test_local_new_year_is_not_the_utc_one():
    # 2027-12-31 22:00 in Sao Paulo is already 2028 in UTC
    full = Calendar(hours=ALL_DAY, national_holidays=False)
    assert between(sp(2027, 12, 31, 22), sp(2028, 1, 1, 2), full) == 4 * H
    assert local(add(sp(2027, 12, 31, 22), 1, full)) == sp(2027, 12, 31, 23)
    tokyo = Calendar("Asia/Tokyo", ALL_DAY, national_holidays=False)
    new_year = datetime(2028, 1, 1, tzinfo=ZoneInfo("Asia/Tokyo"))  # 2027 in UTC
    assert between(new_year - 2 * H, new_year + 2 * H, tokyo) == 4 * H
    assert add(new_year, 1, tokyo) == new_year + H


# --- 24x7, inputs, no hours ---

def test_24x7_clock():
    t = datetime(2027, 3, 1, 10, tzinfo=SP)
    assert add(t, 5, None) == t + 5 * H and add(t, 5, None).tzinfo == UTC
    assert add(t, Decimal("1.5"), None) == t + 1.5 * H
    assert add(t, timedelta(minutes=7), None) == t + timedelta(minutes=7)
    assert between(t, t + 30 * H, None) == 30 * H
    assert between(t + H, t, None) == timedelta(0)


def test_inputs():
    t = sp(2027, 3, 1, 10)
    naive = datetime(2027, 3, 1, 13)  # naive means UTC: the same instant as t
    assert add(naive, 1, DEFAULT) == add(t, 1, DEFAULT) == datetime(2027, 3, 1, 14, tzinfo=UTC)
    assert add(t, 0, DEFAULT) == t and add(sp(2027, 3, 6), 0, DEFAULT) == sp(2027, 3, 6)
    for hours in (1, 1.0, Decimal(1), timedelta(hours=1)):
        assert add(t, hours, DEFAULT) == t + H
    assert add(t, 0.1, DEFAULT) == t + timedelta(minutes=6)
    assert add(t, 0.009, DEFAULT) == t + timedelta(seconds=32.4)  # 0.009 * 3.6e9 < 32400000
    assert add(t, 0.009, None) == t + timedelta(hours=0.009)
    for bad in (-1, -0.5, Decimal(-1), timedelta(seconds=-1), float("nan"), float("inf")):
        with pytest.raises(ValueError):
            add(t, bad, DEFAULT)
    with pytest.raises(ValueError):
        add(t, -1, None)


def test_calendar_without_working_hours():
    empty = Calendar(hours=parse_hours({}))
    assert not empty.has_working_hours() and DEFAULT.has_working_hours()
    with pytest.raises(CalendarError) as error:
        add(sp(2027, 3, 1), 1, empty)
    assert (error.value.message, error.value.field) == (
        "O calendário não tem horário de atendimento.", "hours")
    assert add(sp(2027, 3, 1), 0, empty) == sp(2027, 3, 1)
    assert between(sp(2027, 3, 1), sp(2027, 4, 1), empty) == timedelta(0)
    starts = np.array(["2027-03-01T10:00"], dtype="datetime64[us]")
    assert between_many(starts, starts + np.timedelta64(5, "h"), empty).tolist() == [0.0]


def test_between_many_hand_values():
    starts = np.array(["2027-03-01T13:00", "2027-04-16T20:00", "NaT", "2027-03-01T13:00"],
                      dtype="datetime64[us]")
    ends = np.array(["2027-03-01T17:30", "2027-04-22T13:00", "2027-03-01", "NaT"],
                    dtype="datetime64[s]")
    result = between_many(starts, ends, DEFAULT)
    assert result[:2].tolist() == [4.5, 23.0] and np.isnan(result[2:]).all()
    assert between_many(starts, ends, None)[:2].tolist() == [4.5, 137.0]


def test_calendar_validates_itself():
    with pytest.raises(CalendarError) as error:
        Calendar(subdivision="São Paulo Capital")
    assert error.value.field == "subdivision"
    with pytest.raises(CalendarError) as error:
        Calendar(time_zone="Mars/Olympus")
    assert error.value.field == "time_zone"
    with pytest.raises(CalendarError) as error:
        Calendar(hours=(((600, 500),),) + ((),) * 6)
    assert error.value.field == "hours.mon[0]"
    assert hash(Calendar()) == hash(Calendar(hours=DEFAULT_HOURS)) and Calendar() == DEFAULT


# --- properties ---

ZONES = ["America/Sao_Paulo", "America/New_York", "Europe/London", "Australia/Lord_Howe",
         "Asia/Kolkata", "UTC"]
# instants near DST changes of those zones and near new year, where mistakes would hide
HOTSPOTS = [datetime(2018, 11, 4, 3), datetime(2019, 2, 17, 2), datetime(2027, 3, 14, 7),
            datetime(2027, 11, 7, 6), datetime(2027, 3, 28, 1), datetime(2027, 10, 31, 1),
            datetime(2027, 4, 3, 15), datetime(2027, 10, 2, 15), datetime(2028, 1, 1)]


@st.composite
def day_hours(draw):
    cuts = sorted(draw(st.sets(st.integers(0, 1440), max_size=6)))
    return tuple(zip(cuts[::2], cuts[1::2]))


@st.composite
def calendars(draw, working=True):
    hours = tuple(draw(day_hours()) for _ in WEEKDAYS)
    if working:  # at least 2 h a week, or 400 h would reach centuries ahead
        assume(sum(e - s for day in hours for s, e in day) >= 120)
    days_off = draw(st.sets(st.dates(date(2017, 1, 1), date(2031, 12, 31)), max_size=30))
    return Calendar(draw(st.sampled_from(ZONES)), hours, draw(st.booleans()),
                    draw(st.sampled_from([None, "SP", "RJ"])),
                    tuple((d, "Folga") for d in sorted(days_off)))


instants = st.one_of(
    st.datetimes(datetime(2017, 6, 1), datetime(2030, 12, 31)),
    st.builds(lambda t, s: t + timedelta(microseconds=s), st.sampled_from(HOTSPOTS),
              st.integers(-3 * 86400 * 10**6, 3 * 86400 * 10**6)),
).map(lambda t: t.replace(tzinfo=UTC))
durations = st.integers(0, 400 * 3600 * 10**6).map(lambda us: timedelta(microseconds=us))
PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(calendars(), instants, durations)
@example(Calendar(hours=ALL_DAY), datetime(2018, 11, 3, 12, tzinfo=UTC), 20 * H)
def test_between_inverts_add(cal, t, h):
    due = add(t, h, cal)
    assert due >= t and between(t, due, cal) == h


@PROPERTY
@given(calendars(working=False), instants, durations)
def test_add_of_between_does_not_pass_b(cal, a, d):
    b = a + d
    worked = between(a, b, cal)
    assert timedelta(0) <= worked <= d
    if cal.has_working_hours():
        assert add(a, worked, cal) <= b


@PROPERTY
@given(calendars(), instants, durations, durations)
def test_add_is_monotone_and_composes(cal, t, x, y):
    assert add(t, x, cal) <= add(t, x + y, cal)
    assert add(add(t, x, cal), y, cal) == add(t, x + y, cal)


@PROPERTY
@given(calendars(working=False), instants, durations, durations)
def test_between_is_monotone_and_additive(cal, a, x, y):
    b, c = a + x, a + x + y
    assert between(a, b, cal) <= between(a, c, cal)
    assert between(a, c, cal) == between(a, b, cal) + between(b, c, cal)


@PROPERTY
@given(st.one_of(st.none(), calendars(working=False)),
       st.lists(st.tuples(instants, instants, st.booleans()), min_size=1, max_size=20))
def test_between_many_matches_between(cal, pairs):
    naive = [np.datetime64(t.replace(tzinfo=None), "us") for t, _, _ in pairs]
    starts = np.array(naive, dtype="datetime64[us]")
    ends = np.array([np.datetime64("NaT") if nat else np.datetime64(b.replace(tzinfo=None), "us")
                     for _, b, nat in pairs], dtype="datetime64[us]")
    result = between_many(starts, ends, cal)
    for (a, b, nat), value in zip(pairs, result):
        if nat:
            assert np.isnan(value)
        else:
            assert value == (between(a, b, cal) // US) / 3_600_000_000


ORACLE_ZONES = ["UTC", "America/Sao_Paulo", "Asia/Kolkata"]  # no DST after 2019


def _count_minutes(cal: Calendar, a: datetime, minutes: int) -> int:
    zone, count = ZoneInfo(cal.time_zone), 0
    for i in range(minutes):
        wall = (a + timedelta(minutes=i)).astimezone(zone)
        minute = wall.hour * 60 + wall.minute
        count += not cal.is_day_off(wall.date()) and any(
            s <= minute < e for s, e in cal.hours[wall.weekday()])
    return count


@settings(max_examples=25, deadline=None)
@given(calendars(working=False).filter(lambda c: c.time_zone in ORACLE_ZONES),
       st.datetimes(datetime(2020, 1, 1), datetime(2029, 12, 1)), st.integers(0, 6 * 1440))
def test_between_matches_minute_by_minute_count(cal, a, minutes):
    """An independent oracle where no DST gets in the way: walk the minutes, ask the
    local weekday, the day-off list and the intervals."""
    a = a.replace(second=0, microsecond=0, tzinfo=UTC)
    assert between(a, a + timedelta(minutes=minutes), cal) == timedelta(
        minutes=_count_minutes(cal, a, minutes))


@st.composite
def whole_hour_calendars(draw):
    """Intervals on whole hours never start or end strictly inside a repeated hour of
    these zones, where "the first occurrence" is a convention the oracle cannot know."""
    hours = tuple(tuple((a * 60, b * 60) for a, b in zip(cuts[::2], cuts[1::2]))
                  for cuts in (sorted(draw(st.sets(st.integers(0, 24), max_size=6)))
                               for _ in WEEKDAYS))
    return Calendar(draw(st.sampled_from(ZONES[:4])), hours, national_holidays=False)


@settings(max_examples=25, deadline=None)
@given(whole_hour_calendars(), st.sampled_from(HOTSPOTS[:8]), st.integers(-2 * 1440, 0),
       st.integers(0, 4 * 1440))
def test_dst_days_match_minute_by_minute_count(cal, spot, offset, minutes):
    """The same oracle on the days the clocks change, in zones that change them."""
    a = (spot + timedelta(minutes=offset)).replace(tzinfo=UTC)
    assert between(a, a + timedelta(minutes=minutes), cal) == timedelta(
        minutes=_count_minutes(cal, a, minutes))


# --- parsing ---

def test_parse_and_format_hours_round_trip():
    raw = {"mon": [["13:00", "18:00"], ["08:00", "12:00"]], "fri": [["00:00", "24:00"]],
           "sat": []}
    hours = parse_hours(raw)
    assert hours == (((480, 720), (780, 1080)), (), (), (), ((0, 1440),), (), ())
    assert format_hours(hours) == {
        "mon": [["08:00", "12:00"], ["13:00", "18:00"]], "tue": [], "wed": [], "thu": [],
        "fri": [["00:00", "24:00"]], "sat": [], "sun": []}
    assert parse_hours(format_hours(DEFAULT_HOURS)) == DEFAULT_HOURS
    assert format_hours(DEFAULT_HOURS)["mon"] == [["08:00", "18:00"]]
    assert parse_hours({"mon": [["08:00", "12:00"], ["12:00", "13:00"]]})[0] == (
        (480, 720), (720, 780))  # touching is not overlapping


@given(st.lists(day_hours(), min_size=7, max_size=7))
def test_format_hours_inverts_parse_hours(week):
    hours = tuple(week)
    assert parse_hours(format_hours(hours)) == hours


def _error(function, value) -> CalendarError:
    with pytest.raises(CalendarError) as error:
        function(value)
    return error.value


@pytest.mark.parametrize("value, field", [
    (None, "hours"), ([], "hours"), ("mon", "hours"), (5, "hours"),
    ({"monday": []}, "hours"), ({"mon": [], "xyz": []}, "hours"),
    ({"mon": "08:00-12:00"}, "hours.mon"), ({"tue": None}, "hours.tue"),
    ({"mon": {"08:00": "12:00"}}, "hours.mon"),
    ({"mon": ["08:00"]}, "hours.mon[0]"), ({"mon": [["08:00"]]}, "hours.mon[0]"),
    ({"mon": [["08:00", "12:00", "13:00"]]}, "hours.mon[0]"),
    ({"mon": [[["08:00"], "12:00"]]}, "hours.mon[0]"),
    ({"mon": [["08:00", "12:00"], None]}, "hours.mon[1]"),
    ({"sun": [["25:00", "26:00"]]}, "hours.sun[0]"),
    ({"mon": [["8:00", "12:00"]]}, "hours.mon[0]"),  # two digits required
    ({"mon": [["08:60", "12:00"]]}, "hours.mon[0]"),
    ({"mon": [["08:00", "24:01"]]}, "hours.mon[0]"),
    ({"mon": [["08:00:00", "12:00"]]}, "hours.mon[0]"),
    ({"mon": [["08:00", "12:00\n"]]}, "hours.mon[0]"),
    ({"mon": [["\x0008:00", "12:00"]]}, "hours.mon[0]"),
    ({"mon": [["٠٨:٠٠", "12:00"]]}, "hours.mon[0]"),
    ({"mon": [[800, 1200]]}, "hours.mon[0]"),
    ({"mon": [["08:00", "9" * 100_000]]}, "hours.mon[0]"),
    ({"mon": [["24:00", "24:00"]]}, "hours.mon[0]"),  # 24:00 only as an end
    ({"mon": [["12:00", "12:00"]]}, "hours.mon[0]"),
    ({"mon": [["12:00", "08:00"]]}, "hours.mon[0]"),
    ({"mon": [["08:00", "12:00"], ["11:00", "13:00"]]}, "hours.mon[1]"),
    ({"wed": [["08:00", "18:00"], ["09:00", "10:00"]]}, "hours.wed[1]"),
])
def test_parse_hours_rejects(value, field):
    error = _error(parse_hours, value)
    assert error.field == field and field in error.message


def test_parse_hours_messages():
    assert _error(parse_hours, {"mon": [["25:00", "26:00"]]}).message == (
        "Horário inválido em hours.mon[0]: use HH:MM entre 00:00 e 24:00.")
    assert "24:00" in _error(parse_hours, {"mon": [["24:00", "24:00"]]}).message
    assert isinstance(_error(parse_hours, None), ValueError)
    assert str(_error(parse_hours, None)) == _error(parse_hours, None).message


@pytest.mark.parametrize("value, expected", [
    ("SP", "SP"), ("rj", "RJ"), (" df ", "DF"), (None, None), ("", None), ("  ", None)])
def test_parse_subdivision(value, expected):
    assert parse_subdivision(value) == expected


@pytest.mark.parametrize("value", [
    "XX", "São Paulo Capital", "São Paulo", "S P", "SPP", "ſp", "BR", 5, ["SP"], {"uf": "SP"},
    "SP\x00", "S" * 100_000])
def test_parse_subdivision_rejects(value):
    error = _error(parse_subdivision, value)
    assert (error.field, error.message) == (
        "subdivision", "Estado desconhecido: use a sigla, como SP.")


def test_parse_holidays():
    assert parse_holidays([]) == ()
    assert parse_holidays([{"date": "2027-12-24", "name": " Véspera "},
                           {"date": "2027-02-08", "name": "x" * 100}]) == (
        (date(2027, 2, 8), "x" * 100), (date(2027, 12, 24), "Véspera"))


GOOD = {"date": "2027-01-02", "name": "Folga"}


@pytest.mark.parametrize("value, field", [
    (None, "holidays"), ({}, "holidays"), ("2027-01-01", "holidays"), (5, "holidays"),
    ([GOOD, None], "holidays[1]"), ([GOOD, ["2027-01-01", "x"]], "holidays[1]"),
    ([{"date": "2027-01-01", "name": "x", "extra": 1}], "holidays[0]"),
    ([GOOD, {"date": "2027-02-30", "name": "x"}], "holidays[1].date"),
    ([{"date": "27-01-01", "name": "x"}], "holidays[0].date"),
    ([{"date": "20270101", "name": "x"}], "holidays[0].date"),
    ([{"date": "2027-1-1", "name": "x"}], "holidays[0].date"),
    ([{"date": "2027-01-01T00:00", "name": "x"}], "holidays[0].date"),
    ([{"date": "0000-01-01", "name": "x"}], "holidays[0].date"),
    ([{"date": 20270101, "name": "x"}], "holidays[0].date"),
    ([{"name": "x"}], "holidays[0].date"),
    ([GOOD, {"date": "2027-01-02", "name": "y"}], "holidays[1].date"),
    ([{"date": "2027-01-01"}], "holidays[0].name"),
    ([{"date": "2027-01-01", "name": "   "}], "holidays[0].name"),
    ([{"date": "2027-01-01", "name": "x" * 101}], "holidays[0].name"),
    ([{"date": "2027-01-01", "name": "a\x00b"}], "holidays[0].name"),
    ([{"date": "2027-01-01", "name": 5}], "holidays[0].name"),
    ([{"date": "2027-01-01", "name": "x" * 1_000_000}], "holidays[0].name"),
])
def test_parse_holidays_rejects(value, field):
    error = _error(parse_holidays, value)
    assert error.field == field and field in error.message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    | st.sampled_from(["08:00", "24:00", "2027-01-01", "SP", "mon", "date", "name"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(list(WEEKDAYS) + ["date", "name", "x"]) | st.text(),
                      inner, max_size=4),
    max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_parse_functions_raise_only_calendar_error(value):
    for function in (parse_hours, parse_subdivision, parse_holidays):
        try:
            function(value)
        except CalendarError as error:
            assert error.field and error.message
