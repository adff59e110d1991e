"""Helpers to put tickets in a given state through the real workflow."""
from __future__ import annotations

from app import workflow
from app.extensions import db
from app.models import Member, Ticket
from app.tenancy import account_scope

PATH = {  # state -> the moves that reach it from "open", with who makes them
    "open": [],
    "assumed": [("assume", "attendant")],
    "in_progress": [("assume", "attendant"), ("start", "attendant")],
    "waiting": [("assume", "attendant"), ("start", "attendant"), ("wait", "attendant")],
    "concluded": [("assume", "attendant"), ("start", "attendant"), ("conclude", "attendant")],
    "closed": [("assume", "attendant"), ("start", "attendant"), ("conclude", "attendant"),
               ("approve", "requester")],
    "cancelled": [("cancel", "requester")],
}
NOTES = {"conclude": "Resolvido: senha redefinida.", "wait": "Envie o print do erro.", "reject": "Ainda não funciona.",
         "cancel": "Não preciso mais."}


def make_ticket(app, world, state="open", *, service="Acesso", priority="medium",
                description="Preciso de acesso ao sistema financeiro.", requester="requester"):
    with app.app_context(), account_scope(world.account_id):
        users = {k: db.session.get(Member, v) for k, v in world.users.items()}
        department = "TI" if service == "Acesso" else "RH"
        ticket = workflow.open_ticket(
            users[requester], department_id=world.departments[department],
            service_id=world.services[service], priority=priority, description=description)
        for action, who in PATH[state]:
            actor = users[requester] if who == "requester" else users[who]
            workflow.apply(ticket, action, actor, note=NOTES.get(action))
        ticket_id = ticket.id
        db.session.remove()
    return ticket_id


def load_ticket(app, world, ticket_id) -> dict:
    with app.app_context(), account_scope(world.account_id):
        ticket = db.session.get(Ticket, ticket_id)
        data = {c.name: getattr(ticket, c.name) for c in Ticket.__table__.columns}
        db.session.remove()
    return data


def count_queries(app, client, url) -> tuple[int, object]:
    """(how many SQL statements a GET of ``url`` ran, its response); the GET must
    succeed. For the "no query per row" tests."""
    from sqlalchemy import event

    statements = []

    def listener(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return len(statements), response
