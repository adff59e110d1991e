"""Every (state x action x profile) cell of SPEC.md's lifecycle, through the REST API.

The expected answer of each cell is written here from the contract (shared/API.md:
404 not visible, 403 wrong role, 409 state, 403 not the assignee), independently of
app.workflow's table, so a wrong table fails these tests.
"""
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import TicketEvent
from app.tenancy import account_scope
from tests.helpers import load_ticket, make_ticket

STATES = ["open", "assumed", "in_progress", "waiting", "concluded", "closed", "cancelled"]
ACTIONS = ["assume", "start", "wait", "resume", "release", "reassign", "transfer", "conclude",
           "approve", "reject", "cancel", "survey"]
ACTORS = ["requester", "requester2", "attendant", "attendant2", "attendant_other", "manager",
          "admin"]
BODIES = {"conclude": {"note": "Feito."}, "wait": {"note": "Envie o comprovante."}, "reject": {"reason": "Não resolveu."},
          "cancel": {"reason": "Desisti."}, "survey": {"score": 5, "comment": "Ótimo"}}
TARGET = {"assume": "assumed", "start": "in_progress", "wait": "waiting",
          "resume": "in_progress", "release": "open", "reassign": None, "transfer": "open",
          "conclude": "concluded",
          "approve": "closed", "reject": "in_progress", "cancel": "cancelled",
          "survey": "closed"}
SOURCES = {"assume": {"open"}, "start": {"assumed"}, "wait": {"in_progress"},
           "resume": {"waiting"}, "release": {"assumed", "in_progress"},
           "reassign": {"assumed", "in_progress", "waiting"},
           "transfer": {"open", "assumed", "in_progress", "waiting"}, "conclude": {"in_progress"},
           "approve": {"concluded"}, "reject": {"concluded"},
           "cancel": {"open", "assumed", "in_progress", "waiting"}, "survey": {"closed"}}
ATTENDANT_ACTIONS = {"assume", "start", "wait", "resume", "release", "reassign", "transfer",
                     "conclude"}
ADMIN_TOO = {"reassign", "transfer"}          # an administrator of the account may too
ASSIGNEE_ONLY = {"start", "wait", "resume", "release", "reassign", "conclude"}


def expected(state, action, actor):
    if actor in ("requester2", "attendant_other"):
        return 404  # cannot see the ticket at all
    if action in ATTENDANT_ACTIONS:
        if actor not in ("attendant", "attendant2") + (("admin",) if action in ADMIN_TOO else ()):
            return 403
    elif actor != "requester":
        return 403
    if state not in SOURCES[action]:
        return 409
    if action in ASSIGNEE_ONLY and actor != "attendant" and not (
            actor == "admin" and action in ADMIN_TOO):
        return 403  # "attendant" is the assignee in every assumed+ state
    return 200


def _events(app, world, ticket_id):
    with app.app_context(), account_scope(world.account_id):
        count = db.session.scalar(select(func.count()).select_from(TicketEvent)
                                  .where(TicketEvent.ticket_id == ticket_id))
        db.session.remove()
    return count


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_lifecycle_cell(app, api, world, state, action):
    for actor in ACTORS:
        ticket_id = make_ticket(app, world, state)
        before = load_ticket(app, world, ticket_id)
        events_before = _events(app, world, ticket_id)
        body = {"reassign": {"assignee_id": world.users["attendant2"]},
                "transfer": {"department_id": world.departments["RH"],
                             "service_id": world.services["Férias"],
                             "reason": "É com o RH."}}.get(action) or BODIES.get(action, {})
        response = api(world.users[actor]).post(f"/api/v1/ticket/{ticket_id}/{action}",
                                                json=body)
        want = expected(state, action, actor)
        assert response.status_code == want, (state, action, actor, response.json)
        after = load_ticket(app, world, ticket_id)
        if want == 200:
            target = TARGET[action] or state
            assert response.json["result"]["status"] == target
            assert after["status"] == target
            assert _events(app, world, ticket_id) == events_before + 1
        else:
            assert response.json["message"]
            assert after == before, (state, action, actor)
            assert _events(app, world, ticket_id) == events_before
