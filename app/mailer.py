"""The outbox sender: claims due mails, sends them through Flask-Mail, retries.

Why this shape:

* **Claim, then send outside any transaction.** A claim stamps a lease
  (``locked_until``, and ``locked_by``: the batch's token) on up to ``batch`` due rows
  and returns their ids. On PostgreSQL the rows are first locked with ``FOR UPDATE
  SKIP LOCKED`` (any number of workers take disjoint batches without waiting on each
  other), then updated; SQLite serialises writers, and the UPDATE's own ``WHERE``
  (pending, due, lease free) makes the claim conditional there. No database lock is
  held while talking to SMTP, so a slow server never blocks ticket writes.
* **The database's clock.** Due times and leases are compared with and stamped from
  the database's ``now`` (``db_now``), never a worker's own clock: a worker whose
  clock runs ahead would otherwise take over leases that are still running.
* **A short lease with a heartbeat.** ``MAIL_LEASE_SECONDS`` (30 s), renewed every
  third of it by a thread while the batch is being sent (``Lease``). A worker that
  dies (SIGKILL, a lost host) leaves its batch for at most one lease; another worker
  then claims it. A worker asked to stop (SIGTERM: ``app.jobs.request_stop``) finishes
  the mail in flight and gives the rest of its batch back at once.
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
import os
import random
import re
import smtplib
import socket
import threading
import time
import uuid
from dataclasses import dataclass

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_mail import Connection, Message
from sqlalchemy import and_, func, or_, select, text, update

from app.extensions import db, mail
from app.jobs import periodic
from app.models import OutboxMail, as_utc
from app.tenancy import UNSCOPED, account_scope

log = logging.getLogger(__name__)

DEFAULTS = {
    "MAIL_MAX_ATTEMPTS": 5,           # 5xx: give up after this many tries
    "MAIL_RETRY_BASE_SECONDS": 5,     # first back-off, doubled each try...
    "MAIL_RETRY_MAX_SECONDS": 60,     # ...capped at one minute (API.md)
    "MAIL_RETRY_FOR_SECONDS": 3 * 24 * 3600,  # transient failures: keep trying 3 days
    "MAIL_BATCH_SIZE": 50,
    "MAIL_LEASE_SECONDS": 30,      # renewed every 10 s while the batch is sent
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
    from email.utils import parseaddr

    from app.mail_in import threads

    thread = {f: getattr(row, f, None) for f in ("sender_name", "reply_to", "thread_refs")}
    default_sender = current_app.config.get("MAIL_DEFAULT_SENDER")
    sender = default_sender
    name = thread.get("sender_name")
    # The company's name before the configured address. What could pass for another
    # address or a list in a reader that decodes before parsing (< > @ " : ; , \)
    # and what could end the header go.
    name = " ".join(re.sub(r'[\x00-\x1f\x7f<>"@\\:;,]+', " ", name or "").split())
    if name and default_sender:
        sender = (name, parseaddr(default_sender)[1])
    headers = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
    refs = (thread.get("thread_refs") or "").split()
    if refs:  # the ticket's thread: its root first, the previous mail last
        headers["References"] = " ".join(refs)
        headers["In-Reply-To"] = refs[-1]
    message = Message(subject=row.subject, recipients=[row.recipient_email],
                      body=row.body_text, html=row.body_html, sender=sender,
                      reply_to=thread.get("reply_to") or None,
                      extra_headers=headers)
    # A stable Message-ID: a mail sent twice after a crash is recognisably the same one.
    message.msgId = threads.message_id_for(row.idempotency_key)
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


def db_now(connection=None) -> dt.datetime:
    """The database's clock, in UTC: leases and due times are compared and stamped by
    it, never by a worker's own clock (a worker 400 s ahead would take over leases
    that are still running). SQLite lives on this host: its clock is this host's."""
    target = connection if connection is not None else db.session
    dialect = (connection.dialect if connection is not None
               else db.session.get_bind().dialect)
    if dialect.name == "postgresql":
        value = target.execute(text("SELECT statement_timestamp()")).scalar_one()
        return value.astimezone(dt.timezone.utc)
    value = target.execute(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.timezone.utc)


def _due(now: dt.datetime):
    return and_(OutboxMail.status == "pending", OutboxMail.next_attempt_at <= now,
                or_(OutboxMail.locked_until.is_(None), OutboxMail.locked_until <= now))


