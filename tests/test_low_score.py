"""The low-score mail (issue 15, item 5): a survey scored 1 or 2 mails the account's
managers (members with the Gestor profile, who see every department), through the
outbox and a real SMTP server (aiosmtpd on loopback), on SQLite and PostgreSQL.

Managers get one mail for the survey: the low-score one, which carries the score and
the comment; the assignee still gets the usual "pesquisa respondida". Never the
requester, never another company's managers; a score of 3 or the switch off: no
low-score mail at all.
"""
import datetime as dt

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.mail_in import threads
from app.models import RECIPIENTS, NotificationSetting
from app.tenancy import account_scope
from tests.helpers import make_ticket
from tests.smtp_server import by_event, drain, emails, event_of, outbox, set_all, smtp  # noqa: F401
from tests.test_migrations import _app, empty_database  # noqa: F401

URL = "/api/v1/notification-settings"
COMMENT = "Demorou uma semana e ninguém me avisou de nada."


def _closed_ticket(app, world, server):
    ticket_id = make_ticket(app, world, "closed")
    drain(app)
    server.clear()
    return ticket_id


def _survey(api, world, ticket_id, score, comment=COMMENT):
    response = api(world.users["requester"]).post(f"/api/v1/ticket/{ticket_id}/survey",
                                                  json={"score": score, "comment": comment})
    assert response.status_code == 200, response.json


def test_a_score_of_2_mails_the_managers_once_with_score_and_comment(app, world, other_world,
                                                                     api, smtp):  # noqa: F811
    ours = _closed_ticket(app, world, smtp)
    theirs = _closed_ticket(app, other_world, smtp)
    _survey(api, world, ours, 2)
    _survey(api, other_world, theirs, 1, "Péssimo.")
    counts = drain(app)
    assert counts["retry"] == counts["failed"] == 0
    managers = sorted(emails(app, world, "admin", "manager"))  # the first admin is a Gestor
    their_managers = sorted(emails(app, other_world, "admin", "manager"))
    ours_by_event, theirs_by_event = {}, {}
    for item in smtp.received():
        target = ours_by_event if f"#{ours}]" in item["message"]["Subject"] else theirs_by_event
        target.setdefault(event_of(item["message"]), []).extend(item["rcpt_tos"])
    # one mail per manager (the low-score one), the assignee's usual survey mail
    assert sorted(ours_by_event["low_score"]) == managers
    assert ours_by_event["survey_filled"] == sorted(emails(app, world, "attendant"))
    assert sorted(theirs_by_event["low_score"]) == their_managers
    assert not set(managers) & set(their_managers)

    [mail] = [m for m in smtp.received() if m["rcpt_tos"] == [emails(app, world, "manager")
                                                              .pop()]]
    message = mail["message"]
    assert message["Subject"] == f"[Chamado #{ours}] Preciso de acesso ao sistema financeiro."
    body = message.get_body(("plain",)).get_content()
    assert "Avaliação baixa" in body and "nota 2 de 5" in body and COMMENT in body
    assert "Attendant alfa" in body                  # who handled it
    assert f"/chamados/{ours}" in body
    html = message.get_body(("html",)).get_content()
    assert COMMENT in html and f"/chamados/{ours}" in html
    with app.app_context():
        root = threads.root_message_id(ours)
    assert message["References"].split()[0] == root  # threads with the ticket's mails
    assert message["In-Reply-To"] == message["References"].split()[-1]
    assert message["Message-ID"].startswith("<low_score.")
    keys = [r["idempotency_key"] for r in outbox(app) if r["event"] == "low_score"
            and r["ticket_id"] == ours]
    assert sorted(keys) == sorted(f"low_score:{ours}:survey:{world.users[k]}"
                                  for k in ("admin", "manager"))


def test_a_score_of_3_mails_no_low_score(app, world, api, smtp):  # noqa: F811
    ticket_id = _closed_ticket(app, world, smtp)
    _survey(api, world, ticket_id, 3)
    drain(app)
    assert by_event(smtp) == {"survey_filled": sorted(
        emails(app, world, "attendant", "admin", "manager"))}
    assert not [r for r in outbox(app) if r["event"] == "low_score"]


