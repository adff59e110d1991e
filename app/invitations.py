"""Invitations: an administrator creates a member without typing a password; the
member gets a mail with a link to choose one.

The link (``/senha/convite/<token>``) works like the forgotten-password one
(app.password_reset): a token signed with the secret key (salt of its own) naming the
member and a fingerprint of the current password hash, so it is single-use without a
table (choosing the password changes the hash, and so does any other password change)
and expires in seven days (``MAX_AGE``). Until then the member's password is a random
one nobody knows. The administrator may send a new invitation at any time
(``POST /api/v1/member/<id>/invite``); each mail goes through the outbox, with links
from ``BASE_URL``.
"""
from __future__ import annotations

import secrets
import uuid

from flask import current_app
from itsdangerous import URLSafeTimedSerializer

from app import password_reset
from app.extensions import db
from app.models import Member
from app.outbox import templated_mail
from app.tenancy import account_scope

MAX_AGE = 7 * 24 * 60 * 60
EVENT = "invitation"
SUBJECT = "Convite para o Gestor Serviço Empresa: escolha sua senha"
EXPIRED = ("O convite expirou ou já foi usado. Peça ao administrador da sua empresa um "
           "novo convite, ou use \"Esqueci minha senha\".")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="invitation")


def unusable_password() -> str:
    """A password nobody knows, for a member who will choose theirs from the link."""
    return secrets.token_urlsafe(32)


def make_token(member: Member) -> str:
    return _serializer().dumps({"m": member.id, "f": password_reset._fingerprint(member)})


def member_for_token(token) -> Member:
    return password_reset.member_for_token(token, serializer=_serializer(), max_age=MAX_AGE,
                                           expired=EXPIRED)


def choose_password(token, new, confirmation) -> Member:
    return password_reset.choose_password(token, new, confirmation,
                                          member=member_for_token(token))


def send(member: Member) -> None:
    """Write the invitation mail (committed with the caller's unit of work)."""
    link = (f"{current_app.config['BASE_URL'].rstrip('/')}/senha/convite/"
            f"{make_token(member)}")
    company = member.account.name if member.account else ""
    values = {"recipient_name": member.full_name or member.username, "link": link,
              "subject": SUBJECT, "days": MAX_AGE // 86400, "username": member.username,
              "company": company}
    with account_scope(member.account_id):
        templated_mail("invitation", values, account_id=member.account_id, event=EVENT,
                       recipient_id=member.id, email=member.email, subject=SUBJECT,
                       key=f"{EVENT}:{member.id}:{uuid.uuid4().hex}")
        db.session.commit()