def claim(batch: int, now: dt.datetime, lease_until: dt.datetime,
          token: str | None = None) -> list[int]:
    """Atomically lease up to ``batch`` due mails to ``token``; returns their ids
    (committed)."""
    picked = (select(OutboxMail.id).where(_due(now))
              .order_by(OutboxMail.next_attempt_at, OutboxMail.id).limit(batch))
    if db.engine.dialect.name == "postgresql":
        # Lock the rows first, then update exactly those. As a subquery of the UPDATE
        # (``id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)``) PostgreSQL may run
        # the SELECT more than once and the LIMIT no longer bounds the batch: one
        # worker took all 60 due mails while MAIL_BATCH_SIZE was 10.
        chosen = list(db.session.execute(
            picked.with_for_update(skip_locked=True)).scalars())
        if not chosen:
            db.session.commit()
            return []
    else:
        chosen = picked.scalar_subquery()
    result = db.session.execute(
        update(OutboxMail)
        .where(OutboxMail.id.in_(chosen), _due(now))
        .values(locked_until=lease_until, locked_by=token or new_token())
        .returning(OutboxMail.id)
        .execution_options(synchronize_session=False)
    )
    ids = sorted(result.scalars().all())
    db.session.commit()
    return ids


def new_token() -> str:
    """A claim's owner: this host and process, and a random part for each batch."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:16]}"


class Lease:
    """The lease of one claimed batch, renewed by a heartbeat thread.

    Every ``seconds / 3`` the thread moves ``locked_until`` of the mails this batch
    still holds (``locked_by`` = its token, still pending) to the database's now +
    ``seconds``; the sender stops taking mails from the batch once the last renewal
    that succeeded is older than half a lease (the database is unreachable: the lease
    may run out, and another worker may then take the mails). Durations are measured
    on this process's monotonic clock, which no clock skew affects."""

    def __init__(self, engine, token: str, seconds: float, clock=None):
        self.engine, self.token, self.seconds = engine, token, float(seconds)
        self.clock = clock
        self.renewed = time.monotonic()  # the claim itself, just committed
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True,
                                        name=f"lease-{token[-6:]}")

    def __enter__(self) -> "Lease":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(self.seconds)

    def held(self) -> bool:
        return time.monotonic() - self.renewed < self.seconds / 2

    def renew(self) -> int:
        started = time.monotonic()
        table = OutboxMail.__table__
        with self.engine.begin() as connection:
            now = self.clock() if self.clock else db_now(connection)
            count = connection.execute(
                table.update().where(table.c.locked_by == self.token,
                                     table.c.status == "pending")
                .values(locked_until=now + dt.timedelta(seconds=self.seconds))).rowcount
        self.renewed = started
        return count

    def _beat(self) -> None:
        while not self._done.wait(self.seconds / 3):
            try:
                self.renew()
            except Exception as error:  # noqa: BLE001 - the sender sees held() turn false
                log.warning("mail lease %s not renewed: %s", self.token,
                            error.__class__.__name__)


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
    sender_name: str | None       # the thread's columns (app.mail_in.threads), so
    reply_to: str | None          # build_message needs no second read of the row
    thread_refs: str | None

    @classmethod
    def of(cls, row: OutboxMail) -> "_Snapshot":
        return cls(**{f: getattr(row, f) for f in cls.__dataclass_fields__})


def _finish(mail_id: int, **values) -> None:
    db.session.execute(
        update(OutboxMail).where(OutboxMail.id == mail_id, OutboxMail.status == "pending")
        .values(locked_until=None, locked_by=None, **values)
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


def _release(ids: list[int], token: str) -> None:
    """Give the batch's unsent mails back at once (a stop, a lost lease): another
    worker takes them on its next claim instead of waiting for the lease to end."""
    if ids:
        db.session.execute(update(OutboxMail).where(OutboxMail.id.in_(ids),
                                                    OutboxMail.locked_by == token,
                                                    OutboxMail.status == "pending")
                           .values(locked_until=None, locked_by=None)
                           .execution_options(synchronize_session=False))
        db.session.commit()


# One line a minute while the SMTP server is unreachable, with the mails waiting.
UNREACHABLE_LOG_SECONDS = 60.0
_unreachable = {"since": None, "logged": None}
_unreachable_lock = threading.Lock()


def _waiting_mails() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMail)
                             .where(OutboxMail.status == "pending")) or 0


def _smtp_unreachable(error: BaseException) -> None:
    with _unreachable_lock:
        now = time.monotonic()
        if _unreachable["since"] is None:
            _unreachable["since"] = now
        last = _unreachable["logged"]
        if last is not None and now - last < UNREACHABLE_LOG_SECONDS:
            return
        _unreachable["logged"] = now
        down_for = now - _unreachable["since"]
    try:
        waiting = _waiting_mails()
    except Exception:  # noqa: BLE001 - the log line must not fail the run
        db.session.rollback()
        waiting = -1
    config = current_app.config
    log.warning("SMTP server %s:%s unreachable for %d s (%s): %d mail(s) waiting",
                config.get("MAIL_SERVER"), config.get("MAIL_PORT"), int(down_for),
                describe(error), waiting)


def _smtp_reachable() -> None:
    with _unreachable_lock:
        since = _unreachable["since"]
        _unreachable["since"] = _unreachable["logged"] = None
    if since is not None:
        log.info("SMTP server reachable again after %d s", int(time.monotonic() - since))