def test_the_switch_off_mails_no_low_score(app, world, api, smtp):  # noqa: F811
    response = api(world.users["admin"]).put(URL, json={"settings": [
        {"event": "low_score", "enabled": False}]})
    assert response.status_code == 200
    ticket_id = _closed_ticket(app, world, smtp)
    _survey(api, world, ticket_id, 1)
    drain(app)
    # the managers hear of the survey as before the event existed
    assert by_event(smtp) == {"survey_filled": sorted(
        emails(app, world, "attendant", "admin", "manager"))}


def test_it_never_goes_to_the_requester_whatever_the_rows_say(app, world, api, smtp):  # noqa: F811
    set_all(app, world, recipients=RECIPIENTS, events=("low_score",))   # forced in the table
    ticket_id = _closed_ticket(app, world, smtp)
    _survey(api, world, ticket_id, 1)
    drain(app)
    got = by_event(smtp)
    assert got["low_score"] == sorted(emails(app, world, "attendant", "attendant2", "admin",
                                             "manager"))
    assert emails(app, world, "requester").pop() not in sum(got.values(), [])


def test_the_settings_list_the_event_and_refuse_the_requester(app, world, api, web):
    client = api(world.users["admin"])
    settings = {s["event"]: s for s in client.get(URL).json["settings"]}
    assert settings["low_score"] == {"event": "low_score", "enabled": True,
                                     "recipients": ["managers"]}
    changed = client.put(URL, json={"settings": [
        {"event": "low_score", "recipients": ["assignee", "managers"]}]})
    assert changed.status_code == 200
    refused = client.put(URL, json={"settings": [
        {"event": "low_score", "recipients": ["requester", "managers"]}]})
    assert refused.status_code == 400 and refused.json["field"] == "recipients"
    assert "solicitante" in refused.json["message"]
    settings = {s["event"]: s for s in client.get(URL).json["settings"]}
    assert settings["low_score"]["recipients"] == ["assignee", "managers"]  # unchanged
    # the screen: the row, its requester box disabled; a forged box is not saved
    page = web("alfa_admin").get("/notificacoes/").get_data(as_text=True)
    assert 'data-event="low_score"' in page and "Avaliação baixa (nota 1 ou 2)" in page
    assert 'name="low_score__requester"' not in page
    web("alfa_admin").post("/notificacoes/salvar", data={
        "low_score__enabled": "on", "low_score__requester": "on",
        "low_score__managers": "on"})
    with app.app_context(), account_scope(world.account_id):
        row = db.session.scalar(select(NotificationSetting).where(
            NotificationSetting.event == "low_score"))
        assert (row.enabled, row.recipients()) == (True, ["managers"])
        db.session.remove()


@pytest.mark.parametrize("score", [0, 6])
def test_an_impossible_score_mails_nothing(app, world, api, smtp, score):  # noqa: F811
    ticket_id = _closed_ticket(app, world, smtp)
    response = api(world.users["requester"]).post(f"/api/v1/ticket/{ticket_id}/survey",
                                                  json={"score": score})
    assert response.status_code == 400
    drain(app)
    assert smtp.received() == []


def test_the_migration_gives_existing_accounts_the_default_row(empty_database,  # noqa: F811
                                                               tmp_path):
    from flask_migrate import upgrade

    application = _app(empty_database, tmp_path)
    with application.app_context():
        upgrade(revision="d9f46f7a8bae")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO account (id, name, time_zone, plan_expires_at, "
                              "auto_approve_days, waiting_cancel_days, created_at) VALUES "
                              "(1, 'A', 'America/Sao_Paulo', :t, 7, 7, :t)"),
                         {"t": dt.datetime(2027, 3, 1, 12, 0)})
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT account_id, enabled, to_requester, to_assignee, "
                "to_department_attendants, to_managers FROM notification_setting "
                "WHERE event = 'low_score'")).all()
        db.session.remove()
        db.engine.dispose()
    assert [tuple(bool(v) if i else v for i, v in enumerate(r)) for r in rows] == [
        (1, True, False, False, False, True)]
