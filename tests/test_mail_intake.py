"""take_mail: a reply becomes one message by its person; everything else is logged
and ignored or refused, with nothing half-written (app/mail_in/intake.py).

The notifications are real (the workflow writes them, the sender delivers them to
aiosmtpd on loopback); replies answer those received mails.
"""
import email
from email import policy

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.mail_in import intake
from app.mail_in.models import InboundMail
from app.models import Attachment, OutboxMail, TicketMessage
from app.tenancy import UNSCOPED, account_scope
from tests.helpers import load_ticket, make_ticket
from tests.mail_replies import drain, png, reply
from tests.smtp_server import act, emails, set_all, smtp  # noqa: F401

DOMAIN = "respostas.gestor.test"


@pytest.fixture
def inbound(app, monkeypatch):
    monkeypatch.setitem(app.config, "INBOUND_MAIL_DOMAIN", DOMAIN)
    return DOMAIN


def notification_for(app, world, smtp, who="requester"):
    (address,) = emails(app, world, who)
    received = [m for m in smtp.received() if m["rcpt_tos"] == [address]]
    assert received, f"no mail for {who}"
    return email.message_from_bytes(received[-1]["raw"], policy=policy.default)


def take(app, message, source="test"):
    raw = message if isinstance(message, bytes) else message.as_bytes()
    with app.app_context():
        try:
            return intake.take_mail(raw, source=source)
        finally:
            db.session.remove()


def messages_of(app, ticket_id):
    with app.app_context(), account_scope(UNSCOPED):
        rows = db.session.scalars(select(TicketMessage).where(
            TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)).all()
        data = [{"author_id": m.author_id, "body": m.body,
                 "files": [(a.filename, a.content_type, a.size) for a in m.attachments]}
                for m in rows]
        db.session.remove()
    return data


def log_rows(app):
    with app.app_context(), account_scope(UNSCOPED):
        rows = db.session.scalars(select(InboundMail).order_by(InboundMail.id)).all()
        data = [(r.status, r.reason, r.account_id) for r in rows]
        db.session.remove()
    return data


@pytest.fixture
def waiting(app, world, smtp, inbound):
    """A ticket waiting on its requester, and the requester's mail asking for a file."""
    set_all(app, world, recipients=("requester", "assignee"))
    ticket_id = make_ticket(app, world, "waiting")
    drain(app)
    return ticket_id, notification_for(app, world, smtp)


def test_a_requester_reply_becomes_one_message_resumes_the_ticket_and_notifies(
        app, world, smtp, waiting):
    ticket_id, mail = waiting
    (sender,) = emails(app, world, "requester")
    answer = reply(mail, sender=sender.upper(), text="Segue o print do erro.\n\nObrigado!",
                   attachments=[("erro.png", png(), "image/png")])
    smtp.clear()
    result = take(app, answer)
    assert (result.status, result.reason, result.ticket_id) == ("taken", "taken", ticket_id)
    (message,) = messages_of(app, ticket_id)
    assert message["author_id"] == world.users["requester"]
    assert message["body"] == "Segue o print do erro.\n\nObrigado!"
    assert message["files"] == [("erro.png", "image/png", len(png()))]
    assert load_ticket(app, world, ticket_id)["status"] == "in_progress"
    drain(app)
    (attendant,) = emails(app, world, "attendant")
    assert smtp.recipients() == [attendant]     # the usual requester_message mail
    # The same mail again (an MTA retry) is the same message, not a second one.
    again = take(app, answer)
    assert (again.status, again.reason, again.message_id) == ("ignored", "duplicate",
                                                             result.message_id)
    assert len(messages_of(app, ticket_id)) == 1
    assert log_rows(app) == [("taken", "taken", world.account_id)]
    with app.app_context(), account_scope(UNSCOPED):
        row = db.session.scalars(select(InboundMail)).one()
        assert (row.ticket_id, row.ticket_message_id, row.attachments) == (
            ticket_id, result.message_id, 1)
        db.session.remove()


