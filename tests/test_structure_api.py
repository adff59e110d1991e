"""The structure resources of shared/API.md: CRUD, validation, and who may use them."""
import pytest

from tests.helpers import count_queries


def test_admin_creates_sector_department_service_and_member(api, world):
    admin = api(world.users["admin"])
    sector = admin.post("/api/v1/sector/", json={"name": "Jurídico"})
    assert sector.status_code == 201, sector.json
    sector_id = sector.json["id"]
    member = admin.post("/api/v1/member/", json={
        "first_name": "Joana", "last_name": "Lima", "username": "joana",
        "email": "joana@alfa.example", "password": "uma-senha-longa", "sector_id": sector_id,
        "profiles": ["attendant", "requester"]})
    assert member.status_code == 201, member.json
    assert member.json["result"]["profiles"] == ["attendant", "requester"]
    assert "password" not in member.json["result"]
    dep = admin.post("/api/v1/department/", json={"name": "Jurídico",
                                                  "attendant_ids": [member.json["id"]]})
    assert dep.status_code == 201, dep.json
    assert dep.json["result"]["attendant_ids"] == [member.json["id"]]
    svc = admin.post("/api/v1/service/", json={
        "name": "Contrato", "department_id": dep.json["id"], "sla_hours": 24,
        "sla_hours_by_priority": {"urgent": 4, "high": 12}})
    assert svc.status_code == 201, svc.json
    assert svc.json["result"]["sla_hours_by_priority"] == {"urgent": 4, "high": 12}
    got = admin.get(f"/api/v1/service/{svc.json['id']}")
    assert got.status_code == 200 and got.json["result"]["sla_hours"] == 24


def test_put_is_partial(api, world):
    admin = api(world.users["admin"])
    svc_id = world.services["Acesso"]
    response = admin.put(f"/api/v1/service/{svc_id}", json={"sla_hours": 10})
    assert response.status_code == 200, response.json
    result = response.json["result"]
    assert result["name"] == "Acesso" and result["sla_hours"] == 10
    assert result["sla_hours_by_priority"] == {"urgent": 2}


def test_new_member_can_log_in_with_the_password_set_by_admin(app, api, world):
    admin = api(world.users["admin"])
    admin.post("/api/v1/member/", json={
        "first_name": "Nova", "last_name": "Pessoa", "username": "nova.pessoa",
        "email": "nova@alfa.example", "password": "senha-da-nova-1", "profiles": ["requester"]})
    response = app.test_client().post("/api/v1/security/login", json={
        "username": "nova.pessoa", "password": "senha-da-nova-1", "provider": "db"})
    assert response.status_code == 200 and response.json["access_token"]


@pytest.mark.parametrize("body, field, status", [
    ({"username": "alfa_admin"}, "username", 409),
    ({"email": "ADMIN@alfa.example"}, "email", 409),
    ({"email": "sem-arroba"}, "email", 400),
    ({"email": "a@b.c\r\nBcc: x@y.z"}, "email", 400),
    ({"password": "curta"}, "password", 400),
    ({"profiles": ["root"]}, "profiles", 400),
    ({"profiles": "admin"}, "profiles", 400),
    ({"sector_id": 999999}, "sector_id", 400),
    ({"first_name": "   "}, "first_name", 400),
    ({"first_name": "a\x00b"}, "first_name", 400),
    ({"username": "../etc"}, "username", 400),
    ({"active": "sim"}, "active", 400),
])
def test_bad_member_is_refused_with_the_field_and_changes_nothing(api, world, body, field,
                                                                   status):
    admin = api(world.users["admin"])
    before = admin.get("/api/v1/member/").json["count"]
    payload = {"first_name": "X", "last_name": "Y", "username": "novo.membro",
               "email": "novo@alfa.example", "password": "senha-boa-123",
               "profiles": ["requester"], **body}
    response = admin.post("/api/v1/member/", json=payload)
    assert response.status_code == status, response.json
    assert response.json["field"] == field
    assert response.json["message"]
    assert admin.get("/api/v1/member/").json["count"] == before


