"""Realistic generated data: an account with its people and N tickets with histories.

Used by the tests (small N), the Painel benchmark (a million tickets) and the demo
account (a few thousand over the last months, so the Painel tells a story on first
start). Three rules shape it:

* Tickets are simulated as whole arrays (numpy), never one Python object per ticket:
  lifecycle timestamps are drawn as durations and cut at "now", so every status
  (open ... closed, cancelled) has exactly the timestamps the workflow would have
  written (``concluded_at`` is the final conclusion, NULL again after a rejection).
* Rows go in by bulk: ``COPY`` on PostgreSQL, executemany elsewhere; the history
  (``ticket_event``) is derived from the ticket columns by one INSERT ... SELECT in the
  database, ordered so event ids follow time within each ticket, as the history API
  lists them.
* It writes no ``outbox_mail`` row: generated data never sends mail.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import queue
import secrets
import threading
import time

import click
import numpy as np
import pandas as pd
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import (Column, DateTime, Integer, MetaData, Table, func, insert, select,
                        text)

from app.extensions import db
from app.models import (Account, Department, Member, Sector, Service, Survey, Ticket,
                        department_attendant)
from config import PROFILE_ROLES

GENERATED_PASSWORD = "senha-gerada-123"
COPY_CHUNK = 100_000
# Rejections of generated tickets, staged for the history INSERT ... SELECT (typed binds).
REJECTIONS = Table("gen_rejection", MetaData(), Column("ticket_id", Integer),
                   *[Column(name, DateTime(timezone=True)) for name in ("c1", "r1", "c2", "r2")])
HISTORY_CHUNK = 100_000
BULK_INDEX_MIN = 200_000  # from this many tickets, indexes are rebuilt after the load  # tickets per history statement: each sort fits in memory

SECTORS = ["Diretoria", "Financeiro", "Comercial", "Operações", "Logística", "Marketing",
           "Jurídico", "Tecnologia", "Recursos Humanos", "Atendimento ao Cliente"]
# department -> [(service, SLA hours, SLA hours when urgent or None)]
DEPARTMENTS = {
    "Tecnologia da Informação": [("Acesso a sistemas", 8, 2), ("Equipamento com defeito", 24, 4),
                                 ("Instalação de software", 16, None), ("Rede e internet", 8, 2),
                                 ("E-mail e agenda", 8, None)],
    "Recursos Humanos": [("Férias", 72, None), ("Declaração de vínculo", 48, None),
                         ("Folha de pagamento", 24, 8), ("Benefícios", 48, None)],
    "Facilities": [("Manutenção predial", 48, 8), ("Reserva de sala", 8, None),
                   ("Limpeza", 24, 4)],
    "Financeiro": [("Reembolso de despesas", 72, None), ("Pagamento a fornecedor", 48, 12),
                   ("Nota fiscal", 24, None)],
    "Jurídico": [("Revisão de contrato", 120, 24), ("Consulta jurídica", 72, None)],
}
FIRST_NAMES = ["Ana", "Bruno", "Carla", "Diego", "Eduarda", "Felipe", "Gabriela", "Heitor",
               "Isabela", "João", "Larissa", "Marcos", "Natália", "Otávio", "Paula", "Rafael",
               "Sofia", "Thiago", "Vitória", "Wagner", "Beatriz", "Caio", "Helena", "Lucas"]
LAST_NAMES = ["Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves",
              "Pereira", "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Rocha"]
PHRASES = ["preciso de ajuda com urgência", "o problema começou hoje de manhã",
           "segue a solicitação conforme combinado", "não consigo concluir meu trabalho",
           "pedido recorrente do time", "favor verificar assim que possível",
           "detalhes no anexo enviado por e-mail", "afeta toda a equipe do setor"]
COMMENTS = [None, None, None, "Ótimo atendimento!", "Resolvido rápido.", "Demorou um pouco.",
            "Precisei reabrir, mas resolveram.", "Atendente muito atencioso."]
PRIORITY_CODES = np.array(["low", "medium", "high", "urgent"])
HOUR = 3600.0


def _local_midnights(now: dt.datetime, days: int, time_zone: str) -> tuple[np.ndarray, np.ndarray]:
    """UTC epoch seconds of each local midnight of the last ``days`` days, and whether
    each is a weekend (tickets are mostly opened on working days)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(time_zone)
    today = now.replace(tzinfo=dt.timezone.utc).astimezone(zone).date()
    dates = [today - dt.timedelta(days=days - 1 - i) for i in range(days)]
    midnights = np.array([dt.datetime.combine(d, dt.time(), zone).timestamp() for d in dates])
    return midnights, np.array([d.weekday() >= 5 for d in dates])


