"""The Painel's callbacks. Each one re-derives the account from the session
(``painel.caller``) and validates whatever the browser sent before any query runs:
a crafted request with another account's ids gets an error message, never data."""
from __future__ import annotations

import html as html_text
from urllib.parse import urlencode

import dash
from dash import Input, Output, State, ctx, html

from app.extensions import db
from app.security import ValidationError
from dashboards import figures, queries, tables
from dashboards.painel import (
    FILTER_FIELDS,
    GROUP_CHARTS,
    PAGE_SIZE,
    SATISFACTION_CHARTS,
    TOP_GROUPS,
    caller,
    filters_from,
    validate_cross,
)

FILTER_INPUTS = [Input("f-period", "start_date"), Input("f-period", "end_date")] + [
    Input(f"f-{field}", "value") for field in FILTER_FIELDS] + [Input("crossfilter", "data")]
CHARTS = {**GROUP_CHARTS, **SATISFACTION_CHARTS}
CLOCK_NOTES = {"24x7": "em horas corridas", "business": "em horas úteis"}


def _split(args):
    """(start, end, {field: value}, cross) from the FILTER_INPUTS values."""
    start, end, *values, cross = args
    return start, end, dict(zip(FILTER_FIELDS, values)), cross


def _alert(message: str):
    return html.Div([html.I(className="fa fa-exclamation-circle"), " ", message],
                    className="alert alert-danger")


def export_query(start, end, values: dict, cross) -> str:
    params = [("start", start or ""), ("end", end or "")]
    for field, value in values.items():
        if isinstance(value, str):  # the clock: one value, not a list
            params.append((field, value))
            continue
        for item in value or []:
            params.append((field, item))
    if cross:
        params += [("cross_dimension", cross["dimension"]), ("cross_id", cross["id"])]
    return urlencode(params)


def _summary_outputs(row, clock: str):
    backlog_note = f"{figures.number(row['sla_breached_open'])} já passaram do prazo"
    unit = CLOCK_NOTES[clock]
    judged = row["sla_met"] + row["sla_breached"]
    met_pct = figures.number(row["sla_met_pct"], 1) + "%" if judged else "—"
    breached_pct = figures.number(100 - row["sla_met_pct"], 1) + "%" if judged else "—"
    return [
        figures.number(row["open_backlog"]), backlog_note,
        figures.number(row["opened_in_period"]), "no período escolhido",
        figures.hours(row["mean_first_response_hours"], clock, say_clock=False),
        f"da abertura ao início, {unit}",
        figures.hours(row["mean_handling_hours"], clock, say_clock=False),
        f"do início à conclusão final, {unit}",
        figures.number(row["sla_met"]), f"{met_pct} dos chamados avaliados",
        figures.number(row["sla_breached"]),
        f"{breached_pct} · {figures.number(row['sla_breached_open'])} ainda sem solução",
        figures.number(row["reopenings"]),
        f"em {figures.number(row['reopened_tickets'])} chamados abertos no período",
    ]


KPI_IDS = ["backlog", "opened", "first-response", "handling", "sla-met", "sla-breached",
           "reopened"]
KPI_OUTPUTS = [o for k in KPI_IDS for o in (Output(f"kpi-{k}", "children"),
                                            Output(f"kpi-{k}-note", "children"))]


