"""PostgreSQL restarting under the app (HOSTILE.md "Faults"): requests during the outage
answer 503 with a Portuguese message and no stack trace, nothing is half-written, and
the first requests after the restart succeed (pool_pre_ping)."""
import pytest

from tests.conftest import PASSWORD, build_world, token_for
from tests.conftest import test_config as config_for
from tests.pgserver import PostgresServer


@pytest.fixture
def own_postgres(tmp_path):
    server = PostgresServer().start()
    yield server
    server.stop()


def test_database_restart_gives_503_then_recovers(own_postgres, tmp_path):
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.security import sync_roles_and_permissions

    url = own_postgres.create_database("faults")
    app = create_app(config_for(url, str(tmp_path)))
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with app.app_context():
        upgrade()
        sync_roles_and_permissions(app.appbuilder)
    world = build_world(app, "falha")
    token = token_for(app, world.users["requester"])
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    body = {"department_id": world.departments["TI"], "service_id": world.services["Acesso"],
            "priority": "low", "description": "Antes da queda."}
    assert client.post("/api/v1/ticket/", json=body, headers=headers).status_code == 201

    own_postgres.pause()
    try:
        for path in ("/health", "/api/v1/ticket/"):
            response = client.get(path, headers=headers)
            assert response.status_code == 503, (path, response.status_code)
            text = response.get_data(as_text=True)
            assert "Traceback" not in text and "psycopg2" not in text
        # The login form needs no database to be drawn (its permissions are read once
        # per process); logging in does, and says so in Portuguese.
        assert app.test_client().get("/login/").status_code == 200
        refused = app.test_client().post("/login/", data={"username": "falha_requester",
                                                          "password": PASSWORD})
        assert refused.status_code == 503, refused.status_code
        text = refused.get_data(as_text=True)
        assert "indisponível" in text and "Traceback" not in text and "psycopg2" not in text
        during = client.post("/api/v1/ticket/", json={**body, "description": "Durante."},
                             headers=headers)
        assert during.status_code == 503
        assert "indisponível" in during.json["message"]
    finally:
        own_postgres.resume()

    assert client.get("/health").status_code == 200
    listed = client.get("/api/v1/ticket/", headers=headers)
    assert listed.status_code == 200
    descriptions = [t["description"] for t in listed.json["result"]]
    assert descriptions == ["Antes da queda."]  # nothing half-written during the outage
    web = app.test_client()
    login = web.post("/login/", data={"username": "falha_requester", "password": PASSWORD})
    assert login.status_code == 302 and "/login" not in login.headers["Location"]
    with app.app_context():
        db.engine.dispose()
