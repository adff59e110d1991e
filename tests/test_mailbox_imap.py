"""A company's own mailbox over IMAP, against a real Dovecot on loopback
(tests/imapserver.py): replies become messages, new mail from a member opens a ticket,
an unknown sender is answered and set aside, a mail taken twice counts once, and a
mailbox that is down or refuses the login is retried with back-off (app/mailbox).
"""
import datetime as dt
import email
import logging
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.mail_in.models import InboundMail
from app.mailbox import poller, settings
from app.mailbox.models import Mailbox
from app.models import Attachment, Ticket, TicketMessage
from app.tenancy import UNSCOPED, account_scope
from tests.helpers import load_ticket, make_ticket
from tests.mail_replies import png, reply
from tests.smtp_server import drain, emails, outbox, set_all, smtp  # noqa: F401

DOMAIN = "respostas.gestor.test"


@pytest.fixture
def inbound(app, monkeypatch):
    monkeypatch.setitem(app.config, "INBOUND_MAIL_DOMAIN", DOMAIN)
    # The test server is on loopback, which a real account may not point at.
    monkeypatch.setitem(app.config, "MAILBOX_ALLOW_PRIVATE_HOSTS", True)
    return DOMAIN


def save(app, world, imap_server, user, password=None, **changes):
    data = {"host": imap_server.host, "port": str(imap_server.port), "security": "none",
            "username": user, "password": password or imap_server.password,
            "folder": "INBOX",
            "processed_folder": "Processados", "rejected_folder": "Recusados",
            "department_id": world.departments["TI"], "service_id": world.services["Acesso"],
            "active": True, **changes}
    with app.app_context(), account_scope(world.account_id):
        mailbox_id = settings.save_mailbox(world.account_id, data).id
        db.session.remove()
    return mailbox_id


@pytest.fixture
def mailbox(app, world, imap_server, inbound):
    """The account's mailbox on the test server: its own IMAP user for each test."""
    user, _ = imap_server.new_user()
    return user, save(app, world, imap_server, user)


def poll(app, now=None):
    with app.app_context():
        try:
            return poller.poll_due(now)
        finally:
            db.session.remove()


def state_of(app, mailbox_id):
    with app.app_context(), account_scope(UNSCOPED):
        row = db.session.get(Mailbox, mailbox_id)
        data = {c.name: getattr(row, c.name) for c in Mailbox.__table__.columns}
        db.session.remove()
    return data


def tickets(app, world):
    with app.app_context(), account_scope(world.account_id):
        rows = db.session.scalars(select(Ticket).order_by(Ticket.id)).all()
        data = [{"id": t.id, "subject": t.subject, "description": t.description,
                 "requester_id": t.requester_id, "department_id": t.department_id,
                 "service_id": t.service_id,
                 "files": sorted(a.filename for a in db.session.scalars(
                     select(Attachment).where(Attachment.ticket_id == t.id)))}
                for t in rows]
        db.session.remove()
    return data


def messages_of(app, ticket_id):
    with app.app_context(), account_scope(UNSCOPED):
        rows = db.session.scalars(select(TicketMessage).where(
            TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)).all()
        data = [{"author_id": m.author_id, "body": m.body,
                 "files": [a.filename for a in m.attachments]} for m in rows]
        db.session.remove()
    return data


def new_mail(sender, subject, text, *, to="atendimento@alfa.example", files=(),
             headers=None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Fulano <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="cliente.example")
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    for name, data, content_type in files:
        maintype, subtype = content_type.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def later(seconds):
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)


