"""The search box and filters of the ticket lists: read from the URL (a GET form, so a
filtered list can be bookmarked), checked, and turned into conditions on Ticket.

Each filter is one condition whose value is a bound parameter (``FILTER_SQL``); a list
builds its statements once per set of filters in use (``app.views.lists``). A value
that is not valid is left out with a message in Portuguese: the list is shown without
it, never a 500. Dates are days in the account's time zone, both ends included.
"""
from __future__ import annotations

import datetime as dt
import itertools
import re
import time
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, event, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from app import search
from app.extensions import db
from app.models import (
    MAX_ID,
    PRIORITIES,
    Department,
    Member,
    Service,
    Ticket,
    department_attendant,
)
from app.vocabulary import PRIORITY_LABELS, STATUS_LABELS

# URL parameter -> what it filters. Tabs (``aba``) and paging (``pagina``) stay as before.
PARAMS = {"busca": "search", "situacao": "status", "departamento": "department",
          "servico": "service", "prioridade": "priority", "solicitante": "requester",
          "atendente": "assignee", "de": "opened_from", "ate": "opened_to"}
LABELS = {"search": "Buscar", "status": "Situação", "department": "Departamento",
          "service": "Serviço", "priority": "Prioridade", "requester": "Solicitante",
          "assignee": "Atendente", "opened_from": "Aberto de", "opened_to": "até"}
MAX_NAME = 100
_DIGITS = re.compile(r"[0-9]{1,10}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NO_ASSIGNEE = "nenhum"


def _requester_named():
    """The requester's name or username contains the text (case-insensitive)."""
    pattern = bindparam("f_requester")
    name = func.lower(Member.first_name + " " + Member.last_name)
    return Ticket.requester_id.in_(select(Member.id).where(or_(
        name.contains(pattern, escape="/"),
        func.lower(Member.username).contains(pattern, escape="/"))))


FILTER_SQL = {
    "status": lambda: Ticket.status == bindparam("f_status"),
    "department": lambda: Ticket.department_id == bindparam("f_department"),
    "service": lambda: Ticket.service_id == bindparam("f_service"),
    "priority": lambda: Ticket.priority == bindparam("f_priority"),
    "requester": _requester_named,
    "assignee": lambda: Ticket.assignee_id == bindparam("f_assignee"),
    "no_assignee": lambda: Ticket.assignee_id.is_(None),
    # a selective search, its matches read first by app.search.selective_ids
    "search_ids": lambda: Ticket.id.in_(bindparam("search_ids", expanding=True)),
    "opened_from": lambda: Ticket.opened_at >= bindparam("f_opened_from"),
    "opened_to": lambda: Ticket.opened_at < bindparam("f_opened_to"),
}


@dataclass
class Filters:
    """What the URL asked for, valid parts only: ``keys`` name the conditions in use,
    ``params`` their bound values, ``args`` what links repeat (tabs, paging),
    ``values`` what the form shows, ``errors`` the messages of what was left out."""
    keys: frozenset = frozenset()
    params: dict = field(default_factory=dict)
    args: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.keys)


def _local_day_start(day: dt.date, zone: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), ZoneInfo(zone)).astimezone(dt.timezone.utc)


def _date(raw: str) -> dt.date | None:
    if not _DATE.fullmatch(raw):
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        return None
    return day if 1900 <= day.year <= 9998 else None


