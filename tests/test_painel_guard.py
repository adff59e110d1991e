"""The Painel's door and its callbacks: every path under /painel/ is guarded, and a
callback scopes itself to the caller's account whatever the browser sends."""
import json

import pytest

ORIGIN = {"Origin": "http://localhost"}


@pytest.fixture
def data(app, world, other_world):
    from app.generator import populate_account

    with app.app_context():
        populate_account(world.account_id, n_tickets=300, months=1, seed=1)
        populate_account(other_world.account_id, n_tickets=200, months=1, seed=2)
    return world, other_world


def dash_post(client, first_output: str, values: dict, headers=ORIGIN):
    """Call the callback whose output string starts with ``first_output``; ``values``
    maps "id.property" to what the browser would send (missing ones are None)."""
    deps = json.loads(client.get("/painel/_dash-dependencies").data)
    dep = next(d for d in deps if d["output"].startswith(first_output))
    outputs = [dict(zip(("id", "property"), part.split(".")))
               for part in dep["output"].strip(".").split("...")]

    def item(spec):
        key = f"{spec['id']}.{spec['property']}"
        return {**spec, "value": values.get(key)}

    payload = {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
               "inputs": [item(i) for i in dep["inputs"]],
               "state": [item(s) for s in dep["state"]],
               "changedPropIds": [next(iter(values))] if values else []}
    return client.post("/painel/_dash-update-component", data=json.dumps(payload),
                       content_type="application/json", headers=headers)


PERIOD = {"f-period.start_date": "2024-01-01", "f-period.end_date": "2030-01-01"}


def test_anonymous_page_goes_to_login(app):
    response = app.test_client().get("/painel/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login/?next=/painel/")


@pytest.mark.parametrize("path", ["/painel/_dash-layout", "/painel/_dash-dependencies",
                                  "/painel/exportar.csv", "/painel/assets/painel.css"])
def test_anonymous_calls_get_401(app, path):
    assert app.test_client().get(path).status_code == 401


def test_anonymous_callback_gets_401(app):
    response = app.test_client().post("/painel/_dash-update-component", json={},
                                      headers=ORIGIN)
    assert response.status_code == 401


@pytest.mark.parametrize("username", ["alfa_requester", "alfa_attendant"])
def test_other_profiles_get_403_everywhere(web, world, username):
    client = web(username)
    for path in ("/painel/", "/painel/_dash-layout", "/painel/exportar.xlsx",
                 "/painel-de-atendimentos/"):
        assert client.get(path).status_code == 403, path
    response = client.post("/painel/_dash-update-component", json={}, headers=ORIGIN)
    assert response.status_code == 403


@pytest.mark.parametrize("username", ["alfa_manager", "alfa_admin"])
def test_managers_and_admins_get_in(web, world, username):
    client = web(username)
    page = client.get("/painel/")
    assert page.status_code == 200
    assert b"navbar" in page.data  # inside the product's look
    assert client.get("/painel/_dash-layout").status_code == 200
    assert client.get("/painel-de-atendimentos/").status_code == 302
    home = client.get("/").data.decode()
    assert "Painel de Atendimentos" in home  # the menu entry


def test_requester_does_not_see_the_menu_entry(web, world):
    assert "Painel de Atendimentos" not in web("alfa_requester").get("/").data.decode()


def test_callbacks_refuse_cross_site_posts(web, world):
    client = web("alfa_manager")
    no_origin = dash_post(client, "..kpi-backlog", PERIOD, headers={})
    assert no_origin.status_code == 403
    evil = dash_post(client, "..kpi-backlog", PERIOD, headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403
    form = client.post("/painel/_dash-update-component", data={"a": "b"}, headers=ORIGIN)
    assert form.status_code == 403


def test_callback_counts_only_the_callers_account(web, data):
    world, _ = data
    client = web("alfa_manager")
    response = dash_post(client, "..drill-table", {**PERIOD, "drill-page.data": 0})
    assert response.status_code == 200, response.data[:500]
    body = response.get_json()["response"]
    assert body["drill-total"]["data"] == 300
    kpis = dash_post(client, "..kpi-backlog", PERIOD).get_json()["response"]
    assert kpis["kpi-opened"]["children"] == "300"


def test_another_accounts_ids_in_a_callback_reveal_nothing(web, data):
    _, other = data
    client = web("alfa_manager")
    theirs = {**PERIOD, "f-department_id.value": [other.departments["TI"]]}
    kpis = dash_post(client, "..kpi-backlog", theirs).get_json()["response"]
    assert kpis["kpi-opened"]["children"] == "—"
    assert "Departamento inexistente" in json.dumps(kpis["painel-alert"], ensure_ascii=False)
    drill = dash_post(client, "..drill-table", {**theirs, "drill-page.data": 0})
    assert drill.get_json()["response"]["drill-total"]["data"] == 0
    options = dash_post(client, "f-service_id.options", {
        "f-department_id.value": [other.departments["TI"]]}).get_json()["response"]
    assert options["f-service_id"]["options"] == []
    # A forged cross-filter (a "clicked bar" of the other account) is ignored.
    forged = {**PERIOD, "crossfilter.data": {"dimension": "department",
                                             "id": other.departments["TI"], "label": "x"}}
    kpis = dash_post(client, "..kpi-backlog", forged).get_json()["response"]
    assert kpis["kpi-opened"]["children"] == "300"


def test_export_answers_the_callers_view_only(web, data):
    world, other = data
    client = web("alfa_manager")
    csv = client.get("/painel/exportar.csv?start=2024-01-01&end=2030-01-01")
    assert csv.status_code == 200 and "attachment" in csv.headers["Content-Disposition"]
    lines = csv.data.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("Chamado;Assunto;Aberto em") and len(lines) == 301
    bad = client.get(f"/painel/exportar.xlsx?department_id={other.departments['TI']}")
    assert bad.status_code == 400
    xlsx = client.get("/painel/exportar.xlsx?start=2024-01-01&end=2030-01-01")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
