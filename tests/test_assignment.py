"""Automatic assignment per department, attendants' availability ("Ausente"), and
canned replies ("respostas prontas")."""
import json
import re

from sqlalchemy import select

from app import structure
from app.extensions import db
from app.models import Department, Member, OutboxMail, Ticket, TicketEvent
from app.tenancy import account_scope
from tests.helpers import load_ticket, make_ticket
from tests.test_races import race


def set_rule(app, world, rule, department="TI"):
    with app.app_context(), account_scope(world.account_id):
        structure.save_department(db.session.get(Department, world.departments[department]),
                                  {"assignment": rule})
        db.session.remove()


def set_available(app, world, who, available):
    with app.app_context(), account_scope(world.account_id):
        db.session.get(Member, world.users[who]).available = available
        db.session.commit()
        db.session.remove()


def assignees(app, world, ids):
    return [load_ticket(app, world, i)["assignee_id"] for i in ids]


def test_round_robin_takes_turns_among_the_available(app, world):
    set_rule(app, world, "round_robin")
    a, b = world.users["attendant"], world.users["attendant2"]
    ids = [make_ticket(app, world) for _ in range(4)]
    assert assignees(app, world, ids) == [a, b, a, b]
    ticket = load_ticket(app, world, ids[0])
    assert ticket["status"] == "assumed" and ticket["assumed_at"] is not None
    with app.app_context(), account_scope(world.account_id):
        event = db.session.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == ids[0]).order_by(TicketEvent.id)).all()[-1]
        assert (event.type, event.actor_id) == ("assumed", None)
        assert "Atribuído automaticamente a Attendant alfa (rodízio)" in event.note
        mails = {(m.event, m.recipient_id): m.body_text for m in db.session.scalars(
            select(OutboxMail).where(OutboxMail.ticket_id == ids[0]))}
        db.session.remove()
    assert "foi atribuído a Attendant alfa" in mails[("ticket_assumed", world.users["requester"])]
    assert "atribuído a você automaticamente" in mails[("ticket_reassigned", a)]
    set_available(app, world, "attendant2", False)
    more = [make_ticket(app, world) for _ in range(2)]
    assert assignees(app, world, more) == [a, a]


def test_least_loaded_prefers_the_least_busy_and_then_takes_turns(app, world):
    busy = [make_ticket(app, world, "in_progress") for _ in range(2)]   # both for attendant
    assert set(assignees(app, world, busy)) == {world.users["attendant"]}
    set_rule(app, world, "least_loaded")
    ids = [make_ticket(app, world) for _ in range(4)]
    a, b = world.users["attendant"], world.users["attendant2"]
    assert assignees(app, world, ids) == [b, b, a, b]


def test_nobody_available_leaves_the_ticket_open_and_warns_the_admin(app, world, web):
    set_rule(app, world, "round_robin")
    set_available(app, world, "attendant", False)
    set_available(app, world, "attendant2", False)
    ticket_id = make_ticket(app, world)
    assert load_ticket(app, world, ticket_id)["status"] == "open"
    page = web("alfa_admin").get("/departmentview/list/").get_data(as_text=True)
    assert "Nenhum atendente disponível" in page
    with app.app_context(), account_scope(world.account_id):
        structure.save_department(db.session.get(Department, world.departments["RH"]),
                                  {"attendant_ids": []})
        db.session.remove()
    page = web("alfa_admin").get("/departmentview/list/").get_data(as_text=True)
    assert "Sem atendentes" in page


def test_a_transfer_into_an_automatic_department_is_assigned_there(app, api, world):
    set_rule(app, world, "round_robin", department="RH")
    ticket_id = make_ticket(app, world, "in_progress")
    response = api(world.users["attendant"]).post(
        f"/api/v1/ticket/{ticket_id}/transfer",
        json={"department_id": world.departments["RH"], "service_id": world.services["Férias"],
              "reason": "É do RH."})
    assert response.status_code == 200, response.json
    ticket = load_ticket(app, world, ticket_id)
    assert (ticket["status"], ticket["assignee_id"]) == ("assumed",
                                                         world.users["attendant_other"])


def test_two_tickets_opened_at_once_go_to_different_attendants(app, api, world):
    set_rule(app, world, "round_robin")
    body = {"department_id": world.departments["TI"], "service_id": world.services["Acesso"],
            "priority": "medium", "description": "Ao mesmo tempo."}
    for _ in range(10):
        results = race(api, [(world.users["requester"], "/api/v1/ticket/", body),
                             (world.users["requester2"], "/api/v1/ticket/", body)])
        assert [code for code, _ in results] == [201, 201], results
        chosen = {r["result"]["assignee_id"] for _, r in results}
        assert chosen == {world.users["attendant"], world.users["attendant2"]}, results


