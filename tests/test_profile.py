"""'Meu perfil' (issue 13 item 2): every profile opens it (FAB's "Perfil" answered
"Acesso negado" to all four); name and e-mail change, the rest is read-only."""
import pytest

from app.models import Member
from tests.conftest import PASSWORD, login_browser_client


@pytest.mark.parametrize("username", ["alfa_admin", "alfa_requester", "alfa_attendant",
                                      "alfa_manager"])
def test_every_profile_opens_meu_perfil(app, world, username):
    response = login_browser_client(app, username).get("/perfil/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Meu perfil" in html
    assert 'id="current_password"' in html and "Acesso negado" not in html


def test_anonymous_visitor_is_sent_to_login(app):
    response = app.test_client().get("/perfil/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def _member(app, world, key="requester"):
    from app.extensions import db

    with app.app_context():
        member = db.session.get(Member, world.users[key])
        values = {"first_name": member.first_name, "last_name": member.last_name,
                  "email": member.email, "username": member.username,
                  "sector_id": member.sector_id, "roles": sorted(r.name for r in member.roles)}
        db.session.remove()
    return values


def test_member_changes_own_name_and_email_but_not_sector_username_or_profiles(app, world):
    client = login_browser_client(app, "alfa_requester")
    before = _member(app, world)
    response = client.post("/perfil/dados", data={
        "first_name": "Renata", "last_name": "Lima", "email": "renata@alfa.example",
        "username": "outro_nome", "sector_id": str(world.sectors["Operações"]),
        "roles": "Administrador"})
    assert response.status_code == 302
    after = _member(app, world)
    assert (after["first_name"], after["last_name"], after["email"]) == (
        "Renata", "Lima", "renata@alfa.example")
    assert after["username"] == before["username"]
    assert after["sector_id"] == before["sector_id"]
    assert after["roles"] == before["roles"]
    page = client.get("/perfil/").get_data(as_text=True)
    assert 'value="Financeiro" readonly' in page


@pytest.mark.parametrize("change, message", [
    ({"email": "admin@alfa.example"}, "já está em uso"),
    ({"email": "nao-e-email"}, "E-mail inválido"),
    ({"first_name": "   "}, "Nome é obrigatório"),
    ({"last_name": "x" * 65}, "no máximo 64"),
])
def test_bad_profile_data_is_refused_and_changes_nothing(app, world, change, message):
    client = login_browser_client(app, "alfa_requester")
    before = _member(app, world)
    form = {"first_name": "Renata", "last_name": "Lima", "email": "renata@alfa.example",
            **change}
    response = client.post("/perfil/dados", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code in (400, 409) and message in html
    assert _member(app, world) == before


def test_profile_page_shows_typed_values_escaped(app, world):
    client = login_browser_client(app, "alfa_requester")
    html = client.post("/perfil/dados", data={
        "first_name": '"><script>alert(1)</script>', "last_name": "Lima",
        "email": "nao-e-email"}).get_data(as_text=True)
    assert "<script>alert(1)" not in html


def test_password_change_then_login_with_the_new_one(app, world):
    client = login_browser_client(app, "alfa_attendant")
    response = client.post("/perfil/senha", data={
        "current_password": PASSWORD, "new_password": "cavalo correto bateria",
        "confirm_password": "cavalo correto bateria"}, follow_redirects=True)
    assert "Senha alterada" in response.get_data(as_text=True)
    login_browser_client(app, "alfa_attendant", "cavalo correto bateria")
    old = app.test_client().post("/login/", data={"username": "alfa_attendant",
                                                  "password": PASSWORD})
    assert "/login" in old.headers["Location"]


def test_guessing_the_current_password_is_limited(app, world):
    client = login_browser_client(app, "alfa_requester")
    codes = [client.post("/perfil/senha", data={
        "current_password": f"palpite-{i:04d}", "new_password": "nova-senha-boa-1",
        "confirm_password": "nova-senha-boa-1"}).status_code for i in range(11)]
    assert codes[:10] == [400] * 10 and codes[10] == 429