def _lognormal(rng, median, sigma, size):
    return rng.lognormal(np.log(median), sigma, size)


def simulate(structure: dict, n: int, seed: int, months: int, now: dt.datetime,
             base_id: int, account_id: int):
    """Arrays of ``n`` tickets -> (tickets, surveys, rejections) DataFrames.

    Durations are drawn per ticket (priority and department shape them; the work takes
    about 40% of the SLA, so roughly a fifth breach), then the timeline is cut at
    ``now``: what lies in the future has not happened, which decides the status."""
    rng = np.random.default_rng(seed)
    services = structure["services"]
    now_s = now.replace(tzinfo=dt.timezone.utc).timestamp()
    days = months * 30
    midnights, weekend = _local_midnights(now, days, structure["time_zone"])
    day_weight = np.where(weekend, 0.15, 1.0) * (0.6 + 0.8 * np.arange(days) / days)
    hour_weight = np.array([.02] * 7 + [.3, 1, 1, 1, 1, .6, .9, .9, .9, .9, .8, .4] + [.08] * 5)
    opened = (midnights[rng.choice(days, n, p=day_weight / day_weight.sum())]
              + rng.choice(24, n, p=hour_weight / hour_weight.sum()) * HOUR
              + rng.integers(0, 3600, n))
    # Sorted: ids follow opening time, as in real life, and every index on the ticket
    # table then grows at its right edge (random keys made the load 5x slower).
    opened = np.sort(np.floor(np.minimum(opened, now_s - rng.integers(60, 4 * 3600, n))))

    service_weight = rng.gamma(2.0, 1.0, len(services))
    svc = rng.choice(len(services), n, p=service_weight / service_weight.sum())
    dept = services["department_id"].to_numpy()[svc]
    prio = rng.choice(4, n, p=[0.25, 0.45, 0.22, 0.08])
    sla_table = np.column_stack([services[p].fillna(services["sla"]).to_numpy(float)
                                 for p in ("low", "medium", "high", "urgent")])
    sla = sla_table[svc, prio] * HOUR
    due = opened + sla

    requesters = structure["requesters"]
    requester_weight = rng.gamma(1.0, 1.0, len(requesters))
    req = rng.choice(len(requesters), n, p=requester_weight / requester_weight.sum())
    requester_ids = np.array([r[0] for r in requesters])[req]
    sectors = np.array([r[1] if r[1] is not None else -1 for r in requesters])[req]
    sector_ids = pd.array(sectors, dtype="Int64")
    sector_ids[sectors < 0] = pd.NA

    dept_ids = np.unique(services["department_id"].to_numpy())
    dept_pos = np.searchsorted(dept_ids, dept)
    factor = rng.uniform(0.6, 1.6, len(dept_ids))[dept_pos]  # some departments are slower
    assumed = opened + _lognormal(rng, 1.0, 1.0, n) * np.array([4, 2, 1, 0.3])[prio] * HOUR * factor
    started = assumed + _lognormal(rng, 0.5 * HOUR, 1.0, n)
    reopens = rng.choice(3, n, p=[0.88, 0.09, 0.03])
    concluded = started + _lognormal(rng, 0.3, 0.8, n) * sla * factor * (1 + 0.4 * reopens)
    approve_delay = _lognormal(rng, 10 * HOUR, 1.2, n)
    auto_limit = structure["auto_approve_days"] * 86400.0
    auto_approved = approve_delay > auto_limit
    closed = concluded + np.minimum(approve_delay, auto_limit)
    segment = (concluded - started) / (reopens + 1)

    cancel_at = opened + _lognormal(rng, 4 * HOUR, 1.2, n)
    cancelled = (rng.random(n) < 0.06) & (cancel_at < started + 0.7 * segment) & (cancel_at <= now_s)
    attendants = structure["attendants"]
    no_attendant = np.array([not attendants.get(d) for d in dept_ids])[dept_pos]
    assumed[no_attendant] = np.inf  # nobody can assume: stays open (or is cancelled)
    for column in (started, concluded, closed):
        column[no_attendant] = np.inf
    for column in (assumed, started, concluded, closed):
        column[cancelled & (column > cancel_at)] = np.inf

    # Rejections that already happened, and a conclusion awaiting review right now.
    reopen_count = np.zeros(n, dtype=int)
    current_conclusion = np.full(n, np.nan)
    rejection_times = {}
    for k in (1, 2):
        has = (reopens >= k) & ~cancelled & ~no_attendant
        conc_k, rej_k = started + segment * (k - 0.3), started + segment * k
        happened = has & (rej_k <= now_s)
        reopen_count += happened
        waiting = has & (conc_k <= now_s) & (rej_k > now_s)
        current_conclusion[waiting] = conc_k[waiting]
        rejection_times[f"c{k}"] = np.where(happened, conc_k, np.nan)
        rejection_times[f"r{k}"] = np.where(happened, rej_k, np.nan)

    def cut(values):
        return np.where(values <= now_s, values, np.nan)

    a, s, c, cl = cut(assumed), cut(started), cut(concluded), cut(closed)
    waiting = ~np.isnan(current_conclusion) & np.isnan(c)
    c = np.where(waiting, current_conclusion, c)
    status = np.select(
        [cancelled, ~np.isnan(cl), ~np.isnan(c), ~np.isnan(s), ~np.isnan(a)],
        ["cancelled", "closed", "concluded", "in_progress", "assumed"], "open")
    sla_met = pd.array(np.where(status == "closed", c <= due, False), dtype="boolean")
    sla_met[status != "closed"] = pd.NA

    assignee = pd.array([pd.NA] * n, dtype="Int64")
    for dep_id, people in attendants.items():
        mask = (dept == dep_id) & ~np.isnan(a)
        assignee[mask] = np.array(people)[rng.integers(0, len(people), mask.sum())]
    transitions = (~np.isnan(a)).astype(int) + ~np.isnan(s) + 2 * reopen_count \
        + ~np.isnan(c) + ~np.isnan(cl) + cancelled
    stamps = np.column_stack([opened, a, s, c, cl, np.where(cancelled, cancel_at, np.nan)])
    names = services["name"].to_numpy()[svc]
    phrase = np.array(PHRASES)[rng.integers(0, len(PHRASES), n)]

    def when(values):
        return pd.to_datetime(np.floor(values), unit="s")

    tickets = pd.DataFrame({
        "id": base_id + 1 + np.arange(n), "account_id": account_id,
        "requester_id": requester_ids, "assignee_id": assignee,
        "department_id": dept, "service_id": services["id"].to_numpy()[svc],
        "sector_id": sector_ids, "priority": PRIORITY_CODES[prio], "status": status,
        "description": np.char.add(np.char.add(names.astype(str), ": "), phrase),
        "opened_at": when(opened), "assumed_at": when(a), "started_at": when(s),
        "concluded_at": when(c), "closed_at": when(cl),
        "cancelled_at": when(np.where(cancelled, cancel_at, np.nan)),
        "sla_due_at": when(due), "sla_met": sla_met, "reopen_count": reopen_count,
        "auto_approved": auto_approved & (status == "closed"), "version": 1 + transitions,
        "updated_at": when(np.nanmax(stamps, axis=1)),
    })

    filled = cl + _lognormal(rng, 3 * HOUR, 1.0, n)
    answered = (status == "closed") & (rng.random(n) < 0.65) & (filled <= now_s)
    met = np.asarray(sla_met.fillna(False), dtype=bool)
    happy = rng.choice([5, 4, 3, 2, 1], n, p=[0.55, 0.3, 0.1, 0.03, 0.02])
    unhappy = rng.choice([5, 4, 3, 2, 1], n, p=[0.12, 0.23, 0.3, 0.2, 0.15])
    score = np.where(met & (reopen_count == 0), happy, unhappy)
    comment = np.array(COMMENTS, dtype=object)[rng.integers(0, len(COMMENTS), n)]
    surveys = pd.DataFrame({"account_id": account_id, "ticket_id": tickets["id"][answered],
                            "score": score[answered], "comment": comment[answered],
                            "filled_at": when(filled[answered])})
    rejected = reopen_count > 0
    rejections = pd.DataFrame({"ticket_id": tickets["id"][rejected],
                               **{k: when(v[rejected]) for k, v in rejection_times.items()}})
    return tickets, surveys.reset_index(drop=True), rejections