def test_attendants_set_only_their_own_availability(app, api, world):
    me = api(world.users["attendant"])
    url = f"/api/v1/member/{world.users['attendant']}"
    response = me.put(url, json={"available": False})
    assert response.status_code == 200 and response.json["result"]["available"] is False
    assert me.put(url, json={"available": "no"}).status_code == 400
    for body in ({"available": False, "first_name": "X"}, {"profiles": ["admin"]}):
        assert me.put(url, json=body).status_code == 403, body
    other = me.put(f"/api/v1/member/{world.users['attendant2']}", json={"available": False})
    assert other.status_code == 403
    assert api(world.users["requester"]).put(
        f"/api/v1/member/{world.users['requester']}", json={"available": False}
    ).status_code == 403
    with app.app_context(), account_scope(world.account_id):
        members = {m.id: m for m in db.session.scalars(select(Member))}
        assert members[world.users["attendant2"]].available is True
        assert members[world.users["attendant"]].first_name == "Attendant"
        db.session.remove()


def test_the_queue_switches_ausente_on_and_off(app, web, world):
    client = web("alfa_attendant")
    page = client.get("/atendente/fila").get_data(as_text=True)
    assert "Marcar como ausente" in page
    client.post("/atendente/disponibilidade", data={"available": "0"})
    page = client.get("/atendente/fila").get_data(as_text=True)
    assert 'id="availability-state"' in page and "Ausente" in page
    with app.app_context(), account_scope(world.account_id):
        assert db.session.get(Member, world.users["attendant"]).available is False
        db.session.remove()


# --- canned replies ----------------------------------------------------------------


def test_canned_replies_are_offered_by_department_with_placeholders_filled(
        app, api, web, world):
    admin = api(world.users["admin"])
    everyone = admin.post("/api/v1/canned-reply/", json={
        "title": "Senha", "body": "Olá, {solicitante}! Sobre o {chamado} ({servico}): "
                                  "redefina a senha em /senha. {0} {solicitante!r}\n{atendente}"})
    assert everyone.status_code == 201, everyone.json
    ti = admin.post("/api/v1/canned-reply/", json={
        "title": "VPN", "body": "Reinstale a VPN.", "department_id": world.departments["TI"]})
    rh = admin.post("/api/v1/canned-reply/", json={
        "title": "Férias", "body": "Prazo de 30 dias.", "department_id": world.departments["RH"]})
    assert ti.status_code == rh.status_code == 201
    titles = lambda who: sorted(r["title"] for r in api(world.users[who]).get(
        "/api/v1/canned-reply/").json["result"])
    assert titles("attendant") == ["Senha", "VPN"]
    assert titles("attendant_other") == ["Férias", "Senha"]
    assert api(world.users["requester"]).get("/api/v1/canned-reply/").status_code == 403
    assert api(world.users["attendant"]).post("/api/v1/canned-reply/", json={
        "title": "X", "body": "Y"}).status_code == 403
    ticket_id = make_ticket(app, world, "in_progress")
    page = web("alfa_attendant").get(f"/chamados/{ticket_id}").get_data(as_text=True)
    data = json.loads(re.search(r'id="canned-data">(.*?)</script>', page, re.S).group(1))
    assert [r["title"] for r in data] == ["Senha", "VPN"]
    assert data[0]["text"] == (f"Olá, Requester alfa! Sobre o #{ticket_id} (Acesso): redefina "
                               "a senha em /senha. {0} {solicitante!r}\nAttendant alfa")
    requester_page = web("alfa_requester").get(f"/chamados/{ticket_id}").get_data(as_text=True)
    assert 'id="canned-data"' not in requester_page and "Reinstale" not in requester_page


def test_bad_canned_replies_are_refused_and_change_nothing(app, api, world, other_world):
    admin = api(world.users["admin"])
    admin.post("/api/v1/canned-reply/", json={"title": "Senha", "body": "Texto."})
    cases = [({"title": "", "body": "x"}, "title", 400),
             ({"title": "Senha", "body": "x"}, "title", 409),
             ({"title": "Nova", "body": "  "}, "body", 400),
             ({"title": "Nova", "body": "x\x00"}, "body", 400),
             ({"title": "Nova", "body": "x", "department_id": other_world.departments["TI"]},
              "department_id", 400),
             ({"title": "Nova", "body": "x", "department_id": "TI"}, "department_id", 400)]
    for body, field, status in cases:
        response = admin.post("/api/v1/canned-reply/", json=body)
        assert (response.status_code, response.json.get("field")) == (status, field), body
    assert admin.get("/api/v1/canned-reply/").json["count"] == 1
    assert api(other_world.users["admin"]).get("/api/v1/canned-reply/").json["count"] == 0


def test_department_assignment_is_validated(app, api, world):
    url = f"/api/v1/department/{world.departments['TI']}"
    admin = api(world.users["admin"])
    for bad in ("auto", 1, None, ["round_robin"]):
        response = admin.put(url, json={"assignment": bad})
        assert response.status_code == 400 and response.json["field"] == "assignment"
    assert admin.put(url, json={"assignment": "least_loaded"}).json["result"][
        "assignment"] == "least_loaded"
    with app.app_context(), account_scope(world.account_id):
        assert db.session.scalar(select(Ticket.id)) is None
        db.session.remove()
