"""Realistic generated data: an account with its people and N tickets with histories.

Used by the tests (small N), the Painel benchmark (a million tickets) and the demo
account (a few thousand over the last months, so the Painel tells a story on first
start). Three rules shape it:

* Tickets are simulated as whole arrays (numpy), never one Python object per ticket
  (``simulate.py``).
* Rows go in by bulk, and the history is derived from the ticket columns in the
  database (``bulk.py``).
* It writes no ``outbox_mail`` row: generated data never sends mail.

This module holds the public entry points (``generate``, ``populate_account``,
``flask generate``) and the people and structure of a generated account.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import time

import click
import numpy as np
import pandas as pd
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, insert, select, text

from app import calendars
from app.extensions import db
from app.generator.bulk import (
    BULK_INDEX_MIN,
    indexes_built_after,
    next_id,
    skip_reference_checks,
    sync_sequence,
    write,
    write_history,
)
from app.generator.simulate import (
    DEPARTMENTS,
    FIRST_NAMES,
    LAST_NAMES,
    SECTORS,
    simulate,
)
from app.models import (
    Account,
    Department,
    Member,
    Sector,
    Service,
    Survey,
    Ticket,
    department_attendant,
)
from config import PROFILE_ROLES

GENERATED_PASSWORD = "senha-gerada-123"

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
    position = 0
    for name, services in DEPARTMENTS.items():
        dep_id = session.scalar(insert(Department.__table__).returning(
            Department.__table__.c.id), {"account_id": account.id, "name": name})
        rows = []
        for s, h, u in services:  # every other service counts its SLA in working hours
            rows.append({"account_id": account.id, "department_id": dep_id, "name": s,
                         "sla_hours": h, "sla_urgent_hours": u,
                         "sla_clock": "business" if position % 2 else "24x7"})
            position += 1
        session.execute(insert(Service.__table__), rows)
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
        Service.sla_urgent_hours, Service.sla_clock).where(Service.account_id == account_id)
        .order_by(Service.id)).all(), columns=["id", "department_id", "name", "sla", "low",
                                               "medium", "high", "urgent", "clock"])
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
            "time_zone": account.time_zone, "auto_approve_days": account.auto_approve_days,
            "calendar": calendars.calendar_for(account_id)}




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
        skip_reference_checks(session)
    base_id = next_id(Ticket.__table__)
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    tickets, surveys, rejections = simulate(structure, n_tickets, seed, months, now,
                                            base_id, account_id)
    clock.lap("simulate")
    existing = session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'ticket'")
                              ) if postgres else 0
    bulk = postgres and n_tickets >= BULK_INDEX_MIN and n_tickets >= (existing or 0)
    with indexes_built_after(session, ("ticket", "ticket_event"), bulk):
        write(Ticket.__table__, tickets)
        clock.lap("tickets")
        first_survey = next_id(Survey.__table__) + 1
        surveys.insert(0, "id", np.arange(first_survey, first_survey + len(surveys)))
        write(Survey.__table__, surveys)
        clock.lap("surveys")
        write_history(session, account_id, base_id, len(tickets), rejections, postgres)
        clock.lap("history")
    clock.lap("indexes")
    for table in (Ticket.__table__, Survey.__table__):
        sync_sequence(table)
    session.commit()
    clock.lap("commit")
    return len(tickets)



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


