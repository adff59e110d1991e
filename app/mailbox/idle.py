"""IMAP IDLE (RFC 2177) for the mailboxes whose server offers it: new mail is taken
within seconds instead of at the next round a minute later.

The poller's round (``app.mailbox.poller._round``: fetch, ``opening.take``, move) stays
the only thing that takes and moves mail, under the same claim (``locked_until``);
IDLE only decides *when* it runs. ``hand_over`` is called by the job's round when it
succeeded and the server lists IDLE in its CAPABILITY after the login; the claim
becomes a short IDLE lease and an ``Idler`` thread of this process keeps the
connection:

* it waits in IDLE; the server's ``* <n> EXISTS`` (new mail) ends the IDLE (``DONE``)
  and the same round runs on the same connection, then IDLE again;
* every ``HEARTBEAT_SECONDS`` it renews the lease with an UPDATE conditioned on the
  lease's own value, on the mailbox being active and on its settings unchanged
  (``updated_at``). A lease that changed is no longer ours: stop without touching the
  row. Settings changed or the mailbox switched off: the claim is given back and the
  job's next round connects with the new settings;
* every ``MAILBOX_IDLE_RENEW_SECONDS`` (25 min) the IDLE is ended and issued again
  (RFC 2177: servers may drop a client idle for 30 minutes; re-issue before 29), and
  a round runs, a safety net for a notification that was missed;
* the connection drops (the server restarts, the network): one warning line, state
  ``error`` with the message, and the claim given back with the next attempt in
  ``MAILBOX_IDLE_RECONNECT_SECONDS`` (5 s). The job reconnects; a server still down
  then gets the poller's usual back-off (1, 2, 4 ... minutes). Never a traceback loop;
* stopping (SIGTERM or Ctrl+C of ``flask jobs``: ``app.jobs``; ``stop_all``): the wait
  looks at the flag every quarter of a second, sends ``DONE`` and ``LOGOUT``, and gives
  the claim back with the next attempt *now*, so another process takes over at once;
* a process that is killed: its lease expires after ``LEASE`` (3 min), then another
  process's job takes the mailbox.

Several ``flask jobs`` processes: whoever claims a mailbox (``poller._claim``, a
conditional UPDATE) holds it while it idles; the others skip it. A mail offered twice
anyway would still be taken once (its ``dedup_key``).

Why on imaplib and not a library (imapclient): the poller's connection already is
imaplib, pinned to the address it checked (no DNS rebinding into our network) with our
TLS context; IDLE is a four-line exchange over that socket (tagged ``IDLE``, the
server's ``+``, untagged responses while waiting, ``DONE``), ``IdleExchange`` below.
A library would bring a second way of opening connections for those four lines.
"""
from __future__ import annotations

import datetime as dt
import imaplib
import logging
import re
import select
import threading
import time
import uuid

from flask import current_app
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from app import jobs
from app.extensions import db
from app.mailbox import poller
from app.mailbox.models import Mailbox
from app.models import utcnow
from app.tenancy import UNSCOPED, account_scope

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=3)     # renewed by the heartbeat while the thread lives
HEARTBEAT_SECONDS = 60.0
STEP_SECONDS = 0.25                 # how often a wait looks at the stop flag
RETRY_LEFT_SECONDS = 60.0           # a mail left by a failed take: tried again after
MAX_LINE = 1_000_000
_NEWS = re.compile(rb"^\* \d+ (EXISTS|RECENT)\b", re.I)

_idlers: dict[int, "Idler"] = {}
_refused: set[int] = set()      # mailboxes whose server listed IDLE but refused it
_lock = threading.Lock()


class IdleRefused(Exception):
    """The server answered the IDLE command with NO or BAD."""




# --- the protocol ---------------------------------------------------------------------


