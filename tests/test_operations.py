"""Operations (issue 12, item 8): health endpoints, the request id in logs and
responses, the Portuguese 503 page while PostgreSQL is down, cache headers of
versioned static URLs, BASE_URL, one log line a minute while SMTP is unreachable and
one line per back-off while the database is down under `flask jobs`."""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import signal
import subprocess
import time

import pytest

from app import logs, mailer
from app.extensions import db
from tests.conftest import test_config as config_for
from tests.deploy_helpers import ROOT, flask_command, flask_env
from tests.helpers import make_ticket
from tests.pgserver import PostgresServer
from tests.smtp_server import drain, later, outbox, set_all, smtp  # noqa: F401


@pytest.fixture(scope="module")
def own_postgres():
    """A PostgreSQL of this module's own, to stop under the app."""
    server = PostgresServer().start()
    yield server
    server.stop()


def _pg_app(own_postgres, tmp_path, name: str):
    from flask_migrate import upgrade

    from app import create_app
    from app.security import sync_roles_and_permissions

    url = own_postgres.create_database(name)
    application = create_app(config_for(url, str(tmp_path)))
    application.config["PROPAGATE_EXCEPTIONS"] = False
    with application.app_context():
        upgrade()
        sync_roles_and_permissions(application.appbuilder)
    return application, url


# --- health ---------------------------------------------------------------------------


def test_live_and_ready_answer_json_and_the_outbox_age_degrades_readiness(app, world):
    client = app.test_client()
    live = client.get("/health/live")
    assert live.status_code == 200 and live.json == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200, ready.json
    assert ready.json["status"] == "ok"
    checks = ready.json["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["outbox"] == {**checks["outbox"], "status": "ok", "waiting": 0}
    assert "replica" not in checks  # not configured
    assert ready.headers["Cache-Control"] == "no-store"

    set_all(app, world)
    make_ticket(app, world, "open")  # its mails wait: nobody sends them here
    with app.app_context():
        from app.models import OutboxMail
        from app.tenancy import UNSCOPED, account_scope

        with account_scope(UNSCOPED):
            waiting = db.session.query(OutboxMail).count()
            assert waiting > 0
            db.session.query(OutboxMail).update(
                {"next_attempt_at": dt.datetime.now(dt.timezone.utc)
                 - dt.timedelta(hours=2)})
            db.session.commit()
        db.session.remove()
    late = client.get("/health/ready")
    assert late.status_code == 200  # ready, but someone should look at the sender
    assert late.json["status"] == "degraded"
    assert late.json["checks"]["outbox"]["status"] == "late"
    assert late.json["checks"]["outbox"]["waiting"] == waiting
    assert late.json["checks"]["outbox"]["oldest_seconds"] >= 7100


def test_ready_reports_redis_and_degrades_without_it(app, redis_server, tmp_path):
    from app import create_app

    if not redis_server.ping():
        redis_server.resume()
    host = create_app({**config_for(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path)),
                       "RATELIMIT_STORAGE_URI": redis_server.url})
    client = host.test_client()
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json["status"] == "ok", ready.json
    assert ready.json["checks"]["rate_limits"]["status"] == "ok"
    redis_server.pause()
    try:
        down = client.get("/health/ready")
        assert down.status_code == 200 and down.json["status"] == "degraded"
        assert down.json["checks"]["rate_limits"]["status"] == "unavailable"
    finally:
        redis_server.resume()
    assert client.get("/health/ready").json["checks"]["rate_limits"]["status"] == "ok"


def test_with_postgresql_down_ready_is_503_and_pages_get_the_portuguese_503_page(
        own_postgres, tmp_path):
    application, _ = _pg_app(own_postgres, tmp_path, "health_down")
    client = application.test_client()
    assert client.get("/health/ready").status_code == 200
    own_postgres.pause()
    try:
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json["status"] == "unavailable"
        assert ready.json["checks"]["database"]["status"] == "unavailable"
        assert client.get("/health/live").status_code == 200
        page = client.get("/login/", headers={"Accept": "text/html"})
        assert page.status_code == 503 and page.headers["Retry-After"] == "30"
        html = page.get_data(as_text=True)
        assert page.mimetype == "text/html"
        assert "Serviço indisponível" in html and "Tente novamente em instantes" in html
        assert "/static/app.css?v=" in html and 'id="error-page"' in html  # the layout
        assert "Traceback" not in html and "psycopg2" not in html
        api = client.get("/api/v1/ticket/")
        assert api.status_code == 503 and "indisponível" in api.json["message"]
    finally:
        own_postgres.resume()
    assert client.get("/health/ready").status_code == 200
    with application.app_context():
        db.engine.dispose()


# --- request ids and log lines --------------------------------------------------------


