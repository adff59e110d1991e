"""Painel reports by mail (app/reports.py): the schedule in the account's time zone,
one mail per period across concurrent job runs, the KPI API's numbers in the mail and
its XLSX, the outbox surviving an SMTP outage, and the API/screen refusing bad input
and other profiles in Portuguese with nothing saved."""
import datetime as dt
import io
import json
import threading
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select, update

from app import reports
from app.extensions import db
from app.models import Account, Member, ReportSubscription
from app.tenancy import UNSCOPED, account_scope
from tests.smtp_server import drain, later, outbox, smtp  # noqa: F401
from tests.test_painel_queries import add_ticket, data  # noqa: F401

UTC = dt.timezone.utc
API = "/api/v1/painel/report-subscription"
KPIS = "/api/v1/painel/kpis"
SP, MANAUS = "America/Sao_Paulo", "America/Manaus"


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# --- the schedule (pure) -------------------------------------------------------------


@pytest.mark.parametrize("zone,offset", [(SP, 3), (MANAUS, 4)])
def test_weekly_runs_at_the_chosen_local_hour(zone, offset):
    monday = dt.date(2026, 11, 30)
    first = reports.next_run_after("weekly", 0, None, 8, zone, utc(2026, 11, 30, 0, 0))
    assert first == utc(2026, 11, 30, 8 + offset)
    assert first.astimezone(ZoneInfo(zone)).hour == 8
    assert first.astimezone(ZoneInfo(zone)).date() == monday
    # exactly at the moment: the next one is a week later
    assert reports.next_run_after("weekly", 0, None, 8, zone, first) == first + dt.timedelta(7)
    # a Sunday 22:00 local run is Monday in UTC, still the local Sunday
    late = reports.next_run_after("weekly", 6, None, 22, zone, utc(2026, 11, 30, 12))
    assert late.astimezone(ZoneInfo(zone)).date() == dt.date(2026, 12, 6)
    assert late == utc(2026, 12, 7, 22 + offset - 24)


@pytest.mark.parametrize("zone,offset", [(SP, 3), (MANAUS, 4)])
def test_monthly_day_31_runs_on_each_months_last_day(zone, offset):
    # 1 January 00:00 UTC is still 31 December locally: that evening's run comes first
    first = reports.next_run_after("monthly", None, 31, 23, zone, utc(2026, 1, 1))
    assert first.astimezone(ZoneInfo(zone)).date() == dt.date(2025, 12, 31)
    moment, days = utc(2026, 1, 1, 12), []
    for _ in range(13):
        moment = reports.next_run_after("monthly", None, 31, 23, zone, moment)
        local = moment.astimezone(ZoneInfo(zone))
        assert local.hour == 23
        days.append(local.date())
    assert days[:5] == [dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31),
                        dt.date(2026, 4, 30), dt.date(2026, 5, 31)]
    assert days[-1] == dt.date(2027, 1, 31)
    # 23:00 local on 31 January is 1 February in UTC
    assert days[0] and reports.next_run_after("monthly", None, 31, 23, zone,
                                              utc(2026, 1, 31, 12)) == utc(2026, 2, 1,
                                                                           23 + offset - 24)
    leap = reports.next_run_after("monthly", None, 30, 9, zone, utc(2028, 2, 2))
    assert leap.astimezone(ZoneInfo(zone)).date() == dt.date(2028, 2, 29)


