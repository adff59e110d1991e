"""Painel reports by mail ("Relatórios por e-mail"): a manager or an account
administrator subscribes to a weekly or monthly report of the Painel with the filters
they choose; ``flask jobs`` mails it at the chosen weekday (or day of the month) and
hour in the account's time zone, for the period just ended (last week Monday-Sunday,
or last month).

Why this shape:

* **The same figures as the KPI API.** The headline and the previous period come from
  ``dashboards.queries.summary`` and ``dashboards.kpis.headline/previous_headline``,
  the functions ``GET /api/v1/painel/kpis`` answers with, over ``Filters`` built by
  the same ``build_filters`` (so a stored id that no longer exists is refused, not
  silently dropped into a wider report).
* **Through the outbox.** The report is one ``OutboxMail`` row (event
  ``painel_report``) with its XLSX in ``outbox_attachment``, written in the same
  transaction that moves the subscription's ``next_run_at``: the mailer sends it when
  SMTP answers, with its retries, and a crash before the commit leaves the run due.
* **Once across workers.** A run is claimed by moving ``next_run_at`` with a
  conditional UPDATE (``WHERE next_run_at = <the value read>``): of two workers only
  one changes the row. On PostgreSQL the row is first read ``FOR UPDATE SKIP LOCKED``,
  so a second worker skips it instead of building the same report; on SQLite the
  report is built before the write (no write lock held while building). The outbox
  key ``report:<subscription>:<period start>`` makes a double claim harmless anyway.
* **A job that was down** sends the report of the latest period just ended, once, not
  one per missed week.
"""
from __future__ import annotations

import calendar
import datetime as dt
import io
import json
import logging
import math
from zoneinfo import ZoneInfo

import pandas as pd
from flask import current_app
from sqlalchemy import func, select, update

from app.extensions import db
from app.jobs import periodic
from app.models import (
    PRIORITIES,
    Account,
    Department,
    Member,
    OutboxMail,
    Sector,
    Service,
    as_utc,
    utcnow,
)
from app.outbox import outbox_now
from app.report_models import FREQUENCIES, OutboxAttachment, ReportSubscription
from app.security import ValidationError
from app.tenancy import UNSCOPED, account_scope
from app.vocabulary import PRIORITY_LABELS, SLA_CLOCK_LABELS

log = logging.getLogger(__name__)

EVENT = "painel_report"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_PER_MEMBER = 20
FILTER_FIELDS = ("department_id", "service_id", "priority", "sector_id", "attendant_id",
                 "requester_id", "clock")
ID_FILTERS = ("department_id", "service_id", "sector_id", "attendant_id", "requester_id")
FREQUENCY_LABELS = {"weekly": "Semanal", "monthly": "Mensal"}
WEEKDAY_LABELS = ("segunda-feira", "terça-feira", "quarta-feira", "quinta-feira",
                  "sexta-feira", "sábado", "domingo")
KPI_LABELS = {
    "open_backlog": "Chamados em aberto (backlog)",
    "opened_in_period": "Abertos no período",
    "mean_first_response_hours": "Tempo médio até o primeiro atendimento (h)",
    "mean_handling_hours": "Tempo médio de atendimento (h)",
    "sla_met": "Cumpriram o SLA",
    "sla_breached": "Não cumpriram o SLA",
    "sla_met_percent": "SLA cumprido (%)",
    "reopenings": "Reaberturas",
}


# --- schedule (pure) -----------------------------------------------------------------


def _is_run_day(day: dt.date, frequency: str, weekday, day_of_month) -> bool:
    if frequency == "weekly":
        return day.weekday() == weekday
    last = calendar.monthrange(day.year, day.month)[1]
    return day.day == min(day_of_month, last)  # the 31st of a 30-day month: the 30th


def next_run_after(frequency: str, weekday, day_of_month, hour: int, time_zone: str,
                   after: dt.datetime) -> dt.datetime:
    """The first scheduled moment strictly after ``after``, in UTC: ``hour``:00 local
    time of the next run day (weekday, or day of the month cut to the month's end)."""
    zone = ZoneInfo(time_zone)
    after = as_utc(after)
    day = after.astimezone(zone).date() - dt.timedelta(days=1)
    for _ in range(64):
        if _is_run_day(day, frequency, weekday, day_of_month):
            moment = dt.datetime.combine(day, dt.time(hour), zone).astimezone(dt.timezone.utc)
            if moment > after:
                return moment
        day += dt.timedelta(days=1)
    raise AssertionError("no run day in 64 days")  # impossible: every month has one


