"""Every number of the Painel de Atendimentos, computed by the database.

Pure functions ``(session, account_id, filters, ...) -> DataFrame``: the aggregation is
a SQL GROUP BY (window functions for percentiles on SQLite), so pandas only ever holds
the small answer, never the tickets (a peer helpdesk loops over 200k tickets in Python
and takes 13 s; this takes a fraction of a second at a million). The same functions
serve the Dash callbacks and ``GET /api/v1/painel/kpis``.

The account is always bound explicitly in the WHERE clause: these are Core statements,
which the ORM tenancy hook does not scope, and they must be right outside a request too.
Results are identical on SQLite and PostgreSQL: timestamps are compared as bound naive
UTC values (SQLite stores them as naive UTC strings) and durations are computed per
dialect (``julianday`` vs ``EXTRACT(EPOCH ...)``), both in hours.

Definitions (SPEC.md, "Painel de Atendimentos"); "dimension filters" are department,
service, priority, sector, attendant (assignee) and requester:

* backlog: tickets neither ``closed`` nor ``cancelled`` now, whatever the period;
* opened in the period: ``opened_at`` in the period;
* first response: mean ``started_at - opened_at`` over tickets first started in the period;
* handling: mean final ``concluded_at - started_at`` over tickets closed in the period;
* on the business clock (``Filters.clock == "business"``) the same means, and the step
  times, read the working hours the workflow stored on each ticket when each step
  happened (``business_assume_hours`` + ``business_start_hours``,
  ``business_handling_hours``, ``business_approve_hours``): the same SQL over other
  columns, never a calendar computed inside a KPI query;
* SLA met / breached: tickets closed in the period by ``sla_met``; breached also counts
  unresolved tickets (the backlog) whose due time has passed, except a ``waiting`` one,
  whose clock stopped at ``waiting_since``: it is late only if it was already late then;
* groupings and reopenings: tickets opened in the period;
* satisfaction: surveys filled in the period, by the ticket's department or sector.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import (
    Date,
    Float,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from app import business_hours, calendars
from app.models import Department, Member, Sector, Service, Survey, Ticket
from app.vocabulary import PRIORITY_LABELS, SHORT_STATUS_LABELS
from dashboards import periods
from dashboards.filters import Filters, as_utc, utc_now

T = Ticket.__table__
S = Survey.__table__
USER = Member.__table__
BACKLOG_STATUSES = ("open", "assumed", "in_progress", "waiting", "concluded")
# Not yet concluded and with a running clock: a waiting ticket's clock is stopped.
AT_RISK_STATUSES = ("open", "assumed", "in_progress")
MAX_PAGE_SIZE = 100
NEWEST_FIRST = [("opened_at", True), ("id", True)]
EXPORT_MAX_ROWS = 100_000

# dimension -> (ticket column, names table or None, label of the NULL group)
DIMENSIONS = {
    "service": ("service_id", Service.__table__, None),
    "priority": ("priority", None, None),
    "department": ("department_id", Department.__table__, None),
    "attendant": ("assignee_id", USER, "Sem atendente"),
    "sector": ("sector_id", Sector.__table__, "Sem setor"),
    "requester": ("requester_id", USER, None),
}
STEPS = (
    ("open_assume", "Abertura → Assumido"),
    ("assume_start", "Assumido → Início do atendimento"),
    ("start_conclude", "Início → Conclusão"),
    ("conclude_approve", "Conclusão → Aprovação"),
)


def hours_between(session, later, earlier):
    """``later - earlier`` in hours, as a float, on either dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", later - earlier), Float) / 3600.0
    return (func.julianday(later) - func.julianday(earlier)) * 24.0


def dimension_clauses(account_id: int, f: Filters) -> list:
    clauses = [T.c.account_id == account_id]
    for column, values in (("department_id", f.department_ids), ("service_id", f.service_ids),
                           ("priority", f.priorities), ("sector_id", f.sector_ids),
                           ("assignee_id", f.attendant_ids), ("requester_id", f.requester_ids)):
        if values:
            clauses.append(T.c[column].in_(values))
    return clauses


def _in_period(column, f: Filters) -> list:
    low, high = f.bounds()
    return [column >= low, column < high]


