"""CSV and XLSX of the current Painel view: ``/painel/exportar.csv`` and ``.xlsx``.

Under /painel/, so the Painel's guard covers them; the account is the caller's and
the query string goes through the same validation as the callbacks. Text cells that
a spreadsheet would run as a formula (=, +, -, @) are prefixed with an apostrophe
(CSV injection), and the row count is capped so one click cannot exhaust memory.
"""
from __future__ import annotations

import io

import pandas as pd
from flask import Response, request
from flask_login import current_user

from app.extensions import db
from app.models import Account
from app.security import ValidationError
from dashboards import queries
from dashboards.kpis import GROUPINGS, SATISFACTION
from dashboards.painel import FILTER_FIELDS, filters_from, validate_cross

COLUMNS = {"id": "Chamado", "subject": "Assunto", "opened_at": "Aberto em", "status_label": "Situação",
           "priority_label": "Prioridade", "department": "Departamento", "service": "Serviço",
           "sector": "Setor", "requester": "Solicitante", "attendant": "Atendente",
           "sla_due_at": "Prazo SLA", "closed_at": "Encerrado em", "sla": "SLA",
           "reopen_count": "Reaberturas"}
GROUP_NAMES = {"service": "Serviço", "priority": "Prioridade", "department": "Departamento",
               "attendant": "Atendente", "sector": "Setor", "requester": "Solicitante"}


def _safe(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _current_view():
    account = db.session.get(Account, current_user.account_id)
    values = {field: request.args.getlist(field) for field in FILTER_FIELDS}
    values["clock"] = request.args.get("clock")
    cross = None
    dimension = request.args.get("cross_dimension")
    if dimension:
        raw = request.args.get("cross_id", "")
        ident = int(raw) if raw.isdigit() and len(raw) < 10 else raw
        cross = validate_cross(account, {"dimension": dimension, "id": ident})
    f = filters_from(account, request.args.get("start"), request.args.get("end"), values, cross)
    return account, f


def ticket_frame(account, f) -> pd.DataFrame:
    frame = queries.ticket_export(db.session, account.id, f)
    for column in ("opened_at", "sla_due_at", "closed_at"):
        frame[column] = (frame[column].dt.tz_localize("UTC").dt.tz_convert(account.time_zone)
                         .dt.tz_localize(None))
    frame["sla"] = frame.apply(lambda r: "" if r["status"] != "closed" else (
        "Cumprido" if r["sla_met"] else "Violado"), axis=1) if len(frame) else ""
    frame = frame[list(COLUMNS)].rename(columns=COLUMNS)
    for column in frame.columns:
        if frame[column].dtype == object or str(frame[column].dtype) == "str":
            frame[column] = frame[column].map(_safe)
    return frame


def _summary_frame(account, f) -> pd.DataFrame:
    row = queries.summary(db.session, account.id, f).iloc[0]
    unit = "h úteis" if f.clock == "business" else "h corridas"
    items = [("Período", f"{f.start:%d/%m/%Y} a {f.end:%d/%m/%Y}"),
             ("Chamados em aberto (backlog)", row["open_backlog"]),
             ("Abertos no período", row["opened_in_period"]),
             (f"Tempo médio até o primeiro atendimento ({unit})",
              row["mean_first_response_hours"]),
             (f"Tempo médio de atendimento ({unit})", row["mean_handling_hours"]),
             ("Cumpriram o SLA", row["sla_met"]),
             ("Não cumpriram o SLA", row["sla_breached"]),
             ("Reaberturas", row["reopenings"])]
    return pd.DataFrame(items, columns=["Indicador", "Valor"])


def export_csv():
    try:
        account, f = _current_view()
    except ValidationError as error:
        return Response(error.message, status=400, mimetype="text/plain")
    buffer = io.StringIO()
    ticket_frame(account, f).to_csv(buffer, index=False, sep=";", decimal=",",
                                    date_format="%d/%m/%Y %H:%M")
    body = "\ufeff" + buffer.getvalue()  # BOM: Excel opens UTF-8 accents correctly
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="painel-{f.start}-{f.end}.csv"'})


def export_xlsx():
    try:
        account, f = _current_view()
    except ValidationError as error:
        return Response(error.message, status=400, mimetype="text/plain")
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        _summary_frame(account, f).to_excel(writer, sheet_name="Indicadores", index=False)
        ticket_frame(account, f).to_excel(writer, sheet_name="Chamados", index=False)
        for dimension in GROUPINGS:
            frame = queries.counts_by(db.session, account.id, f, dimension)
            frame = frame[["name", "count"]].rename(columns={
                "name": GROUP_NAMES[dimension], "count": "Chamados"})
            frame[GROUP_NAMES[dimension]] = frame[GROUP_NAMES[dimension]].map(_safe)
            frame.to_excel(writer, sheet_name=f"Por {GROUP_NAMES[dimension].lower()}",
                           index=False)
        for dimension in SATISFACTION:
            frame = queries.satisfaction_by(db.session, account.id, f, dimension)
            frame = frame[["name", "mean_score", "surveys"]].rename(columns={
                "name": GROUP_NAMES[dimension], "mean_score": "Nota média",
                "surveys": "Pesquisas"})
            frame[GROUP_NAMES[dimension]] = frame[GROUP_NAMES[dimension]].map(_safe)
            frame.to_excel(writer, sheet_name=f"Satisfação por {GROUP_NAMES[dimension].lower()}",
                           index=False)
    return Response(buffer.getvalue(),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition":
                             f'attachment; filename="painel-{f.start}-{f.end}.xlsx"'})


def register(app) -> None:
    app.add_url_rule("/painel/exportar.csv", "painel_export_csv", export_csv)
    app.add_url_rule("/painel/exportar.xlsx", "painel_export_xlsx", export_xlsx)