def register(app: dash.Dash) -> None:
    @app.callback(
        [Output(f"f-{field}", "value") for field in FILTER_FIELDS]
        + [Output("crossfilter", "data")],
        [Input(ident, "clickData") for ident in CHARTS]
        + [Input("clear-filters", "n_clicks"), Input("cross-clear", "n_clicks")],
        prevent_initial_call=True,
    )
    def set_crossfilter(*_):
        account = caller()
        keep = [dash.no_update] * len(FILTER_FIELDS)
        trigger = ctx.triggered_id
        if trigger == "clear-filters":
            return [[] for _ in FILTER_FIELDS] + [None]
        if trigger == "cross-clear" or trigger not in CHARTS:
            return keep + [None]
        points = (ctx.triggered[0].get("value") or {}).get("points") or [{}]
        point = points[0] if isinstance(points[0], dict) else {}
        cross = validate_cross(account, {
            "dimension": CHARTS[trigger][0], "id": point.get("customdata"),
            "label": html_text.unescape(str(point.get("y", "")))})
        return keep + [cross]

    @app.callback(Output("cross-chip", "children"), Output("cross-wrap", "style"),
                  Input("crossfilter", "data"))
    def show_chip(cross):
        caller()
        if not cross:
            return "", {"display": "none"}
        names = {"department": "Departamento", "service": "Serviço", "priority": "Prioridade",
                 "attendant": "Atendente", "sector": "Setor", "requester": "Solicitante"}
        return [html.I(className="fa fa-filter"), " Filtrando por ",
                html.Strong(f"{names.get(cross['dimension'], '')}: {cross.get('label', '')}")], \
            {"display": "inline-block"}

    @app.callback(Output("f-service_id", "options"), Input("f-department_id", "value"))
    def service_options(departments):
        from sqlalchemy import select

        from app.models import Service
        from dashboards.filters import check_ids_belong, parse_ids

        account = caller()
        stmt = select(Service.id, Service.name).where(Service.account_id == account.id)
        try:
            ids = parse_ids(departments, "department_id")
            check_ids_belong(db.session, account.id, "department_id", ids)
        except ValidationError:
            return []
        if ids:
            stmt = stmt.where(Service.department_id.in_(ids))
        return [{"label": n, "value": i} for i, n in db.session.execute(stmt.order_by(Service.name))]

    @app.callback(
        KPI_OUTPUTS + [Output(ident, "figure") for ident in CHARTS]
        + [Output("step-table", "children"), Output("painel-alert", "children"),
           Output("export-csv", "href"), Output("export-xlsx", "href")],
        FILTER_INPUTS + [Input("f-clock", "value")],
    )
    def refresh(*args):
        """Cards, charts and step times; the clock switch feeds the same Filters (the
        counts do not depend on it, the mean and step times do)."""
        account = caller()
        start, end, values, cross = _split(args[:-1])
        values["clock"] = args[-1]
        cross = validate_cross(account, cross)
        session = db.session
        try:
            f = filters_from(account, start, end, values, cross)
            per_chart = {ident: filters_from(account, start, end, values, cross,
                                             skip=dimension)
                         for ident, (dimension, _) in CHARTS.items()}
        except ValidationError as error:
            blank = [figures.empty(title, error.message) for _, title in CHARTS.values()]
            return ["—", ""] * len(KPI_IDS) + blank + ["", _alert(error.message), "#", "#"]
        row = queries.summary(session, account.id, f).iloc[0]
        selected = cross["id"] if cross else None
        figs = []
        for ident, (dimension, title) in GROUP_CHARTS.items():
            frame = queries.counts_by(session, account.id, per_chart[ident], dimension,
                                      limit=TOP_GROUPS)
            mine = selected if cross and cross["dimension"] == dimension else None
            figs.append(figures.bars(frame, title, mine))
        shared = None if cross and cross["dimension"] in ("department", "sector") else \
            queries.satisfaction_views(session, account.id, f)
        for ident, (dimension, title) in SATISFACTION_CHARTS.items():
            frame = shared[dimension] if shared else queries.satisfaction_by(
                session, account.id, per_chart[ident], dimension)
            mine = selected if cross and cross["dimension"] == dimension else None
            figs.append(figures.satisfaction(frame.head(TOP_GROUPS), title, mine))
        steps = tables.steps(queries.step_times(session, account.id, f), f.clock)
        query = export_query(start, end, values, cross)
        return (_summary_outputs(row, f.clock) + figs
                + [steps, None, f"/painel/exportar.csv?{query}", f"/painel/exportar.xlsx?{query}"])

    @app.callback(Output("drill-page", "data"),
                  FILTER_INPUTS + [Input("page-prev", "n_clicks"), Input("page-next", "n_clicks")],
                  State("drill-page", "data"), State("drill-total", "data"))
    def change_page(*args):
        caller()
        page, total = args[-2], args[-1]
        page = page if isinstance(page, int) and page >= 0 else 0
        pages = max(1, -(-int(total or 0) // PAGE_SIZE)) if isinstance(total, int) else 1
        if ctx.triggered_id == "page-next":
            return min(page + 1, pages - 1)
        if ctx.triggered_id == "page-prev":
            return max(page - 1, 0)
        return 0

    @app.callback(Output("drill-table", "children"), Output("page-info", "children"),
                  Output("drill-total", "data"), Output("page-prev", "disabled"),
                  Output("page-next", "disabled"),
                  FILTER_INPUTS + [Input("drill-page", "data")])
    def drill(*args):
        account = caller()
        start, end, values, cross = _split(args[:-1])
        page = args[-1] if isinstance(args[-1], int) and args[-1] >= 0 else 0
        try:
            f = filters_from(account, start, end, values, validate_cross(account, cross))
        except ValidationError as error:
            return _alert(error.message), "", 0, True, True
        frame, total = queries.ticket_page(db.session, account.id, f, page, PAGE_SIZE)
        pages = max(1, -(-total // PAGE_SIZE))
        info = f"Página {min(page + 1, pages)} de {pages} · {figures.number(total)} chamados"
        return (tables.drill(frame, account.time_zone), info, total, page <= 0,
                page + 1 >= pages)

    @app.callback(Output("risk-table", "children"),
                  FILTER_INPUTS + [Input("risk-hours", "value")])
    def risk(*args):
        account = caller()
        start, end, values, cross = _split(args[:-1])
        hours = args[-1] if args[-1] in (2, 4, 8, 24, 48) else 8
        try:
            f = filters_from(account, start, end, values, validate_cross(account, cross))
        except ValidationError as error:
            return _alert(error.message)
        frame, total = queries.tickets_at_risk(db.session, account.id, f, hours=hours,
                                               limit=20)
        return tables.at_risk(frame, total, account.time_zone)
