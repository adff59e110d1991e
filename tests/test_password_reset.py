"""'Esqueci minha senha' (issue 13 item 2): a one-hour, single-use link through the
outbox; the same answer whether or not the e-mail exists; limited per address."""
import re
import time

from sqlalchemy import select

from app.models import OutboxMail
from tests.conftest import PASSWORD, login_browser_client, token_for
from tests.smtp_server import drain, smtp  # noqa: F401

NEW = "cavalo correto bateria"


def _outbox(app):
    from app.extensions import db
    from app.tenancy import UNSCOPED, account_scope

    with app.app_context(), account_scope(UNSCOPED):
        rows = [(m.recipient_email, m.event, m.subject, m.body_text, m.body_html)
                for m in db.session.scalars(select(OutboxMail).order_by(OutboxMail.id))]
        db.session.remove()
    return rows


def _ask(client, email, **kw):
    return client.post("/senha/esqueci", data={"email": email}, **kw)


def _link(app) -> str:
    body = _outbox(app)[-1][3]
    return re.search(r"http://\S+/senha/nova/\S+", body).group(0)


def _path(link: str) -> str:
    return link[link.index("/senha/nova/"):]


def test_known_and_unknown_email_get_the_same_answer_and_only_the_known_gets_mail(app,
                                                                                  world):
    known = _ask(app.test_client(), "Requester@Alfa.example")
    unknown = _ask(app.test_client(), "ninguem@alfa.example")
    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"]
    rows = _outbox(app)
    assert [(r[0], r[1]) for r in rows] == [("requester@alfa.example", "password_reset")]
    assert "uma hora" in rows[0][3] or "1 hora" in rows[0][3]
    follow = app.test_client()
    _ask(follow, "ninguem@alfa.example")
    assert "Se o e-mail estiver cadastrado" in follow.get("/login/").get_data(as_text=True)


def test_the_link_sets_a_new_password_once(app, world):
    _ask(app.test_client(), "requester@alfa.example")
    path = _path(_link(app))
    client = app.test_client()
    assert "alfa_requester" in client.get(path).get_data(as_text=True)
    done = client.post(path, data={"new_password": NEW, "confirm_password": NEW})
    assert done.status_code == 302 and "/login" in done.headers["Location"]
    login_browser_client(app, "alfa_requester", NEW)
    old = app.test_client().post("/login/", data={"username": "alfa_requester",
                                                  "password": PASSWORD})
    assert "/login" in old.headers["Location"]
    again = client.post(path, data={"new_password": NEW + "!", "confirm_password": NEW + "!"})
    assert again.status_code == 400 and "expirou ou já foi usado" in again.get_data(
        as_text=True)
    login_browser_client(app, "alfa_requester", NEW)


def test_the_link_expires_after_an_hour(app, world, monkeypatch):
    _ask(app.test_client(), "requester@alfa.example")
    path = _path(_link(app))

    class Later:
        @staticmethod
        def time():
            return time.time() + 3601

    monkeypatch.setattr("itsdangerous.timed.time", Later)
    response = app.test_client().post(path, data={"new_password": NEW,
                                                  "confirm_password": NEW})
    assert response.status_code == 400 and "expirou" in response.get_data(as_text=True)
    monkeypatch.undo()
    login_browser_client(app, "alfa_requester", PASSWORD)


def test_a_tampered_or_foreign_token_is_refused(app, world):
    _ask(app.test_client(), "requester@alfa.example")
    path = _path(_link(app))
    for bad in (path[:-3] + "abc", "/senha/nova/x", "/senha/nova/" + "A" * 500):
        assert app.test_client().get(bad).status_code == 400


def test_a_weak_new_password_is_refused_and_the_link_still_works(app, world):
    _ask(app.test_client(), "requester@alfa.example")
    path = _path(_link(app))
    client = app.test_client()
    weak = client.post(path, data={"new_password": "1234567890",
                                   "confirm_password": "1234567890"})
    assert weak.status_code == 400 and "mais usadas" in weak.get_data(as_text=True)
    login_browser_client(app, "alfa_requester", PASSWORD)
    ok = client.post(path, data={"new_password": NEW, "confirm_password": NEW})
    assert ok.status_code == 302


def test_a_reset_ends_every_session_and_token_of_the_member(app, world):
    browser = login_browser_client(app, "alfa_requester")
    tokens = token_for(app, world.users["requester"], refresh=True)
    _ask(app.test_client(), "requester@alfa.example")
    app.test_client().post(_path(_link(app)), data={"new_password": NEW,
                                                    "confirm_password": NEW})
    assert browser.get("/perfil/").status_code == 302
    headers = {"Authorization": f"Bearer {tokens['refresh_token']}"}
    assert app.test_client().post("/api/v1/security/refresh",
                                  headers=headers).status_code == 401


def test_the_link_ignores_a_forged_host(app, world):
    _ask(app.test_client(), "requester@alfa.example",
         headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
    _, _, _, text, html = _outbox(app)[-1]
    assert "evil.example" not in text and "evil.example" not in html
    assert _link(app).startswith(app.config["BASE_URL"])


def test_requests_are_limited_per_address_with_the_same_answer(app, world):
    client = app.test_client()
    answers = {_ask(client, "requester@alfa.example").headers["Location"] for _ in range(7)}
    assert len(answers) == 1
    assert len(_outbox(app)) == 5


def test_forgot_page_is_linked_from_login_and_in_portuguese(app):
    client = app.test_client()
    assert 'href="/senha/esqueci"' in client.get("/login/").get_data(as_text=True)
    assert "Esqueci minha senha" in client.get("/senha/esqueci").get_data(as_text=True)


def test_the_mail_leaves_through_the_outbox_and_its_link_works(app, world, smtp):
    _ask(app.test_client(), "requester@alfa.example")
    assert drain(app)["sent"] == 1
    (received,) = smtp.received()
    assert received["rcpt_tos"] == ["requester@alfa.example"]
    text = received["message"].get_body(("plain",)).get_content()
    path = _path(re.search(r"http://\S+/senha/nova/\S+", text).group(0))
    done = app.test_client().post(path, data={"new_password": NEW, "confirm_password": NEW})
    assert done.status_code == 302
    login_browser_client(app, "alfa_requester", NEW)
