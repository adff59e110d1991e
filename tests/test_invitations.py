"""Invitations (app/invitations.py, issue 13 item 2): an administrator creates a member
without a password; the member gets a mail (through the outbox and a real SMTP sink)
with a link that chooses a password once, expires in seven days and can be re-sent."""
import re
import time

from sqlalchemy import select

from tests.conftest import login_browser_client
from tests.smtp_server import drain, smtp  # noqa: F401

CHOSEN = "girassol azul na janela"
NEW_MEMBER = {"first_name": "Nina", "last_name": "Souza", "username": "alfa_nina",
              "email": "nina@alfa.example", "profiles": ["requester"]}


def _invitation_links(app) -> list[str]:
    from app.extensions import db
    from app.models import OutboxMail
    from app.tenancy import UNSCOPED, account_scope

    with app.app_context(), account_scope(UNSCOPED):
        bodies = [m.body_text for m in db.session.scalars(
            select(OutboxMail).where(OutboxMail.event == "invitation").order_by(OutboxMail.id))]
        db.session.remove()
    return [re.search(r"http://\S+(/senha/convite/\S+)", b).group(1) for b in bodies]


def _create(api, world, **extra):
    body = dict(NEW_MEMBER, sector_id=world.sectors["Financeiro"], **extra)
    response = api(world.users["admin"]).post("/api/v1/member/", json=body)
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_a_member_created_without_password_gets_a_mail_whose_link_chooses_it_once(
        app, api, world, smtp):  # noqa: F811
    _create(api, world)
    assert drain(app)["sent"] == 1
    (received,) = smtp.received()
    assert received["rcpt_tos"] == ["nina@alfa.example"]
    assert "Convite" in received["message"]["Subject"]
    text = received["message"].get_body(("plain",)).get_content()
    path = re.search(r"http://\S+(/senha/convite/\S+)", text).group(1)
    assert "7 dias" in text and "alfa_nina" in text
    client = app.test_client()
    page = client.get(path).get_data(as_text=True)
    assert "alfa_nina" in page and "Escolha sua senha" in page
    weak = client.post(path, data={"new_password": "1234567890",
                                   "confirm_password": "1234567890"})
    assert weak.status_code == 400   # the rule applies, and the link still works
    done = client.post(path, data={"new_password": CHOSEN, "confirm_password": CHOSEN})
    assert done.status_code == 302 and "/login" in done.headers["Location"]
    login_browser_client(app, "alfa_nina", CHOSEN)
    again = app.test_client().post(path, data={"new_password": CHOSEN + "x",
                                               "confirm_password": CHOSEN + "x"})
    assert again.status_code == 400
    assert "convite expirou ou já foi usado" in again.get_data(as_text=True)


def test_nobody_logs_in_before_choosing_and_a_typed_password_sends_no_invitation(
        app, api, world):
    _create(api, world)
    response = app.test_client().post("/login/", data={"username": "alfa_nina",
                                                       "password": ""})
    assert "/login" in response.headers.get("Location", "/login")
    typed = api(world.users["admin"]).post("/api/v1/member/", json={
        **NEW_MEMBER, "username": "alfa_rui", "email": "rui@alfa.example",
        "password": "senha longa do rui 42", "sector_id": world.sectors["Financeiro"]})
    assert typed.status_code == 201
    assert len(_invitation_links(app)) == 1


def test_the_link_expires_after_seven_days(app, api, world, monkeypatch):
    _create(api, world)
    (path,) = _invitation_links(app)

    class Later:
        @staticmethod
        def time():
            return time.time() + 7 * 24 * 3600 + 1

    monkeypatch.setattr("itsdangerous.timed.time", Later)
    response = app.test_client().get(path)
    assert response.status_code == 400
    assert "convite expirou" in response.get_data(as_text=True)


def test_an_administrator_resends_the_invitation(app, api, world):
    member_id = _create(api, world)
    resent = api(world.users["admin"]).post(f"/api/v1/member/{member_id}/invite")
    assert resent.status_code == 202
    first, second = _invitation_links(app)
    assert app.test_client().get(second).status_code == 200
    for key in ("manager", "attendant", "requester"):
        refused = api(world.users[key]).post(f"/api/v1/member/{member_id}/invite")
        assert refused.status_code == 403, key
    assert len(_invitation_links(app)) == 2


def test_the_member_screen_invites_when_the_password_is_left_blank(app, web, world):
    from flask_appbuilder.security.sqla.models import Role

    from app.extensions import db

    with app.app_context():
        role_id = db.session.scalar(select(Role.id).where(Role.name == "Solicitante"))
        db.session.remove()
    response = web("alfa_admin").post("/memberview/add", data={
        "first_name": "Nina", "last_name": "Souza", "username": "alfa_nina",
        "email": "nina@alfa.example", "sector": str(world.sectors["Financeiro"]),
        "roles": str(role_id), "active": "y", "password": "", "conf_password": ""})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    (path,) = _invitation_links(app)
    client = app.test_client()
    assert client.post(path, data={"new_password": CHOSEN,
                                   "confirm_password": CHOSEN}).status_code == 302
    login_browser_client(app, "alfa_nina", CHOSEN)
