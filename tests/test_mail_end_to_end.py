"""A notification goes out, the requester answers it from their mail reader, Postfix's
pipe hands the answer to the site over real HTTP, and the ticket gets exactly one
message with the attachment; the attendant sees it on the ticket page.

Real parts only: the workflow writes the mail, the sender delivers it to aiosmtpd on
loopback, the answer quotes it under a pt-BR Gmail attribution and carries a PNG, and
``deploy/postfix/gestor-inbound-mail`` (the script docs/inbound-mail.md installs as
the pipe transport) posts it with curl to the app served on loopback. Screenshot:
test-artifacts/email-resposta-<backend>.png.
"""
import os
import subprocess

import pytest

from tests.conftest import screenshot
from tests.helpers import load_ticket, make_ticket
from tests.mail_replies import drain, png, reply
from tests.smtp_server import emails, set_all, smtp  # noqa: F401
from tests.test_mail_intake import DOMAIN, log_rows, messages_of, notification_for

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "deploy", "postfix", "gestor-inbound-mail")
TOKEN = "token-do-postfix-com-bastante-entropia-456"
ANSWER = "Segue o print da tela de erro.\nAbraço, Fulano"


@pytest.fixture
def piped(app, live_server, monkeypatch, tmp_path):
    """run(raw) -> the pipe script's exit code, as Postfix would run it."""
    monkeypatch.setitem(app.config, "INBOUND_MAIL_DOMAIN", DOMAIN)
    monkeypatch.setitem(app.config, "INBOUND_MAIL_TOKEN", TOKEN)
    curlrc = tmp_path / "inbound-mail.curlrc"

    def run(raw: bytes, token: str = TOKEN) -> int:
        curlrc.write_text(f'url = "{live_server}/api/v1/inbound-mail"\n'
                          f'header = "Authorization: Bearer {token}"\n')
        done = subprocess.run([SCRIPT], input=raw, capture_output=True, timeout=60,
                              env={"PATH": os.environ["PATH"],
                                   "GESTOR_INBOUND_CURLRC": str(curlrc)})
        return done.returncode

    return run


def _answered_ticket(app, world, smtp, piped):
    set_all(app, world, recipients=("requester", "assignee"))
    ticket_id = make_ticket(app, world, "waiting")   # the attendant asked for a print
    drain(app)
    mail = notification_for(app, world, smtp)
    assert "Envie o print do erro." in mail.get_body(("plain",)).get_content()
    (sender,) = emails(app, world, "requester")
    raw = reply(mail, sender=sender, text=ANSWER,
                attachments=[("print-do-erro.png", png(40, 30), "image/png")]).as_bytes()
    assert piped(raw, token="errado") == 75       # misconfigured: Postfix keeps it
    assert messages_of(app, ticket_id) == []
    assert piped(raw) == 0
    assert piped(raw) == 0                        # Postfix's retry of the same mail
    return ticket_id


def test_an_answered_notification_becomes_exactly_one_message_with_its_file(
        app, world, smtp, piped):
    ticket_id = _answered_ticket(app, world, smtp, piped)
    (message,) = messages_of(app, ticket_id)
    assert message["body"] == ANSWER             # no quote, no attribution
    assert message["author_id"] == world.users["requester"]
    assert [f[:2] for f in message["files"]] == [("print-do-erro.png", "image/png")]
    assert load_ticket(app, world, ticket_id)["status"] == "in_progress"
    assert [row[:2] for row in log_rows(app)] == [("taken", "taken")]
    smtp.clear()
    drain(app)
    (attendant,) = emails(app, world, "attendant")
    assert smtp.recipients() == [attendant]      # the attendant is told, by mail


def test_the_reply_shows_on_the_ticket_page(app, world, smtp, piped, page_for, backend):
    ticket_id = _answered_ticket(app, world, smtp, piped)
    page = page_for("alfa_attendant")
    page.goto(f"/chamados/{ticket_id}")
    bubble = page.locator(".chat-bubble.from-requester")
    assert bubble.count() == 1
    text = bubble.inner_text()
    assert "Segue o print da tela de erro." in text and "Abraço, Fulano" in text
    assert "escreveu" not in text and "Envie o print" not in page.locator("#chat").inner_text()
    assert "print-do-erro.png" in text
    assert page.locator("#message-count").inner_text() == "1"
    screenshot(page, f"email-resposta-{backend}")