def _frame(session, stmt) -> pd.DataFrame:
    """Run on the session's connection: these Core statements carry their own account
    filter, so the ORM layer (and its tenancy hook) would only add overhead."""
    result = session.connection().execute(stmt)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def summary(session, account_id: int, f: Filters, now: dt.datetime | None = None
            ) -> pd.DataFrame:
    """One row: the KPI cards, in one round trip."""
    now = as_utc(now or utc_now())
    base = dimension_clauses(account_id, f)
    closed = base + [T.c.status == "closed"] + _in_period(T.c.closed_at, f)
    opened = base + _in_period(T.c.opened_at, f)

    def count_if(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    # Four passes, one per index (status+due, opened, started, closed); each computes
    # every aggregate of its ticket set at once.
    # A waiting ticket's clock stopped at waiting_since: it counts as late only if it was
    # late then. Counted apart (few rows) so the backlog pass stays index-only.
    backlog = select(
        func.count().label("open_backlog"),
        count_if(and_(T.c.status != "waiting", T.c.sla_due_at < now)).label("late_running"),
    ).where(*base, T.c.status.in_(BACKLOG_STATUSES)).subquery()
    waiting = select(
        func.count().label("late_waiting"),
    ).where(*base, T.c.status == "waiting", T.c.sla_due_at < T.c.waiting_since,
            T.c.sla_due_at < now).subquery()
    opened_set = select(
        func.count().label("opened_in_period"),
        count_if(T.c.reopen_count > 0).label("reopened_tickets"),
        func.coalesce(func.sum(T.c.reopen_count), 0).label("reopenings"),
    ).where(*opened).subquery()
    if f.clock == "business":
        first_response = T.c.business_assume_hours + T.c.business_start_hours
        handling = T.c.business_handling_hours
    else:
        first_response = hours_between(session, T.c.started_at, T.c.opened_at)
        handling = hours_between(session, T.c.concluded_at, T.c.started_at)
    started = select(
        func.avg(first_response).label("mean_first_response_hours"),
    ).where(*base, *_in_period(T.c.started_at, f)).subquery()
    closed_set = select(
        func.avg(handling).label("mean_handling_hours"),
        count_if(T.c.sla_met.is_(False)).label("sla_breached_closed"),
        count_if(T.c.sla_met.is_(True)).label("sla_met"),
    ).where(*closed).subquery()
    stmt = select(
        backlog.c.open_backlog, opened_set.c.opened_in_period,
        started.c.mean_first_response_hours, closed_set.c.mean_handling_hours,
        closed_set.c.sla_breached_closed,
        (backlog.c.late_running + waiting.c.late_waiting).label("sla_breached_open"),
        closed_set.c.sla_met, opened_set.c.reopened_tickets, opened_set.c.reopenings,
    ).select_from(backlog.join(waiting, literal(True)).join(opened_set, literal(True))
                  .join(started, literal(True)).join(closed_set, literal(True)))
    frame = _frame(session, stmt)
    frame["sla_breached"] = frame["sla_breached_closed"] + frame["sla_breached_open"]
    judged = frame["sla_met"] + frame["sla_breached"]
    frame["sla_met_pct"] = (100.0 * frame["sla_met"] / judged).where(judged > 0)
    for column in ("mean_first_response_hours", "mean_handling_hours"):
        frame[column] = frame[column].astype("float64")
    return frame


def _name_expression(dimension: str, names):
    if dimension in ("attendant", "requester"):
        return names.c.first_name + literal(" ") + names.c.last_name
    return names.c.name


def _attach_names(session, account_id: int, dimension: str, grouped, value_columns,
                  limit: int | None) -> pd.DataFrame:
    """Join names onto a small grouped subquery (the group-by runs on ids only)."""
    _, names, null_label = DIMENSIONS[dimension]
    order = [grouped.c[value_columns[-1]].desc(), grouped.c.id.asc().nulls_last()]
    if names is None:
        stmt = select(grouped.c.id, *[grouped.c[c] for c in value_columns]).order_by(*order)
    else:
        joined = grouped.outerjoin(names, and_(names.c.id == grouped.c.id,
                                               names.c.account_id == account_id))
        stmt = (select(grouped.c.id, _name_expression(dimension, names).label("name"),
                       *[grouped.c[c] for c in value_columns])
                .select_from(joined).order_by(*order))
    if limit:
        stmt = stmt.limit(limit)
    frame = _frame(session, stmt)
    if names is None:  # priority: codes named in pt-BR, in the product's order
        frame.insert(1, "name", frame["id"].map(PRIORITY_LABELS))
    else:
        frame["name"] = frame["name"].where(frame["id"].notna(), null_label)
        frame["id"] = frame["id"].astype("Int64")
    return frame


def counts_by(session, account_id: int, f: Filters, dimension: str,
              limit: int | None = None) -> pd.DataFrame:
    """Tickets opened in the period per group: columns id, name, count (largest first)."""
    column = T.c[DIMENSIONS[dimension][0]]
    grouped = (select(column.label("id"), func.count().label("count"))
               .where(*dimension_clauses(account_id, f), *_in_period(T.c.opened_at, f))
               .group_by(column).subquery())
    return _attach_names(session, account_id, dimension, grouped, ["count"], limit)


def satisfaction_by(session, account_id: int, f: Filters, dimension: str) -> pd.DataFrame:
    """Surveys filled in the period per department or sector of their ticket:
    columns id, name, mean_score, surveys."""
    column = T.c[DIMENSIONS[dimension][0]]
    joined = S.join(T, and_(T.c.id == S.c.ticket_id, T.c.account_id == S.c.account_id))
    grouped = (select(column.label("id"), func.avg(cast(S.c.score, Float)).label("mean_score"),
                      func.count().label("surveys"))
               .select_from(joined)
               .where(S.c.account_id == account_id, *dimension_clauses(account_id, f),
                      *_in_period(S.c.filled_at, f))
               .group_by(column).subquery())
    frame = _attach_names(session, account_id, dimension, grouped,
                          ["mean_score", "surveys"], None)
    frame["mean_score"] = frame["mean_score"].astype("float64")
    return frame.sort_values(["surveys", "mean_score"], ascending=False, kind="stable",
                             ignore_index=True)


def satisfaction_views(session, account_id: int, f: Filters) -> dict:
    """Both satisfaction views from one pass over the period's surveys: grouped by
    (department, sector) with sums, then folded per side in pandas (exact: a mean is
    a sum over a count). Same frames as ``satisfaction_by``, at half the cost."""
    joined = S.join(T, and_(T.c.id == S.c.ticket_id, T.c.account_id == S.c.account_id))
    pairs = _frame(session, select(
        T.c.department_id, T.c.sector_id, func.sum(S.c.score).label("total"),
        func.count().label("surveys"),
    ).select_from(joined).where(S.c.account_id == account_id,
                                *dimension_clauses(account_id, f),
                                *_in_period(S.c.filled_at, f))
        .group_by(T.c.department_id, T.c.sector_id))
    views = {}
    for dimension, column in (("department", "department_id"), ("sector", "sector_id")):
        table, null_label = DIMENSIONS[dimension][1], DIMENSIONS[dimension][2]
        names = dict(session.connection().execute(
            select(table.c.id, table.c.name).where(table.c.account_id == account_id)).all())
        grouped = (pairs.assign(id=pairs[column].astype("Int64"))
                   .groupby("id", dropna=False)[["total", "surveys"]].sum().reset_index())
        frame = pd.DataFrame({
            "id": grouped["id"].astype("Int64"),
            "name": [null_label if pd.isna(i) else names.get(int(i)) for i in grouped["id"]],
            "mean_score": grouped["total"].astype("float64") / grouped["surveys"],
            "surveys": grouped["surveys"].astype("int64"),
        })
        views[dimension] = frame.sort_values(
            ["surveys", "mean_score", "id"], ascending=[False, False, True], kind="stable",
            ignore_index=True)
    return views


def _step_rows(session, account_id: int, f: Filters):
    """One row per (step, duration in hours). Each step is measured over the tickets
    whose step ended in the period; start -> conclude and conclude -> approval over the
    tickets closed in the period, so the former's mean is the "Tempo médio de
    atendimento" card (the final conclusion, after any rejections)."""
    base = dimension_clauses(account_id, f)
    closed = base + [T.c.status == "closed"] + _in_period(T.c.closed_at, f)
    parts = [
        ("open_assume", T.c.assumed_at, T.c.opened_at, T.c.business_assume_hours,
         base + _in_period(T.c.assumed_at, f)),
        ("assume_start", T.c.started_at, T.c.assumed_at, T.c.business_start_hours,
         base + _in_period(T.c.started_at, f)),
        ("start_conclude", T.c.concluded_at, T.c.started_at, T.c.business_handling_hours,
         closed),
        ("conclude_approve", T.c.closed_at, T.c.concluded_at, T.c.business_approve_hours,
         closed),
    ]
    if f.clock == "business":  # the working hours stored when each step happened
        return union_all(*[
            select(literal(code).label("step"), stored.label("x"))
            .where(*where, stored.is_not(None))
            for code, _, _, stored, where in parts
        ]).subquery()
    return union_all(*[
        select(literal(code).label("step"), hours_between(session, later, earlier).label("x"))
        .where(*where, later.is_not(None), earlier.is_not(None))
        for code, later, earlier, _, where in parts
    ]).subquery()


def step_times(session, account_id: int, f: Filters) -> pd.DataFrame:
    """Per step of the flow: tickets, mean, median and 90th percentile in hours.

    PostgreSQL has ``percentile_cont``; SQLite gets the same linear interpolation from
    ROW_NUMBER/COUNT windows (value at rank ``p * (n - 1)``), so both agree."""
    rows = _step_rows(session, account_id, f)
    if session.get_bind().dialect.name == "postgresql":
        stmt = select(
            rows.c.step, func.count().label("tickets"), func.avg(rows.c.x).label("mean"),
            func.percentile_cont(0.5).within_group(rows.c.x).label("median"),
            func.percentile_cont(0.9).within_group(rows.c.x).label("p90"),
        ).group_by(rows.c.step)
    else:
        stmt = _sqlite_percentiles(rows)
    found = _frame(session, stmt).set_index("step")
    frame = pd.DataFrame({"step": [code for code, _ in STEPS],
                          "label": [label for _, label in STEPS]})
    for column in ("tickets", "mean", "median", "p90"):
        frame[column] = frame["step"].map(found[column] if len(found) else {})
    frame["tickets"] = frame["tickets"].fillna(0).astype("int64")
    for column in ("mean", "median", "p90"):
        frame[column] = frame[column].astype("float64")
    return frame


def _sqlite_percentiles(rows):
    ranked = select(
        rows.c.step, rows.c.x,
        (func.row_number().over(partition_by=rows.c.step, order_by=rows.c.x) - 1).label("rn"),
        func.count().over(partition_by=rows.c.step).label("n"),
    ).subquery()
    columns = [ranked.c.step, func.count().label("tickets"), func.avg(ranked.c.x).label("mean")]
    for name, p in (("median", 0.5), ("p90", 0.9)):
        position = p * (ranked.c.n - 1)
        low = cast(position, Integer)  # truncation of a non-negative rank: its floor
        lower = func.max(case((ranked.c.rn == low, ranked.c.x)))
        upper = func.max(case((ranked.c.rn == low + 1, ranked.c.x)))
        fraction = func.max(position - low)
        columns.append((lower + fraction * func.coalesce(upper - lower, 0.0)).label(name))
    return select(*columns).group_by(ranked.c.step)


def tickets_at_risk(session, account_id: int, f: Filters, hours: int = 8,
                    now: dt.datetime | None = None, limit: int = 50,
                    calendar: business_hours.Calendar | None = None
                    ) -> tuple[pd.DataFrame, int]:
    """Unresolved tickets with a running clock (not concluded, not waiting) whose SLA
    falls due within the next ``hours`` on their own service's clock: least time left
    first, at most ``limit`` rows, plus how many there are.

    ``hours_left`` is on the ticket's clock: elapsed hours for a 24x7 service, working
    hours of the account's calendar (``calendar``; read from the account when not
    given) for a business-clock one. "Within N hours" is one SQL condition per clock:
    ``add`` is monotonic, so N working hours from now end at ``add(now, N)`` and a due
    time is within them exactly when it is before that instant. Time left is monotonic
    in the due time within each clock, so the ``limit`` soonest of each clock hold the
    answer; only those few get their working hours computed, in Python."""
    now = as_utc(now or utc_now())
    base = dimension_clauses(account_id, f) + [
        T.c.status.in_(AT_RISK_STATUSES), T.c.sla_due_at >= now]
    business = list(session.connection().execute(select(Service.id).where(
        Service.account_id == account_id, Service.sla_clock == "business")).scalars())
    clocks = [(None, base + [T.c.sla_due_at < now + dt.timedelta(hours=hours)]
               + ([T.c.service_id.not_in(business)] if business else []))]
    if business:
        if calendar is None:
            calendar = calendars.calendar_for(account_id)
        if calendar.has_working_hours():  # otherwise their due times never come
            cut_off = business_hours.add(now, hours, calendar)
            clocks.append((calendar, base + [T.c.service_id.in_(business),
                                             T.c.sla_due_at < cut_off]))
    total, picked = 0, []
    for clock, where in clocks:
        total += session.scalar(select(func.count()).select_from(T).where(*where))
        rows = session.connection().execute(
            select(T.c.id, T.c.sla_due_at).where(*where)
            .order_by(T.c.sla_due_at, T.c.id).limit(limit)).all()
        if not rows:
            continue
        due = pd.to_datetime([r[1] for r in rows], utc=True).tz_localize(None)
        starts = np.full(len(rows), np.datetime64(now.replace(tzinfo=None), "us"))
        left = business_hours.between_many(starts, due.to_numpy("datetime64[us]"), clock)
        picked += [(hours_left, due_at, ident, clock is not None)
                   for (ident, _), hours_left, due_at in zip(rows, left, due)]
    picked = sorted(picked)[:limit]
    ids = [ident for _, _, ident, _ in picked]
    frame = _ticket_rows(session, account_id, [T.c.account_id == account_id,
                                              T.c.id.in_(ids or [-1])],
                         [("sla_due_at", False), ("id", False)], limit, 0)
    order = {ident: position for position, ident in enumerate(ids)}
    frame = (frame.assign(_order=frame["id"].map(order)).sort_values("_order")
             .drop(columns="_order").reset_index(drop=True))
    left = {ident: (hours_left, on_business) for hours_left, _, ident, on_business in picked}
    frame["hours_left"] = frame["id"].map(lambda i: left[i][0]).astype("float64")
    frame["clock"] = frame["id"].map(lambda i: "business" if left[i][1] else "24x7")
    return frame, int(total)


def ticket_page(session, account_id: int, f: Filters, page: int = 0, page_size: int = 20
                ) -> tuple[pd.DataFrame, int]:
    """The drill-down: tickets opened in the period, newest first, one bounded page."""
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    where = dimension_clauses(account_id, f) + _in_period(T.c.opened_at, f)
    total = session.scalar(select(func.count()).select_from(T).where(*where))
    frame = _ticket_rows(session, account_id, where, NEWEST_FIRST,
                         page_size, max(0, int(page)) * page_size)
    return frame, int(total)


def ticket_export(session, account_id: int, f: Filters, limit: int = EXPORT_MAX_ROWS
                  ) -> pd.DataFrame:
    where = dimension_clauses(account_id, f) + _in_period(T.c.opened_at, f)
    return _ticket_rows(session, account_id, where, NEWEST_FIRST,
                        limit, 0)


def _ticket_rows(session, account_id: int, where, order, limit: int, offset: int
                 ) -> pd.DataFrame:
    """Ticket rows with their names; the page is cut first, names joined after.
    ``order`` is a list of (column name, descending)."""

    def ordering(table):
        return [table.c[name].desc() if desc else table.c[name].asc() for name, desc in order]

    page = (select(T).where(*where).order_by(*ordering(T)).limit(limit).offset(offset)
            ).subquery()
    service, department, sector = Service.__table__, Department.__table__, Sector.__table__
    requester, assignee = USER.alias("requester"), USER.alias("assignee")

    def on(table, column):
        return and_(table.c.id == page.c[column], table.c.account_id == account_id)

    joined = (page.join(service, on(service, "service_id"))
              .join(department, on(department, "department_id"))
              .outerjoin(sector, on(sector, "sector_id"))
              .outerjoin(requester, on(requester, "requester_id"))
              .outerjoin(assignee, on(assignee, "assignee_id")))
    stmt = select(
        page.c.id, page.c.subject, page.c.opened_at, page.c.status, page.c.priority,
        department.c.name.label("department"), service.c.name.label("service"),
        sector.c.name.label("sector"),
        (requester.c.first_name + literal(" ") + requester.c.last_name).label("requester"),
        (assignee.c.first_name + literal(" ") + assignee.c.last_name).label("attendant"),
        page.c.sla_due_at, page.c.sla_met, page.c.closed_at, page.c.reopen_count,
    ).select_from(joined).order_by(*ordering(page))
    frame = _frame(session, stmt)
    for column in ("opened_at", "sla_due_at", "closed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_localize(None)
    frame["status_label"] = frame["status"].map(SHORT_STATUS_LABELS)
    frame["priority_label"] = frame["priority"].map(PRIORITY_LABELS)
    return frame



# --- trend over time -------------------------------------------------------------------

TREND_KINDS = ("opened", "closed", "cancelled", "breached")


def first_day(session, account_id: int, time_zone: str) -> dt.date | None:
    """The local date of the account's first ticket ("desde o início"), or None."""
    first = session.scalar(select(func.min(T.c.opened_at)).where(T.c.account_id == account_id))
    if first is None:
        return None
    if isinstance(first, str):  # SQLite without a type (aggregate of a DateTime column)
        first = dt.datetime.fromisoformat(first)
    return as_utc(first).astimezone(ZoneInfo(time_zone)).date()


def backlog_at(session, account_id: int, f: Filters, moment: dt.datetime) -> int:
    """Tickets open at ``moment``: opened before it, neither closed nor cancelled by it.

    Read from "now" backwards, so a moment a month ago reads a month of tickets, not
    every older one: today's backlog (the status index), minus those of it opened
    since, plus those opened before that were closed or cancelled since (closed_at
    and cancelled_at are set once, by the final approval or the cancellation)."""
    moment = as_utc(moment)
    base = dimension_clauses(account_id, f)

    def count(*where):
        return select(func.count()).select_from(T).where(*base, *where).scalar_subquery()

    stmt = select(
        count(T.c.status.in_(BACKLOG_STATUSES))
        - count(T.c.status.in_(BACKLOG_STATUSES), T.c.opened_at >= moment)
        + count(T.c.status == "closed", T.c.closed_at >= moment, T.c.opened_at < moment)
        + count(T.c.status == "cancelled", T.c.cancelled_at >= moment,
                T.c.opened_at < moment))
    return int(session.scalar(stmt))


def _late_open(now):
    """Unresolved tickets past due now; a waiting one only if late when it stopped."""
    return and_(T.c.status.in_(BACKLOG_STATUSES), T.c.sla_due_at < now,
                or_(T.c.status != "waiting", T.c.sla_due_at < T.c.waiting_since))


def trend(session, account_id: int, f: Filters, granularity: str,
          now: dt.datetime | None = None) -> pd.DataFrame:
    """Per bucket (day, week or month of the account's zone, cut to the period):
    columns start, end (local dates), opened, closed, cancelled, backlog (open at the
    end of the bucket, or now for a bucket not over yet), breached (tickets closed in
    the bucket past their due time, plus unresolved ones whose due time passed in the
    bucket).

    One statement: the events of the period (openings, closings, cancellations,
    breaches) bucketed in SQL, date_trunc in the local zone on PostgreSQL, a CASE
    over the buckets' UTC bounds on SQLite; plus the backlog at the period's start, so
    each bucket's backlog is that plus the running sum of openings minus exits."""
    now = as_utc(now or utc_now())
    spans = periods.buckets(f.start, f.end, granularity)
    frame = pd.DataFrame({"start": [a for a, _ in spans], "end": [b for _, b in spans]})
    for kind in TREND_KINDS:
        frame[kind] = 0
    low, high = f.bounds()
    base = dimension_clauses(account_id, f)

    def events(kind, column, *where):
        return select(literal(kind).label("kind"), column.label("ts")).where(
            *base, column >= low, column < high, *where)

    rows = union_all(
        events("opened", T.c.opened_at),
        events("closed", T.c.closed_at, T.c.status == "closed"),
        events("cancelled", T.c.cancelled_at, T.c.status == "cancelled"),
        events("breached", T.c.closed_at, T.c.status == "closed", T.c.sla_met.is_(False)),
        events("breached", T.c.sla_due_at, _late_open(now)),
    ).subquery()
    if session.get_bind().dialect.name == "postgresql":
        unit = {"day": "day", "week": "week", "month": "month"}[granularity]
        key = cast(func.date_trunc(unit, func.timezone(f.time_zone, rows.c.ts)), Date)
    else:
        zone = ZoneInfo(f.time_zone)
        whens = [(rows.c.ts < as_utc(dt.datetime.combine(last + dt.timedelta(days=1),
                                                          dt.time(), zone)), index)
                 for index, (_, last) in enumerate(spans)]
        key = case(*whens, else_=len(spans) - 1)
    counted = _frame(session, select(rows.c.kind, key.label("bucket"),
                                     func.count().label("n"))
                     .group_by(rows.c.kind, key))
    if len(counted):
        if session.get_bind().dialect.name == "postgresql":
            index = {a: i for i, (a, _) in enumerate(spans)}
            counted["bucket"] = [index[max(pd.Timestamp(b).date(), f.start)]
                                 for b in counted["bucket"]]
        for kind, bucket, n in counted.itertuples(index=False):
            frame.loc[int(bucket), kind] += int(n)
    start_backlog = backlog_at(session, account_id, f, low)
    frame["backlog"] = start_backlog + (frame["opened"] - frame["closed"]
                                        - frame["cancelled"]).cumsum()
    return frame


# --- people and services ---------------------------------------------------------------


def _times(session, f: Filters):
    if f.clock == "business":
        return (T.c.business_assume_hours + T.c.business_start_hours,
                T.c.business_handling_hours)
    return (hours_between(session, T.c.started_at, T.c.opened_at),
            hours_between(session, T.c.concluded_at, T.c.started_at))


def _grouped_metrics(session, account_id: int, f: Filters, group, parts: dict,
                     metrics: dict) -> pd.DataFrame:
    """One UNION ALL over the ticket sets of ``parts`` (name -> (where, {column:
    expression})), grouped by ``group``; ``metrics`` maps each output column to
    (aggregate, column). A column a part does not give is NULL there."""
    columns = sorted({c for _, given in parts.values() for c in given})
    selects = []
    for where, given in parts.values():
        selects.append(select(group.label("id"), *[
            cast(given[c], Float).label(c) if c in given else cast(null(), Float).label(c)
            for c in columns]).where(*where))
    rows = union_all(*selects).subquery()
    aggregates = {"sum": func.sum, "avg": func.avg}
    stmt = select(rows.c.id, *[aggregates[agg](rows.c[column]).label(name)
                               for name, (agg, column) in metrics.items()]
                  ).group_by(rows.c.id)
    frame = _frame(session, stmt)
    for name in metrics:
        frame[name] = frame[name].astype("float64")
    return frame


def _survey_part(account_id: int, f: Filters):
    return S.join(T, and_(T.c.id == S.c.ticket_id, T.c.account_id == S.c.account_id))


def attendant_table(session, account_id: int, f: Filters) -> pd.DataFrame:
    """Per attendant (the ticket's assignee): assumed (assumed in the period), concluded
    (concluded in the period, whatever came after), mean first response (started in
    the period), mean handling, SLA met %, rejection rate and first-time-right % (over
    the tickets closed in the period: rejections per conclusion, and the share closed
    without any rejection), mean score and surveys (filled in the period)."""
    base = dimension_clauses(account_id, f)
    first_response, handling = _times(session, f)
    one = literal(1)
    parts = {
        "assumed": (base + _in_period(T.c.assumed_at, f), {"assumed": one}),
        "concluded": (base + _in_period(T.c.concluded_at, f)
                      + [T.c.status.in_(("concluded", "closed"))], {"concluded": one}),
        "started": (base + _in_period(T.c.started_at, f), {"fr": first_response}),
        "closed": (base + [T.c.status == "closed"] + _in_period(T.c.closed_at, f), {
            "closed": one, "handling": handling,
            "met": case((T.c.sla_met.is_(True), 1), else_=0),
            "judged": case((T.c.sla_met.is_not(None), 1), else_=0),
            "rejections": T.c.reopen_count, "conclusions": T.c.reopen_count + 1,
            "ftr": case((T.c.reopen_count == 0, 1), else_=0)}),
    }
    frame = _grouped_metrics(session, account_id, f, T.c.assignee_id, parts, {
        "assumed": ("sum", "assumed"), "concluded": ("sum", "concluded"),
        "mean_first_response_hours": ("avg", "fr"), "mean_handling_hours": ("avg", "handling"),
        "closed": ("sum", "closed"), "met": ("sum", "met"), "judged": ("sum", "judged"),
        "rejections": ("sum", "rejections"), "conclusions": ("sum", "conclusions"),
        "ftr": ("sum", "ftr")})
    surveys = _frame(session, select(
        T.c.assignee_id.label("id"), func.avg(cast(S.c.score, Float)).label("mean_score"),
        func.count().label("surveys")).select_from(_survey_part(account_id, f)).where(
        S.c.account_id == account_id, *base, *_in_period(S.c.filled_at, f))
        .group_by(T.c.assignee_id))
    frame = _merge_surveys(frame, surveys)
    frame = frame[frame["id"].notna()].copy()  # nobody's tickets are not a person's
    frame["sla_met_pct"] = _pct(frame["met"], frame["judged"])
    frame["rejection_pct"] = _pct(frame["rejections"], frame["conclusions"])
    frame["first_time_right_pct"] = _pct(frame["ftr"], frame["closed"])
    for column in ("assumed", "concluded", "closed", "surveys"):
        frame[column] = frame[column].fillna(0).astype("int64")
    frame = _named(session, account_id, frame, USER,
                   USER.c.first_name + literal(" ") + USER.c.last_name)
    return frame.sort_values(["concluded", "assumed", "name"], ascending=[False, False, True],
                             kind="stable", ignore_index=True)


def service_table(session, account_id: int, f: Filters) -> pd.DataFrame:
    """Per service: volume and reopenings (tickets opened in the period, as the cards),
    SLA met % and mean handling (closed in the period), mean score and surveys."""
    base = dimension_clauses(account_id, f)
    _, handling = _times(session, f)
    one = literal(1)
    parts = {
        "opened": (base + _in_period(T.c.opened_at, f),
                   {"volume": one, "reopenings": T.c.reopen_count}),
        "closed": (base + [T.c.status == "closed"] + _in_period(T.c.closed_at, f), {
            "handling": handling, "met": case((T.c.sla_met.is_(True), 1), else_=0),
            "judged": case((T.c.sla_met.is_not(None), 1), else_=0)}),
    }
    frame = _grouped_metrics(session, account_id, f, T.c.service_id, parts, {
        "volume": ("sum", "volume"), "reopenings": ("sum", "reopenings"),
        "mean_handling_hours": ("avg", "handling"), "met": ("sum", "met"),
        "judged": ("sum", "judged")})
    surveys = _frame(session, select(
        T.c.service_id.label("id"), func.avg(cast(S.c.score, Float)).label("mean_score"),
        func.count().label("surveys")).select_from(_survey_part(account_id, f)).where(
        S.c.account_id == account_id, *base, *_in_period(S.c.filled_at, f))
        .group_by(T.c.service_id))
    frame = _merge_surveys(frame, surveys)
    frame["sla_met_pct"] = _pct(frame["met"], frame["judged"])
    for column in ("volume", "reopenings", "surveys"):
        frame[column] = frame[column].fillna(0).astype("int64")
    frame = _named(session, account_id, frame, Service.__table__, Service.__table__.c.name)
    return frame.sort_values(["volume", "name"], ascending=[False, True], kind="stable",
                             ignore_index=True)


def _pct(part, whole):
    return (100.0 * part / whole).where(whole > 0).astype("float64")


def _merge_surveys(frame: pd.DataFrame, surveys: pd.DataFrame) -> pd.DataFrame:
    surveys = surveys.astype({"mean_score": "float64"}) if len(surveys) else pd.DataFrame(
        {"id": pd.Series(dtype="Int64"), "mean_score": pd.Series(dtype="float64"),
         "surveys": pd.Series(dtype="int64")})
    frame = frame.astype({"id": "Int64"}) if len(frame) else frame.assign(
        id=pd.Series(dtype="Int64"))
    surveys = surveys.astype({"id": "Int64"})
    merged = frame.merge(surveys, on="id", how="outer")
    for column in merged.columns:  # plain floats (NaN), never pandas' nullable Float64
        if column != "id" and str(merged[column].dtype) in ("Float64", "Int64", "object"):
            merged[column] = merged[column].astype("float64")
    return merged


def _named(session, account_id: int, frame: pd.DataFrame, table, name) -> pd.DataFrame:
    names = dict(session.connection().execute(
        select(table.c.id, name).where(table.c.account_id == account_id)).all())
    frame = frame.reset_index(drop=True)
    frame.insert(1, "name", [names.get(int(i), "—") if pd.notna(i) else "Sem atendente"
                             for i in frame["id"]])
    return frame


def department_sla(session, account_id: int, f: Filters) -> pd.DataFrame:
    """SLA met % per department over the tickets closed in the period: id, met, judged,
    sla_met_pct (for the department chart)."""
    frame = _frame(session, select(
        T.c.department_id.label("id"),
        func.sum(case((T.c.sla_met.is_(True), 1), else_=0)).label("met"),
        func.sum(case((T.c.sla_met.is_not(None), 1), else_=0)).label("judged"),
    ).where(*dimension_clauses(account_id, f), T.c.status == "closed",
            *_in_period(T.c.closed_at, f)).group_by(T.c.department_id))
    frame["sla_met_pct"] = _pct(frame["met"].astype("float64"), frame["judged"])
    return frame


# --- satisfaction ----------------------------------------------------------------------


def satisfaction_overview(session, account_id: int, f: Filters) -> dict:
    """Response rate (of the tickets closed in the period, the share with a survey),
    the distribution of scores 1-5 and the mean (surveys filled in the period)."""
    base = dimension_clauses(account_id, f)
    closed = base + [T.c.status == "closed"] + _in_period(T.c.closed_at, f)
    answered = select(S.c.ticket_id).where(S.c.account_id == account_id)
    row = session.connection().execute(select(
        func.count().label("closed"),
        func.coalesce(func.sum(case((T.c.id.in_(answered), 1), else_=0)), 0).label("answered"),
    ).where(*closed)).one()
    counts = dict(session.connection().execute(select(S.c.score, func.count()).select_from(
        _survey_part(account_id, f)).where(S.c.account_id == account_id, *base,
                                            *_in_period(S.c.filled_at, f))
        .group_by(S.c.score)).all())
    distribution = {score: int(counts.get(score, 0)) for score in range(1, 6)}
    surveys = sum(distribution.values())
    return {
        "closed": int(row.closed), "answered": int(row.answered),
        "response_rate": 100.0 * row.answered / row.closed if row.closed else None,
        "distribution": distribution, "surveys": surveys,
        "mean_score": (sum(s * n for s, n in distribution.items()) / surveys
                       if surveys else None),
    }


def low_scores(session, account_id: int, f: Filters, limit: int = 20) -> pd.DataFrame:
    """Surveys of 1 or 2 filled in the period, newest first: ticket id, subject, score,
    comment, filled_at, department, attendant."""
    department = Department.__table__
    assignee = USER.alias("assignee")
    joined = (_survey_part(account_id, f)
              .join(department, and_(department.c.id == T.c.department_id,
                                     department.c.account_id == account_id))
              .outerjoin(assignee, and_(assignee.c.id == T.c.assignee_id,
                                        assignee.c.account_id == account_id)))
    frame = _frame(session, select(
        T.c.id, T.c.subject, S.c.score, S.c.comment, S.c.filled_at,
        department.c.name.label("department"),
        (assignee.c.first_name + literal(" ") + assignee.c.last_name).label("attendant"),
    ).select_from(joined).where(
        S.c.account_id == account_id, *dimension_clauses(account_id, f),
        *_in_period(S.c.filled_at, f), S.c.score <= 2,
    ).order_by(S.c.filled_at.desc(), T.c.id.desc()).limit(limit))
    frame["filled_at"] = pd.to_datetime(frame["filled_at"], utc=True).dt.tz_localize(None)
    return frame
