"""POST /api/v1/inbound-mail: the contract's answers, and hostile mail that is refused
or cleaned, never a 500, never half-written (shared/API.md, shared/HOSTILE.md)."""
import os

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.mail_in.models import InboundMail
from app.models import Attachment, OutboxMail, TicketMessage
from app.tenancy import UNSCOPED, account_scope
from tests.helpers import make_ticket
from tests.mail_replies import drain, png, reply
from tests.smtp_server import emails, set_all, smtp  # noqa: F401
from tests.test_mail_intake import DOMAIN, messages_of, notification_for

TOKEN = "token-de-entrega-com-bastante-entropia-123"
URL = "/api/v1/inbound-mail"


@pytest.fixture
def inbound(app, monkeypatch):
    monkeypatch.setitem(app.config, "INBOUND_MAIL_DOMAIN", DOMAIN)
    monkeypatch.setitem(app.config, "INBOUND_MAIL_TOKEN", TOKEN)
    return app.test_client()


def post(client, raw, token=TOKEN, **headers):
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.post(URL, data=raw, headers=headers, content_type="message/rfc822")


def counts(app):
    with app.app_context(), account_scope(UNSCOPED):
        result = {model.__tablename__: db.session.scalar(select(func.count())
                                                         .select_from(model))
                  for model in (TicketMessage, Attachment, OutboxMail, InboundMail)}
        db.session.remove()
    result["files"] = len(os.listdir(app.config["UPLOAD_FOLDER"]))
    return result


@pytest.fixture
def mail(app, world, smtp, inbound):
    set_all(app, world, recipients=("requester",))
    ticket_id = make_ticket(app, world, "in_progress")
    drain(app)
    return ticket_id, notification_for(app, world, smtp), emails(app, world,
                                                                "requester").pop()


def test_without_the_right_token_nothing_is_read(app, world, inbound, mail):
    _, notification, sender = mail
    raw = reply(notification, sender=sender, text="Oi").as_bytes()
    before = counts(app)
    assert post(inbound, raw, token=None).status_code == 401
    assert post(inbound, raw, token="errado").status_code == 401
    response = inbound.post(URL, data=raw, headers={"Authorization": f"Basic {TOKEN}"})
    assert response.status_code == 401
    app.config["INBOUND_MAIL_TOKEN"] = None       # not configured: closed
    assert post(inbound, raw, token="None").status_code == 401
    assert post(inbound, raw, token="").status_code == 401
    assert counts(app) == before
    assert "Token" in response.get_json()["message"]


def test_a_reply_is_202_and_the_same_mail_again_is_200_duplicate(app, world, inbound, mail):
    ticket_id, notification, sender = mail
    raw = reply(notification, sender=sender, text="Funcionou, obrigado.",
                attachments=[("tela.png", png(), "image/png")]).as_bytes()
    first = post(inbound, raw)
    assert (first.status_code, first.get_json()) == (202, {"status": "taken"})
    second = post(inbound, raw)
    assert (second.status_code, second.get_json()) == (200, {"status": "ignored",
                                                             "reason": "duplicate"})
    assert [m["body"] for m in messages_of(app, ticket_id)] == ["Funcionou, obrigado."]


@pytest.mark.parametrize("raw", [b"", b"\r\n\r\n", b"lixo sem cabecalho",
                                 b"Subject: sem From\r\n\r\nOi"],
                         ids=["empty", "blank", "garbage", "no-from"])
def test_what_cannot_be_parsed_is_400(app, inbound, raw):
    response = post(inbound, raw)
    assert response.status_code == 400
    assert "não pôde ser lido" in response.get_json()["message"]


def test_a_50_mb_mail_is_413_before_it_is_read(app, world, inbound, mail):
    _, notification, sender = mail
    head = reply(notification, sender=sender, text="Grande.").as_bytes()
    raw = head + b"A" * (50 * 1024 * 1024)   # a 50 MB body (encoded attachments look so)
    before = counts(app)
    response = post(inbound, raw)
    assert response.status_code == 413
    assert "limite de 25 MB" in response.get_json()["message"]
    after = counts(app)
    assert after == {**before, "inbound_mail": before["inbound_mail"] + 1}   # logged only
    with app.app_context(), account_scope(UNSCOPED):
        row = db.session.scalars(select(InboundMail).order_by(InboundMail.id.desc())).first()
        assert (row.status, row.reason, row.account_id) == ("refused", "too_large", None)
        db.session.remove()


def test_a_mime_bomb_is_400_and_nothing_is_written_but_the_log(app, world, inbound, mail):
    ticket_id, notification, sender = mail
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(20000))
    raw = (f"From: {sender}\r\nTo: {notification['Reply-To']}\r\nSubject: bomba\r\n"
           "Content-Type: multipart/mixed; boundary=b\r\n\r\n").encode() + parts + b"--b--\r\n"
    before = counts(app)
    response = post(inbound, raw)
    assert response.status_code == 400 and response.get_json()["reason"] == "mime_bomb"
    after = counts(app)
    assert after["inbound_mail"] == before["inbound_mail"] + 1
    assert {k: v for k, v in after.items() if k != "inbound_mail"} == \
        {k: v for k, v in before.items() if k != "inbound_mail"}


