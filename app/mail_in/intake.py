"""One intake for every mail that comes in, whatever brought it (HTTP from an MTA, a
mailbox poller): parse, drop machines, authenticate the reply address, strip quotes,
then the same ``post_message`` a portal message goes through.

``take_mail(raw, source=..., mailbox=None) -> IntakeResult`` never raises for what a
mail contains; every mail it is offered leaves one ``inbound_mail`` row with its
reason (kept 30 days, app.mail_in.views), except the mailbox hook below.

Order of the checks, and why:

1. size, then parse (``MailRefused``: unparseable, MIME bomb) -> ``refused``;
2. automatic mail (auto-replies, bounces, DSNs, lists) -> ``ignored``, never answered:
   that is what breaks loops with another robot;
3. the same mail again (Message-ID + content hash) -> ``ignored`` ``duplicate``;
4. too many mails from that address in the last hour -> ``ignored`` ``rate_limited``;
5. the reply address: one of ours with a valid signature, else ``forged_address`` (at
   our domain, but altered) or ``unknown_address``. **Mailbox hook**: when ``mailbox``
   is given and the mail names no reply address of ours, nothing is written and the
   result is ``IntakeResult(status="ignored", reason="not_a_reply", parsed=...)``:
   the mailbox code opens a ticket from ``result.parsed`` (subject, ``full_text``,
   ``attachments``) in ``mailbox.department_id`` / ``mailbox.service_id`` and records
   the outcome with ``record(...)`` (``result.parsed.dedup_key`` keeps it once);
6. the person: active, of the ticket's account, and the ``From`` is their e-mail
   (``sender_mismatch`` otherwise: the address alone is not trusted, nor the From);
7. a closed or cancelled ticket: a short answer pointing to "Abrir chamado" (at most
   one a day per ticket and person), ``ignored`` ``ticket_closed``;
8. attachments are checked exactly like uploads (``app.attachments.store_upload``
   through ``post_message``); one that is refused is dropped and named in the log;
9. ``post_message`` with the log row in the same transaction: message, files, history,
   notifications and the log's unique ``dedup_key`` are committed together or not at
   all (two deliveries of one mail at once: the loser's commit fails, its files are
   removed, and it reports ``duplicate``).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import tempfile
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, event, func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from app import attachments as uploads_check
from app.extensions import db
from app.jobs import periodic
from app.mail_in import threads
from app.mail_in.models import InboundMail
from app.mail_in.parse import MailRefused, ParsedMail, parse
from app.models import (
    FINAL_STATUSES,
    Account,
    Department,
    Member,
    OutboxMail,
    Service,
    Ticket,
    TicketMessage,
    utcnow,
)
from app.outbox import templated_mail
from app.tenancy import UNSCOPED, account_scope

log = logging.getLogger(__name__)

KEEP_DAYS = 30
REASONS = {
    "taken": "Mensagem registrada no chamado",
    "duplicate": "Já recebida antes: não foi registrada de novo",
    "automatic": "Mensagem automática, devolução ou lista: ignorada (nunca respondida)",
    "rate_limited": "Muitos e-mails deste remetente na última hora",
    "unknown_address": "Não é resposta a um chamado (endereço desconhecido)",
    "forged_address": "Endereço de resposta alterado ou falso",
    "sender_mismatch": "O remetente não é a pessoa a quem o endereço foi dado",
    "not_allowed": "Esta pessoa não pode escrever neste chamado agora",
    "ticket_closed": "Chamado encerrado ou cancelado: o remetente foi orientado a abrir outro",
    "empty": "Sem texto nem anexos aceitos",
    "attachment_refused": "Anexo recusado",
    "too_large": "E-mail grande demais",
    "mime_bomb": "Estrutura do e-mail complexa demais (partes demais ou aninhadas demais)",
    "unparseable": "E-mail ilegível",
    "not_a_reply": "Não é resposta a um chamado",
    "error": "Falha ao registrar: será tentado de novo",
}


@dataclass
class IntakeResult:
    status: str                  # "taken", "ignored" or "refused"
    reason: str                  # a key of REASONS
    ticket_id: int | None = None
    message_id: int | None = None   # the TicketMessage it became
    log_id: int | None = None
    parsed: ParsedMail | None = None
    detail: str = ""

    @property
    def taken(self) -> bool:
        return self.status == "taken"

    @property
    def label(self) -> str:
        return REASONS.get(self.reason, self.reason)


def _config(name: str, default):
    value = current_app.config.get(name)
    return default if value is None else value


def max_bytes() -> int:
    return int(_config("INBOUND_MAIL_MAX_MB", 25)) * 1024 * 1024


def record(status: str, reason: str, *, source: str, parsed: ParsedMail | None = None,
           account_id: int | None = None, ticket_id: int | None = None,
           member_id: int | None = None, detail: str = "", ticket_message_id=None,
           attachments: int = 0, dedup: bool = False, commit: bool = True) -> InboundMail:
    """Write one log row (the mailbox poller records its own outcomes with this)."""
    row = log_row(status, reason, source=source, parsed=parsed, account_id=account_id,
                  ticket_id=ticket_id, member_id=member_id, detail=detail,
                  ticket_message_id=ticket_message_id, attachments=attachments, dedup=dedup)
    with account_scope(account_id if account_id is not None else UNSCOPED):
        db.session.add(row)
        if commit:
            db.session.commit()
    return row


def log_row(status: str, reason: str, *, source: str, parsed: ParsedMail | None = None,
            account_id: int | None = None, ticket_id: int | None = None,
            member_id: int | None = None, detail: str = "", ticket_message_id=None,
            attachments: int = 0, dedup: bool = False) -> InboundMail:
    """The log row ``record`` writes, not yet added to the session."""
    return InboundMail(
        account_id=account_id, received_at=utcnow(), source=(source or "?")[:20],
        message_id=parsed.message_id[:255] if parsed else None,
        content_hash=parsed.content_hash if parsed else None,
        dedup_key=parsed.dedup_key if parsed is not None and dedup else None,
        sender=(parsed.sender[:320] or None) if parsed else None,
        subject=parsed.subject[:255] if parsed else None, status=status, reason=reason,
        detail=(detail or "")[:2000] or None, ticket_id=ticket_id,
        ticket_message_id=ticket_message_id, member_id=member_id, attachments=attachments)


def _result(status, reason, *, source, parsed=None, detail="", **ids) -> IntakeResult:
    try:
        row = record(status, reason, source=source, parsed=parsed, detail=detail, **ids)
        log_id = row.id
    except Exception:  # noqa: BLE001 - the log must never turn a refusal into a 500
        db.session.rollback()
        log.exception("inbound mail log could not be written")
        log_id = None
    return IntakeResult(status, reason, ticket_id=ids.get("ticket_id"), log_id=log_id,
                        parsed=parsed, detail=detail)


def log_refusal(reason: str, *, source: str, detail: str = "") -> IntakeResult:
    """Log a mail refused before it could be read (too large to receive at all)."""
    return _result("refused", reason, source=source, detail=detail)


def take_mail(raw: bytes, *, source: str, mailbox=None) -> IntakeResult:
    """Take one raw mail (bytes as received, headers included). See the module doc."""
    if len(raw or b"") > max_bytes():
        return _result("refused", "too_large", source=source,
                       detail=f"{len(raw) // (1024 * 1024)} MB; o limite é "
                              f"{max_bytes() // (1024 * 1024)} MB")
    try:
        parsed = parse(raw)
    except MailRefused as refusal:
        return _result("refused", refusal.reason, source=source, detail=refusal.detail)
    try:
        with account_scope(UNSCOPED):
            return _take(parsed, source, mailbox)
    except Exception:
        db.session.rollback()
        raise


def _take(parsed: ParsedMail, source: str, mailbox) -> IntakeResult:
    if parsed.automatic:
        return _result("ignored", "automatic", source=source, parsed=parsed,
                       detail=parsed.automatic)
    first_id, recent = _seen_and_recent(parsed)
    if first_id is not None:
        first = db.session.get(InboundMail, first_id)
        return IntakeResult("ignored", "duplicate", ticket_id=first.ticket_id,
                            message_id=first.ticket_message_id, log_id=first.id,
                            parsed=parsed)
    if parsed.sender and recent >= int(_config("INBOUND_MAIL_PER_HOUR", 60)):
        return _result("ignored", "rate_limited", source=source, parsed=parsed)
    found = next((ids for ids in map(threads.verify_reply_address, parsed.recipients)
                  if ids), None)
    if found is None:
        ours = any(threads.is_ours(a) for a in parsed.recipients)
        if mailbox is not None and not ours:
            return IntakeResult("ignored", "not_a_reply", parsed=parsed)
        return _result("ignored", "forged_address" if ours else "unknown_address",
                       source=source, parsed=parsed)
    ticket_id, member_id = found
    loaded = _ticket_and_member(ticket_id, member_id)
    if loaded is None or loaded[1].account_id != loaded[0].account_id:
        return _result("ignored", "unknown_address", source=source, parsed=parsed)
    # ``loaded`` stays referenced until the post is done: the session's identity map
    # holds unchanged objects weakly, and the quota check and the notification read
    # the ticket's account, service and department again by primary key.
    ticket, member = loaded[0], loaded[1]
    ids = {"account_id": ticket.account_id, "ticket_id": ticket.id, "member_id": member.id}
    if not member.active:
        return _result("ignored", "not_allowed", source=source, parsed=parsed,
                       detail="membro inativo", **ids)
    if not parsed.sender or parsed.sender != (member.email or "").strip().lower():
        return _result("ignored", "sender_mismatch", source=source, parsed=parsed,
                       detail=f"escrito por {parsed.sender or '(sem remetente)'}", **ids)
    with account_scope(ticket.account_id):
        if ticket.status in FINAL_STATUSES:
            answered = _answer_closed(ticket, member, parsed)
            return _result("ignored", "ticket_closed", source=source, parsed=parsed,
                           detail="respondido com instruções" if answered else
                           "já orientado hoje: sem nova resposta", **ids)
        return _post(ticket, member, parsed, source, ids)


def _seen_and_recent(parsed: ParsedMail) -> tuple[int | None, int]:
    """One statement: the id of the log row of this same mail taken before (its
    ``dedup_key``), and how many mails its sender sent in the last hour."""
    since = utcnow() - dt.timedelta(hours=1)
    seen = (select(InboundMail.id).where(InboundMail.dedup_key == parsed.dedup_key)
            .limit(1).scalar_subquery())
    if not parsed.sender:
        return db.session.execute(select(seen)).one()[0], 0
    recent = (select(func.count()).select_from(InboundMail)
              .where(InboundMail.sender == parsed.sender, InboundMail.received_at >= since)
              .scalar_subquery())
    first_id, count = db.session.execute(select(seen, recent)).one()
    return first_id, count or 0


def _ticket_and_member(ticket_id: int, member_id: int) -> tuple | None:
    """(ticket, member, account, service, department) in one statement, or None when
    the ticket or the member does not exist."""
    return db.session.execute(
        select(Ticket, Member, Account, Service, Department).select_from(Ticket)
        .join(Member, Member.id == member_id)
        .outerjoin(Account, Account.id == Ticket.account_id)
        .outerjoin(Service, Service.id == Ticket.service_id)
        .outerjoin(Department, Department.id == Ticket.department_id)
        .where(Ticket.id == ticket_id)).first()


def _files(parsed: ParsedMail) -> list[FileStorage]:
    return [FileStorage(stream=io.BytesIO(a.data), filename=a.filename,
                        content_type=a.content_type) for a in parsed.attachments]


def _acceptable(parsed: ParsedMail) -> tuple[list[FileStorage], list[str]]:
    """Which attachments pass the upload checks (each stored once in a throw-away
    folder by ``store_upload``, exactly as an upload would be), and why the others
    did not."""
    kept, notes = [], []
    limit = int(current_app.config["MAX_UPLOAD_MB"]) * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="mail-check-") as folder:
        for attachment, upload in zip(parsed.attachments, _files(parsed)):
            try:
                uploads_check.store_upload(upload, folder, limit)
            except uploads_check.UploadRejected as refusal:
                notes.append(f"{attachment.filename}: {refusal.message}")
                continue
            kept.append(FileStorage(stream=io.BytesIO(attachment.data),
                                    filename=attachment.filename,
                                    content_type=attachment.content_type))
    return kept, notes


def _post(ticket: Ticket, member: Member, parsed: ParsedMail, source: str,
          ids: dict) -> IntakeResult:
    from app.workflow import WorkflowError, post_message

    files, notes = _files(parsed), list(parsed.notes)
    for attempt in range(2):
        if not parsed.text and not files:
            return _result("ignored", "empty", source=source, parsed=parsed,
                           detail="; ".join(notes), **ids)
        row = log_row("taken", "taken", source=source, parsed=parsed, dedup=True,
                      attachments=len(files), detail="; ".join(notes), **ids)
        try:
            with _linked(row) as written:
                message = post_message(ticket, member, parsed.text,
                                       upload=files[0] if files else None,
                                       uploads=files[1:])
            if written.get("log_id") is None:   # no commit saw a flushed message
                row.ticket_message_id = message.id
                db.session.add(row)
                db.session.commit()
                written = {"log_id": row.id, "message_id": row.ticket_message_id}
        except uploads_check.UploadRejected:
            db.session.rollback()
            if attempt:
                raise
            # One file is refused: find which by the same checks, post without it.
            files, refused = _acceptable(parsed)
            notes += refused
            ticket = db.session.get(Ticket, ids["ticket_id"], populate_existing=True)
            member = db.session.get(Member, ids["member_id"])
            continue
        except IntegrityError:
            db.session.rollback()
            first = db.session.scalar(select(InboundMail).where(
                InboundMail.dedup_key == parsed.dedup_key))
            if first is None:
                raise
            return IntakeResult("ignored", "duplicate", ticket_id=first.ticket_id,
                                message_id=first.ticket_message_id, log_id=first.id,
                                parsed=parsed)
        except WorkflowError as refusal:
            db.session.rollback()
            return _result("ignored", "not_allowed", source=source, parsed=parsed,
                           detail=refusal.message, **ids)
        # The ids as written (reading them from the rows would reload each row, its
        # attachments too, now that the commit expired them).
        return IntakeResult("taken", "taken", ticket_id=ids["ticket_id"],
                            message_id=written["message_id"], log_id=written["log_id"],
                            parsed=parsed, detail="; ".join(notes))
    raise AssertionError("unreachable")


@contextlib.contextmanager
def _linked(row: InboundMail):
    """While post_message runs, write the log row in its transaction, already pointing
    at the message it creates: the message's first flush gives it an id, and the row
    is added just before the commit (one INSERT, no UPDATE, no second commit). Yields
    a dict that holds ``message_id`` and ``log_id`` once the commit's flush wrote them."""
    session = db.session()
    created: list[TicketMessage] = []
    written: dict = {}

    def collect(session, flush_context):
        created.extend(o for o in session.new if isinstance(o, TicketMessage))

    def add_row(session):
        if created and created[0].id is not None and row not in session:
            row.ticket_message_id = created[0].id
            session.add(row)

    def note_ids(session, flush_context):
        if row.id is not None and "log_id" not in written:
            written.update(log_id=row.id, message_id=row.ticket_message_id)

    event.listen(session, "after_flush", collect)
    event.listen(session, "before_commit", add_row)
    event.listen(session, "after_flush_postexec", note_ids)
    try:
        yield written
    finally:
        event.remove(session, "after_flush", collect)
        event.remove(session, "before_commit", add_row)
        event.remove(session, "after_flush_postexec", note_ids)