def test_the_assignee_replies_by_mail_too_but_not_from_another_address(
        app, world, smtp, inbound):
    set_all(app, world, recipients=("requester", "assignee"))
    ticket_id = make_ticket(app, world, "in_progress")
    act(app, world, ticket_id, "message", "requester", "Alguma novidade?")
    drain(app)
    mail = notification_for(app, world, smtp, "attendant")
    (attendant,) = emails(app, world, "attendant")
    forged = take(app, reply(mail, sender="intruso@evil.example", text="Pode fechar."))
    assert (forged.status, forged.reason) == ("ignored", "sender_mismatch")
    other = take(app, reply(mail, sender=emails(app, world, "requester").pop(),
                            text="Eu mesmo respondo."))
    assert other.reason == "sender_mismatch"
    result = take(app, reply(mail, sender=attendant, text="Estou verificando."))
    assert result.taken
    bodies = [m["body"] for m in messages_of(app, ticket_id)]
    assert bodies == ["Alguma novidade?", "Estou verificando."]


def test_altered_or_unknown_reply_addresses_write_nothing_but_the_log(
        app, world, smtp, waiting):
    ticket_id, mail = waiting
    (sender,) = emails(app, world, "requester")
    good = mail["Reply-To"]
    local, _, host = good.partition("@")
    prefix, signature = local.rsplit("-", 1)
    parts = prefix.split("-")   # chamado, ticket, member
    altered = f"{parts[0]}-{parts[1]}-{world.users['attendant']}-{signature}@{host}"
    results = [take(app, reply(mail, sender=sender, text="Oi", to=altered)),
               take(app, reply(mail, sender=sender, text="Oi", to=f"{local}@outro.example")),
               take(app, reply(mail, sender=sender, text="Oi",
                               to=f"chamado-{ticket_id}-1-{'0' * 20}@{host}"))]
    assert [(r.status, r.reason) for r in results] == [
        ("ignored", "forged_address"), ("ignored", "unknown_address"),
        ("ignored", "forged_address")]
    assert messages_of(app, ticket_id) == []
    assert load_ticket(app, world, ticket_id)["status"] == "waiting"
    assert [row[2] for row in log_rows(app)] == [None, None, None]  # no account named


@pytest.mark.parametrize("headers", [
    {"Auto-Submitted": "auto-replied"},
    {"Precedence": "bulk"},
    {"X-Autoreply": "yes"},
    {"List-Id": "<lista.example>"},
    {"Return-Path": "<>"},
], ids=["auto-submitted", "precedence", "x-autoreply", "list", "bounce"])
def test_automatic_mail_is_ignored_and_never_answered(app, world, smtp, headers):
    app.config["INBOUND_MAIL_DOMAIN"] = DOMAIN
    try:
        set_all(app, world, recipients=("requester",))
        ticket_id = make_ticket(app, world, "closed")
        drain(app)
        mail = notification_for(app, world, smtp)
        (sender,) = emails(app, world, "requester")
        with app.app_context(), account_scope(UNSCOPED):
            before = db.session.scalar(select(func.count()).select_from(OutboxMail))
            db.session.remove()
        result = take(app, reply(mail, sender=sender, text="Estou fora do escritório.",
                                 headers=headers))
        assert (result.status, result.reason) == ("ignored", "automatic")
        with app.app_context(), account_scope(UNSCOPED):
            after = db.session.scalar(select(func.count()).select_from(OutboxMail))
            db.session.remove()
        assert after == before       # no answer to a robot, even on a closed ticket
        assert messages_of(app, ticket_id) == []
    finally:
        app.config["INBOUND_MAIL_DOMAIN"] = None


def test_a_delivery_report_is_ignored(app, world, smtp, waiting):
    ticket_id, mail = waiting
    report = (f"From: MAILER-DAEMON@mx.example\r\nTo: {mail['Reply-To']}\r\n"
              "Subject: Undelivered Mail\r\nMessage-ID: <dsn1@mx.example>\r\n"
              "MIME-Version: 1.0\r\nContent-Type: multipart/report; "
              "report-type=delivery-status; boundary=b\r\n\r\n--b\r\n"
              "Content-Type: text/plain\r\n\r\nFalhou.\r\n--b\r\n"
              "Content-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--b--\r\n")
    assert take(app, report.encode()).reason == "automatic"
    assert messages_of(app, ticket_id) == []