def test_username_taken_in_another_account_is_409(api, world, other_world):
    admin = api(world.users["admin"])
    response = admin.post("/api/v1/member/", json={
        "first_name": "X", "last_name": "Y", "username": "beta_requester",
        "email": "unico@alfa.example", "password": "senha-boa-123", "profiles": ["requester"]})
    assert response.status_code == 409 and response.json["field"] == "username"


def test_mass_assignment_of_account_id_and_id_is_ignored(app, api, world, other_world):
    admin = api(world.users["admin"])
    response = admin.post("/api/v1/sector/", json={
        "name": "Invasor", "account_id": other_world.account_id, "id": 424242})
    assert response.status_code == 201
    assert response.json["id"] != 424242
    other_admin = api(other_world.users["admin"])
    names = [s["name"] for s in other_admin.get("/api/v1/sector/").json["result"]]
    assert "Invasor" not in names
    assert "Invasor" in [s["name"] for s in admin.get("/api/v1/sector/").json["result"]]


def test_department_refuses_non_attendant_and_unknown_ids(api, world):
    admin = api(world.users["admin"])
    r1 = admin.post("/api/v1/department/", json={"name": "Novo",
                                                 "attendant_ids": [world.users["requester"]]})
    assert r1.status_code == 400 and r1.json["field"] == "attendant_ids"
    r2 = admin.post("/api/v1/department/", json={"name": "Novo", "attendant_ids": [99999]})
    assert r2.status_code == 400 and r2.json["field"] == "attendant_ids"
    r3 = admin.post("/api/v1/department/", json={"name": "Novo", "attendant_ids": "1"})
    assert r3.status_code == 400
    assert all(d["name"] != "Novo" for d in admin.get("/api/v1/department/").json["result"])


@pytest.mark.parametrize("body, field", [
    ({"sla_hours": 0}, "sla_hours"),
    ({"sla_hours": "8"}, "sla_hours"),
    ({"sla_hours": True}, "sla_hours"),
    ({"sla_hours_by_priority": {"critica": 3}}, "sla_hours_by_priority"),
    ({"sla_hours_by_priority": {"urgent": -1}}, "sla_hours_by_priority"),
    ({"department_id": 99999}, "department_id"),
    ({"name": ""}, "name"),
])
def test_bad_service_is_refused(api, world, body, field):
    admin = api(world.users["admin"])
    payload = {"name": "Novo serviço", "department_id": world.departments["TI"],
               "sla_hours": 8, **body}
    response = admin.post("/api/v1/service/", json=payload)
    assert response.status_code == 400, response.json
    assert response.json["field"] == field


def test_duplicate_names_are_409(api, world):
    admin = api(world.users["admin"])
    assert admin.post("/api/v1/sector/", json={"name": "financeiro"}).status_code == 409
    assert admin.post("/api/v1/department/", json={"name": "TI"}).status_code == 409
    assert admin.post("/api/v1/service/", json={
        "name": "Acesso", "department_id": world.departments["TI"], "sla_hours": 3,
    }).status_code == 409


def test_non_json_body_is_400(api, world):
    admin = api(world.users["admin"])
    response = admin.client.post("/api/v1/sector/", data="name=x",
                                 headers={"Authorization": f"Bearer {admin.token}"})
    assert response.status_code == 400 and response.json["message"]


@pytest.mark.parametrize("q", ["(page_size:100000)", "(order_column:password)", "(((", "(page:-1)",
                               "(filters:!((col:password,opr:eq,value:x)))"])
def test_list_arguments_are_capped_or_refused_never_500(api, world, q):
    admin = api(world.users["admin"])
    response = admin.get(f"/api/v1/member/?q={q}")
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert len(response.json["result"]) <= 100


