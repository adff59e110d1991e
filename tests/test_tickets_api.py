"""Tickets over REST: opening, reading, messages, files, history, survey, isolation."""
import datetime as dt
import io
import struct
import zlib

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Account, Attachment, Ticket, TicketMessage
from app.tenancy import UNSCOPED, account_scope
from tests.helpers import load_ticket, make_ticket


def png_bytes():
    raw = b"\x00\xff\x00\x00" * 1
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def count(app, model, account_id=None):
    with app.app_context(), account_scope(account_id or UNSCOPED):
        value = db.session.scalar(select(func.count()).select_from(model))
        db.session.remove()
    return value


def body(world, **kw):
    return {"department_id": world.departments["TI"], "service_id": world.services["Acesso"],
            "priority": "high", "description": "Sem acesso ao ERP desde ontem.", **kw}


def test_requester_opens_ticket_with_json(app, api, world):
    response = api(world.users["requester"]).post("/api/v1/ticket/", json=body(world))
    assert response.status_code == 201, response.json
    result = response.json["result"]
    assert result["status"] == "open" and result["requester_id"] == world.users["requester"]
    assert result["assignee_id"] is None and result["sla_met"] is None
    assert result["survey"] is None and result["attachments"] == []
    opened = dt.datetime.fromisoformat(result["opened_at"])
    due = dt.datetime.fromisoformat(result["sla_due_at"])
    assert opened.utcoffset() is not None
    assert due - opened == dt.timedelta(hours=8)


def test_urgent_priority_uses_its_own_sla(api, world):
    result = api(world.users["requester"]).post(
        "/api/v1/ticket/", json=body(world, priority="urgent")).json["result"]
    opened = dt.datetime.fromisoformat(result["opened_at"])
    assert dt.datetime.fromisoformat(result["sla_due_at"]) - opened == dt.timedelta(hours=2)


def test_requester_opens_ticket_with_a_file_multipart(app, api, world):
    client = api(world.users["requester"])
    data = {k: str(v) for k, v in body(world).items()}
    data["file"] = (io.BytesIO(png_bytes()), "../../print da tela.png")
    response = client.client.post("/api/v1/ticket/", data=data,
                                  content_type="multipart/form-data",
                                  headers={"Authorization": f"Bearer {client.token}"})
    assert response.status_code == 201, response.json
    files = response.json["result"]["attachments"]
    assert len(files) == 1 and files[0]["content_type"] == "image/png"
    assert files[0]["filename"] == "print da tela.png"
    download = client.get(f"/api/v1/attachment/{files[0]['id']}")
    assert download.status_code == 200 and download.data == png_bytes()
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download.headers["Content-Security-Policy"]


@pytest.mark.parametrize("change, field", [
    ({"description": ""}, "description"),
    ({"description": "   \n "}, "description"),
    ({"description": "x" * 20001}, "description"),
    ({"description": "nul\x00byte"}, "description"),
    ({"description": 42}, "description"),
    ({"priority": "critica"}, "priority"),
    ({"priority": None}, "priority"),
    ({"service_id": 999999}, "service_id"),
    ({"service_id": "abc"}, "service_id"),
    ({"department_id": 999999}, "department_id"),
    ({"department_id": None}, "department_id"),
])
def test_bad_ticket_is_400_with_field_and_writes_nothing(app, api, world, change, field):
    response = api(world.users["requester"]).post("/api/v1/ticket/", json=body(world, **change))
    assert response.status_code == 400, response.json
    assert response.json["field"] == field and response.json["message"]
    assert count(app, Ticket) == 0


def test_service_of_another_department_is_refused(app, api, world):
    response = api(world.users["requester"]).post(
        "/api/v1/ticket/", json=body(world, service_id=world.services["Férias"]))
    assert response.status_code == 400 and response.json["field"] == "service_id"
    assert count(app, Ticket) == 0


