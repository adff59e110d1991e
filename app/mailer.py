"""The outbox sender: claims due mails, sends them through Flask-Mail, retries.

Why this shape:

* **Claim, then send outside any transaction.** A claim is one atomic UPDATE that stamps
  ``locked_until`` (a lease) on up to ``batch`` due rows and returns their ids. On
  PostgreSQL the rows are picked with ``FOR UPDATE SKIP LOCKED`` so any number of
  workers claim disjoint batches without waiting on each other; SQLite serialises
  writers, and the UPDATE's own ``WHERE`` (pending, due, lease free) makes the claim
  conditional there. No database lock is held while talking to SMTP, so a slow server
  never blocks ticket writes. A worker that dies leaves its lease to expire; the mails
  are then claimed again.
* **A socket timeout on every SMTP connection.** Flask-Mail opens ``smtplib.SMTP``
  without one (a server that accepts and never answers would hang the worker forever);
  ``TimeoutConnection`` adds ``MAIL_TIMEOUT_SECONDS``.
* **Failures are classified.** 4xx answers, refused connections, timeouts and dropped
  connections are transient: the mail stays pending and is retried with exponential
  back-off capped at ``MAIL_RETRY_MAX_SECONDS`` (60 s), for ``MAIL_RETRY_FOR_SECONDS``
  (3 days) before it is given up. 5xx answers are permanent: the mail ends ``failed``
  once it has been tried ``MAIL_MAX_ATTEMPTS`` times. Administrators see failed mails
  and can send them again (app.views.notifications).
* **Errors are stored without secrets**: the SMTP password and user name (and their
  base64 forms, as in AUTH PLAIN/LOGIN) are masked and AUTH lines dropped.

The mail settings are read from ``current_app.config`` at every run (not frozen by
Flask-Mail's ``init_app``), so an operator's change applies without a restart.
"""
from __future__ import annotations

import base64
import datetime as dt
import logging
import random
import re
import smtplib
import socket
import time
from dataclasses import dataclass

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_mail import Connection, Message
from sqlalchemy import and_, or_, select, update

from app.extensions import db, mail
from app.jobs import periodic
from app.models import OutboxMail, as_utc, utcnow
from app.tenancy import UNSCOPED, account_scope

log = logging.getLogger(__name__)

DEFAULTS = {
    "MAIL_MAX_ATTEMPTS": 5,           # 5xx: give up after this many tries
    "MAIL_RETRY_BASE_SECONDS": 5,     # first back-off, doubled each try...
    "MAIL_RETRY_MAX_SECONDS": 60,     # ...capped at one minute (API.md)
    "MAIL_RETRY_FOR_SECONDS": 3 * 24 * 3600,  # transient failures: keep trying 3 days
    "MAIL_BATCH_SIZE": 50,
    "MAIL_LEASE_SECONDS": 300,
    "MAIL_TIMEOUT_SECONDS": 10,
}


def setting(name: str):
    value = current_app.config.get(name)
    return DEFAULTS.get(name) if value is None else value


# --- SMTP --------------------------------------------------------------------------


class TimeoutConnection(Connection):
    """Flask-Mail's connection with a socket timeout on connect and every read/write."""

    def __init__(self, state, timeout: float):
        super().__init__(state)
        self.timeout = timeout

    def configure_host(self):
        state = self.mail
        if state.use_ssl:
            host = smtplib.SMTP_SSL(state.server, state.port, timeout=self.timeout)
        else:
            host = smtplib.SMTP(state.server, state.port, timeout=self.timeout)
        host.set_debuglevel(0)  # never print the conversation (AUTH) anywhere
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
        return host

    def open(self) -> "TimeoutConnection":
        self.host = None if self.mail.suppress else self.configure_host()
        self.num_emails = 0
        return self

    def close(self, polite: bool = True) -> None:
        host, self.host = self.host, None
        if host is None:
            return
        try:
            if polite:
                host.quit()
            else:
                host.close()
        except Exception:  # the connection is already broken: just drop it
            try:
                host.close()
            except Exception:
                pass