class IdleExchange:
    """RFC 2177 on an open imaplib connection whose folder is selected.

    While idling, lines are read straight from the socket (``select`` with a short
    step, so a wait notices the stop flag), not through imaplib's buffered reader; at
    the start imaplib has nothing buffered (its last command was answered), and after
    the tagged answer to ``DONE`` nothing may be left over (else the connection is
    dropped and the job reconnects)."""

    def __init__(self, client: imaplib.IMAP4, timeout: float):
        self.client = client
        self.sock = client.sock
        self.timeout = timeout
        self.buffer = bytearray()
        self.tag = b""

    def _readable(self, seconds: float) -> bool:
        pending = getattr(self.sock, "pending", None)   # TLS: bytes already decrypted
        if pending is not None and pending():
            return True
        readable, _, _ = select.select([self.sock], [], [], max(0.0, seconds))
        return bool(readable)

    def _line(self, seconds: float, stopping=None) -> bytes | None:
        """The next line without its CRLF; None when ``seconds`` pass first, or as
        soon as ``stopping()`` says so."""
        deadline = time.monotonic() + seconds
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end + 1])
                del self.buffer[:end + 1]
                return line.rstrip(b"\r\n")
            left = deadline - time.monotonic()
            if left <= 0 or (stopping is not None and stopping()):
                return None
            if self._readable(min(STEP_SECONDS, left)):
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise imaplib.IMAP4.abort("conexão encerrada pelo servidor")
                self.buffer += chunk
                if len(self.buffer) > MAX_LINE:
                    raise imaplib.IMAP4.abort("resposta longa demais durante o IDLE")

    def _answer(self, what: str) -> bytes:
        line = self._line(self.timeout)
        if line is None:
            raise imaplib.IMAP4.abort(f"o servidor não respondeu ao {what}")
        return line

    def start(self) -> bool:
        """Send IDLE and wait for the server's ``+``; True when a line before it
        already announced new mail."""
        self.tag = self.client._new_tag()
        self.client.send(self.tag + b" IDLE\r\n")
        news = False
        while True:
            line = self._answer("IDLE")
            if line.startswith(b"+"):
                return news
            if line.startswith(self.tag + b" "):
                self.client.tagged_commands.pop(self.tag, None)
                raise IdleRefused(line.decode("utf-8", "replace")[:200])
            news = news or bool(_NEWS.match(line))

    def wait(self, seconds: float, stopping) -> bool:
        """True as soon as the server announces new mail; False after ``seconds``
        or when ``stopping()``. Other untagged lines ("* OK Still here", flags set by
        another reader, expunges) are not mail to take."""
        deadline = time.monotonic() + seconds
        while True:
            line = self._line(deadline - time.monotonic(), stopping)
            if line is None:
                return False
            if _NEWS.match(line):
                return True

    def done(self) -> None:
        """End the IDLE: ``DONE``, then the lines up to the tagged answer."""
        self.client.send(b"DONE\r\n")
        while True:
            line = self._answer("DONE")
            if line.startswith(self.tag + b" "):
                break
        self.client.tagged_commands.pop(self.tag, None)
        if not line[len(self.tag) + 1:].upper().startswith(b"OK"):
            raise imaplib.IMAP4.abort("IDLE terminado com erro: "
                                      + line.decode("utf-8", "replace")[:200])
        if self.buffer:
            raise imaplib.IMAP4.abort("dados inesperados depois do IDLE")


# --- one mailbox, one thread -------------------------------------------------------