def _answer_closed(ticket: Ticket, member: Member, parsed: ParsedMail) -> bool:
    """Tell a person who answered a closed or cancelled ticket how to open a new one:
    one short mail, at most once a day per ticket and person, with no reply address
    of ours (nothing to answer back) and ``Auto-Submitted`` (app.mailer adds it)."""
    from app.notifications import one_line, thread_subject

    since = utcnow() - dt.timedelta(days=1)
    already = db.session.scalar(select(func.count()).select_from(OutboxMail).where(
        OutboxMail.ticket_id == ticket.id, OutboxMail.recipient_id == member.id,
        OutboxMail.event == "reply_refused", OutboxMail.created_at >= since))
    if already or not (member.email or "").strip():
        return False
    base_url = current_app.config.get("BASE_URL", "").rstrip("/")
    account = db.session.get(Account, ticket.account_id)
    values = {"recipient_name": member.full_name or member.username, "ticket_id": ticket.id,
              "closed": ticket.status == "closed", "link": f"{base_url}/chamados/{ticket.id}",
              "open_link": f"{base_url}/cliente/abrir",
              "company": one_line(account.name if account else "", 150)}
    templated_mail(
        "reply_refused", values, account_id=ticket.account_id, ticket_id=ticket.id,
        event="reply_refused", recipient_id=member.id, email=member.email,
        subject=thread_subject(ticket.id, ticket.subject or ticket.description),
        key=f"reply_refused:{ticket.id}:{parsed.dedup_key[:16]}:{member.id}",
        sender_name=values["company"] or None,
        thread_refs=threads.references_for(ticket.id, None))
    db.session.commit()
    return True


@periodic(seconds=3600)
def purge_inbound_log() -> int:
    """The log keeps 30 days."""
    cutoff = utcnow() - dt.timedelta(days=KEEP_DAYS)
    with account_scope(UNSCOPED):
        result = db.session.execute(delete(InboundMail).where(InboundMail.received_at < cutoff)
                                    .execution_options(synchronize_session=False))
        db.session.commit()
    return result.rowcount