def test_the_period_is_the_one_just_ended():
    assert reports.report_period("weekly", dt.date(2026, 12, 1)) == (
        dt.date(2026, 11, 23), dt.date(2026, 11, 29))
    assert reports.report_period("weekly", dt.date(2026, 11, 30)) == (
        dt.date(2026, 11, 23), dt.date(2026, 11, 29))
    assert reports.report_period("weekly", dt.date(2026, 12, 6)) == (
        dt.date(2026, 11, 23), dt.date(2026, 11, 29))
    assert reports.report_period("monthly", dt.date(2026, 3, 1)) == (
        dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert reports.report_period("monthly", dt.date(2026, 1, 15)) == (
        dt.date(2025, 12, 1), dt.date(2025, 12, 31))


# --- helpers -------------------------------------------------------------------------


def subscribe(app, world, who="manager", now=None, **body):
    """A subscription created through the use case (as the API does), at ``now``."""
    body.setdefault("frequency", "weekly")
    body.setdefault("hour", 8)
    if body["frequency"] == "weekly":
        body.setdefault("weekday", 0)
    with app.app_context(), account_scope(world.account_id):
        member = db.session.get(Member, world.users[who])
        account = db.session.get(Account, world.account_id)
        sub = reports.create_subscription(member, account, body, now=now)
        result = (sub.id, reports.as_utc(sub.next_run_at))
        db.session.remove()
    return result


def run(app, now):
    with app.app_context():
        return reports.run_due_reports(now)


def set_zone(app, world, zone):
    with app.app_context(), account_scope(world.account_id):
        db.session.get(Account, world.account_id).time_zone = zone
        db.session.commit()
        db.session.remove()


def report_mails(app):
    return [m for m in outbox(app) if m["event"] == "painel_report"]


def xlsx_of(message):
    parts = [p for p in message.iter_attachments()]
    assert len(parts) == 1
    assert parts[0].get_filename().endswith(".xlsx")
    return openpyxl.load_workbook(io.BytesIO(parts[0].get_content()), read_only=True)


def sheet_rows(book, name):
    return [list(r) for r in book[name].iter_rows(values_only=True)]


# --- the job -------------------------------------------------------------------------


def test_a_due_weekly_report_is_sent_once_by_two_job_runs_at_once(app, world, smtp):  # noqa: F811
    sub_id, due = subscribe(app, world, now=utc(2026, 11, 25))  # Monday 30/11 08:00
    assert due == utc(2026, 11, 30, 11)
    assert run(app, due - dt.timedelta(seconds=1))["queued"] == 0
    results, barrier = [], threading.Barrier(2)

    def worker():
        with app.app_context():
            barrier.wait()
            results.append(reports.run_due_reports(due + dt.timedelta(minutes=1)))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r["queued"] for r in results) == 1, results
    # the claim decided it, not the outbox key: the loser never built a duplicate
    assert sum(r["duplicate"] for r in results) == 0, results
    mails = report_mails(app)
    assert len(mails) == 1
    assert mails[0]["idempotency_key"] == f"report:{sub_id}:2026-11-23"
    # a stale claim (next_run_at put back, as a slow worker would see it) is harmless
    with app.app_context(), account_scope(UNSCOPED):
        db.session.execute(update(ReportSubscription).values(next_run_at=due))
        db.session.commit()
    assert run(app, due + dt.timedelta(minutes=2))["duplicate"] == 1
    assert drain(app)["sent"] == 1
    assert drain(app)["claimed"] == 0
    assert len(smtp.received()) == 1
    message = smtp.received()[0]["message"]
    assert smtp.received()[0]["rcpt_tos"] == ["manager@alfa.example"]
    assert "23/11/2026 a 29/11/2026" in message["Subject"]
    book = xlsx_of(message)
    assert book.sheetnames == ["Indicadores", "Comparação", "Chamados", "Atendentes",
                               "Serviços"]
    with app.app_context(), account_scope(UNSCOPED):
        sub = db.session.get(ReportSubscription, sub_id)
        assert reports.as_utc(sub.next_run_at) == utc(2026, 12, 7, 11)
        assert sub.last_period_start == dt.date(2026, 11, 23)
        db.session.remove()


def _text_value(body: str, label: str) -> str:
    line = next(li for li in body.splitlines() if li.startswith(label + ":"))
    return line[len(label) + 2:].split(" (anterior:")[0]