def report_period(frequency: str, run_day: dt.date) -> tuple[dt.date, dt.date]:
    """The period a run on local ``run_day`` reports: the Monday-Sunday week before the
    run's week, or the calendar month before the run's month."""
    if frequency == "weekly":
        monday = run_day - dt.timedelta(days=run_day.weekday())
        return monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)
    end = run_day.replace(day=1) - dt.timedelta(days=1)
    return end.replace(day=1), end


def latest_run(sub, time_zone: str, scheduled: dt.datetime, now: dt.datetime
               ) -> tuple[dt.datetime, dt.datetime]:
    """(the latest scheduled moment <= now, the next one after now), starting from a due
    ``scheduled``: a job that was down sends one report, of the latest period."""
    current = as_utc(scheduled)
    for _ in range(5000):
        following = next_run_after(sub.frequency, sub.weekday, sub.day_of_month, sub.hour,
                                   time_zone, current)
        if following > now:
            return current, following
        current = following
    return current, next_run_after(sub.frequency, sub.weekday, sub.day_of_month, sub.hour,
                                   time_zone, now)


def describe_schedule(sub) -> str:
    if sub.frequency == "weekly":
        when = f"Toda {WEEKDAY_LABELS[sub.weekday]}"
        if sub.weekday >= 5:
            when = f"Todo {WEEKDAY_LABELS[sub.weekday]}"
        return f"{when} às {sub.hour:02d}:00 (semana anterior)"
    day = "último dia" if sub.day_of_month == 31 else f"dia {sub.day_of_month}"
    return f"Todo mês, {day}, às {sub.hour:02d}:00 (mês anterior)"


# --- validation (API and screen) -----------------------------------------------------


def _int_in(body: dict, field: str, low: int, high: int, message: str) -> int:
    value = body.get(field)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 4:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(field, message)
    return value


def parse_filters(account: Account, raw) -> dict:
    """The stored filters: the KPI API's names, validated by its own parser (ids of the
    caller's account only, real priorities, a known clock)."""
    from dashboards.filters import build_filters

    if raw in (None, ""):
        raw = {}
    if not isinstance(raw, dict):
        raise ValidationError("filters", "Filtros inválidos: envie um objeto.")
    unknown = sorted(set(raw) - set(FILTER_FIELDS))
    if unknown:
        raise ValidationError("filters", f"Filtro desconhecido: {unknown[0][:40]}. Use "
                                         + ", ".join(FILTER_FIELDS) + ".")
    args = {field: raw.get(field) for field in FILTER_FIELDS}
    f = build_filters(db.session, account.id, account.time_zone, **args)
    stored = {field: list(getattr(f, field.replace("_id", "_ids")))
              for field in ID_FILTERS if getattr(f, field.replace("_id", "_ids"))}
    if f.priorities:
        stored["priority"] = list(f.priorities)
    if f.clock != "24x7":
        stored["clock"] = f.clock
    return stored


def parse_subscription(account: Account, body) -> dict:
    if not isinstance(body, dict):
        raise ValidationError("body", "Envie um objeto JSON no corpo da requisição.")
    frequency = body.get("frequency")
    if frequency not in FREQUENCIES:
        raise ValidationError("frequency", "Frequência inválida: use weekly (semanal) ou "
                                           "monthly (mensal).")
    values = {"frequency": frequency, "weekday": None, "day_of_month": None}
    if frequency == "weekly":
        values["weekday"] = _int_in(body, "weekday", 0, 6, "Dia da semana inválido: use 0 "
                                    "(segunda-feira) a 6 (domingo).")
    else:
        values["day_of_month"] = _int_in(body, "day_of_month", 1, 31, "Dia do mês "
                                         "inválido: use um número de 1 a 31 (31: o último "
                                         "dia do mês).")
    values["hour"] = _int_in(body, "hour", 0, 23, "Hora inválida: use um número de 0 a 23.")
    values["filters"] = parse_filters(account, body.get("filters"))
    return values


def can_subscribe(member) -> bool:
    return bool(member is not None and member.active and member.account_id is not None
                and (member.has_profile("manager") or member.has_profile("admin")))


# --- use cases -----------------------------------------------------------------------


def subscriptions_of(member) -> list[ReportSubscription]:
    return list(db.session.scalars(
        select(ReportSubscription).where(ReportSubscription.user_id == member.id,
                                         ReportSubscription.account_id == member.account_id)
        .order_by(ReportSubscription.id)))


