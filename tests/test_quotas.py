"""Per-person quotas (app/quotas.py, issue 13 item 6): openings and uploads per hour,
account settings with defaults of 100 and 300, a Portuguese 429 with Retry-After that
says when to try again, nothing written and nobody mailed when refused, and counted from
the database so that every process shares the count."""
import io

from sqlalchemy import func, select

from tests.conftest import test_config as config_for
from tests.test_portals import png_bytes


def _count(app, model):
    from app.extensions import db
    from app.tenancy import UNSCOPED, account_scope

    with app.app_context(), account_scope(UNSCOPED):
        value = db.session.scalar(select(func.count()).select_from(model))
        db.session.remove()
    return value


def _ticket(world, **extra):
    return {"department_id": world.departments["TI"], "service_id": world.services["Acesso"],
            "priority": "low", "description": "Mais um chamado", **extra}


def _set(api, world, **settings):
    response = api(world.users["admin"]).put("/api/v1/account", json={"settings": settings})
    assert response.status_code == 200, response.json
    return response.json["result"]["settings"]


def test_defaults_are_100_openings_and_300_files_and_the_admin_changes_them(api, world):
    settings = api(world.users["admin"]).get("/api/v1/account").json["result"]["settings"]
    assert (settings["openings_per_hour"], settings["uploads_per_hour"]) == (100, 300)
    assert _set(api, world, openings_per_hour=5, uploads_per_hour=7)["uploads_per_hour"] == 7
    refused = api(world.users["admin"]).put("/api/v1/account",
                                            json={"settings": {"openings_per_hour": 0}})
    assert refused.status_code == 400 and refused.json["field"] == "openings_per_hour"


def test_openings_beyond_the_quota_get_a_portuguese_429_and_change_nothing(app, api, world):
    from app.models import OutboxMail, Ticket

    _set(api, world, openings_per_hour=3)
    client = api(world.users["requester"])
    for _ in range(3):
        assert client.post("/api/v1/ticket/", json=_ticket(world)).status_code == 201
    tickets, mails = _count(app, Ticket), _count(app, OutboxMail)
    refused = client.post("/api/v1/ticket/", json=_ticket(world))
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert "Limite de 3 chamados abertos por hora" in refused.json["message"]
    assert "Tente novamente em" in refused.json["message"]
    assert (_count(app, Ticket), _count(app, OutboxMail)) == (tickets, mails)
    # Per person: another requester of the account still opens.
    assert api(world.users["requester2"]).post("/api/v1/ticket/",
                                               json=_ticket(world)).status_code == 201


def test_the_form_answers_the_same_429(app, api, web, world):
    _set(api, world, openings_per_hour=1)
    assert api(world.users["requester"]).post("/api/v1/ticket/",
                                              json=_ticket(world)).status_code == 201
    response = web("alfa_requester").post("/cliente/abrir", data={
        k: str(v) for k, v in _ticket(world).items()})
    assert response.status_code == 429 and response.headers["Retry-After"]
    assert "Limite de 1 chamados abertos por hora" in response.get_data(as_text=True)


def test_uploads_beyond_the_quota_are_refused_on_openings_and_messages(app, api, world):
    from app.models import Attachment, TicketMessage

    _set(api, world, uploads_per_hour=2)
    client = api(world.users["requester"])

    def open_with_file():
        data = {k: str(v) for k, v in _ticket(world).items()}
        data["file"] = (io.BytesIO(png_bytes()), "print.png")
        return client.client.post("/api/v1/ticket/", data=data,
                                  content_type="multipart/form-data", headers=client._headers())

    assert open_with_file().status_code == 201
    ticket_id = open_with_file().json["id"]
    refused = open_with_file()
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert "Limite de 2 arquivos enviados por hora" in refused.json["message"]
    messages = _count(app, TicketMessage)
    sent = client.client.post(f"/api/v1/ticket/{ticket_id}/messages", data={
        "body": "Mais um print", "file": (io.BytesIO(png_bytes()), "p.png")},
        content_type="multipart/form-data", headers=client._headers())
    assert sent.status_code == 429
    assert (_count(app, Attachment), _count(app, TicketMessage)) == (2, messages)
    # Messages without a file are not uploads.
    assert client.post(f"/api/v1/ticket/{ticket_id}/messages",
                       json={"body": "Sem arquivo"}).status_code == 201


def test_the_count_is_shared_by_every_process(app, api, world, database_url, tmp_path):
    """A second application on the same database (another worker or host) sees the
    openings the first one took."""
    from app import create_app
    from tests.conftest import ApiClient

    _set(api, world, openings_per_hour=2)
    assert api(world.users["requester"]).post("/api/v1/ticket/",
                                              json=_ticket(world)).status_code == 201
    other = create_app(config_for(database_url, str(tmp_path)))
    second = ApiClient(other, world.users["requester"])
    assert second.post("/api/v1/ticket/", json=_ticket(world)).status_code == 201
    assert api(world.users["requester"]).post("/api/v1/ticket/",
                                              json=_ticket(world)).status_code == 429
    assert second.post("/api/v1/ticket/", json=_ticket(world)).status_code == 429
