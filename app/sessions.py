"""Sessions that end: the one mechanism behind the session cookie and every JWT.

Every login opens a *session*: a random id with an expiry, kept on the member's own row
(``ab_user.live_sessions``, a JSON object id -> expiry in epoch seconds). The page login
stores the id in the signed session cookie (``SESSION_KEY``); the API login puts it in
the access and refresh tokens (claim ``sid``), and a refreshed access token keeps it.
``is_live`` is the only check, called from the security manager's two user loaders
(cookie and token), so no view checks anything itself.

What ends sessions:

* logging out removes that session's id: a copied cookie stops working, the member's
  other sessions go on;
* a password set by someone else (the member API, the member screen, FAB's reset), a
  deactivation or a change of profiles clears every id at once, whatever code path
  wrote it: a ``before_flush`` hook sees the change on the row itself;
* the member's own password change ("Meu perfil") keeps only the session that made it
  (``keep_current``), so their other sessions and all their tokens end;
* expiry: a page session lasts ``PERMANENT_SESSION_LIFETIME``, an API login as long as
  its refresh token (or its access token, without one).

The ids are written only at login, logout and those changes (never on a plain request),
under the row's write lock, so a concurrent login and logout cannot undo each other. A
member keeps at most ``MAX_SESSIONS``; a new login beyond that ends the one that
expires first.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
import time

from flask import current_app
from flask import session as cookie
from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Member

SESSION_KEY = "_sid"
CLAIM = "sid"
MAX_SESSIONS = 50
_KEEP = "_keep_session_id"   # non-mapped attribute set by keep_current


def _read(raw) -> dict:
    try:
        live = json.loads(raw or "{}")
    except ValueError:
        return {}
    return live if isinstance(live, dict) else {}


def is_live(member, sid) -> bool:
    if not isinstance(sid, str) or not sid:
        return False
    expires = _read(member.live_sessions).get(sid)
    return isinstance(expires, (int, float)) and expires > time.time()


def _seconds(value) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def _locked_live(member) -> dict:
    """The member's live sessions, read after taking the row's write lock (a row lock on
    PostgreSQL, the database write lock on SQLite) so the read sees every committed
    login and logout; the caller commits."""
    table = Member.__table__
    db.session.execute(update(table).where(table.c.id == member.id)
                       .values(live_sessions=table.c.live_sessions)
                       .execution_options(skip_tenancy=True))
    raw = db.session.execute(select(table.c.live_sessions).where(table.c.id == member.id)
                             .execution_options(skip_tenancy=True)).scalar()
    now = time.time()
    return {sid: exp for sid, exp in _read(raw).items()
            if isinstance(exp, (int, float)) and exp > now}


def _store(member, live: dict) -> None:
    member.live_sessions = json.dumps(live) if live else None
    db.session.commit()


def start(member, lifetime) -> str:
    """Open a session of ``lifetime`` (seconds or timedelta) and return its id."""
    live = _locked_live(member)
    while len(live) >= MAX_SESSIONS:
        del live[min(live, key=live.get)]
    sid = secrets.token_urlsafe(16)
    live[sid] = int(time.time() + _seconds(lifetime))
    _store(member, live)
    return sid


def end(member, sid) -> None:
    live = _locked_live(member)
    if live.pop(sid, None) is not None:
        _store(member, live)
    else:
        db.session.commit()


def keep_current(member, sid) -> None:
    """The next password change of ``member`` ends every session but ``sid``."""
    setattr(member, _KEEP, sid)


# --- the page session ---------------------------------------------------------------


def open_cookie_session(member) -> None:
    cookie[SESSION_KEY] = start(member, current_app.permanent_session_lifetime)


def end_cookie_session(member) -> None:
    sid = cookie.pop(SESSION_KEY, None)
    if sid:
        end(member, sid)


def cookie_session_id() -> str | None:
    return cookie.get(SESSION_KEY)


# --- tokens -------------------------------------------------------------------------


def issue_tokens(member, refresh: bool = False) -> dict:
    """An API login: a session as long as its longest token, and the tokens naming it."""
    from flask_jwt_extended import create_access_token, create_refresh_token

    config = current_app.config
    lifetime = config["JWT_REFRESH_TOKEN_EXPIRES" if refresh else "JWT_ACCESS_TOKEN_EXPIRES"]
    sid = start(member, lifetime)
    tokens = {"access_token": create_access_token(
        identity=str(member.id), fresh=True, additional_claims={CLAIM: sid})}
    if refresh:
        tokens["refresh_token"] = create_refresh_token(
            identity=str(member.id), additional_claims={CLAIM: sid})
    return tokens


def refreshed_access_token(claims: dict) -> str:
    """A new access token of the same session as the refresh token's ``claims``."""
    from flask_jwt_extended import create_access_token

    return create_access_token(identity=claims["sub"], fresh=False,
                               additional_claims={CLAIM: claims.get(CLAIM)})


# --- what ends every session --------------------------------------------------------


def _ends_sessions(state) -> bool:
    attrs = state.attrs
    if attrs.password.history.has_changes() or attrs.active.history.has_changes():
        return True
    roles = attrs.roles.history
    return bool(roles.added or roles.deleted)


@event.listens_for(Session, "before_flush")
def _end_sessions_on_credential_change(session, flush_context, instances):
    for obj in list(session.dirty):
        if not isinstance(obj, Member):
            continue
        state = inspect(obj)
        if state.pending or not _ends_sessions(state):
            continue
        keep = obj.__dict__.pop(_KEEP, None)
        live = _read(obj.live_sessions)
        obj.live_sessions = (json.dumps({keep: live[keep]})
                             if keep and is_live(obj, keep) else None)


# --- a session that ended, seen from its cookie ---------------------------------------

ENDED_MESSAGE = "Sua sessão terminou. Entre novamente para continuar."


def _session_ended_notice():
    """A cookie that still names a member whose session is no longer live (logged out
    elsewhere, password changed, deactivated, expired): forget it and say so, instead
    of FAB's "Acesso negado" on the login page. Pages go to the login with ``next``;
    anything else (a form post, a Painel callback) is refused with the same words and
    does nothing. The API is left alone: it reads bearer tokens, not this cookie."""
    from urllib.parse import quote

    from flask import flash, jsonify, redirect, request
    from flask_login import current_user

    if "_user_id" not in cookie or request.path.startswith(("/api/", "/static/")):
        return None
    if current_user.is_authenticated:
        return None
    cookie.clear()
    if request.method == "GET" and request.accept_mimetypes.best != "application/json" \
            and not request.path.startswith("/painel/_"):
        flash(ENDED_MESSAGE, "warning")
        if request.path.startswith("/login"):
            return None
        return redirect("/login/?next=" + quote(request.full_path.rstrip("?"), safe="/"))
    if request.is_json or request.path.startswith("/painel/"):
        return jsonify(message=ENDED_MESSAGE), 401
    flash(ENDED_MESSAGE, "warning")
    return redirect("/login/")


def install_ended_session_notice(app) -> None:
    app.before_request(_session_ended_notice)
