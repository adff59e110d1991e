"""Aguardando solicitante: the SLA clock stops while a ticket waits on its requester.

Times are fixed (the workflow takes ``now``) so every due time below is computed by
hand from the default calendar: Monday to Friday 08:00-18:00 in São Paulo, national
holidays on. March 2027 has no national holiday.
"""
import contextlib
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app import structure, workflow
from app.extensions import db
from app.models import Account, Member, OutboxMail, Service, Ticket, TicketEvent, as_utc
from app.tenancy import account_scope
from app.views.display import sla_state
from tests.helpers import load_ticket, make_ticket
from tests.test_races import race

SP = ZoneInfo("America/Sao_Paulo")


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SP)


@contextlib.contextmanager
def scoped(app, world):
    """An app context inside the world's account, with its members by profile."""
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


def open_at(app, world, when, *, service="Acesso", then=()):
    """Open a ticket at ``when`` and make the moves ``then`` [(action, who, at, note)]."""
    with scoped(app, world) as users:
        department = "TI" if service == "Acesso" else "RH"
        ticket = workflow.open_ticket(
            users["requester"], department_id=world.departments[department],
            service_id=world.services[service], priority="medium",
            description="A impressora do 2º andar não imprime.", now=when)
        for action, who, at, note in then:
            workflow.apply(ticket, action, users[who], note=note, now=at)
        return ticket.id


def events(app, world, ticket_id):
    with scoped(app, world):
        return [(e.type, e.actor_id, e.note) for e in db.session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
            .order_by(TicketEvent.id))]


def mails(app, world, event):
    with scoped(app, world):
        return [(m.recipient_id, m.body_text) for m in db.session.scalars(
            select(OutboxMail).where(OutboxMail.event == event).order_by(OutboxMail.id))]


WORKED = [("assume", "attendant", local(2027, 3, 8, 8, 30), None),
          ("start", "attendant", local(2027, 3, 8, 8, 45), None)]


def test_business_clock_due_skips_the_night_and_the_weekend(app, world):
    business_clock(app, world)
    # Friday 17:00 + 8 working hours: 1 h on Friday, 7 h on Monday.
    ticket_id = open_at(app, world, local(2027, 3, 5, 17, 0))
    due = as_utc(load_ticket(app, world, ticket_id)["sla_due_at"])
    assert due == local(2027, 3, 8, 15, 0)


def test_24x7_clock_is_the_default_and_counts_every_hour(app, world):
    ticket_id = open_at(app, world, local(2027, 3, 5, 17, 0))
    due = as_utc(load_ticket(app, world, ticket_id)["sla_due_at"])
    assert due == local(2027, 3, 6, 1, 0)


def test_wait_stops_the_clock_and_resume_moves_the_due_time_by_working_hours(app, world):
    business_clock(app, world)
    ticket_id = open_at(app, world, local(2027, 3, 5, 17, 0), then=WORKED + [
        ("wait", "attendant", local(2027, 3, 8, 9, 0), "Envie o comprovante em PDF."),
        ("resume", "attendant", local(2027, 3, 9, 9, 0), None)])
    ticket = load_ticket(app, world, ticket_id)
    # Waited Monday 09:00-18:00 and Tuesday 08:00-09:00: 10 working hours; the due
    # time (Monday 15:00) moves forward 10 working hours: Tuesday 15:00.
    assert ticket["status"] == "in_progress"
    assert ticket["sla_paused_seconds"] == 10 * 3600
    assert as_utc(ticket["sla_due_at"]) == local(2027, 3, 9, 15, 0)
    assert ticket["waiting_since"] is None
    history = events(app, world, ticket_id)
    assert [t for t, _, _ in history][-2:] == ["waiting", "resumed"]
    assert history[-2][2] == "Envie o comprovante em PDF."
    assert "10 h 00 min" in history[-1][2] and "09/03/2027 15:00" in history[-1][2]


