"""The ``flask jobs`` round that takes new mail from each account's mailbox.

Every few seconds the job looks for active mailboxes whose ``next_attempt_at`` has come,
claims each with a conditional UPDATE (two ``flask jobs`` processes never poll one
mailbox at once; a crashed poller's claim expires), and for each:

1. connects (SSL, STARTTLS or plain, with a timeout), logs in, selects the folder and
   makes sure the processed and rejected folders exist;
2. takes the unseen mail, oldest first, a batch per round: each is fetched with
   ``BODY.PEEK`` (it stays unseen until it is taken) and handed to
   ``app.mailbox.opening.take``; then it is marked seen and moved to the processed or
   the rejected folder (IMAP MOVE, else COPY + delete). A mail whose taking fails (the
   database down) stays where it was, unseen, for the next round; one that was taken
   but could not be moved is recognised next time by its dedup key, and only moved;
3. success: state ``ok``, next round after ``MAILBOX_POLL_SECONDS``. Failure (server
   down, TLS, login refused, folder missing): state ``error`` or ``auth_error``, a
   short message without secrets in ``last_error`` (shown on the screen), one warning
   line in the log (no traceback), and the next attempt after a back-off that doubles
   from one minute up to an hour. Never a crash loop.

IDLE (RFC 2177, ``app.mailbox.idle``): when the job runs the round (``idle=True``,
``MAILBOX_IDLE`` on) and the server lists IDLE in its CAPABILITY after the login, the
connection is not closed after a successful round: the mailbox stays claimed (a short
lease renewed by a heartbeat) and a thread of this process waits in IDLE, running the
same round on the same connection as soon as the server announces new mail. A server
without IDLE keeps the round a minute.
"""
from __future__ import annotations

import base64
import datetime as dt
import imaplib
import ipaddress
import logging
import re
import socket
import ssl
from types import SimpleNamespace

from flask import current_app, has_app_context
from sqlalchemy import or_, select, update

from app.extensions import db
from app.jobs import periodic
from app.mail_in import intake
from app.mailbox import crypto, opening
from app.mailbox.models import Mailbox
from app.models import utcnow
from app.tenancy import UNSCOPED, account_scope

log = logging.getLogger(__name__)

BATCH = 50                 # mails per mailbox per round
LEASE = dt.timedelta(minutes=10)
FIRST_BACKOFF = 60.0
MAX_BACKOFF = 3600.0


class MailboxFailure(Exception):
    """Why a round could not run; ``state`` is what the screen shows."""

    def __init__(self, message: str, state: str = "error"):
        super().__init__(message)
        self.message = message
        self.state = state


def setting(name: str, default: float) -> float:
    """A number from the app's config; ``default`` when unset, not a number, or read
    outside an app."""
    if not has_app_context():
        return default
    try:
        return float(current_app.config.get(name) or default)
    except (TypeError, ValueError):
        return default


def backoff_seconds(failures: int) -> float:
    first = setting("MAILBOX_FIRST_BACKOFF_SECONDS", FIRST_BACKOFF)
    return min(MAX_BACKOFF, first * 2 ** max(0, failures - 1))


def _poll_seconds() -> float:
    return float(current_app.config.get("MAILBOX_POLL_SECONDS") or 60)


def _tls_context() -> ssl.SSLContext:
    """Certificates checked (name and chain) against the system's CAs, or against
    MAILBOX_CA_FILE: the CA of an installation's own mail server."""
    cafile = current_app.config.get("MAILBOX_CA_FILE") or None
    return ssl.create_default_context(cafile=cafile)


def _timeout() -> float:
    return float(current_app.config.get("MAILBOX_TIMEOUT_SECONDS") or 20)


# --- IMAP ------------------------------------------------------------------------


def imap_utf7(name: str) -> str:
    """A folder name as IMAP spells it (RFC 3501's modified UTF-7): "Concluídos" is
    ``Conclu&AO0-dos``."""
    out, pending = [], []

    def flush():
        if pending:
            chunk = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + chunk.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _quote(folder: str) -> str:
    folder = imap_utf7(folder)
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(value) -> str:
    """A server's answer or an error as one short line (imaplib's errors carry the
    server's bytes: shown as text, not as b'...')."""
    if isinstance(value, BaseException) and value.args and isinstance(value.args[0], bytes):
        value = value.args[0]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return re.sub(r"[\x00-\x1f\x7f]+", " ", str(value)).strip()[:300]