def test_a_reply_in_the_mailbox_becomes_one_message_with_its_file_and_is_moved(
        app, world, imap_server, mailbox, smtp):  # noqa: F811
    """End to end: a real notification (sent to aiosmtpd) answered from a reader, the
    answer delivered to the company's mailbox, taken by the poller."""
    user, mailbox_id = mailbox
    set_all(app, world, recipients=("requester", "assignee"))
    ticket_id = make_ticket(app, world, "waiting")
    drain(app)
    (sender,) = emails(app, world, "requester")
    (notification,) = [email.message_from_bytes(m["raw"], policy=policy.default)
                       for m in smtp.received() if m["rcpt_tos"] == [sender]][-1:]
    raw = reply(notification, sender=sender, text="Segue o print.",
                attachments=[("erro.png", png(), "image/png")]).as_bytes()
    imap_server.append(user, raw)

    assert poll(app)[mailbox_id]["state"] == "ok"
    (message,) = messages_of(app, ticket_id)
    assert message["author_id"] == world.users["requester"]
    assert message["body"] == "Segue o print."
    assert message["files"] == ["erro.png"]
    assert load_ticket(app, world, ticket_id)["status"] == "in_progress"   # resumed
    assert imap_server.messages(user) == []
    assert len(imap_server.messages(user, "Processados")) == 1

    # The same mail delivered again (a copy back in the inbox): still one message.
    imap_server.append(user, raw)
    assert poll(app, later(61))[mailbox_id] == {"state": "ok", "processed": 1,
                                                 "rejected": 0, "left": 0}
    assert len(messages_of(app, ticket_id)) == 1
    assert len(imap_server.messages(user, "Processados")) == 2
    assert state_of(app, mailbox_id)["state"] == "ok"


def test_new_mail_from_a_member_opens_a_ticket_in_the_mailbox_department_and_service(
        app, world, imap_server, mailbox):
    user, mailbox_id = mailbox
    (sender,) = emails(app, world, "requester2")
    raw = new_mail(sender.upper(), "Impressora sem toner", "A impressora do 2º andar "
                   "está sem toner.\nPodem trocar?", files=[
                       ("foto.png", png(), "image/png"), ("lista.txt", b"toner 85A\n",
                                                          "text/plain"),
                       ("nota.pdf", b"MZ\x90\x00" + b"\x00" * 200, "application/pdf")])
    imap_server.append(user, raw)
    assert poll(app)[mailbox_id]["processed"] == 1
    (ticket,) = tickets(app, world)
    assert ticket["requester_id"] == world.users["requester2"]
    assert (ticket["department_id"], ticket["service_id"]) == (world.departments["TI"],
                                                               world.services["Acesso"])
    assert ticket["subject"] == "Impressora sem toner"
    assert "está sem toner." in ticket["description"] and "Podem trocar?" in \
        ticket["description"]
    assert ticket["files"] == ["foto.png", "lista.txt"]
    assert len(imap_server.messages(user, "Processados")) == 1

    # Taken twice (a second poller, or the mail copied back): one ticket.
    imap_server.append(user, raw)
    poll(app, later(61))
    assert len(tickets(app, world)) == 1
    with app.app_context(), account_scope(world.account_id):
        logged = db.session.scalars(select(InboundMail)).all()
        assert [(r.status, r.reason, r.ticket_id) for r in logged] == [
            ("taken", "ticket_opened", ticket["id"])]
        assert "nota.pdf" in logged[0].detail   # the file whose type lies: left out
        db.session.remove()