def test_html_with_scripts_becomes_text_and_shows_as_text(app, world, web, inbound, mail):
    ticket_id, notification, sender = mail
    message = reply(notification, sender=sender, text="ignorado")
    message.clear_content()
    message.set_content("<html><body><script>alert('x')</script><p>Resolvido "
                        "&lt;script&gt;alert(1)&lt;/script&gt; <b>agora</b></p>"
                        "<blockquote>antigo</blockquote></body></html>", subtype="html")
    assert post(inbound, message.as_bytes()).status_code == 202
    (posted,) = messages_of(app, ticket_id)
    assert posted["body"] == "Resolvido <script>alert(1)</script> agora"
    page = web("alfa_requester").get(f"/chamados/{ticket_id}").get_data(as_text=True)
    assert "Resolvido &lt;script&gt;alert(1)&lt;/script&gt; agora" in page
    assert "<script>alert(1)" not in page and "alert('x')" not in page


def test_forged_address_wrong_sender_and_lying_attachment(app, world, inbound, mail):
    ticket_id, notification, sender = mail
    good = notification["Reply-To"]
    forged = good.replace(good.split("-")[1], str(int(good.split("-")[1]) + 1), 1)
    answers = [post(inbound, reply(notification, sender=sender, text="Oi",
                                   to=forged).as_bytes()),
               post(inbound, reply(notification, sender="outro@evil.example",
                                   text="Oi").as_bytes())]
    assert [(r.status_code, r.get_json()) for r in answers] == [
        (200, {"status": "ignored", "reason": "forged_address"}),
        (200, {"status": "ignored", "reason": "sender_mismatch"})]
    liar = reply(notification, sender=sender, text="Segue a planilha.",
                 attachments=[("planilha.xlsx", b"MZ\x90\x00PE executavel", "application/vnd."
                               "openxmlformats-officedocument.spreadsheetml.sheet")])
    assert post(inbound, liar.as_bytes()).status_code == 202
    (posted,) = messages_of(app, ticket_id)
    assert posted == {"author_id": world.users["requester"], "body": "Segue a planilha.",
                      "files": []}
    assert os.listdir(app.config["UPLOAD_FOLDER"]) == []


def test_broken_charsets_and_base64_are_taken_cleaned(app, world, inbound, mail):
    ticket_id, notification, sender = mail
    raw = (f"From: =?x-desconhecido?q?Fulano?= <{sender}>\r\n"
           f"To: {notification['Reply-To']}\r\nSubject: Re: f\xe9rias\r\n"
           "Message-ID: <quebrado@cliente.example>\r\nMIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
           "--b\r\nContent-Type: text/plain; charset=latin-9-inventado\r\n\r\n"
           "J\xe1 est\xe1 ok.\r\n--b\r\nContent-Type: image/png; name=a.png\r\n"
           "Content-Disposition: attachment; filename=a.png\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n!!!n\xe3o base64!!!\r\n--b--\r\n"
           ).encode("latin-1")
    response = post(inbound, raw)
    assert response.status_code == 202
    (posted,) = messages_of(app, ticket_id)
    assert posted["body"] == "Já está ok." and posted["files"] == []


def test_the_log_shows_each_mail_to_its_own_accounts_administrators(
        app, world, other_world, web, inbound, mail):
    ticket_id, notification, sender = mail
    post(inbound, reply(notification, sender=sender, text="Registrada").as_bytes())
    post(inbound, reply(notification, sender="outro@evil.example", text="Oi").as_bytes())
    page = web("alfa_admin").get("/mensagens-recebidas/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Mensagens recebidas" in html and "Mensagem registrada no chamado" in html
    assert "O remetente não é a pessoa a quem o endereço foi dado" in html
    assert "outro@evil.example" in html and f"#{ticket_id}" in html
    other = web("beta_admin").get("/mensagens-recebidas/").get_data(as_text=True)
    assert "outro@evil.example" not in other and "Nenhum e-mail recebido" in other
    assert web("alfa_requester").get("/mensagens-recebidas/").status_code in (302, 403)


def test_a_huge_sender_and_nul_bytes_are_logged_not_a_500(app, world, inbound, mail):
    ticket_id, notification, sender = mail
    raw = (f"From: {'a' * 1000}@cliente.example\r\nTo: {notification['Reply-To']}\r\n"
           f"Subject: nulo\x00aqui {'x' * 400}\r\nMessage-ID: <{'m' * 600}@x>\r\n\r\n"
           "Corpo\x00 com nulo.\r\n").encode()
    response = post(inbound, raw)
    assert (response.status_code, response.get_json()) == (
        200, {"status": "ignored", "reason": "sender_mismatch"})
    assert messages_of(app, ticket_id) == []


def test_a_reply_past_the_upload_quota_is_429_and_taken_once_the_hour_has_room(
        app, world, inbound, mail):
    """The requester's hourly file quota holds for mail too: the MTA gets a 429 with
    Retry-After (its pipe exits EX_TEMPFAIL and tries again), nothing is written, and no
    500 or traceback."""
    from app.models import Account

    ticket_id, notification, sender = mail
    with app.app_context(), account_scope(UNSCOPED):
        db.session.get(Account, world.account_id).uploads_per_hour = 1
        db.session.commit()
    first = reply(notification, sender=sender, text="Primeiro print",
                  attachments=[("a.png", png(), "image/png")])
    assert post(inbound, first.as_bytes()).status_code == 202
    before = counts(app)
    second = reply(notification, sender=sender, text="Segundo print",
                   attachments=[("b.png", png(), "image/png")])
    refused = post(inbound, second.as_bytes())
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Limite de 1 arquivos enviados por hora" in refused.get_json()["message"]
    assert counts(app) == before
    with app.app_context(), account_scope(UNSCOPED):
        db.session.get(Account, world.account_id).uploads_per_hour = 5
        db.session.commit()
    assert post(inbound, second.as_bytes()).status_code == 202
    assert [m["body"] for m in messages_of(app, ticket_id)] == ["Primeiro print",
                                                                "Segundo print"]