def test_the_request_id_is_echoed_or_made_and_tags_the_log_line(app):
    client = app.test_client()
    given = client.get("/health/live", headers={"X-Request-ID": "lb-7f3a.9"})
    assert given.headers["X-Request-ID"] == "lb-7f3a.9"
    made = client.get("/health/live")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    forged = client.get("/health/live", headers={"X-Request-ID": "x\" injected=1 " * 3})
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["X-Request-ID"])

    record = logging.LogRecord("app.test", logging.WARNING, __file__, 1, "olá %s", ("mundo",),
                               None)
    with app.test_request_context("/", headers={"X-Request-ID": "req-42"}):
        logs.RequestIdFilter().filter(record)
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["request_id"] == "req-42" and line["message"] == "olá mundo"
    assert line["level"] == "WARNING" and line["logger"] == "app.test"
    assert dt.datetime.fromisoformat(line["ts"].replace("Z", "+00:00"))
    outside = logging.LogRecord("app.test", logging.INFO, __file__, 1, "fora", (), None)
    logs.RequestIdFilter().filter(outside)
    with logs.job_context("send_outbox-1234"):
        inside = logging.LogRecord("app.test", logging.INFO, __file__, 1, "job", (), None)
        logs.RequestIdFilter().filter(inside)
    assert outside.request_id == "-" and inside.request_id == "send_outbox-1234"
    text_line = logs.TextFormatter().format(inside)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO app\.test "
                    r"\[send_outbox-1234\] job$", text_line)


# --- static files ---------------------------------------------------------------------


def test_versioned_static_urls_are_cached_for_a_year_and_unversioned_briefly(app):
    client = app.test_client()
    html = client.get("/login/").get_data(as_text=True)
    ours = re.search(r'/static/app\.css\?v=([0-9a-f]{12})', html)
    fab = re.search(r'/static/appbuilder/css/bootstrap\.min\.css\?v=([0-9a-f]{12})', html)
    assert ours and fab, html[:2000]
    versioned = client.get(f"/static/app.css?v={ours.group(1)}")
    assert versioned.status_code == 200
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert versioned.headers["ETag"] == f'"{ours.group(1)}"'
    again = client.get(f"/static/app.css?v={ours.group(1)}",
                       headers={"If-None-Match": f'"{ours.group(1)}"'})
    assert again.status_code == 304 and again.data == b""
    plain = client.get("/static/app.css")
    assert plain.headers["Cache-Control"] == "public, max-age=300"
    stale = client.get("/static/app.css?v=000000000000")  # an old deploy's URL
    assert stale.headers["Cache-Control"] == "public, max-age=300"
    bootstrap = client.get(f"/static/appbuilder/css/bootstrap.min.css?v={fab.group(1)}")
    assert bootstrap.headers["Cache-Control"].endswith("immutable")
    for response in (versioned, plain, stale, bootstrap):
        response.close()


# --- BASE_URL -------------------------------------------------------------------------


def test_base_url_is_required_in_production_and_follows_host_and_port_elsewhere(
        app, tmp_path, monkeypatch):
    from app import create_app

    config = config_for(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path))
    config.pop("BASE_URL")
    with pytest.raises(RuntimeError, match="BASE_URL"):
        create_app({**config, "APP_ENV": "production"})
    monkeypatch.setenv("PORT", "9191")
    monkeypatch.setenv("HOST", "0.0.0.0")
    assert create_app(config).config["BASE_URL"] == "http://127.0.0.1:9191"
    monkeypatch.setenv("HOST", "gestor.lan")
    assert create_app(config).config["BASE_URL"] == "http://gestor.lan:9191"
    given = create_app({**config, "APP_ENV": "production",
                        "BASE_URL": "https://chamados.example.com"})
    assert given.config["BASE_URL"] == "https://chamados.example.com"


def test_the_mail_settings_are_numbers_checked_at_start_up(app, tmp_path):
    """MAIL_BATCH_SIZE, MAIL_LEASE_SECONDS... come from the environment as text (the
    worker tests start real `flask jobs` with them); a value that is not a number
    stops the start with a message naming it."""
    from app import create_app

    config = config_for(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path))
    given = create_app({**config, "MAIL_BATCH_SIZE": "7", "MAIL_LEASE_SECONDS": "12.5"})
    assert given.config["MAIL_BATCH_SIZE"] == 7
    assert given.config["MAIL_LEASE_SECONDS"] == 12.5
    for name, value in (("MAIL_BATCH_SIZE", "dez"), ("MAIL_LEASE_SECONDS", "0"),
                        ("REPLICA_MAX_LAG_SECONDS", "-1")):
        with pytest.raises(RuntimeError, match=name):
            create_app({**config, name: value})


# --- SMTP unreachable -----------------------------------------------------------------


