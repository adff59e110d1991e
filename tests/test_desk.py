"""The attendant's desk: subjects, internal notes, release, reassignment and transfer.

Internal notes are tried through every path a requester has (page, API messages,
events, attachments, mail); transfers and reassignments with every bad id.
"""
import datetime as dt
import io

from sqlalchemy import func, select

from app.extensions import db
from app.models import Attachment, Member, OutboxMail, TicketEvent, TicketMessage, as_utc
from app.tenancy import account_scope
from tests.helpers import load_ticket, make_ticket
from tests.test_portals import png_bytes

NOTE = "Nota da equipe: o cliente já ligou duas vezes, verificar a fatura 4471."


def outbox(app, world):
    with app.app_context(), account_scope(world.account_id):
        rows = [(m.event, m.recipient_id, m.subject, m.body_text, m.body_html)
                for m in db.session.scalars(select(OutboxMail).order_by(OutboxMail.id))]
        db.session.remove()
    return rows


def history(app, world, ticket_id):
    with app.app_context(), account_scope(world.account_id):
        rows = [(e.type, e.note) for e in db.session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
            .order_by(TicketEvent.id))]
        db.session.remove()
    return rows


def note(api, world, ticket_id, who="attendant", body=NOTE, **extra):
    return api(world.users[who]).post(f"/api/v1/ticket/{ticket_id}/messages",
                                      json={"body": body, "internal": True, **extra})


# --- subject ---------------------------------------------------------------------------


def test_subject_defaults_to_the_first_line_and_can_be_typed(app, api, world):
    client = api(world.users["requester"])
    body = {"department_id": world.departments["TI"], "service_id": world.services["Acesso"],
            "priority": "low", "description": "\n   Impressora do 2º andar não imprime  \n"
                                              "Desde ontem."}
    response = client.post("/api/v1/ticket/", json=body)
    assert response.status_code == 201
    assert response.json["result"]["subject"] == "Impressora do 2º andar não imprime"
    typed = client.post("/api/v1/ticket/", json={**body, "subject": "  Toner   acabou "})
    assert typed.json["result"]["subject"] == "Toner acabou"
    long_line = client.post("/api/v1/ticket/", json={**body, "description": "x" * 500})
    assert long_line.json["result"]["subject"] == "x" * 120
    mails = [m for m in outbox(app, world) if m[0] == "ticket_opened"]
    assert any("Toner acabou" in subject for _, _, subject, _, _ in mails)


def test_bad_subjects_are_400_and_change_nothing(app, api, world):
    client = api(world.users["requester"])
    body = {"department_id": world.departments["TI"], "service_id": world.services["Acesso"],
            "priority": "low", "description": "Algo."}
    for bad in ("x" * 201, 42, ["a"], "a\x00b"):
        response = client.post("/api/v1/ticket/", json={**body, "subject": bad})
        assert response.status_code == 400 and response.json["field"] == "subject", bad
    assert client.get("/api/v1/ticket/").json["count"] == 0


def test_lists_name_tickets_by_subject(app, web, world):
    ticket_id = make_ticket(app, world, description="Monitor piscando na sala 3\nDetalhes.")
    page = web("alfa_attendant").get("/atendente/fila").get_data(as_text=True)
    row = page[page.index(f'data-ticket="{ticket_id}"'):]
    assert 'class="ticket-title">Monitor piscando na sala 3</a>' in row[:800]


# --- internal notes ----------------------------------------------------------------


def test_staff_write_internal_notes_and_the_requester_never_sees_them(app, api, web, world):
    ticket_id = make_ticket(app, world, "in_progress")
    for who in ("attendant2", "manager", "admin"):      # not the assignee: still allowed
        response = note(api, world, ticket_id, who, body=f"{NOTE} ({who})")
        assert response.status_code == 201, (who, response.json)
        assert response.json["result"]["internal"] is True
    api(world.users["attendant"]).post(f"/api/v1/ticket/{ticket_id}/messages",
                                       json={"body": "Resposta pública."})
    requester = api(world.users["requester"])
    messages = requester.get(f"/api/v1/ticket/{ticket_id}/messages").json
    assert messages["count"] == 1 and messages["result"][0]["body"] == "Resposta pública."
    events = requester.get(f"/api/v1/ticket/{ticket_id}/events").json["result"]
    assert all(NOTE not in (e["note"] or "") for e in events)
    assert all(e["type"] != "internal_note" for e in events)
    page = web("alfa_requester").get(f"/chamados/{ticket_id}").get_data(as_text=True)
    assert NOTE not in page and "Nota interna" not in page
    assert 'id="message-count">1<' in page
    staff = api(world.users["attendant"]).get(f"/api/v1/ticket/{ticket_id}/messages").json
    assert staff["count"] == 4 and sum(m["internal"] for m in staff["result"]) == 3
    staff_page = web("alfa_attendant").get(f"/chamados/{ticket_id}").get_data(as_text=True)
    assert NOTE in staff_page and "o solicitante não vê" in staff_page
    for _, _, subject, text, html in outbox(app, world):   # mailed to nobody, in any mail
        assert NOTE not in subject and NOTE not in text and NOTE not in html