def subscription_of(member, sub_id) -> ReportSubscription | None:
    if isinstance(sub_id, bool) or not isinstance(sub_id, int) or not 0 < sub_id < 2**31:
        return None
    return db.session.scalar(
        select(ReportSubscription).where(ReportSubscription.id == sub_id,
                                         ReportSubscription.user_id == member.id,
                                         ReportSubscription.account_id == member.account_id))


def create_subscription(member, account: Account, body, now=None) -> ReportSubscription:
    """Validate, then save (one commit); raises ValidationError with nothing saved."""
    values = parse_subscription(account, body)
    count = db.session.scalar(select(func.count()).select_from(ReportSubscription).where(
        ReportSubscription.user_id == member.id))
    if count >= MAX_PER_MEMBER:
        raise ValidationError("frequency", f"Limite de {MAX_PER_MEMBER} relatórios por "
                                           "pessoa: exclua um antes de criar outro.")
    now = as_utc(now or utcnow())
    sub = ReportSubscription(
        account_id=account.id, user_id=member.id, frequency=values["frequency"],
        weekday=values["weekday"], day_of_month=values["day_of_month"], hour=values["hour"],
        filters=json.dumps(values["filters"], sort_keys=True), active=True, created_at=now)
    sub.next_run_at = next_run_after(sub.frequency, sub.weekday, sub.day_of_month, sub.hour,
                                     account.time_zone, now)
    db.session.add(sub)
    db.session.commit()
    return sub


def set_active(sub: ReportSubscription, account: Account, active: bool, now=None) -> None:
    """Pause or resume; a resumed report is next due at its next moment from now."""
    if active and not sub.active:
        sub.next_run_at = next_run_after(sub.frequency, sub.weekday, sub.day_of_month,
                                         sub.hour, account.time_zone, as_utc(now or utcnow()))
    sub.active = active
    db.session.commit()


def delete_subscription(sub: ReportSubscription) -> None:
    db.session.delete(sub)
    db.session.commit()


def serialize(sub: ReportSubscription) -> dict:
    def iso(value):
        return None if value is None else as_utc(value).isoformat()

    return {
        "id": sub.id, "frequency": sub.frequency, "weekday": sub.weekday,
        "day_of_month": sub.day_of_month, "hour": sub.hour,
        "filters": json.loads(sub.filters or "{}"), "active": bool(sub.active),
        "schedule": describe_schedule(sub), "next_run_at": iso(sub.next_run_at),
        "last_run_at": iso(sub.last_run_at),
        "last_period": None if sub.last_period_start is None else {
            "start": sub.last_period_start.isoformat(), "end": sub.last_period_end.isoformat()},
        "last_error": sub.last_error,
    }


def describe_filters(account_id: int, stored: dict) -> list[str]:
    """The filters in words ("Departamento: TI, RH"), for the mail and the screen."""
    models = {"department_id": (Department, "Departamento"), "service_id": (Service, "Serviço"),
              "sector_id": (Sector, "Setor"), "attendant_id": (Member, "Atendente"),
              "requester_id": (Member, "Solicitante")}
    lines = []
    for field in ID_FILTERS:
        ids = stored.get(field) or []
        if not ids:
            continue
        model, label = models[field]
        rows = db.session.scalars(select(model).where(model.id.in_(ids),
                                                      model.account_id == account_id)).all()
        names = sorted(getattr(r, "full_name", None) or getattr(r, "name", "") for r in rows)
        lines.append(f"{label}: {', '.join(names) or '(removido)'}")
    if stored.get("priority"):
        lines.append("Prioridade: " + ", ".join(PRIORITY_LABELS[p] for p in PRIORITIES
                                                if p in stored["priority"]))
    if stored.get("clock"):
        lines.append("Tempos em: " + SLA_CLOCK_LABELS.get(stored["clock"], stored["clock"]))
    return lines


# --- the report ----------------------------------------------------------------------


def figures(account_id: int, f, now=None) -> dict:
    """The headline KPIs, the previous period's and each change: the KPI API's own
    functions, so the mail says what ``/api/v1/painel/kpis`` says for ``f``."""
    from dashboards import kpis, queries

    current = kpis.headline(queries.summary(db.session, account_id, f, now=now).iloc[0])
    previous = kpis.previous_headline(db.session, account_id, f, now=now)
    before = previous["values"] if previous else {}
    rows = []
    for name in kpis.HEADLINE:
        value, prior = current[name], before.get(name)
        delta = kpis.change(value, prior)[0]
        good = None
        if delta not in (None, 0) and kpis.DIRECTION[name]:
            good = (delta > 0) == (kpis.DIRECTION[name] > 0)
        rows.append({"name": name, "label": KPI_LABELS[name], "value": value,
                     "previous": prior, "change": delta, "good": good,
                     "value_text": number_text(value, name), "previous_text":
                     number_text(prior, name), "change_text": number_text(delta, name, True)})
    return {"current": current, "previous": before, "rows": rows,
            "previous_period": (previous["start"], previous["end"]) if previous else None}


