"""The Painel's callbacks. Each one re-derives the account from the session
(``painel.caller``) and validates whatever the browser sent before any query runs:
a crafted request with another account's ids gets an error message, never data."""
from __future__ import annotations

import html as html_text
from urllib.parse import urlencode

import dash
from dash import ALL, Input, Output, State, ctx, html

from app.extensions import db
from app.security import ValidationError
from dashboards import figures, kpis, queries, tables
from dashboards.painel import (
    FILTER_FIELDS,
    GROUP_CHARTS,
    PAGE_SIZE,
    SATISFACTION_CHARTS,
    TOP_GROUPS,
    caller,
    filters_from,
    join_cross,
    split_cross,
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
    bar, bucket = split_cross(cross)
    if bar:
        params += [("cross_dimension", bar["dimension"]), ("cross_id", bar["id"])]
    if bucket:  # a clicked trend point: the export narrows the period the same way
        params += [("bucket_start", bucket["id"]), ("bucket_end", bucket["end"])]
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
# card -> the headline figure it shows (kpis.HEADLINE), for the previous period's line
CARD_FIGURES = {"backlog": "open_backlog", "opened": "opened_in_period",
                "first-response": "mean_first_response_hours",
                "handling": "mean_handling_hours", "sla-met": "sla_met",
                "sla-breached": "sla_breached", "reopened": "reopenings"}
DELTA_OUTPUTS = [o for k in KPI_IDS for o in (Output(f"kpi-{k}-delta", "children"),
                                              Output(f"kpi-{k}-delta", "className"))]


def _delta_outputs(current: dict, previous: dict | None, clock: str) -> list:
    """Per card: "antes: X · ▲ 25%" coloured good / bad / neutral for that KPI."""
    out = []
    for card in KPI_IDS:
        name = CARD_FIGURES[card]
        if previous is None:
            out += ["sem período anterior", "kpi-delta neutral"]
            continue
        before, now = previous["values"][name], current[name]
        timed = name.startswith("mean_")
        shown = figures.hours(before, clock) if timed else figures.number(before)
        label = "no início do período" if name == "open_backlog" else "período anterior"
        delta, percent = kpis.change(now, before)
        if delta is None:
            out += [f"{label}: {shown}", "kpi-delta neutral"]
            continue
        if abs(delta) < 1e-9:
            out += [f"{label}: {shown} · = igual", "kpi-delta neutral"]
            continue
        arrow = "▲" if delta > 0 else "▼"
        size = (figures.number(abs(percent), 0) + "%" if percent is not None
                else (figures.hours(abs(delta), clock) if timed else figures.number(abs(delta))))
        direction = kpis.DIRECTION[name] * (1 if delta > 0 else -1)
        tone = {1: "good", -1: "bad", 0: "neutral"}[direction]
        out += [f"{label}: {shown} · {arrow} {size}", f"kpi-delta {tone}"]
    return out


def _department_notes(session, account, f, frame) -> list:
    """"SLA cumprido 87%" per department bar (tickets closed in the period)."""
    sla = queries.department_sla(session, account.id, f).set_index("id")["sla_met_pct"]
    notes = []
    for ident in frame["id"]:
        value = sla.get(int(ident)) if ident is not None and ident == ident else None
        notes.append(None if value is None or value != value
                     else f"SLA cumprido {figures.number(value, 0)}%")
    return notes


def _row_name(account, dimension: str, ident) -> str:
    from app.models import Member, Service

    if isinstance(ident, bool) or not isinstance(ident, int):
        return ""
    model = Member if dimension == "attendant" else Service
    row = db.session.get(model, ident)
    if row is None or row.account_id != account.id:
        return ""
    return f"{row.first_name} {row.last_name}" if dimension == "attendant" else row.name


def register(app: dash.Dash) -> None:
    from dashboards import exports_tables, insights

    insights.register(app)

    @app.callback(
        Output("crossfilter", "data"),
        [Input(ident, "clickData") for ident in CHARTS]
        + [Input("clear-filters", "n_clicks"), Input("cross-clear", "n_clicks"),
           Input("chart-trend", "clickData"),
           Input({"type": "drill-row", "table": ALL, "id": ALL}, "n_clicks")],
        State("crossfilter", "data"),
        prevent_initial_call=True,
    )
    def set_crossfilter(*args):
        """A click on a bar (or a table row) and a click on the trend combine: the
        bucket narrows the period, the bar a dimension; a new bar replaces the bar."""
        account = caller()
        bar, bucket = split_cross(validate_cross(account, args[-1]))
        # the filters themselves are cleared by insights.address
        trigger = ctx.triggered_id
        if trigger == "clear-filters":
            return None
        if trigger == "chart-trend":
            points = (ctx.triggered[0].get("value") or {}).get("points") or [{}]
            custom = points[0].get("customdata") if isinstance(points[0], dict) else None
            if not isinstance(custom, list) or len(custom) != 3:
                return dash.no_update
            clicked = validate_cross(account, {
                "dimension": "period", "id": custom[0], "end": custom[1],
                "label": custom[2]})
            return join_cross(bar, clicked) if clicked else dash.no_update
        if isinstance(trigger, dict) and trigger.get("type") == "drill-row":
            if not ctx.triggered[0].get("value"):  # a row just drawn, not a click
                return dash.no_update
            dimension = {"attendant": "attendant", "service": "service"}.get(
                trigger.get("table"))
            if dimension is None:
                return dash.no_update
            cross = validate_cross(account, {"dimension": dimension, "id": trigger.get("id"),
                                             "label": _row_name(account, dimension,
                                                                trigger.get("id"))})
            return join_cross(cross, bucket) if cross else dash.no_update
        if trigger == "cross-clear":
            return None
        if trigger not in CHARTS:  # e.g. new table rows drawn: nothing was clicked
            return dash.no_update
        points = (ctx.triggered[0].get("value") or {}).get("points") or [{}]
        point = points[0] if isinstance(points[0], dict) else {}
        cross = validate_cross(account, {
            "dimension": CHARTS[trigger][0], "id": point.get("customdata"),
            "label": html_text.unescape(str(point.get("y", "")))})
        return join_cross(cross, bucket) if cross else dash.no_update

    @app.callback(Output("cross-chip", "children"), Output("cross-wrap", "style"),
                  Input("crossfilter", "data"))
    def show_chip(cross):
        caller()
        bar, bucket = split_cross(cross)
        if not bar and not bucket:
            return "", {"display": "none"}
        names = {"department": "Departamento", "service": "Serviço", "priority": "Prioridade",
                 "attendant": "Atendente", "sector": "Setor", "requester": "Solicitante",
                 "period": "Intervalo"}
        parts = [html.Strong(f"{names.get(part['dimension'], '')}: {part.get('label', '')}")
                 for part in (bucket, bar) if part]
        if len(parts) == 2:
            parts.insert(1, " e ")
        return [html.I(className="fa fa-filter"), " Filtrando por ", *parts], \
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
           Output("export-csv", "href"), Output("export-xlsx", "href")]
        + [Output(ident, "href") for ident in exports_tables.LINK_IDS] + DELTA_OUTPUTS,
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
            return (["—", ""] * len(KPI_IDS) + blank + ["", _alert(error.message), "#", "#"]
                    + ["#"] * len(exports_tables.LINK_IDS) + ["", "kpi-delta"] * len(KPI_IDS))
        row = queries.summary(session, account.id, f).iloc[0]
        deltas = _delta_outputs(kpis.headline(row),
                                kpis.previous_headline(session, account.id, f), f.clock)
        selected = cross["id"] if cross else None
        figs = []
        for ident, (dimension, title) in GROUP_CHARTS.items():
            frame = queries.counts_by(session, account.id, per_chart[ident], dimension,
                                      limit=TOP_GROUPS)
            mine = selected if cross and cross["dimension"] == dimension else None
            notes = _department_notes(session, account, per_chart[ident], frame) \
                if dimension == "department" else None
            figs.append(figures.bars(frame, title, mine, notes))
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
                + [steps, None, f"/painel/exportar.csv?{query}", f"/painel/exportar.xlsx?{query}"]
                + list(exports_tables.table_links(query)) + deltas)

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
