"""The mailbox password, encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from the environment: ``MAILBOX_SECRET_KEY`` (a Fernet key as made by
``Fernet.generate_key()``, or any long string, from which one is derived), else one
derived from ``SECRET_KEY``. A database dump alone never reveals a password; changing
the key makes the stored passwords unreadable (the screen then asks for them again).
"""
from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


class PasswordUnreadable(Exception):
    """The stored password cannot be decrypted with today's key."""


def _fernet() -> Fernet:
    configured = current_app.config.get("MAILBOX_SECRET_KEY") or ""
    if configured:
        try:
            return Fernet(configured)
        except (ValueError, TypeError):
            material = configured
    else:
        material = current_app.config["SECRET_KEY"]
    if isinstance(material, str):
        material = material.encode()
    digest = hashlib.sha256(b"gestor-mailbox-password\0" + material).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(password: str) -> str:
    return _fernet().encrypt(password.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError, UnicodeError) as error:
        raise PasswordUnreadable() from error