def test_pauses_add_up_and_a_pause_over_a_weekend_and_holiday_costs_only_working_hours(
        app, world):
    business_clock(app, world)
    # Opened Thursday 2027-04-15 09:00, 8 h target: due the same day 17:00. Waits
    # from 16:00 (1 h left) until Thursday 04-22 10:00: Friday 16th, Monday 19th,
    # Tuesday 20th and Thursday 22nd 08-10 count; Wednesday 21st is Tiradentes.
    ticket_id = open_at(app, world, local(2027, 4, 15, 9, 0), then=[
        ("assume", "attendant", local(2027, 4, 15, 9, 5), None),
        ("start", "attendant", local(2027, 4, 15, 9, 10), None),
        ("wait", "attendant", local(2027, 4, 15, 16, 0), "Qual o número de série?"),
        ("resume", "attendant", local(2027, 4, 22, 10, 0), None),
        ("wait", "attendant", local(2027, 4, 22, 10, 30), "E a foto da etiqueta?"),
        ("resume", "attendant", local(2027, 4, 22, 11, 0), None)])
    ticket = load_ticket(app, world, ticket_id)
    first = 2 + 3 * 10 + 2   # 15th 16-18, 16th/19th/20th, 22nd 08-10
    assert ticket["sla_paused_seconds"] == (first + 0.5) * 3600
    # 1 h was left when the first wait began: due 22nd 11:00, then +30 min: 11:30.
    assert as_utc(ticket["sla_due_at"]) == local(2027, 4, 22, 11, 30)


def test_pause_on_the_24x7_clock_is_exact_to_the_second(app, api, world):
    ticket_id = make_ticket(app, world, "in_progress")
    attendant = api(world.users["attendant"])
    response = attendant.post(f"/api/v1/ticket/{ticket_id}/wait",
                              json={"note": "Mande o print da tela."})
    assert response.status_code == 200, response.json
    assert response.json["result"]["status"] == "waiting"
    assert response.json["result"]["waiting_since"]
    before = load_ticket(app, world, ticket_id)
    # The wait began 2 h 13 min 7 s ago.
    with scoped(app, world):
        row = db.session.get(Ticket, ticket_id)
        row.waiting_since = as_utc(row.waiting_since) - dt.timedelta(hours=2, minutes=13,
                                                                     seconds=7)
        db.session.commit()
    waited_from = as_utc(load_ticket(app, world, ticket_id)["waiting_since"])
    response = attendant.post(f"/api/v1/ticket/{ticket_id}/resume")
    assert response.status_code == 200, response.json
    after = load_ticket(app, world, ticket_id)
    paused = (as_utc(after["updated_at"]) - waited_from).total_seconds()
    assert paused > 2 * 3600 + 13 * 60 + 7 - 1
    assert response.json["result"]["sla_paused_hours"] == pytest.approx(paused / 3600,
                                                                       abs=1e-9)
    assert (as_utc(after["sla_due_at"]) - as_utc(before["sla_due_at"])).total_seconds() \
        == pytest.approx(paused, abs=1e-6)


def test_wait_needs_a_note_and_changes_nothing_without_it(app, api, world):
    ticket_id = make_ticket(app, world, "in_progress")
    before = load_ticket(app, world, ticket_id)
    for body in ({}, {"note": "   "}, {"note": 42}, {"note": "x\x00y"}):
        response = api(world.users["attendant"]).post(f"/api/v1/ticket/{ticket_id}/wait",
                                                      json=body)
        assert response.status_code == 400, (body, response.json)
        assert response.json["field"] == "note"
    assert load_ticket(app, world, ticket_id) == before
    assert mails(app, world, "ticket_waiting") == []


