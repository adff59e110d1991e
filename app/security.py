"""Users with an account and a sector; profiles as FAB roles (throttles: app.throttle).

Profiles (Administrador, Solicitante, Atendente, Gestor) are FAB roles declared in
``config.FAB_ROLES``; a member may hold several. The platform operator is FAB's Admin,
has no account and is the only one who sees across accounts (see app.tenancy).
"""
from __future__ import annotations

import re

from flask import current_app, g, jsonify
from flask_appbuilder.security.sqla.manager import SecurityManager
from limits import parse
from sqlalchemy import func, or_, select

from app import sessions
from app.api.security import SessionSecurityApi
from app.models import Member
from app.views.login import LoginView
from app.vocabulary import required_message
from config import PROFILE_ROLES

EMAIL_RE = re.compile(r"^[^@\s<>\"',;:\\]+@[^@\s<>\"',;:\\]+\.[^@\s<>\"',;:\\]+$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@+-]{3,64}$")


class AccountSecurityManager(SecurityManager):
    user_model = Member
    authdbview = LoginView          # "Entrar", one answer for every failure
    security_api = SessionSecurityApi   # tokens that name their session

    def __init__(self, appbuilder):
        self._builtin_answers: dict = {}
        super().__init__(appbuilder)

    def get_user_by_id(self, pk):
        """Every request loads its user: take the roles and groups (FAB reads both for
        each permission check) and the account (every page shows its plan banner) in
        the same query instead of three more round trips."""
        from sqlalchemy.orm import joinedload

        try:
            pk = int(pk)
        except (TypeError, ValueError):
            return None
        return self.session.scalars(
            select(Member).options(joinedload(Member.roles), joinedload(Member.groups),
                                   joinedload(Member.account))
            .where(Member.id == pk)).unique().one_or_none()

    # Sessions that end (app/sessions.py): both loaders accept a user only while the
    # session named by the cookie or by the token is live. FAB's own load_user_jwt
    # went through load_user, which now reads the cookie, so it is replaced whole.

    def load_user(self, pk):
        user = self.get_user_by_id(pk)
        if user and user.is_active and sessions.is_live(user, sessions.cookie_session_id()):
            return user
        return None

    def load_user_jwt(self, _jwt_header, jwt_data):
        # A bearer request verifies its token twice: the tenancy scope (before_request)
        # and FAB's @protect. The same token in the same request is the same user: the
        # second check takes the first one's answer instead of loading the user again.
        key = (jwt_data.get("sub"), jwt_data.get("jti"), jwt_data.get(sessions.CLAIM))
        loaded = g.get("_jwt_user")
        if loaded is not None and loaded[0] == key:
            if loaded[1] is not None:
                g.user = loaded[1]      # FAB's before_request set g.user in between
            return loaded[1]
        try:
            user = self.get_user_by_id(jwt_data["sub"])
        except (KeyError, TypeError, ValueError):
            return None
        if not (user and user.is_active and sessions.is_live(user, jwt_data.get(sessions.CLAIM))):
            user = None
        g._jwt_user = (key, user)
        if user is not None:
            g.user = user
        return user

    def is_item_public(self, permission_name, view_name):
        """FAB reads the Public role and its permissions on every protected request. They
        change only when `flask setup` syncs the permissions (a restart follows), so each
        process reads them once."""
        pairs = self.__dict__.get("_public_pairs")
        if pairs is None:
            pairs = self._public_pairs = frozenset(
                (p.view_menu.name, p.permission.name) for p in self.get_public_permissions())
        return (view_name, permission_name) in pairs

    def on_user_logout(self, user) -> None:
        sessions.end_cookie_session(user)

    def _has_access_builtin_roles(self, role, permission_name, view_name) -> bool:
        """FAB matches every permission of a built-in role as regular expressions on
        each check (ten per page for the menu). The profiles are built-in roles from
        config, fixed while the process lives, so each answer is computed once."""
        key = (role.name, permission_name, view_name)   # names from code, a bounded set
        answer = self._builtin_answers.get(key)
        if answer is None:
            answer = super()._has_access_builtin_roles(role, permission_name, view_name)
            self._builtin_answers[key] = answer
        return answer

    def create_jwt_manager(self, app):
        jwt_manager = super().create_jwt_manager(app)
        install_jwt_messages(jwt_manager)
        return jwt_manager


# --- validation shared by sign-up, the member API and the member screens -----------


class ValidationError(Exception):
    """A bad value, with the field it belongs to and a pt-BR message."""

    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


