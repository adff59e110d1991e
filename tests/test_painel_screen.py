"""The Painel's newer callbacks over HTTP, as the browser calls them: the address and
the presets feed each other, a bookmarked view opens with its filters, the trend and
the people tables answer, and whatever the browser sends is checked against the
caller's account (another account's id: a Portuguese message, no data)."""
import json

import pytest

from tests.test_painel_guard import dash_post
from tests.test_painel_queries import data  # noqa: F401  (the hand-computed data set)

MARCH = {"f-period.start_date": "2025-03-01", "f-period.end_date": "2025-03-31",
         "f-clock.value": "24x7", "trend-granularity.value": "week"}
ADDRESS = "..url.search"


def response(reply):
    assert reply.status_code in (200, 204), reply.data[:300]
    return reply.get_json()["response"] if reply.status_code == 200 else {}


def address_call(client, changed: str, values: dict):
    """The address callback, with ``changed`` the prop that triggered it."""
    deps = json.loads(client.get("/painel/_dash-dependencies").data)
    dep = next(d for d in deps if d["output"].startswith(ADDRESS))
    outputs = [dict(zip(("id", "property"), part.split(".")))
               for part in dep["output"].strip(".").split("...")]
    values = {**{f"f-{f}.value": [] for f in ("department_id", "service_id", "priority",
                                              "sector_id", "attendant_id")}, **values}
    payload = {"output": dep["output"], "outputs": outputs,
               "inputs": [{**i, "value": values.get(f"{i['id']}.{i['property']}")}
                          for i in dep["inputs"]],
               "state": [], "changedPropIds": [changed]}
    return client.post("/painel/_dash-update-component", data=json.dumps(payload),
                       content_type="application/json", headers={"Origin": "http://localhost"})


def test_a_preset_sets_the_dates_and_the_address(web, world):
    client = web("alfa_manager")
    body = response(address_call(client, "f-preset.value", {
        "f-preset.value": "mes-passado", "url.search": "", **MARCH}))
    assert body["f-period"]["start_date"].endswith("-01")
    assert body["url"]["search"] == "?preset=mes-passado&granularity=week"
    custom = response(address_call(client, "f-period.start_date", {
        "f-preset.value": "30d", "url.search": "?preset=30d", **MARCH,
        "f-department_id.value": [world.departments["TI"]]}))
    assert custom["f-preset"]["value"] == "personalizado"
    assert custom["url"]["search"] == ("?preset=personalizado&start=2025-03-01&end=2025-03-31"
                                       f"&department_id={world.departments['TI']}"
                                       "&granularity=week")


def test_a_bookmarked_address_sets_the_filters(web, world):
    client = web("alfa_manager")
    ti = world.departments["TI"]
    search = (f"?preset=personalizado&start=2025-03-01&end=2025-03-31&department_id={ti}"
              "&priority=high&priority=bogus&clock=business&granularity=month&sector_id=x")
    body = response(address_call(client, "url.search", {
        "url.search": search, "f-preset.value": "30d", "f-period.start_date": "2026-11-02",
        "f-period.end_date": "2026-12-01", "f-clock.value": "24x7",
        "trend-granularity.value": "auto"}))
    assert body["f-period"] == {"start_date": "2025-03-01", "end_date": "2025-03-31"}
    assert body["f-department_id"]["value"] == [ti]
    assert body["f-priority"]["value"] == ["high"]          # "bogus" dropped
    assert body["f-clock"]["value"] == "business"
    assert body["trend-granularity"]["value"] == "month"
    assert "url" not in body and "f-sector_id" not in body  # nothing to change there
    # The layout itself reads the page's address (Dash asks for it from the page).
    layout = client.get("/painel/_dash-layout",
                        headers={"Referer": "http://localhost/painel/" + search}).data.decode()
    assert '"2025-03-01"' in layout and '"personalizado"' in layout