def number_text(value, name: str, signed: bool = False) -> str:
    """pt-BR: 1.234, 12,5 and 66,7%; "—" when there is no figure."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    sign = "+" if signed and value > 0 else ""
    if name.endswith("_hours") or name.endswith("_percent"):
        text = f"{value:,.1f}"
    else:
        text = f"{int(round(value)):,d}"
    text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return sign + text + ("%" if name.endswith("_percent") else "")


def build_xlsx(account: Account, f, numbers: dict) -> bytes:
    """Indicadores (the Painel export's summary), Comparação (this period, the previous
    one, the change) and Chamados (the export's rows for the period and filters), written
    and dressed like the Painel's own XLSX (dashboards/export.py), then the people and
    services tables as the Painel's export has them."""
    from dashboards import export, exports_tables

    span = numbers["previous_period"]
    previous_label = "Período anterior" if span is None else (
        f"{dt.date.fromisoformat(span[0]):%d/%m/%Y} a {dt.date.fromisoformat(span[1]):%d/%m/%Y}")
    comparison = pd.DataFrame(
        [(r["label"], r["value"], r["previous"], r["change"]) for r in numbers["rows"]],
        columns=["Indicador", f"{f.start:%d/%m/%Y} a {f.end:%d/%m/%Y}", previous_label,
                 "Variação"])
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        export._summary_frame(account, f).to_excel(writer, sheet_name="Indicadores",
                                                   index=False)
        comparison.to_excel(writer, sheet_name="Comparação", index=False)
        export._round(export.ticket_frame(account, f)).to_excel(
            writer, sheet_name="Chamados", index=False)
        exports_tables.add_sheets(writer, account, f)   # "Atendentes" and "Serviços"
        for sheet in writer.book.worksheets:
            export._dress(sheet)
    return buffer.getvalue()


def painel_link(f) -> str:
    from dashboards import urlstate

    base = (current_app.config.get("BASE_URL") or "").rstrip("/")
    state = {"preset": "personalizado", "start": f.start.isoformat(),
             "end": f.end.isoformat(), "department_id": list(f.department_ids),
             "service_id": list(f.service_ids), "priority": list(f.priorities),
             "sector_id": list(f.sector_ids), "attendant_id": list(f.attendant_ids),
             "clock": f.clock}
    return f"{base}/painel/{urlstate.encode(state)}"


def render(account: Account, member, sub, f, numbers: dict, stored: dict
           ) -> tuple[str, str, str]:
    from app.notifications import SUBJECT_MAX, one_line

    kind = "semanal" if sub.frequency == "weekly" else "mensal"
    period = f"{f.start:%d/%m/%Y} a {f.end:%d/%m/%Y}"
    subject = one_line(f"Relatório {kind} do Painel: {period} - {one_line(account.name)}",
                       SUBJECT_MAX)
    span = numbers["previous_period"]
    values = {
        "subject": subject, "kind": kind, "period": period, "account_name": account.name,
        "recipient_name": member.full_name or member.username,
        "previous_period": None if span is None else (
            f"{dt.date.fromisoformat(span[0]):%d/%m/%Y} a "
            f"{dt.date.fromisoformat(span[1]):%d/%m/%Y}"),
        "rows": numbers["rows"], "filters": describe_filters(account.id, stored),
        "clock_label": SLA_CLOCK_LABELS.get(f.clock, f.clock), "link": painel_link(f),
        "schedule": describe_schedule(sub),
        "filename": xlsx_name(f),
    }
    env = current_app.jinja_env
    return (subject, env.get_template("email/painel_report.txt").render(**values),
            env.get_template("email/painel_report.html").render(**values))


def xlsx_name(f) -> str:
    return f"painel-{f.start.isoformat()}-{f.end.isoformat()}.xlsx"


# --- the job -------------------------------------------------------------------------


def _skip_reason(member, account: Account, now: dt.datetime) -> str | None:
    if member is None or member.account_id != account.id or not member.active:
        return "O assinante está desativado: relatório não enviado."
    if not can_subscribe(member):
        return "O assinante não tem mais o perfil Gestor ou Administrador: relatório não enviado."
    if not (member.email or "").strip():
        return "O assinante não tem e-mail: relatório não enviado."
    if not account.plan_active(now):
        return "O plano da conta expirou: relatório não enviado."
    return None


def run_one(sub_id: int, now: dt.datetime) -> str:
    """Claim and run one due subscription: "queued", "skipped" (a reason recorded),
    "taken" (another worker has it, or it is no longer due) or "duplicate"."""
    from dashboards.filters import build_filters

    postgres = db.engine.dialect.name == "postgresql"
    RS = ReportSubscription
    stmt = select(RS).where(RS.id == sub_id, RS.active.is_(True), RS.next_run_at <= now)
    if postgres:
        stmt = stmt.with_for_update(skip_locked=True)
    sub = db.session.scalar(stmt)
    if sub is None:
        db.session.rollback()
        return "taken"
    raw_due = sub.next_run_at
    account = db.session.get(Account, sub.account_id)
    member = db.session.get(Member, sub.user_id)
    ran_at, following = latest_run(sub, account.time_zone, raw_due, now)
    start, end = report_period(sub.frequency, ran_at.astimezone(ZoneInfo(account.time_zone))
                               .date())
    stored = json.loads(sub.filters or "{}")
    reason = _skip_reason(member, account, now)
    mail = None
    if reason is None:
        try:
            with account_scope(account.id):
                f = build_filters(db.session, account.id, account.time_zone,
                                  start=start.isoformat(), end=end.isoformat(),
                                  **{k: stored.get(k) for k in FILTER_FIELDS})
                numbers = figures(account.id, f)
                data = build_xlsx(account, f, numbers)
                subject, text, html = render(account, member, sub, f, numbers, stored)
            mail = (subject, text, html, data, xlsx_name(f), (member.email or "").strip())
        except ValidationError as error:  # a filtered department was removed, say
            reason = f"Filtro inválido ({error.message}): relatório não enviado."
    key = f"report:{sub.id}:{start.isoformat()}"
    account_id, user_id = account.id, member.id if member is not None else None
    if not postgres:
        db.session.commit()  # SQLite: end the read before the write below
    claimed = db.session.execute(
        update(RS).where(RS.id == sub_id, RS.next_run_at == raw_due, RS.active.is_(True))
        .values(next_run_at=following, last_run_at=now, last_period_start=start,
                last_period_end=end, last_error=reason)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        db.session.rollback()
        return "taken"
    if mail is None:
        db.session.commit()
        log.info("report %s skipped: %s", sub_id, reason)
        return "skipped"
    if db.session.scalar(select(OutboxMail.id).where(OutboxMail.idempotency_key == key)):
        db.session.commit()
        return "duplicate"
    subject, text, html, data, filename, email = mail
    row = OutboxMail(account_id=account_id, ticket_id=None, event=EVENT, recipient_id=user_id,
                     recipient_email=email[:320], subject=subject, body_text=text,
                     body_html=html, idempotency_key=key, status="pending", attempts=0,
                     next_attempt_at=outbox_now(), created_at=utcnow())  # due by the database's clock
    db.session.add(row)
    db.session.flush()
    db.session.add(OutboxAttachment(account_id=account_id, mail_id=row.id, filename=filename,
                                    content_type=XLSX_TYPE, data=data))
    db.session.commit()
    return "queued"


def run_due_reports(now: dt.datetime | None = None, limit: int = 20) -> dict:
    """Every due subscription of every account (a platform job), oldest first."""
    counts = {"queued": 0, "skipped": 0, "taken": 0, "duplicate": 0}
    now = as_utc(now or utcnow())
    with account_scope(UNSCOPED):
        try:
            ids = db.session.scalars(
                select(ReportSubscription.id)
                .where(ReportSubscription.active.is_(True), ReportSubscription.next_run_at <= now)
                .order_by(ReportSubscription.next_run_at, ReportSubscription.id)
                .limit(limit)).all()
            db.session.commit()
            for sub_id in ids:
                try:
                    counts[run_one(sub_id, now)] += 1
                except Exception:  # one bad report must not stop the others
                    db.session.rollback()
                    log.exception("report subscription %s failed", sub_id)
        finally:
            db.session.remove()
    return counts


@periodic(seconds=60)
def send_reports() -> dict:
    """The jobs loop's report run (`flask jobs`, `make run`)."""
    return run_due_reports()