SEQ = " UNION ALL ".join(f"SELECT {i} AS seq" for i in range(11))


def _by_seq(*values: str) -> str:
    return "CASE k.seq " + " ".join(f"WHEN {i} THEN {v}" for i, v in enumerate(values)) + " END"


def history_sql() -> str:
    """The history of generated tickets with ids in (:low, :high], from their columns,
    their staged rejections and their surveys. Each ticket is crossed with the eleven
    possible steps of its life; steps that did not happen have no time and are
    dropped; the sort makes event ids follow time within each ticket, as the history
    API lists them. Portable SQL: the same statement runs on SQLite."""
    auto = "t.auto_approved"
    columns = {
        "type": _by_seq("'opened'", "'assumed'", "'started'", "'concluded'", "'rejected'",
                        "'concluded'", "'rejected'", "'concluded'",
                        f"CASE WHEN {auto} THEN 'auto_approved' ELSE 'approved' END",
                        "'cancelled'", "'survey'"),
        "actor_id": "CASE WHEN k.seq IN (1, 2, 3, 5, 7) THEN t.assignee_id "
                    f"WHEN k.seq = 8 AND {auto} THEN NULL ELSE t.requester_id END",
        "from_status": _by_seq("NULL", "'open'", "'assumed'", "'in_progress'", "'concluded'",
                               "'in_progress'", "'concluded'", "'in_progress'", "'concluded'",
                               "CASE WHEN t.started_at IS NOT NULL THEN 'in_progress' "
                               "WHEN t.assumed_at IS NOT NULL THEN 'assumed' ELSE 'open' END",
                               "'closed'"),
        "to_status": _by_seq("'open'", "'assumed'", "'in_progress'", "'concluded'",
                             "'in_progress'", "'concluded'", "'in_progress'", "'concluded'",
                             "'closed'", "'cancelled'", "'closed'"),
        "note": _by_seq("NULL", "NULL", "NULL", "'Atendimento realizado.'",
                        "'O problema continua.'", "'Atendimento realizado.'",
                        "'Ainda não resolveu.'", "'Atendimento concluído.'",
                        f"CASE WHEN {auto} THEN 'Aprovado automaticamente por falta de "
                        "resposta do solicitante.' END", "'Não é mais necessário.'",
                        "'Nota ' || CAST(s.score AS VARCHAR(1))"),
        "created_at": _by_seq("t.opened_at", "t.assumed_at", "t.started_at", "r.c1", "r.r1",
                              "r.c2", "r.r2", "t.concluded_at", "t.closed_at",
                              "t.cancelled_at", "s.filled_at"),
    }
    select_list = ", ".join(f"{expr} AS {name}" for name, expr in columns.items())
    names = ", ".join(columns)
    return (
        f"INSERT INTO ticket_event (account_id, ticket_id, {names}) "
        f"SELECT account_id, ticket_id, {names} FROM ("
        f"SELECT t.account_id, t.id AS ticket_id, k.seq, {select_list} "
        f"FROM ticket t CROSS JOIN ({SEQ}) k "
        "LEFT JOIN gen_rejection r ON r.ticket_id = t.id "
        "LEFT JOIN survey s ON s.ticket_id = t.id AND s.account_id = t.account_id "
        "WHERE t.account_id = :account_id AND t.id > :low AND t.id <= :high"
        ") e WHERE created_at IS NOT NULL ORDER BY ticket_id, seq")


