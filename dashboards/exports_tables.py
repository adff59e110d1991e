"""The Painel's people and services tables as files (issue 15, item 4: "exportable").

* ``/painel/exportar-atendentes.csv`` and ``/painel/exportar-servicos.csv``: one table
  each, the CSV the Painel's own export writes (UTF-8 with BOM, ``;``, decimal comma);
* the sheets "Atendentes" and "Serviços" of ``/painel/exportar.xlsx``, written and
  dressed by ``dashboards.export`` like its other sheets (bold frozen header, widths,
  one decimal).

The rows are ``queries.attendant_table`` / ``queries.service_table`` for the view the
export link carries: the Painel's filters and period, the clicked bar, and a clicked
trend bucket (``bucket_start``/``bucket_end``, which narrow the period as on screen).
Names go through the export's formula neutralisation. The links are written by the
Painel's main callback with its own export links (``table_links``), from the view it
has already checked.
"""
from __future__ import annotations

import pandas as pd
from flask import Response

from app.extensions import db
from app.security import ValidationError
from dashboards import export, queries
from dashboards.sections import ATTENDANT_COLUMNS, SERVICE_COLUMNS

UNITS = {"24x7": "h corridas", "business": "h úteis"}
# column -> header in the files, "{unit}" replaced by the clock's unit
ATTENDANT_HEADERS = {
    "name": "Atendente", "assumed": "Assumidos", "concluded": "Concluídos",
    "mean_first_response_hours": "Tempo médio até o 1º atendimento ({unit})",
    "mean_handling_hours": "Tempo médio de atendimento ({unit})",
    "sla_met_pct": "SLA cumprido (%)", "rejection_pct": "Reprovação (%)",
    "first_time_right_pct": "Certo de primeira (%)", "mean_score": "Nota média",
    "surveys": "Pesquisas",
}
SERVICE_HEADERS = {
    "name": "Serviço", "volume": "Volume", "sla_met_pct": "SLA cumprido (%)",
    "mean_handling_hours": "Tempo médio de atendimento ({unit})",
    "reopenings": "Reaberturas", "mean_score": "Nota média", "surveys": "Pesquisas",
}
# The screen's columns are the files' columns, in the same order.
assert list(ATTENDANT_HEADERS) == [c for c, _ in ATTENDANT_COLUMNS]
assert list(SERVICE_HEADERS) == [c for c, _ in SERVICE_COLUMNS]
# table -> (address, sheet, query, headers, file name)
TABLES = {
    "attendants": ("/painel/exportar-atendentes.csv", "Atendentes", queries.attendant_table,
                   ATTENDANT_HEADERS, "atendentes"),
    "services": ("/painel/exportar-servicos.csv", "Serviços", queries.service_table,
                 SERVICE_HEADERS, "servicos"),
}


def table_frame(table: str, account, f) -> pd.DataFrame:
    """The table's rows under pt-BR headers, names neutralised, floats to one decimal."""
    _, _, query, headers, _ = TABLES[table]
    frame = query(db.session, account.id, f)
    unit = UNITS.get(f.clock, UNITS["24x7"])
    frame = frame[list(headers)].rename(columns={
        column: header.format(unit=unit) for column, header in headers.items()})
    name = frame.columns[0]
    frame[name] = frame[name].map(export._safe)
    return export._round(frame)


def add_sheets(writer, account, f) -> None:
    """"Atendentes" and "Serviços" in the Painel's workbook (dressed with the others)."""
    for table, (_, sheet, _, _, _) in TABLES.items():
        table_frame(table, account, f).to_excel(writer, sheet_name=sheet, index=False)


def _csv(table: str):
    try:
        account, f = export._current_view()
    except ValidationError as error:
        return Response(error.message, status=400, mimetype="text/plain")
    name = TABLES[table][4]
    return Response(export.csv_body(table_frame(table, account, f)), mimetype="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="painel-{name}-{f.start}-{f.end}.csv"'})


def export_attendants_csv():
    return _csv("attendants")


def export_services_csv():
    return _csv("services")


def register(app) -> None:
    app.add_url_rule(TABLES["attendants"][0], "painel_export_attendants_csv",
                     export_attendants_csv)
    app.add_url_rule(TABLES["services"][0], "painel_export_services_csv",
                     export_services_csv)


LINK_IDS = ("export-attendants-csv", "export-attendants-xlsx", "export-services-csv",
            "export-services-xlsx")


def table_links(query: str) -> tuple[str, str, str, str]:
    """(attendants CSV, Painel XLSX, services CSV, Painel XLSX) for an export query."""
    xlsx = f"/painel/exportar.xlsx?{query}"
    return (f"{TABLES['attendants'][0]}?{query}", xlsx,
            f"{TABLES['services'][0]}?{query}", xlsx)

