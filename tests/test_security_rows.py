"""Rows of docs/security.md that no other test would have missed (issue 13): CSRF on
the login and on every kind of page form, the JSON API that takes bearer tokens and
never the session cookie, the security headers of every response, downloads that no
browser renders, and the tenancy backstop for a loaded row moved to another account.
Each test was checked by removing its protection once (docs/security.md says how)."""
import io
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Account, Member, Sector, Ticket
from app.tenancy import UNSCOPED, account_scope
from tests.conftest import PASSWORD
from tests.test_portals import count, form, png_bytes

CSRF_REFUSED = "O formulário expirou"
TOKEN = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*>')


def page_token(response) -> str:
    """The CSRF token of the first form of a page (FAB writes id before value)."""
    tag = TOKEN.search(response.get_data(as_text=True))
    assert tag, response.get_data(as_text=True)[:500]
    return re.search(r'value="([^"]+)"', tag.group(0)).group(1)


@pytest.fixture
def csrf(app):
    """Turn Flask-WTF's CSRF check on (the test config turns it off so that the other
    tests can log in and post without a token); call after logging in."""
    def enable():
        app.config["WTF_CSRF_ENABLED"] = True
    yield enable
    app.config["WTF_CSRF_ENABLED"] = False


def _member(app, user_id):
    with app.app_context(), account_scope(UNSCOPED):
        member = db.session.scalar(select(Member).where(Member.id == user_id))
        values = (member.first_name, member.email, member.password)
        db.session.remove()
    return values


def _account_name(app, account_id):
    with app.app_context(), account_scope(UNSCOPED):
        name = db.session.scalar(select(Account.name).where(Account.id == account_id))
        db.session.remove()
    return name


# --- CSRF ------------------------------------------------------------------------------


def test_the_login_form_refuses_a_post_without_its_token(app, world, csrf):
    """Login CSRF: another site must not log the visitor in as the attacker; nor post
    the other anonymous forms (sign-up, "Esqueci minha senha") in the visitor's name."""
    csrf()
    client = app.test_client()
    accounts = count(app, Account)
    for url, data in (("/cadastro/", {"company": "Forjada", "username": "forjada",
                                      "email": "forjada@example.com"}),
                      ("/senha/esqueci", {"email": "requester@alfa.example"})):
        response = client.post(url, data=data)
        assert response.status_code == 400, url
        assert CSRF_REFUSED in response.get_data(as_text=True), url
    assert count(app, Account) == accounts
    credentials = {"username": "alfa_requester", "password": PASSWORD}
    for data in (credentials, {**credentials, "csrf_token": "forjado"}):
        response = client.post("/login/", data=data)
        assert response.status_code == 400
        assert CSRF_REFUSED in response.get_data(as_text=True)
        mine = client.get("/cliente/chamados")
        assert mine.status_code == 302 and "/login" in mine.headers["Location"]
    token = page_token(client.get("/login/"))
    response = client.post("/login/", data={**credentials, "csrf_token": token})
    assert response.status_code == 302 and "/login" not in response.headers["Location"]
    assert client.get("/cliente/chamados").status_code == 200


