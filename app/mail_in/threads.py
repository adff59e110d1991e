"""What makes the mails of one ticket a thread, and a reply identify its author.

* **Message-IDs.** Every outgoing mail's id comes from its outbox idempotency key
  (``message_id_for``), so a mail re-sent after a crash is recognisably the same one.
  Each ticket has a root id (``root_message_id``) that never changes: every mail of
  the ticket names it first in ``References``, then the previous mail sent to the same
  recipient about the ticket, which is also its ``In-Reply-To``. Readers that thread by
  References (Thunderbird, Apple Mail, mutt) and those that also want the same subject
  (Gmail: the subject is always ``[Chamado #<id>] <assunto>``) put them in one thread.
* **Reply addresses.** ``chamado-<ticket>-<member>-<signature>@INBOUND_MAIL_DOMAIN``:
  the signature is an HMAC-SHA256 of ticket and member under a key derived from
  ``SECRET_KEY`` (never the key itself), cut to 20 hex digits (80 bits), lower case so
  that mail servers that fold the local part's case do not break it. The same
  recipient gets the same address on every mail of one ticket; changing either number
  or guessing a signature fails ``verify_reply_address``.
"""
from __future__ import annotations

import hashlib
import hmac
import re

from flask import current_app

PREFIX = "chamado"
SIGNATURE_HEX = 20
_ADDRESS = re.compile(rf"^{PREFIX}-(\d{{1,10}})-(\d{{1,10}})-([0-9a-f]{{{SIGNATURE_HEX}}})$")


def _key(purpose: str) -> bytes:
    secret = current_app.config["SECRET_KEY"]
    if isinstance(secret, str):
        secret = secret.encode()
    return hmac.new(secret, f"gestor:{purpose}".encode(), hashlib.sha256).digest()


def message_domain() -> str:
    return current_app.config.get("MAIL_MESSAGE_ID_DOMAIN") or "gestor.local"


def message_id_for(idempotency_key: str) -> str:
    """The Message-ID of the outbox mail with this key (app.mailer.build_message)."""
    local = re.sub(r"[^A-Za-z0-9_.-]", ".", idempotency_key)
    return f"<{local}@{message_domain()}>"


def root_message_id(ticket_id: int) -> str:
    """The ticket's thread root: stable, and different between installations."""
    tag = hmac.new(_key("thread"), str(ticket_id).encode(), hashlib.sha256).hexdigest()[:10]
    return f"<chamado-{ticket_id}-{tag}@{message_domain()}>"


def inbound_domain() -> str | None:
    domain = (current_app.config.get("INBOUND_MAIL_DOMAIN") or "").strip().lower()
    return domain or None


def _signature(ticket_id: int, member_id: int) -> str:
    return hmac.new(_key("reply-address"), f"{ticket_id}.{member_id}".encode(),
                    hashlib.sha256).hexdigest()[:SIGNATURE_HEX]


def reply_address(ticket_id: int, member_id: int) -> str | None:
    """The signed Reply-To of ``member`` on ``ticket`` (None without a domain)."""
    domain = inbound_domain()
    if domain is None:
        return None
    return f"{PREFIX}-{ticket_id}-{member_id}-{_signature(ticket_id, member_id)}@{domain}"


def is_ours(address: str) -> bool:
    domain = inbound_domain()
    return bool(domain) and address.lower().rpartition("@")[2] == domain


def verify_reply_address(address: str) -> tuple[int, int] | None:
    """(ticket id, member id) of a genuine reply address of ours; None otherwise."""
    domain = inbound_domain()
    local, _, host = (address or "").strip().lower().rpartition("@")
    if not domain or host != domain:
        return None
    match = _ADDRESS.match(local)
    if not match:
        return None
    ticket_id, member_id, signature = int(match[1]), int(match[2]), match[3]
    if not hmac.compare_digest(signature, _signature(ticket_id, member_id)):
        return None
    return ticket_id, member_id


def references_for(ticket_id: int, previous_key: str | None) -> str:
    """The References of a new mail: the root, then the previous mail to the same
    person about the ticket (its In-Reply-To is the last id of the list)."""
    ids = [root_message_id(ticket_id)]
    if previous_key:
        ids.append(message_id_for(previous_key))
    return " ".join(ids)