@dataclasses.dataclass
class Result:
    account_id: int
    tickets: int
    seconds: float
    admin_username: str | None = None
    password: str | None = None
    timings: dict = dataclasses.field(default_factory=dict)


# --- people and structure -----------------------------------------------------------


def _role_ids() -> dict:
    sm = current_app.appbuilder.sm
    return {code: sm.find_role(name).id for code, name in PROFILE_ROLES.items()}


def _add_members(account_id: int, people: list[dict], password_hash: str, token: str,
                 start: int) -> list[int]:
    """Insert members in bulk with their profiles (FAB roles in ab_user_role)."""
    if not people:
        return []
    roles = _role_ids()
    now = dt.datetime.now()
    rows = []
    for i, person in enumerate(people, start=start):
        handle = f"{person['first']}.{person['last']}".lower()
        handle = handle.translate(str.maketrans("áâãàéêíóôõúç", "aaaaeeiooouc")).replace(" ", "")
        username = f"{handle}.{token}{i}"
        rows.append({"first_name": person["first"], "last_name": person["last"],
                     "username": username, "email": f"{username}@gerado.example",
                     "password": password_hash, "active": True, "account_id": account_id,
                     "sector_id": person.get("sector_id"), "created_on": now,
                     "changed_on": now, "login_count": 0, "fail_login_count": 0})
    ids = list(db.session.scalars(insert(Member.__table__).returning(Member.__table__.c.id),
                                  rows))
    user_role = Member.roles.property.secondary
    db.session.execute(insert(user_role), [
        {"user_id": uid, "role_id": roles[code]}
        for uid, person in zip(ids, people) for code in person["profiles"]])
    return ids