def test_the_requester_is_mailed_the_attendants_question(app, api, world):
    ticket_id = make_ticket(app, world, "in_progress")
    api(world.users["attendant"]).post(f"/api/v1/ticket/{ticket_id}/wait",
                                       json={"note": "Envie o comprovante de pagamento."})
    sent = mails(app, world, "ticket_waiting")
    assert [r for r, _ in sent] == [world.users["requester"]]
    assert "Envie o comprovante de pagamento." in sent[0][1]
    assert "pausado" in sent[0][1]


def test_a_requesters_message_resumes_the_ticket(app, api, world):
    ticket_id = make_ticket(app, world, "waiting")
    response = api(world.users["requester"]).post(f"/api/v1/ticket/{ticket_id}/messages",
                                                  json={"body": "Segue o print."})
    assert response.status_code == 201, response.json
    ticket = load_ticket(app, world, ticket_id)
    assert ticket["status"] == "in_progress" and ticket["waiting_since"] is None
    assert ticket["sla_paused_seconds"] >= 0
    history = events(app, world, ticket_id)
    assert [(t, a) for t, a, _ in history][-2:] == [
        ("message", world.users["requester"]), ("resumed", world.users["requester"])]
    assert [r for r, _ in mails(app, world, "requester_message")] == [world.users["attendant"]]


def test_an_attendants_message_keeps_the_ticket_waiting(app, api, world):
    ticket_id = make_ticket(app, world, "waiting")
    response = api(world.users["attendant"]).post(f"/api/v1/ticket/{ticket_id}/messages",
                                                  json={"body": "Lembrete: falta o print."})
    assert response.status_code == 201, response.json
    assert load_ticket(app, world, ticket_id)["status"] == "waiting"


def test_unanswered_waits_are_cancelled_after_the_accounts_days(app, world, other_world):
    with app.app_context():
        db.session.get(Account, world.account_id).waiting_cancel_days = 3
        db.session.commit()
        db.session.remove()
    start = local(2027, 3, 1, 9, 0)
    wait = [("assume", "attendant", start, None), ("start", "attendant", start, None)]
    old = open_at(app, world, start, then=wait + [
        ("wait", "attendant", local(2027, 3, 1, 10, 0), "Envie o RG.")])
    recent = open_at(app, world, start, then=wait + [
        ("wait", "attendant", local(2027, 3, 3, 10, 0), "Envie o CPF.")])
    # The other account keeps the default 7 days: its 3.5-day wait stays.
    theirs = open_at(app, other_world, start, then=wait + [
        ("wait", "attendant", local(2027, 3, 1, 10, 0), "Envie o RG.")])
    with app.app_context():
        cancelled = workflow.cancel_unanswered_waiting(now=local(2027, 3, 4, 22, 0))
        db.session.remove()
    assert cancelled == 1
    assert load_ticket(app, world, old)["status"] == "cancelled"
    assert load_ticket(app, world, recent)["status"] == "waiting"
    assert load_ticket(app, other_world, theirs)["status"] == "waiting"
    kind, actor, note = events(app, world, old)[-1]
    assert (kind, actor) == ("auto_cancelled", None)
    assert note == "Cancelado automaticamente: o solicitante não respondeu em 3 dias."
    assert sorted(r for r, _ in mails(app, world, "ticket_cancelled")) == sorted(
        [world.users["requester"], world.users["attendant"]])


def test_a_requester_cancelling_a_waiting_ticket_mails_the_attendant(app, api, world):
    ticket_id = make_ticket(app, world, "waiting")
    response = api(world.users["requester"]).post(f"/api/v1/ticket/{ticket_id}/cancel",
                                                  json={"reason": "Resolvi sozinho."})
    assert response.status_code == 200, response.json
    assert load_ticket(app, world, ticket_id)["waiting_since"] is None
    sent = mails(app, world, "ticket_cancelled")
    assert [r for r, _ in sent] == [world.users["attendant"]]
    assert "Resolvi sozinho." in sent[0][1]


