"""Concurrent moves on the same ticket: exactly one wins, the other gets a clear 409.

Threads meet at a barrier and fire through the real REST API; on PostgreSQL this is a
real race between connections, on SQLite the conditional UPDATE serialises them.
"""
import threading

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import TicketEvent
from app.tenancy import account_scope
from tests.helpers import load_ticket, make_ticket

ROUNDS = 25


def race(api, calls):
    """Run [(user_id, url, json)] at once; return the responses in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)
    clients = [api(user_id) for user_id, _, _ in calls]

    def run(index):
        _, url, body = calls[index]
        barrier.wait()
        response = clients[index].post(url, json=body)
        results[index] = (response.status_code, response.json)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_attendants_assume_at_once_one_wins(app, api, world):
    a, b = world.users["attendant"], world.users["attendant2"]
    for _ in range(ROUNDS):
        ticket_id = make_ticket(app, world)
        url = f"/api/v1/ticket/{ticket_id}/assume"
        results = race(api, [(a, url, {}), (b, url, {})])
        codes = sorted(code for code, _ in results)
        assert codes == [200, 409], results
        winner = a if results[0][0] == 200 else b
        loser_message = next(body["message"] for code, body in results if code == 409)
        assert "já assumido por" in loser_message
        ticket = load_ticket(app, world, ticket_id)
        assert ticket["assignee_id"] == winner and ticket["version"] == 2
        with app.app_context(), account_scope(world.account_id):
            assumed = db.session.scalar(select(func.count()).select_from(TicketEvent).where(
                TicketEvent.ticket_id == ticket_id, TicketEvent.type == "assumed"))
            db.session.remove()
        assert assumed == 1


def test_approve_and_reject_at_once_one_wins(app, api, world):
    requester = world.users["requester"]
    for _ in range(ROUNDS):
        ticket_id = make_ticket(app, world, "concluded")
        results = race(api, [
            (requester, f"/api/v1/ticket/{ticket_id}/approve", {}),
            (requester, f"/api/v1/ticket/{ticket_id}/reject", {"reason": "Não ficou bom."}),
        ])
        codes = sorted(code for code, _ in results)
        assert codes == [200, 409], results
        ticket = load_ticket(app, world, ticket_id)
        assert ticket["status"] == ("closed" if results[0][0] == 200 else "in_progress")
        assert ticket["reopen_count"] == (0 if results[0][0] == 200 else 1)


def test_double_survey_at_once_keeps_one(app, api, world):
    requester = world.users["requester"]
    for _ in range(10):
        ticket_id = make_ticket(app, world, "closed")
        url = f"/api/v1/ticket/{ticket_id}/survey"
        results = race(api, [(requester, url, {"score": 5}), (requester, url, {"score": 1})])
        assert sorted(code for code, _ in results) == [200, 409], results


def test_stale_ticket_loses_at_the_conditional_update(app, world):
    """The guard is the UPDATE's WHERE (status, version), not the Python check before it."""
    from app import workflow
    from app.models import Member, Ticket

    ticket_id = make_ticket(app, world)
    with app.app_context(), account_scope(world.account_id):
        ticket = db.session.get(Ticket, ticket_id)
        actor = db.session.get(Member, world.users["attendant2"])
        assert ticket.status == "open"  # what this session believes
        with db.engine.begin() as other:  # another attendant wins meanwhile
            other.execute(Ticket.__table__.update().where(Ticket.__table__.c.id == ticket_id)
                          .values(status="assumed", assignee_id=world.users["attendant"],
                                  version=Ticket.__table__.c.version + 1))
        with pytest.raises(workflow.TransitionNotAllowed) as error:
            workflow.apply(ticket, "assume", actor)
        assert "já assumido por Attendant alfa" in error.value.message
        db.session.remove()
    assert load_ticket(app, world, ticket_id)["assignee_id"] == world.users["attendant"]


def test_many_requesters_opening_at_once_lose_nothing(app, api, world):
    """HOSTILE "Load": concurrent openings (SQLite: WAL + busy timeout; PostgreSQL: real
    connections) give no 5xx, no duplicate and no lost ticket."""
    from app.models import Ticket

    body = {"department_id": world.departments["TI"], "service_id": world.services["Acesso"],
            "priority": "medium"}
    users = [world.users["requester"], world.users["requester2"]]
    calls = [(users[i % 2], "/api/v1/ticket/", {**body, "description": f"Carga {i}"})
             for i in range(40)]
    results = race(api, calls)
    assert [code for code, _ in results] == [201] * 40, results
    with app.app_context(), account_scope(world.account_id):
        descriptions = db.session.scalars(select(Ticket.description)).all()
        db.session.remove()
    assert sorted(descriptions) == sorted(f"Carga {i}" for i in range(40))