class Idler(threading.Thread):
    def __init__(self, app, client, mailbox, lease: dt.datetime, taken: int):
        super().__init__(name=f"mailbox-idle-{mailbox.id}", daemon=True)
        self.app = app
        self.client = client
        self.mailbox = mailbox          # the poller's plain copy of the row
        self.lease = lease
        self.taken = taken
        self.stop_event = threading.Event()
        self.rounds = 0                 # rounds run after an IDLE (for the tests)
        self.renewals = 0               # IDLE commands re-issued on the clock

    def stopping(self) -> bool:
        return self.stop_event.is_set() or jobs.stop_requested()

    def run(self) -> None:
        from app.logs import job_context

        with self.app.app_context(), job_context(f"idle-{self.mailbox.id}-"
                                                 f"{uuid.uuid4().hex[:8]}"):
            outcome = None
            try:
                outcome = self._serve()
            except IdleRefused as refusal:
                # Listed but refused: this process polls that mailbox from now on.
                outcome = "refused"
                _refused.add(self.mailbox.id)
                log.warning("mailbox %s: the server refused IDLE (%s): polling instead",
                            self.mailbox.id, refusal)
                self._give_back(next_attempt_at=utcnow() + dt.timedelta(
                    seconds=poller._poll_seconds()))
            except (poller.MailboxFailure, OSError, imaplib.IMAP4.error,
                    imaplib.IMAP4.abort) as error:
                outcome = "dropped"
                self._dropped(error)
            except Exception:  # noqa: BLE001 - a bug must not leave the claim held
                outcome = "dropped"
                log.exception("mailbox %s: IDLE stopped by an unexpected failure",
                              self.mailbox.id)
                self._give_back(state="error", last_error="Falha interna: tentando de novo.",
                                next_attempt_at=utcnow() + dt.timedelta(
                                    seconds=poller.backoff_seconds(1)))
            finally:
                poller._close(self.client)
                if outcome == "stop":
                    # After the LOGOUT: the next holder never overlaps this connection.
                    self._give_back(next_attempt_at=utcnow())
                elif outcome == "changed":   # new settings: the job's next round, soon
                    self._give_back(next_attempt_at=utcnow())
                with _lock:
                    if _idlers.get(self.mailbox.id) is self:
                        del _idlers[self.mailbox.id]
                try:
                    db.session.remove()
                except Exception:  # noqa: BLE001
                    pass

    def _serve(self) -> str:
        """IDLE, a round on news, again; returns why it ended: "stop", "changed"
        (settings changed, switched off, or the lease lost)."""
        exchange = IdleExchange(self.client, poller._timeout())
        renew_every = poller.setting("MAILBOX_IDLE_RENEW_SECONDS", 25 * 60)
        heartbeat_at = time.monotonic() + HEARTBEAT_SECONDS
        retry_at = None
        while True:
            renew_at = time.monotonic() + renew_every
            news = exchange.start()
            while not news and not self.stopping():
                now = time.monotonic()
                if now >= heartbeat_at:
                    heartbeat_at = now + HEARTBEAT_SECONDS
                    if not self._heartbeat():
                        exchange.done()
                        return "changed"
                if now >= renew_at or (retry_at is not None and now >= retry_at):
                    break
                until = min(heartbeat_at, renew_at, retry_at or renew_at)
                news = exchange.wait(until - now, self.stopping)
            exchange.done()
            if self.stopping():
                return "stop"
            if not news and time.monotonic() >= renew_at:
                self.renewals += 1
            left = self._round()
            if left is None:
                return "changed"
            retry_at = time.monotonic() + RETRY_LEFT_SECONDS if left else None

    def _round(self) -> int | None:
        """The poller's round on this connection; the number of mails it left for
        later (a failed take), None when the claim is no longer ours."""
        now = utcnow()
        counts = poller._round(self.client, self.mailbox)
        self.rounds += 1
        self.taken += counts["processed"] + counts["rejected"]
        if counts["processed"] or counts["rejected"] or counts["left"]:
            log.info("mailbox %s: IDLE round took %d, refused %d, left %d",
                     self.mailbox.id, counts["processed"], counts["rejected"], counts["left"])
        try:
            with account_scope(UNSCOPED):
                result = db.session.execute(self._ours().values(
                    state="ok", last_error=None, failures=0, last_attempt_at=now,
                    last_success_at=now, taken_count=self.taken)
                    .execution_options(synchronize_session=False))
                db.session.commit()
        except SQLAlchemyError as error:
            db.session.rollback()
            log.warning("mailbox %s: state not recorded (database: %s)", self.mailbox.id,
                        error.__class__.__name__)
            return counts["left"]
        return counts["left"] if result.rowcount == 1 else None

    def _ours(self):
        return update(Mailbox).where(Mailbox.id == self.mailbox.id,
                                     Mailbox.locked_until == self.lease)

    def _heartbeat(self) -> bool:
        """Renew the lease; False when it is no longer ours to renew."""
        lease = utcnow() + LEASE
        try:
            with account_scope(UNSCOPED):
                result = db.session.execute(
                    self._ours().where(Mailbox.active.is_(True),
                                       Mailbox.updated_at == self.mailbox.updated_at)
                    .values(locked_until=lease).execution_options(synchronize_session=False))
                db.session.commit()
        except SQLAlchemyError as error:
            db.session.rollback()
            # The database is away: keep idling while the lease we hold lasts.
            log.warning("mailbox %s: IDLE lease not renewed (database: %s)",
                        self.mailbox.id, error.__class__.__name__)
            return utcnow() + dt.timedelta(seconds=HEARTBEAT_SECONDS) < self.lease
        if result.rowcount != 1:
            log.info("mailbox %s: settings changed or switched off: IDLE ends",
                     self.mailbox.id)
            return False
        self.lease = lease
        return True

    def _give_back(self, **values) -> None:
        """Release the claim (if still ours) with ``values``."""
        try:
            with account_scope(UNSCOPED):
                db.session.execute(self._ours().values(locked_until=None, **values)
                                   .execution_options(synchronize_session=False))
                db.session.commit()
        except SQLAlchemyError as error:
            db.session.rollback()
            log.warning("mailbox %s: claim not given back (database: %s); it expires "
                        "in %d s", self.mailbox.id, error.__class__.__name__,
                        LEASE.total_seconds())

    def _dropped(self, error: BaseException) -> None:
        message, state = poller.describe_failure(self.mailbox, error)
        now = utcnow()
        if isinstance(error, poller.MailboxFailure):   # folder gone...: the usual back-off
            failures = (self.mailbox.failures or 0) + 1
            delay = poller.backoff_seconds(failures)
        else:   # the connection dropped: reconnect soon, then the usual back-off
            failures = 0
            delay = poller.setting("MAILBOX_IDLE_RECONNECT_SECONDS", 5)
        log.warning("mailbox %s (account %s): IDLE ended: %s; next attempt in %d s",
                    self.mailbox.id, self.mailbox.account_id, message, delay)
        self._give_back(state=state, last_error=message[:1000], failures=failures,
                        last_attempt_at=now, next_attempt_at=now + dt.timedelta(seconds=delay))


