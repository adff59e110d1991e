"""Each event reaches exactly the configured recipients, through a real SMTP server.

A ticket is driven through its whole life by app.workflow (open, assume, start, two
messages, conclude, reject, conclude, approve, survey); after every step the sender
drains the outbox into aiosmtpd on loopback and the envelope recipients are compared
with the expectation written here from the rules of shared/API.md: the configured
kinds, minus the actor (except the requester's receipt), never anybody else: not the
other department's attendant, not another account's members.
"""
import pytest

from app import notifications
from app.extensions import db
from app.models import EVENTS, RECIPIENTS, Member
from app.tenancy import account_scope
from tests.helpers import make_ticket
from tests.smtp_server import act, drain, emails, event_of, outbox, set_all, smtp  # noqa: F401

ATTENDANTS = {"attendant", "attendant2"}
MANAGERS = {"admin", "manager"}  # the account's first administrator is a manager too

# step: (action, actor, event)
STEPS = [
    ("open", "requester", "ticket_opened"),
    ("assume", "attendant", "ticket_assumed"),
    ("start", "attendant", "ticket_started"),
    ("message", "requester", "requester_message"),
    ("message", "attendant", "attendant_message"),
    ("conclude", "attendant", "ticket_concluded"),
    ("reject", "requester", "conclusion_reviewed"),
    ("conclude", "attendant", "ticket_concluded"),
    ("approve", "requester", "conclusion_reviewed"),
    ("survey", "requester", "survey_filled"),
]
NOTES = {"conclude": "Senha redefinida.", "reject": "Ainda não entra."}


def expected(kind: str, step: int) -> set[str]:
    action, actor, event = STEPS[step]
    assigned = step >= 1
    people = {
        "requester": {"requester"},
        "assignee": {"attendant"} if assigned else set(),
        "department_attendants": set(ATTENDANTS),
        "managers": set(MANAGERS),
    }[kind]
    receipt = event == "ticket_opened" and "requester" in people
    return {p for p in people if p != actor} | ({"requester"} if receipt else set())


def run_lifecycle(app, world, smtp):
    """Yield (step index, recipients' e-mails) after each step."""
    ticket_id = None
    for index, (action, actor, _event) in enumerate(STEPS):
        smtp.clear()
        if action == "open":
            ticket_id = make_ticket(app, world, "open")
        else:
            act(app, world, ticket_id, action, actor, NOTES.get(action))
        counts = drain(app)
        assert counts["retry"] == counts["failed"] == 0
        yield index, smtp.received()


@pytest.mark.parametrize("kind", RECIPIENTS)
def test_each_event_reaches_exactly_the_configured_recipients(app, world, other_world, smtp,
                                                               kind):
    set_all(app, world, recipients=(kind,))
    set_all(app, other_world)  # the other account hears everything: still nothing for us
    for index, received in run_lifecycle(app, world, smtp):
        want = emails(app, world, *expected(kind, index)) if expected(kind, index) else set()
        got = [r for m in received for r in m["rcpt_tos"]]
        assert sorted(got) == sorted(want), (kind, STEPS[index])
        assert all(event_of(m["message"]) == STEPS[index][2] for m in received)
        for item in received:
            assert "[Chamado #" in item["message"]["Subject"]
            assert len(item["rcpt_tos"]) == 1  # one mail per recipient, nobody in copy
            assert item["message"]["To"] == item["rcpt_tos"][0]


def test_all_recipients_deduplicated_and_never_another_account(app, world, other_world, smtp):
    set_all(app, world)
    set_all(app, other_world)
    for index, received in run_lifecycle(app, world, smtp):
        want = set()
        for kind in RECIPIENTS:
            want |= expected(kind, index)
        got = [r for m in received for r in m["rcpt_tos"]]
        assert sorted(got) == sorted(emails(app, world, *want)), STEPS[index]
        assert len(got) == len(set(got))  # the assignee is also an attendant: mailed once
        assert not any(r.endswith("@beta.example") for r in got)
        assert emails(app, world, "attendant_other").isdisjoint(got)
    assert {row["account_id"] for row in outbox(app)} == {world.account_id}


def test_subject_names_the_ticket_and_body_links_to_it(app, world, smtp):
    set_all(app, world)
    ticket_id = make_ticket(app, world, "open", description="Monitor quebrado")
    drain(app)
    received = smtp.received()
    assert received
    for item in received:
        message = item["message"]
        assert f"#{ticket_id}" in message["Subject"]
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        for body in (text, html):
            assert f"/chamados/{ticket_id}" in body
            assert "Acesso" in body and "Aberto" in body and "Monitor quebrado" in body


