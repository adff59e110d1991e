"""Nobody sees, changes or references another account's rows (SPEC: isolation)."""
import pytest
from sqlalchemy import select

from app.models import Department, Member, Sector


RESOURCES = ["sector", "department", "service", "member"]


def _an_id(world, resource):
    return {"sector": world.sectors["Financeiro"], "department": world.departments["TI"],
            "service": world.services["Acesso"], "member": world.users["requester"]}[resource]


@pytest.mark.parametrize("resource", RESOURCES)
def test_admin_cannot_read_change_or_delete_another_accounts_rows(api, world, other_world,
                                                                   resource):
    admin = api(world.users["admin"])
    foreign = _an_id(other_world, resource)
    assert admin.get(f"/api/v1/{resource}/{foreign}").status_code == 404
    assert admin.put(f"/api/v1/{resource}/{foreign}", json={"name": "x"}).status_code == 404
    assert admin.delete(f"/api/v1/{resource}/{foreign}").status_code == 404
    listed = admin.get(f"/api/v1/{resource}/?q=(page_size:100)").json
    assert foreign not in listed["ids"]
    # The other account still has it, unchanged.
    other = api(other_world.users["admin"]).get(f"/api/v1/{resource}/{foreign}")
    assert other.status_code == 200


def test_admin_cannot_reference_another_accounts_rows(api, world, other_world):
    admin = api(world.users["admin"])
    r = admin.post("/api/v1/member/", json={
        "first_name": "A", "last_name": "B", "username": "cruzado", "email": "c@alfa.example",
        "password": "senha-boa-123", "sector_id": other_world.sectors["Financeiro"]})
    assert r.status_code == 400 and r.json["field"] == "sector_id"
    assert "inexistente" in r.json["message"]
    r = admin.post("/api/v1/department/", json={
        "name": "Cruzado", "attendant_ids": [other_world.users["attendant"]]})
    assert r.status_code == 400 and r.json["field"] == "attendant_ids"
    r = admin.post("/api/v1/service/", json={
        "name": "Cruzado", "department_id": other_world.departments["TI"], "sla_hours": 3})
    assert r.status_code == 400 and r.json["field"] == "department_id"
    r = admin.put(f"/api/v1/department/{world.departments['TI']}",
                  json={"attendant_ids": [other_world.users["attendant"]]})
    assert r.status_code == 400


def test_account_endpoint_shows_only_own_account(api, world, other_world):
    mine = api(world.users["admin"]).get("/api/v1/account").json["result"]
    theirs = api(other_world.users["admin"]).get("/api/v1/account").json["result"]
    assert mine["id"] == world.account_id and theirs["id"] == other_world.account_id
    assert mine["name"] != theirs["name"]


@pytest.mark.parametrize("view", ["SectorView", "MemberView", "DepartmentView", "ServiceView"])
def test_admin_screens_list_only_own_rows_and_404_on_foreign_ids(app, web, world, other_world,
                                                                 view):
    client = web("alfa_admin")
    prefix = {"SectorView": "sectorview", "MemberView": "memberview",
              "DepartmentView": "departmentview", "ServiceView": "serviceview"}[view]
    page = client.get(f"/{prefix}/list/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "beta" not in html.lower()
    resource = {"SectorView": "sector", "MemberView": "member", "DepartmentView": "department",
                "ServiceView": "service"}[view]
    foreign = _an_id(other_world, resource)
    assert client.get(f"/{prefix}/show/{foreign}").status_code in (404, 302)
    edit = client.get(f"/{prefix}/edit/{foreign}")
    assert edit.status_code in (404, 302)
    # Members are deactivated, never deleted: the screen has no delete (403).
    assert client.post(f"/{prefix}/delete/{foreign}").status_code in (404, 302, 403)
    other = api_get_names(app, other_world)
    assert other  # the foreign rows are intact


def api_get_names(app, world):
    from app.extensions import db
    from app.tenancy import account_scope

    with app.app_context(), account_scope(world.account_id):
        names = db.session.scalars(select(Sector.name)).all()
        db.session.remove()
    return names


def test_orm_queries_inside_an_account_scope_never_return_other_rows(app, world, other_world):
    from app.extensions import db
    from app.tenancy import account_scope

    with app.app_context(), account_scope(world.account_id):
        departments = db.session.scalars(select(Department)).all()
        members = db.session.scalars(select(Member)).all()
        assert {d.account_id for d in departments} == {world.account_id}
        assert {m.account_id for m in members} == {world.account_id}
        assert db.session.get(Department, other_world.departments["TI"]) is None
        db.session.remove()


def test_writing_a_row_into_another_account_is_refused(app, world, other_world):
    from app.extensions import db
    from app.tenancy import account_scope

    with app.app_context(), account_scope(world.account_id):
        db.session.add(Sector(name="Intruso", account_id=other_world.account_id))
        with pytest.raises(PermissionError):
            db.session.flush()
        db.session.rollback()
        db.session.remove()


def test_anonymous_request_sees_no_account_rows(app, world):
    from app.extensions import db

    with app.test_request_context("/"):
        app.preprocess_request()
        assert db.session.scalars(select(Department)).all() == []
        db.session.remove()


def test_orm_bulk_update_and_delete_stay_inside_the_account(app, world, other_world):
    from sqlalchemy import delete, update

    from app.extensions import db
    from app.tenancy import UNSCOPED, account_scope

    with app.app_context():
        with account_scope(world.account_id):
            db.session.execute(update(Sector).values(name=Sector.name + " (editado)"))
            db.session.execute(delete(Department).where(Department.name == "RH"))
            db.session.commit()
        with account_scope(UNSCOPED):
            rows = db.session.execute(select(Sector.account_id, Sector.name)).all()
            departments = db.session.execute(select(Department.account_id,
                                                    Department.name)).all()
        db.session.remove()
    for account_id, name in rows:
        assert name.endswith("(editado)") == (account_id == world.account_id)
    assert (other_world.account_id, "RH") in departments
    assert (world.account_id, "RH") not in departments