def _address_for(host: str, port: int) -> tuple:
    """Where to connect: the first address of ``host`` that is on the internet. An
    account's administrator types the host, so without MAILBOX_ALLOW_PRIVATE_HOSTS
    (an installation whose mail server is on its own network) loopback, private and
    link-local addresses are refused: the poller is no way into our own network. The
    connection goes to the address checked here (no second lookup to rebind)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise MailboxFailure(f"Servidor {host} não encontrado (DNS).") from None
    allow_private = bool(current_app.config.get("MAILBOX_ALLOW_PRIVATE_HOSTS"))
    for family, _, _, _, sockaddr in found:
        try:
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        except ValueError:
            continue
        if allow_private or ip.is_global:
            return family, sockaddr
    raise MailboxFailure(f"O servidor {host} aponta para um endereço de rede interna, "
                         "que não é permitido.")


def _socket_to(address: tuple, timeout: float) -> socket.socket:
    family, sockaddr = address
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


class _Imap(imaplib.IMAP4):
    def __init__(self, host, port, address, timeout):
        self._address = address
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        return _socket_to(self._address, timeout)


class _ImapSsl(imaplib.IMAP4_SSL):
    def __init__(self, host, port, address, timeout):
        self._address = address
        super().__init__(host, port, ssl_context=_tls_context(),
                         timeout=timeout)

    def _create_socket(self, timeout):
        return self.ssl_context.wrap_socket(_socket_to(self._address, timeout),
                                            server_hostname=self.host)


def connect(mailbox: Mailbox, password: str) -> imaplib.IMAP4:
    timeout = _timeout()
    address = _address_for(mailbox.host, mailbox.port)
    try:
        if mailbox.security == "ssl":
            client = _ImapSsl(mailbox.host, mailbox.port, address, timeout)
        else:
            client = _Imap(mailbox.host, mailbox.port, address, timeout)
            if mailbox.security == "starttls":
                client.starttls(ssl_context=_tls_context())
    except ssl.SSLError as error:
        raise MailboxFailure(f"Falha no TLS com {mailbox.host}:{mailbox.port}: "
                             f"{_text(error.reason or error)}") from None
    except (OSError, imaplib.IMAP4.error) as error:
        raise MailboxFailure(f"Servidor {mailbox.host}:{mailbox.port} inacessível: "
                             f"{_text(error) or type(error).__name__}") from None
    try:
        client.login(mailbox.username, password)
    except imaplib.IMAP4.error as error:
        _close(client)
        raise MailboxFailure(f"Login recusado para o usuário {mailbox.username}: "
                             f"{_text(error)}", "auth_error") from None
    try:
        # What the server offers once logged in (Dovecot lists MOVE, and may list IDLE,
        # only then): the greeting's list is the one before the login.
        client._get_capabilities()
    except (imaplib.IMAP4.error, OSError):
        pass
    return client


def _close(client) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - closing a broken connection
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass


def _ensure_folder(client, folder: str) -> None:
    status, _ = client.select(_quote(folder), readonly=True)
    if status == "OK":
        return
    status, data = client.create(_quote(folder))
    if status != "OK":
        raise MailboxFailure(f"Não foi possível criar a pasta {folder}: "
                             f"{_text(data[0] if data else '')}")


def _move(client, uid: bytes, folder: str, seen: bool) -> bool:
    if seen:
        client.uid("STORE", uid, "+FLAGS.SILENT", r"(\Seen)")
    if "MOVE" in client.capabilities:
        status, _ = client.uid("MOVE", uid, _quote(folder))
        return status == "OK"
    status, _ = client.uid("COPY", uid, _quote(folder))
    if status != "OK":
        return False
    client.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
    if "UIDPLUS" in client.capabilities:
        client.uid("EXPUNGE", uid)
    else:
        client.expunge()
    return True


def _size_of(data) -> int | None:
    for part in data or ():
        head = part[0] if isinstance(part, tuple) else part
        found = re.search(rb"RFC822\.SIZE (\d+)", head or b"")
        if found:
            return int(found.group(1))
    return None


def _raw_of(data) -> bytes | None:
    for part in data or ():
        if isinstance(part, tuple) and len(part) == 2:
            return part[1]
    return None


def _round(client, mailbox: Mailbox) -> dict:
    """Take up to BATCH unseen mails; raises MailboxFailure or OSError when the
    connection fails halfway (what was taken stays taken)."""
    for folder in (mailbox.processed_folder, mailbox.rejected_folder):
        _ensure_folder(client, folder)
    status, data = client.select(_quote(mailbox.folder))
    if status != "OK":
        raise MailboxFailure(f"A pasta {mailbox.folder} não existe na caixa.")
    status, data = client.uid("SEARCH", None, "UNSEEN")
    if status != "OK":
        raise MailboxFailure(f"A busca na pasta {mailbox.folder} falhou.")
    uids = (data[0] or b"").split()[:BATCH]
    counts = {"processed": 0, "rejected": 0, "left": 0}
    limit = intake.max_bytes()
    for uid in uids:
        status, data = client.uid("FETCH", uid, "(RFC822.SIZE)")
        size = _size_of(data) if status == "OK" else None
        if size is None:
            continue   # gone meanwhile (another client moved it)
        if size > limit:
            intake.log_refusal("too_large", source=opening.SOURCE,
                               detail=f"{size // (1024 * 1024)} MB na caixa de "
                                      f"{mailbox.username}")
            _move(client, uid, mailbox.rejected_folder, seen=False)
            counts["rejected"] += 1
            continue
        status, data = client.uid("FETCH", uid, "(BODY.PEEK[])")
        raw = _raw_of(data) if status == "OK" else None
        if raw is None:
            continue
        try:
            outcome = opening.take(raw, mailbox)
        except Exception as error:  # noqa: BLE001 - the mail waits for the next round
            db.session.rollback()
            log.warning("mailbox %s: mail %s left for the next round: %s", mailbox.id,
                        uid.decode(), _text(error) or type(error).__name__)
            counts["left"] += 1
            continue
        target = (mailbox.processed_folder if outcome.folder == "processed"
                  else mailbox.rejected_folder)
        if _move(client, uid, target, seen=outcome.folder == "processed"):
            counts[outcome.folder] += 1
    return counts


# --- the job ----------------------------------------------------------------------


def describe_failure(mailbox, error: BaseException) -> tuple[str, str]:
    """The screen's message and state for a failed round (no secrets, one line)."""
    if isinstance(error, MailboxFailure):
        return error.message, error.state
    return (f"Conexão com {mailbox.host} interrompida: "
            f"{_text(error) or type(error).__name__}"), "error"