def _people(rng, count: int, profiles: list[str], sector_ids: list[int | None]) -> list[dict]:
    return [{"first": str(rng.choice(FIRST_NAMES)), "last": str(rng.choice(LAST_NAMES)),
             "profiles": profiles,
             "sector_id": int(rng.choice(sector_ids)) if sector_ids else None}
            for _ in range(count)]


def create_account(n_tickets: int, seed: int, password: str = GENERATED_PASSWORD) -> Result:
    """A new account (sign-up), its sectors, departments, services with SLA, managers,
    attendants linked to their departments and requesters, sized for ``n_tickets``."""
    from app import accounts

    rng = np.random.default_rng(seed)
    token = secrets.token_hex(3)
    admin_username = f"gerador.{token}"
    account, admin = accounts.signup(f"Empresa Gerada {token.upper()}", "Gerador Admin",
                                     admin_username, f"{admin_username}@gerado.example",
                                     password)
    session = db.session
    sector_ids = list(session.scalars(insert(Sector.__table__).returning(Sector.__table__.c.id),
                                      [{"account_id": account.id, "name": n} for n in SECTORS]))
    admin.sector_id = sector_ids[0]
    for name, services in DEPARTMENTS.items():
        dep_id = session.scalar(insert(Department.__table__).returning(
            Department.__table__.c.id), {"account_id": account.id, "name": name})
        session.execute(insert(Service.__table__), [
            {"account_id": account.id, "department_id": dep_id, "name": s, "sla_hours": h,
             "sla_urgent_hours": u} for s, h, u in services])
    password_hash = admin.password
    n_requesters = int(np.clip(n_tickets // 400, 20, 2500))
    n_attendants = int(np.clip(n_tickets // 50_000, 2, 12))
    _add_members(account.id, _people(rng, 3, ["manager", "requester"], sector_ids[:1]),
                 password_hash, token, 1)
    _add_members(account.id, _people(rng, n_requesters, ["requester"], sector_ids),
                 password_hash, token, 10)
    _link_attendants(account.id, rng, n_attendants, password_hash, token, sector_ids)
    session.commit()
    return Result(account.id, 0, 0.0, admin_username, password)


def _link_attendants(account_id: int, rng, per_department: int, password_hash: str,
                     token: str, sector_ids: list, only_short: bool = False) -> None:
    """Give each department ``per_department`` attendants (new members), or top it up
    to that number when ``only_short``."""
    links = db.session.execute(select(department_attendant.c.department_id,
                                      func.count()).group_by(department_attendant.c.department_id)
                               ).all()
    have = dict(links)
    start = 5000 + int(rng.integers(0, 10_000))
    for dep_id in db.session.scalars(select(Department.id).where(
            Department.account_id == account_id).order_by(Department.id)):
        missing = per_department - (have.get(dep_id, 0) if only_short else 0)
        if missing <= 0:
            continue
        ids = _add_members(account_id, _people(rng, missing, ["attendant"], sector_ids),
                           password_hash, token, start)
        start += missing
        db.session.execute(insert(department_attendant),
                           [{"department_id": dep_id, "user_id": uid} for uid in ids])


# --- reading an account's structure ---------------------------------------------------


def _structure(account_id: int) -> dict:
    session = db.session
    services = pd.DataFrame(session.execute(select(
        Service.id, Service.department_id, Service.name, Service.sla_hours,
        Service.sla_low_hours, Service.sla_medium_hours, Service.sla_high_hours,
        Service.sla_urgent_hours).where(Service.account_id == account_id)
        .order_by(Service.id)).all(), columns=["id", "department_id", "name", "sla", "low",
                                               "medium", "high", "urgent"])
    roles = _role_ids()
    user_role = Member.roles.property.secondary
    requesters = session.execute(
        select(Member.id, Member.sector_id).join(user_role, user_role.c.user_id == Member.id)
        .where(Member.account_id == account_id, user_role.c.role_id == roles["requester"],
               Member.active.is_(True)).order_by(Member.id)).all()
    attendants = session.execute(
        select(department_attendant.c.department_id, department_attendant.c.user_id)
        .join(Member, Member.id == department_attendant.c.user_id)
        .where(Member.account_id == account_id)).all()
    by_department: dict = {}
    for dep_id, user_id in attendants:
        by_department.setdefault(dep_id, []).append(user_id)
    account = session.get(Account, account_id)
    return {"services": services, "requesters": requesters, "attendants": by_department,
            "time_zone": account.time_zone, "auto_approve_days": account.auto_approve_days}


# --- writing ------------------------------------------------------------------------


def _next_id(table) -> int:
    return int(db.session.scalar(select(func.coalesce(func.max(table.c.id), 0))))


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Times as ISO text in numpy's C loop (pandas' date_format formats one by one)."""
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            values = frame[column].to_numpy().astype("datetime64[s]")
            stamps = np.char.add(np.datetime_as_string(values, unit="s"), "Z")
            frame[column] = np.where(np.isnat(values), "", stamps).astype(object)
    return frame


class _CsvStream(io.RawIOBase):
    """The frame as CSV, formatted chunk by chunk in a thread while the driver sends
    the previous chunk, so PostgreSQL parses on one core while Python formats on the
    other; at most two chunks wait in memory."""

    def __init__(self, frame: pd.DataFrame):
        super().__init__()
        self.chunks: queue.Queue = queue.Queue(maxsize=2)
        self.view, self.position, self.done = memoryview(b""), 0, False
        threading.Thread(target=self._produce, args=(frame,), daemon=True).start()

    def _produce(self, frame: pd.DataFrame) -> None:
        try:
            for offset in range(0, len(frame), COPY_CHUNK):
                buffer = io.StringIO()
                _as_text(frame.iloc[offset:offset + COPY_CHUNK]).to_csv(
                    buffer, index=False, header=False)
                self.chunks.put(buffer.getvalue().encode())
            self.chunks.put(None)
        except BaseException as error:  # handed to the reading side
            self.chunks.put(error)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while self.position >= len(self.view) and not self.done:
            item = self.chunks.get()
            if isinstance(item, BaseException):
                raise item
            if item is None:
                self.done = True
            else:
                self.view, self.position = memoryview(item), 0
        if size is None or size < 0:
            size = len(self.view) - self.position
        piece = self.view[self.position:self.position + size].tobytes()
        self.position += len(piece)
        return piece


def _write(table, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        cursor = session.connection().connection.cursor()
        sql = f"COPY {table.name} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv)"
        cursor.copy_expert(sql, _CsvStream(frame), size=1 << 20)
        return
    utc = dt.timezone.utc
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for record in records:
        for key, value in record.items():
            if isinstance(value, pd.Timestamp):
                record[key] = value.to_pydatetime().replace(tzinfo=utc)
    session.execute(insert(table), records)


def _skip_reference_checks(session) -> None:
    """Generated rows reference only rows read from the same account a moment ago, so
    PostgreSQL's per-row foreign-key triggers are pure cost here (they are most of the
    load time). Like ``pg_restore --disable-triggers``, switch them off for this
    transaction when the role may (a superuser); otherwise keep them."""
    is_super = session.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
    if is_super:
        session.execute(text("SET LOCAL session_replication_role = replica"))


def _secondary_indexes(session, table_name: str) -> list:
    """(name, CREATE INDEX statement) of the plain indexes of a table: not those behind
    a primary key or unique constraint, which foreign keys may rely on."""
    return session.execute(text(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = :t "
        "AND i.schemaname = current_schema() AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"), {"t": table_name}
    ).all()


@contextlib.contextmanager
def _indexes_built_after(session, tables: tuple[str, ...], enabled: bool):
    """A large load into a small table: drop the plain indexes, load, build them again
    (one sorted build beats millions of single inserts by about 2x). The DDL is part
    of the load's transaction, so a failure leaves the indexes as they were."""
    saved = []
    if enabled:
        for table in tables:
            for name, definition in _secondary_indexes(session, table):
                session.execute(text(f'DROP INDEX "{name}"'))
                saved.append(definition)
    yield
    if saved:
        session.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        for definition in saved:
            session.execute(text(definition))


def _sync_sequence(table) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table.name}))"))