def mail_state():
    """Flask-Mail's settings object, built from the current config."""
    app = current_app._get_current_object()
    return mail.init_mail(app.config, app.debug, app.testing)


def build_message(row) -> Message:
    message = Message(subject=row.subject, recipients=[row.recipient_email],
                      body=row.body_text, html=row.body_html,
                      sender=current_app.config.get("MAIL_DEFAULT_SENDER"),
                      extra_headers={"Auto-Submitted": "auto-generated",
                                     "X-Auto-Response-Suppress": "All"})
    # A stable Message-ID: a mail sent twice after a crash is recognisably the same one.
    domain = (current_app.config.get("MAIL_MESSAGE_ID_DOMAIN") or "gestor.local")
    local = re.sub(r"[^A-Za-z0-9_.-]", ".", row.idempotency_key)
    message.msgId = f"<{local}@{domain}>"
    from app.report_models import attach_files  # a mailed report's XLSX (app.reports)
    attach_files(message, row.id)
    return message


# --- classification and secrets ----------------------------------------------------

TRANSIENT, PERMANENT, CONNECTION = "transient", "permanent", "connection"


def classify(error: BaseException) -> str:
    """PERMANENT for a 5xx about this mail, CONNECTION when the server as a whole is
    unreachable (the rest of the batch would fail the same way), TRANSIENT otherwise."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return PERMANENT if codes and all(500 <= c < 600 for c in codes) else TRANSIENT
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return CONNECTION  # a configuration problem: keep the mails, retry later
    if isinstance(error, smtplib.SMTPResponseException):
        if error.smtp_code == 421:
            return CONNECTION  # "service not available, closing channel"
        return PERMANENT if 500 <= error.smtp_code < 600 else TRANSIENT
    if isinstance(error, (smtplib.SMTPServerDisconnected, ConnectionError, socket.timeout,
                          TimeoutError, OSError)):
        return CONNECTION
    if isinstance(error, smtplib.SMTPException):
        return TRANSIENT
    return PERMANENT  # a bug building the message: retrying will not help


def describe(error: BaseException) -> str:
    """A short, secret-free description of ``error`` for ``last_error``."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        text = "; ".join(f"{code} {_decode(msg)}" for code, msg in error.recipients.values())
    elif isinstance(error, smtplib.SMTPResponseException):
        text = f"{error.smtp_code} {_decode(error.smtp_error)}"
    elif isinstance(error, (socket.timeout, TimeoutError)):
        text = "tempo esgotado esperando o servidor SMTP"
    elif isinstance(error, ConnectionRefusedError):
        text = "conexão recusada pelo servidor SMTP"
    else:
        text = f"{error.__class__.__name__}: {error}"
    return scrub(text)


