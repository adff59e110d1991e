"""Reading a raw mail defensively: limits, automatic mail, text, quotes, attachments.

Nothing here touches the database. ``parse`` either returns a ``ParsedMail`` or raises
``MailRefused`` with a reason code; it never lets a parser error out. Hostile input is
the normal case (shared/HOSTILE.md): a MIME bomb is refused by counting parts and
depth while walking (iteratively, so nesting cannot exhaust the stack), broken
charsets and base64 decode with replacement characters, HTML becomes plain text
(scripts and styles dropped, nothing is ever rendered), NUL and other control
characters are removed.
"""
from __future__ import annotations

import codecs
import email
import email.header
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from html.parser import HTMLParser

MAX_PARTS = 200
MAX_DEPTH = 12
MAX_ATTACHMENTS = 20
MAX_TEXT = 20_000

# Extensions our uploads accept, for parts that come without a file name.
_EXT_BY_TYPE = {"image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg",
                "image/gif": ".gif", "application/pdf": ".pdf", "text/plain": ".txt",
                "text/csv": ".csv"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HEADER_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


class MailRefused(Exception):
    """The mail cannot be taken: ``reason`` is a code of app.mail_in.intake.REASONS."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass
class MailAttachment:
    filename: str
    content_type: str
    data: bytes
    inline: bool = False


@dataclass
class ParsedMail:
    """What the intake (and a mailbox poller opening tickets) needs of a mail."""

    message_id: str
    content_hash: str
    sender: str                  # the From address, lower case ("" when unreadable)
    sender_name: str
    subject: str
    text: str                    # the new text: quotes and signatures removed
    full_text: str               # the whole text part, for a new ticket's description
    recipients: list[str]        # every address it was delivered to, lower case
    attachments: list[MailAttachment] = field(default_factory=list)
    automatic: str | None = None  # why it is an auto-reply, bounce or list mail
    notes: list[str] = field(default_factory=list)   # what was cleaned away

    @property
    def dedup_key(self) -> str:
        """The same mail offered twice (an MTA retry, two pollers) has the same key:
        its Message-ID and the hash of its content (not of headers a relay adds)."""
        return hashlib.sha256(f"{self.message_id}\0{self.content_hash}".encode()).hexdigest()


# --- headers ------------------------------------------------------------------------


def _decode_chunk(chunk, charset) -> str:
    if isinstance(chunk, str):
        return chunk
    if charset in (None, "unknown-8bit"):
        charset = "utf-8"
    try:
        return chunk.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return chunk.decode("latin-1")


def _clean_header(value) -> str:
    """A header as text: encoded words decoded (an unknown charset as Latin-1), raw
    8-bit bytes read as UTF-8 or else Latin-1, no control characters, one line."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):   # compat32's wrapper of 8-bit bytes
        value = "".join(_decode_chunk(chunk, charset)
                        for chunk, charset in email.header.decode_header(value))
    text = str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in text):   # raw 8-bit bytes (latin-1 mail)
        raw = text.encode("utf-8", "surrogateescape")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    if "=?" in text:
        try:
            text = "".join(_decode_chunk(chunk, charset)
                           for chunk, charset in email.header.decode_header(text))
        except Exception:  # noqa: BLE001 - keep the text as it came
            pass
    return " ".join(_HEADER_CONTROL.sub(" ", text).split())


def header(message: Message, name: str) -> str:
    """One header as clean text; a header the parser cannot read is empty."""
    try:
        return _clean_header(message.get(name))
    except Exception:  # noqa: BLE001 - a malformed header is hostile input, not a bug
        return ""


def all_headers(message: Message, name: str) -> list[str]:
    try:
        return [_clean_header(v) for v in (message.get_all(name) or [])]
    except Exception:  # noqa: BLE001
        return []


def addresses(message: Message, *names: str) -> list[str]:
    values = []
    for name in names:
        values += all_headers(message, name)
    try:
        found = email.utils.getaddresses(values)
    except Exception:  # noqa: BLE001
        return []
    return [addr.strip().lower() for _, addr in found if "@" in (addr or "")]


AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply", "auto-reply"}
AUTO_SENDERS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|nao-?responda|bounces?)[@+]")


