"""Sign-up, plan renewal, login rules, health (shared/API.md)."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from app.models import EVENTS, Account, NotificationSetting, PlanRenewal
from tests.conftest import PASSWORD


SIGNUP = {"company": "Padaria Pão Quente", "admin_name": "Maria da Silva",
          "admin_username": "maria", "admin_email": "maria@padaria.example",
          "admin_password": "uma-senha-forte"}


def test_signup_creates_account_with_30_day_plan_and_its_admin(app, api):
    response = api(None).post("/api/v1/signup", json=SIGNUP)
    assert response.status_code == 201, response.json
    account_id, user_id = response.json["account_id"], response.json["user_id"]
    login = app.test_client().post("/api/v1/security/login", json={
        "username": "maria", "password": "uma-senha-forte", "provider": "db", "refresh": True})
    assert login.status_code == 200
    token = login.json["access_token"]
    account = app.test_client().get("/api/v1/account",
                                    headers={"Authorization": f"Bearer {token}"}).json["result"]
    assert account["id"] == account_id and account["name"] == "Padaria Pão Quente"
    assert account["time_zone"] == "America/Sao_Paulo"
    expires = dt.datetime.fromisoformat(account["plan_expires_at"])
    days = (expires - dt.datetime.now(dt.timezone.utc)).total_seconds() / 86400
    assert 29.9 < days <= 30
    member = api(user_id).get(f"/api/v1/member/{user_id}").json["result"]
    assert "admin" in member["profiles"]
    with app.app_context():
        from app.extensions import db
        from app.tenancy import account_scope

        with account_scope(account_id):
            assert db.session.scalar(
                select(func.count()).select_from(NotificationSetting)) == len(EVENTS)
        db.session.remove()


@pytest.mark.parametrize("change, field, status", [
    ({"admin_password": "curta"}, "admin_password", 400),
    ({"admin_email": "nao-e-email"}, "admin_email", 400),
    ({"company": "  "}, "company", 400),
    ({"admin_username": "alfa_admin"}, "admin_username", 409),
    ({"admin_email": "admin@alfa.example"}, "admin_email", 409),
    ({"company": None}, "company", 400),
    ({"company": "x" * 151}, "company", 400),
])
def test_bad_signup_is_refused_and_creates_nothing(app, api, world, change, field, status):
    with app.app_context():
        from app.extensions import db

        before = db.session.scalar(select(func.count()).select_from(Account))
        db.session.remove()
    response = api(None).post("/api/v1/signup", json={**SIGNUP, **change})
    assert response.status_code == status, response.json
    assert response.json["field"] == field
    with app.app_context():
        from app.extensions import db

        assert db.session.scalar(select(func.count()).select_from(Account)) == before
        db.session.remove()


def test_signup_is_rate_limited_per_address(app, api):
    app.config["SIGNUP_RATE_LIMIT"] = "3 per hour"
    try:
        codes = []
        for i in range(5):
            body = {**SIGNUP, "admin_username": f"user{i}", "admin_email": f"u{i}@x.example"}
            codes.append(api(None).post("/api/v1/signup", json=body).status_code)
        assert codes == [201, 201, 201, 429, 429]
    finally:
        app.config["SIGNUP_RATE_LIMIT"] = "30 per hour"


def test_renew_extends_from_expiry_and_records_each_renewal(app, api, world):
    admin = api(world.users["admin"])
    before = dt.datetime.fromisoformat(admin.get("/api/v1/account").json["result"]
                                       ["plan_expires_at"])
    response = admin.post("/api/v1/account/renew", json={"months": 2})
    assert response.status_code == 200, response.json
    after = dt.datetime.fromisoformat(response.json["plan_expires_at"])
    assert 58 <= (after - before).days <= 62
    admin.post("/api/v1/account/renew", json={"months": 24})
    with app.app_context():
        from app.extensions import db
        from app.tenancy import account_scope

        with account_scope(world.account_id):
            months = db.session.scalars(select(PlanRenewal.months).order_by(PlanRenewal.id)).all()
        db.session.remove()
    assert months == [2, 24]


@pytest.mark.parametrize("months", [0, 25, -1, "3", 1.5, True, None])
def test_renew_refuses_bad_months(api, world, months):
    admin = api(world.users["admin"])
    before = admin.get("/api/v1/account").json["result"]["plan_expires_at"]
    response = admin.post("/api/v1/account/renew", json={"months": months})
    assert response.status_code == 400 and response.json["field"] == "months"
    assert admin.get("/api/v1/account").json["result"]["plan_expires_at"] == before


def test_renewing_an_expired_plan_counts_from_today(app, api, world):
    from app.extensions import db

    with app.app_context():
        account = db.session.get(Account, world.account_id)
        account.plan_expires_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=100)
        db.session.commit()
        db.session.remove()
    response = api(world.users["admin"]).post("/api/v1/account/renew", json={"months": 1})
    after = dt.datetime.fromisoformat(response.json["plan_expires_at"])
    assert 27 <= (after - dt.datetime.now(dt.timezone.utc)).days <= 31


def test_expired_plan_shows_banner_with_renewal_to_admin(app, web, world):
    from app.extensions import db

    with app.app_context():
        account = db.session.get(Account, world.account_id)
        account.plan_expires_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
        db.session.commit()
        db.session.remove()
    html = web("alfa_admin").get("/").get_data(as_text=True)
    assert "Plano expirado" in html and "Renovar plano" in html
    html = web("alfa_requester").get("/").get_data(as_text=True)
    assert "Plano expirado" in html and "Fale com um administrador" in html


def test_account_settings_update(api, world):
    admin = api(world.users["admin"])
    ok = admin.put("/api/v1/account", json={"settings": {"auto_approve_days": 3},
                                             "time_zone": "America/Manaus"})
    assert ok.status_code == 200, ok.json
    assert ok.json["result"]["settings"]["auto_approve_days"] == 3
    assert ok.json["result"]["time_zone"] == "America/Manaus"
    bad = admin.put("/api/v1/account", json={"time_zone": "Marte/Olimpo"})
    assert bad.status_code == 400 and bad.json["field"] == "time_zone"


def test_deactivated_member_cannot_log_in_and_loses_token_and_session(app, api, web, world):
    session_client = web("alfa_requester")
    token_client = api(world.users["requester"])
    assert token_client.get("/api/v1/department/").status_code == 200
    assert session_client.get("/").status_code == 200
    response = api(world.users["admin"]).put(f"/api/v1/member/{world.users['requester']}",
                                             json={"active": False})
    assert response.status_code == 200 and response.json["result"]["active"] is False
    assert token_client.get("/api/v1/department/").status_code == 401
    page = session_client.get("/sectorview/list/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    login = app.test_client().post("/api/v1/security/login", json={
        "username": "alfa_requester", "password": PASSWORD, "provider": "db"})
    assert login.status_code == 401
    form = app.test_client().post("/login/", data={"username": "alfa_requester",
                                                  "password": PASSWORD})
    assert "/login" in form.headers["Location"]


def test_unknown_user_and_wrong_password_get_the_same_answer(app, world):
    client = app.test_client()
    a = client.post("/api/v1/security/login", json={"username": "ninguem",
                                                     "password": "x" * 12, "provider": "db"})
    b = client.post("/api/v1/security/login", json={"username": "alfa_admin",
                                                     "password": "x" * 12, "provider": "db"})
    assert a.status_code == b.status_code == 401
    assert a.json == b.json


def test_login_without_provider_is_400_not_500(app, world):
    response = app.test_client().post("/api/v1/security/login",
                                      json={"username": "alfa_admin", "password": PASSWORD})
    assert response.status_code == 400


def test_failed_logins_are_limited_per_username_but_success_never_counts(app, world):
    client = app.test_client()
    for _ in range(12):
        ok = client.post("/api/v1/security/login", json={
            "username": "alfa_admin", "password": PASSWORD, "provider": "db"})
        assert ok.status_code == 200
    codes = [client.post("/api/v1/security/login", json={
        "username": "alfa_manager", "password": "errada-errada", "provider": "db"}).status_code
        for _ in range(12)]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    # Even the right password is refused while blocked (no oracle).
    blocked = client.post("/api/v1/security/login", json={
        "username": "alfa_manager", "password": PASSWORD, "provider": "db"})
    assert blocked.status_code == 429


def test_form_login_failures_are_limited_too(app, world):
    client = app.test_client()
    codes = [client.post("/login/", data={"username": "alfa_manager",
                                          "password": "errada"}).status_code
             for _ in range(11)]
    assert codes[:10] == [302] * 10 and codes[10] == 429


def test_login_next_never_redirects_off_site(app, world):
    response = app.test_client().post("/login/?next=//evil.example/x", data={
        "username": "alfa_admin", "password": PASSWORD})
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


def test_health_answers_without_login(app):
    response = app.test_client().get("/health")
    assert response.status_code == 200 and response.json["status"] == "ok"


def test_pages_carry_security_headers(app):
    response = app.test_client().get("/login/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"]


def test_signup_page_creates_account(app):
    client = app.test_client()
    page = client.get("/cadastro/")
    assert page.status_code == 200 and "Criar conta" in page.get_data(as_text=True)
    response = client.post("/cadastro/", data={**SIGNUP})
    assert response.status_code == 302
    bad = client.post("/cadastro/", data={**SIGNUP, "admin_username": "outra",
                                          "admin_email": "o@x.example", "admin_password": "1"})
    assert bad.status_code == 400
    assert "pelo menos 10 caracteres" in bad.get_data(as_text=True)


def _login_cookie(client, username: str, **kw) -> str:
    response = client.post("/login/", data={"username": username, "password": PASSWORD},
                           **kw)
    assert response.status_code == 302
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert len(cookies) == 1
    return cookies[0]


def test_session_cookie_is_httponly_and_lax(app, world):
    cookie = _login_cookie(app.test_client(), "alfa_requester")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie                   # development serves plain HTTP


def test_session_cookie_is_secure_in_production(app, world):
    from app import create_app
    from tests.conftest import test_config

    production = create_app({**test_config(app.config["SQLALCHEMY_DATABASE_URI"],
                                           app.config["UPLOAD_FOLDER"]),
                             "APP_ENV": "production"})
    assert production.config["SESSION_COOKIE_SECURE"] is True
    cookie = _login_cookie(production.test_client(), "alfa_requester",
                           base_url="https://localhost")
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_sessions_expire(app, world, monkeypatch):
    """A session cookie older than PERMANENT_SESSION_LIFETIME is refused, even replayed."""
    import time

    client = app.test_client()
    _login_cookie(client, "alfa_requester")
    assert client.get("/cliente/chamados").status_code == 200
    monkeypatch.setitem(app.config, "PERMANENT_SESSION_LIFETIME", dt.timedelta(seconds=1))
    time.sleep(2.2)
    response = client.get("/cliente/chamados")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
