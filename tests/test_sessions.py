"""Sessions that end (shared/API.md, "Sessions"; issue 13 item 3): replay of cookies and
tokens after logout, an administrator's password reset, a deactivation, a change of
profiles and the member's own password change, on both backends."""
import datetime as dt

import jwt as pyjwt
import pytest

from tests.conftest import PASSWORD, login_browser_client, token_for

NEW_PASSWORD = "outra-senha-bem-longa-9"


def _page_ok(client) -> bool:
    response = client.get("/perfil/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    return False


def _access_ok(app, token) -> bool:
    response = app.test_client().get("/api/v1/department/",
                                     headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (200, 401), response.json
    return response.status_code == 200


def _refresh_ok(app, refresh_token) -> bool:
    response = app.test_client().post("/api/v1/security/refresh",
                                      headers={"Authorization": f"Bearer {refresh_token}"})
    assert response.status_code in (200, 401), response.json
    return response.status_code == 200


def _copy_of(app, client):
    """Another client holding a copy of ``client``'s session cookie."""
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    return copy


def test_logout_ends_that_session_and_a_copied_cookie_stops_working(app, world):
    client = login_browser_client(app, "alfa_requester")
    stolen = _copy_of(app, client)
    assert _page_ok(stolen)
    client.get("/logout/")
    assert not _page_ok(client)
    assert not _page_ok(stolen)


def test_logout_leaves_the_members_other_sessions_and_tokens_alone(app, world):
    phone = login_browser_client(app, "alfa_requester")
    desktop = login_browser_client(app, "alfa_requester")
    tokens = token_for(app, world.users["requester"], refresh=True)
    phone.get("/logout/")
    assert _page_ok(desktop)
    assert _access_ok(app, tokens["access_token"])
    assert _refresh_ok(app, tokens["refresh_token"])


def _admin_resets_password(app, api, world):
    response = api(world.users["admin"]).put(f"/api/v1/member/{world.users['requester']}",
                                             json={"password": NEW_PASSWORD})
    assert response.status_code == 200, response.json


def _admin_deactivates(app, api, world):
    response = api(world.users["admin"]).put(f"/api/v1/member/{world.users['requester']}",
                                             json={"active": False})
    assert response.status_code == 200, response.json


def _admin_changes_profiles(app, api, world):
    response = api(world.users["admin"]).put(f"/api/v1/member/{world.users['requester']}",
                                             json={"profiles": ["requester", "manager"]})
    assert response.status_code == 200, response.json


def _admin_sets_password_on_the_member_screen(app, api, world):
    admin = login_browser_client(app, "alfa_admin")
    from app.extensions import db
    from app.models import Member

    with app.app_context():
        member = db.session.get(Member, world.users["requester"])
        form = {"first_name": member.first_name, "last_name": member.last_name,
                "username": member.username, "email": member.email,
                "sector": str(member.sector_id), "roles": [str(r.id) for r in member.roles],
                "active": "y", "password": NEW_PASSWORD, "conf_password": NEW_PASSWORD}
        db.session.remove()
    response = admin.post(f"/memberview/edit/{world.users['requester']}", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]


@pytest.mark.parametrize("event", [
    _admin_resets_password, _admin_deactivates, _admin_changes_profiles,
    _admin_sets_password_on_the_member_screen,
], ids=["password-reset", "deactivation", "profile-change", "member-screen-password"])
def test_administrator_change_ends_every_session_and_token_of_the_member(app, api, world,
                                                                         event):
    browser = login_browser_client(app, "alfa_requester")
    stolen = _copy_of(app, browser)
    tokens = token_for(app, world.users["requester"], refresh=True)
    bystander = login_browser_client(app, "alfa_requester2")
    assert _page_ok(browser) and _access_ok(app, tokens["access_token"])
    event(app, api, world)
    assert not _page_ok(browser)
    assert not _page_ok(stolen)
    assert not _access_ok(app, tokens["access_token"])
    assert not _refresh_ok(app, tokens["refresh_token"])
    assert _page_ok(bystander)   # only that member is affected


def test_own_password_change_ends_other_sessions_and_tokens_but_not_this_one(app, world):
    here = login_browser_client(app, "alfa_requester")
    elsewhere = login_browser_client(app, "alfa_requester")
    copied_before = _copy_of(app, here)
    tokens = token_for(app, world.users["requester"], refresh=True)
    response = here.post("/perfil/senha", data={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD})
    assert response.status_code == 302
    assert _page_ok(here)
    assert not _page_ok(elsewhere)
    assert not _access_ok(app, tokens["access_token"])
    assert not _refresh_ok(app, tokens["refresh_token"])
    # The copy is the same session as "here": it goes on until that session logs out.
    assert _page_ok(copied_before)
    here.get("/logout/")
    assert not _page_ok(copied_before)
    login_browser_client(app, "alfa_requester", NEW_PASSWORD)


def test_refresh_gives_a_token_of_the_same_session_that_dies_with_it(app, api, world):
    tokens = token_for(app, world.users["requester"], refresh=True)
    refreshed = app.test_client().post(
        "/api/v1/security/refresh",
        headers={"Authorization": f"Bearer {tokens['refresh_token']}"}).json["access_token"]
    assert _access_ok(app, refreshed)
    _admin_resets_password(app, api, world)
    assert not _access_ok(app, refreshed)


def test_tokens_from_the_login_api_expire_within_15_minutes(app, world):
    response = app.test_client().post("/api/v1/security/login", json={
        "username": "alfa_requester", "password": PASSWORD, "provider": "db",
        "refresh": True})
    assert response.status_code == 200
    claims = pyjwt.decode(response.json["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 15 * 60
    assert claims["sid"]
    refresh = pyjwt.decode(response.json["refresh_token"], options={"verify_signature": False})
    assert refresh["sid"] == claims["sid"]


def test_a_token_without_a_session_is_refused(app, world):
    from flask_jwt_extended import create_access_token

    with app.app_context():
        forged_by_old_code = create_access_token(identity=str(world.users["requester"]))
    assert not _access_ok(app, forged_by_old_code)


def test_page_session_ends_when_its_lifetime_is_over(app, world, monkeypatch):
    """The server-side expiry, on its own: only app.sessions sees the later clock (Flask
    also refuses a cookie signed more than PERMANENT_SESSION_LIFETIME ago)."""
    import time

    client = login_browser_client(app, "alfa_requester")
    later = time.time() + dt.timedelta(hours=8, minutes=1).total_seconds()

    class Later:
        @staticmethod
        def time():
            return later

    assert _page_ok(client)
    monkeypatch.setattr("app.sessions.time", Later)
    assert not _page_ok(client)


def test_editing_a_member_without_touching_credentials_keeps_their_sessions(app, api, world):
    browser = login_browser_client(app, "alfa_requester")
    tokens = token_for(app, world.users["requester"], refresh=True)
    response = api(world.users["admin"]).put(
        f"/api/v1/member/{world.users['requester']}",
        json={"first_name": "Renomeado", "profiles": ["requester"], "active": True})
    assert response.status_code == 200, response.json
    admin = login_browser_client(app, "alfa_admin")
    from app.extensions import db
    from app.models import Member

    with app.app_context():
        member = db.session.get(Member, world.users["requester"])
        form = {"first_name": "Outro", "last_name": member.last_name,
                "username": member.username, "email": member.email,
                "sector": str(member.sector_id), "roles": [str(r.id) for r in member.roles],
                "active": "y", "password": "", "conf_password": ""}
        db.session.remove()
    assert admin.post(f"/memberview/edit/{world.users['requester']}",
                      data=form).status_code == 302
    assert _page_ok(browser)
    assert _access_ok(app, tokens["access_token"])
    assert _refresh_ok(app, tokens["refresh_token"])


def test_a_cookie_of_an_ended_session_gets_sua_sessao_terminou(app, world):
    client = login_browser_client(app, "alfa_requester")
    stolen = _copy_of(app, client)
    client.get("/logout/")
    response = stolen.get("/cliente/chamados?aba=abertos")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login/?next=/cliente/chamados")
    page = stolen.get(response.headers["Location"]).get_data(as_text=True)
    assert "Sua sessão terminou" in page and "Acesso negado" not in page
    # Said once: the cookie no longer names anybody.
    assert "Sua sessão terminou" not in stolen.get("/login/").get_data(as_text=True)
    # A form posted with the ended cookie does nothing and says the same.
    again = _copy_of(app, login_browser_client(app, "alfa_requester"))
    login_browser_client(app, "alfa_requester")
    from app import accounts  # noqa: F401 - the profile change below ends every session
    api_admin = app.test_client()
    api_admin.put(f"/api/v1/member/{world.users['requester']}", json={"active": False},
                  headers={"Authorization": f"Bearer {token_for(app, world.users['admin'])}"})
    posted = again.post("/cliente/abrir", data={"description": "x"})
    assert posted.status_code == 302 and posted.headers["Location"] == "/login/"