@pytest.mark.parametrize("filtered", [False, True])
def test_the_mail_has_the_kpi_apis_numbers_and_the_xlsx_its_rows(app, world, data,  # noqa: F811
                                                                  api, smtp, filtered):  # noqa: F811
    with app.app_context(), account_scope(world.account_id):  # February: the previous period
        add_ticket(world, opened="02-10 12:00", due="02-10 20:00", status="closed",
                   assignee="attendant", assumed="02-10 13:00", started="02-10 14:00",
                   concluded="02-10 18:00", closed="02-11 10:00", sla_met=True)
        add_ticket(world, dept="RH", service="Férias", opened="02-20 12:00",
                   due="02-22 12:00")
        db.session.commit()
        db.session.remove()
    filters = {"department_id": [world.departments["TI"]]} if filtered else {}
    sub_id, due = subscribe(app, world, now=utc(2025, 3, 20), frequency="monthly",
                            day_of_month=1, hour=7, filters=filters)
    assert due == utc(2025, 4, 1, 10)
    assert run(app, due)["queued"] == 1
    query = "?start=2025-03-01&end=2025-03-31"
    if filtered:
        query += f"&department_id={world.departments['TI']}"
    body = api(world.users["manager"]).get(KPIS + query).get_json()["result"]
    assert drain(app)["sent"] == 1
    message = smtp.received()[0]["message"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    previous = body["previous_period"]
    assert previous["start"] == "2025-01-29" and previous["end"] == "2025-02-28"
    for name, label in reports.KPI_LABELS.items():
        assert _text_value(text, label) == reports.number_text(body.get(name), name), name
        assert f'class="kpi-{name}"' in html
        line = next(li for li in text.splitlines() if li.startswith(label + ":"))
        assert f"anterior: {reports.number_text(previous['values'][name], name)};" in line
    assert "Departamento: TI" in text if filtered else "Filtros:" not in text
    book = xlsx_of(message)
    comparison = {r[0]: r[1:] for r in sheet_rows(book, "Comparação")[1:]}
    for name, label in reports.KPI_LABELS.items():
        value, prior, delta = comparison[label]
        assert value == pytest.approx(body[name]) if body[name] is not None else value is None
        assert prior == pytest.approx(previous["values"][name]) \
            if previous["values"][name] is not None else prior is None
        assert delta == pytest.approx(previous["change"][name]) \
            if previous["change"][name] is not None else delta is None
    tickets = sheet_rows(book, "Chamados")
    assert tickets[0][0] == "Chamado"
    assert len(tickets) - 1 == body["opened_in_period"]
    assert {r[5] for r in tickets[1:]} == ({"TI"} if filtered else {"TI", "RH"})
    indicators = dict((r[0], r[1]) for r in sheet_rows(book, "Indicadores")[1:])
    assert indicators["Abertos no período"] == body["opened_in_period"]


def test_smtp_down_the_report_waits_in_the_outbox_and_is_sent_later(app, world, smtp):  # noqa: F811
    _, due = subscribe(app, world, now=utc(2026, 11, 25))
    smtp.stop()
    assert run(app, due)["queued"] == 1
    assert drain(app)["sent"] == 0
    assert report_mails(app)[0]["status"] == "pending"
    smtp.start()
    assert drain(app, later(120))["sent"] == 1
    assert len(smtp.received()) == 1 and report_mails(app)[0]["status"] == "sent"
    assert xlsx_of(smtp.received()[0]["message"])


def test_the_account_zone_decides_the_hour_and_the_period(app, world):
    set_zone(app, world, MANAUS)
    # Sunday 22:00 in Manaus is Monday 02:00 UTC: the report is of the week ending that Sunday's
    # previous Sunday, the local calendar's, not UTC's
    sub_id, due = subscribe(app, world, now=utc(2026, 12, 1), weekday=6, hour=22)
    assert due == utc(2026, 12, 7, 2)
    assert run(app, due - dt.timedelta(minutes=1))["queued"] == 0
    assert run(app, due)["queued"] == 1
    assert report_mails(app)[0]["idempotency_key"] == f"report:{sub_id}:2026-11-23"


def test_a_job_down_for_weeks_sends_one_report_of_the_latest_period(app, world):
    sub_id, due = subscribe(app, world, now=utc(2026, 11, 1))  # Monday 02/11
    assert run(app, utc(2026, 11, 25))["queued"] == 1  # three runs missed
    assert [m["idempotency_key"] for m in report_mails(app)] == [f"report:{sub_id}:2026-11-16"]
    with app.app_context(), account_scope(UNSCOPED):
        assert reports.as_utc(db.session.get(ReportSubscription, sub_id).next_run_at) == \
            utc(2026, 11, 30, 11)
        db.session.remove()


def test_a_subscriber_who_loses_the_profile_or_is_deactivated_gets_nothing(app, world):
    from app import accounts

    sub_id, due = subscribe(app, world, now=utc(2026, 11, 25))
    with app.app_context(), account_scope(world.account_id):
        member = db.session.get(Member, world.users["manager"])
        admin = db.session.get(Member, world.users["admin"])
        accounts.update_member(member, {"profiles": ["requester"]}, admin)
        db.session.remove()
    assert run(app, due)["skipped"] == 1
    with app.app_context(), account_scope(world.account_id):
        sub = db.session.get(ReportSubscription, sub_id)
        assert "perfil" in sub.last_error
        member = db.session.get(Member, world.users["manager"])
        admin = db.session.get(Member, world.users["admin"])
        accounts.update_member(member, {"profiles": ["manager"], "active": False}, admin)
        db.session.remove()
    assert run(app, due + dt.timedelta(days=7))["skipped"] == 1
    assert report_mails(app) == []


def test_paused_reports_are_not_sent(app, world):
    sub_id, due = subscribe(app, world, now=utc(2026, 11, 25))
    with app.app_context(), account_scope(world.account_id):
        sub = db.session.get(ReportSubscription, sub_id)
        reports.set_active(sub, db.session.get(Account, world.account_id), False)
        db.session.remove()
    assert run(app, due)["queued"] == 0 and report_mails(app) == []


# --- API -----------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["requester", "attendant"])
def test_other_profiles_cannot_subscribe(api, world, profile):
    client = api(world.users[profile])
    assert client.get(API + "/").status_code == 403
    assert client.post(API + "/", json={"frequency": "weekly", "weekday": 0,
                                        "hour": 8}).status_code == 403
    assert api(None).get(API + "/").status_code == 401


def _count(app):
    with app.app_context(), account_scope(UNSCOPED):
        n = len(db.session.scalars(select(ReportSubscription)).all())
        db.session.remove()
    return n


@pytest.mark.parametrize("body,field", [
    ({"frequency": "daily", "hour": 8}, "frequency"),
    ({"frequency": "weekly", "weekday": 7, "hour": 8}, "weekday"),
    ({"frequency": "weekly", "weekday": "seg", "hour": 8}, "weekday"),
    ({"frequency": "weekly", "weekday": True, "hour": 8}, "weekday"),
    ({"frequency": "monthly", "day_of_month": 0, "hour": 8}, "day_of_month"),
    ({"frequency": "monthly", "day_of_month": 32, "hour": 8}, "day_of_month"),
    ({"frequency": "weekly", "weekday": 1, "hour": 24}, "hour"),
    ({"frequency": "weekly", "weekday": 1, "hour": 8.5}, "hour"),
    ({"frequency": "weekly", "weekday": 1}, "hour"),
    ({"frequency": "weekly", "weekday": 1, "hour": 8, "filters": []}, "filters"),
    ({"frequency": "weekly", "weekday": 1, "hour": 8, "filters": {"color": 1}}, "filters"),
    ({"frequency": "weekly", "weekday": 1, "hour": 8,
      "filters": {"priority": ["critical"]}}, "priority"),
    ({"frequency": "weekly", "weekday": 1, "hour": 8,
      "filters": {"department_id": [99999]}}, "department_id"),
    ({"frequency": "weekly", "weekday": 1, "hour": 8, "filters": {"clock": "lunar"}}, "clock"),
])
def test_bad_input_is_a_portuguese_400_and_nothing_is_saved(app, api, world, body, field):
    response = api(world.users["manager"]).post(API + "/", json=body)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["field"] == field
    assert response.get_json()["message"]
    assert _count(app) == 0


def test_manager_creates_lists_pauses_and_deletes_only_their_own(app, api, world,
                                                                  other_world):
    client = api(world.users["manager"])
    response = client.post(API + "/", json={
        "frequency": "monthly", "day_of_month": 31, "hour": 18,
        "filters": {"department_id": [world.departments["TI"]], "priority": ["high"]}})
    assert response.status_code == 201, response.get_json()
    created = response.get_json()["result"]
    assert created["filters"] == {"department_id": [world.departments["TI"]],
                                  "priority": ["high"]}
    assert created["schedule"] == "Todo mês, último dia, às 18:00 (mês anterior)"
    assert dt.datetime.fromisoformat(created["next_run_at"]).astimezone(
        ZoneInfo(SP)).hour == 18
    ident = created["id"]
    assert [r["id"] for r in client.get(API + "/").get_json()["result"]] == [ident]
    # another department's id of the other account: like an unknown one
    other = client.post(API + "/", json={"frequency": "weekly", "weekday": 0, "hour": 8,
                                         "filters": {"department_id": [
                                             other_world.departments["TI"]]}})
    assert other.status_code == 400 and other.get_json()["field"] == "department_id"
    # the account's administrator and the other account's manager don't see it
    for stranger in (world.users["admin"], other_world.users["manager"]):
        assert api(stranger).get(API + "/").get_json()["result"] == []
        assert api(stranger).delete(f"{API}/{ident}").status_code == 404
        assert api(stranger).put(f"{API}/{ident}", json={"active": False}).status_code == 404
    assert client.put(f"{API}/{ident}", json={"active": "no"}).status_code == 400
    paused = client.put(f"{API}/{ident}", json={"active": False}).get_json()["result"]
    assert paused["active"] is False
    assert client.delete(f"{API}/{ident}").status_code == 200
    assert _count(app) == 0


# --- screen --------------------------------------------------------------------------


def test_the_screen_subscribes_refuses_bad_input_and_is_for_managers(app, web, world):
    client = web("alfa_manager")
    page = client.get("/conta/relatorios/")
    assert page.status_code == 200 and "Relatórios por e-mail" in page.get_data(as_text=True)
    bad = client.post("/conta/relatorios/criar", data={"frequency": "weekly", "weekday": "9",
                                                       "hour": "8"})
    assert bad.status_code == 400
    assert "Dia da semana inválido" in bad.get_data(as_text=True)
    assert _count(app) == 0
    ok = client.post("/conta/relatorios/criar", data={
        "frequency": "weekly", "weekday": "4", "hour": "17", "clock": "business",
        "department_id": str(world.departments["RH"])})
    assert ok.status_code == 302
    page = client.get("/conta/relatorios/").get_data(as_text=True)
    assert "Toda sexta-feira às 17:00" in page and "Departamento: RH" in page
    with app.app_context(), account_scope(UNSCOPED):
        sub = db.session.scalars(select(ReportSubscription)).one()
        assert json.loads(sub.filters) == {"clock": "business",
                                           "department_id": [world.departments["RH"]]}
        ident = sub.id
        db.session.remove()
    assert client.post(f"/conta/relatorios/{ident}/pausar").status_code == 302
    assert "Pausado" in client.get("/conta/relatorios/").get_data(as_text=True)
    assert client.post(f"/conta/relatorios/{ident}/excluir").status_code == 302
    assert _count(app) == 0
    assert "Relatórios por e-mail" in client.get("/").get_data(as_text=True)
    attendant = web("alfa_attendant")
    assert attendant.get("/conta/relatorios/").status_code == 403
    assert attendant.post("/conta/relatorios/criar", data={
        "frequency": "weekly", "weekday": "1", "hour": "8"}).status_code == 403
    assert _count(app) == 0


def test_names_are_text_in_the_mail_and_the_subject_one_line(app, world):
    from app import structure

    with app.app_context(), account_scope(world.account_id):
        dept = structure.save_department(None, {"name": '<script>alert(1)</script>'}).id
        account = db.session.get(Account, world.account_id)
        account.name = "Empresa\r\nBcc: x@evil.example"
        db.session.commit()
        db.session.remove()
    _, due = subscribe(app, world, now=utc(2026, 11, 25), filters={"department_id": [dept]})
    assert run(app, due)["queued"] == 1
    mail = report_mails(app)[0]
    assert "<script>" not in mail["body_html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mail["body_html"]
    assert "<script>alert(1)</script>" in mail["body_text"]
    assert "\n" not in mail["subject"] and "\r" not in mail["subject"]