def test_every_kind_of_page_form_refuses_a_post_without_its_token(app, web, world, csrf):
    """FAB's generated screens (sector, member), our own views ("Minha conta", "Meu
    perfil" data and password): a POST without the form's token, or with a forged one,
    is the Portuguese 400 and changes nothing; with the page's token it works."""
    admin, requester = web("alfa_admin"), web("alfa_requester")
    csrf()
    posts = [
        (admin, "/sectorview/add", {"name": "Forjado"}),
        (admin, "/memberview/add", {
            "first_name": "For", "last_name": "Jado", "username": "forjado",
            "email": "forjado@alfa.example", "password": "Cavalo-Bateria-42",
            "conf_password": "Cavalo-Bateria-42", "sector": str(world.sectors["Financeiro"])}),
        (admin, "/conta/configuracoes", {"name": "Forjada", "time_zone": "America/Manaus"}),
        (requester, "/perfil/dados", {"first_name": "Forjado", "last_name": "X",
                                      "email": "forjado@alfa.example"}),
        (requester, "/perfil/senha", {"current_password": PASSWORD,
                                      "new_password": "Cavalo-Bateria-42",
                                      "confirm_password": "Cavalo-Bateria-42"}),
    ]
    before = (_member(app, world.users["requester"]), _account_name(app, world.account_id))
    for client, url, data in posts:
        for forged in (data, {**data, "csrf_token": "forjado"}):
            response = client.post(url, data=forged)
            assert response.status_code == 400, (url, response.status_code)
            assert CSRF_REFUSED in response.get_data(as_text=True), url
    assert count(app, Sector, name="Forjado") == 0
    assert count(app, Member, username="forjado") == 0
    assert (_member(app, world.users["requester"]),
            _account_name(app, world.account_id)) == before
    token = page_token(admin.get("/sectorview/add"))
    response = admin.post("/sectorview/add", data={"name": "Legítimo", "csrf_token": token})
    assert response.status_code == 302
    assert count(app, Sector, name="Legítimo") == 1


def test_the_json_api_takes_bearer_tokens_never_the_session_cookie(app, web, api, world, csrf):
    """The API blueprints are exempt from the form token because they do not read the
    session cookie at all: a cross-site request carrying the member's cookie is a 401
    and writes nothing. The same call with a bearer token works with CSRF on."""
    body = {"department_id": world.departments["TI"], "service_id": world.services["Acesso"],
            "priority": "low", "description": "Pedido forjado por outro site."}
    requester, admin = web("alfa_requester"), web("alfa_admin")
    csrf()
    response = requester.post("/api/v1/ticket/", json=body)
    assert response.status_code == 401, response.get_json()
    assert requester.get("/api/v1/ticket/").status_code == 401
    member = world.users["requester"]
    response = admin.put(f"/api/v1/member/{member}", json={"first_name": "Forjado"})
    assert response.status_code == 401
    assert admin.put("/api/v1/account", json={"name": "Forjada"}).status_code == 401
    assert count(app, Ticket) == 0
    assert _member(app, member)[0] != "Forjado"
    assert _account_name(app, world.account_id) != "Forjada"
    response = api(member).post("/api/v1/ticket/", json=body)
    assert response.status_code == 201, response.get_json()
    assert count(app, Ticket) == 1


# --- headers ---------------------------------------------------------------------------

DIRECTIVES = ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'",
              "base-uri 'self'", "form-action 'self'")


def test_every_response_carries_the_security_headers(app, web, api, world):
    """Pages, the login, error pages, JSON from the API and static files alike."""
    anonymous = app.test_client()
    requester = web("alfa_requester")
    responses = {
        "/login/": anonymous.get("/login/"),
        "/health": anonymous.get("/health"),
        "404 page": requester.get("/nao-existe"),
        "/cliente/chamados": requester.get("/cliente/chamados"),
        "/api/v1/ticket/": api(world.users["requester"]).get("/api/v1/ticket/"),
        "401 API": anonymous.get("/api/v1/ticket/"),
        "/static/app.css": anonymous.get("/static/app.css"),
    }
    for name, response in responses.items():
        headers = response.headers
        assert response.status_code < 500, name
        policy = [d.strip() for d in headers.get("Content-Security-Policy", "").split(";")]
        for directive in DIRECTIVES:
            assert directive in policy, (name, directive)
        assert headers.get("X-Content-Type-Options") == "nosniff", name
        assert headers.get("Referrer-Policy") == "same-origin", name
        assert headers.get("X-Frame-Options") == "DENY", name
        assert "Strict-Transport-Security" not in headers, name   # development: plain HTTP


# --- downloads -------------------------------------------------------------------------


