"""The password rule (issue 13 item 4) and every place a password is chosen: sign-up
(page and API), the member API, the administrators' member screen and "Meu perfil".
A refused password gets a Portuguese message saying what to change and changes nothing."""
import pytest
from sqlalchemy import func, select

from app.models import Account, Member
from app.passwords import common_passwords, problem
from tests.conftest import PASSWORD, login_browser_client

WEAK = [  # (password, part of the message)
    ("123456789", "pelo menos 10 caracteres"),
    ("1234567890", "mais usadas"),
    ("password12", "mais usadas"),
    ("PassWord12", "mais usadas"),
    ("qwertyuiop", "mais usadas"),
    (" " * 10, "só de espaços"),
    ("aaaaaaaaaaaa", "único caractere"),
    ("alfa_requester", "nome de usuário"),
    ("ALFA_REQUESTER99", "nome de usuário"),
    ("requester@alfa.example", "e-mail"),
    ("requester2024", "e-mail"),   # the e-mail's local part
    ("Empresa alfa!", "nome da empresa"),
]


def test_the_common_list_is_the_published_top_10000():
    common = common_passwords()
    assert 9_900 <= len(common) <= 10_000
    assert {"123456", "password", "1234567890", "iloveyou"} <= common


@pytest.mark.parametrize("password, reason", WEAK)
def test_rule_refuses_weak_passwords_saying_what_to_change(password, reason):
    message = problem(password, username="alfa_requester", email="requester@alfa.example",
                      company="Empresa alfa")
    assert message and reason in message


@pytest.mark.parametrize("password", [PASSWORD, "demo-senha-123", "cavalo correto bateria",
                                      "alfa_requester é meu nome mas não só"])
def test_rule_accepts_good_passwords(password):
    assert problem(password, username="alfa_requester", email="requester@alfa.example",
                   company="Empresa alfa") is None


SIGNUP = {"company": "Padaria Pão Quente", "admin_name": "Maria da Silva",
          "admin_username": "maria", "admin_email": "maria@padaria.example"}


@pytest.mark.parametrize("password", ["1234567890", "maria12345", "padaria@1234",
                                      "Padaria Pão Quente", " " * 12])
def test_signup_api_refuses_weak_password_and_creates_nothing(app, api, password):
    response = api(None).post("/api/v1/signup", json={**SIGNUP, "admin_password": password})
    assert response.status_code == 400 and response.json["field"] == "admin_password"
    assert "senha" in response.json["message"].lower()
    with app.app_context():
        from app.extensions import db

        assert db.session.scalar(select(func.count()).select_from(Account)) == 0
        db.session.remove()


def test_signup_page_refuses_common_password_and_keeps_what_was_typed(app):
    response = app.test_client().post("/cadastro/", data={**SIGNUP,
                                                          "admin_password": "password12"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "mais usadas" in html
    assert 'value="maria@padaria.example"' in html


def _password_hash(app, user_id):
    from app.extensions import db

    with app.app_context():
        value = db.session.get(Member, user_id).password
        db.session.remove()
    return value


def test_member_api_refuses_weak_password_on_create_and_update(app, api, world):
    admin = api(world.users["admin"])
    created = admin.post("/api/v1/member/", json={
        "first_name": "Carla", "last_name": "Souza", "username": "carla",
        "email": "carla@alfa.example", "password": "carla12345", "profiles": ["requester"]})
    assert created.status_code == 400 and created.json["field"] == "password"
    assert "nome de usuário" in created.json["message"]
    before = _password_hash(app, world.users["requester"])
    updated = admin.put(f"/api/v1/member/{world.users['requester']}",
                        json={"password": "Empresa Alfa 1", "first_name": "Outro"})
    assert updated.status_code == 400 and "nome da empresa" in updated.json["message"]
    assert _password_hash(app, world.users["requester"]) == before
    assert admin.get(f"/api/v1/member/{world.users['requester']}").json["result"][
        "first_name"] == "Requester"


def test_member_screen_refuses_common_password(app, world):
    from app.extensions import db

    with app.app_context():
        role_id = app.appbuilder.sm.find_role("Solicitante").id
        db.session.remove()
    client = login_browser_client(app, "alfa_admin")
    response = client.post("/memberview/add", data={
        "first_name": "Carla", "last_name": "Souza", "username": "carla",
        "email": "carla@alfa.example", "roles": [str(role_id)], "active": "y",
        "password": "1234567890", "conf_password": "1234567890"}, follow_redirects=True)
    assert "mais usadas" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Member).where(Member.username == "carla")) is None
        db.session.remove()


@pytest.mark.parametrize("form, field_message", [
    ({"current_password": "nao-e-a-senha-1", "new_password": "nova-senha-boa-1",
      "confirm_password": "nova-senha-boa-1"}, "senha atual não confere"),
    ({"current_password": PASSWORD, "new_password": "nova-senha-boa-1",
      "confirm_password": "nova-senha-boa-2"}, "confirmação"),
    ({"current_password": PASSWORD, "new_password": "password12",
      "confirm_password": "password12"}, "mais usadas"),
    ({"current_password": PASSWORD, "new_password": "alfa_requester1",
      "confirm_password": "alfa_requester1"}, "nome de usuário"),
    ({"current_password": PASSWORD, "new_password": PASSWORD,
      "confirm_password": PASSWORD}, "diferente da atual"),
])
def test_meu_perfil_refuses_a_bad_password_change_and_changes_nothing(app, world, form,
                                                                      field_message):
    before = _password_hash(app, world.users["requester"])
    client = login_browser_client(app, "alfa_requester")
    response = client.post("/perfil/senha", data=form)
    assert response.status_code == 400
    assert field_message in response.get_data(as_text=True)
    assert _password_hash(app, world.users["requester"]) == before
    assert client.get("/perfil/").status_code == 200   # still logged in
