"""GET /api/v1/painel/kpis: the contract's fields, the profile gate before any
parameter is read, pt-BR 400s naming the field (``clock`` included), and nothing of
another account. The business clock's figures are in test_painel_business_clock.py."""
import pytest

from tests.test_painel_queries import data  # noqa: F401  (the hand-computed data set)

URL = "/api/v1/painel/kpis"
MARCH = "?start=2025-03-01&end=2025-03-31"
FIELDS = ("open_backlog", "opened_in_period", "mean_first_response_hours",
          "mean_handling_hours", "sla_breached", "sla_met", "by_service", "by_priority",
          "by_department", "by_attendant", "by_sector", "by_requester",
          "satisfaction_by_department", "satisfaction_by_sector")


def test_anonymous_gets_401(api, world):
    assert api(None).get(URL + MARCH).status_code == 401


@pytest.mark.parametrize("profile", ["requester", "attendant"])
def test_other_profiles_get_403_before_parameters_are_read(api, world, profile):
    client = api(world.users[profile])
    assert client.get(URL + MARCH).status_code == 403
    response = client.get(URL + "?start=banana&department_id=-1")
    assert response.status_code == 403
    assert response.get_json()["message"]


def test_manager_reads_the_contract_fields(api, world, data):  # noqa: F811
    response = api(world.users["manager"]).get(URL + MARCH)
    assert response.status_code == 200
    body = response.get_json()["result"]
    for field in FIELDS:
        assert field in body, field
    assert body["opened_in_period"] == 5
    assert body["sla_met"] == 2
    assert body["mean_handling_hours"] == pytest.approx(46 / 3)
    assert body["mean_first_response_hours"] == pytest.approx(7.625)
    assert {g["name"]: g["count"] for g in body["by_department"]} == {"TI": 4, "RH": 1}
    assert set(body["by_department"][0]) == {"id", "name", "count"}
    priority = {g["id"]: g["count"] for g in body["by_priority"]}
    assert priority == {"medium": 2, "high": 1, "urgent": 1, "low": 1}
    nobody = [g for g in body["by_attendant"] if g["id"] is None]
    assert nobody == [{"id": None, "name": "Sem atendente", "count": 2}]
    sat = body["satisfaction_by_department"]
    assert sat == [{"id": world.departments["TI"], "name": "TI",
                    "mean_score": pytest.approx(10 / 3), "surveys": 3}]
    assert response.get_json()["opened_in_period"] == 5  # also at the top level
    assert body["clock"] == "24x7"  # the default clock of the mean times


def test_admin_may_read_and_filters_combine(api, world, data):  # noqa: F811
    query = MARCH + f"&department_id={world.departments['TI']}&priority=medium"
    body = api(world.users["admin"]).get(URL + query).get_json()["result"]
    assert body["opened_in_period"] == 1
    query = MARCH + f"&attendant_id={world.users['attendant']}&sector_id=" \
                    f"{world.sectors['Financeiro']}"
    assert api(world.users["admin"]).get(URL + query).status_code == 200


@pytest.mark.parametrize("query,field", [
    ("?start=2025-13-01", "start"), ("?end=ontem", "end"),
    ("?start=2025-03-10&end=2025-03-01", "end"), ("?department_id=abc", "department_id"),
    ("?service_id=1.5", "service_id"), ("?priority=critical", "priority"),
    ("?sector_id=99999999", "sector_id"), ("?attendant_id=0", "attendant_id"),
    ("?start=2025-02-30", "start"), ("?end=2025-04-31", "end"), ("?start=2025-3-1", "start"),
    ("?department_id=1&department_id=2", "department_id"),
    ("?clock=lunar", "clock"), ("?clock=24X7", "clock"), ("?clock=business&clock=24x7", "clock"),
])
def test_bad_parameters_are_400_naming_the_field(api, world, query, field):
    response = api(world.users["manager"]).get(URL + query)
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == field and body["message"]


def test_another_accounts_ids_are_400_like_unknown_ones(api, world, other_world, data):  # noqa: F811
    client = api(world.users["manager"])
    for field, value in (("department_id", other_world.departments["TI"]),
                         ("service_id", other_world.services["Acesso"]),
                         ("sector_id", other_world.sectors["Financeiro"]),
                         ("attendant_id", other_world.users["attendant"])):
        theirs = client.get(f"{URL}{MARCH}&{field}={value}")
        unknown = client.get(f"{URL}{MARCH}&{field}=99999")
        assert theirs.status_code == unknown.status_code == 400
        assert theirs.get_json() == unknown.get_json()


def test_each_account_counts_its_own(api, world, other_world, data):  # noqa: F811
    mine = api(world.users["manager"]).get(URL + MARCH).get_json()["result"]
    theirs = api(other_world.users["manager"]).get(URL + MARCH).get_json()["result"]
    assert mine["opened_in_period"] == 5 and theirs["opened_in_period"] == 6


def test_default_period_is_the_last_30_days(api, world):
    body = api(world.users["manager"]).get(URL).get_json()["result"]
    assert body["opened_in_period"] == 0 and body["by_service"] == []
    assert body["period"]["time_zone"] == "America/Sao_Paulo"
