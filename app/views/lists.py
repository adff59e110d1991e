"""The ticket lists of the Área do Cliente, the Área do Atendente and the account's list:
tabs with capped counts, one page of rows, paging.

A list's statements are built once per list and reused by every request
(``TicketList``): what changes between requests (the user, the departments, the page)
is a bound parameter, and the account is added by app.tenancy at execution. Each page
costs the same two queries on ten tickets or a million:

1. every tab's count in one SELECT, each read over at most ``COUNT_CAP + 1`` index
   entries (a badge shows "99+" rather than counting a million tickets);
2. the page: its ids sorted over narrow index rows in a LIMITed subquery, then only
   those tickets joined to their names, as plain rows formatted in Python
   (``ListRow``), so the template only prints.

Measured at 1M tickets (docs/benchmarks.md): building the statements per request and
calling Jinja helpers per cell cost more than the SQL itself.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import flash, g, request
from sqlalchemy import Integer, bindparam, case, func, select
from sqlalchemy.orm import aliased

from app import search, workflow
from app.extensions import db
from app.models import STATUSES, Department, Member, Service, Survey, Ticket, utcnow
from app.tenancy import current_account
from app.views import filters
from app.views.display import id_url, sla_badge, time_formatter

PAGE_SIZE = 20
MAX_PAGE = 500              # offsets stay bounded whatever the account's size
COUNT_CAP = 99              # tab badges read at most 100 index entries: "99+" like a mail client
TOTAL_CAP = 1000            # the account list's total: exact up to here, then an estimate
SNIPPET_SHOWN = 110         # characters of the description a list row shows
SNIPPET_READ = 200          # read a little more than shown, never the whole text
PRIORITY_RANK = {"urgent": 4, "high": 3, "medium": 2, "low": 1}


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    statuses: tuple[str, ...] | None   # None: every status


ALL_TABS = [
    Tab("todos", "Todos", None),
    Tab("abertos", "Abertos", ("open",)),
    Tab("andamento", "Em atendimento", ("assumed", "in_progress")),
    Tab("aguardando", "Aguardando solicitante", ("waiting",)),
    Tab("aprovacao", "Aguardando aprovação", ("concluded",)),
    Tab("encerrados", "Encerrados", ("closed",)),
    Tab("cancelados", "Cancelados", ("cancelled",)),
]


def priority_rank():
    return case(PRIORITY_RANK, value=Ticket.priority, else_=0)


class TicketList:
    """One list's tabs, order and filter, and its statements built on first use.

    ``where`` is a condition on Ticket whose per-request values are bound parameters
    (``bindparam("me")``), given to ``list_page`` as ``params``; None lists every ticket
    of the account. ``order_by`` is a tuple of columns, or a function of the tab
    returning one. ``public_only``: the list shows only the reader's own tickets as
    their requester, so a search never reads internal notes.

    The search box and filters (app.views.filters) add conditions whose values are
    bound parameters too: statements are built once per set of filters in use (and
    per database dialect, for the search), then reused."""

    def __init__(self, tabs: list[Tab], order_by, where=None, public_only: bool = False):
        self.tabs = tabs
        self._order_by = order_by
        self._where = where
        self.public_only = public_only
        self.statuses = tuple(dict.fromkeys(s for t in tabs for s in (t.statuses or ())))
        if any(t.statuses is None for t in tabs):
            self.statuses = STATUSES
        self._cache: dict = {}

    def tab(self, key: str | None) -> Tab:
        return next((t for t in self.tabs if t.key == key), self.tabs[0])

    def _ids(self, keys: frozenset, dialect: str):
        stmt = self._cache.get(("ids", keys, dialect))
        if stmt is None:
            conditions = [] if self._where is None else [self._where]
            for key in sorted(keys):
                conditions.append(search.condition(dialect, self.public_only) if key == "search"
                                  else filters.FILTER_SQL[key]())
            stmt = select(Ticket.id).where(*conditions) if conditions else select(Ticket.id)
            self._cache[("ids", keys, dialect)] = stmt
        return stmt

    def _in_tab(self, tab: Tab, keys: frozenset = frozenset(), dialect: str = ""):
        ids = self._ids(keys, dialect)
        if tab.statuses is None:
            return ids
        return ids.where(Ticket.status.in_(tab.statuses))

    def counts(self, keys: frozenset = frozenset(), dialect: str = ""):
        stmt = self._cache.get(("counts", keys, dialect))
        if stmt is None:
            stmt = select(*(
                select(func.count()).select_from(
                    self._in_tab(t, keys, dialect).limit(COUNT_CAP + 1).subquery()
                ).scalar_subquery()
                for t in self.tabs))
            self._cache[("counts", keys, dialect)] = stmt
        return stmt

    def total(self, tab: Tab, keys: frozenset = frozenset(), dialect: str = ""):
        """(the tab's count read over at most ``TOTAL_CAP + 1`` rows, the tab's ids
        uncounted: what an estimate is asked about)."""
        stmt = self._cache.get(("total", tab.key, keys, dialect))
        if stmt is None:
            ids = self._in_tab(tab, keys, dialect)
            stmt = (select(func.count()).select_from(ids.limit(TOTAL_CAP + 1).subquery()), ids)
            self._cache[("total", tab.key, keys, dialect)] = stmt
        return stmt

    def page(self, tab: Tab, keys: frozenset = frozenset(), dialect: str = ""):
        """The tab's page of rows (``offset`` is a parameter), in one statement of two
        steps: the page's ids sorted over narrow index rows (a LIMITed subquery), then
        only those tickets joined to their names. Joining before sorting made
        PostgreSQL join every candidate row (30 ms instead of 8 ms on a 1M queue)."""
        stmt = self._cache.get(("page", tab.key, keys, dialect))
        if stmt is None:
            order = self._order_by(tab) if callable(self._order_by) else self._order_by
            ids = self._in_tab(tab, keys, dialect).order_by(*order).limit(
                PAGE_SIZE + 1).offset(bindparam("offset", type_=Integer)).subquery("page")
            stmt = _rows().join(ids, ids.c.id == Ticket.id).order_by(*order)
            self._cache[("page", tab.key, keys, dialect)] = stmt
        return stmt


_REQUESTER, _ASSIGNEE = aliased(Member), aliased(Member)   # built once: aliasing is costly


def _full_name(member):
    """``Member.full_name`` in SQL."""
    return func.trim(member.first_name + " " + member.last_name)


def _rows():
    """What a list row shows: names by joins, the description cut in SQL."""
    return (
        select(Ticket.id, Ticket.status, Ticket.priority, Ticket.assignee_id, Ticket.subject,
               Ticket.opened_at, Ticket.sla_due_at, Ticket.concluded_at, Ticket.sla_met,
               Ticket.waiting_since,
               func.substr(Ticket.description, 1, SNIPPET_READ).label("snippet"),
               Service.name.label("service_name"), Department.name.label("department_name"),
               _full_name(_REQUESTER).label("requester_name"),
               _full_name(_ASSIGNEE).label("assignee_name"))
        .select_from(Ticket)
        # Outer joins (the keys are never null) keep PostgreSQL starting from the
        # page's few tickets instead of scanning tickets once per service.
        .outerjoin(Service, Service.id == Ticket.service_id)
        .outerjoin(Department, Department.id == Ticket.department_id)
        .outerjoin(_REQUESTER, _REQUESTER.id == Ticket.requester_id)
        .outerjoin(_ASSIGNEE, _ASSIGNEE.id == Ticket.assignee_id)
    )


@dataclass(frozen=True, slots=True)
class ListRow:
    """One row of a ticket list with every shown value already formatted: the template
    only prints. (A Jinja call per cell, times twenty rows, cost more than the list's
    SQL.)"""
    id: int
    status: str
    priority: str
    assignee_id: int | None
    subject: str
    service_name: str
    department_name: str
    requester_name: str
    assignee_name: str | None
    snippet: str
    url: str
    opened: str
    due: str
    sla_state: str
    sla_css: str
    sla_text: str
    status_label: str
    priority_label: str

    @classmethod
    def of(cls, row, when, now, ticket_url) -> "ListRow":
        css, text, state = sla_badge(row, now)
        snippet = (row.snippet or "").strip()
        # Tickets from before subjects existed have none: their title is what an
        # opening would have given them, the description's first line.
        subject = row.subject or workflow.subject_of(None, snippet)
        if subject and snippet.startswith(subject):   # the title already says it
            snippet = snippet[len(subject):].strip()
        if len(snippet) > SNIPPET_SHOWN + 5:      # as Jinja's truncate(110, True, "…")
            snippet = snippet[:SNIPPET_SHOWN - 1] + "…"
        return cls(
            id=row.id, status=row.status, priority=row.priority,
            assignee_id=row.assignee_id, subject=subject, service_name=row.service_name,
            department_name=row.department_name, requester_name=row.requester_name,
            assignee_name=row.assignee_name, snippet=snippet, url=ticket_url(row.id),
            opened=when(row.opened_at), due=when(row.sla_due_at), sla_state=state,
            sla_css=css, sla_text=text, status_label=workflow.STATUS_LABELS[row.status],
            priority_label=workflow.PRIORITY_LABELS.get(row.priority, row.priority))


def int_arg(name: str, default: int = 1, maximum: int = MAX_PAGE) -> int:
    value = request.args.get(name, "")
    if not value.isdigit():
        return default
    return max(1, min(int(value), maximum))


def list_page(ticket_list: TicketList, params: dict | None = None, *, endpoint: str,
              title: str, subtitle: str, columns: tuple[str, ...], empty: str,
              extra=None, offered: tuple[str, ...] = (), departments: list[int] | None = None,
              total: bool = False) -> dict:
    """Everything the list template needs: the search box and filters ``offered`` (as
    the URL asked, valid values only), the chosen tab, capped counts per tab, one page
    of formatted rows, paging that keeps the filters, and (``total``) the tab's total,
    exact up to ``TOTAL_CAP`` and estimated above it."""
    params = dict(params or {})
    account = current_account()
    dialect = db.session.get_bind().dialect.name
    options = filters.choices(offered, departments) if offered else {}
    chosen = filters.parse(request.args, offered, statuses=ticket_list.statuses,
                           actor_id=g.user.id, time_zone=getattr(account, "time_zone", None)
                           or "America/Sao_Paulo", choices=options)
    for message in chosen.errors:
        flash(message, "warning")
    params.update(chosen.params)
    keys = chosen.keys
    if "search" in keys and dialect == "postgresql" and not ticket_list.public_only:
        ids = search.selective_ids(db.session, params)
        if ids is not None:
            keys = (keys - {"search"}) | {"search_ids"}
            params["search_ids"] = ids
    tab = ticket_list.tab(request.args.get("aba"))
    counts = dict(zip((t.key for t in ticket_list.tabs),
                      db.session.execute(ticket_list.counts(keys, dialect), params).one()))
    page = int_arg("pagina")
    rows = db.session.execute(ticket_list.page(tab, keys, dialect),
                              {**params, "offset": (page - 1) * PAGE_SIZE}).all()
    has_next = len(rows) > PAGE_SIZE and page < MAX_PAGE
    when, now = time_formatter(account), utcnow()
    ticket_url = id_url("TicketView.show")
    tickets = [ListRow.of(row, when, now, ticket_url) for row in rows[:PAGE_SIZE]]
    surveyed = set()
    if "survey" in columns and tickets:
        surveyed = set(db.session.scalars(select(Survey.ticket_id).where(
            Survey.ticket_id.in_([t.id for t in tickets if t.status == "closed"]))))
    return dict(
        tabs=ticket_list.tabs, tab=tab, counts=counts, count_cap=COUNT_CAP,
        tickets=tickets, page=page, has_next=has_next, endpoint=endpoint, title=title,
        subtitle=subtitle, columns=columns, empty=empty, surveyed=surveyed,
        extra=extra or {},
        assume_url=id_url("TicketView.act", action="assume") if "assume" in columns else None,
        offered=offered, filter_values=chosen.values, filter_args=chosen.args,
        filtered=chosen.active, options=options,
        status_options=filters.status_choices(ticket_list.statuses),
        priority_options=filters.priority_choices(),
        total=tab_total(ticket_list, tab, keys, dialect, params) if total else None,
        max_search=search.MAX_SEARCH, no_assignee=filters.NO_ASSIGNEE,
    )


def thousands(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def tab_total(ticket_list: TicketList, tab: Tab, keys: frozenset, dialect: str,
              params: dict) -> dict:
    """The tab's total: exact when at most ``TOTAL_CAP`` (a count over that many index
    entries at most); above it, PostgreSQL's planner estimate, labelled as one ("cerca
    de 12.000"); SQLite, the embedded default for small accounts, counts exactly."""
    capped, ids = ticket_list.total(tab, keys, dialect)
    count = db.session.execute(capped, params).scalar_one()
    if count <= TOTAL_CAP:
        return {"exact": True, "value": count, "text": thousands(count)}
    if dialect != "postgresql":
        exact = db.session.execute(select(func.count()).select_from(ids.subquery()),
                                   params).scalar_one()
        return {"exact": True, "value": exact, "text": thousands(exact)}
    estimate = max(planner_estimate(ids, params), TOTAL_CAP + 1)
    rounded = int(float(f"{estimate:.2g}"))     # two significant digits: "cerca de 12.000"
    return {"exact": False, "value": rounded, "text": thousands(max(rounded, TOTAL_CAP))}


def planner_estimate(ids, params: dict) -> int:
    """How many rows PostgreSQL's planner expects ``ids`` to return (EXPLAIN, nothing
    run). The account is added explicitly: EXPLAIN goes around the ORM's tenancy."""
    from app.tenancy import current_account_id

    account_id = current_account_id()
    if account_id is not None:
        ids = ids.where(Ticket.account_id == account_id)
    bind = db.session.get_bind()
    values = {k: v for k, v in params.items()}
    compiled = ids.params(values).compile(dialect=bind.dialect,
                                          compile_kwargs={"render_postcompile": True})
    plan = db.session.connection().exec_driver_sql(
        "EXPLAIN (FORMAT JSON) " + str(compiled), compiled.construct_params()).scalar_one()
    if isinstance(plan, str):
        import json

        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
