"""The Painel's trend, people and services tables and satisfaction figures, computed
by hand on the tricky data set of test_painel_queries.py, on SQLite and PostgreSQL.

March 2025 in São Paulo (UTC-3), by week (Monday first): 01-02, 03-09, 10-16, 17-23,
24-30 and 31, the first and last cut to the period. Ticket 1 was opened at 23:30 on
28 February local time and counts nowhere; ticket 3 at 23:59 on 31 March counts in the
last bucket.
"""
import datetime as dt

import pandas as pd
import pytest

from dashboards import queries
from tests.test_painel_queries import MARCH, NOW, data, session  # noqa: F401

NAN = float("nan")


def values(frame, column):
    return [None if v != v else v for v in frame[column].tolist()]


def test_weekly_trend_of_march(data, world, session):  # noqa: F811
    frame = queries.trend(session, world.account_id, MARCH, "week", now=NOW)
    assert [(a.isoformat(), b.isoformat()) for a, b in zip(frame["start"], frame["end"])] == [
        ("2025-03-01", "2025-03-02"), ("2025-03-03", "2025-03-09"),
        ("2025-03-10", "2025-03-16"), ("2025-03-17", "2025-03-23"),
        ("2025-03-24", "2025-03-30"), ("2025-03-31", "2025-03-31")]
    assert list(frame["opened"]) == [1, 1, 1, 1, 0, 1]     # 2 | 7 | 5 | 6 | - | 3
    assert list(frame["closed"]) == [1, 2, 0, 0, 0, 0]     # 1 | 2, 8
    assert list(frame["cancelled"]) == [0, 0, 1, 0, 0, 0]  # 5
    assert list(frame["breached"]) == [0, 1, 0, 1, 0, 0]   # 2 closed late | 6 late, open
    # 1 and 8 were open when March began; at its end 3, 6 and 7 are.
    assert list(frame["backlog"]) == [2, 1, 1, 2, 2, 3]


def test_daily_and_monthly_trend_agree_with_the_weeks(data, world, session):  # noqa: F811
    days = queries.trend(session, world.account_id, MARCH, "day", now=NOW)
    assert len(days) == 31 and days.iloc[0]["opened"] == 1 and days.iloc[30]["opened"] == 1
    assert days["opened"].sum() == 5 and days["closed"].sum() == 3
    assert days.iloc[-1]["backlog"] == 3
    quarter = MARCH.replace(start=dt.date(2025, 2, 1), end=dt.date(2025, 4, 30))
    months = queries.trend(session, world.account_id, quarter, "month", now=NOW)
    assert list(months["opened"]) == [2, 5, 2]             # 1, 8 | ... | 4, 9
    assert list(months["closed"]) == [0, 3, 1]
    # the last bucket is not over: its backlog is today's, the card's
    row = queries.summary(session, world.account_id, quarter, now=NOW).iloc[0]
    assert months.iloc[-1]["backlog"] == row["open_backlog"] == 4


def test_attendant_table(data, world, session):  # noqa: F811
    frame = queries.attendant_table(session, world.account_id, MARCH).set_index("name")
    assert set(frame.index) == {"Attendant alfa", "Attendant2 alfa", "Attendant_other alfa"}
    me = frame.loc["Attendant alfa"]
    assert (me["assumed"], me["concluded"]) == (2, 2)                 # 1, 6
    assert me["mean_first_response_hours"] == pytest.approx(2.25)     # 1, 6
    assert me["mean_handling_hours"] == pytest.approx(14)             # 1 (4 h), 8 (24 h)
    assert me["sla_met_pct"] == 100 and me["rejection_pct"] == 0
    assert me["first_time_right_pct"] == 100
    assert me["mean_score"] == pytest.approx(3.5) and me["surveys"] == 2
    two = frame.loc["Attendant2 alfa"]
    assert (two["assumed"], two["concluded"]) == (1, 1)
    assert two["mean_handling_hours"] == pytest.approx(18)
    assert two["sla_met_pct"] == 0 and two["rejection_pct"] == pytest.approx(50)
    assert two["first_time_right_pct"] == 0 and two["mean_score"] == 3
    other = frame.loc["Attendant_other alfa"]
    assert (other["assumed"], other["concluded"]) == (1, 1)           # 7
    assert other["mean_first_response_hours"] == pytest.approx(24)
    assert values(frame.loc[["Attendant_other alfa"]], "sla_met_pct") == [None]
    assert other["surveys"] == 0                                      # filled in April


def test_service_table_and_department_sla(data, world, session):  # noqa: F811
    frame = queries.service_table(session, world.account_id, MARCH).set_index("name")
    acesso, ferias = frame.loc["Acesso"], frame.loc["Férias"]
    assert (acesso["volume"], acesso["reopenings"]) == (4, 3)          # 2, 3, 5, 6
    assert acesso["mean_handling_hours"] == pytest.approx(46 / 3)      # 1, 2, 8
    assert acesso["sla_met_pct"] == pytest.approx(200 / 3)
    assert acesso["mean_score"] == pytest.approx(10 / 3) and acesso["surveys"] == 3
    assert (ferias["volume"], ferias["reopenings"], ferias["surveys"]) == (1, 0, 0)
    assert pd.isna(ferias["mean_handling_hours"])
    sla = queries.department_sla(session, world.account_id, MARCH).set_index("id")
    ti = sla.loc[world.departments["TI"]]
    assert (ti["met"], ti["judged"]) == (2, 3) and ti["sla_met_pct"] == pytest.approx(200 / 3)
    assert world.departments["RH"] not in sla.index


def test_satisfaction_overview_and_low_scores(data, world, session):  # noqa: F811
    overview = queries.satisfaction_overview(session, world.account_id, MARCH)
    assert overview["closed"] == 3 and overview["answered"] == 3       # 1, 2, 8
    assert overview["response_rate"] == 100
    assert overview["distribution"] == {1: 0, 2: 1, 3: 1, 4: 0, 5: 1}
    assert overview["mean_score"] == pytest.approx(10 / 3)
    low = queries.low_scores(session, world.account_id, MARCH)
    assert list(low["id"]) == [data[8]] and list(low["score"]) == [2]
    april = MARCH.replace(start=dt.date(2025, 4, 1), end=dt.date(2025, 4, 30))
    low = queries.low_scores(session, world.account_id, april)
    assert list(low["id"]) == [data[7]] and low.iloc[0]["department"] == "RH"
    assert queries.satisfaction_overview(session, world.account_id, april)[
        "response_rate"] == 100                                        # 7, closed 04-02


def test_filters_narrow_the_new_figures(data, world, session):  # noqa: F811
    mine = MARCH.replace(attendant_ids=(world.users["attendant2"],))
    frame = queries.trend(session, world.account_id, mine, "week", now=NOW)
    assert frame["opened"].sum() == 1 and list(frame["backlog"]) == [1, 0, 0, 0, 0, 0]
    table = queries.attendant_table(session, world.account_id, mine)
    assert list(table["name"]) == ["Attendant2 alfa"]
    rh = MARCH.replace(department_ids=(world.departments["RH"],))
    assert list(queries.service_table(session, world.account_id, rh)["name"]) == ["Férias"]


def test_first_day_is_the_first_ticket_in_local_time(data, world, session):  # noqa: F811
    assert queries.first_day(session, world.account_id, "America/Sao_Paulo") == \
        dt.date(2025, 2, 10)