def test_a_reply_to_a_closed_ticket_gets_one_short_answer_pointing_to_abrir_chamado(
        app, world, smtp, inbound):
    set_all(app, world, recipients=("requester",))
    ticket_id = make_ticket(app, world, "in_progress")
    drain(app)
    mail = notification_for(app, world, smtp)
    act(app, world, ticket_id, "conclude", "attendant", "Feito.")
    act(app, world, ticket_id, "approve", "requester")
    drain(app)
    smtp.clear()
    (sender,) = emails(app, world, "requester")
    first = take(app, reply(mail, sender=sender, text="Voltou a dar erro."))
    second = take(app, reply(mail, sender=sender, text="Ainda com erro."))
    assert [r.reason for r in (first, second)] == ["ticket_closed", "ticket_closed"]
    assert messages_of(app, ticket_id) == []
    drain(app)
    (answer,) = smtp.received()       # one answer a day, not one per mail
    message = answer["message"]
    assert answer["rcpt_tos"] == [sender]
    assert message["Subject"].startswith(f"[Chamado #{ticket_id}]")
    assert message["Reply-To"] is None and message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(("plain",)).get_content()
    assert "encerrado" in text and "Abrir chamado" in text and "/cliente/abrir" in text


def test_an_attachment_whose_type_lies_is_dropped_and_the_text_kept(app, world, smtp,
                                                                     waiting):
    ticket_id, mail = waiting
    (sender,) = emails(app, world, "requester")
    result = take(app, reply(mail, sender=sender, text="Dois arquivos.", attachments=[
        ("relatorio.pdf", b"MZ\x90\x00 isto e um executavel", "application/pdf"),
        ("foto.png", png(), "image/png"),
        ("script.html", b"<script>alert(1)</script>", "text/html")]))
    assert result.taken
    (message,) = messages_of(app, ticket_id)
    assert message["files"] == [("foto.png", "image/png", len(png()))]
    assert "relatorio.pdf" in result.detail and "script.html" in result.detail
    with app.app_context():
        import os
        assert len(os.listdir(app.config["UPLOAD_FOLDER"])) == 1   # no leftovers


def test_a_failure_while_posting_leaves_no_message_no_file_and_no_log_of_taking(
        app, world, smtp, waiting, monkeypatch):
    ticket_id, mail = waiting
    (sender,) = emails(app, world, "requester")
    from app import notifications

    def broken(*args, **kwargs):
        raise RuntimeError("banco caiu no meio")

    with monkeypatch.context() as patch, pytest.raises(RuntimeError):
        patch.setattr(notifications, "enqueue", broken)
        take(app, reply(mail, sender=sender, text="Com anexo.",
                        attachments=[("foto.png", png(), "image/png")]))
    import os
    assert os.listdir(app.config["UPLOAD_FOLDER"]) == []
    assert messages_of(app, ticket_id) == [] and log_rows(app) == []
    with app.app_context(), account_scope(UNSCOPED):
        assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
        db.session.remove()
    # The next attempt (the MTA retries) takes it whole.
    assert take(app, reply(mail, sender=sender, text="Com anexo.",
                           attachments=[("foto.png", png(), "image/png")])).taken


def test_a_sender_over_the_hourly_limit_is_ignored(app, world, smtp, waiting, monkeypatch):
    ticket_id, mail = waiting
    monkeypatch.setitem(app.config, "INBOUND_MAIL_PER_HOUR", 3)
    (sender,) = emails(app, world, "requester")
    results = [take(app, reply(mail, sender=sender, text=f"Mensagem {i}")).reason
               for i in range(5)]
    assert results == ["taken", "taken", "taken", "rate_limited", "rate_limited"]
    assert len(messages_of(app, ticket_id)) == 3


def test_a_mailbox_gets_the_parsed_mail_of_what_is_not_a_reply(app, world):
    class Mailbox:
        account_id, department_id, service_id = world.account_id, 1, 1

    raw = (b"From: Fulano <requester@alfa.example>\r\nTo: suporte@alfa.example\r\n"
           b"Subject: Impressora parada\r\nMessage-ID: <novo1@alfa.example>\r\n\r\n"
           b"A impressora do 2o andar parou.\r\n")
    with app.app_context():
        result = intake.take_mail(raw, source="imap", mailbox=Mailbox())
        db.session.remove()
    assert (result.status, result.reason) == ("ignored", "not_a_reply")
    assert result.parsed.subject == "Impressora parada"
    assert result.parsed.full_text == "A impressora do 2o andar parou."
    assert log_rows(app) == []      # the mailbox code records what it does with it
    plain = take(app, raw)
    assert plain.reason == "unknown_address" and log_rows(app) == [
        ("ignored", "unknown_address", None)]