@pytest.mark.parametrize("profile", ["requester", "attendant", "manager"])
def test_other_profiles_cannot_manage_structure(api, world, profile):
    client = api(world.users[profile])
    assert client.post("/api/v1/sector/", json={"name": "X"}).status_code == 403
    assert client.post("/api/v1/department/", json={"name": "X"}).status_code == 403
    assert client.put(f"/api/v1/service/{world.services['Acesso']}",
                      json={"sla_hours": 1}).status_code == 403
    assert client.post("/api/v1/member/", json={"username": "x"}).status_code == 403
    assert client.put(f"/api/v1/member/{world.users[profile]}",
                      json={"profiles": ["admin"]}).status_code == 403
    assert client.delete(f"/api/v1/department/{world.departments['TI']}").status_code == 403
    assert client.post("/api/v1/account/renew", json={"months": 1}).status_code == 403


@pytest.mark.parametrize("profile", ["requester", "attendant", "manager"])
def test_every_member_lists_departments_and_services(api, world, profile):
    client = api(world.users[profile])
    assert client.get("/api/v1/department/").json["count"] == 2
    assert client.get("/api/v1/service/").json["count"] == 2


def test_manager_reads_sectors_and_members_but_requester_does_not(api, world):
    assert api(world.users["manager"]).get("/api/v1/member/").status_code == 200
    assert api(world.users["manager"]).get("/api/v1/sector/").status_code == 200
    assert api(world.users["requester"]).get("/api/v1/member/").status_code == 403
    assert api(world.users["requester"]).get("/api/v1/sector/").status_code == 403


def test_anonymous_gets_401(api, world):
    assert api(None).get("/api/v1/sector/").status_code == 401
    assert api(None).get("/api/v1/account").status_code == 401


def test_last_admin_cannot_remove_own_admin_profile(api, world):
    admin = api(world.users["admin"])
    response = admin.put(f"/api/v1/member/{world.users['admin']}",
                         json={"profiles": ["requester"]})
    assert response.status_code == 400
    me = admin.get(f"/api/v1/member/{world.users['admin']}").json["result"]
    assert "admin" in me["profiles"]


def test_removing_attendant_profile_unlinks_departments(api, world):
    admin = api(world.users["admin"])
    admin.put(f"/api/v1/member/{world.users['attendant2']}", json={"profiles": ["requester"]})
    dep = admin.get(f"/api/v1/department/{world.departments['TI']}").json["result"]
    assert dep["attendant_ids"] == [world.users["attendant"]]


def test_delete_department_with_no_tickets(api, world):
    admin = api(world.users["admin"])
    new = admin.post("/api/v1/department/", json={"name": "Temporário"}).json["id"]
    assert admin.delete(f"/api/v1/department/{new}").status_code == 200
    assert admin.get(f"/api/v1/department/{new}").status_code == 404


@pytest.mark.parametrize("resource", ["member", "sector", "department", "service"])
def test_lists_do_not_query_per_row(app, api, world, resource):
    """The member list read each member's roles one by one (105 queries for a page of
    100 at 1M tickets); every list costs the same few queries however many rows."""
    client = api(world.users["admin"])

    def queries() -> tuple[int, int]:
        count, response = count_queries(app, client, f"/api/v1/{resource}/?q=(page_size:100)")
        return count, response.json["count"]

    few, rows_before = queries()
    for n in range(6):
        client.post("/api/v1/member/", json={
            "first_name": "Extra", "last_name": str(n), "username": f"extra{n}",
            "email": f"extra{n}@alfa.example", "password": "senha-extra-123",
            "profiles": ["attendant", "requester"]})
        client.post("/api/v1/sector/", json={"name": f"Setor {n}"})
        department = client.post("/api/v1/department/", json={
            "name": f"Depto {n}", "attendant_ids": [world.users["attendant"]]}).json["id"]
        client.post("/api/v1/service/", json={"name": f"Serviço {n}",
                                              "department_id": department, "sla_hours": 4})
    many, rows_after = queries()
    assert rows_after == rows_before + 6
    assert many == few
