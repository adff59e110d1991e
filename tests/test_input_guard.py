"""Input no view should see (app/input_guard.py, app/api/base.py, dashboards/filters.py):
each case of issue 13 that answered 500 now answers a Portuguese 400 (413 for a JSON
body over the limit) and changes nothing. On both backends: SQLite overflows on
integers beyond 64 bits, PostgreSQL refuses a text compared with an integer column.
"""
import json

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.helpers import make_ticket

DEEP_LIST = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a":' * 3000 + "1" + "}" * 3000
HUGE = 99999999999999999999  # beyond 64 bits


def _counts(app):
    from app.extensions import db
    from app.models import Account, Member, NotificationSetting, Ticket
    from app.tenancy import UNSCOPED, account_scope

    with app.app_context(), account_scope(UNSCOPED):
        result = {m.__name__: db.session.scalar(select(func.count()).select_from(m))
                  for m in (Account, Member, Ticket, NotificationSetting)}
        db.session.remove()
    return result


@pytest.mark.parametrize("method, url, who", [
    ("POST", "/api/v1/security/login", None),
    ("POST", "/api/v1/signup", None),
    ("POST", "/api/v1/ticket/", "requester"),
    ("PUT", "/api/v1/notification-settings", "admin"),
])
@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_OBJECT], ids=["list", "object"])
def test_deeply_nested_json_is_a_portuguese_400_and_changes_nothing(app, world, api, method,
                                                                   url, who, body):
    before = _counts(app)
    client = api(world.users[who] if who else None)
    response = client.client.open(url, method=method, data=body,
                                  content_type="application/json",
                                  headers=client._headers())
    assert response.status_code == 400, response.get_data(as_text=True)[:200]
    assert response.get_json()["message"]
    assert _counts(app) == before


def test_json_body_over_the_limit_is_413(app, world, api):
    body = json.dumps({"description": "x" * (1024 * 1024 + 10)})
    client = api(world.users["requester"])
    response = client.client.post("/api/v1/ticket/", data=body, content_type="application/json",
                                  headers=client._headers())
    assert response.status_code == 413
    assert "grande demais" in response.get_json()["message"]


@pytest.mark.parametrize("url", [
    "/api/v1/ticket/?department_id=99999999999999999999",
    "/api/v1/ticket/?q=(page:99999999999999999999)",
    "/api/v1/sector/?q=(page:99999999999999999999)",
    "/api/v1/sector/?q=(page:999999999999999999)",     # page * page_size beyond 64 bits
    "/api/v1/member/?q=(filters:!((col:sector_id,opr:eq,value:99999999999999999999)))",
    "/api/v1/service/?q=(filters:!((col:department_id,opr:eq,value:abc)))",   # PostgreSQL
    "/api/v1/sector/?q=(filters:!((col:name,opr:eq,value:5)))",               # PostgreSQL
    "/api/v1/sector/?q=(filters:!((col:name,opr:eq,value:!(1,2))))",
    "/api/v1/sector/?q=(filters:!((col:name,opr:eq,value:(a:1))))",
    "/api/v1/painel/kpis?start=2025-02-30&end=2025-03-01",
    "/api/v1/painel/kpis?start=+2025-01-01&end=2025-03-01",
    "/api/v1/calendar/holidays?year=99999999999999999999",
])
def test_huge_integers_wrong_rison_and_impossible_dates_are_a_400(app, world, api, url):
    make_ticket(app, world)
    response = api(world.users["admin"]).get(url)
    assert response.status_code == 400, (url, response.status_code)
    assert response.get_json()["message"]


def test_rison_filters_still_work(app, world, api):
    client = api(world.users["admin"])
    named = client.get("/api/v1/sector/?q=(filters:!((col:name,opr:eq,value:Financeiro)))")
    assert named.get_json()["count"] == 1
    by_id = client.get("/api/v1/member/?q=(filters:!((col:sector_id,opr:eq,value:"
                       f"{world.sectors['Financeiro']})))")
    assert by_id.status_code == 200 and by_id.get_json()["count"] == 6


@pytest.mark.parametrize("body", [
    {"department_id": HUGE, "service_id": 1, "priority": "low", "description": "Oi"},
    {"department_id": 1, "service_id": 1, "priority": "low", "description": "Oi",
     "x": [[{"y": -HUGE}]]},
])
def test_huge_integers_in_json_are_a_400_naming_the_field(app, world, api, body):
    before = _counts(app)
    response = api(world.users["requester"]).post("/api/v1/ticket/", json=body)
    assert response.status_code == 400
    assert response.get_json()["field"] in ("department_id", "x")
    assert "grande demais" in response.get_json()["message"]
    assert _counts(app) == before