def test_downloads_leave_as_attachments_that_no_browser_renders(app, web, api, world):
    """The portal's and the API's download of the same file: attachment, the type we
    decided, nosniff, the sandbox policy, never cached by a shared cache."""
    client = web("alfa_requester")
    response = client.post("/cliente/abrir", content_type="multipart/form-data", data=form(
        world, file=(io.BytesIO(png_bytes()), "<b>tela</b>.png")))
    assert response.status_code == 302
    ticket_id = int(response.headers["Location"].rsplit("/", 1)[1])
    ticket = api(world.users["requester"]).get(f"/api/v1/ticket/{ticket_id}").get_json()
    file_id = ticket["result"]["attachments"][0]["id"]
    for download in (client.get(f"/chamados/{ticket_id}/anexos/{file_id}"),
                     api(world.users["requester"]).get(f"/api/v1/attachment/{file_id}")):
        assert download.status_code == 200 and download.data == png_bytes()
        headers = download.headers
        assert headers.get("Content-Disposition", "").startswith("attachment;")
        assert "<" not in headers["Content-Disposition"]
        assert headers.get("Content-Type") == "image/png"
        assert headers.get("X-Content-Type-Options") == "nosniff"
        assert headers.get("Content-Security-Policy") == "default-src 'none'; sandbox"
        assert headers.get("Cache-Control") == "private, no-store"


# --- tenancy backstop ------------------------------------------------------------------


def test_a_loaded_row_moved_to_another_account_is_refused_at_flush(app, world, other_world):
    """The before_flush hook: whatever a future code path copies from a request into a
    loaded row, it never leaves the account (the member API's own rule is tested in
    test_protections)."""
    with app.app_context(), account_scope(world.account_id):
        member = db.session.get(Member, world.users["requester"])
        sector = db.session.get(Sector, world.sectors["Financeiro"])
        for row in (member, sector):
            row.account_id = other_world.account_id
            with pytest.raises(PermissionError):
                db.session.flush()
            db.session.rollback()
        db.session.remove()
    with app.app_context(), account_scope(UNSCOPED):
        moved = db.session.scalars(select(Member.account_id).where(
            Member.id == world.users["requester"])).one()
        db.session.remove()
    assert moved == world.account_id


# --- internal notes and a member who is staff and requester ----------------------------


def test_staff_who_opened_the_ticket_never_read_nor_find_its_internal_notes(app, api, web,
                                                                            world):
    """The ticket's own requester never sees its internal notes "whatever other profiles
    they hold" (visibility.hides_internal): an attendant of TI who opened a TI ticket
    for themselves reads and finds everything of other tickets, but not the notes on
    their own, by the API, the page or the search."""
    from urllib.parse import urlencode

    from app import accounts, structure, workflow
    from app.models import Department

    with app.app_context(), account_scope(world.account_id):
        both = accounts.create_member({
            "first_name": "Dupla", "last_name": "Alfa", "username": "alfa_dupla",
            "email": "dupla@alfa.example", "password": PASSWORD,
            "sector_id": world.sectors["Financeiro"], "profiles": ["requester", "attendant"]})
        ti = db.session.get(Department, world.departments["TI"])
        structure.save_department(ti, {"attendant_ids": [
            world.users["attendant"], world.users["attendant2"], both.id]})
        ticket = workflow.open_ticket(both, department_id=ti.id,
                                      service_id=world.services["Acesso"], priority="low",
                                      description="Impressora do andar parou.")
        ticket_id, both_id = ticket.id, both.id
        db.session.remove()
    word = "Zebulom"
    response = api(world.users["manager"]).post(
        f"/api/v1/ticket/{ticket_id}/messages",
        json={"body": f"Fornecedor {word} em análise.", "internal": True})
    assert response.status_code == 201, response.get_json()

    def found(user_id, words):
        response = api(user_id).get(f"/api/v1/ticket/?{urlencode({'search': words})}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()["ids"]

    assert found(world.users["attendant"], word) == [ticket_id]      # the note is there
    assert found(both_id, "impressora") == [ticket_id]                # their own ticket
    assert found(both_id, word) == []
    messages = api(both_id).get(f"/api/v1/ticket/{ticket_id}/messages").get_json()
    assert messages["count"] == 0, messages
    page = web("alfa_dupla").get(f"/chamados/{ticket_id}")
    assert page.status_code == 200 and word not in page.get_data(as_text=True)
