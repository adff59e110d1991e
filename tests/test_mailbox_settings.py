"""The mailbox settings (app/mailbox/settings.py, views.py, api.py): administrators
only, validated before anything is saved, the password stored encrypted and never
shown again, on the screen and in the API."""
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from app.extensions import db
from app.mailbox import crypto, poller
from app.mailbox.models import Mailbox
from app.tenancy import UNSCOPED, account_scope

SECRET = "Segredo-da-caixa-4d9b2e"


def body(world, **changes):
    return {"host": "imap.alfa.example", "port": 993, "security": "ssl",
            "username": "atendimento@alfa.example", "password": SECRET,
            "department_id": world.departments["TI"], "service_id": world.services["Acesso"],
            "active": True, **changes}


def form(world, **changes):
    data = {"host": "imap.alfa.example", "port": "", "security": "ssl",
            "username": "atendimento@alfa.example", "password": SECRET, "folder": "INBOX",
            "processed_folder": "Processados", "rejected_folder": "Recusados",
            "department_id": str(world.departments["TI"]),
            "service_id": str(world.services["Acesso"]), "active": "on"}
    data.update(changes)
    return data


def stored(app):
    with app.app_context(), account_scope(UNSCOPED):
        rows = db.session.scalars(select(Mailbox)).all()
        data = [{c.name: getattr(r, c.name) for c in Mailbox.__table__.columns} for r in rows]
        db.session.remove()
    return data


def test_the_password_is_stored_encrypted_and_never_shown_again(app, world, web, api):
    admin = web("alfa_admin")
    page = admin.get("/conta/caixa-de-email/")
    assert page.status_code == 200 and "Caixa de e-mail" in page.get_data(as_text=True)
    saved = admin.post("/conta/caixa-de-email/salvar", data=form(world))
    assert saved.status_code == 302
    (row,) = stored(app)
    assert row["port"] == 993 and row["state"] == "new" and row["active"] is True
    assert SECRET not in row["password_encrypted"]
    with app.app_context():
        assert crypto.decrypt(row["password_encrypted"]) == SECRET

    pages = [admin.get("/conta/caixa-de-email/"), admin.get("/mensagens-recebidas/"),
             api(world.users["admin"]).get("/api/v1/mailbox")]
    for response in pages:
        assert response.status_code == 200
        assert SECRET not in response.get_data(as_text=True)
    assert "Senha definida" in pages[0].get_data(as_text=True)
    answer = pages[2].get_json()["result"]
    assert answer["password"] == "definida" and answer["host"] == "imap.alfa.example"

    # Saved again with the password left blank: the stored one is kept.
    admin.post("/conta/caixa-de-email/salvar", data=form(world, password="", port="1993"))
    (again,) = stored(app)
    assert again["port"] == 1993 and again["password_encrypted"] == row["password_encrypted"]


@pytest.mark.parametrize("changes, field, message", [
    ({"service_id": "Férias"}, "service_id", "não pertence ao departamento"),
    ({"department_id": None}, "department_id", "escolha onde"),
    ({"port": 70000}, "port", "1 a 65535"),
    ({"port": "abc"}, "port", "valor inválido"),
    ({"host": "imap.alfa.example\r\nBcc: x"}, "host", "Servidor"),
    ({"security": "tls9"}, "security", "SSL/TLS"),
    ({"password": ""}, "password", "obrigatório"),
    ({"processed_folder": "INBOX"}, "processed_folder", "diferentes"),
    ({"state": "ok"}, "state", "desconhecido"),
])
def test_bad_settings_are_refused_with_the_field_and_nothing_is_saved(
        app, world, api, changes, field, message):
    if changes.get("service_id") == "Férias":
        changes = {"service_id": world.services["Férias"]}
    response = api(world.users["admin"]).put("/api/v1/mailbox", json=body(world, **changes))
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert message in response.get_json()["message"]
    assert stored(app) == []


def test_another_accounts_department_is_unknown_and_only_administrators_see_the_mailbox(
        app, world, other_world, api, web):
    theirs = body(world, department_id=other_world.departments["TI"])
    response = api(world.users["admin"]).put("/api/v1/mailbox", json=theirs)
    assert response.status_code == 400 and response.get_json()["field"] == "department_id"
    assert response.get_json()["message"] == "Departamento inexistente."
    assert api(world.users["admin"]).put("/api/v1/mailbox",
                                         json=body(world)).status_code == 200
    assert api(other_world.users["admin"]).get("/api/v1/mailbox").get_json()["result"][
        "configured"] is False
    page = web("beta_admin").get("/conta/caixa-de-email/").get_data(as_text=True)
    assert "imap.alfa.example" not in page
    for who in ("attendant", "manager", "requester"):
        assert api(world.users[who]).get("/api/v1/mailbox").status_code == 403
        assert api(world.users[who]).put("/api/v1/mailbox", json=body(world)).status_code == 403
    assert web("alfa_manager").get("/conta/caixa-de-email/").status_code == 403
    assert web("alfa_attendant").post("/conta/caixa-de-email/salvar",
                                      data=form(world, host="mau.example")).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Mailbox)) == 1
        db.session.remove()


def test_a_form_error_shows_the_page_again_without_the_password(app, world, web):
    response = web("alfa_admin").post("/conta/caixa-de-email/salvar",
                                      data=form(world, service_id=str(world.services["Férias"])))
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Este serviço não pertence ao departamento escolhido." in text
    assert "imap.alfa.example" in text and SECRET not in text
    assert stored(app) == []


def test_a_changed_key_makes_the_password_unreadable_and_the_screen_asks_for_it(
        app, world, api, monkeypatch):
    monkeypatch.setitem(app.config, "MAILBOX_SECRET_KEY", Fernet.generate_key().decode())
    api(world.users["admin"]).put("/api/v1/mailbox", json=body(world))
    monkeypatch.setitem(app.config, "MAILBOX_SECRET_KEY", "outra chave qualquer, longa")
    (row,) = stored(app)
    with app.app_context():
        result = poller.poll_due()[row["id"]]
        db.session.remove()
    assert result["state"] == "auth_error" and "informe a senha de novo" in result["error"]
    answer = api(world.users["admin"]).get("/api/v1/mailbox").get_json()["result"]
    assert answer["state"] == "auth_error" and answer["failures"] == 1
    assert SECRET not in str(answer)