def test_requester_message_and_assignee_resume_at_once_resume_once(app, api, world):
    for _ in range(15):
        ticket_id = make_ticket(app, world, "waiting")
        results = race(api, [
            (world.users["requester"], f"/api/v1/ticket/{ticket_id}/messages",
             {"body": "Segue o comprovante."}),
            (world.users["attendant"], f"/api/v1/ticket/{ticket_id}/resume", {}),
        ])
        assert results[0][0] == 201, results          # the message is never lost
        assert results[1][0] in (200, 409), results
        ticket = load_ticket(app, world, ticket_id)
        assert ticket["status"] == "in_progress" and ticket["version"] == 5
        kinds = [t for t, _, _ in events(app, world, ticket_id)]
        assert kinds.count("resumed") == 1 and kinds.count("message") == 1


def test_sla_badge_of_a_waiting_ticket_is_paused_unless_it_was_already_late():
    class Row:
        status, opened_at = "waiting", local(2027, 3, 1, 8, 0)
        sla_due_at, concluded_at = local(2027, 3, 1, 16, 0), None

    on_time, late = Row(), Row()
    on_time.waiting_since = local(2027, 3, 1, 10, 0)
    late.waiting_since = local(2027, 3, 1, 17, 0)
    much_later = local(2027, 3, 20, 8, 0)
    assert sla_state(on_time, much_later) == "paused"
    assert sla_state(late, much_later) == "breached"


def test_the_requesters_list_puts_the_question_first(app, web, world):
    ticket_id = make_ticket(app, world, "waiting")
    make_ticket(app, world, "in_progress", description="Outro chamado sem pendência.")
    page = web("alfa_requester").get("/cliente/chamados").get_data(as_text=True)
    assert 'id="waiting-list"' in page
    block = page[page.index('id="waiting-list"'):page.index('id="ticket-table"')]
    assert f'data-ticket="{ticket_id}"' in block and "Envie o print do erro." in block
    assert page.count('data-ticket="') == 3    # the waiting one twice, the other once
    attendant_page = web("alfa_attendant").get("/atendente/meus?aba=aguardando")
    assert f'data-ticket="{ticket_id}"' in attendant_page.get_data(as_text=True)


def test_the_ticket_page_shows_the_question_and_the_paused_clock(app, web, world):
    ticket_id = make_ticket(app, world, "waiting")
    requester = web("alfa_requester").get(f"/chamados/{ticket_id}").get_data(as_text=True)
    assert "O atendente precisa de algo de você" in requester
    assert "Envie o print do erro." in requester and 'id="message-form"' in requester
    attendant = web("alfa_attendant").get(f"/chamados/{ticket_id}").get_data(as_text=True)
    assert "Aguardando o solicitante" in attendant and 'id="form-resume"' in attendant
    assert "Prazo pausado" in attendant


def test_account_setting_for_the_wait_limit_is_validated(app, api, world):
    admin = api(world.users["admin"])
    for bad in (0, 91, "7", True, None):
        response = admin.put("/api/v1/account", json={"settings": {"waiting_cancel_days": bad}})
        assert response.status_code == 400 and response.json["field"] == "waiting_cancel_days"
    response = admin.put("/api/v1/account", json={"settings": {"waiting_cancel_days": 10}})
    assert response.status_code == 200
    assert response.json["result"]["settings"]["waiting_cancel_days"] == 10


def test_service_clock_is_validated(app, api, world):
    admin = api(world.users["admin"])
    url = f"/api/v1/service/{world.services['Acesso']}"
    for bad in ("semanal", 1, None, ["business"]):
        response = admin.put(url, json={"sla_clock": bad})
        assert response.status_code == 400 and response.json["field"] == "sla_clock", bad
    assert admin.get(url).json["result"]["sla_clock"] == "24x7"
    response = admin.put(url, json={"sla_clock": "business"})
    assert response.status_code == 200 and response.json["result"]["sla_clock"] == "business"