def test_department_or_service_of_another_account_is_400_and_reveals_nothing(app, api, world,
                                                                            other_world):
    client = api(world.users["requester"])
    r1 = client.post("/api/v1/ticket/", json=body(
        world, department_id=other_world.departments["TI"],
        service_id=other_world.services["Acesso"]))
    r2 = client.post("/api/v1/ticket/", json=body(world, department_id=999999))
    assert r1.status_code == r2.status_code == 400
    assert r1.json == r2.json


def test_mass_assignment_on_open_is_ignored(app, api, world):
    response = api(world.users["requester"]).post("/api/v1/ticket/", json=body(
        world, status="closed", assignee_id=world.users["attendant"],
        requester_id=world.users["requester2"], sla_met=True, reopen_count=9,
        opened_at="2020-01-01T00:00:00+00:00"))
    result = response.json["result"]
    assert result["status"] == "open" and result["assignee_id"] is None
    assert result["requester_id"] == world.users["requester"]
    assert result["reopen_count"] == 0 and result["sla_met"] is None
    assert result["opened_at"].startswith(str(dt.date.today().year))


def test_only_requesters_open_tickets(api, world):
    response = api(world.users["attendant"]).post("/api/v1/ticket/", json=body(world))
    assert response.status_code == 403


def test_expired_plan_blocks_opening_with_clear_message(app, api, world):
    with app.app_context():
        account = db.session.get(Account, world.account_id)
        account.plan_expires_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
        db.session.commit()
        db.session.remove()
    response = api(world.users["requester"]).post("/api/v1/ticket/", json=body(world))
    assert response.status_code == 403 and "plano" in response.json["message"].lower()
    assert count(app, Ticket) == 0


def test_lists_show_what_each_profile_may_see(app, api, world, other_world):
    mine = make_ticket(app, world)
    theirs = make_ticket(app, world, requester="requester2")
    rh = make_ticket(app, world, service="Férias")
    make_ticket(app, other_world)

    def ids(profile, query=""):
        return set(api(world.users[profile]).get(f"/api/v1/ticket/{query}").json["ids"])

    assert ids("requester") == {mine, rh}
    assert ids("requester2") == {theirs}
    assert ids("attendant") == {mine, theirs}
    assert ids("attendant_other") == {rh}
    assert ids("manager") == ids("admin") == {mine, theirs, rh}
    assert ids("manager", f"?department_id={world.departments['RH']}") == {rh}
    assert ids("manager", "?status=open&priority=medium") == {mine, theirs, rh}
    assert api(world.users["manager"]).get("/api/v1/ticket/?status=voando").status_code == 400


@pytest.mark.parametrize("intruder", ["requester2", "attendant_other"])
def test_invisible_ticket_is_404_on_every_path(app, api, world, intruder):
    ticket_id = make_ticket(app, world, "in_progress")
    client = api(world.users[intruder])
    assert client.get(f"/api/v1/ticket/{ticket_id}").status_code == 404
    assert client.get(f"/api/v1/ticket/{ticket_id}/messages").status_code == 404
    assert client.get(f"/api/v1/ticket/{ticket_id}/events").status_code == 404
    assert client.post(f"/api/v1/ticket/{ticket_id}/messages",
                       json={"body": "oi"}).status_code == 404


