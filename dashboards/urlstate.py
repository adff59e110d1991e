"""The Painel's view in its address: ``/painel/?preset=mes-passado&department_id=3``.

A manager bookmarks or mails a view; opening it shows the same filters. The query
string holds the preset (a bookmarked "mês passado" stays last month, whenever it is
opened), or the dates of a custom period, the dimension filters, the clock and the
trend's granularity, in the names of the KPI API.

Nothing here trusts the address: values of the wrong shape are dropped, and ids go
into the filters where every callback validates them against the caller's account
(another account's id gets the same Portuguese message as an unknown one).
"""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import request

from app.extensions import db
from app.models import PRIORITIES
from dashboards import periods, queries
from dashboards.filters import CLOCKS, DEFAULT_CLOCK, ISO_DATE, today_in

ID_FIELDS = ("department_id", "service_id", "sector_id", "attendant_id")
FIELDS = ("department_id", "service_id", "priority", "sector_id", "attendant_id")
GRANULARITY_CHOICES = ("auto",) + tuple(periods.GRANULARITIES)


def referrer_query() -> dict:
    """The query string of the page that asked for the layout (same origin only)."""
    try:
        referrer = request.referrer
    except RuntimeError:
        return {}
    if not referrer:
        return {}
    parts = urlsplit(referrer)
    if f"{parts.scheme}://{parts.netloc}" != request.host_url.rstrip("/") \
            or not parts.path.startswith("/painel"):
        return {}
    return parse_qs(parts.query[:4000])


def _ids(values) -> list[int]:
    found = []
    for value in values[:200]:
        if value.isdigit() and len(value) < 10 and int(value) > 0:
            found.append(int(value))
    return sorted(set(found))


def _date(values) -> dt.date | None:
    value = values[0] if values else ""
    if not ISO_DATE.fullmatch(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def first_day(account) -> dt.date | None:
    return queries.first_day(db.session, account.id, account.time_zone)


def initial_state(account, query: dict) -> dict:
    """Component values of the view an address describes (defaults for what it lacks
    or gets wrong): preset, start, end, each filter, clock, granularity."""
    today = today_in(account.time_zone)
    preset = (query.get("preset") or [""])[0]
    span = None
    if preset in periods.PRESETS and preset != "personalizado":
        span = periods.preset_range(preset, today,
                                    first_day(account) if preset == "inicio" else None)
    if span is None:
        start, end = _date(query.get("start")), _date(query.get("end"))
        if start and end and start <= end:
            span = (start, end)
            preset = periods.matching_preset(start, end, today)
    if span is None:
        preset = periods.DEFAULT_PRESET
        span = periods.preset_range(preset, today)
    state = {"preset": preset, "start": span[0].isoformat(), "end": span[1].isoformat()}
    for field in ID_FIELDS:
        state[field] = _ids(query.get(field, []))
    state["priority"] = [p for p in PRIORITIES if p in query.get("priority", [])]
    clock = (query.get("clock") or [""])[0]
    state["clock"] = clock if clock in CLOCKS else DEFAULT_CLOCK
    granularity = (query.get("granularity") or [""])[0]
    state["granularity"] = granularity if granularity in GRANULARITY_CHOICES else "auto"
    return state


def encode(state: dict) -> str:
    """The address of a view: the preset alone when it is one, else the dates."""
    params = [("preset", state["preset"])]
    if state["preset"] == "personalizado":
        params += [("start", state["start"] or ""), ("end", state["end"] or "")]
    for field in FIELDS:
        for value in state.get(field) or []:
            params.append((field, value))
    if state.get("clock") not in (None, DEFAULT_CLOCK):
        params.append(("clock", state["clock"]))
    if state.get("granularity") not in (None, "auto"):
        params.append(("granularity", state["granularity"]))
    return "?" + urlencode(params)
