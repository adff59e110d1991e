"""Notification settings: `GET/PUT /api/v1/notification-settings` and the admin screen.

The contract (shared/API.md): one entry per event, ``recipients`` any of requester,
assignee, department_attendants, managers; a PUT may name only some events and the
others keep their settings; bad values are a 400 naming the field and change nothing.
"""
import pytest
from sqlalchemy import select

from app.accounts import DEFAULT_NOTIFICATIONS
from app.extensions import db
from app.models import EVENTS, NotificationSetting
from app.tenancy import account_scope
from tests.helpers import make_ticket
from tests.smtp_server import drain, later, outbox, set_all, smtp  # noqa: F401

URL = "/api/v1/notification-settings"


def _settings(response):
    assert response.status_code == 200, response.json
    return {s["event"]: s for s in response.json["settings"]}


def _rows(app, world):
    with app.app_context(), account_scope(world.account_id):
        rows = {r.event: (r.enabled, tuple(r.recipients()))
                for r in db.session.scalars(select(NotificationSetting))}
        db.session.remove()
    return rows


def test_a_new_account_has_the_defaults(app, world, api):
    settings = _settings(api(world.users["admin"]).get(URL))
    assert list(settings) == list(EVENTS)
    for event, recipients in DEFAULT_NOTIFICATIONS.items():
        assert settings[event]["enabled"] is True
        assert sorted(settings[event]["recipients"]) == sorted(recipients)


def test_put_may_name_only_some_events_and_the_others_keep_theirs(app, world, api):
    client = api(world.users["admin"])
    before = _settings(client.get(URL))
    response = client.put(URL, json={"settings": [
        {"event": "ticket_opened", "enabled": False, "recipients": ["managers"]},
        {"event": "survey_filled", "recipients": []},
    ]})
    after = _settings(response)
    assert after["ticket_opened"] == {"event": "ticket_opened", "enabled": False,
                                      "recipients": ["managers"]}
    assert after["survey_filled"]["recipients"] == []
    assert after["survey_filled"]["enabled"] is True  # not sent: kept
    for event in set(EVENTS) - {"ticket_opened", "survey_filled"}:
        assert after[event] == before[event]
    assert _settings(client.get(URL)) == after  # persisted


def test_put_accepts_the_get_body_unchanged(app, world, api):
    client = api(world.users["admin"])
    body = {"settings": client.get(URL).json["settings"]}
    assert _settings(client.put(URL, json=body)) == {s["event"]: s for s in body["settings"]}


@pytest.mark.parametrize("entry,field", [
    ({"event": "ticket_exploded", "enabled": True}, "event"),
    ({"event": None}, "event"),
    ({"enabled": True}, "event"),
    ({"event": "ticket_opened", "recipients": ["everyone"]}, "recipients"),
    ({"event": "ticket_opened", "recipients": "requester"}, "recipients"),
    ({"event": "ticket_opened", "recipients": [1]}, "recipients"),
    ({"event": "ticket_opened", "enabled": "yes"}, "enabled"),
    ({"event": "ticket_opened", "enabled": None}, "enabled"),
    ("ticket_opened", "settings"),
])
def test_bad_values_are_a_400_naming_the_field_and_change_nothing(app, world, api, entry,
                                                                  field):
    before = _rows(app, world)
    response = api(world.users["admin"]).put(URL, json={"settings": [
        {"event": "ticket_started", "enabled": False}, entry]})
    assert response.status_code == 400
    assert response.json["field"] == field
    assert response.json["message"]
    assert _rows(app, world) == before


@pytest.mark.parametrize("body", [None, [], {"settings": {}}, {"outra": []}])
def test_a_body_without_a_settings_list_is_a_400(app, world, api, body):
    response = api(world.users["admin"]).put(URL, json=body)
    assert response.status_code == 400


def test_a_repeated_event_is_a_400(app, world, api):
    response = api(world.users["admin"]).put(URL, json={"settings": [
        {"event": "ticket_opened", "enabled": False},
        {"event": "ticket_opened", "enabled": True}]})
    assert response.status_code == 400 and response.json["field"] == "event"


@pytest.mark.parametrize("who", ["requester", "attendant", "manager"])
def test_only_administrators_read_or_change_the_settings(app, world, api, who):
    client = api(world.users[who])
    assert client.get(URL).status_code == 403
    before = _rows(app, world)
    assert client.put(URL, json={"settings": [{"event": "ticket_opened",
                                              "enabled": False}]}).status_code == 403
    assert _rows(app, world) == before


