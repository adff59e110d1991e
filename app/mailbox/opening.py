"""What a mail in a company's mailbox becomes when it is not a reply to a ticket.

``take(raw, mailbox) -> Outcome``: the shared intake first (``take_mail(...,
mailbox=)``: robots, duplicates, the rate limit and replies are all decided there);
when it answers ``not_a_reply``:

* from an active member of the mailbox's account who may open tickets: a ticket in the
  mailbox's department and service, with the mail's subject and whole text, and its
  attachments as the ticket's files (each checked like an upload; one refused is left
  out and named in the log). Ticket, files, history, notifications and the log row
  with its unique ``dedup_key`` are one commit: the same mail taken twice (two polls,
  two pollers, the mail copied back) opens one ticket;
* from one of the account's members who may not (inactive, no requester profile):
  logged and set aside, not answered;
* from anyone else: one polite answer through the outbox (never to automatic mail,
  which the intake already ignored; at most one a day per address) and the log row.

The outcome tells the poller where the mail goes: ``processed`` or ``rejected``.
An exception (the database down) leaves the mail where it is, for the next round.
"""
from __future__ import annotations

import datetime as dt
import io
import logging
import tempfile
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from app import attachments as uploads_check
from app.extensions import db
from app.mail_in import intake
from app.mail_in.models import InboundMail
from app.mail_in.parse import ParsedMail
from app.mailbox.models import Mailbox
from app.models import Account, Member, OutboxMail, utcnow
from app.outbox import templated_mail
from app.tenancy import account_scope

log = logging.getLogger(__name__)

SOURCE = "imap"
# The mailbox's own outcomes, shown on "Mensagens recebidas" beside the intake's.
intake.REASONS.setdefault("ticket_opened", "Chamado aberto pelo e-mail")
intake.REASONS.setdefault("unknown_sender", "Remetente não cadastrado: respondido com "
                                            "orientação")
intake.REASONS.setdefault("mailbox_not_allowed", "Não foi possível abrir o chamado")
TAKEN = ("taken",)


@dataclass
class Outcome:
    folder: str           # "processed" or "rejected"
    status: str
    reason: str
    ticket_id: int | None = None


def take(raw: bytes, mailbox: Mailbox) -> Outcome:
    result = intake.take_mail(raw, source=SOURCE, mailbox=mailbox)
    if result.reason == "duplicate":
        first = db.session.get(InboundMail, result.log_id) if result.log_id else None
        good = first is not None and first.status == "taken"
        return Outcome("processed" if good else "rejected", "ignored", "duplicate",
                       result.ticket_id)
    if result.reason != "not_a_reply":
        return Outcome("processed" if result.status == "taken" else "rejected",
                       result.status, result.reason, result.ticket_id)
    parsed = result.parsed
    with account_scope(mailbox.account_id):
        member = _member_for(parsed.sender, mailbox.account_id)
        if member is None:
            return _refuse(parsed, mailbox)
        if not member.active or not member.has_profile("requester"):
            # One of the account's own people who may not open tickets: logged for
            # the administrators, set aside, not answered (they are not strangers).
            why = "membro inativo" if not member.active else "sem o perfil de solicitante"
            intake.record("ignored", "mailbox_not_allowed", source=SOURCE, parsed=parsed,
                          dedup=True, account_id=mailbox.account_id, member_id=member.id,
                          detail=f"{parsed.sender}: {why}")
            return Outcome("rejected", "ignored", "mailbox_not_allowed")
        return _open(parsed, mailbox, member)


def _member_for(sender: str, account_id: int) -> Member | None:
    if not sender:
        return None
    return db.session.scalar(select(Member).where(
        func.lower(Member.email) == sender.lower(), Member.account_id == account_id))


def _acceptable(parsed: ParsedMail) -> tuple[list[FileStorage], list[str]]:
    """The attachments that pass the upload checks (each stored once in a throw-away
    folder by ``store_upload``), and why the others did not."""
    kept, notes = [], list(parsed.notes)
    limit = int(current_app.config["MAX_UPLOAD_MB"]) * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="mailbox-check-") as folder:
        for attachment in parsed.attachments:
            def upload():
                return FileStorage(stream=io.BytesIO(attachment.data),
                                   filename=attachment.filename,
                                   content_type=attachment.content_type)
            try:
                uploads_check.store_upload(upload(), folder, limit)
            except uploads_check.UploadRejected as refusal:
                notes.append(f"{attachment.filename}: {refusal.message}")
                continue
            kept.append(upload())
    return kept, notes


