"""Use cases of accounts, plans and members, shared by the screens and the REST API.

Each function validates first, then writes, then commits once; failures raise
``ValidationError`` (field + pt-BR message + status) and leave nothing behind.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, available_timezones

from flask import current_app
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from app import invitations, quotas
from app.extensions import db
from app.models import (
    EVENTS,
    Account,
    Department,
    Member,
    NotificationSetting,
    PlanRenewal,
    Sector,
    as_utc,
    utcnow,
)
from app.security import (
    ValidationError,
    clean_text,
    ensure_identity_free,
    roles_for_profiles,
    validate_email,
    validate_password,
    validate_username,
)
from app.tenancy import account_scope

# Who hears about what in a new account (administrators can change it).
DEFAULT_NOTIFICATIONS = {
    "ticket_opened": ("requester", "department_attendants"),
    "ticket_assumed": ("requester",),
    "ticket_started": ("requester",),
    "requester_message": ("assignee",),
    "attendant_message": ("requester",),
    "ticket_concluded": ("requester",),
    "conclusion_reviewed": ("assignee",),
    "survey_filled": ("assignee", "managers"),
    "ticket_waiting": ("requester",),
    "ticket_cancelled": ("requester", "assignee"),
    "ticket_transferred": ("requester", "department_attendants"),
    "ticket_reassigned": ("assignee",),
    "ticket_released": ("department_attendants",),
    # on, like every other event: a manager wants to hear of an unhappy requester
    "low_score": ("managers",),
}


def hash_password(password: str) -> str:
    return generate_password_hash(
        password,
        method=current_app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
        salt_length=current_app.config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16),
    )


def split_name(full_name: str) -> tuple[str, str]:
    first, _, last = full_name.partition(" ")
    return first, last.strip()


def signup(company, admin_name, admin_username, admin_email, admin_password):
    """A new account with a 30-day plan and its first administrator."""
    company = clean_text(company, "company", "Empresa", max_len=150)
    admin_name = clean_text(admin_name, "admin_name", "Nome", max_len=128)
    session = db.session
    try:
        username = validate_username(admin_username)
        email = validate_email(admin_email)
        ensure_identity_free(session, username, email)
    except ValidationError as error:
        error.field = {"username": "admin_username", "email": "admin_email"}[error.field]
        raise
    password = validate_password(admin_password, "admin_password", username=username,
                                 email=email, company=company)
    now = utcnow()
    account = Account(
        name=company,
        time_zone="America/Sao_Paulo",
        plan_expires_at=now + dt.timedelta(days=current_app.config["PLAN_TRIAL_DAYS"]),
        auto_approve_days=7,
        waiting_cancel_days=7,
        created_at=now,
    )
    session.add(account)
    session.flush()
    with account_scope(account.id):
        first, last = split_name(admin_name)
        user = Member(
            first_name=first, last_name=last or "-", username=username, email=email,
            password=hash_password(password), active=True, account_id=account.id,
            roles=roles_for_profiles(current_app.appbuilder.sm,
                                     ["admin", "requester", "manager"]),
        )
        session.add(user)
        for event in EVENTS:
            session.add(default_notification_setting(account.id, event))
        session.commit()
    return account, user


def default_notification_setting(account_id: int, event: str) -> NotificationSetting:
    recipients = DEFAULT_NOTIFICATIONS[event]
    return NotificationSetting(
        account_id=account_id, event=event, enabled=True,
        **{f"to_{r}": r in recipients for r in
           ("requester", "assignee", "department_attendants", "managers")},
    )


def renew_plan(account: Account, months, actor: Member | None) -> PlanRenewal:
    """Extend the plan by 1..24 months from its expiry, or from today if expired."""
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 24:
        raise ValidationError("months", "Informe de 1 a 24 meses.")
    now = utcnow()
    previous = as_utc(account.plan_expires_at)
    start = max(previous, now)
    new_expiry = _add_months(start, months)
    renewal = PlanRenewal(
        account_id=account.id, months=months, previous_expires_at=previous,
        new_expires_at=new_expiry, renewed_by_id=actor.id if actor else None, created_at=now,
    )
    account.plan_expires_at = new_expiry
    db.session.add(renewal)
    db.session.commit()
    return renewal


def update_account_settings(account: Account, body: dict) -> Account:
    if "name" in body:
        account.name = clean_text(body["name"], "name", "Nome da empresa", max_len=150)
    if "time_zone" in body:
        tz = body["time_zone"]
        if not isinstance(tz, str) or tz not in available_timezones():
            raise ValidationError("time_zone", "Fuso horário inválido (ex.: America/Sao_Paulo).")
        account.time_zone = tz
    if "auto_approve_days" in body:
        days = body["auto_approve_days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 90:
            raise ValidationError("auto_approve_days", "Informe de 1 a 90 dias.")
        account.auto_approve_days = days
    for field in ("openings_per_hour", "uploads_per_hour"):   # app/quotas.py
        if field in body:
            setattr(account, field, quotas.validate_limit(body[field], field))
    if "waiting_cancel_days" in body:
        days = body["waiting_cancel_days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 90:
            raise ValidationError("waiting_cancel_days", "Informe de 1 a 90 dias.")
        account.waiting_cancel_days = days
    db.session.commit()
    return account


def _add_months(value: dt.datetime, months: int) -> dt.datetime:
    month_index = value.month - 1 + months
    year, month = value.year + month_index // 12, month_index % 12 + 1
    for day in (value.day, 30, 29, 28):
        try:
            return value.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def local_time(account: Account, value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return as_utc(value).astimezone(ZoneInfo(account.time_zone))


# --- members ---------------------------------------------------------------------


def _sector_in_account(sector_id):
    if sector_id is None:
        return None
    if isinstance(sector_id, bool) or not isinstance(sector_id, int):
        raise ValidationError("sector_id", "Setor inválido.")
    sector = db.session.get(Sector, sector_id)
    if sector is None:  # another account's sector is invisible: same answer
        raise ValidationError("sector_id", "Setor inexistente.")
    return sector


def _company_name() -> str | None:
    from app.tenancy import current_account

    account = current_account()
    return account.name if account else None


def _available_flag(value):
    if not isinstance(value, bool):
        raise ValidationError("available", "available deve ser true ou false.")
    return value


def _active_flag(value):
    if not isinstance(value, bool):
        raise ValidationError("active", "Ativo deve ser verdadeiro ou falso.")
    return value


def create_member(body: dict) -> Member:
    first = clean_text(body.get("first_name"), "first_name", "Nome", max_len=64)
    last = clean_text(body.get("last_name"), "last_name", "Sobrenome", max_len=64)
    username = validate_username(body.get("username"))
    email = validate_email(body.get("email"))
    # No password: the member is invited to choose one by mail (app.invitations).
    invite = body.get("password") in (None, "")
    password = invitations.unusable_password() if invite else validate_password(
        body.get("password"), username=username, email=email, company=_company_name())
    sector = _sector_in_account(body.get("sector_id"))
    roles = roles_for_profiles(current_app.appbuilder.sm, body.get("profiles", ["requester"]))
    active = _active_flag(body.get("active", True))
    ensure_identity_free(db.session, username, email)
    member = Member(first_name=first, last_name=last, username=username, email=email,
                    password=hash_password(password), sector=sector, roles=roles,
                    active=active)
    db.session.add(member)
    db.session.commit()
    if invite:
        invitations.send(member)
    return member


def update_member(member: Member, body: dict, actor: Member) -> Member:
    """Partial update: only the fields sent change."""
    if "first_name" in body:
        member.first_name = clean_text(body["first_name"], "first_name", "Nome", max_len=64)
    if "last_name" in body:
        member.last_name = clean_text(body["last_name"], "last_name", "Sobrenome", max_len=64)
    username = validate_username(body["username"]) if "username" in body else member.username
    email = validate_email(body["email"]) if "email" in body else member.email
    if "username" in body or "email" in body:
        ensure_identity_free(db.session, username, email, exclude_id=member.id)
        member.username, member.email = username, email
    if "password" in body:
        member.password = hash_password(validate_password(
            body["password"], username=username, email=email,
            company=member.account.name if member.account else None))
    if "sector_id" in body:
        member.sector = _sector_in_account(body["sector_id"])
    if "profiles" in body:
        member.roles = roles_for_profiles(current_app.appbuilder.sm, body["profiles"])
    if "active" in body:
        member.active = _active_flag(body["active"])
    if "available" in body:
        member.available = _available_flag(body["available"])
    ensure_admin_remains(member, actor)
    if not member.has_profile("attendant"):
        for department in db.session.scalars(
            select(Department).where(Department.attendants.any(Member.id == member.id))
        ):
            department.attendants.remove(member)
    db.session.commit()
    return member


def set_own_availability(member: Member, body: dict, actor: Member) -> Member:
    """An attendant switches "Ausente" on or off for themself, and nothing else."""
    if member.id != actor.id or not actor.has_profile("attendant"):
        raise ValidationError("id", "Você só pode alterar a sua própria disponibilidade.", 403)
    if set(body) != {"available"}:
        raise ValidationError("available", "Você só pode alterar a sua disponibilidade: "
                                           "envie apenas {\"available\": true ou false}.", 403)
    member.available = _available_flag(body["available"])
    db.session.commit()
    return member


def ensure_admin_remains(member: Member, actor: Member | None) -> None:
    """An account always keeps an active administrator (nobody locks the account out)."""
    if member.active and member.has_profile("admin"):
        return
    another_admin = db.session.scalar(
        select(Member.id).where(Member.active.is_(True), Member.id != member.id,
                                Member.with_profile("admin")).limit(1))
    if another_admin is None:
        db.session.rollback()
        raise ValidationError(
            "profiles", "A conta precisa de pelo menos um administrador ativo.", 400
        )


# --- "Meu perfil": a member's own data and password ----------------------------------


def update_own_profile(member: Member, body: dict) -> Member:
    """Name and e-mail; the username, sector and profiles are the administrators'."""
    first = clean_text(body.get("first_name"), "first_name", "Nome", max_len=64)
    last = clean_text(body.get("last_name"), "last_name", "Sobrenome", max_len=64)
    email = validate_email(body.get("email"))
    ensure_identity_free(db.session, member.username, email, exclude_id=member.id)
    member.first_name, member.last_name, member.email = first, last, email
    db.session.commit()
    return member


def change_own_password(member: Member, current, new, confirmation, keep_session) -> None:
    """The member's own change: asks the current password; ends every other session and
    token of the member, keeps ``keep_session`` (app.sessions)."""
    from werkzeug.security import check_password_hash

    from app import sessions

    if not isinstance(current, str) or not current or not check_password_hash(
            member.password or "", current):
        raise ValidationError("current_password", "A senha atual não confere.")
    if new != confirmation:
        raise ValidationError("confirm_password",
                              "A confirmação não é igual à nova senha: digite-a de novo.")
    validate_password(new, "new_password", username=member.username, email=member.email,
                      company=member.account.name if member.account else None)
    if new == current:
        raise ValidationError("new_password", "A nova senha deve ser diferente da atual.")
    member.password = hash_password(new)
    sessions.keep_current(member, keep_session)
    db.session.commit()
