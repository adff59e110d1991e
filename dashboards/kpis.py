"""The KPI set of SPEC.md as plain JSON-ready data: what ``GET /api/v1/painel/kpis``
answers and what the benchmark times as "the whole set". Field names are the
contract's (shared/API.md, "Painel"); extra fields are only ever added."""
from __future__ import annotations

import math

import pandas as pd

from dashboards import periods, queries
from dashboards.filters import Filters, as_utc, today_in, utc_now

GROUPINGS = ("service", "priority", "department", "attendant", "sector", "requester")
HEADLINE = ("open_backlog", "opened_in_period", "mean_first_response_hours",
            "mean_handling_hours", "sla_met", "sla_breached", "sla_met_percent", "reopenings")
# +1: up is good; -1: down is good; 0: neither (more openings are demand, not merit)
DIRECTION = {"open_backlog": -1, "opened_in_period": 0, "mean_first_response_hours": -1,
             "mean_handling_hours": -1, "sla_met": 1, "sla_breached": -1,
             "sla_met_percent": 1, "reopenings": -1}
SATISFACTION = ("department", "sector")


def _number(value):
    """numpy/pandas scalars -> JSON numbers; NaN and NA -> None."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    return value


def records(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[dict]:
    return [{c: _number(row[c]) for c in columns} for row in frame.to_dict("records")]


def headline(row) -> dict:
    """The card figures of one ``queries.summary`` row, JSON-ready."""
    values = {name: _number(row[name]) for name in HEADLINE if name != "sla_met_percent"}
    values["sla_met_percent"] = _number(row["sla_met_pct"])
    return values


def previous_headline(session, account_id: int, f: Filters, now=None) -> dict | None:
    """The same figures for the period of the same length just before ``f``'s, each
    with its change: ``{"start", "end", "values", "change"}``. The backlog, a figure
    of "now", is compared with the backlog when the period began (the end of the
    previous one); the breaches' unresolved part is today's in both, so their change
    is the change of the closed ones."""
    span = periods.previous_period(f.start, f.end)
    if span is None:
        return None
    now = as_utc(now or utc_now())
    before = f.replace(start=span[0], end=span[1])
    values = headline(queries.summary(session, account_id, before, now=now).iloc[0])
    values["open_backlog"] = queries.backlog_at(session, account_id, f, f.bounds()[0])
    return {"start": span[0].isoformat(), "end": span[1].isoformat(), "values": values}


def trend_span(session, account_id: int, f: Filters, wanted: str | None = None
               ) -> tuple[Filters, str]:
    """The period the trend draws and its granularity: ``f``'s, cut to the days that
    can hold data (from the first ticket to today), so "desde o início" from year 1,
    or an end ten years ahead, draws the months that exist, not ten thousand."""
    today = today_in(f.time_zone)
    first = queries.first_day(session, account_id, f.time_zone) or today
    start = max(f.start, min(first, f.end))
    end = max(start, min(f.end, max(today, start)))
    return f.replace(start=start, end=end), periods.fitted_granularity(start, end, wanted)


def change(current, previous):
    """(absolute change, percent change or None) of one figure."""
    if current is None or previous is None:
        return None, None
    delta = current - previous
    return delta, (100.0 * delta / previous if previous else None)


def kpi_set(session, account_id: int, f: Filters, now=None) -> dict:
    row = queries.summary(session, account_id, f, now=now).iloc[0]
    result = {name: _number(row[name]) for name in (
        "open_backlog", "opened_in_period", "mean_first_response_hours",
        "mean_handling_hours", "sla_breached", "sla_met")}
    result.update({
        "sla_breached_closed": _number(row["sla_breached_closed"]),
        "sla_breached_open": _number(row["sla_breached_open"]),
        "sla_met_percent": _number(row["sla_met_pct"]),
        "reopened_tickets": _number(row["reopened_tickets"]),
        "reopenings": _number(row["reopenings"]),
    })
    for dimension in GROUPINGS:
        frame = queries.counts_by(session, account_id, f, dimension)
        result[f"by_{dimension}"] = records(frame, ("id", "name", "count"))
    for dimension, frame in queries.satisfaction_views(session, account_id, f).items():
        result[f"satisfaction_by_{dimension}"] = records(
            frame, ("id", "name", "mean_score", "surveys"))
    result["period"] = {"start": f.start.isoformat(), "end": f.end.isoformat(),
                        "time_zone": f.time_zone}
    result["clock"] = f.clock  # the clock of the mean times: "24x7" or "business"
    previous = previous_headline(session, account_id, f, now=now)
    if previous is not None:
        current = headline(row)
        previous["change"] = {name: change(current[name], previous["values"][name])[0]
                              for name in HEADLINE}
    result["previous_period"] = previous
    span, granularity = trend_span(session, account_id, f)
    trend = queries.trend(session, account_id, span, granularity, now=now)
    result["trend"] = {"granularity": granularity, "points": [
        {"start": r["start"].isoformat(), "end": r["end"].isoformat(),
         **{k: int(r[k]) for k in ("opened", "closed", "cancelled", "backlog", "breached")}}
        for r in trend.to_dict("records")]}
    result["attendants"] = records(queries.attendant_table(session, account_id, f), (
        "id", "name", "assumed", "concluded", "mean_first_response_hours",
        "mean_handling_hours", "sla_met_pct", "rejection_pct", "first_time_right_pct",
        "mean_score", "surveys"))
    result["services"] = records(queries.service_table(session, account_id, f), (
        "id", "name", "volume", "sla_met_pct", "mean_handling_hours", "reopenings",
        "mean_score", "surveys"))
    overview = queries.satisfaction_overview(session, account_id, f)
    overview["distribution"] = {str(k): v for k, v in overview["distribution"].items()}
    result["satisfaction"] = overview
    return result
