"""The Painel on the account calendar's clock ("horas úteis"), with data made by the real
workflow at fixed times, on SQLite and PostgreSQL (every test here takes ``app``).

The calendar is the default one: Monday to Friday 08:00-18:00 in São Paulo (UTC-3, no
daylight saving since 2019), national holidays on. November 2027: Monday the 15th is
Proclamação da República, so Friday the 12th to Tuesday the 16th spans a weekend and a
holiday. Every figure below is worked out by hand in the comments.
"""
import contextlib
import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from app import structure, workflow
from app.extensions import db
from app.models import Member, Service
from app.tenancy import account_scope
from dashboards import queries
from dashboards.filters import Filters
from tests.test_painel_guard import dash_post

SP = ZoneInfo("America/Sao_Paulo")
NOVEMBER = Filters(start=dt.date(2027, 11, 1), end=dt.date(2027, 11, 30))
URL = "/api/v1/painel/kpis?start=2027-11-01&end=2027-11-30"


def local(day: int, hour: int, minute: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2027, month, day, hour, minute, tzinfo=SP)


@contextlib.contextmanager
def scoped(app, world):
    with app.app_context(), account_scope(world.account_id):
        users = {k: db.session.get(Member, v) for k, v in world.users.items()}
        try:
            yield users
        finally:
            db.session.remove()


def business_clock(app, world, service="Acesso"):
    with scoped(app, world):
        structure.save_service(db.session.get(Service, world.services[service]),
                               {"sla_clock": "business"})


def ticket(app, world, opened, moves=(), *, service="Acesso", priority="medium"):
    """Open at ``opened`` and apply ``moves`` [(action, who, when)]; returns the id."""
    with scoped(app, world) as users:
        department = "TI" if service == "Acesso" else "RH"
        t = workflow.open_ticket(
            users["requester"], department_id=world.departments[department],
            service_id=world.services[service], priority=priority,
            description="Sem acesso ao sistema de compras.", now=opened)
        for action, who, when in moves:
            note = {"conclude": "Feito.", "reject": "Ainda não funciona.",
                    "wait": "Envie o print do erro, por favor."}.get(action)
            workflow.apply(t, action, users[who], note=note, now=when)
        return t.id


@pytest.fixture
def session(app):
    with app.app_context():
        yield db.session


@pytest.fixture
def across_the_holiday(app, world):
    """A (business-clock service, TI) and B (24x7 service, RH), both closed in November.

    A: opened Fri 12 16:00, assumed Fri 17:30, started Tue 16 09:00, concluded Wed 17
       10:30, rejected 11:00, concluded again 14:00, approved 17:00.
       working: assume 1.5 h; start 0.5 (Fri 17:30-18:00) + 1 (Tue 08-09) = 1.5 h;
       handling to the final conclusion 9 (Tue) + 6 (Wed 08-14) = 15 h; approve 3 h.
       elapsed: first response 89 h (Fri 16:00 -> Tue 09:00); handling 29 h.
    B: opened Sat 13 10:00, assumed Mon 15 (holiday) 11:00, started Tue 16 08:30,
       concluded Tue 12:00, approved Thu 18 09:00.
       working: assume 0; start 0.5 h; handling 3.5 h; approve 6 + 10 + 1 = 17 h.
       elapsed: first response 70.5 h; handling 3.5 h; approve 45 h.
    """
    business_clock(app, world)
    a = ticket(app, world, local(12, 16), [
        ("assume", "attendant", local(12, 17, 30)), ("start", "attendant", local(16, 9)),
        ("conclude", "attendant", local(17, 10, 30)), ("reject", "requester", local(17, 11)),
        ("conclude", "attendant", local(17, 14)), ("approve", "requester", local(17, 17))])
    b = ticket(app, world, local(13, 10), [
        ("assume", "attendant_other", local(15, 11)),
        ("start", "attendant_other", local(16, 8, 30)),
        ("conclude", "attendant_other", local(16, 12)),
        ("approve", "requester", local(18, 9))], service="Férias")
    return a, b


NOW = dt.datetime(2027, 11, 30, 12, tzinfo=dt.timezone.utc)


def test_first_response_and_handling_in_working_hours_across_weekend_and_holiday(
        across_the_holiday, world, session):
    business = queries.summary(session, world.account_id, NOVEMBER.replace(clock="business"),
                               now=NOW).iloc[0]
    assert business["mean_first_response_hours"] == pytest.approx((3.0 + 0.5) / 2)
    assert business["mean_handling_hours"] == pytest.approx((15 + 3.5) / 2)
    elapsed = queries.summary(session, world.account_id, NOVEMBER, now=NOW).iloc[0]
    assert elapsed["mean_first_response_hours"] == pytest.approx((89 + 70.5) / 2)
    assert elapsed["mean_handling_hours"] == pytest.approx((29 + 3.5) / 2)
    # The clock changes only the times; every count is the same.
    for column in ("open_backlog", "opened_in_period", "sla_met", "sla_breached",
                   "reopenings"):
        assert business[column] == elapsed[column], column


