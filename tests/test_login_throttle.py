"""Failed logins are throttled without letting anyone lock a person out (issue 13 item 5,
issue 12 "ten typos by anyone made an eleventh user get 429"): tight per (username,
address), looser per username and only for addresses that have been failing, never
counting a success; sign-ups per address. Addresses are set per client, as the WSGI
server (or ProxyFix) would."""
from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

WRONG = "senha-errada-123"


def client_at(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def api_login(client, username, password):
    return client.post("/api/v1/security/login", json={
        "username": username, "password": password, "provider": "db"})


def form_login(client, username, password):
    return client.post("/login/", data={"username": username, "password": password})


@pytest.fixture
def username_limit(app):
    """A per-username limit small enough to reach in a test."""
    app.config["LOGIN_FAILURE_LIMIT_PER_USERNAME"] = "15 per hour"
    yield 15
    app.config["LOGIN_FAILURE_LIMIT_PER_USERNAME"] = "100 per hour"


def test_typos_of_one_person_do_not_block_another_person_behind_the_same_address(app, world):
    office = client_at(app, "10.0.0.1")
    codes = [api_login(office, "alfa_manager", WRONG).status_code for _ in range(11)]
    assert codes == [401] * 10 + [429]
    assert api_login(office, "alfa_admin", PASSWORD).status_code == 200
    assert form_login(client_at(app, "10.0.0.1"), "alfa_attendant", PASSWORD) \
        .status_code == 302


def test_the_right_password_from_an_address_that_was_not_failing_works_during_an_attack(
        app, world, username_limit):
    for n in range(10):   # ten addresses, three guesses each: 30 failures for one username
        attacker = client_at(app, f"198.51.100.{n}")
        for _ in range(3):
            api_login(attacker, "alfa_attendant", WRONG)
    # The username is over its limit for the addresses that have been failing...
    assert api_login(client_at(app, "198.51.100.3"), "alfa_attendant", WRONG) \
        .status_code == 429
    assert api_login(client_at(app, "198.51.100.3"), "alfa_attendant", PASSWORD) \
        .status_code == 429
    # ...but the person, from their own address, gets in on the form and the API.
    assert api_login(client_at(app, "192.0.2.10"), "alfa_attendant", PASSWORD) \
        .status_code == 200
    response = form_login(client_at(app, "192.0.2.11"), "alfa_attendant", PASSWORD)
    assert response.status_code == 302 and "/login" not in response.headers["Location"]


def test_the_username_limit_stops_further_guesses_from_addresses_that_have_failed(
        app, world, username_limit):
    codes = []
    for n in range(12):
        attacker = client_at(app, f"203.0.113.{n}")
        codes += [api_login(attacker, "alfa_requester", WRONG).status_code for _ in range(3)]
    # The 1st guess of each address is not checked against (nor counted in) the
    # username limit; the 2nd and 3rd are: the 15th counted failure is the 8th
    # address's 2nd guess, after which only first guesses get through (the pair
    # limit alone would have allowed all 36).
    assert codes[:23] == [401] * 23
    assert codes[23:] == [429] + [401, 429, 429] * 4


def test_successful_logins_are_never_counted(app, world):
    client = client_at(app, "10.0.0.2")
    for _ in range(15):
        assert api_login(client, "alfa_admin", PASSWORD).status_code == 200
        assert form_login(client_at(app, "10.0.0.2"), "alfa_admin", PASSWORD) \
            .status_code == 302
    codes = [api_login(client, "alfa_admin", WRONG).status_code for _ in range(11)]
    assert codes == [401] * 10 + [429]


def test_form_and_api_failures_share_one_count(app, world):
    client = client_at(app, "10.0.0.3")
    for _ in range(5):
        assert form_login(client, "alfa_manager", WRONG).status_code == 302
        assert api_login(client, "alfa_manager", WRONG).status_code == 401
    assert form_login(client, "alfa_manager", PASSWORD).status_code == 429
    assert api_login(client, "alfa_manager", PASSWORD).status_code == 429


def test_a_malformed_login_body_is_refused_and_not_counted(app, world):
    client = client_at(app, "10.0.0.4")
    for _ in range(12):
        response = client.post("/api/v1/security/login", json={"username": "alfa_admin"})
        assert response.status_code == 400
    assert api_login(client, "alfa_admin", PASSWORD).status_code == 200


def test_a_blocked_login_answers_429_in_portuguese_with_retry_after(app, world):
    client = client_at(app, "10.0.0.5")
    for _ in range(10):
        api_login(client, "alfa_manager", WRONG)
    api = api_login(client, "alfa_manager", WRONG)
    assert api.status_code == 429
    assert "Muitas tentativas de login" in api.json["message"]
    assert "Tente novamente em" in api.json["message"]
    assert 0 < int(api.headers["Retry-After"]) <= 15 * 60
    form = form_login(client, "alfa_manager", WRONG)
    assert form.status_code == 429
    assert "Tente novamente em" in form.get_data(as_text=True)
    assert 0 < int(form.headers["Retry-After"]) <= 15 * 60


def test_signups_are_limited_per_address_with_retry_after(app):
    app.config["SIGNUP_RATE_LIMIT"] = "2 per hour"
    try:
        def signup(address, i):
            return client_at(app, address).post("/api/v1/signup", json={
                "company": f"Empresa {i}", "admin_name": "Fulana de Tal",
                "admin_username": f"cadastro{i}", "admin_email": f"c{i}@x.example",
                "admin_password": "senha-forte-de-teste"})

        codes = [signup("10.0.1.1", i).status_code for i in range(3)]
        assert codes == [201, 201, 429]
        refused = signup("10.0.1.1", 9)
        assert "Muitos cadastros" in refused.json["message"]
        assert int(refused.headers["Retry-After"]) > 0
        page = client_at(app, "10.0.1.1").post("/cadastro/", data={"company": "X"})
        assert page.status_code == 429 and "Muitos cadastros" in page.get_data(as_text=True)
        assert signup("10.0.1.2", 3).status_code == 201
    finally:
        app.config["SIGNUP_RATE_LIMIT"] = "30 per hour"


def test_a_login_body_nested_too_deep_is_a_400_and_not_taken_for_a_storage_outage(
        app, world, caplog):
    import logging

    caplog.set_level(logging.WARNING)
    body = '{"username": ' + "[" * 100000 + "]" * 100000 + "}"
    response = client_at(app, "10.0.0.6").post(
        "/api/v1/security/login", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "Informe username, password" in response.json["message"]
    assert not [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert not app.extensions["login_throttle"]._storage_dead   # Flask-Limiter's flag


def test_a_429_raised_elsewhere_keeps_its_own_retry_after(app, tmp_path):
    from werkzeug.exceptions import TooManyRequests

    from app import create_app
    from tests.conftest import test_config as app_config

    other = create_app(app_config(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path)))
    other.add_url_rule("/api/v1/_quota_probe", "quota_probe",
                       lambda: (_ for _ in ()).throw(TooManyRequests(retry_after=120)))
    response = other.test_client().get("/api/v1/_quota_probe")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "120"
    assert response.json["message"] == "Muitas requisições. Tente novamente em 2 minutos."
