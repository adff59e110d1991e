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

from app.collation import sort_key
from app.extensions import db
from app.models import Account
from app.security import ValidationError
from dashboards import queries
from dashboards.kpis import GROUPINGS, SATISFACTION
from dashboards.painel import (
    FILTER_FIELDS,
    filters_from,
    join_cross,
    validate_bucket,
    validate_cross,
)

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
    cross = join_cross(cross, _bucket())
    f = filters_from(account, request.args.get("start"), request.args.get("end"), values, cross)
    return account, f


def _bucket() -> dict | None:
    """A clicked trend point (``bucket_start``/``bucket_end``): it narrows the period as
    on screen; a bucket that is not two real dates at most a month apart is a 400."""
    low, high = request.args.get("bucket_start"), request.args.get("bucket_end")
    if low is None and high is None:
        return None
    bucket = validate_bucket({"dimension": "period", "id": low, "end": high})
    if bucket is None:
        raise ValidationError("bucket_start", "Intervalo da tendência inválido: envie "
                                              "bucket_start e bucket_end (AAAA-MM-DD), "
                                              "no máximo um mês.")
    return bucket


def csv_body(frame: pd.DataFrame) -> str:
    """CSV as Excel in pt-BR opens it: UTF-8 with BOM, ';', decimal comma."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, sep=";", decimal=",", date_format="%d/%m/%Y %H:%M")
    return "\ufeff" + buffer.getvalue()  # BOM: Excel opens UTF-8 accents correctly


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


def _names(model, ids) -> str:
    """The names of the chosen rows (the session is scoped to the caller's account)."""
    from sqlalchemy import select

    rows = db.session.scalars(select(model).where(model.id.in_(ids))).all()
    names = sorted((getattr(r, "full_name", None) or r.name for r in rows), key=sort_key)
    return ", ".join(names)


def _filters_frame(account, f) -> pd.DataFrame:
    """The first sheet: whose data, which period, every active filter, when exported."""
    from app.models import Department, Member, Sector, Service
    from app.vocabulary import PRIORITY_LABELS, SLA_CLOCK_LABELS

    chosen = [("Departamento", Department, f.department_ids),
              ("Serviço", Service, f.service_ids), ("Setor", Sector, f.sector_ids),
              ("Atendente", Member, f.attendant_ids), ("Solicitante", Member, f.requester_ids)]
    items = [("Conta", account.name),
             ("Período", f"{f.start:%d/%m/%Y} a {f.end:%d/%m/%Y}"),
             ("Contagem do tempo", SLA_CLOCK_LABELS.get(f.clock, f.clock))]
    for label, model, ids in chosen:
        if ids:
            items.append((label, _names(model, ids)))
    if f.priorities:
        items.append(("Prioridade", ", ".join(PRIORITY_LABELS.get(p, p) for p in f.priorities)))
    if len(items) == 3:
        items.append(("Filtros", "Nenhum: todos os chamados da conta"))
    now = pd.Timestamp.now(tz="UTC").tz_convert(account.time_zone)
    items.append(("Exportado em", f"{now:%d/%m/%Y %H:%M} ({account.time_zone})"))
    return pd.DataFrame([(k, _safe(v)) for k, v in items], columns=["Item", "Valor"])


def _round(frame: pd.DataFrame) -> pd.DataFrame:
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column]):
            frame[column] = frame[column].round(1)
    return frame


DATE_FORMAT = "DD/MM/YYYY HH:MM"


def _dress(sheet) -> None:
    """Bold, frozen header with an autofilter; widths from the content; dates as
    dd/mm/aaaa hh:mm and numbers with one decimal (the way Excel in pt-BR shows them)."""
    import datetime as dt

    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    if sheet.max_row < 1 or sheet.max_column < 1:
        return
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    for index, column in enumerate(sheet.iter_cols(), start=1):
        width = 8
        for cell in column:
            value = cell.value
            if isinstance(value, (dt.datetime, pd.Timestamp)):
                cell.number_format = DATE_FORMAT
                length = 16
            elif isinstance(value, float):
                cell.number_format = "0.0"
                length = len(f"{value:.1f}")
            else:
                length = len(str(value)) if value is not None else 0
            width = max(width, length)
        sheet.column_dimensions[get_column_letter(index)].width = min(width + 2, 60)


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
    items = [(k, round(float(v), 1) if isinstance(v, float) else v) for k, v in items]
    return pd.DataFrame(items, columns=["Indicador", "Valor"])


def export_csv():
    try:
        account, f = _current_view()
    except ValidationError as error:
        return Response(error.message, status=400, mimetype="text/plain")
    return Response(csv_body(ticket_frame(account, f)), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="painel-{f.start}-{f.end}.csv"'})


def export_xlsx():
    from dashboards import exports_tables

    try:
        account, f = _current_view()
    except ValidationError as error:
        return Response(error.message, status=400, mimetype="text/plain")
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        _filters_frame(account, f).to_excel(writer, sheet_name="Filtros", index=False)
        _summary_frame(account, f).to_excel(writer, sheet_name="Indicadores", index=False)
        _round(ticket_frame(account, f)).to_excel(writer, sheet_name="Chamados", index=False)
        exports_tables.add_sheets(writer, account, f)  # "Atendentes" and "Serviços"
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
            _round(frame).to_excel(writer,
                                   sheet_name=f"Satisfação por {GROUP_NAMES[dimension].lower()}",
                                   index=False)
        for sheet in writer.book.worksheets:
            _dress(sheet)
    return Response(buffer.getvalue(),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition":
                             f'attachment; filename="painel-{f.start}-{f.end}.xlsx"'})


def register(app) -> None:
    app.add_url_rule("/painel/exportar.csv", "painel_export_csv", export_csv)
    app.add_url_rule("/painel/exportar.xlsx", "painel_export_xlsx", export_xlsx)
    from dashboards import exports_tables

    exports_tables.register(app)