def test_anonymous_is_401(app, world, api):
    assert api(None).get(URL).status_code == 401
    assert api(None).put(URL, json={"settings": []}).status_code == 401


def test_one_account_never_touches_anothers_settings(app, world, other_world, api):
    theirs = _rows(app, other_world)
    response = api(world.users["admin"]).put(URL, json={"settings": [
        {"event": e, "enabled": False, "recipients": []} for e in EVENTS]})
    assert response.status_code == 200
    assert _rows(app, other_world) == theirs
    assert _settings(api(other_world.users["admin"]).get(URL))["ticket_opened"]["enabled"]


def test_settings_changed_by_api_decide_the_next_mails(app, world, api, smtp):
    api(world.users["admin"]).put(URL, json={"settings": [
        {"event": "ticket_opened", "recipients": ["managers"]}]})
    make_ticket(app, world, "open")
    drain(app)
    assert {r for m in smtp.received() for r in m["rcpt_tos"]} == {
        "admin@alfa.example", "manager@alfa.example"}


# --- the screen --------------------------------------------------------------------


def test_the_screen_shows_every_event_with_its_checkboxes(app, world, web):
    page = web("alfa_admin").get("/notificacoes/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for event in EVENTS:
        assert f'data-event="{event}"' in html
        assert f'name="{event}__enabled"' in html
    assert 'name="ticket_opened__department_attendants" aria-label' in html
    assert "Falhas de envio" in html and 'name="csrf_token"' in html


def test_the_screen_saves_the_table(app, world, web):
    form = {"ticket_opened__enabled": "on", "ticket_opened__managers": "on",
            "survey_filled__enabled": "on", "survey_filled__requester": "on"}
    response = web("alfa_admin").post("/notificacoes/salvar", data=form)
    assert response.status_code == 302
    rows = _rows(app, world)
    assert rows["ticket_opened"] == (True, ("managers",))
    assert rows["survey_filled"] == (True, ("requester",))
    assert rows["ticket_assumed"] == (False, ())  # unchecked boxes switch it off


def test_the_screen_refuses_a_post_without_the_csrf_token(app, world, web, monkeypatch):
    client = web("alfa_admin")
    before = _rows(app, world)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post("/notificacoes/salvar", data={"ticket_opened__enabled": "on"})
    assert response.status_code == 400
    assert _rows(app, world) == before


@pytest.mark.parametrize("who", ["alfa_requester", "alfa_attendant", "alfa_manager"])
def test_the_screen_is_for_administrators_only(app, world, web, who):
    client = web(who)
    assert client.get("/notificacoes/").status_code == 403
    before = _rows(app, world)
    assert client.post("/notificacoes/salvar", data={}).status_code == 403
    assert _rows(app, world) == before


def test_failed_mails_are_listed_and_can_be_sent_again(app, world, other_world, web, smtp):
    set_all(app, world, recipients=("requester",), events=("ticket_opened",))
    set_all(app, other_world, recipients=("requester",), events=("ticket_opened",))
    ours = make_ticket(app, world, "open", description="Nosso <b>chamado</b>")
    make_ticket(app, other_world, "open")
    smtp.answer = "550"
    for n in range(1, 6):
        drain(app, later(61 * n))
    rows = outbox(app)
    assert [r["status"] for r in rows] == ["failed", "failed"]
    mine = next(r for r in rows if r["account_id"] == world.account_id)
    theirs = next(r for r in rows if r["account_id"] == other_world.account_id)

    client = web("alfa_admin")
    html = client.get("/notificacoes/").get_data(as_text=True)
    assert f"/notificacoes/reenviar/{mine['id']}" in html and f"#{ours}" in html
    assert f"/notificacoes/reenviar/{theirs['id']}" not in html
    assert "requester@beta.example" not in html

    assert client.post(f"/notificacoes/reenviar/{theirs['id']}").status_code == 302
    assert client.post(f"/notificacoes/reenviar/{mine['id']}").status_code == 302
    status = {r["id"]: r["status"] for r in outbox(app)}
    assert status == {mine["id"]: "pending", theirs["id"]: "failed"}
    smtp.answer = "accept"
    drain(app)
    assert smtp.recipients() == ["requester@alfa.example"]


def test_the_openapi_spec_still_builds_with_the_settings_resource(app, world, api):
    response = api(world.users["admin"]).get("/api/v1/_openapi")
    assert response.status_code == 200
    assert any("notification-settings" in path for path in response.json["paths"])
