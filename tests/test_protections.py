"""Protections that worked but that no test would have missed (issue 13 item 9): each
test here fails when its protection is removed (docs/security.md says how each was
checked)."""
import csv
import io

import pandas as pd
import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.helpers import load_ticket, make_ticket
from tests.test_portals import png_bytes


def _ticket_with_file(app, api, world, subject=None):
    client = api(world.users["requester"])
    data = {"department_id": str(world.departments["TI"]),
            "service_id": str(world.services["Acesso"]), "priority": "medium",
            "description": "Segue o print.", "file": (io.BytesIO(png_bytes()), "print.png")}
    if subject:
        data["subject"] = subject
    response = client.client.post("/api/v1/ticket/", data=data,
                                  content_type="multipart/form-data",
                                  headers={"Authorization": f"Bearer {client.token}"})
    assert response.status_code == 201, response.json
    return response.json["id"], response.json["result"]["attachments"][0]["id"]


def test_attachment_api_serves_a_file_only_to_who_sees_its_ticket(app, api, world,
                                                                 other_world):
    """Same company included: another requester of the account, an attendant of another
    department (app.api.tickets.visible_attachment); and another account (tenancy)."""
    _, file_id = _ticket_with_file(app, api, world)
    url = f"/api/v1/attachment/{file_id}"
    for key in ("requester", "attendant", "attendant2", "manager", "admin"):
        response = api(world.users[key]).get(url)
        assert response.status_code == 200 and response.data == png_bytes(), key
    for key in ("requester2", "attendant_other"):
        response = api(world.users[key]).get(url)
        assert response.status_code == 404 and b"PNG" not in response.data, key
    for key in ("admin", "requester"):
        assert api(other_world.users[key]).get(url).status_code == 404


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_neutralise_formulas_in_text_cells(app, api, web, world, fmt):
    for subject in ('=HYPERLINK("http://mal.example","clique")', "+1+2", "-3+4",
                    "@SOMA(1;2)"):
        api(world.users["requester"]).post("/api/v1/ticket/", json={
            "department_id": world.departments["TI"], "service_id": world.services["Acesso"],
            "priority": "low", "description": "Planilha", "subject": subject})
    response = web("alfa_manager").get(f"/painel/exportar.{fmt}")
    assert response.status_code == 200
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")),
                               delimiter=";" if ";" in response.get_data(as_text=True)[:200]
                               else ","))
        cells = [c for row in rows for c in row]
    else:
        frames = pd.read_excel(io.BytesIO(response.data), sheet_name=None, header=None)
        cells = [str(c) for frame in frames.values() for c in frame.to_numpy().ravel()]
    subjects = [c for c in cells if "HYPERLINK" in c or c.lstrip("'") in (
        "+1+2", "-3+4", "@SOMA(1;2)")]
    assert len(subjects) == 4, subjects
    assert all(c.startswith("'") for c in subjects), subjects


def test_painel_chart_labels_are_escaped():
    from dashboards import figures

    frame = pd.DataFrame({"id": [1, 2], "name": ['<img src=x onerror="alert(1)">',
                                                  "<b>Setor</b>"], "count": [3, 1]})
    figure = figures.bars(frame, "Chamados por <setor>")
    labels = list(figure.data[0].y)
    assert labels == ["&lt;img src=x onerror=&quot;alert(1)&quot;&gt;",
                      "&lt;b&gt;Setor&lt;/b&gt;"]
    assert "<setor>" not in figure.layout.title.text


def test_only_attendants_of_the_department_assume_even_when_they_see_the_ticket(app, api,
                                                                                world):
    """A manager who also attends RH sees every ticket of the account (as manager), so
    the visibility filter does not hide a TI ticket: the workflow's own check that the
    actor attends the ticket's department must refuse it."""
    from app import accounts, structure
    from app.extensions import db
    from app.models import Department
    from app.tenancy import account_scope

    with app.app_context(), account_scope(world.account_id):
        both = accounts.create_member({
            "first_name": "Gestora", "last_name": "Atendente", "username": "alfa_gestora",
            "email": "gestora@alfa.example", "password": PASSWORD,
            "sector_id": world.sectors["Financeiro"], "profiles": ["manager", "attendant"]})
        rh = db.session.get(Department, world.departments["RH"])
        structure.save_department(rh, {"attendant_ids": [world.users["attendant_other"],
                                                         both.id]})
        both_id = both.id
        db.session.remove()
    ticket_id = make_ticket(app, world)
    client = api(both_id)
    assert client.get(f"/api/v1/ticket/{ticket_id}").status_code == 200
    response = client.post(f"/api/v1/ticket/{ticket_id}/assume", json={})
    assert response.status_code == 403
    assert "atendentes do departamento" in response.json["message"]
    assert load_ticket(app, world, ticket_id)["status"] == "open"
    assert load_ticket(app, world, ticket_id)["assignee_id"] is None


def test_member_update_carrying_account_id_stays_in_its_account(app, api, world,
                                                                other_world):
    from app.extensions import db
    from app.models import Member
    from app.tenancy import UNSCOPED, account_scope

    member_id = world.users["requester"]
    response = api(world.users["admin"]).put(f"/api/v1/member/{member_id}", json={
        "account_id": other_world.account_id, "first_name": "Renomeada"})
    assert response.status_code == 200
    with app.app_context(), account_scope(UNSCOPED):
        member = db.session.scalar(select(Member).where(Member.id == member_id))
        assert (member.account_id, member.first_name) == (world.account_id, "Renomeada")
        db.session.remove()
    other = api(other_world.users["admin"])
    assert other.get(f"/api/v1/member/{member_id}").status_code == 404
    screen = api(world.users["admin"]).get(f"/api/v1/member/{member_id}")
    assert screen.status_code == 200