def test_an_smtp_outage_logs_one_line_a_minute_with_the_mails_waiting(
        app, world, smtp, caplog, monkeypatch):  # noqa: F811
    monkeypatch.setitem(mailer._unreachable, "since", None)
    monkeypatch.setitem(mailer._unreachable, "logged", None)
    set_all(app, world)
    make_ticket(app, world, "open")
    waiting = len(outbox(app))
    smtp.stop()
    caplog.set_level(logging.INFO, logger="app.mailer")

    def lines(word):
        return [r.getMessage() for r in caplog.records
                if r.name == "app.mailer" and word in r.getMessage()]

    for minute in range(3):   # three runs in less than a minute of real time
        drain(app, later(61 * minute))
    down = lines("unreachable")
    assert len(down) == 1, down
    assert f"{waiting} mail(s) waiting" in down[0] and str(smtp.port) in down[0]
    mailer._unreachable["logged"] -= 61   # a minute later (monotonic), still down
    drain(app, later(61 * 4))
    assert len(lines("unreachable")) == 2
    smtp.start()
    drain(app, later(61 * 6))
    assert lines("reachable again")
    assert all(r["status"] == "sent" for r in outbox(app))


# --- `flask jobs` through a database outage --------------------------------------------


def test_flask_jobs_logs_one_line_per_back_off_while_the_database_is_down(
        own_postgres, tmp_path):
    application, url = _pg_app(own_postgres, tmp_path, "jobs_down")
    with application.app_context():
        db.engine.dispose()
    log_file = open(tmp_path / "jobs.log", "w+")
    worker = subprocess.Popen(flask_command("jobs"), cwd=ROOT, stdout=log_file,
                              stderr=subprocess.STDOUT, text=True,
                              env=flask_env(url, tmp_path, LOG_FORMAT="text"))

    def output() -> str:
        log_file.flush()
        log_file.seek(0)
        return log_file.read()

    try:
        deadline = time.monotonic() + 180
        while "Executando" not in output():
            assert worker.poll() is None and time.monotonic() < deadline, output()
            time.sleep(0.2)
        time.sleep(2)
        own_postgres.pause()
        try:
            time.sleep(14)   # at 2 s a run, seven tracebacks per job before
        finally:
            own_postgres.resume()
        deadline = time.monotonic() + 90
        while "database reachable again" not in output():
            assert worker.poll() is None and time.monotonic() < deadline, output()[-3000:]
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    text_out = output()
    assert "Traceback" not in text_out, text_out[-3000:]
    down = [line for line in text_out.splitlines() if "database unavailable" in line]
    assert down, text_out[-3000:]
    waits = {}
    for line in down:
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING app\.jobs "
                        r"\[\w+-[0-9a-f]{8}\] job \w+: database unavailable", line), line
        job, wait = re.search(r"job (\w+): .* next try in (\d+) s", line).groups()
        waits.setdefault(job, []).append(int(wait))
    for job, series in waits.items():
        # Each line announces a longer wait (2, 4, 8...): 14 s down is a few lines.
        assert series == sorted(series) and len(series) <= 4, (job, series)


# --- API errors in Portuguese ---------------------------------------------------------

ENGLISH = re.compile(r"\b(not|authori[sz]ed|unauthori[sz]ed|missing|token has|invalid|"
                     r"error|bad request|found|signature|method|allowed|forbidden|"
                     r"header|expired|fatal)\b", re.I)


def test_every_api_error_answers_in_portuguese(app, world, api):
    from tests.conftest import token_for

    refresh = token_for(app, world.users["requester"], refresh=True)["refresh_token"]
    client = app.test_client()
    requester = api(world.users["requester"])
    bearer = {"Authorization": f"Bearer {requester.token}"}
    answers = [
        client.post("/api/v1/security/login", json={"username": "alfa_requester",
                                                    "password": "errada", "provider": "db"}),
        client.post("/api/v1/security/login", json={"username": "ninguem"}),
        client.post("/api/v1/security/login", data="{", content_type="application/json"),
        client.post("/api/v1/security/refresh"),
        client.post("/api/v1/security/refresh", headers=bearer),
        client.get("/api/v1/ticket/"),
        client.get("/api/v1/ticket/", headers={"Authorization": "Bearer abc.def.ghi"}),
        client.get("/api/v1/ticket/", headers={"Authorization": "Basic YWJjOmRlZg=="}),
        client.get("/api/v1/ticket/", headers={"Authorization": f"Bearer {refresh}"}),
        client.get("/api/v1/ticket/999999", headers=bearer),
        client.get("/api/v1/sector/", headers=bearer),
        client.get("/api/v1/painel/kpis", headers=bearer),
        client.delete("/api/v1/security/login"),
        client.get("/api/v1/nada-aqui"),
        client.get("/api/v1/_openapi"),
        client.post("/api/v1/ticket/", data="{ruim", content_type="application/json",
                    headers=bearer),
        client.get("/api/v1/ticket/?q=(ruim", headers=bearer),
    ]
    for response in answers:
        assert 400 <= response.status_code < 500, response.status_code
        message = response.json["message"]
        assert isinstance(message, str) and message, response.json
        assert not ENGLISH.search(message), (response.request.path, message)