def test_an_unknown_sender_is_answered_politely_and_moved_to_rejected(
        app, world, imap_server, mailbox, smtp):  # noqa: F811
    user, mailbox_id = mailbox
    raw = new_mail("estranho@fora.example", "Orçamento", "Quero um orçamento.")
    imap_server.append(user, raw)
    # An auto-reply from an unknown address is set aside and never answered.
    imap_server.append(user, new_mail("robo@fora.example", "Ausente", "Estou de férias.",
                                      headers={"Auto-Submitted": "auto-replied"}))
    assert poll(app)[mailbox_id]["rejected"] == 2
    assert tickets(app, world) == []
    assert imap_server.messages(user) == []
    assert len(imap_server.messages(user, "Recusados")) == 2
    (answer,) = outbox(app)
    assert answer["event"] == "mailbox_rejected"
    assert answer["recipient_email"] == "estranho@fora.example"
    drain(app)
    (received,) = smtp.received()
    mail = email.message_from_bytes(received["raw"], policy=policy.default)
    assert received["rcpt_tos"] == ["estranho@fora.example"]
    assert mail["Subject"] == "Re: Orçamento"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["In-Reply-To"] == email.message_from_bytes(raw)["Message-ID"]
    assert "não é de uma pessoa cadastrada" in mail.get_body(("plain",)).get_content()

    # The same mail again is not answered twice.
    imap_server.append(user, raw)
    poll(app, later(61))
    assert len(outbox(app)) == 1
    assert len(imap_server.messages(user, "Recusados")) == 3


def test_a_mailbox_that_is_down_is_retried_with_back_off_then_taken(
        app, world, imap_server, mailbox, caplog):
    user, mailbox_id = mailbox
    (sender,) = emails(app, world, "requester")
    imap_server.append(user, new_mail(sender, "Sem rede", "A rede caiu."))
    start = later(0)
    imap_server.pause()
    try:
        with caplog.at_level(logging.WARNING):
            first = poll(app, start)[mailbox_id]
            assert first["state"] == "error" and first["retry_in"] == 60
            assert poll(app, start + dt.timedelta(seconds=30)) == {}   # waits its turn
            second = poll(app, start + dt.timedelta(seconds=61))[mailbox_id]
            assert second["retry_in"] == 120
        state = state_of(app, mailbox_id)
        assert state["state"] == "error" and state["failures"] == 2
        assert "inacessível" in state["last_error"]
        assert not [r for r in caplog.records if r.exc_info]   # no traceback spam
    finally:
        imap_server.resume()
    assert poll(app, start + dt.timedelta(seconds=61 + 119)) == {}
    back = poll(app, start + dt.timedelta(seconds=61 + 121))[mailbox_id]
    assert back["state"] == "ok" and back["processed"] == 1
    assert [t["subject"] for t in tickets(app, world)] == ["Sem rede"]
    state = state_of(app, mailbox_id)
    assert (state["state"], state["failures"], state["last_error"]) == ("ok", 0, None)


def test_a_wrong_password_is_shown_and_retried_without_a_crash(
        app, world, imap_server, inbound, web, caplog):
    user, _ = imap_server.new_user()
    mailbox_id = save(app, world, imap_server, user, password="Senha-errada-91c4")
    imap_server.append(user, new_mail("x@fora.example", "Oi", "Oi"))
    with caplog.at_level(logging.WARNING):
        result = poll(app)[mailbox_id]
    assert result["state"] == "auth_error"
    assert not [r for r in caplog.records if r.exc_info]
    page = web("alfa_admin").get("/conta/caixa-de-email/").get_data(as_text=True)
    assert "Login recusado" in page and "Senha-errada-91c4" not in page
    assert len(imap_server.messages(user)) == 1     # nothing taken, nothing lost

    # The right password (and a folder with an accent): tried again at once.
    save(app, world, imap_server, user, rejected_folder="Recusados/Não cadastrados")
    assert poll(app)[mailbox_id]["state"] == "ok"
    assert len(imap_server.messages(user, "Recusados/N&AOM-o cadastrados")) == 1


def test_a_mailbox_on_an_internal_address_is_refused_unless_allowed(
        app, world, imap_server, mailbox, monkeypatch):
    user, mailbox_id = mailbox
    imap_server.append(user, new_mail("x@fora.example", "Oi", "Oi"))
    monkeypatch.setitem(app.config, "MAILBOX_ALLOW_PRIVATE_HOSTS", False)
    result = poll(app)[mailbox_id]
    assert result["state"] == "error" and "rede interna" in result["error"]
    assert len(imap_server.messages(user)) == 1
    monkeypatch.setitem(app.config, "MAILBOX_ALLOW_PRIVATE_HOSTS", True)
    assert poll(app, later(61))[mailbox_id]["state"] == "ok"


