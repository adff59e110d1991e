"""The Painel's people and services tables as files (issue 15, item 4 "exportable", and
item 1's clicked bucket), on the tricky March 2025 data of test_painel_queries.py (the
same shapes in another account, which must never show), SQLite and PostgreSQL.

The sheets "Atendentes" and "Serviços" of /painel/exportar.xlsx and the CSVs of each
table hold the numbers GET /api/v1/painel/kpis answers for the same view; a clicked
trend bucket, carried by the links the Painel draws, narrows the files like the screen.
"""
import csv
import io
import math

import pytest
from openpyxl import load_workbook

from tests.test_painel_guard import dash_post
from tests.test_painel_queries import data  # noqa: F401

MARCH = "start=2025-03-01&end=2025-03-31"
# week of 17-23 March (local): only ticket 6 (opened, assumed, started, concluded by
# "Attendant alfa") happens in it
WEEK = {"dimension": "period", "id": "2025-03-17", "end": "2025-03-23",
        "label": "semana de 17/03/2025"}
ATTENDANT_HEADER = ["Atendente", "Assumidos", "Concluídos",
                    "Tempo médio até o 1º atendimento (h corridas)",
                    "Tempo médio de atendimento (h corridas)", "SLA cumprido (%)",
                    "Reprovação (%)", "Certo de primeira (%)", "Nota média", "Pesquisas"]
SERVICE_HEADER = ["Serviço", "Volume", "SLA cumprido (%)",
                  "Tempo médio de atendimento (h corridas)", "Reaberturas", "Nota média",
                  "Pesquisas"]
ATTENDANT_FIELDS = ["name", "assumed", "concluded", "mean_first_response_hours",
                    "mean_handling_hours", "sla_met_pct", "rejection_pct",
                    "first_time_right_pct", "mean_score", "surveys"]
SERVICE_FIELDS = ["name", "volume", "sla_met_pct", "mean_handling_hours", "reopenings",
                  "mean_score", "surveys"]


def _api(api, world, query):
    response = api(world.users["manager"]).get(f"/api/v1/painel/kpis?{query}")
    assert response.status_code == 200, response.json
    return response.json["result"]


def _same(cell, value):
    """A file's cell against the API's number: one decimal, empty for no value."""
    if value is None:
        return cell in (None, "")
    if isinstance(value, str):  # a name
        return cell == value
    if isinstance(cell, str):  # CSV: decimal comma
        cell = float(cell.replace(",", ".")) if cell else None
    if isinstance(value, float):
        return cell is not None and math.isclose(cell, value, abs_tol=0.051)
    return cell == value


def _rows(sheet):
    header = [c.value for c in sheet[1]]
    return header, {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}


def _workbook(client, query):
    response = client.get(f"/painel/exportar.xlsx?{query}")
    assert response.status_code == 200 and response.data[:2] == b"PK"
    return load_workbook(io.BytesIO(response.data))


