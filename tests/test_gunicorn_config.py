"""docs/deploy.md's web server: ``gunicorn -c gunicorn.conf.py run:app`` under
APP_ENV=production on PostgreSQL, configured by environment variables only. It serves
/health/ready, echoes the request id and logs JSON lines carrying it, answers on its
own per-instance control socket (``gunicornc``), and stops with exit 0 on SIGTERM."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

from tests.conftest import test_config as config_for
from tests.deploy_helpers import ROOT, flask_env
from tests.pgserver import free_port

BIN = os.path.dirname(sys.executable)


def _migrated(pg_server, tmp_path) -> str:
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.security import sync_roles_and_permissions

    url = pg_server.create_database(f"gunicorn_{uuid.uuid4().hex[:8]}")
    app = create_app(config_for(url, str(tmp_path)))
    with app.app_context():
        upgrade()
        sync_roles_and_permissions(app.appbuilder)
        db.engine.dispose()
    return url


def test_gunicorn_with_the_deploy_config_serves_ready_and_has_its_own_control_socket(
        pg_server, tmp_path):
    url = _migrated(pg_server, tmp_path)
    port = free_port()
    runtime = tmp_path / "run"
    env = flask_env(url.replace("postgresql+psycopg2://", "postgresql://"), tmp_path,
                    APP_ENV="production", SECRET_KEY="a-production-key-of-at-least-32-bytes",
                    BASE_URL="https://chamados.example.com", TRUSTED_HOSTS="127.0.0.1",
                    GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2",
                    RUNTIME_DIRECTORY=str(runtime), SESSION_COOKIE_SECURE="0",
                    # an idle sync worker notices SIGTERM at its next wake-up (timeout/2)
                    GUNICORN_TIMEOUT="6", GUNICORN_GRACEFUL_TIMEOUT="10")
    env.pop("GUNICORN_CMD_ARGS", None)
    log = open(tmp_path / "gunicorn.log", "w+")
    server = subprocess.Popen([os.path.join(BIN, "gunicorn"), "-c", "gunicorn.conf.py",
                               "run:app"], cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT, text=True)

    def output() -> str:
        log.flush()
        log.seek(0)
        return log.read()

    try:
        deadline = time.monotonic() + 240
        answer = None
        while answer is None:
            assert server.poll() is None, output()[-3000:]
            assert time.monotonic() < deadline, output()[-3000:]
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/health/ready",
                    headers={"X-Request-ID": "deploy-check-1"})
                answer = urllib.request.urlopen(request, timeout=5)
            except OSError:
                time.sleep(0.5)
        body = json.loads(answer.read())
        assert answer.status == 200 and body["status"] == "ok", body
        assert body["checks"]["database"]["status"] == "ok"
        assert answer.headers["X-Request-ID"] == "deploy-check-1"

        socket_path = runtime / f"gunicorn-{port}.ctl"
        deadline = time.monotonic() + 60
        while not socket_path.exists():
            assert time.monotonic() < deadline, output()[-3000:]
            time.sleep(0.2)
        workers = subprocess.run([os.path.join(BIN, "gunicornc"), "-s", str(socket_path),
                                  "-c", "show workers", "-j"], capture_output=True,
                                 text=True, timeout=30)
        assert workers.returncode == 0, workers.stderr
        shown = json.loads(workers.stdout)
        listed = shown.get("workers", shown) if isinstance(shown, dict) else shown
        assert len(listed) == 2, shown

        time.sleep(0.5)
        lines = [json.loads(line) for line in output().splitlines()
                 if line.startswith("{")]
        access = [line for line in lines if line["logger"] == "app.access"
                  and line["request_id"] == "deploy-check-1"]
        assert access and "GET /health/ready 200" in access[0]["message"], lines[-5:]
        assert all(line["ts"].endswith("Z") for line in lines)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        code = server.wait(60)
    assert code == 0, output()[-3000:]