def automatic_reason(message: Message, envelope_sender: str | None = None) -> str | None:
    """Why this mail was sent by a machine (None: a person wrote it). RFC 3834's
    Auto-Submitted, the older Precedence and X-Autoreply families, mailing lists,
    delivery reports (DSN/MDN) and an empty return path (a bounce)."""
    auto = header(message, "Auto-Submitted").lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto[:40]}"
    if header(message, "Precedence").lower() in AUTO_PRECEDENCE:
        return "Precedence: " + header(message, "Precedence").lower()[:20]
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress-Reply",
                 "X-Autogenerated", "X-AutoReply-From", "X-Mail-Autoreply"):
        if message.get(name) is not None:
            return name
    if message.get("X-Auto-Response-Suppress") is not None and \
            "oof" in header(message, "X-Auto-Response-Suppress").lower():
        return "X-Auto-Response-Suppress"
    for name in ("List-Id", "List-Unsubscribe", "List-Post", "Mailing-List"):
        if message.get(name) is not None:
            return name
    content_type = header(message, "Content-Type").lower()
    if "multipart/report" in content_type or "message/delivery-status" in content_type \
            or "message/disposition-notification" in content_type:
        return "relatório de entrega (DSN)"
    return_paths = all_headers(message, "Return-Path")
    if envelope_sender is not None:
        return_paths.append(envelope_sender)
    if any(p.strip() in ("<>", "") for p in return_paths):
        return "caminho de retorno vazio (devolução)"
    sender = (addresses(message, "From") or [""])[0]
    if AUTO_SENDERS.match(sender):
        return "remetente automático"
    return None


# --- bodies -------------------------------------------------------------------------


def _payload_text(part: Message) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        data = None
    if data is None:
        raw = part.get_payload()
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    charset = "utf-8"
    try:
        charset = part.get_content_charset() or "utf-8"
        codecs.lookup(charset)
    except (LookupError, Exception):  # noqa: BLE001 - an unknown charset: guess below
        charset = "utf-8"
    try:
        text = data.decode(charset)
    except (UnicodeDecodeError, LookupError):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("windows-1252", "replace")
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


class _HtmlText(HTMLParser):
    """HTML to plain text. Script, style and head contents are dropped; quoted
    history (blockquote, Gmail's and Outlook's reply wrappers) is dropped too."""

    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table",
             "ul", "ol", "pre", "hr"}
    SKIP = {"script", "style", "head", "title", "template", "noscript", "svg", "object"}
    VOID = {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed",
            "source", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[tuple[str, bool]] = []
        self.skipping = 0

    def _is_quote(self, tag, attrs) -> bool:
        values = dict(attrs)
        marks = f"{values.get('class') or ''} {values.get('id') or ''}".lower()
        return tag == "blockquote" or any(m in marks for m in (
            "gmail_quote", "divrplyfwdmsg", "moz-cite-prefix", "yahoo_quoted",
            "outlookmessageheader", "appendonsend"))

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCK:
            self.out.append("\n")
        if tag in self.VOID:
            return
        skip = tag in self.SKIP or self._is_quote(tag, attrs)
        self.stack.append((tag, skip))
        if skip:
            self.skipping += 1

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        while self.stack:
            name, skip = self.stack.pop()
            if skip:
                self.skipping -= 1
            if name == tag:
                break
        if tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.out.append(data)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - broken HTML: what was read so far
        pass
    text = "".join(parser.out).replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# Where the quoted history or a signature starts (one line, or a wrapped attribution).
_ATTRIBUTION = re.compile(
    r"^\s*(Em|On|Le|El|Am)\b[^\n]{0,300}?(\n[^\n]{0,300}?){0,2}"
    r"(escreveu|wrote|a écrit|escribió|schrieb)\s*:\s*$", re.I | re.M)
_SEPARATORS = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Mensagem original|Mensagem Original|Forwarded message|"
    r"Mensagem encaminhada)\s*-{2,}|_{20,}|-{20,})\s*$", re.I)
_OUTLOOK_HEADER = re.compile(r"^\s*\*?(De|From)\s*:\*?\s+\S", re.I)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(Enviad[oa]|Sent|Data|Date|Para|To|Assunto|Subject)"
                           r"(\s+em)?\s*:", re.I)
_MOBILE = re.compile(r"^\s*(Enviado do meu|Enviado de meu|Sent from my|Enviado pelo|"
                     r"Obter o Outlook|Get Outlook for)\b", re.I)


def strip_quotes(text: str) -> str:
    """The new text of a reply: everything before the first reader marker ("Em ...
    escreveu:", "On ... wrote:", Outlook's separator or header block, the "-- "
    signature line, "Enviado do meu iPhone"), without ``>`` quoted lines."""
    match = _ATTRIBUTION.search(text)
    if match:
        text = text[:match.start()]
    lines = text.split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if line.rstrip() in ("--", "-- ") or line == "-- ":
            break
        if _SEPARATORS.match(line) or _MOBILE.match(line):
            break
        if _OUTLOOK_HEADER.match(line) and any(
                _OUTLOOK_NEXT.match(following) for following in lines[index + 1:index + 5]):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    result = "\n".join(kept).strip()
    return re.sub(r"\n{3,}", "\n\n", result)


