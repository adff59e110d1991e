"""Callbacks of the Painel's newer sections: the address (filters and period in the
URL), the presets, the trend, the people and services tables and satisfaction.

As in ``callbacks``: the account comes from ``painel.caller()`` on every call, and
every value the browser sends goes through ``dashboards.filters`` before a query.
"""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs

import dash
from dash import ALL, Input, Output, State, ctx
from dash.exceptions import PreventUpdate

from app.extensions import db
from app.security import ValidationError
from dashboards import figures, kpis, periods, queries, sections, urlstate
from dashboards.callbacks import FILTER_INPUTS, _alert, _split
from dashboards.filters import today_in
from dashboards.painel import (
    FILTER_FIELDS,
    caller,
    filters_from,
    split_cross,
    validate_cross,
)

STATE_KEYS = ("preset", "start", "end", *FILTER_FIELDS, "clock", "granularity")
STATE_PROPS = [("f-preset", "value"), ("f-period", "start_date"), ("f-period", "end_date")] \
    + [(f"f-{field}", "value") for field in FILTER_FIELDS] \
    + [("f-clock", "value"), ("trend-granularity", "value")]


def _date(value) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def sync(account, trigger, search, values: dict) -> list:
    """[url.search, *component values] after ``trigger`` changed; no_update where
    nothing changes (the address and the components feed each other)."""
    today = today_in(account.time_zone)
    if trigger == "url":  # opened, or back/forward: the address wins
        state = urlstate.initial_state(account, parse_qs((search or "").lstrip("?")))
        return [dash.no_update] + [state[k] if state[k] != values[k] else dash.no_update
                                   for k in STATE_KEYS]
    state = dict(values)
    changed = {}
    if trigger == "f-preset":
        first = urlstate.first_day(account) if state["preset"] == "inicio" else None
        span = periods.preset_range(state["preset"], today, first)
        if span:
            state["start"], state["end"] = span[0].isoformat(), span[1].isoformat()
            changed = {"start": state["start"], "end": state["end"]}
    elif trigger == "f-period":
        start, end = _date(state["start"]), _date(state["end"])
        if start and end:
            first = urlstate.first_day(account) if state["preset"] == "inicio" else None
            preset = periods.matching_preset(start, end, today, first)
            if preset != state["preset"]:
                state["preset"] = changed["preset"] = preset
    search_now = urlstate.encode(state)
    return [search_now if search_now != search else dash.no_update] + [
        changed[k] if k in changed else dash.no_update for k in STATE_KEYS]


def register(app: dash.Dash) -> None:
    @app.callback(
        [Output("url", "search")] + [Output(c, p) for c, p in STATE_PROPS],
        [Input("url", "search")] + [Input(c, p) for c, p in STATE_PROPS]
        + [Input("clear-filters", "n_clicks")],
        prevent_initial_call=True,
    )
    def address(search, *component_values):
        account = caller()
        trigger = ctx.triggered_id
        if trigger is None:
            raise PreventUpdate
        values = dict(zip(STATE_KEYS, component_values[:-1]))
        if trigger == "clear-filters":  # the period stays; every dimension filter goes
            cleared = {**values, **{field: [] for field in FILTER_FIELDS}}
            out = sync(account, "f-clock", search, cleared)
            return out[:1] + [[] if k in FILTER_FIELDS else dash.no_update
                              for k in STATE_KEYS]
        return sync(account, trigger, search, values)

    for table in sections.TABLES:
        _sort_callback(app, table)

    @app.callback(
        Output("chart-trend", "figure"), Output("trend-note", "children"),
        Output("attendants-body", "children"), Output("services-body", "children"),
        Output("satisfaction-summary", "children"), Output("chart-scores", "figure"),
        Output("low-scores", "children"),
        FILTER_INPUTS + [Input("f-clock", "value"), Input("trend-granularity", "value"),
                         Input("sort-attendants", "data"), Input("sort-services", "data")],
    )
    def insights(*args):
        account = caller()
        start, end, values, cross = _split(args[:-4])
        values["clock"], wanted, sort_people, sort_services = args[-4:]
        cross = validate_cross(account, cross)
        session = db.session
        try:
            whole = filters_from(account, start, end, values, cross, skip="period")
            f = filters_from(account, start, end, values, cross)
        except ValidationError as error:
            blank = figures.empty("Tendência", error.message, 320)
            return (blank, "", [], [], _alert(error.message),
                    figures.empty("Notas", error.message, 220), "")
        span, granularity = kpis.trend_span(session, account.id, whole,
                                            wanted if wanted != "auto" else None)
        frame = queries.trend(session, account.id, span, granularity)
        labels = [periods.bucket_label(a, b, granularity)
                  for a, b in zip(frame["start"], frame["end"])]
        bucket = split_cross(cross)[1]
        selected = bucket["id"] if bucket else None
        trend = figures.trend(frame, granularity, labels, selected)
        note = (f"Por {periods.GRANULARITIES[granularity].lower()}, de "
                f"{span.start:%d/%m/%Y} a {span.end:%d/%m/%Y}. Clique num ponto para "
                "filtrar o restante do Painel por esse intervalo.")
        if wanted not in (None, "auto", granularity):
            note = "Intervalos demais para o período: agrupado por " \
                   f"{periods.GRANULARITIES[granularity].lower()}. " + note
        people = sections.sorted_frame(queries.attendant_table(session, account.id, f),
                                       sort_people, "attendants")
        services = sections.sorted_frame(queries.service_table(session, account.id, f),
                                         sort_services, "services")
        overview = queries.satisfaction_overview(session, account.id, f)
        low = queries.low_scores(session, account.id, f)
        return (trend, note, sections.attendant_rows(people, f.clock),
                sections.service_rows(services, f.clock),
                sections.satisfaction_summary(overview), figures.scores(overview["distribution"]),
                sections.low_scores(low, account.time_zone))


def _sort_callback(app: dash.Dash, table: str) -> None:
    @app.callback(Output(f"sort-{table}", "data"),
                  Input({"type": "sort", "table": table, "column": ALL}, "n_clicks"),
                  State(f"sort-{table}", "data"), prevent_initial_call=True)
    def sort(_clicks, current):
        caller()
        trigger = ctx.triggered_id
        columns = [c for c, _ in sections.TABLES[table]]
        if not isinstance(trigger, dict) or trigger.get("column") not in columns:
            raise PreventUpdate
        column = trigger["column"]
        current = current if isinstance(current, dict) else sections.DEFAULT_SORT[table]
        if current.get("column") == column:
            return {"column": column, "descending": not current.get("descending")}
        return {"column": column, "descending": column != "name"}
