"""Hostile text in a ticket reaches mail as harmless text (shared/HOSTILE.md).

A description or message with CR/LF + ``Bcc:`` must not add a header or a recipient,
the subject stays one line, and HTML arrives escaped in the HTML part.
"""
from app.extensions import db
from app.notifications import one_line
from app.tenancy import account_scope
from tests.helpers import make_ticket
from tests.smtp_server import act, drain, emails, outbox, set_all, smtp  # noqa: F401

HOSTILE = ("Impressora\r\nBcc: intruso@evil.example\r\nX-Injetado: sim\n\n"
           "<script>alert('x')</script> \"><svg onload=alert(1)> <b>negrito</b>")


def _check(item, legit: set[str]):
    message = item["message"]
    assert item["rcpt_tos"][0] in legit and len(item["rcpt_tos"]) == 1
    assert message["Bcc"] is None and message["X-Injetado"] is None
    subject = message["Subject"]
    assert "\r" not in subject and "\n" not in subject
    head = item["raw"].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    starts = [line.split(b":", 1)[0].lower() for line in head.split(b"\n")
              if line and not line[:1].isspace()]
    assert b"bcc" not in starts and b"x-injetado" not in starts
    assert starts.count(b"subject") == starts.count(b"to") == 1
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "<svg" not in html and "<b>negrito" not in html
    assert "&lt;script&gt;" in html
    text = message.get_body(("plain",)).get_content()
    assert "<script>alert('x')</script>" in text  # plain text keeps the words as typed


def test_crlf_and_html_in_the_description_are_one_harmless_subject_and_escaped_body(
        app, world, smtp):
    set_all(app, world)
    make_ticket(app, world, "open", description=HOSTILE)
    with app.app_context(), account_scope(world.account_id):   # a typed subject, too
        from app import workflow
        from app.models import Member

        workflow.open_ticket(db.session.get(Member, world.users["requester"]),
                             department_id=world.departments["TI"],
                             service_id=world.services["Acesso"], priority="low",
                             subject="Oi\r\nBcc: intruso@evil.example", description=HOSTILE)
        db.session.remove()
    drain(app)
    received = smtp.received()
    legit = emails(app, world, "requester", "attendant", "attendant2", "admin", "manager")
    assert sorted(r for m in received for r in m["rcpt_tos"]) == sorted(list(legit) * 2)
    for item in received:
        _check(item, legit)
    assert any("Bcc: intruso@evil.example" in item["message"]["Subject"]  # as text
               for item in received)
    assert all("\n" not in r["subject"] and "\r" not in r["subject"] for r in outbox(app))


def test_crlf_and_html_in_a_message_are_escaped(app, world, smtp):
    set_all(app, world, recipients=("assignee",))
    ticket_id = make_ticket(app, world, "in_progress")
    smtp.clear()
    act(app, world, ticket_id, "message", "requester", HOSTILE)
    drain(app)
    received = [m for m in smtp.received()
                if m["message"]["Message-ID"].startswith("<requester_message")]
    assert len(received) == 1
    _check(received[0], emails(app, world, "attendant"))


def test_one_line_removes_every_line_break_and_control_character():
    value = "a\r\nb\nc\rd\x00e\x0bf\u2028g\u2029h\x85i\tj"
    assert one_line(value) == "a b c d e f g h i j"
    assert len(one_line("x" * 500, 60)) == 60
