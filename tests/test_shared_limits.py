"""Limits shared by every process through Redis (RATELIMIT_STORAGE_URI=redis://), against
a real redis-server on loopback (tests/redisserver.py); a Redis outage degrades to
per-process limits, never to a 500; a production set-up that counts per process with
several workers says so at start-up."""
from __future__ import annotations

import logging

import pytest

from app import throttle
from tests.conftest import PASSWORD
from tests.conftest import test_config as app_config

WRONG = "senha-errada-123"
STILL_DOWN = "rate-limit storage unreachable"


@pytest.fixture(scope="module")
def two_hosts(app, redis_server, tmp_path_factory):
    """Two app instances (two web servers) counting in the same Redis."""
    from app import create_app

    hosts = []
    for _ in range(2):
        config = app_config(app.config["SQLALCHEMY_DATABASE_URI"],
                            str(tmp_path_factory.mktemp("uploads")))
        hosts.append(create_app({**config, "RATELIMIT_STORAGE_URI": redis_server.url,
                                 "LOGIN_FAILURE_LIMIT": "4 per hour",
                                 "LOGIN_FAILURE_LIMIT_PER_USERNAME": "6 per hour"}))
    return hosts


@pytest.fixture
def shared(two_hosts, redis_server):
    if not redis_server.ping():
        redis_server.resume()
    redis_server.flush()
    yield two_hosts
    if not redis_server.ping():
        redis_server.resume()
    redis_server.flush()


def client_at(application, address):
    client = application.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def api_login(client, username, password):
    return client.post("/api/v1/security/login", json={
        "username": username, "password": password, "provider": "db"})


def test_two_app_instances_share_one_count_per_username_and_address(shared, world):
    first, second = shared
    codes = [api_login(client_at(host, "10.1.0.1"), "alfa_manager", WRONG).status_code
             for host in [first, second] * 2]
    assert codes == [401] * 4
    assert api_login(client_at(first, "10.1.0.1"), "alfa_manager", WRONG).status_code == 429
    assert api_login(client_at(second, "10.1.0.1"), "alfa_manager", PASSWORD) \
        .status_code == 429


def test_two_app_instances_share_one_per_username_limit(shared, world):
    first, second = shared
    codes = []
    for n in range(8):   # each address guesses twice, once on each server
        codes.append(api_login(client_at(first, f"10.2.0.{n}"), "alfa_attendant",
                               WRONG).status_code)
        codes.append(api_login(client_at(second, f"10.2.0.{n}"), "alfa_attendant",
                               WRONG).status_code)
    # Second guesses count (6 per hour across both servers): the 7th address's second
    # guess is refused, wherever it lands. Per process, each server would allow 6.
    assert codes[:13] == [401] * 13
    assert codes[13:] == [429, 401, 429]
    assert api_login(client_at(second, "10.2.0.99"), "alfa_attendant", PASSWORD) \
        .status_code == 200


def test_with_redis_down_logins_fall_back_to_per_process_limits_without_a_500(
        shared, world, redis_server, caplog):
    host = shared[0]
    client = client_at(host, "10.3.0.1")
    assert api_login(client, "alfa_manager", WRONG).status_code == 401
    assert host.test_client().get("/health").json == {"status": "ok", "rate_limits": "ok"}
    throttle._last_warning["at"] = 0.0
    redis_server.pause()
    caplog.set_level(logging.WARNING)
    assert api_login(client, "alfa_admin", PASSWORD).status_code == 200
    assert client_at(host, "10.3.0.2").post("/login/", data={
        "username": "alfa_admin", "password": PASSWORD}).status_code == 302
    # Counting goes on in this process's memory, from zero.
    codes = [api_login(client, "alfa_manager", WRONG).status_code for _ in range(5)]
    assert codes == [401] * 4 + [429]
    health = host.test_client().get("/health")
    assert health.status_code == 200
    assert health.json == {"status": "degraded", "rate_limits": "unavailable"}
    warnings = [r for r in caplog.records if STILL_DOWN in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    redis_server.resume()
    assert host.test_client().get("/health").json == {"status": "ok", "rate_limits": "ok"}


def test_with_redis_down_signups_still_answer(shared, redis_server):
    host = shared[0]
    redis_server.pause()
    response = client_at(host, "10.4.0.1").post("/api/v1/signup", json={
        "company": "Empresa Sem Redis", "admin_name": "Fulana de Tal",
        "admin_username": "semredis", "admin_email": "semredis@x.example",
        "admin_password": "senha-forte-de-teste"})
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("environ, argv, workers", [
    ({}, ["/venv/bin/gunicorn", "-w", "4", "run:app"], 4),
    ({}, ["/venv/bin/gunicorn", "--workers=3", "run:app"], 3),
    ({}, ["/venv/bin/gunicorn", "--workers", "2", "run:app"], 2),
    ({"WEB_CONCURRENCY": "5"}, ["/venv/bin/gunicorn", "run:app"], 5),
    ({"GUNICORN_CMD_ARGS": "-b 0.0.0.0:8080 -w 6"}, ["/venv/bin/gunicorn", "run:app"], 6),
    ({}, ["/venv/bin/gunicorn", "run:app"], 1),
    ({}, ["run.py", "-w", "4"], 1),   # not gunicorn: its own arguments mean nothing here
])
def test_the_number_of_workers_is_read_from_gunicorn_or_web_concurrency(environ, argv,
                                                                         workers):
    assert throttle.declared_workers(environ, argv) == workers


def test_production_with_memory_limits_and_several_workers_warns_at_start_up(
        app, tmp_path, monkeypatch, caplog):
    from app import create_app

    config = {**app_config(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path)),
              "APP_ENV": "production", "RATELIMIT_STORAGE_URI": "memory://"}
    caplog.set_level(logging.WARNING)
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    create_app(config)
    assert not [r for r in caplog.records if "memory://" in r.getMessage()]
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    create_app(config)
    warned = [r for r in caplog.records if "memory://" in r.getMessage()]
    assert len(warned) == 1 and "4 workers" in warned[0].getMessage()