def add_tickets(account_id: int, n_tickets: int, seed: int = 1, months: int = 12,
                now: dt.datetime | None = None, timings: dict | None = None) -> int:
    """Simulate ``n_tickets`` over the last ``months`` for an account that already has
    departments, services, requesters and attendants, and write them with their
    surveys and history. Returns how many tickets were written; ``timings`` (when
    given) receives the seconds of each phase, for the benchmark."""
    session = db.session
    clock = _Clock(timings)
    structure = _structure(account_id)
    if structure["services"].empty or not structure["requesters"]:
        raise click.ClickException("A conta precisa de serviços e solicitantes.")
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text("LOCK TABLE ticket, survey IN SHARE ROW EXCLUSIVE MODE"))
        _skip_reference_checks(session)
    base_id = _next_id(Ticket.__table__)
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    tickets, surveys, rejections = simulate(structure, n_tickets, seed, months, now,
                                            base_id, account_id)
    clock.lap("simulate")
    existing = session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'ticket'")
                              ) if postgres else 0
    bulk = postgres and n_tickets >= BULK_INDEX_MIN and n_tickets >= (existing or 0)
    with _indexes_built_after(session, ("ticket", "ticket_event"), bulk):
        _write(Ticket.__table__, tickets)
        clock.lap("tickets")
        first_survey = _next_id(Survey.__table__) + 1
        surveys.insert(0, "id", np.arange(first_survey, first_survey + len(surveys)))
        _write(Survey.__table__, surveys)
        clock.lap("surveys")
        _write_history(session, account_id, base_id, len(tickets), rejections, postgres)
        clock.lap("history")
    clock.lap("indexes")
    for table in (Ticket.__table__, Survey.__table__):
        _sync_sequence(table)
    session.commit()
    clock.lap("commit")
    return len(tickets)