# --- the whole mail -----------------------------------------------------------------


def _walk(message: Message, max_parts: int, max_depth: int):
    """Every leaf part, depth first, without recursion; refuses bombs."""
    stack = [(message, 0)]
    count = 0
    while stack:
        part, depth = stack.pop()
        count += 1
        if count > max_parts:
            raise MailRefused("mime_bomb", f"mais de {max_parts} partes")
        if depth > max_depth:
            raise MailRefused("mime_bomb", f"mais de {max_depth} níveis de partes")
        if part.is_multipart():
            children = part.get_payload()
            if not isinstance(children, list):
                continue
            stack.extend((child, depth + 1) for child in reversed(children))
        else:
            yield part


def _filename(part: Message, index: int) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001
        name = None
    name = _clean_header(name) if name else ""
    if name:
        return name
    content_type = part.get_content_type()
    ext = _EXT_BY_TYPE.get(content_type)
    if ext and content_type.startswith("image/"):
        return f"imagem-{index}{ext}"
    if ext and part.get_content_disposition() in ("attachment", "inline") \
            and not content_type.startswith("text/"):
        return f"anexo-{index}{ext}"
    return None


def parse(raw: bytes, *, max_parts: int = MAX_PARTS, max_depth: int = MAX_DEPTH,
          envelope_sender: str | None = None) -> ParsedMail:
    if not raw or not raw.strip():
        raise MailRefused("unparseable", "corpo vazio")
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    try:
        message = email.message_from_bytes(raw, policy=policy.compat32)
    except RecursionError:
        raise MailRefused("mime_bomb", "partes aninhadas demais")
    except Exception as error:  # noqa: BLE001
        raise MailRefused("unparseable", error.__class__.__name__)
    if not message.keys() or message.get("From") is None:
        raise MailRefused("unparseable", "sem cabeçalho From")
    senders = email.utils.getaddresses(all_headers(message, "From"))
    sender_name, sender = (senders[0] if senders else ("", ""))
    sender = sender.strip().lower()[:320] if "@" in (sender or "") else ""
    message_id = header(message, "Message-ID")[:255]
    try:
        automatic = automatic_reason(message, envelope_sender)
        plain: list[str] = []
        html: list[str] = []
        attachments: list[MailAttachment] = []
        notes: list[str] = []
        for index, part in enumerate(_walk(message, max_parts, max_depth), start=1):
            content_type = part.get_content_type()
            disposition = part.get_content_disposition()
            name = _filename(part, index)
            if content_type in ("text/plain", "text/html") and disposition != "attachment" \
                    and (name is None or disposition is None):
                (plain if content_type == "text/plain" else html).append(_payload_text(part))
                continue
            if name is None:
                continue   # a part with nothing to show (calendar, signature blob...)
            if len(attachments) >= MAX_ATTACHMENTS:
                notes.append(f"{name}: anexos demais (máximo {MAX_ATTACHMENTS})")
                continue
            try:
                data = part.get_payload(decode=True) or b""
            except Exception:  # noqa: BLE001
                data = b""
            attachments.append(MailAttachment(
                filename=name, content_type=content_type, data=data,
                inline=disposition == "inline" or part.get("Content-ID") is not None))
    except MailRefused:
        raise
    except RecursionError:
        raise MailRefused("mime_bomb", "partes aninhadas demais")
    except Exception as error:  # noqa: BLE001
        raise MailRefused("unparseable", error.__class__.__name__)
    if plain:
        full = "\n\n".join(t.strip() for t in plain if t.strip())
    else:
        full = "\n\n".join(html_to_text(h) for h in html)
        if html:
            notes.append("texto extraído do HTML (nunca exibido como HTML)")
    full = full.strip()
    text = strip_quotes(full)
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT - 1].rstrip() + "…"
        notes.append(f"texto cortado em {MAX_TEXT} caracteres")
    content = hashlib.sha256(body if sep else raw)
    content.update(header(message, "Subject").encode())
    content.update(sender.encode())
    return ParsedMail(
        message_id=message_id, content_hash=content.hexdigest(), sender=sender,
        sender_name=_clean_header(sender_name)[:150], subject=header(message, "Subject")[:255],
        text=text, full_text=full[:MAX_TEXT], attachments=attachments, automatic=automatic,
        recipients=addresses(message, "X-Original-To", "Delivered-To", "Envelope-To",
                             "X-Envelope-To", "To", "Cc"),
        notes=notes)