def _csv(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.data[:200]
    assert response.data.startswith("\ufeff".encode())  # UTF-8 with BOM, as Excel wants
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    return rows[0], {row[0]: row for row in rows[1:]}


def test_the_xlsx_has_the_people_and_services_sheets_with_the_apis_numbers(api, web, world,
                                                                          data):  # noqa: F811
    expected = _api(api, world, MARCH)
    book = _workbook(web("alfa_manager"), MARCH)
    assert book.sheetnames[:5] == ["Filtros", "Indicadores", "Chamados", "Atendentes",
                                   "Serviços"]
    for sheet_name, header_wanted, fields, key in (
            ("Atendentes", ATTENDANT_HEADER, ATTENDANT_FIELDS, "attendants"),
            ("Serviços", SERVICE_HEADER, SERVICE_FIELDS, "services")):
        sheet = book[sheet_name]
        header, rows = _rows(sheet)
        assert header == header_wanted
        assert sorted(rows) == sorted(r["name"] for r in expected[key])  # no other account
        for item in expected[key]:
            row = rows[item["name"]]
            assert all(_same(cell, item[f]) for cell, f in zip(row, fields)), (row, item)
        # dressed like the other sheets: bold frozen header, filter, widths, one decimal
        assert sheet.freeze_panes == "A2" and all(c.font.bold for c in sheet[1])
        assert sheet.auto_filter.ref == sheet.dimensions
        assert sheet.column_dimensions["A"].width >= len(max(rows, key=len))
        floats = [c for r in sheet.iter_rows(min_row=2) for c in r if isinstance(c.value, float)]
        assert floats and all(c.number_format == "0.0" for c in floats)
    people = _rows(book["Atendentes"])[1]
    assert set(people) == {"Attendant alfa", "Attendant2 alfa", "Attendant_other alfa"}
    me = people["Attendant alfa"]
    assert me[1:3] == (2, 2) and me[3] == pytest.approx(2.25, abs=0.051)  # one decimal
    assert me[8] == 3.5 and me[9] == 2


def test_each_table_is_a_csv_of_the_same_view(api, web, world, data):  # noqa: F811
    rh = f"{MARCH}&department_id={world.departments['RH']}"
    expected = _api(api, world, rh)
    client = web("alfa_manager")
    header, rows = _csv(client, f"/painel/exportar-servicos.csv?{rh}")
    assert header == SERVICE_HEADER and list(rows) == ["Férias"]     # the filter holds
    [item] = expected["services"]
    assert all(_same(cell, item[f]) for cell, f in zip(rows["Férias"], SERVICE_FIELDS))
    header, rows = _csv(client, f"/painel/exportar-atendentes.csv?{MARCH}&clock=business")
    assert header[3] == "Tempo médio até o 1º atendimento (h úteis)"
    assert rows["Attendant alfa"][8] == "3,5"                        # decimal comma


def test_a_clicked_week_narrows_the_files_through_the_painels_links(api, web, world,
                                                                   data):  # noqa: F811
    client = web("alfa_manager")
    layout = client.get("/painel/_dash-layout").get_data(as_text=True)
    assert all(f'"export-{t}-{kind}"' in layout for t in ("attendants", "services")
               for kind in ("csv", "xlsx"))                          # the tables' buttons
    values = {"f-period.start_date": "2025-03-01", "f-period.end_date": "2025-03-31",
              "crossfilter.data": WEEK}
    links = dash_post(client, "..kpi-backlog", values)
    assert links.status_code == 200
    hrefs = {k: v["href"] for k, v in links.get_json()["response"].items() if "href" in v}
    assert "bucket_start=2025-03-17" in hrefs["export-attendants-csv"]
    assert "bucket_end=2025-03-23" in hrefs["export-services-csv"]
    # the Painel's own export buttons carry the bucket too
    cards = dash_post(client, "..kpi-backlog", values).get_json()["response"]
    assert "bucket_start=2025-03-17" in cards["export-xlsx"]["href"]

    week = _api(api, world, "start=2025-03-17&end=2025-03-23")
    header, rows = _csv(client, hrefs["export-attendants-csv"])
    assert list(rows) == ["Attendant alfa"]                          # March has three
    [item] = week["attendants"]
    assert all(_same(cell, item[f]) for cell, f in zip(rows["Attendant alfa"],
                                                       ATTENDANT_FIELDS))
    header, rows = _csv(client, hrefs["export-services-csv"])
    assert list(rows) == ["Acesso"] and rows["Acesso"][1] == "1"     # March: 4
    book = _workbook(client, hrefs["export-attendants-xlsx"].split("?", 1)[1])
    assert list(_rows(book["Atendentes"])[1]) == ["Attendant alfa"]
    assert [r[0] for r in book["Chamados"].iter_rows(min_row=2, values_only=True)] == [
        data[6]]                                                     # the drill-down rows
    about = dict(book["Filtros"].iter_rows(min_row=2, values_only=True))
    assert about["Período"] == "17/03/2025 a 23/03/2025"


@pytest.mark.parametrize("bucket", ["bucket_start=2025-02-30&bucket_end=2025-03-02",
                                    "bucket_start=2025-03-01",
                                    "bucket_start=2025-01-01&bucket_end=2025-03-31"])
@pytest.mark.parametrize("path", ["/painel/exportar.xlsx", "/painel/exportar-atendentes.csv"])
def test_an_impossible_bucket_is_a_400_in_portuguese(web, world, path, bucket):
    response = web("alfa_manager").get(f"{path}?{MARCH}&{bucket}")
    assert response.status_code == 400
    assert "Intervalo da tendência inválido" in response.get_data(as_text=True)


def test_names_cannot_run_as_formulas_and_other_accounts_are_refused(app, web, world,
                                                                     other_world,
                                                                     data):  # noqa: F811
    from app.extensions import db
    from app.models import Member
    from app.tenancy import account_scope

    with app.app_context(), account_scope(world.account_id):
        db.session.get(Member, world.users["attendant"]).first_name = "=HYPERLINK(\"x\")"
        db.session.commit()
        db.session.remove()
    client = web("alfa_manager")
    _, rows = _csv(client, f"/painel/exportar-atendentes.csv?{MARCH}")
    assert "'=HYPERLINK(\"x\") alfa" in rows
    people = _rows(_workbook(client, MARCH)["Atendentes"])[1]
    assert "'=HYPERLINK(\"x\") alfa" in people                        # text, not a formula
    theirs = other_world.departments["TI"]
    for path in ("/painel/exportar-atendentes.csv", "/painel/exportar-servicos.csv"):
        assert client.get(f"{path}?{MARCH}&department_id={theirs}").status_code == 400
    assert web("alfa_attendant").get(f"/painel/exportar-servicos.csv?{MARCH}").status_code \
        == 403
