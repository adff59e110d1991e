"""Every KPI of the Painel computed by hand on a small, deliberately tricky data set and
compared with dashboards/queries.py, on SQLite and PostgreSQL.

The traps: period boundaries in America/Sao_Paulo (UTC-3), a reopened ticket, a
cancelled one, unresolved tickets past due (one of them awaiting approval), a ticket
closed in the period but opened before it, surveys inside and outside the period, and
another account whose tickets sit on the same dates and must never count.
"""
import datetime as dt

import pytest

from app.security import ValidationError
from dashboards import queries
from dashboards.filters import Filters, build_filters

NOW = dt.datetime(2025, 4, 10, 12, 0)  # naive UTC, like the columns
MARCH = Filters(start=dt.date(2025, 3, 1), end=dt.date(2025, 3, 31))


def at(text: str) -> dt.datetime:
    """UTC time from 'MM-DD HH:MM' in 2025."""
    return dt.datetime.strptime("2025-" + text, "%Y-%m-%d %H:%M")


def add_ticket(world, *, dept="TI", service="Acesso", requester="requester",
               sector="Financeiro", assignee=None, priority="medium", status="open",
               opened, assumed=None, started=None, concluded=None, closed=None,
               cancelled=None, due, sla_met=None, reopen_count=0, survey=None):
    from app.extensions import db
    from app.models import Survey, Ticket

    ticket = Ticket(
        account_id=world.account_id, requester_id=world.users[requester],
        assignee_id=world.users[assignee] if assignee else None,
        department_id=world.departments[dept], service_id=world.services[service],
        sector_id=world.sectors[sector] if sector else None, priority=priority,
        status=status, description="teste", opened_at=at(opened),
        assumed_at=assumed and at(assumed), started_at=started and at(started),
        concluded_at=concluded and at(concluded), closed_at=closed and at(closed),
        cancelled_at=cancelled and at(cancelled), sla_due_at=at(due), sla_met=sla_met,
        reopen_count=reopen_count,
    )
    db.session.add(ticket)
    db.session.flush()
    if survey:
        score, filled = survey
        db.session.add(Survey(account_id=world.account_id, ticket_id=ticket.id, score=score,
                              filled_at=at(filled)))
    return ticket


def build_tickets(world) -> dict:
    t = {}
    t[1] = add_ticket(world, assignee="attendant", status="closed", opened="03-01 02:30",
                      assumed="03-01 04:00", started="03-01 05:00", concluded="03-01 09:00",
                      closed="03-02 10:00", due="03-01 10:30", sla_met=True,
                      survey=(5, "03-02 11:00"))
    t[2] = add_ticket(world, assignee="attendant2", status="closed", priority="high",
                      opened="03-01 03:00", assumed="03-01 04:00", started="03-01 05:00",
                      concluded="03-01 23:00", closed="03-03 11:00", due="03-01 11:00",
                      sla_met=False, reopen_count=1, survey=(3, "03-03 12:00"))
    t[3] = add_ticket(world, priority="urgent", opened="04-01 02:59", due="04-01 04:59")
    t[4] = add_ticket(world, assignee="attendant", status="in_progress", opened="04-01 03:00",
                      assumed="04-01 03:30", started="04-01 04:00", due="04-01 11:00")
    t[5] = add_ticket(world, sector=None, priority="low", status="cancelled",
                      opened="03-10 12:00", cancelled="03-10 13:00", due="03-10 20:00")
    t[6] = add_ticket(world, assignee="attendant", status="concluded", opened="03-20 12:00",
                      assumed="03-20 13:00", started="03-20 14:00", concluded="03-20 15:00",
                      due="03-20 20:00", reopen_count=2)
    t[7] = add_ticket(world, dept="RH", service="Férias", requester="requester2",
                      sector="Operações", assignee="attendant_other", status="closed",
                      opened="03-05 12:00", assumed="03-05 13:00", started="03-06 12:00",
                      concluded="03-07 12:00", closed="04-02 12:00", due="03-07 12:00",
                      sla_met=True, survey=(1, "04-02 13:00"))
    t[8] = add_ticket(world, sector="Operações", assignee="attendant", status="closed",
                      opened="02-10 12:00", assumed="02-10 13:00", started="02-10 14:00",
                      concluded="02-11 14:00", closed="03-05 12:00", due="02-11 20:00",
                      sla_met=True, survey=(2, "03-05 13:00"))
    t[9] = add_ticket(world, opened="04-10 10:00", due="04-10 15:00")
    return t