def _duplicate(parsed: ParsedMail) -> Outcome:
    first = db.session.scalar(select(InboundMail).where(
        InboundMail.dedup_key == parsed.dedup_key))
    if first is None:
        raise RuntimeError("dedup key conflict without its row")
    return Outcome("processed" if first.status == "taken" else "rejected", "ignored",
                   "duplicate", first.ticket_id)


def _open(parsed: ParsedMail, mailbox: Mailbox, member: Member) -> Outcome:
    from app.workflow import MAX_DESCRIPTION, WorkflowError, open_ticket

    files, notes = _acceptable(parsed)
    description = (parsed.full_text or "").strip() or parsed.subject.strip() or \
        "(e-mail sem texto)"
    subject = " ".join((parsed.subject or "").split())[:200] or None
    ids = {"account_id": mailbox.account_id, "member_id": member.id}
    row = intake.record("taken", "ticket_opened", source=SOURCE, parsed=parsed, dedup=True,
                        attachments=len(files), detail="; ".join(notes), commit=False, **ids)
    try:
        ticket = open_ticket(member, department_id=mailbox.department_id,
                             service_id=mailbox.service_id, priority="medium",
                             description=description[:MAX_DESCRIPTION], subject=subject,
                             upload=files[0] if files else None, uploads=files[1:])
    except IntegrityError:
        db.session.rollback()
        return _duplicate(parsed)
    except WorkflowError as refusal:
        db.session.rollback()
        intake.record("ignored", "mailbox_not_allowed", source=SOURCE, parsed=parsed,
                      dedup=True, detail=refusal.message, **ids)
        return Outcome("rejected", "ignored", "mailbox_not_allowed")
    ticket_id = ticket.id
    try:   # link the log to its ticket (the ticket itself is already safe)
        row.ticket_id = ticket_id
        db.session.commit()
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.warning("mailbox %s: could not link ticket %s to its log", mailbox.id, ticket_id)
    return Outcome("processed", "taken", "ticket_opened", ticket_id)


def _refuse(parsed: ParsedMail, mailbox: Mailbox) -> Outcome:
    """One short answer in Portuguese, at most once a day per address, recorded with
    the log row in one commit (``dedup_key``: the same mail again is not answered)."""
    from app.notifications import one_line

    since = utcnow() - dt.timedelta(days=1)
    already = db.session.scalar(select(func.count()).select_from(OutboxMail).where(
        OutboxMail.event == "mailbox_rejected",
        func.lower(OutboxMail.recipient_email) == (parsed.sender or "").lower(),
        OutboxMail.created_at >= since)) if parsed.sender else 1
    if not already and "@" in parsed.sender:
        account = db.session.get(Account, mailbox.account_id)
        company = one_line(account.name if account else "", 150)
        values = {"subject": one_line(parsed.subject or "(sem assunto)", 150),
                  "sender": parsed.sender, "company": company,
                  "open_link": current_app.config.get("BASE_URL", "").rstrip("/")
                  + "/cliente/abrir"}
        templated_mail(
            "mailbox_rejected", values, account_id=mailbox.account_id,
            event="mailbox_rejected", email=parsed.sender,
            subject=one_line("Re: " + (parsed.subject or "seu e-mail"), 255),
            key=f"mailbox_rejected:{parsed.dedup_key[:60]}", sender_name=company or None,
            thread_refs=parsed.message_id if parsed.message_id.startswith("<") else None)
    intake.record("ignored", "unknown_sender", source=SOURCE, parsed=parsed, dedup=True,
                  account_id=mailbox.account_id, commit=False,
                  detail=f"escrito por {parsed.sender or '(sem remetente)'}"
                         + ("" if not already else "; já orientado hoje: sem nova resposta"))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return _duplicate(parsed)
    return Outcome("rejected", "ignored", "unknown_sender")
