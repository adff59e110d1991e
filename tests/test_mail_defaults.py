"""Mail with the account's default settings reaches someone (issue 14, item 8).

Through the real workflow and a real SMTP server on loopback: a requester's message on a
ticket nobody has assumed goes to the department's attendants; once assumed, only to the
assignee; a department without attendants sends its new tickets and messages to the
account's administrators, who see them in "Sem atendente".
"""
from sqlalchemy import delete

from app.extensions import db
from app.models import Department, NotificationSetting
from app.tenancy import account_scope
from tests.helpers import make_ticket
from tests.smtp_server import act, by_event, drain, emails, smtp  # noqa: F401,F811


def _defaults(app, world):
    """No settings rows: what a new account gets."""
    with app.app_context(), account_scope(world.account_id):
        db.session.execute(delete(NotificationSetting))
        db.session.commit()
        db.session.remove()


def test_requester_message_on_an_unassigned_ticket_reaches_the_departments_attendants(
        app, world, smtp):
    _defaults(app, world)
    ticket_id = make_ticket(app, world, "open")
    drain(app)
    smtp.clear()
    act(app, world, ticket_id, "message", "requester", "Alguém viu meu chamado?")
    drain(app)
    got = by_event(smtp)["requester_message"]
    assert sorted(got) == sorted(emails(app, world, "attendant", "attendant2"))

    smtp.clear()                                    # assumed: only the assignee now
    act(app, world, ticket_id, "assume", "attendant")
    act(app, world, ticket_id, "message", "requester", "Obrigada!")
    drain(app)
    assert by_event(smtp)["requester_message"] == sorted(emails(app, world, "attendant"))


def test_a_department_without_attendants_mails_its_tickets_to_the_administrators(
        app, world, smtp):
    _defaults(app, world)
    with app.app_context(), account_scope(world.account_id):
        db.session.get(Department, world.departments["RH"]).attendants = []
        db.session.commit()
        db.session.remove()
    ticket_id = make_ticket(app, world, "open", service="Férias")
    drain(app)
    opened = by_event(smtp)["ticket_opened"]
    assert sorted(opened) == sorted(emails(app, world, "requester", "admin"))
    admin_mail = next(m for m in smtp.received()
                      if m["rcpt_tos"] == sorted(emails(app, world, "admin")))
    assert "ainda não tem atendentes" in admin_mail["message"].get_body(
        ("plain",)).get_content()

    smtp.clear()
    act(app, world, ticket_id, "message", "requester", "Ninguém responde?")
    drain(app)
    assert by_event(smtp)["requester_message"] == sorted(emails(app, world, "admin"))
