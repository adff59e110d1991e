"""How tickets are shown, shared by the ticket lists and the ticket page: times in the
account's time zone, the SLA badge, the labels, and URLs built once per page."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import url_for

from app import accounts, workflow
from app.models import Account, Ticket, as_utc, utcnow
from app.vocabulary import (
    SHORT_STATUS_LABELS,
    SLA_CLOCK_LABELS,
    duration_text,
    time_zone_name,
)

NEAR_FRACTION = 0.25        # "vence em breve": the last quarter of the SLA window
URL_MARKER = 987654321      # a ticket id no account reaches, replaced in id_url
SHORT_STATUS = SHORT_STATUS_LABELS

SLA_BADGES = {  # state -> (bootstrap label class, text shown before the due time)
    "ok": ("label-default", "Prazo"), "near": ("label-warning", "Vence em breve"),
    "breached": ("label-danger", "Atrasado"), "met": ("label-success", "No prazo"),
    "missed": ("label-danger", "Fora do prazo"), "none": ("label-default", "Prazo"),
    "paused": ("label-default", "Prazo pausado"),
}


def time_formatter(account: Account | None):
    """``when(value)`` -> "dd/mm/aaaa hh:mm" in the account's time zone."""
    def when(value, fmt="%d/%m/%Y %H:%M"):
        if value is None:
            return "—"
        if account is not None:
            local = accounts.local_time(account, value)
        else:
            local = as_utc(value).astimezone(ZoneInfo("America/Sao_Paulo"))
        return local.strftime(fmt)
    return when


def sla_state(ticket: Ticket, now: dt.datetime | None = None) -> str:
    """One word for the SLA badge: ok, near, breached (still open), paused (waiting on
    the requester), met, missed (closed), or none (cancelled). ``ticket`` is a Ticket or a row with the same columns."""
    now = now or utcnow()
    due = as_utc(ticket.sla_due_at)
    if ticket.status == "cancelled":
        return "none"
    if ticket.status == "closed":
        return "met" if ticket.sla_met else "missed"
    if ticket.status == "concluded":
        return "met" if as_utc(ticket.concluded_at) <= due else "missed"
    if ticket.status == "waiting":
        # The clock stopped when the wait began: late only if it was late by then.
        since = as_utc(ticket.waiting_since)
        return "breached" if since is not None and since > due else "paused"
    if now > due:
        return "breached"
    total = due - as_utc(ticket.opened_at)
    if due - now <= total * NEAR_FRACTION:
        return "near"
    return "ok"


def sla_badge(ticket, now: dt.datetime) -> tuple[str, str, str]:
    """(label class, text, state) of a ticket's SLA badge."""
    state = sla_state(ticket, now)
    return SLA_BADGES[state] + (state,)


def id_url(endpoint: str, **values):
    """``url_for`` once per page instead of once per row: ``id_url(e)(42)`` is
    ``url_for(e, ticket_id=42)``."""
    head, _, tail = url_for(endpoint, ticket_id=URL_MARKER, **values).partition(
        str(URL_MARKER))
    return lambda ticket_id: f"{head}{ticket_id}{tail}"


def template_helpers(account: Account | None) -> dict:
    now = utcnow()
    return {
        "when": time_formatter(account),
        "sla": lambda ticket: sla_badge(ticket, now),
        "status_labels": workflow.STATUS_LABELS,
        "short_status": SHORT_STATUS,
        "priority_labels": workflow.PRIORITY_LABELS,
        "action_labels": workflow.ACTION_LABELS,
        "clock_labels": SLA_CLOCK_LABELS,
        "duration": duration_text,
        "account": account,
        "zone_name": time_zone_name(getattr(account, "time_zone", None)),
    }