# --- the process's idlers -------------------------------------------------------------


def hand_over(client, mailbox, now: dt.datetime, taken: int) -> bool:
    """After a successful round of the job: keep ``client`` in IDLE on a thread when
    the server offers it and this process has room (``MAILBOX_IDLE_MAX``). Records
    the round's success and turns the claim into the IDLE lease. False: the caller
    closes the connection and finishes the round as usual."""
    if "IDLE" not in (getattr(client, "capabilities", None) or ()):
        return False
    limit = int(poller.setting("MAILBOX_IDLE_MAX", 100))
    app = current_app._get_current_object()
    with _lock:
        if jobs.stop_requested() or mailbox.id in _idlers or mailbox.id in _refused \
                or len(_idlers) >= limit:
            return False
        lease = utcnow() + LEASE
        with account_scope(UNSCOPED):
            db.session.execute(update(Mailbox).where(Mailbox.id == mailbox.id).values(
                state="ok", last_error=None, failures=0, last_attempt_at=now,
                last_success_at=now, taken_count=taken, locked_until=lease,
                next_attempt_at=now + dt.timedelta(seconds=poller._poll_seconds()))
                .execution_options(synchronize_session=False))
            db.session.commit()
        mailbox.failures = 0
        idler = Idler(app, client, mailbox, lease, taken)
        _idlers[mailbox.id] = idler
    idler.start()
    return True


def idling() -> dict[int, Idler]:
    """The mailboxes this process holds in IDLE."""
    with _lock:
        return dict(_idlers)


@jobs.on_stop
def stop_all(timeout: float = 15.0) -> None:
    """Stop every IDLE of this process and wait for their claims to be given back
    (the end of ``flask jobs``' loop, tests)."""
    with _lock:
        running = list(_idlers.values())
    for idler in running:
        idler.stop_event.set()
    deadline = time.monotonic() + timeout
    for idler in running:
        idler.join(max(0.1, deadline - time.monotonic()))
