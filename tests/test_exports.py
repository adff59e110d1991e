"""The Painel's exports as a manager receives them (issue 14, item 7): the XLSX opened
with openpyxl (first sheet with account, period, filters and time of export; bold frozen
header with autofilter; column widths; dd/mm/aaaa hh:mm dates; one decimal), and the CSV
as Excel in pt-BR expects it (UTF-8 with BOM, ';'). Both backends."""
import csv
import datetime as dt
import io
import re

from openpyxl import load_workbook

from tests.helpers import make_ticket

PERIOD = "start=2024-01-01&end=2030-12-31"


def _tickets(app, world):
    for state in ("closed", "closed", "in_progress", "open"):
        make_ticket(app, world, state)
    make_ticket(app, world, "open", service="Férias", priority="urgent")


def test_xlsx_says_what_it_shows_and_reads_like_a_spreadsheet(app, web, world):
    _tickets(app, world)
    response = web("alfa_manager").get(
        f"/painel/exportar.xlsx?{PERIOD}&department_id={world.departments['TI']}"
        f"&priority=medium")
    assert response.status_code == 200 and response.data[:2] == b"PK"
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames[:3] == ["Filtros", "Indicadores", "Chamados"]

    about = {row[0]: row[1] for row in book["Filtros"].iter_rows(min_row=2, values_only=True)}
    assert about["Conta"] == "Empresa alfa"
    assert about["Período"] == "01/01/2024 a 31/12/2030"
    assert about["Departamento"] == "TI" and about["Prioridade"] == "Média"
    assert "Serviço" not in about                     # only the filters in use
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d \(America/Sao_Paulo\)",
                        about["Exportado em"])

    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        assert all(cell.font.bold for cell in sheet[1]), sheet.title
        assert sheet.auto_filter.ref == sheet.dimensions, sheet.title
        assert sheet.column_dimensions["A"].width >= 10, sheet.title

    tickets = book["Chamados"]
    header = [c.value for c in tickets[1]]
    rows = list(tickets.iter_rows(min_row=2))
    assert len(rows) == 4                             # TI and Média only: not the urgent RH one
    opened = rows[0][header.index("Aberto em")]
    assert isinstance(opened.value, dt.datetime) and opened.number_format == "DD/MM/YYYY HH:MM"
    assert tickets.column_dimensions["B"].width > 20   # the subject column is wide
    for row in book["Indicadores"].iter_rows(min_row=2, values_only=True):
        if isinstance(row[1], float):
            assert row[1] == round(row[1], 1), row


def test_csv_opens_in_excel_pt_br(app, web, world):
    _tickets(app, world)
    response = web("alfa_manager").get(f"/painel/exportar.csv?{PERIOD}")
    assert response.status_code == 200
    assert response.data.startswith("\ufeff".encode())          # UTF-8 with BOM
    text = response.data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:3] == ["Chamado", "Assunto", "Aberto em"] and len(rows) == 6
    opened = rows[1][rows[0].index("Aberto em")]
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", opened)
    assert any("Férias" in r for r in rows)            # accents survive