@pytest.mark.parametrize("path", ["/painel/exportar.csv", "/painel/exportar.xlsx"])
@pytest.mark.parametrize("query", ["start=9999-12-31&end=9999-12-31",
                                   "start=0001-01-01&end=0001-01-01"])
def test_exports_answer_the_first_and_last_days_python_holds(app, world, web, path, query):
    """Any real period is answered (shared/API.md, "Periods"), the calendar's very
    first and last days included: their UTC bounds are kept inside what datetime holds."""
    response = web("alfa_manager").get(f"{path}?{query}")
    assert response.status_code == 200


def _dash_body(app, values: dict, output: str | None = None):
    dash_app = app.extensions["painel_dash"]
    key = output or next(k for k in dash_app.callback_map if "kpi-backlog" in k)
    callback = dash_app.callback_map[key]
    declared = callback["output"]
    outputs = [{"id": o.component_id, "property": o.component_property}
               for o in (declared if isinstance(declared, list) else [declared])]
    return {"output": key, "outputs": outputs if isinstance(declared, list) else outputs[0],
            "inputs": [dict(i, value=values.get(f"{i['id']}.{i['property']}"))
                       for i in callback["inputs"]],
            "state": [dict(i, value=None) for i in callback["state"]],
            "changedPropIds": ["f-period.start_date"]}


def test_the_painel_computes_nothing_for_an_impossible_date(app, world, web):
    """The KPI callback answers, with no figure (the filter bar's own callback says
    which date is wrong: tests/test_painel_periods.py)."""
    make_ticket(app, world)
    client = web("alfa_manager")
    body = _dash_body(app, {"f-period.start_date": "2025-02-30",
                            "f-period.end_date": "2025-03-01"})
    response = client.post("/painel/_dash-update-component", json=body,
                           headers={"Origin": "http://localhost"})
    assert response.status_code == 200
    assert response.get_json()["response"]["kpi-backlog"]["children"] == "\u2014"


def test_the_painel_answers_the_last_day_python_holds(app, world, web):
    client = web("alfa_manager")
    body = _dash_body(app, {"f-period.start_date": "9999-12-31",
                            "f-period.end_date": "9999-12-31"})
    response = client.post("/painel/_dash-update-component", json=body,
                           headers={"Origin": "http://localhost"})
    assert response.status_code == 200


MALFORMED_DASH = [
    {}, [], "x", 1, {"output": 1}, {"output": "nada.children"},
    {"output": "f-service_id.options", "inputs": 1},
    {"output": "f-service_id.options", "inputs": [1]},
    {"output": "f-service_id.options", "inputs": [{"id": "f-department_id"}]},
    {"output": "f-service_id.options", "outputs": [], "inputs": [], "changedPropIds": []},
    {"output": "f-service_id.options", "outputs": {"id": "f-service_id", "property": "options"},
     "inputs": [{"id": "f-department_id", "property": "value", "value": None}],
     "changedPropIds": 5},
]


@pytest.mark.parametrize("body", MALFORMED_DASH, ids=range(len(MALFORMED_DASH)))
def test_malformed_dash_callback_bodies_are_a_portuguese_400(app, world, web, body):
    response = web("alfa_manager").post("/painel/_dash-update-component", json=body,
                                        headers={"Origin": "http://localhost"})
    assert response.status_code == 400
    assert "Painel inválida" in response.get_json()["message"]


def test_a_well_formed_dash_callback_still_answers(app, world, web):
    body = _dash_body(app, {"f-period.start_date": "2026-01-01",
                            "f-period.end_date": "2026-01-31"})
    response = web("alfa_manager").post("/painel/_dash-update-component", json=body,
                                        headers={"Origin": "http://localhost"})
    assert response.status_code == 200
    assert "kpi-backlog" in response.get_json()["response"]


def test_generated_screens_refuse_huge_ids_in_forms(app, world, web):
    before = _counts(app)
    response = web("alfa_admin").post("/memberview/add", data={
        "first_name": "Ana", "last_name": "Silva", "username": "ana.silva",
        "email": "ana@alfa.example", "sector": str(HUGE),
        "password": PASSWORD + "x", "conf_password": PASSWORD + "x"})
    assert response.status_code == 400
    assert "grande demais" in response.get_data(as_text=True)
    assert _counts(app) == before