def test_the_new_sections_answer_for_march(web, world, data):  # noqa: F811
    client = web("alfa_manager")
    body = response(dash_post(client, "..chart-trend", MARCH))
    custom = body["chart-trend"]["figure"]["data"][0]["customdata"]
    assert [c[0] for c in custom] == ["2025-03-01", "2025-03-03", "2025-03-10", "2025-03-17",
                                      "2025-03-24", "2025-03-31"]
    people = json.dumps(body["attendants-body"], ensure_ascii=False)
    assert "Attendant alfa" in people and "Attendant_other alfa" in people
    assert "14,0 h" in people                        # mean handling of Attendant alfa
    services = json.dumps(body["services-body"], ensure_ascii=False)
    assert "Acesso" in services and "67%" in services
    summary = json.dumps(body["satisfaction-summary"], ensure_ascii=False)
    assert "100%" in summary and "3 de 3" in summary
    low = json.dumps(body["low-scores"], ensure_ascii=False)
    assert f"/chamados/{data[8]}" in low
    cards = response(dash_post(client, "..kpi-backlog", MARCH))
    assert cards["kpi-opened-delta"]["children"] == "período anterior: 2 · ▲ 150%"
    assert cards["kpi-opened-delta"]["className"] == "kpi-delta neutral"
    assert cards["kpi-sla-met-delta"]["className"] == "kpi-delta good"   # 0 -> 2
    assert cards["kpi-backlog-delta"]["children"].startswith("no início do período: 2")


def test_a_clicked_week_narrows_the_rest(web, world, data):  # noqa: F811
    client = web("alfa_manager")
    week = {"dimension": "period", "id": "2025-03-03", "end": "2025-03-09",
            "label": "semana de 03/03/2025"}
    cards = response(dash_post(client, "..kpi-backlog", {**MARCH, "crossfilter.data": week}))
    assert cards["kpi-opened"]["children"] == "1"                       # ticket 7
    trend = response(dash_post(client, "..chart-trend", {**MARCH, "crossfilter.data": week}))
    assert len(trend["chart-trend"]["figure"]["data"][0]["customdata"]) == 6  # whole March
    both = {"dimension": "department", "id": world.departments["TI"], "label": "TI",
            "bucket": {"dimension": "period", "id": "2025-03-10", "end": "2025-03-16",
                       "label": "semana de 10/03/2025"}}
    cards = response(dash_post(client, "..kpi-backlog", {**MARCH, "crossfilter.data": both}))
    assert cards["kpi-opened"]["children"] == "1"                       # ticket 5, TI
    chip = response(dash_post(client, "..cross-chip", {"crossfilter.data": both}))
    assert "Intervalo: semana de 10/03/2025" in json.dumps(chip, ensure_ascii=False)
    both["id"] = world.departments["RH"]
    cards = response(dash_post(client, "..kpi-backlog", {**MARCH, "crossfilter.data": both}))
    assert cards["kpi-opened"]["children"] == "0"
    forged = {"dimension": "period", "id": "2025-02-30", "end": "2025-03-09"}
    cards = response(dash_post(client, "..kpi-backlog", {**MARCH, "crossfilter.data": forged}))
    assert cards["kpi-opened"]["children"] == "5"                       # ignored


@pytest.mark.parametrize("field", ["f-department_id", "f-attendant_id"])
def test_another_accounts_ids_get_a_message_not_data(web, world, other_world, field):
    client = web("alfa_manager")
    ident = (other_world.departments["TI"] if field == "f-department_id"
             else other_world.users["attendant"])
    body = response(dash_post(client, "..chart-trend", {**MARCH, f"{field}.value": [ident]}))
    text = json.dumps(body["satisfaction-summary"], ensure_ascii=False)
    assert "inexistente" in text and body["attendants-body"]["children"] == []


def test_the_page_config_does_not_name_the_servers_python_or_plotlys_version_service(
        web, world):
    """Dash's page config carried ``sys.version`` and https://dash-version.plotly.com;
    the Painel drops both (dashboards/painel.py, PainelDash.HIDDEN_CONFIG)."""
    import sys

    page = web("alfa_manager").get("/painel/").get_data(as_text=True)
    assert '"dash_version"' in page                 # the config is there
    assert "python_version" not in page and sys.version.split()[0] not in page
    assert "dash-version.plotly.com" not in page