@pytest.fixture
def data(app, world, other_world):
    """The tricky set in account alfa, and the same shapes in account beta."""
    from app.extensions import db
    from app.tenancy import account_scope

    with app.app_context():
        with account_scope(other_world.account_id):
            build_tickets(other_world)
            add_ticket(other_world, opened="03-15 12:00", due="03-15 13:00")
            db.session.commit()
        with account_scope(world.account_id):
            tickets = {k: v.id for k, v in build_tickets(world).items()}
            db.session.commit()
        db.session.remove()
    return tickets


@pytest.fixture
def session(app):
    from app.extensions import db

    with app.app_context():
        yield db.session


def as_counts(frame) -> dict:
    return dict(zip(frame["name"], frame["count"]))


def test_summary_kpis_match_the_hand_computation(data, world, session):
    row = queries.summary(session, world.account_id, MARCH, now=NOW).iloc[0]
    assert row["open_backlog"] == 4            # tickets 3, 4, 6 (concluded), 9
    assert row["opened_in_period"] == 5        # 2 (00:00 local), 3 (23:59 local), 5, 6, 7
    assert row["mean_first_response_hours"] == pytest.approx((2.5 + 2 + 2 + 24) / 4)
    assert row["mean_handling_hours"] == pytest.approx((4 + 18 + 24) / 3)
    assert row["sla_met"] == 2                 # 1 and 8 (closed in March)
    assert row["sla_breached_closed"] == 1     # 2
    assert row["sla_breached_open"] == 3       # 3, 4 and 6 are past due; 9 is not yet
    assert row["sla_breached"] == 4
    assert row["sla_met_pct"] == pytest.approx(100 * 2 / 6)
    assert row["reopened_tickets"] == 2 and row["reopenings"] == 3


def test_groupings_count_tickets_opened_in_the_period(data, world, session):
    acc = world.account_id
    assert as_counts(queries.counts_by(session, acc, MARCH, "department")) == {"TI": 4, "RH": 1}
    assert as_counts(queries.counts_by(session, acc, MARCH, "service")) == {
        "Acesso": 4, "Férias": 1}
    priority = queries.counts_by(session, acc, MARCH, "priority")
    assert as_counts(priority) == {"Média": 2, "Alta": 1, "Urgente": 1, "Baixa": 1}
    assert priority.iloc[0]["id"] == "medium"
    attendants = queries.counts_by(session, acc, MARCH, "attendant")
    assert as_counts(attendants) == {"Sem atendente": 2, "Attendant2 alfa": 1,
                                     "Attendant alfa": 1, "Attendant_other alfa": 1}
    assert attendants.iloc[0]["id"] is None or str(attendants.iloc[0]["id"]) == "<NA>"
    assert as_counts(queries.counts_by(session, acc, MARCH, "sector")) == {
        "Financeiro": 3, "Operações": 1, "Sem setor": 1}
    assert as_counts(queries.counts_by(session, acc, MARCH, "requester")) == {
        "Requester alfa": 4, "Requester2 alfa": 1}
    top = queries.counts_by(session, acc, MARCH, "department", limit=1)
    assert list(top["name"]) == ["TI"]


def test_satisfaction_counts_surveys_filled_in_the_period(data, world, session):
    by_dept = queries.satisfaction_by(session, world.account_id, MARCH, "department")
    assert list(by_dept["name"]) == ["TI"]     # RH's survey was filled in April
    assert by_dept.iloc[0]["mean_score"] == pytest.approx(10 / 3)
    assert by_dept.iloc[0]["surveys"] == 3
    by_sector = queries.satisfaction_by(session, world.account_id, MARCH, "sector")
    assert {r["name"]: (r["mean_score"], r["surveys"]) for _, r in by_sector.iterrows()} == {
        "Financeiro": (4.0, 2), "Operações": (2.0, 1)}


