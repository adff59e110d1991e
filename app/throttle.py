"""Throttles on logins and sign-ups, declared on Flask-AppBuilder's own Flask-Limiter.

Failed logins (the form at ``/login/`` and ``POST /api/v1/security/login`` share the
counters) are limited twice:

* per (username, client address), tightly (``LOGIN_FAILURE_LIMIT``): one person's
  typos, or one attacker's guesses, stop there;
* per username, loosely (``LOGIN_FAILURE_LIMIT_PER_USERNAME``), checked only for
  addresses that have themselves failed for that username: an attack spread over many
  addresses slows down, while the right password typed from an address that has not
  been failing always works, so nobody can keep a person out of work by guessing.

A success is never counted, nor a request refused for its body (400) or by a limit
(429). A blocked caller gets 429 before the password is checked (no oracle), with a
Portuguese message and ``Retry-After``. Sign-ups count every POST per address
(``SIGNUP_RATE_LIMIT``). The client address is ``request.remote_addr``, which
``PROXY_FIX_HOPS`` makes the one the trusted proxies saw.

Counters live where ``RATELIMIT_STORAGE_URI`` says: ``memory://`` counts per process;
``redis://`` shares them across processes and hosts. When Redis cannot be reached,
Flask-Limiter's in-memory fallback counts per process until it answers again (a
warning a minute in the log, never a 500), and ``/health`` says so.
"""
from __future__ import annotations

import logging
import re
import shlex
import time

from flask import current_app, jsonify, request
from flask_limiter.util import get_remote_address
from flask_login import current_user
from limits import parse_many

log = logging.getLogger(__name__)

# The login views are the security manager's (app.security: LoginView and
# SessionSecurityApi, subclasses of FAB's): their blueprints are named after them.
FORM_VIEW, API_VIEW = "LoginView", "SessionSecurityApi"
FORM_LOGIN = f"{FORM_VIEW}.login"
API_LOGIN = f"{API_VIEW}.login"
LOGIN_ENDPOINTS = (FORM_LOGIN, API_LOGIN)
PAIR_SCOPE = "login-failures-pair"
USER_SCOPE = "login-failures-user"
LOGIN_MESSAGE = "Muitas tentativas de login com este usuário."
SIGNUP_MESSAGE = "Muitos cadastros feitos deste endereço."
STORAGE_WARNING_EVERY = 60.0  # seconds between two "still down" warnings


def install(app, limiter) -> None:
    """Declare the limits on FAB's limiter (``appbuilder.sm.limiter``); called by
    create_app once the security views and ours are registered."""
    app.extensions["login_throttle"] = limiter
    pair = limiter.shared_limit(
        lambda: current_app.config["LOGIN_FAILURE_LIMIT"], scope=PAIR_SCOPE,
        key_func=_pair_key, methods=["POST"], exempt_when=_not_a_login,
        deduct_when=_failed_login, error_message=LOGIN_MESSAGE)
    per_user = limiter.shared_limit(
        lambda: current_app.config["LOGIN_FAILURE_LIMIT_PER_USERNAME"], scope=USER_SCOPE,
        key_func=_user_key, methods=["POST"], exempt_when=_user_limit_exempt,
        deduct_when=_failed_login, error_message=LOGIN_MESSAGE)
    signup = limiter.shared_limit(
        lambda: current_app.config["SIGNUP_RATE_LIMIT"], scope="signup",
        key_func=get_remote_address, methods=["POST"], error_message=SIGNUP_MESSAGE)
    for name in (FORM_VIEW, API_VIEW):
        pair(app.blueprints[name])
        per_user(app.blueprints[name])
    for name in ("SignupView", "SignupApi"):
        signup(app.blueprints[name])
    app.before_request(_refuse_malformed_api_login)
    app.after_request(_warn_while_storage_is_down)


# --- who is trying ----------------------------------------------------------------


def _username() -> str:
    """The username tried, normalised. Never raises: Flask-Limiter takes any error in
    a key function for an unreachable storage and would fall back to per-process
    counting for everyone (an unreadable body is refused later, by its view)."""
    try:
        if request.endpoint == API_LOGIN:
            body = request.get_json(silent=True)
            value = body.get("username") if isinstance(body, dict) else None
        else:
            value = request.form.get("username")
    except Exception:   # noqa: BLE001 - a body too big, too deep or not stored
        value = None
    value = value.strip().lower()[:64] if isinstance(value, str) else ""
    return value or "-"   # Flask-Limiter skips a limit whose key is empty


def _pair_key() -> str:
    return f"{_username()}|{get_remote_address()}"


def _user_key() -> str:
    return _username()