def parse(args, offered: tuple[str, ...], *, statuses: tuple[str, ...], actor_id: int,
          time_zone: str, choices: dict) -> Filters:
    """Read the filters ``offered`` by a list from the request's ``args``."""
    result = Filters()
    keys, params = set(), {}

    def keep(name, param_value, key=None):
        keys.add(key or name)
        if param_value is not None:
            params[f"f_{key or name}"] = param_value

    def refuse(name, message):
        result.errors.append(message)
        result.values.pop(name, None)

    for url_name, name in PARAMS.items():
        if name not in offered:
            continue
        raw = (args.get(url_name) or "").strip()
        if not raw:
            continue
        result.values[name] = raw
        if name == "search":
            try:
                value = search.normalize(raw)
            except search.SearchError as error:
                refuse(name, error.message)
                continue
            if value is None:
                continue
            keys.add("search")
            params.update(search.params(value, actor_id))
            result.values[name] = value
        elif name == "status":
            if raw not in statuses:
                refuse(name, "Situação inválida: a lista é mostrada sem esse filtro.")
                continue
            keep(name, raw)
        elif name == "priority":
            if raw not in PRIORITIES:
                refuse(name, "Prioridade inválida: a lista é mostrada sem esse filtro.")
                continue
            keep(name, raw)
        elif name in ("department", "service", "assignee"):
            if name == "assignee" and raw == NO_ASSIGNEE:
                keep(name, None, "no_assignee")
            elif not _DIGITS.fullmatch(raw) or int(raw) > MAX_ID or int(raw) not in {
                    c[0] for c in choices.get(name, ())}:
                refuse(name, f"{LABELS[name]} inválido: a lista é mostrada sem esse filtro.")
                continue
            else:
                keep(name, int(raw))
        elif name == "requester":
            if len(raw) > MAX_NAME:
                refuse(name, f"O nome do solicitante aceita no máximo {MAX_NAME} "
                             "caracteres: a lista é mostrada sem esse filtro.")
                continue
            keep(name, raw.casefold().replace("/", "//").replace("%", "/%").replace("_", "/_"))
        elif name in ("opened_from", "opened_to"):
            day = _date(raw)
            if day is None:
                refuse(name, "Data inválida: a lista é mostrada sem esse filtro de "
                             "período.")
                continue
            if name == "opened_to":
                day += dt.timedelta(days=1)       # "até" includes the whole day
            keep(name, _local_day_start(day, time_zone))
        result.args[url_name] = result.values[name]
    if {"opened_from", "opened_to"} <= keys and \
            params["f_opened_from"] >= params["f_opened_to"]:
        result.errors.append("O período termina antes de começar: a lista é mostrada sem "
                             "esse filtro de período.")
        for name, url_name in (("opened_from", "de"), ("opened_to", "ate")):
            keys.discard(name)
            params.pop(f"f_{name}")
            result.args.pop(url_name, None)
            result.values.pop(name, None)
    result.keys, result.params = frozenset(keys), params
    return result


CHOICES_TTL = 60.0          # seconds another process's structure change may take to show
_choices_cache: dict = {}
_structure_generation = [0]


@event.listens_for(Session, "after_flush")
def _structure_changed(session, flush_context) -> None:
    """A department, service or member written in this process: options read again."""
    for obj in itertools.chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, (Department, Service, Member)):
            _structure_generation[0] += 1
            return


def choices(offered: tuple[str, ...], departments: list[int] | None = None) -> dict:
    """The options of the list's selects: departments, services and attendants of the
    account (``departments``: only those, the attendant's queue). Read in one query
    and kept per account for ``CHOICES_TTL`` seconds, or until this process writes a
    department, service or member: the query cost a list page about 10% of its time."""
    from app.tenancy import current_account_id

    key = (str(db.engine.url), current_account_id(), _structure_generation[0])
    cached = _choices_cache.get(key)
    now = time.monotonic()
    if cached is None or cached[0] < now:
        if len(_choices_cache) > 10_000:
            _choices_cache.clear()
        cached = (now + CHOICES_TTL, _read_choices())
        _choices_cache[key] = cached
    result = {kind: [r for r in rows if departments is None or
                     (r[0] if kind == "department" else r[2]) in departments
                     or kind == "assignee"]
              for kind, rows in cached[1].items()}
    return {k: v for k, v in result.items() if k in offered or
            (k == "department" and "service" in offered)}


def _read_choices() -> dict:
    """The account's departments, services and attendants (app.tenancy scopes them)."""
    parts = [
        select(literal("department").label("kind"), Department.id, Department.name,
               literal(0).label("parent")),
        select(literal("service"), Service.id, Service.name, Service.department_id),
        # The people a ticket can be assigned to: its department's attendants.
        select(literal("assignee"), Member.id,
               func.trim(Member.first_name + " " + Member.last_name), literal(0))
        .where(Member.id.in_(select(department_attendant.c.user_id))),
    ]
    result: dict = {"department": [], "service": [], "assignee": []}
    for kind, id_, name, parent in db.session.execute(union_all(*parts)):
        result[kind].append((id_, name, parent))
    for rows in result.values():
        rows.sort(key=lambda r: r[1].casefold())
    return result


def status_choices(statuses: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(s, STATUS_LABELS[s]) for s in statuses]


def priority_choices() -> list[tuple[str, str]]:
    return [(p, PRIORITY_LABELS.get(p, p)) for p in reversed(PRIORITIES)]
