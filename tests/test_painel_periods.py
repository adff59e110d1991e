"""Periods of the Painel: the presets, the period before, the trend's buckets (pure),
and the KPI API answering any real period with the previous period beside it."""
import datetime as dt

import pytest

from dashboards import periods
from tests.test_painel_queries import data  # noqa: F401  (the hand-computed data set)

URL = "/api/v1/painel/kpis"
TODAY = dt.date(2026, 12, 1)


@pytest.mark.parametrize("code,expected", [
    ("hoje", ("2026-12-01", "2026-12-01")), ("7d", ("2026-11-25", "2026-12-01")),
    ("30d", ("2026-11-02", "2026-12-01")), ("este-mes", ("2026-12-01", "2026-12-01")),
    ("mes-passado", ("2026-11-01", "2026-11-30")), ("este-ano", ("2026-01-01", "2026-12-01")),
    ("inicio", ("2025-02-10", "2026-12-01")),
])
def test_presets(code, expected):
    start, end = periods.preset_range(code, TODAY, dt.date(2025, 2, 10))
    assert (start.isoformat(), end.isoformat()) == expected
    assert periods.matching_preset(start, end, TODAY, dt.date(2025, 2, 10)) in (code, "hoje")


def test_last_month_in_january_and_the_previous_period():
    assert periods.preset_range("mes-passado", dt.date(2027, 1, 15)) == (
        dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    assert periods.previous_period(dt.date(2026, 11, 1), dt.date(2026, 11, 30)) == (
        dt.date(2026, 10, 2), dt.date(2026, 10, 31))
    assert periods.previous_period(dt.date(1, 1, 1), dt.date(2026, 1, 1)) is None
    assert periods.matching_preset(dt.date(2026, 11, 3), dt.date(2026, 11, 9), TODAY) == \
        "personalizado"


def test_buckets_cut_to_the_period_and_granularity_by_length():
    weeks = periods.buckets(dt.date(2026, 11, 1), dt.date(2026, 11, 30), "week")
    assert weeks[0] == (dt.date(2026, 11, 1), dt.date(2026, 11, 1))   # a Sunday
    assert weeks[1] == (dt.date(2026, 11, 2), dt.date(2026, 11, 8))   # Monday to Sunday
    assert weeks[-1] == (dt.date(2026, 11, 30), dt.date(2026, 11, 30))
    assert sum((b - a).days + 1 for a, b in weeks) == 30
    assert periods.auto_granularity(dt.date(2026, 11, 1), dt.date(2026, 11, 30)) == "day"
    assert periods.auto_granularity(dt.date(2026, 1, 1), dt.date(2026, 12, 1)) == "week"
    assert periods.auto_granularity(dt.date(2020, 1, 1), dt.date(2026, 12, 1)) == "month"
    # a forced "Dia" over ten years would be 3,650 points: it becomes weeks, then months
    assert periods.fitted_granularity(dt.date(2016, 1, 1), dt.date(2026, 1, 1), "day") == \
        "month"
    assert periods.bucket_label(dt.date(2026, 11, 1), dt.date(2026, 11, 30), "month") == \
        "nov/2026"


@pytest.mark.parametrize("query", [
    "?start=1990-01-01&end=2025-01-01", "?start=0001-01-01&end=9999-12-31",
    "?start=2025-03-01&end=2035-03-01", "?start=2025-03-01&end=2025-03-01"])
def test_any_real_period_is_answered(api, world, data, query):  # noqa: F811
    response = api(world.users["manager"]).get(URL + query)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()["result"]
    if query.startswith("?start=0001"):
        assert body["opened_in_period"] == 9          # every ticket of the account
        assert body["previous_period"] is None
        assert body["trend"]["granularity"] == "month"  # from the first ticket to today
        assert sum(p["opened"] for p in body["trend"]["points"]) == 9


@pytest.mark.parametrize("query,field,words", [
    ("?start=2025-02-30&end=2025-03-31", "start", "30/02/2025 não é uma data"),
    ("?start=2025-03-01&end=2025-02-28", "end", "posterior à inicial"),
    ("?start=01/03/2025", "start", "AAAA-MM-DD"),
])
def test_bad_periods_are_portuguese_400s(api, world, query, field, words):
    response = api(world.users["manager"]).get(URL + query)
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == field and words in body["message"]


def test_march_against_the_31_days_before(api, world, data):  # noqa: F811
    body = api(world.users["manager"]).get(
        URL + "?start=2025-03-01&end=2025-03-31").get_json()["result"]
    previous = body["previous_period"]
    assert (previous["start"], previous["end"]) == ("2025-01-29", "2025-02-28")
    values = previous["values"]
    assert values["opened_in_period"] == 2          # 8 and 1 (23:30 on 28 Feb, local)
    assert values["open_backlog"] == 2              # 1 and 8 were open when March began
    assert values["sla_met"] == 0 and values["mean_handling_hours"] is None
    assert values["mean_first_response_hours"] == pytest.approx(2)   # 8: 12:00 -> 14:00
    assert previous["change"]["opened_in_period"] == 3
    assert previous["change"]["sla_met"] == 2
    assert previous["change"]["mean_handling_hours"] is None
    trend = body["trend"]
    assert trend["granularity"] == "day" and len(trend["points"]) == 31
    assert sum(p["opened"] for p in trend["points"]) == 5
    assert trend["points"][-1]["backlog"] == 3
    names = {a["name"]: a for a in body["attendants"]}
    assert names["Attendant alfa"]["concluded"] == 2
    assert {s["name"]: s["volume"] for s in body["services"]} == {"Acesso": 4, "Férias": 1}
    assert body["satisfaction"]["distribution"] == {"1": 0, "2": 1, "3": 1, "4": 0, "5": 1}