def test_disabled_event_sends_nothing(app, world, smtp):
    set_all(app, world)
    set_all(app, world, enabled=False, events=("ticket_opened", "ticket_assumed"))
    ticket_id = make_ticket(app, world, "assumed")
    drain(app)
    assert smtp.received() == []
    assert outbox(app) == []
    act(app, world, ticket_id, "start", "attendant")
    drain(app)
    assert {event_of(m["message"]) for m in smtp.received()} == {"ticket_started"}


def test_inactive_members_are_not_mailed(app, world, smtp):
    set_all(app, world, recipients=("department_attendants",))
    with app.app_context(), account_scope(world.account_id):
        db.session.get(Member, world.users["attendant2"]).active = False
        db.session.commit()
        db.session.remove()
    make_ticket(app, world, "open")
    drain(app)
    assert smtp.recipients() == sorted(emails(app, world, "attendant"))


def test_auto_approval_mails_the_requester_too(app, world, smtp):
    """The system approves (no actor): nobody is excluded as "the actor"."""
    import datetime as dt

    from app import workflow

    set_all(app, world, recipients=("requester", "assignee"),
            events=("conclusion_reviewed",))
    set_all(app, world, enabled=False, events=("ticket_opened", "ticket_assumed",
                                               "ticket_started", "ticket_concluded"))
    make_ticket(app, world, "concluded")
    with app.app_context():
        approved = workflow.auto_approve_due(
            now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=8))
        db.session.remove()
    assert approved == 1
    drain(app)
    assert smtp.recipients() == sorted(emails(app, world, "requester", "attendant"))
    body = smtp.received()[0]["message"].get_body(("plain",)).get_content()
    assert "automaticamente" in body


def test_a_refused_action_writes_no_mail(app, world, smtp):
    from app.workflow import TransitionNotAllowed

    set_all(app, world)
    ticket_id = make_ticket(app, world, "open")
    before = len(outbox(app))
    with pytest.raises(TransitionNotAllowed):
        act(app, world, ticket_id, "conclude", "attendant", "Cedo demais.")
    assert len(outbox(app)) == before


def test_muted_block_writes_no_mail(app, world, smtp):
    """Generated demo data never sends mail, even when driven through the workflow."""
    set_all(app, world)
    with notifications.muted():
        make_ticket(app, world, "closed")
    assert outbox(app) == []


def test_each_message_gets_its_own_mail(app, world, smtp):
    set_all(app, world, recipients=("assignee",))
    ticket_id = make_ticket(app, world, "in_progress")
    for text in ("primeira", "segunda", "terceira"):
        act(app, world, ticket_id, "message", "requester", text)
    keys = [r["idempotency_key"] for r in outbox(app) if r["event"] == "requester_message"]
    assert len(keys) == len(set(keys)) == 3
    drain(app)
    bodies = [m["message"].get_body(("plain",)).get_content() for m in smtp.received()
              if event_of(m["message"]) == "requester_message"]
    assert [any(t in b for b in bodies) for t in ("primeira", "segunda", "terceira")] == [
        True] * 3


def test_an_account_without_settings_rows_gets_the_defaults(app, world, smtp):
    """What the screen and the API show for a missing row is what is sent."""
    from sqlalchemy import delete

    from app.models import NotificationSetting

    with app.app_context(), account_scope(world.account_id):
        db.session.execute(delete(NotificationSetting))
        db.session.commit()
        db.session.remove()
    make_ticket(app, world, "open")
    drain(app)
    assert smtp.recipients() == sorted(emails(app, world, "requester", "attendant",
                                              "attendant2"))


def test_the_survey_mail_carries_the_score_and_comment(app, world, smtp):
    set_all(app, world, recipients=("assignee",), events=("survey_filled",))
    set_all(app, world, enabled=False, events=tuple(e for e in EVENTS if e != "survey_filled"))
    ticket_id = make_ticket(app, world, "closed")
    act(app, world, ticket_id, "survey", "requester", "Rápido e cordial")
    drain(app)
    [item] = smtp.received()
    body = item["message"].get_body(("plain",)).get_content()
    assert "nota 4 de 5" in body and "Rápido e cordial" in body
    assert outbox(app)[0]["idempotency_key"] == (
        f"survey_filled:{ticket_id}:survey:{world.users['attendant']}")