def clean_text(value, field: str, label: str, *, max_len: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(field, f"{label}: informe um texto.")
    if "\x00" in value:
        raise ValidationError(field, f"{label}: contém caracteres inválidos.")
    value = " ".join(value.split()) if max_len <= 255 else value.strip()
    if required and not value:
        raise ValidationError(field, required_message(label))
    if len(value) > max_len:
        raise ValidationError(field, f"{label} deve ter no máximo {max_len} caracteres.")
    return value


def validate_email(value) -> str:
    value = clean_text(value, "email", "E-mail", max_len=254).lower()
    if not EMAIL_RE.match(value):
        raise ValidationError("email", "E-mail inválido.")
    return value


def validate_username(value) -> str:
    value = clean_text(value, "username", "Usuário", max_len=64)
    if not USERNAME_RE.match(value):
        raise ValidationError(
            "username",
            "Usuário deve ter de 3 a 64 caracteres: letras sem acento, números e . _ - @ +",
        )
    return value


def validate_password(value, field: str = "password", *, username=None, email=None,
                      company=None) -> str:
    """The rule of app.passwords, as a ValidationError naming ``field``."""
    from app.passwords import problem

    message = problem(value, username=username, email=email, company=company)
    if message:
        raise ValidationError(field, message)
    return value


def ensure_identity_free(session, username: str, email: str, exclude_id: int | None = None):
    """Usernames and e-mails are unique across the platform: 409 when taken. (No
    autoflush: the member being created may be half-built, its roles set before it is
    added to the session.)"""
    stmt = select(Member.username, Member.email).where(
        or_(func.lower(Member.username) == username.lower(),
            func.lower(Member.email) == email.lower())
    )
    if exclude_id is not None:
        stmt = stmt.where(Member.id != exclude_id)
    with session.no_autoflush:
        taken = session.execute(stmt.execution_options(skip_tenancy=True)).all()
    for taken_username, taken_email in taken:
        if taken_username.lower() == username.lower():
            raise ValidationError("username", "Este usuário já está em uso.", 409)
        if (taken_email or "").lower() == email.lower():
            raise ValidationError("email", "Este e-mail já está em uso.", 409)


def roles_for_profiles(sm, codes) -> list:
    if not isinstance(codes, (list, tuple)) or not all(isinstance(c, str) for c in codes):
        raise ValidationError("profiles", "Perfis: informe uma lista.")
    if not codes:
        raise ValidationError("profiles", "Escolha pelo menos um perfil.")
    unknown = [c for c in codes if c not in PROFILE_ROLES]
    if unknown:
        raise ValidationError(
            "profiles",
            "Perfil desconhecido: " + ", ".join(unknown)
            + ". Use admin, requester, attendant ou manager.",
        )
    roles = []
    for code in dict.fromkeys(codes):
        role = sm.find_role(PROFILE_ROLES[code])
        if role is None:  # roles are created by `flask fab create-permissions`
            raise RuntimeError(f"role {PROFILE_ROLES[code]} missing: run the set-up")
        roles.append(role)
    return roles


def sync_roles_and_permissions(appbuilder) -> None:
    """After migrations: the roles (Admin, Public, the profiles of FAB_ROLES), then every
    view's permissions. Converges in one run; `flask setup` and the test fixtures call it.

    The roles come first because FAB grants each new view permission to Admin as it
    writes it: with no Admin yet, its ``add_permission_role(None, ...)`` raised on the
    first permission of every view (logged, swallowed), so a first run wrote one
    permission per view and every later run added the rest (123 links on this app)."""
    from flask_appbuilder.security.manager import BaseSecurityManager

    BaseSecurityManager.create_db(appbuilder.sm)
    appbuilder.add_permissions(update_perms=True)
    appbuilder.sm.__dict__.pop("_public_pairs", None)


def install_jwt_messages(jwt_manager) -> None:
    """Flask-JWT-Extended answers {"msg": "..."} in English; the contract is
    {"message": "..."} in Portuguese."""

    def unauthorized(reason=None, *args):
        return jsonify(message="Não autenticado: faça login e envie o token."), 401

    jwt_manager.unauthorized_loader(unauthorized)
    jwt_manager.invalid_token_loader(unauthorized)
    jwt_manager.expired_token_loader(
        lambda header, data: (jsonify(message="Sessão expirada: faça login novamente."), 401)
    )
    jwt_manager.user_lookup_error_loader(
        lambda header, data: (jsonify(message="Sessão encerrada ou usuário inativo: faça "
                                              "login novamente."), 401)
    )
    jwt_manager.revoked_token_loader(
        lambda header, data: (jsonify(message="Token revogado."), 401)
    )


def rate_limited(limit: str, key: str) -> bool:
    """Count one hit of ``key`` under ``limit`` (e.g. "30 per hour") on the same
    Flask-Limiter storage as the declared throttles (app.throttle); True when over.
    For counts no route limit can express; an unreachable storage lets it through."""
    limiter = current_app.extensions["login_throttle"]
    try:
        return not limiter.limiter.hit(parse(limit), key)
    except Exception:   # noqa: BLE001 - a storage outage must not become a 500
        current_app.logger.warning("rate-limit storage unreachable: %s not counted", key)
        return False