def test_two_pollers_never_take_one_mailbox_at_once_and_flask_jobs_runs_the_poller(
        app, world, imap_server, mailbox):
    from app import jobs

    _, mailbox_id = mailbox
    now = later(0)
    with app.app_context():
        assert poller._claim(mailbox_id, now) is True
        assert poller._claim(mailbox_id, now) is False      # the second process
        assert poller.poll_due(now) == {}
        db.session.remove()
    jobs._load_jobs()
    assert poller.poll_mailboxes in [func for _, func in jobs._JOBS]


def test_a_mail_whose_ticket_cannot_be_written_is_left_unseen_and_taken_next_round(
        app, world, imap_server, mailbox, monkeypatch, tmp_path):
    """All or nothing: the files cannot be stored (the upload folder is broken), so no
    ticket, no log row, and the mail stays in the inbox for the next round."""
    user, mailbox_id = mailbox
    (sender,) = emails(app, world, "requester")
    imap_server.append(user, new_mail(sender, "Com anexo", "Veja o anexo.",
                                      files=[("foto.png", png(), "image/png")]))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    good_folder = app.config["UPLOAD_FOLDER"]
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(blocker / "uploads"))
    assert poll(app)[mailbox_id] == {"state": "ok", "processed": 0, "rejected": 0,
                                      "left": 1}
    assert tickets(app, world) == []
    with app.app_context(), account_scope(UNSCOPED):
        assert db.session.scalars(select(InboundMail)).all() == []
        db.session.remove()
    assert len(imap_server.messages(user)) == 1

    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", good_folder)
    assert poll(app, later(61))[mailbox_id]["processed"] == 1
    (ticket,) = tickets(app, world)
    assert ticket["files"] == ["foto.png"]
    assert imap_server.messages(user) == []


def test_tls_certificates_are_checked_over_ssl_and_starttls(
        app, world, imap_server, inbound, monkeypatch):
    user, _ = imap_server.new_user()
    mailbox_id = save(app, world, imap_server, user, security="ssl",
                      port=str(imap_server.ssl_port))
    imap_server.append(user, new_mail("x@fora.example", "Oi", "Oi"))
    refused = poll(app)[mailbox_id]   # a certificate no CA of the system signed
    assert refused["state"] == "error" and "Falha no TLS" in refused["error"]
    assert "CERTIFICATE_VERIFY_FAILED" in refused["error"]
    assert len(imap_server.messages(user)) == 1

    monkeypatch.setitem(app.config, "MAILBOX_CA_FILE", imap_server.cert_file)
    assert poll(app, later(61))[mailbox_id] == {"state": "ok", "processed": 0,
                                                 "rejected": 1, "left": 0}
    save(app, world, imap_server, user, security="starttls", port=str(imap_server.port))
    imap_server.append(user, new_mail("y@fora.example", "Olá", "Olá"))
    assert poll(app)[mailbox_id]["rejected"] == 1
    assert len(imap_server.messages(user, "Recusados")) == 2


def test_a_member_who_may_not_open_tickets_is_set_aside_without_an_answer(
        app, world, imap_server, mailbox):
    user, mailbox_id = mailbox
    (attendant,) = emails(app, world, "attendant")
    imap_server.append(user, new_mail(attendant, "Teste", "Sou atendente."))
    assert poll(app)[mailbox_id]["rejected"] == 1
    assert tickets(app, world) == [] and outbox(app) == []
    with app.app_context(), account_scope(world.account_id):
        (row,) = db.session.scalars(select(InboundMail)).all()
        assert (row.reason, row.member_id) == ("mailbox_not_allowed", world.users["attendant"])
        assert "sem o perfil de solicitante" in row.detail
        db.session.remove()
    assert len(imap_server.messages(user, "Recusados")) == 1