def test_both_satisfaction_views_in_one_pass_agree(data, world, session):
    views = queries.satisfaction_views(session, world.account_id, MARCH)
    for dimension in ("department", "sector"):
        one = queries.satisfaction_by(session, world.account_id, MARCH, dimension)
        both = views[dimension]
        assert list(one["name"]) == list(both["name"])
        assert list(one["surveys"]) == list(both["surveys"])
        assert list(one["mean_score"]) == pytest.approx(list(both["mean_score"]))


def test_step_times_mean_median_and_p90(data, world, session):
    steps = queries.step_times(session, world.account_id, MARCH).set_index("step")
    expected = {
        "open_assume": (4, 1.125, 1.0, 1.35),
        "assume_start": (4, 6.5, 1.0, 16.4),
        "start_conclude": (3, 46 / 3, 18.0, 22.8),
        "conclude_approve": (3, (25 + 36 + 526) / 3, 36.0, 428.0),
    }
    for step, (n, mean, median, p90) in expected.items():
        row = steps.loc[step]
        assert row["tickets"] == n, step
        assert row["mean"] == pytest.approx(mean), step
        assert row["median"] == pytest.approx(median), step
        assert row["p90"] == pytest.approx(p90), step
    assert steps.loc["start_conclude", "mean"] == pytest.approx(
        queries.summary(session, world.account_id, MARCH, now=NOW).iloc[0]["mean_handling_hours"])


def test_step_times_of_an_empty_period_are_empty_not_errors(data, world, session):
    empty = Filters(start=dt.date(2020, 1, 1), end=dt.date(2020, 1, 2))
    steps = queries.step_times(session, world.account_id, empty)
    assert list(steps["tickets"]) == [0, 0, 0, 0]
    assert steps["mean"].isna().all()
    row = queries.summary(session, world.account_id, empty, now=NOW).iloc[0]
    assert row["opened_in_period"] == 0 and row["mean_handling_hours"] != row["mean_handling_hours"]


def test_filters_combine(data, world, session):
    acc = world.account_id
    ti_medium = MARCH.replace(department_ids=(world.departments["TI"],), priorities=("medium",))
    row = queries.summary(session, acc, ti_medium, now=NOW).iloc[0]
    assert row["opened_in_period"] == 1        # 6
    assert row["open_backlog"] == 3            # 4, 6, 9
    mine = MARCH.replace(attendant_ids=(world.users["attendant"],))
    row = queries.summary(session, acc, mine, now=NOW).iloc[0]
    assert row["sla_met"] == 2 and row["sla_breached"] == 2   # closed 1, 8; open 4, 6
    ops = MARCH.replace(sector_ids=(world.sectors["Operações"],))
    assert queries.satisfaction_by(session, acc, ops, "department").iloc[0]["surveys"] == 1
    ferias = MARCH.replace(service_ids=(world.services["Férias"],))
    assert as_counts(queries.counts_by(session, acc, ferias, "requester")) == {
        "Requester2 alfa": 1}


def test_at_risk_lists_unresolved_tickets_due_soon(data, world, session):
    frame, total = queries.tickets_at_risk(session, world.account_id, MARCH, hours=8, now=NOW)
    assert total == 1 and list(frame["id"]) == [data[9]]
    assert frame.iloc[0]["hours_left"] == pytest.approx(3)
    _, total = queries.tickets_at_risk(session, world.account_id, MARCH, hours=2, now=NOW)
    assert total == 0


def test_drill_down_pages_newest_first(data, world, session):
    frame, total = queries.ticket_page(session, world.account_id, MARCH, page=0, page_size=2)
    assert total == 5 and list(frame["id"]) == [data[3], data[6]]
    frame, _ = queries.ticket_page(session, world.account_id, MARCH, page=1, page_size=2)
    assert list(frame["id"]) == [data[5], data[7]]
    assert frame.iloc[0]["status_label"] == "Cancelado"
    assert frame.iloc[1]["service"] == "Férias" and frame.iloc[1]["attendant"] == \
        "Attendant_other alfa"
    frame, _ = queries.ticket_page(session, world.account_id, MARCH, page=0, page_size=10**6)
    assert len(frame) == 5
    export = queries.ticket_export(session, world.account_id, MARCH)
    assert list(export["id"]) == [data[i] for i in (3, 6, 5, 7, 2)]


