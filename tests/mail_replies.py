"""Replies the way mail readers write them, for the intake tests and the benchmark.

``reply(notification, ...)`` answers a received notification (an ``EmailMessage`` as
parsed from the aiosmtpd sink): To its Reply-To, "Re:" its subject, In-Reply-To and
References to it, the new text above a pt-BR Gmail attribution ("Em ... escreveu:")
wrapped over two lines and the quoted original with ``>``, and attachments.
"""
from __future__ import annotations

import struct
import zlib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

ORIGINAL_MARK = "Texto da notificação original"


def png(width: int = 2, height: int = 2, padding: int = 0) -> bytes:
    """A real PNG; ``padding`` bytes of an ancillary chunk make it as large as asked."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(min(height, 4)))
    extra = chunk(b"tEXt", b"c\x00" + b"x" * padding) if padding else b""
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def reply(notification, *, sender: str, text: str, attachments=(), to: str | None = None,
          headers: dict | None = None, quote: str | None = None,
          message_id: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Fulano da Silva <{sender}>"
    msg["To"] = to or notification["Reply-To"]
    msg["Subject"] = "Re: " + str(notification["Subject"])
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id or make_msgid(domain="cliente.example")
    msg["In-Reply-To"] = notification["Message-ID"]
    msg["References"] = f"{notification['References'] or ''} {notification['Message-ID']}"
    for name, value in (headers or {}).items():
        msg[name] = value
    original = quote if quote is not None else _original_text(notification)
    body = (f"{text}\n\nEm ter., 1 de dez. de 2026 às 10:02, Empresa Alfa <\n"
            f"nao-responda@gestor.local> escreveu:\n\n"
            + "\n".join("> " + line for line in original.splitlines()) + "\n")
    msg.set_content(body)
    for name, data, content_type in attachments:
        maintype, subtype = content_type.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def _original_text(notification) -> str:
    try:
        return notification.get_body(("plain",)).get_content()
    except Exception:  # noqa: BLE001
        return ORIGINAL_MARK


def drain(app, rounds: int = 6) -> None:
    """Send every pending mail. On a machine this loaded the sink can miss the 1 s
    socket timeout once, which puts a batch back with its back-off: send again as if
    the back-off had passed, until nothing is pending."""
    import datetime as dt

    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import OutboxMail
    from app.tenancy import UNSCOPED, account_scope
    from tests.smtp_server import drain as drain_once

    now = None
    for _ in range(rounds):
        drain_once(app, now)
        with app.app_context(), account_scope(UNSCOPED):
            pending = db.session.scalar(select(func.count()).select_from(OutboxMail)
                                        .where(OutboxMail.status == "pending"))
            db.session.remove()
        if not pending:
            return
        now = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