def _claim(mailbox_id: int, now: dt.datetime) -> bool:
    result = db.session.execute(
        update(Mailbox).where(Mailbox.id == mailbox_id, Mailbox.active.is_(True),
                              Mailbox.next_attempt_at <= now,
                              or_(Mailbox.locked_until.is_(None),
                                  Mailbox.locked_until < now))
        .values(locked_until=now + LEASE).execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def _finish(mailbox_id: int, **values) -> None:
    with account_scope(UNSCOPED):
        db.session.execute(update(Mailbox).where(Mailbox.id == mailbox_id)
                           .values(locked_until=None, **values)
                           .execution_options(synchronize_session=False))
        db.session.commit()


def poll_mailbox(mailbox_id: int, now: dt.datetime | None = None,
                 idle: bool = False) -> dict:
    """One round of one (already claimed) mailbox; records its state. ``idle``: when
    the server offers IDLE, the connection is handed to an ``app.mailbox.idle`` thread
    that keeps the claim and takes new mail as it arrives (``"idle": True``)."""
    now = now or utcnow()
    with account_scope(UNSCOPED):
        row = db.session.get(Mailbox, mailbox_id, populate_existing=True)
        if row is None:
            return {"state": "gone"}
        # A plain copy: commits in the round expire the row, and a reload that fails
        # (the database down) must not escape as a traceback.
        mailbox = SimpleNamespace(**{c.name: getattr(row, c.name)
                                     for c in Mailbox.__table__.columns})
        db.session.commit()
        failures, taken = mailbox.failures or 0, mailbox.taken_count or 0
    client = None
    try:
        if mailbox.department_id is None or mailbox.service_id is None:
            raise MailboxFailure("Escolha de novo o departamento e o serviço dos novos "
                                 "chamados (o anterior foi removido).")
        try:
            password = crypto.decrypt(mailbox.password_encrypted)
        except crypto.PasswordUnreadable:
            raise MailboxFailure("A senha salva não pode ser lida (a chave "
                                 "MAILBOX_SECRET_KEY mudou): informe a senha de novo.",
                                 "auth_error") from None
        client = connect(mailbox, password)
        counts = _round(client, mailbox)
    except (MailboxFailure, OSError, imaplib.IMAP4.error, imaplib.IMAP4.abort) as error:
        db.session.rollback()
        message, state = describe_failure(mailbox, error)
        failures += 1
        delay = backoff_seconds(failures)
        log.warning("mailbox %s (account %s): %s; next attempt in %d s", mailbox.id,
                    mailbox.account_id, message, delay)
        _finish(mailbox.id, state=state, last_error=message[:1000], failures=failures,
                last_attempt_at=now, next_attempt_at=now + dt.timedelta(seconds=delay))
        return {"state": state, "error": message, "retry_in": delay}
    else:
        if idle:
            from app.mailbox import idle as idling

            total = taken + counts["processed"] + counts["rejected"]
            if idling.hand_over(client, mailbox, now, total):
                client = None    # the IDLE thread owns the connection and the claim now
                return {"state": "ok", "idle": True, **counts}
    finally:
        if client is not None:
            _close(client)
    _finish(mailbox.id, state="ok", last_error=None, failures=0, last_attempt_at=now,
            last_success_at=now, taken_count=taken + counts["processed"] + counts["rejected"],
            next_attempt_at=now + dt.timedelta(seconds=_poll_seconds()))
    return {"state": "ok", **counts}


def poll_due(now: dt.datetime | None = None, idle: bool = False) -> dict[int, dict]:
    """Every active mailbox whose time has come, each claimed first (``idle``: see
    ``poll_mailbox``)."""
    now = now or utcnow()
    with account_scope(UNSCOPED):
        due = db.session.scalars(select(Mailbox.id).where(
            Mailbox.active.is_(True), Mailbox.next_attempt_at <= now,
            or_(Mailbox.locked_until.is_(None), Mailbox.locked_until < now))
            .order_by(Mailbox.next_attempt_at)).all()
        db.session.commit()
        claimed = [mailbox_id for mailbox_id in due if _claim(mailbox_id, now)]
    results = {}
    for mailbox_id in claimed:
        try:
            results[mailbox_id] = poll_mailbox(mailbox_id, now, idle=idle)
        except Exception:  # noqa: BLE001 - one mailbox never stops the others
            db.session.rollback()
            log.exception("mailbox %s: unexpected failure", mailbox_id)
            failures = 1
            _finish(mailbox_id, state="error", last_error="Falha interna: tentando de novo.",
                    next_attempt_at=now + dt.timedelta(seconds=backoff_seconds(failures)))
            results[mailbox_id] = {"state": "error"}
        finally:
            db.session.remove()
    return results


@periodic(seconds=5)
def poll_mailboxes() -> int:
    """``flask jobs``: take new mail from every mailbox that is due; a mailbox whose
    server offers IDLE then waits in IDLE on a thread of this process (``MAILBOX_IDLE``,
    on by default). Every 5 s: a mailbox given back (a stop, a dropped IDLE connection)
    is taken up again within seconds; one query when nothing is due."""
    return len(poll_due(idle=bool(current_app.config.get("MAILBOX_IDLE", True))))