def _not_a_login() -> bool:
    return request.endpoint not in LOGIN_ENDPOINTS   # logout, refresh: not throttled


def _user_limit_exempt() -> bool:
    """The username limit is for addresses that have been failing for this username."""
    if _not_a_login():
        return True
    limiter = current_app.extensions["login_throttle"]
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX")
    args = [prefix] if prefix else []
    args += [_pair_key(), PAIR_SCOPE]
    return all(
        limiter.limiter.get_window_stats(item, *args).remaining >= item.amount
        for item in parse_many(current_app.config["LOGIN_FAILURE_LIMIT"]))


def _failed_login(response) -> bool:
    """Counted only when a real attempt did not log anybody in."""
    if response.status_code in (400, 429) or response.status_code >= 500:
        return False
    if request.endpoint == API_LOGIN:
        return response.status_code == 401
    return not current_user.is_authenticated


def _refuse_malformed_api_login():
    """FAB answers a body without ``provider`` with a 500: refuse it before."""
    if request.method != "POST" or request.endpoint != API_LOGIN:
        return None
    try:
        body = request.get_json(silent=True)
    except RecursionError:   # JSON nested too deep for the parser
        body = None
    if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) and body.get(k) for k in ("username", "password")
    ) or body.get("provider") != "db":
        return jsonify(message="Informe username, password e provider \"db\"."), 400
    return None


# --- the 429 and the storage ---------------------------------------------------------


def retry_after_seconds() -> int:
    """Seconds until the limit that refused this request lets one more through."""
    try:
        limit = current_app.extensions["login_throttle"].current_limit
    except Exception:   # noqa: BLE001 - storage unreachable: a sane default
        limit = None
    if limit is None:
        return 60
    return max(1, int(limit.reset_at - time.time()))


def wait_phrase(seconds: int) -> str:
    if seconds < 90:
        return f"Tente novamente em {seconds} segundo{'s' if seconds != 1 else ''}."
    minutes = -(-seconds // 60)
    return f"Tente novamente em {minutes} minutos."


def storage_reachable(app) -> bool:
    """Whether the counters' storage answers (always true for ``memory://``)."""
    limiter = app.extensions["login_throttle"]
    try:
        return bool(limiter.storage.check())
    except Exception:   # noqa: BLE001
        return False


_last_warning = {"at": 0.0}


def _warn_while_storage_is_down(response):
    """Flask-Limiter warns once when it falls back to memory; operators need to hear
    it while it lasts: one warning a minute per process. (``_storage_dead`` is
    Flask-Limiter 4.1's own flag for that state; the version is pinned.)"""
    limiter = current_app.extensions["login_throttle"]
    if getattr(limiter, "_storage_dead", False):
        now = time.monotonic()
        if now - _last_warning["at"] >= STORAGE_WARNING_EVERY:
            _last_warning["at"] = now
            log.warning("rate-limit storage unreachable: login and sign-up limits are "
                        "counted per process until it answers again")
    return response


# --- start-up check ---------------------------------------------------------------

WORKERS_RE = re.compile(r"^(?:-w|--workers)(?:=?(\d+))?$")


def declared_workers(environ, argv) -> int:
    """How many worker processes this server was started with, as far as the process
    can tell: ``WEB_CONCURRENCY`` (gunicorn's default worker count, and the README's
    recipe), else ``-w N`` / ``--workers N`` in ``GUNICORN_CMD_ARGS`` or in gunicorn's
    own command line."""
    value = (environ.get("WEB_CONCURRENCY") or "").strip()
    if value.isdigit():
        return int(value)
    words = shlex.split(environ.get("GUNICORN_CMD_ARGS") or "")
    if argv and argv[0].endswith("gunicorn"):
        words += list(argv[1:])
    for index, word in enumerate(words):
        match = WORKERS_RE.match(word)
        if not match:
            continue
        number = match.group(1) or (words[index + 1] if index + 1 < len(words) else "")
        if str(number).isdigit():
            return int(number)
    return 1


def warn_if_limits_are_per_process(config, environ, argv) -> bool:
    """Production with several workers and ``memory://``: each worker keeps its own
    counters, so every limit is multiplied by the number of workers."""
    if config.get("APP_ENV") != "production":
        return False
    if not str(config.get("RATELIMIT_STORAGE_URI", "")).startswith("memory://"):
        return False
    workers = declared_workers(environ, argv)
    if workers <= 1:
        return False
    log.warning("RATELIMIT_STORAGE_URI=memory:// with %s workers: each worker counts "
                "failed logins and sign-ups on its own, so every limit is %s times "
                "looser; set RATELIMIT_STORAGE_URI=redis://...", workers, workers)
    return True