def send_batch(now: dt.datetime | None = None, batch: int | None = None) -> dict:
    """Claim one batch of due mails and send it over one SMTP connection.

    Returns counts: ``claimed``, ``sent``, ``retry``, ``failed`` (and ``released``:
    mails given back unsent because the worker is stopping or lost its lease). When
    the server is unreachable the whole batch is put back with its back-off after one
    try. ``now`` replaces the database's clock (tests move time forward with it).
    """
    from app.jobs import stop_requested

    counts = {"claimed": 0, "sent": 0, "retry": 0, "failed": 0, "released": 0}
    clock = (lambda: now) if now is not None else db_now
    lease_seconds = float(setting("MAIL_LEASE_SECONDS"))
    timeout = float(setting("MAIL_TIMEOUT_SECONDS"))
    token = new_token()
    with account_scope(UNSCOPED):  # a platform job: every account's mail, row by row
        start = clock()
        ids = claim(int(batch or setting("MAIL_BATCH_SIZE")), start,
                    start + dt.timedelta(seconds=lease_seconds), token)
        counts["claimed"] = len(ids)
        if not ids:
            return counts
        remaining: list[int] = []
        connection = TimeoutConnection(mail_state(), timeout)
        with Lease(db.engine, token, lease_seconds,
                   clock=(lambda: now) if now is not None else None) as lease:
            # One read for the batch; plain snapshots survive the per-mail commits.
            rows = {r.id: _Snapshot.of(r) for r in db.session.scalars(
                select(OutboxMail).where(OutboxMail.id.in_(ids)))}
            db.session.commit()
            remaining = [i for i in ids if i in rows and rows[i].status == "pending"]
            try:
                while remaining:
                    if stop_requested() or not lease.held():
                        break  # the mail in flight is done; the rest goes back
                    row = rows[remaining.pop(0)]
                    try:
                        opening = connection.host is None and not connection.mail.suppress
                        if opening:
                            connection.open()
                        opening = False
                        connection.send(build_message(row))
                    except Exception as error:  # noqa: BLE001 - every failure is classified
                        # Failing to connect, greet, STARTTLS or log in is about the
                        # server, never about this mail, whatever the code.
                        kind = CONNECTION if opening else classify(error)
                        moment = clock()
                        counts[_record_failure(row, error, kind, moment)] += 1
                        if kind != PERMANENT:
                            connection.close(polite=False)
                        if kind == CONNECTION:
                            # The server is down or hanging: the others would wait for
                            # the same timeout. They count as tried, with the same
                            # back-off.
                            for other_id in remaining:
                                counts[_record_failure(rows[other_id], error, kind,
                                                       moment)] += 1
                            remaining = []
                            _smtp_unreachable(error)
                        continue
                    _finish(row.id, status="sent", sent_at=clock(),
                            attempts=row.attempts + 1, last_error=None)
                    counts["sent"] += 1
                    _smtp_reachable()
            finally:
                connection.close()
                counts["released"] = len(remaining)
                try:
                    _release(remaining, token)
                finally:
                    db.session.remove()
    return counts


def send_due(now: dt.datetime | None = None, *, max_seconds: float = 30.0,
             batch: int | None = None) -> dict:
    """Drain every due mail (batch after batch) within ``max_seconds``, or until the
    process is asked to stop."""
    from app.jobs import stop_requested

    total = {"claimed": 0, "sent": 0, "retry": 0, "failed": 0, "released": 0}
    started = time.monotonic()
    while not stop_requested():
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
        .values(status="pending", attempts=0, next_attempt_at=db_now(), locked_until=None,
                locked_by=None, last_error=None)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


@periodic(seconds=2)
def send_outbox() -> dict:
    """The jobs loop's sender (`make run`, `flask jobs`)."""
    counts = send_due()
    if counts["sent"] or counts["retry"] or counts["failed"]:
        log.info("mail sender: %(sent)d sent, %(retry)d to retry, %(failed)d failed, "
                 "%(released)d given back", counts)
    return counts


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
    from app.jobs import install_signal_handlers, stop_requested, wait_or_stop

    install_signal_handlers()  # SIGTERM / Ctrl+C: finish the mail in flight, exit 0
    click.echo("Enviando e-mails da fila (Ctrl+C para parar)...")
    while not stop_requested():
        try:
            send_due()
        except Exception:  # the database or the server hiccuped: keep going
            log.warning("mail sender run failed", exc_info=not _database_error())
            db.session.rollback()
        wait_or_stop(interval)
    click.echo("Parado.")


def _database_error() -> bool:
    import sys

    from sqlalchemy.exc import OperationalError

    return isinstance(sys.exc_info()[1], OperationalError)


def register_cli(app) -> None:
    app.cli.add_command(send_mail_command)