def _write_history(session, account_id: int, base_id: int, count: int,
                   rejections: pd.DataFrame, postgres: bool) -> None:
    stamp = "TIMESTAMP WITH TIME ZONE"
    session.execute(text(f"CREATE TEMPORARY TABLE IF NOT EXISTS gen_rejection (ticket_id "
                         f"INTEGER PRIMARY KEY, c1 {stamp}, r1 {stamp}, c2 {stamp}, r2 {stamp})"))
    session.execute(text("DELETE FROM gen_rejection"))
    _write(REJECTIONS, rejections)
    if postgres:  # fresh statistics: without them the planner scans instead of seeking
        session.execute(text("ANALYZE ticket, survey, gen_rejection"))
    history = text(history_sql())
    for low in range(base_id, base_id + count, HISTORY_CHUNK):
        session.execute(history, {"account_id": account_id, "low": low,
                                  "high": low + HISTORY_CHUNK})
    session.execute(text("DELETE FROM gen_rejection"))
    if postgres:  # the history was written after the ANALYZE above: without statistics a
        # ticket page's history read took 100 ms at 1M tickets (a bitmap AND over the
        # account index) instead of 0.1 ms (the (ticket_id, id) index).
        session.execute(text("ANALYZE ticket_event"))


class _Clock:
    def __init__(self, timings: dict | None):
        self.timings = timings if timings is not None else {}
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + now - self.last
        self.last = now