def _decode(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def scrub(text: str, max_len: int = 500) -> str:
    config = current_app.config
    secrets = []
    for name in ("MAIL_PASSWORD", "MAIL_USERNAME"):
        value = config.get(name)
        if value:
            secrets.append(str(value))
    user, password = config.get("MAIL_USERNAME") or "", config.get("MAIL_PASSWORD") or ""
    if password:
        for raw in (f"\0{user}\0{password}", f"{user}\0{password}", password):
            secrets.append(base64.b64encode(raw.encode()).decode())
    if user:
        secrets.append(base64.b64encode(user.encode()).decode())
    lines = [line for line in re.split(r"[\r\n]+", text)
             if not re.match(r"\s*(\d{3}[ -])?\s*AUTH\b", line, re.I)]
    text = " ".join(lines)
    text = re.sub(r"\bAUTH\s+\S+(\s+\S+)?", "AUTH ***", text, flags=re.I)
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()
    return text[:max_len]


def backoff_seconds(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` tries: 5, 10, 20, 40, 60, 60..."""
    base, cap = setting("MAIL_RETRY_BASE_SECONDS"), setting("MAIL_RETRY_MAX_SECONDS")
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return min(cap, delay * random.uniform(0.9, 1.0))  # jitter: workers don't align


# --- the outbox --------------------------------------------------------------------


def _due(now: dt.datetime):
    return and_(OutboxMail.status == "pending", OutboxMail.next_attempt_at <= now,
                or_(OutboxMail.locked_until.is_(None), OutboxMail.locked_until <= now))


def claim(batch: int, now: dt.datetime, lease_until: dt.datetime) -> list[int]:
    """Atomically lease up to ``batch`` due mails; returns their ids (committed)."""
    picked = (select(OutboxMail.id).where(_due(now))
              .order_by(OutboxMail.next_attempt_at, OutboxMail.id).limit(batch))
    if db.engine.dialect.name == "postgresql":
        picked = picked.with_for_update(skip_locked=True)
    result = db.session.execute(
        update(OutboxMail)
        .where(OutboxMail.id.in_(picked.scalar_subquery()), _due(now))
        .values(locked_until=lease_until)
        .returning(OutboxMail.id)
        .execution_options(synchronize_session=False)
    )
    ids = sorted(result.scalars().all())
    db.session.commit()
    return ids


@dataclass(frozen=True)
class _Snapshot:
    """What sending one mail needs, detached from the session."""

    id: int
    status: str
    attempts: int
    created_at: dt.datetime
    recipient_email: str
    subject: str
    body_text: str
    body_html: str | None
    idempotency_key: str

    @classmethod
    def of(cls, row: OutboxMail) -> "_Snapshot":
        return cls(**{f: getattr(row, f) for f in cls.__dataclass_fields__})


def _finish(mail_id: int, **values) -> None:
    db.session.execute(
        update(OutboxMail).where(OutboxMail.id == mail_id, OutboxMail.status == "pending")
        .values(locked_until=None, **values)
        .execution_options(synchronize_session=False))
    db.session.commit()


def _record_failure(row: _Snapshot, error: BaseException, kind: str,
                    now: dt.datetime) -> str:
    attempts = row.attempts + 1
    message = describe(error)
    created = as_utc(row.created_at)
    give_up = (kind == PERMANENT and attempts >= setting("MAIL_MAX_ATTEMPTS")) or (
        kind != PERMANENT and (now - created).total_seconds() > setting("MAIL_RETRY_FOR_SECONDS"))
    if give_up:
        _finish(row.id, status="failed", attempts=attempts, last_error=message)
        log.warning("mail %s failed for good: %s", row.id, message)
        return "failed"
    _finish(row.id, attempts=attempts, last_error=message,
            next_attempt_at=now + dt.timedelta(seconds=backoff_seconds(attempts)))
    return "retry"


def _release(ids: list[int]) -> None:
    if ids:
        db.session.execute(update(OutboxMail).where(OutboxMail.id.in_(ids),
                                                    OutboxMail.status == "pending")
                           .values(locked_until=None)
                           .execution_options(synchronize_session=False))
        db.session.commit()


def send_batch(now: dt.datetime | None = None, batch: int | None = None) -> dict:
    """Claim one batch of due mails and send it over one SMTP connection.

    Returns counts: ``claimed``, ``sent``, ``retry``, ``failed``. When the server is
    unreachable the whole batch is put back with its back-off after one try.
    """
    counts = {"claimed": 0, "sent": 0, "retry": 0, "failed": 0}
    fixed_now, now = now, now or utcnow()
    lease = setting("MAIL_LEASE_SECONDS")
    timeout = float(setting("MAIL_TIMEOUT_SECONDS"))
    with account_scope(UNSCOPED):  # a platform job: every account's mail, row by row
        ids = claim(batch or setting("MAIL_BATCH_SIZE"), now,
                    now + dt.timedelta(seconds=lease))
        counts["claimed"] = len(ids)
        if not ids:
            return counts
        started = time.monotonic()
        # Stop before the lease could run out mid-send (then another worker may claim).
        budget = max(lease - 10 * timeout, lease / 2)
        connection = TimeoutConnection(mail_state(), timeout)
        # One read for the batch; plain snapshots survive the per-mail commits.
        rows = {r.id: _Snapshot.of(r) for r in db.session.scalars(
            select(OutboxMail).where(OutboxMail.id.in_(ids)))}
        db.session.commit()
        remaining = [i for i in ids if i in rows and rows[i].status == "pending"]
        try:
            while remaining:
                if time.monotonic() - started > budget:
                    break
                row = rows[remaining.pop(0)]
                try:
                    opening = connection.host is None and not connection.mail.suppress
                    if opening:
                        connection.open()
                    opening = False
                    connection.send(build_message(row))
                except Exception as error:  # noqa: BLE001 - every failure is classified
                    # Failing to connect, greet, STARTTLS or log in is about the server,
                    # never about this mail, whatever the code.
                    kind = CONNECTION if opening else classify(error)
                    moment = fixed_now or utcnow()
                    counts[_record_failure(row, error, kind, moment)] += 1
                    if kind != PERMANENT:
                        connection.close(polite=False)
                    if kind == CONNECTION:
                        # The server is down or hanging: the others would wait for the
                        # same timeout. They count as tried, with the same back-off.
                        for other_id in remaining:
                            counts[_record_failure(rows[other_id], error, kind, moment)] += 1
                        remaining = []
                    continue
                _finish(row.id, status="sent", sent_at=utcnow(), attempts=row.attempts + 1,
                        last_error=None)
                counts["sent"] += 1
        finally:
            connection.close()
            _release(remaining)
            db.session.remove()
    return counts


def send_due(now: dt.datetime | None = None, *, max_seconds: float = 30.0,
             batch: int | None = None) -> dict:
    """Drain every due mail (batch after batch) within ``max_seconds``."""
    total = {"claimed": 0, "sent": 0, "retry": 0, "failed": 0}
    started = time.monotonic()
    while True:
        counts = send_batch(now, batch)
        for key in total:
            total[key] += counts[key]
        if counts["claimed"] == 0 or counts["sent"] == 0 and counts["claimed"]:
            break  # nothing due, or the server refuses everything: wait for back-off
        if time.monotonic() - started > max_seconds:
            break
    return total


def resend(mail_id: int) -> bool:
    """Put a failed mail back in the queue (the administrators' "Reenviar"); the
    caller's account scope decides which mails it can reach."""
    result = db.session.execute(
        update(OutboxMail).where(OutboxMail.id == mail_id, OutboxMail.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=utcnow(), locked_until=None,
                last_error=None)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


@periodic(seconds=2)
def send_outbox() -> dict:
    """The jobs loop's sender (`make run`, `flask jobs`)."""
    return send_due()


# --- `flask send-mail` ---------------------------------------------------------------


@click.command("send-mail")
@click.option("--once", is_flag=True, help="Envia o que estiver pendente e termina.")
@click.option("--interval", default=2.0, show_default=True,
              help="Segundos entre as verificações da fila.")
@with_appcontext
def send_mail_command(once: bool, interval: float) -> None:
    """Send the outbox's e-mails (run several of these beside gunicorn if needed)."""
    if once:
        counts = send_due(max_seconds=3600)
        click.echo(f"Enviados: {counts['sent']}, a tentar de novo: {counts['retry']}, "
                   f"falharam: {counts['failed']}.")
        return
    click.echo("Enviando e-mails da fila (Ctrl+C para parar)...")
    try:
        while True:
            try:
                send_due()
            except Exception:  # the database or the server hiccuped: keep going
                log.exception("mail sender run failed")
                db.session.rollback()
            time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("Parado.")


def register_cli(app) -> None:
    app.cli.add_command(send_mail_command)