def test_step_times_read_the_working_hours_of_each_step(across_the_holiday, world, session):
    steps = queries.step_times(session, world.account_id,
                               NOVEMBER.replace(clock="business")).set_index("step")
    expected = {"open_assume": (1.5, 0.0), "assume_start": (1.5, 0.5),
                "start_conclude": (15.0, 3.5), "conclude_approve": (3.0, 17.0)}
    for step, (a, b) in expected.items():
        row = steps.loc[step]
        assert row["tickets"] == 2, step
        assert row["mean"] == pytest.approx((a + b) / 2), step
        assert row["median"] == pytest.approx((a + b) / 2), step
        assert row["p90"] == pytest.approx(min(a, b) + 0.9 * abs(a - b)), step
    elapsed = queries.step_times(session, world.account_id, NOVEMBER).set_index("step")
    assert elapsed.loc["conclude_approve", "mean"] == pytest.approx((3 + 45) / 2)
    business = queries.summary(session, world.account_id, NOVEMBER.replace(clock="business"),
                               now=NOW).iloc[0]
    assert steps.loc["start_conclude", "mean"] == pytest.approx(business["mean_handling_hours"])


def test_a_waiting_ticket_is_not_breached_while_its_clock_is_stopped(app, world, session):
    """Mon 8 Nov. W: due 17:00 (09:00 + 8 working hours), waiting since 12:00, so on
    Wednesday it is past its due time by the wall clock but not late: its clock stopped
    with 5 working hours left. L: urgent (2 h), due 11:00, waiting since 12:00: it was
    already late when it started waiting. R: urgent, due 11:00, still in progress."""
    business_clock(app, world)
    work = [("assume", "attendant", local(8, 9, 10)), ("start", "attendant", local(8, 9, 20))]
    w = ticket(app, world, local(8, 9), work + [("wait", "attendant", local(8, 12))])
    late = ticket(app, world, local(8, 9), work + [("wait", "attendant", local(8, 12))],
                  priority="urgent")
    ticket(app, world, local(8, 9), work, priority="urgent")
    wednesday = local(10, 12)
    row = queries.summary(session, world.account_id, NOVEMBER, now=wednesday).iloc[0]
    assert row["open_backlog"] == 3            # waiting tickets are still open
    assert row["sla_breached_open"] == 2       # L and R; W's clock stopped in time
    # Before W's wall-clock due time, only the two urgent ones are late.
    assert queries.summary(session, world.account_id, NOVEMBER, now=local(8, 16)
                           ).iloc[0]["sla_breached_open"] == 2
    # Not at risk either: its clock does not run.
    frame, total = queries.tickets_at_risk(session, world.account_id, NOVEMBER, hours=48,
                                           now=local(8, 12, 30))
    assert w not in list(frame["id"]) and total == 0
    page, _ = queries.ticket_page(session, world.account_id, NOVEMBER)
    labels = dict(zip(page["id"], page["status_label"]))
    assert labels[w] == labels[late] == "Aguardando solicitante"


def test_at_risk_ranks_by_time_left_on_each_tickets_own_clock(app, world, session):
    """Friday 5 Nov 17:30. B1 (business, opened Fri 10:30, due Mon 08:30): 1 working hour
    left (Fri 17:30-18:00 and Mon 08:00-08:30). B2 (business, opened Fri 11:30, due Mon
    09:30): 2 working hours left, though 64 elapsed hours away. D (24x7, 48 h, opened Wed
    20:30, due Fri 20:30): 3 hours left. Least time left first: B1, B2, D."""
    business_clock(app, world)
    b1 = ticket(app, world, local(5, 10, 30))
    b2 = ticket(app, world, local(5, 11, 30))
    d = ticket(app, world, local(3, 20, 30), service="Férias")
    friday = local(5, 17, 30)
    frame, total = queries.tickets_at_risk(session, world.account_id, NOVEMBER, hours=4,
                                           now=friday)
    assert list(frame["id"]) == [b1, b2, d] and total == 3
    assert list(frame["hours_left"]) == pytest.approx([1.0, 2.0, 3.0])
    assert list(frame["clock"]) == ["business", "business", "24x7"]
    # "Within the next 2 hours" on each ticket's own clock: B2's 2 working hours end
    # exactly at its due time, so only B1 is inside.
    frame, total = queries.tickets_at_risk(session, world.account_id, NOVEMBER, hours=2,
                                           now=friday)
    assert list(frame["id"]) == [b1] and total == 1
    # The limit keeps the least time left, whichever clock.
    frame, total = queries.tickets_at_risk(session, world.account_id, NOVEMBER, hours=4,
                                           now=friday, limit=2)
    assert list(frame["id"]) == [b1, b2] and total == 3