def test_another_accounts_ids_are_refused_like_unknown_ones(data, world, other_world, session):
    with pytest.raises(ValidationError) as error:
        build_filters(session, world.account_id, "America/Sao_Paulo",
                      department_id=other_world.departments["TI"])
    assert error.value.field == "department_id"
    with pytest.raises(ValidationError) as unknown:
        build_filters(session, world.account_id, "America/Sao_Paulo", department_id=999999)
    assert unknown.value.message == error.value.message
    for field in ("service_id", "sector_id", "attendant_id"):
        source = {"service_id": other_world.services["Acesso"],
                  "sector_id": other_world.sectors["Financeiro"],
                  "attendant_id": other_world.users["attendant"]}[field]
        with pytest.raises(ValidationError) as error:
            build_filters(session, world.account_id, "America/Sao_Paulo", **{field: source})
        assert error.value.field == field


def test_the_other_account_sees_only_its_own(data, other_world, session):
    row = queries.summary(session, other_world.account_id, MARCH, now=NOW).iloc[0]
    assert row["opened_in_period"] == 6 and row["open_backlog"] == 5


def test_period_is_inclusive_local_days():
    utc = dt.timezone.utc
    low, high = Filters(start=dt.date(2025, 3, 1), end=dt.date(2025, 3, 31)).bounds()
    assert low == dt.datetime(2025, 3, 1, 3, 0, tzinfo=utc)
    assert high == dt.datetime(2025, 4, 1, 3, 0, tzinfo=utc)
    # Before 2019 São Paulo had daylight saving time: a summer day starts at 02:00 UTC.
    low, _ = Filters(start=dt.date(2018, 1, 15), end=dt.date(2018, 1, 15)).bounds()
    assert low == dt.datetime(2018, 1, 15, 2, 0, tzinfo=utc)


def test_postgres_session_time_zone_does_not_move_the_period(data, world, session, backend):
    """A server whose TimeZone is São Paulo still counts the same tickets."""
    if backend != "postgresql":
        return
    from sqlalchemy import text

    session.execute(text("SET TIME ZONE 'America/Sao_Paulo'"))
    try:
        row = queries.summary(session, world.account_id, MARCH, now=NOW).iloc[0]
        assert row["opened_in_period"] == 5 and row["sla_breached_open"] == 3
    finally:
        session.execute(text("RESET TIME ZONE"))


def test_waiting_tickets_are_backlog_and_late_only_if_late_when_they_stopped(
        data, world, session):
    """Two waiting rows on top of the set: one whose clock stopped before its due time
    (not late, though that time has passed by the wall clock), one that was already
    late when it stopped (late). Neither is ever at risk: their clocks do not run."""
    from app.extensions import db
    from app.tenancy import account_scope

    with account_scope(world.account_id):
        stopped = add_ticket(world, assignee="attendant", status="in_progress",
                             opened="04-08 12:00", assumed="04-08 12:30",
                             started="04-08 13:00", due="04-09 12:00")
        stopped.status, stopped.waiting_since = "waiting", at("04-09 10:00")
        late = add_ticket(world, assignee="attendant", status="in_progress",
                          opened="04-08 12:00", assumed="04-08 12:30",
                          started="04-08 13:00", due="04-09 08:00")
        late.status, late.waiting_since = "waiting", at("04-09 10:00")
        soon = add_ticket(world, assignee="attendant", status="in_progress",
                          opened="04-10 09:00", assumed="04-10 09:10",
                          started="04-10 09:20", due="04-10 13:00")
        soon.status, soon.waiting_since = "waiting", at("04-10 11:00")
        db.session.commit()
    row = queries.summary(session, world.account_id, MARCH, now=NOW).iloc[0]
    assert row["open_backlog"] == 4 + 3
    assert row["sla_breached_open"] == 3 + 1    # 3, 4, 6 and the one already late
    frame, total = queries.tickets_at_risk(session, world.account_id, MARCH, hours=8, now=NOW)
    assert total == 1 and list(frame["id"]) == [data[9]]   # not the waiting one due 13:00
    assert list(frame["clock"]) == ["24x7"]
