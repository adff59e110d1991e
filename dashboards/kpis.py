"""The KPI set of SPEC.md as plain JSON-ready data: what ``GET /api/v1/painel/kpis``
answers and what the benchmark times as "the whole set". Field names are the
contract's (shared/API.md, "Painel"); extra fields are only ever added."""
from __future__ import annotations

import math

import pandas as pd

from dashboards import queries
from dashboards.filters import Filters

GROUPINGS = ("service", "priority", "department", "attendant", "sector", "requester")
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
    return result