def test_a_requester_cannot_write_an_internal_note(app, api, world):
    ticket_id = make_ticket(app, world, "in_progress")
    response = note(api, world, ticket_id, "requester")
    assert response.status_code == 403
    with app.app_context(), account_scope(world.account_id):
        assert db.session.scalar(select(func.count()).select_from(TicketMessage)) == 0
        db.session.remove()


def test_files_of_an_internal_note_are_as_private_as_the_note(app, api, web, world):
    ticket_id = make_ticket(app, world, "in_progress")
    client = api(world.users["attendant2"])
    response = client.client.post(
        f"/api/v1/ticket/{ticket_id}/messages",
        data={"body": NOTE, "internal": "true", "file": (io.BytesIO(png_bytes()), "fatura.png")},
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {client.token}"})
    assert response.status_code == 201, response.json
    attachment_id = response.json["result"]["attachments"][0]["id"]
    assert api(world.users["requester"]).get(
        f"/api/v1/attachment/{attachment_id}").status_code == 404
    requester_page = web("alfa_requester")
    assert requester_page.get(
        f"/chamados/{ticket_id}/anexos/{attachment_id}").status_code == 404
    assert api(world.users["attendant"]).get(
        f"/api/v1/attachment/{attachment_id}").status_code == 200
    with app.app_context(), account_scope(world.account_id):
        assert db.session.get(Attachment, attachment_id).message_id is not None
        db.session.remove()


def test_internal_notes_are_allowed_on_closed_tickets_and_validated(app, api, world):
    ticket_id = make_ticket(app, world, "closed")
    assert note(api, world, ticket_id).status_code == 201
    for bad in ("", "   ", "x\x00y", "x" * 20_001):
        response = note(api, world, ticket_id, body=bad)
        assert response.status_code == 400 and response.json["field"] == "body"
    response = api(world.users["attendant"]).post(
        f"/api/v1/ticket/{ticket_id}/messages", json={"body": "x", "internal": "sim"})
    assert response.status_code == 400 and response.json["field"] == "internal"


# --- release, reassign ---------------------------------------------------------------


def test_release_puts_the_ticket_back_in_the_queue(app, api, web, world):
    ticket_id = make_ticket(app, world, "in_progress")
    response = api(world.users["attendant"]).post(f"/api/v1/ticket/{ticket_id}/release")
    assert response.status_code == 200
    ticket = load_ticket(app, world, ticket_id)
    assert ticket["status"] == "open" and ticket["assignee_id"] is None
    queue = web("alfa_attendant2").get("/atendente/fila?aba=nao-atribuidos")
    assert f'data-ticket="{ticket_id}"' in queue.get_data(as_text=True)
    assert history(app, world, ticket_id)[-1][0] == "released"


def test_reassign_hands_the_ticket_to_a_colleague_and_mails_only_them(app, api, world):
    ticket_id = make_ticket(app, world, "waiting")
    before = len(outbox(app, world))
    response = api(world.users["attendant"]).post(
        f"/api/v1/ticket/{ticket_id}/reassign",
        json={"assignee_id": world.users["attendant2"], "note": "Você conhece esse ERP."})
    assert response.status_code == 200, response.json
    ticket = load_ticket(app, world, ticket_id)
    assert ticket["status"] == "waiting" and ticket["assignee_id"] == world.users["attendant2"]
    assert history(app, world, ticket_id)[-1] == (
        "reassigned", "De Attendant alfa para Attendant2 alfa. Você conhece esse ERP.")
    new = outbox(app, world)[before:]
    assert [(event, to) for event, to, *_ in new] == [
        ("ticket_reassigned", world.users["attendant2"])]
    # The administrator may reassign without being the assignee.
    response = api(world.users["admin"]).post(f"/api/v1/ticket/{ticket_id}/reassign",
                                              json={"assignee_id": world.users["attendant"]})
    assert response.status_code == 200


def test_reassign_to_anyone_but_another_attendant_of_the_department_is_400(
        app, api, world, other_world):
    ticket_id = make_ticket(app, world, "in_progress")
    with app.app_context(), account_scope(world.account_id):
        inactive = db.session.get(Member, world.users["attendant2"])
        db.session.remove()
    before = load_ticket(app, world, ticket_id)
    client = api(world.users["attendant"])
    for bad in (world.users["requester"], world.users["manager"], world.users["attendant_other"],
                world.users["attendant"], other_world.users["attendant"], 2**40, "x", None,
                True):
        response = client.post(f"/api/v1/ticket/{ticket_id}/reassign", json={"assignee_id": bad})
        assert response.status_code == 400, (bad, response.json)
        assert response.json["field"] == "assignee_id"
    assert load_ticket(app, world, ticket_id) == before
    assert inactive is not None


# --- transfer ------------------------------------------------------------------------


def test_transfer_moves_the_ticket_to_the_right_department(app, api, web, world):
    ticket_id = make_ticket(app, world, "in_progress")
    before = len(outbox(app, world))
    response = api(world.users["attendant"]).post(
        f"/api/v1/ticket/{ticket_id}/transfer",
        json={"department_id": world.departments["RH"], "service_id": world.services["Férias"],
              "reason": "Pedido de férias é com o RH."})
    assert response.status_code == 200, response.json
    ticket = load_ticket(app, world, ticket_id)
    assert (ticket["status"], ticket["assignee_id"]) == ("open", None)
    assert ticket["department_id"] == world.departments["RH"]
    # Recomputed from the opening time with the new service's 48 h target.
    assert as_utc(ticket["sla_due_at"]) == as_utc(ticket["opened_at"]) + dt.timedelta(hours=48)
    assert history(app, world, ticket_id)[-1] == (
        "transferred", "De TI / Acesso para RH / Férias. Pedido de férias é com o RH.")
    new = outbox(app, world)[before:]
    assert sorted((event, to) for event, to, *_ in new) == sorted([
        ("ticket_transferred", world.users["requester"]),
        ("ticket_transferred", world.users["attendant_other"])])
    # The old department's attendants lose it; the new one's see it.
    assert web("alfa_attendant").get(f"/chamados/{ticket_id}").status_code == 404
    assert api(world.users["attendant2"]).get(f"/api/v1/ticket/{ticket_id}").status_code == 404
    assert web("alfa_attendant_other").get(f"/chamados/{ticket_id}").status_code == 200


def test_transfer_of_a_waiting_ticket_counts_the_pause(app, api, world):
    ticket_id = make_ticket(app, world, "waiting")
    with app.app_context(), account_scope(world.account_id):
        from app.models import Ticket

        row = db.session.get(Ticket, ticket_id)
        row.waiting_since = as_utc(row.waiting_since) - dt.timedelta(hours=3)
        db.session.commit()
        db.session.remove()
    response = api(world.users["admin"]).post(
        f"/api/v1/ticket/{ticket_id}/transfer",
        json={"department_id": world.departments["RH"], "service_id": world.services["Férias"],
              "reason": "É do RH."})
    assert response.status_code == 200, response.json
    ticket = load_ticket(app, world, ticket_id)
    assert ticket["waiting_since"] is None and ticket["sla_paused_seconds"] >= 3 * 3600
    expected = as_utc(ticket["opened_at"]) + dt.timedelta(
        hours=48, seconds=ticket["sla_paused_seconds"])
    assert abs((as_utc(ticket["sla_due_at"]) - expected).total_seconds()) < 1e-3


def test_transfer_with_bad_ids_is_400_and_changes_nothing(app, api, world, other_world):
    ticket_id = make_ticket(app, world, "assumed")
    before = load_ticket(app, world, ticket_id)
    client = api(world.users["attendant"])
    cases = [
        ({"department_id": other_world.departments["RH"],
          "service_id": other_world.services["Férias"]}, "department_id"),
        ({"department_id": world.departments["RH"], "service_id": world.services["Acesso"]},
         "service_id"),
        ({"department_id": world.departments["TI"], "service_id": world.services["Acesso"]},
         "service_id"),
        ({"department_id": world.departments["RH"], "service_id": 2**40}, "service_id"),
        ({"department_id": "RH", "service_id": world.services["Férias"]}, "department_id"),
        ({"department_id": world.departments["RH"],
          "service_id": world.services["Férias"], "reason": ""}, "reason"),
    ]
    for body, field in cases:
        response = client.post(f"/api/v1/ticket/{ticket_id}/transfer",
                               json={"reason": "Motivo.", **body})
        assert response.status_code == 400, (body, response.json)
        assert response.json["field"] == field, (body, response.json)
    assert load_ticket(app, world, ticket_id) == before


def test_desk_moves_from_the_ticket_page(app, web, world):
    ticket_id = make_ticket(app, world, "in_progress")
    attendant = web("alfa_attendant")
    page = attendant.get(f"/chamados/{ticket_id}").get_data(as_text=True)
    assert 'id="form-transfer"' in page and 'id="form-reassign"' in page
    assert 'id="form-release"' in page and 'id="note-form"' in page
    bad = attendant.post(f"/chamados/{ticket_id}/acao/transfer",
                         data={"target": f"{world.departments['RH']}:{world.services['Acesso']}",
                               "note": "Vai para o RH."})
    assert bad.status_code == 400
    assert "Vai para o RH." in bad.get_data(as_text=True)       # what was typed stays
    done = attendant.post(f"/chamados/{ticket_id}/acao/transfer",
                          data={"target": f"{world.departments['RH']}:{world.services['Férias']}",
                                "note": "Vai para o RH."})
    assert done.status_code == 302 and done.headers["Location"].endswith("/atendente/fila")
    assert load_ticket(app, world, ticket_id)["department_id"] == world.departments["RH"]