def test_another_accounts_ticket_and_file_are_404(app, api, world, other_world):
    client_other = api(other_world.users["requester"])
    data = {k: str(v) for k, v in body(other_world).items()}
    data["file"] = (io.BytesIO(png_bytes()), "x.png")
    created = client_other.client.post(
        "/api/v1/ticket/", data=data, content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {client_other.token}"}).json
    foreign_ticket = created["id"]
    foreign_file = created["result"]["attachments"][0]["id"]
    for profile in ("admin", "manager", "attendant", "requester"):
        client = api(world.users[profile])
        assert client.get(f"/api/v1/ticket/{foreign_ticket}").status_code == 404
        assert client.get(f"/api/v1/attachment/{foreign_file}").status_code == 404
        assert client.post(f"/api/v1/ticket/{foreign_ticket}/assume").status_code == 404
        assert foreign_ticket not in client.get("/api/v1/ticket/").json["ids"]


def test_conversation_with_files_and_history(app, api, world):
    ticket_id = make_ticket(app, world, "in_progress")
    attendant, requester = api(world.users["attendant"]), api(world.users["requester"])
    asked = attendant.post(f"/api/v1/ticket/{ticket_id}/messages",
                           json={"body": "Qual o seu usuário?"})
    assert asked.status_code == 201, asked.json
    answer = requester.client.post(
        f"/api/v1/ticket/{ticket_id}/messages",
        data={"body": "É o joao.silva", "file": (io.BytesIO(b"usuario;joao.silva\n"),
                                                 "dados.csv")},
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {requester.token}"})
    assert answer.status_code == 201, answer.json
    messages = requester.get(f"/api/v1/ticket/{ticket_id}/messages").json["result"]
    assert [m["body"] for m in messages] == ["Qual o seu usuário?", "É o joao.silva"]
    assert messages[1]["attachments"][0]["filename"] == "dados.csv"
    events = attendant.get(f"/api/v1/ticket/{ticket_id}/events").json["result"]
    assert [e["type"] for e in events] == ["opened", "assumed", "started", "message", "message"]
    assert events[1]["from_status"] == "open" and events[1]["to_status"] == "assumed"
    assert events[1]["actor_id"] == world.users["attendant"]
    # Files of messages are not the opening's files.
    assert requester.get(f"/api/v1/ticket/{ticket_id}").json["result"]["attachments"] == []


def test_message_rules(app, api, world):
    open_id = make_ticket(app, world, "open")
    assert api(world.users["attendant"]).post(f"/api/v1/ticket/{open_id}/messages",
                                              json={"body": "oi"}).status_code == 403
    in_progress = make_ticket(app, world, "in_progress")
    assert api(world.users["attendant2"]).post(f"/api/v1/ticket/{in_progress}/messages",
                                               json={"body": "oi"}).status_code == 403
    assert api(world.users["manager"]).post(f"/api/v1/ticket/{in_progress}/messages",
                                            json={"body": "oi"}).status_code == 403
    assert api(world.users["requester"]).post(f"/api/v1/ticket/{in_progress}/messages",
                                              json={"body": "  "}).status_code == 400
    closed = make_ticket(app, world, "closed")
    assert api(world.users["requester"]).post(f"/api/v1/ticket/{closed}/messages",
                                              json={"body": "oi"}).status_code == 409
    assert count(app, TicketMessage) == 0


def test_hostile_upload_is_refused_and_leaves_nothing(app, api, world):
    client = api(world.users["requester"])
    for name, content, status in [
        ("evil.pdf", b"MZ\x90\x00" + b"\x00" * 200, 415),
        ("page.txt", b"<html><script>alert(1)</script></html>", 415),
        ("vazio.png", b"", 400),
        ("x.svg", b"<svg onload=alert(1)></svg>", 415),
    ]:
        data = {k: str(v) for k, v in body(world).items()}
        data["file"] = (io.BytesIO(content), name)
        response = client.client.post("/api/v1/ticket/", data=data,
                                      content_type="multipart/form-data",
                                      headers={"Authorization": f"Bearer {client.token}"})
        assert response.status_code == status, (name, response.json)
        assert response.json["message"]
    assert count(app, Ticket) == 0 and count(app, Attachment) == 0
    import os

    assert [f for f in os.listdir(app.config["UPLOAD_FOLDER"]) if not f.startswith(".")] == []


def test_oversize_upload_is_413_and_leaves_nothing(app, api, world):
    client = api(world.users["requester"])
    data = {k: str(v) for k, v in body(world).items()}
    data["file"] = (io.BytesIO(b"a" * (app.config["MAX_UPLOAD_MB"] * 1024 * 1024 + 10)),
                    "grande.txt")
    response = client.client.post("/api/v1/ticket/", data=data,
                                  content_type="multipart/form-data",
                                  headers={"Authorization": f"Bearer {client.token}"})
    assert response.status_code == 413
    assert count(app, Ticket) == 0


def test_attachment_of_a_database_failure_is_removed_from_disk(app, api, world, monkeypatch):
    """A failure after the file was stored (the commit) leaves no file and no row."""
    import os

    from app.workflow import moves

    def broken(*args, **kwargs):
        raise RuntimeError("banco caiu")

    monkeypatch.setattr(moves, "_event", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    client = api(world.users["requester"])
    data = {k: str(v) for k, v in body(world).items()}
    data["file"] = (io.BytesIO(png_bytes()), "x.png")
    response = client.client.post("/api/v1/ticket/", data=data,
                                  content_type="multipart/form-data",
                                  headers={"Authorization": f"Bearer {client.token}"})
    assert response.status_code == 500
    assert count(app, Ticket) == 0 and count(app, Attachment) == 0
    assert [f for f in os.listdir(app.config["UPLOAD_FOLDER"]) if not f.startswith(".")] == []


def test_request_body_over_the_limit_is_413_in_portuguese(app, api, world):
    """Past MAX_CONTENT_LENGTH Werkzeug stops reading; the answer still names the limit."""
    client = api(world.users["requester"])
    data = {k: str(v) for k, v in body(world).items()}
    data["file"] = (io.BytesIO(b"a" * (app.config["MAX_CONTENT_LENGTH"] + 1)), "enorme.txt")
    response = client.client.post("/api/v1/ticket/", data=data,
                                  content_type="multipart/form-data",
                                  headers={"Authorization": f"Bearer {client.token}"})
    assert response.status_code == 413
    assert response.json == {"message": f"Arquivo maior que o limite de "
                                        f"{app.config['MAX_UPLOAD_MB']} MB."}
    assert count(app, Ticket) == 0


def test_thousands_of_form_parts_are_refused_and_change_nothing(app, api, web, world):
    """HOSTILE.md: thousands of multipart parts. Werkzeug stops at max_form_parts; the
    answer says what is wrong (not "file too large") and nothing is written."""
    data = {k: str(v) for k, v in body(world).items()}
    data.update({f"campo{n}": "x" for n in range(5000)})
    client = api(world.users["requester"])
    response = client.client.post("/api/v1/ticket/", data=data,
                                  content_type="multipart/form-data",
                                  headers={"Authorization": f"Bearer {client.token}"})
    assert response.status_code == 413
    assert response.json == {"message": "O formulário enviado tem campos demais."}
    page = web("alfa_requester").post("/cliente/abrir", data=data,
                                      content_type="multipart/form-data")
    assert page.status_code == 413
    assert "O formulário enviado tem campos demais." in page.get_data(as_text=True)
    assert count(app, Ticket) == 0 and count(app, Attachment) == 0


@pytest.mark.parametrize("score", [0, 6, -1, 3.5, "5", "cinco", True, None, []])
def test_bad_scores_are_400(app, api, world, score):
    ticket_id = make_ticket(app, world, "closed")
    response = api(world.users["requester"]).post(f"/api/v1/ticket/{ticket_id}/survey",
                                                  json={"score": score})
    assert response.status_code == 400 and response.json["field"] == "score"
    assert load_ticket(app, world, ticket_id)["status"] == "closed"


def test_survey_once_then_409(app, api, world):
    ticket_id = make_ticket(app, world, "closed")
    client = api(world.users["requester"])
    ok = client.post(f"/api/v1/ticket/{ticket_id}/survey", json={"score": 4,
                                                                   "comment": "Bom"})
    assert ok.status_code == 200
    assert ok.json["result"]["survey"]["score"] == 4
    again = client.post(f"/api/v1/ticket/{ticket_id}/survey", json={"score": 5})
    assert again.status_code == 409
    assert client.get(f"/api/v1/ticket/{ticket_id}").json["result"]["survey"]["score"] == 4


def test_reject_counts_a_reopening_and_returns_to_the_same_assignee(app, api, world):
    ticket_id = make_ticket(app, world, "concluded")
    requester = api(world.users["requester"])
    assert requester.post(f"/api/v1/ticket/{ticket_id}/reject", json={}).status_code == 400
    rejected = requester.post(f"/api/v1/ticket/{ticket_id}/reject",
                              json={"reason": "Continua sem acesso."}).json["result"]
    assert rejected["status"] == "in_progress" and rejected["reopen_count"] == 1
    assert rejected["assignee_id"] == world.users["attendant"]
    attendant = api(world.users["attendant"])
    assert attendant.post(f"/api/v1/ticket/{ticket_id}/conclude",
                          json={"note": "Agora sim."}).status_code == 200
    closed = requester.post(f"/api/v1/ticket/{ticket_id}/approve").json["result"]
    assert closed["status"] == "closed" and closed["sla_met"] is True
    events = attendant.get(f"/api/v1/ticket/{ticket_id}/events").json["result"]
    assert [e["type"] for e in events][-3:] == ["rejected", "concluded", "approved"]
    assert events[-3]["note"] == "Continua sem acesso."


def test_conclusion_after_due_time_breaches_sla(app, api, world):
    ticket_id = make_ticket(app, world, "in_progress")
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        ticket.sla_due_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
        db.session.commit()
        db.session.remove()
    api(world.users["attendant"]).post(f"/api/v1/ticket/{ticket_id}/conclude",
                                       json={"note": "Atrasado."})
    closed = api(world.users["requester"]).post(f"/api/v1/ticket/{ticket_id}/approve")
    assert closed.json["result"]["sla_met"] is False


def test_auto_approval_after_the_accounts_days(app, api, world):
    from app import workflow

    stale = make_ticket(app, world, "concluded")
    fresh = make_ticket(app, world, "concluded")
    with app.app_context():
        ticket = db.session.get(Ticket, stale)
        ticket.concluded_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=8)
        db.session.commit()
        assert workflow.auto_approve_due() == 1
        assert workflow.auto_approve_due() == 0
        db.session.remove()
    result = api(world.users["requester"]).get(f"/api/v1/ticket/{stale}").json["result"]
    assert result["status"] == "closed" and result["auto_approved"] is True
    events = api(world.users["requester"]).get(f"/api/v1/ticket/{stale}/events").json["result"]
    assert events[-1]["type"] == "auto_approved" and events[-1]["actor_id"] is None
    assert "automaticamente" in events[-1]["note"]
    assert load_ticket(app, world, fresh)["status"] == "concluded"


def test_unknown_action_is_404(app, api, world):
    ticket_id = make_ticket(app, world)
    assert api(world.users["requester"]).post(
        f"/api/v1/ticket/{ticket_id}/explode").status_code == 404


def test_text_is_stored_verbatim_and_returned_as_json_text(app, api, world):
    hostile = "<script>alert(1)</script> \"><svg onload=x> ‮rtl עברית e\u0301 🚀"
    response = api(world.users["requester"]).post("/api/v1/ticket/",
                                                  json=body(world, description=hostile))
    assert response.status_code == 201
    assert response.json["result"]["description"] == hostile


HUGE = 10**30


@pytest.mark.parametrize("path", [f"/api/v1/ticket/{HUGE}", f"/api/v1/ticket/{HUGE}/events",
                                  f"/api/v1/ticket/{HUGE}/messages",
                                  f"/api/v1/attachment/{HUGE}", f"/api/v1/sector/{HUGE}",
                                  f"/api/v1/member/{2**31}"])
def test_ids_beyond_the_integer_range_are_404_not_500(app, api, world, path):
    assert api(world.users["admin"]).get(path).status_code == 404


@pytest.mark.parametrize("field", ["department_id", "service_id"])
def test_huge_ids_in_a_body_are_400_and_change_nothing(app, api, world, field):
    response = api(world.users["requester"]).post("/api/v1/ticket/",
                                                  json=body(world, **{field: HUGE}))
    assert response.status_code == 400 and response.json["field"] == field
    response = api(world.users["admin"]).post("/api/v1/service/", json={
        "name": "Novo", "department_id": HUGE, "sla_hours": 4})
    assert response.status_code == 400 and response.json["field"] == "department_id"
    assert count(app, Ticket) == 0