def test_api_takes_the_clock_and_refuses_anything_else(api, world, across_the_holiday):
    client = api(world.users["manager"])
    business = client.get(URL + "&clock=business")
    assert business.status_code == 200
    body = business.get_json()["result"]
    assert body["clock"] == "business"
    assert body["mean_first_response_hours"] == pytest.approx(1.75)
    assert body["mean_handling_hours"] == pytest.approx(9.25)
    default = client.get(URL).get_json()["result"]
    explicit = client.get(URL + "&clock=24x7").get_json()["result"]
    assert default["clock"] == explicit["clock"] == "24x7"
    assert default["mean_first_response_hours"] == pytest.approx(79.75)
    assert explicit["mean_first_response_hours"] == pytest.approx(79.75)
    for bad in ("&clock=uteis", "&clock=BUSINESS", "&clock=business&clock=24x7",
                "&clock=" + "x" * 500):
        response = client.get(URL + bad)
        assert response.status_code == 400, bad
        error = response.get_json()
        assert error["field"] == "clock"
        assert error["message"].startswith(("Relógio inválido", "Informe um único valor"))


def test_the_painel_switch_feeds_the_same_filters(web, world, across_the_holiday):
    client = web("alfa_manager")
    period = {"f-period.start_date": "2027-11-01", "f-period.end_date": "2027-11-30"}
    kpis = dash_post(client, "..kpi-backlog", {**period, "f-clock.value": "business"})
    cards = kpis.get_json()["response"]
    assert cards["kpi-first-response"]["children"] == "1,8 h"   # not "dias": working hours
    assert cards["kpi-handling"]["children"] == "9,2 h"
    assert "horas úteis" in cards["kpi-first-response-note"]["children"]
    assert "clock=business" in cards["export-csv"]["href"]
    elapsed = dash_post(client, "..kpi-backlog", {**period, "f-clock.value": "24x7"})
    cards = elapsed.get_json()["response"]
    assert cards["kpi-first-response"]["children"] == "3,3 dias"
    assert "horas corridas" in cards["kpi-first-response-note"]["children"]
    forged = dash_post(client, "..kpi-backlog", {**period, "f-clock.value": "lunar"})
    alert = json.dumps(forged.get_json()["response"]["painel-alert"], ensure_ascii=False)
    assert "Relógio inválido" in alert
    layout = json.dumps(client.get("/painel/_dash-layout").get_json(), ensure_ascii=False)
    assert '"id": "f-clock"' in layout and '"value": "24x7"' in layout
    assert '"label": "Horas corridas"' in layout and '"label": "Horas úteis"' in layout


def test_manager_switches_the_painel_to_working_hours_in_a_browser(app, world, page_for,
                                                                   backend):
    from app.generator import populate_account

    business_clock(app, world)
    with app.app_context():
        populate_account(world.account_id, n_tickets=800, months=1, seed=5)
    page = page_for("alfa_manager", bypass_csp=True)
    page.goto("/painel/")
    note = page.locator("#kpi-first-response-note")
    page.wait_for_selector("#kpi-first-response-note", state="attached", timeout=60000)
    page.wait_for_function("document.querySelector('#kpi-first-response-note')"
                           ".innerText.includes('horas corridas')", timeout=60000)
    assert page.locator("#f-clock input[value='24x7']").is_checked()
    elapsed = page.locator("#kpi-first-response").inner_text()
    page.click("#f-clock label:has-text('Horas úteis')")
    page.wait_for_function("document.querySelector('#kpi-first-response-note')"
                           ".innerText.includes('horas úteis')", timeout=60000)
    page.wait_for_load_state("networkidle")
    working = page.locator("#kpi-first-response").inner_text()
    assert working != elapsed
    assert "horas úteis" in note.inner_text()
    assert "horas úteis" in page.locator("#step-table").inner_text()
    assert "clock=business" in page.locator("#export-csv").get_attribute("href")
    from tests.conftest import screenshot

    screenshot(page, f"painel-horas-uteis-{backend}")
    # No callback still running when the database is emptied after the test.
    page.wait_for_load_state("networkidle")
    page.wait_for_function("document.querySelector('[data-dash-is-loading]') === null",
                           timeout=60000)
