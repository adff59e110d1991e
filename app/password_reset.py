"""'Esqueci minha senha': a link by e-mail to choose a new password.

The link carries a token signed with the app's secret (itsdangerous, salt of its own)
naming the member and a fingerprint of their current password hash. It expires in an
hour (``MAX_AGE``) and is single-use without any table: using it changes the hash, and
so does any other password change, which voids every older link. Choosing the new
password follows the same rule as everywhere (app.passwords) and, like any password
change by a path other than "Meu perfil", ends every session and token of the member
(app.sessions).

Asking for a link answers the same whether or not the address belongs to anyone; the
mail goes through the outbox like every other (app.mailer sends it), with links built
from ``BASE_URL``, never from the request's Host.
"""
from __future__ import annotations

import hashlib
import uuid

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from app.extensions import db
from app.models import Member
from app.outbox import templated_mail
from app.security import ValidationError, validate_password
from app.tenancy import account_scope

MAX_AGE = 60 * 60
EVENT = "password_reset"
SUBJECT = "Criar uma nova senha - Gestor Serviço Empresa"
EXPIRED = "O link expirou ou já foi usado. Peça um novo em \"Esqueci minha senha\"."


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def _fingerprint(member: Member) -> str:
    return hashlib.sha256((member.password or "").encode()).hexdigest()[:32]


def make_token(member: Member) -> str:
    return _serializer().dumps({"m": member.id, "f": _fingerprint(member)})


def member_for_token(token, serializer=None, max_age=MAX_AGE, expired=EXPIRED) -> Member:
    """The member a still-valid token names, or ValidationError("token"). (Invitations
    use the same with their own serializer, lifetime and message: app.invitations.)"""
    EXPIRED = expired  # noqa: N806 - the message of this kind of link
    try:
        data = (serializer or _serializer()).loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature, TypeError, ValueError):
        raise ValidationError("token", EXPIRED)
    member_id = data.get("m") if isinstance(data, dict) else None
    if not isinstance(member_id, int):
        raise ValidationError("token", EXPIRED)
    member = db.session.execute(select(Member).where(Member.id == member_id)
                                .execution_options(skip_tenancy=True)).scalar()
    if member is None or not member.active or data.get("f") != _fingerprint(member):
        raise ValidationError("token", EXPIRED)
    return member


def request_link(email) -> None:
    """Write the mail if ``email`` is an active member's; the caller answers the same
    either way. The platform operator (no account) is not served here."""
    if not isinstance(email, str) or "\x00" in email:
        return
    email = email.strip().lower()
    if not email or len(email) > 254:
        return
    member = db.session.execute(
        select(Member).where(func.lower(Member.email) == email, Member.active.is_(True),
                             Member.account_id.is_not(None))
        .execution_options(skip_tenancy=True)).scalar()
    if member is None:
        return
    link = f"{current_app.config['BASE_URL'].rstrip('/')}/senha/nova/{make_token(member)}"
    values = {"recipient_name": member.full_name or member.username, "link": link,
              "subject": SUBJECT, "hours": MAX_AGE // 3600}
    with account_scope(member.account_id):
        templated_mail("password_reset", values, account_id=member.account_id, event=EVENT,
                       recipient_id=member.id, email=member.email, subject=SUBJECT,
                       key=f"{EVENT}:{member.id}:{uuid.uuid4().hex}")
        db.session.commit()


def choose_password(token, new, confirmation, member=None) -> Member:
    member = member or member_for_token(token)
    if new != confirmation:
        raise ValidationError("confirm_password",
                              "A confirmação não é igual à nova senha: digite-a de novo.")
    validate_password(new, "new_password", username=member.username, email=member.email,
                      company=member.account.name if member.account else None)
    from app.accounts import hash_password

    member.password = hash_password(new)
    db.session.commit()
    return member
