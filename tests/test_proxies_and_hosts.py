"""Behind a proxy (HOSTILE.md, 2026-12-01): X-Forwarded-For is believed only for the
configured number of hops (PROXY_FIX_HOPS), and a forged Host or X-Forwarded-Host never
steers a redirect when TRUSTED_HOSTS names the site."""
from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.conftest import test_config as app_config

WRONG = "senha-errada-123"
PROXY = "10.9.0.1"   # the load balancer, as the WSGI server sees it


@pytest.fixture(scope="module")
def make_app(app, tmp_path_factory):
    """make_app(**settings) -> another app on the same database (one per settings)."""
    from app import create_app

    built = {}

    def make(**settings):
        key = tuple(sorted(settings.items()))
        if key not in built:
            config = app_config(app.config["SQLALCHEMY_DATABASE_URI"],
                                str(tmp_path_factory.mktemp("uploads")))
            built[key] = create_app({**config, **settings})
        built[key].extensions["login_throttle"].storage.reset()
        return built[key]

    return make


def behind_proxy(application, forwarded_for):
    client = application.test_client()
    client.environ_base["REMOTE_ADDR"] = PROXY
    client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def api_login(client, username, password):
    return client.post("/api/v1/security/login", json={
        "username": username, "password": password, "provider": "db"})


def test_with_one_trusted_hop_each_client_behind_the_proxy_is_counted_apart(make_app, world):
    proxied = make_app(PROXY_FIX_HOPS=1)
    typist = behind_proxy(proxied, "203.0.113.5")
    assert [api_login(typist, "alfa_manager", WRONG).status_code for _ in range(11)] \
        == [401] * 10 + [429]
    colleague = behind_proxy(proxied, "203.0.113.6")
    assert api_login(colleague, "alfa_manager", PASSWORD).status_code == 200


def test_without_trusted_hops_x_forwarded_for_is_ignored(make_app, world):
    direct = make_app(PROXY_FIX_HOPS=0)
    for n in range(10):   # a new forged address on every try: all are the proxy's
        api_login(behind_proxy(direct, f"198.51.100.{n}"), "alfa_manager", WRONG)
    forged = behind_proxy(direct, "198.51.100.99")
    assert api_login(forged, "alfa_manager", PASSWORD).status_code == 429


def test_addresses_a_client_prepends_beyond_the_trusted_hops_are_ignored(make_app, world):
    proxied = make_app(PROXY_FIX_HOPS=1)
    # The proxy appends the address it saw; what the client sent before it is ignored.
    for n in range(10):
        client = behind_proxy(proxied, f"192.0.2.{n}, 203.0.113.7")
        assert api_login(client, "alfa_manager", WRONG).status_code == 401
    again = behind_proxy(proxied, "192.0.2.200, 203.0.113.7")
    assert api_login(again, "alfa_manager", PASSWORD).status_code == 429


def test_a_forged_host_is_refused_in_portuguese_when_trusted_hosts_is_set(make_app):
    site = make_app(TRUSTED_HOSTS="gestor.example,.clientes.example", PROXY_FIX_HOPS=1)
    client = site.test_client()
    assert client.get("/login/", headers={"Host": "gestor.example"}).status_code == 200
    assert client.get("/login/", headers={"Host": "a.clientes.example"}).status_code == 200
    forged = client.get("/login/", headers={"Host": "evil.example"})
    assert forged.status_code == 400
    assert "Este endereço não pertence a este site." in forged.get_data(as_text=True)
    api = client.get("/api/v1/ticket/", headers={"Host": "evil.example"})
    assert api.status_code == 400 and api.json["message"] == \
        "Este endereço não pertence a este site."
    via_proxy = client.get("/login/", headers={"Host": "gestor.example",
                                              "X-Forwarded-Host": "evil.example"})
    assert via_proxy.status_code == 400


def test_a_forged_host_cannot_steer_the_login_redirect(make_app, world):
    site = make_app(TRUSTED_HOSTS="gestor.example", PROXY_FIX_HOPS=1)
    steered = site.test_client().post(
        "/login/?next=http://evil.example/x", data={"username": "alfa_admin",
                                                   "password": PASSWORD},
        headers={"Host": "gestor.example", "X-Forwarded-Host": "evil.example"})
    assert steered.status_code == 400
    assert "evil.example" not in steered.headers.get("Location", "")
    honest = site.test_client().post(
        "/login/?next=http://evil.example/x", data={"username": "alfa_admin",
                                                   "password": PASSWORD},
        headers={"Host": "gestor.example"})
    assert honest.status_code == 302
    assert "evil.example" not in honest.headers["Location"]
    own_page = site.test_client().post(
        "/login/?next=http://gestor.example/chamados/", data={"username": "alfa_admin",
                                                             "password": PASSWORD},
        headers={"Host": "gestor.example"})
    assert own_page.headers["Location"] == "http://gestor.example/chamados/"


def test_without_trusted_hosts_the_login_redirect_still_stays_on_the_requested_host(app,
                                                                                     world):
    response = app.test_client().post(
        "/login/?next=http://evil.example/x",
        data={"username": "alfa_admin", "password": PASSWORD})
    assert response.status_code == 302 and "evil.example" not in response.headers["Location"]


@pytest.mark.parametrize("hops", ["um", "-1", "1.5"])
def test_a_bad_proxy_fix_hops_stops_the_start_up_with_a_clear_message(app, tmp_path, hops):
    from app import create_app

    config = app_config(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path))
    with pytest.raises(RuntimeError, match="PROXY_FIX_HOPS deve ser um número inteiro"):
        create_app({**config, "PROXY_FIX_HOPS": hops})


def test_production_without_trusted_hosts_warns_at_start_up(app, tmp_path, caplog):
    import logging

    from app import create_app

    config = {**app_config(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path)),
              "APP_ENV": "production", "PROXY_FIX_HOPS": "1"}
    caplog.set_level(logging.WARNING)
    create_app({**config, "TRUSTED_HOSTS": "gestor.example"})
    assert not [r for r in caplog.records if "TRUSTED_HOSTS" in r.getMessage()]
    create_app(config)
    assert [r for r in caplog.records if "TRUSTED_HOSTS is not set" in r.getMessage()]