def generate(n_tickets: int, seed: int = 1, account_id: int | None = None, months: int = 12,
             password: str = GENERATED_PASSWORD) -> Result:
    """``n_tickets`` in a new generated account, or in ``account_id`` when given."""
    from app.tenancy import UNSCOPED, account_scope

    began = time.perf_counter()
    result = Result(account_id, 0, 0.0)
    with account_scope(UNSCOPED):
        if account_id is None:
            result = create_account(n_tickets, seed, password)
        elif db.session.get(Account, account_id) is None:
            raise click.ClickException(f"Conta {account_id} não encontrada.")
        result.timings["account"] = time.perf_counter() - began
        result.tickets = add_tickets(result.account_id, n_tickets, seed, months,
                                     timings=result.timings)
    result.seconds = time.perf_counter() - began
    return result


def populate_account(account_id: int, n_tickets: int = 3000, months: int = 6,
                     seed: int = 7) -> int:
    """Demo data for an existing account: a few more requesters and attendants (two per
    department at least) so charts have more than one bar, then ``n_tickets`` over the
    last ``months``. The new people get an unusable random password."""
    from app.accounts import hash_password
    from app.tenancy import UNSCOPED, account_scope

    rng = np.random.default_rng(seed)
    token = secrets.token_hex(2)
    with account_scope(UNSCOPED):
        password_hash = hash_password(secrets.token_urlsafe(24))
        sector_ids = list(db.session.scalars(select(Sector.id).where(
            Sector.account_id == account_id)))
        _add_members(account_id, _people(rng, 14, ["requester"], sector_ids), password_hash,
                     token, 1)
        _link_attendants(account_id, rng, 2, password_hash, token, sector_ids,
                         only_short=True)
        db.session.commit()
        return add_tickets(account_id, n_tickets, seed, months)


# --- flask generate -----------------------------------------------------------------


@click.command("generate")
@click.option("--tickets", "n_tickets", type=click.IntRange(1, 20_000_000), default=10_000,
              show_default=True, help="Quantos chamados gerar.")
@click.option("--account-id", type=int, default=None,
              help="Conta existente (padrão: cria uma conta nova).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--months", type=click.IntRange(1, 120), default=12, show_default=True,
              help="Meses de histórico até hoje.")
@with_appcontext
def generate_command(n_tickets: int, account_id: int | None, seed: int, months: int) -> None:
    """Gera dados realistas (chamados, históricos, pesquisas) para testes e benchmarks."""
    result = generate(n_tickets, seed=seed, account_id=account_id, months=months)
    click.echo(f"{result.tickets} chamados gerados na conta {result.account_id} "
               f"em {result.seconds:.1f} s.")
    if result.admin_username:
        click.echo(f"Administrador: {result.admin_username} / senha: {result.password}")


def register_cli(app) -> None:
    app.cli.add_command(generate_command)


