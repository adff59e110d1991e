"""Outgoing mail of one ticket is one thread with a signed reply address per person.

The mails go through the real sender into aiosmtpd on loopback and are read back with
Python's ``email`` parser, the way a mail reader sees them.
"""
import email
import email.utils
from email import policy

import pytest
from sqlalchemy import select

from app.extensions import db
from app.mail_in import threads
from app.models import Account, NotificationSetting
from app.tenancy import account_scope
from tests.helpers import make_ticket
from tests.mail_replies import drain
from tests.smtp_server import act, emails, set_all, smtp  # noqa: F401

DOMAIN = "respostas.gestor.test"


@pytest.fixture
def inbound(app, monkeypatch):
    monkeypatch.setitem(app.config, "INBOUND_MAIL_DOMAIN", DOMAIN)
    return DOMAIN


def _requester_mails(app, world, smtp):
    (address,) = emails(app, world, "requester")
    raw = [m["raw"] for m in smtp.received() if m["rcpt_tos"] == [address]]
    return [email.message_from_bytes(r, policy=policy.default) for r in raw]


def test_five_mails_of_a_ticket_chain_to_one_root_with_one_subject(app, world, smtp,
                                                                    inbound):
    set_all(app, world, recipients=("requester",))
    ticket_id = make_ticket(app, world, "open")
    for action, who, note in (("assume", "attendant", None), ("start", "attendant", None),
                              ("message", "attendant", "Pode reiniciar o computador?"),
                              ("conclude", "attendant", "Senha redefinida.")):
        act(app, world, ticket_id, action, who, note)
    drain(app)
    mails = _requester_mails(app, world, smtp)
    assert len(mails) == 5   # receipt, assumed, started, message, concluded

    ids = [m["Message-ID"] for m in mails]
    assert len(set(ids)) == 5
    roots = {m["References"].split()[0] for m in mails}
    assert len(roots) == 1
    (root,) = roots
    assert root not in ids and root.startswith(f"<chamado-{ticket_id}-")
    # Each one answers the one before it: a chain from the root, in sending order.
    assert mails[0]["In-Reply-To"] == root
    for previous, current in zip(mails, mails[1:]):
        assert current["In-Reply-To"] == previous["Message-ID"]
        assert current["References"].split() == [root, previous["Message-ID"]]

    with app.app_context(), account_scope(world.account_id):
        company = db.session.get(Account, world.account_id).name
        expected_reply = threads.reply_address(ticket_id, world.users["requester"])
        db.session.remove()
    subjects = {m["Subject"] for m in mails}
    assert subjects == {f"[Chamado #{ticket_id}] Preciso de acesso ao sistema financeiro."}
    for m in mails:
        name, address = email.utils.parseaddr(m["From"])
        assert name == company and address == "nao-responda@gestor.local"
        assert m["Reply-To"] == expected_reply
        assert m["Reply-To"].endswith("@" + DOMAIN)
        assert m["Auto-Submitted"] == "auto-generated"

    conclusion = mails[-1].get_body(("plain",)).get_content()
    link = f"http://127.0.0.1:8080/chamados/{ticket_id}"
    assert f"Aprovar / Reprovar o encerramento: {link}#conclusao" in conclusion
    assert f"pesquisa de satisfação: {link}#pesquisa" in conclusion
    html = mails[-1].get_body(("html",)).get_content()
    assert f'href="{link}#conclusao"' in html and f'href="{link}#pesquisa"' in html


def test_each_recipient_has_its_own_signed_address_that_cannot_be_altered(app, world, smtp,
                                                                          inbound):
    set_all(app, world, recipients=("requester", "department_attendants"))
    ticket_id = make_ticket(app, world, "open")
    drain(app)
    replies = {m["rcpt_tos"][0]: m["message"]["Reply-To"] for m in smtp.received()}
    assert len(replies) == 3 and len(set(replies.values())) == 3
    with app.app_context():
        for address in replies.values():
            ticket, member = threads.verify_reply_address(address)
            assert ticket == ticket_id
            local, _, host = address.partition("@")
            prefix, signature = local.rsplit("-", 1)
            other = f"{prefix.rsplit('-', 1)[0]}-{member + 1}-{signature}@{host}"
            assert threads.verify_reply_address(other) is None
            flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
            assert threads.verify_reply_address(f"{prefix}-{flipped}@{host}") is None
            assert threads.verify_reply_address(address.upper()) == (ticket, member)
            assert threads.verify_reply_address(f"{local}@outro.example") is None
    # Another key (another installation) signs differently.
    app.config["SECRET_KEY"], key = "another-secret-key-with-32-bytes-or-more", \
        app.config["SECRET_KEY"]
    try:
        with app.app_context():
            assert all(threads.verify_reply_address(a) is None for a in replies.values())
    finally:
        app.config["SECRET_KEY"] = key


def test_without_an_inbound_domain_there_is_no_reply_to_and_the_footer_says_so(
        app, world, smtp):
    set_all(app, world, recipients=("requester",))
    make_ticket(app, world, "open")
    drain(app)
    (item,) = smtp.received()
    assert item["message"]["Reply-To"] is None
    assert "não responda a este e-mail" in item["message"].get_body(("plain",)).get_content()


def test_releasing_a_ticket_mails_the_departments_other_attendants_in_the_thread(
        app, world, smtp, inbound):
    from app import accounts

    with app.app_context(), account_scope(world.account_id):   # the account's defaults
        for row in db.session.scalars(select(NotificationSetting)):
            default = accounts.default_notification_setting(world.account_id, row.event)
            row.enabled = True
            for r in ("requester", "assignee", "department_attendants", "managers"):
                setattr(row, f"to_{r}", getattr(default, f"to_{r}"))
        db.session.commit()
        db.session.remove()
    ticket_id = make_ticket(app, world, "assumed")
    drain(app)
    smtp.clear()
    act(app, world, ticket_id, "release", "attendant")
    drain(app)
    (item,) = smtp.received()
    assert item["rcpt_tos"] == sorted(emails(app, world, "attendant2"))
    message = item["message"]
    assert message["Subject"] == f"[Chamado #{ticket_id}] Preciso de acesso ao sistema " \
                                 "financeiro."
    assert "devolveu o chamado" in message.get_body(("plain",)).get_content()
    assert message["References"].split()[0].startswith(f"<chamado-{ticket_id}-")
    # ...and the previous mail to that attendant (the opening) is what it answers.
    assert message["In-Reply-To"].startswith("<ticket_opened.")


def test_a_hostile_company_name_is_only_the_display_name(app, world, smtp):
    with app.app_context(), account_scope(world.account_id):
        db.session.get(Account, world.account_id).name = \
            'Empresa "Ação" <chefe@evil.example>\r\nBcc: intruso@evil.example'
        db.session.commit()
        db.session.remove()
    set_all(app, world, recipients=("requester",))
    make_ticket(app, world, "open")
    drain(app)
    (item,) = smtp.received()
    assert item["rcpt_tos"] == sorted(emails(app, world, "requester"))
    message = item["message"]
    assert message["Bcc"] is None and len(message.get_all("From")) == 1
    name, address = email.utils.parseaddr(message["From"])
    assert address == "nao-responda@gestor.local"
    # (a long encoded name is folded into several encoded words: compare without spaces)
    assert name.replace(" ", "") == "EmpresaAçãochefeevil.exampleBccintrusoevil.example"
    assert "@" not in message["From"].split("<")[0]
