"""Health endpoints for load balancers and orchestrators (issue 12, item 8).

* ``GET /health/live``: the process answers (no dependency is touched): restart it
  only when this fails.
* ``GET /health/ready``: may this instance take traffic? JSON with one entry per
  dependency, 503 when a required one fails:

  =============  =========  ==========================================================
  check          required   what
  =============  =========  ==========================================================
  database       yes        ``SELECT 1`` on the primary
  storage        yes        ``app.storage.probe()`` (a write and a read), when that
                            module exists
  replica        no         ``DATABASE_REPLICA_URL`` answers and lags at most
                            ``REPLICA_MAX_LAG_SECONDS`` (else the primary serves)
  rate_limits    no         Redis of ``RATELIMIT_STORAGE_URI`` answers (else per-process
                            counting)
  outbox         no         age of the oldest mail waiting, by the database's clock;
                            ``late`` past ``HEALTH_OUTBOX_MAX_AGE_SECONDS`` (900)
  =============  =========  ==========================================================

  ``status`` is ``ok``, ``degraded`` (an optional check failed: still ready, 200) or
  ``unavailable`` (503). The older ``/health`` stays as it was.
"""
from __future__ import annotations

import importlib
import logging
import time

from flask import jsonify
from sqlalchemy import func, select, text

log = logging.getLogger(__name__)


def _timed(check):
    started = time.perf_counter()
    try:
        result = check()
    except Exception as error:  # noqa: BLE001 - a failing check is an answer
        result = {"status": "unavailable", "error": error.__class__.__name__}
    if result is not None:
        result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _database():
    from app.extensions import db

    try:
        db.session.execute(text("SELECT 1"))
        return {"status": "ok"}
    finally:
        db.session.rollback()


def _storage():
    try:
        storage = importlib.import_module("app.storage")
    except ModuleNotFoundError as error:
        if error.name in ("app.storage", "app"):
            return None
        raise
    probe = getattr(storage, "probe", None)
    if probe is None:
        return None
    result = probe()
    if isinstance(result, dict):
        return {"status": "ok", **result}
    return {"status": "ok" if result is not False else "unavailable"}


def _replica(app):
    from app.replica import replica_state

    state = replica_state(app)
    return None if state is None else dict(state.check())


def _rate_limits(app):
    uri = str(app.config.get("RATELIMIT_STORAGE_URI") or "")
    if not uri.startswith(("redis", "rediss")):
        return None
    from app.throttle import storage_reachable

    return {"status": "ok" if storage_reachable(app) else "unavailable"}


def _outbox(app):
    from app.extensions import db
    from app.mailer import db_now
    from app.models import OutboxMail, as_utc
    from app.tenancy import UNSCOPED, account_scope

    try:
        with account_scope(UNSCOPED):
            oldest, waiting = db.session.execute(
                select(func.min(OutboxMail.next_attempt_at), func.count())
                .where(OutboxMail.status == "pending")).one()
            now = db_now()
    finally:
        db.session.rollback()
    age = max(0.0, (now - as_utc(oldest)).total_seconds()) if oldest else 0.0
    limit = float(app.config.get("HEALTH_OUTBOX_MAX_AGE_SECONDS") or 900)
    return {"status": "late" if age > limit else "ok", "waiting": waiting,
            "oldest_seconds": round(age, 1)}


REQUIRED = ("database", "storage")


def register(app) -> None:
    @app.get("/health/live")
    def health_live():
        return jsonify(status="ok")

    @app.get("/health/ready")
    def health_ready():
        checks = {"database": _timed(_database)}
        database_up = checks["database"]["status"] == "ok"
        for name, check in (("storage", _storage), ("replica", lambda: _replica(app)),
                            ("rate_limits", lambda: _rate_limits(app)),
                            ("outbox", (lambda: _outbox(app)) if database_up else None)):
            if check is None:
                continue
            result = _timed(check)
            if result is not None:
                checks[name] = result
        failed = [name for name, c in checks.items() if c["status"] not in ("ok",)]
        if any(name in REQUIRED for name in failed):
            status, code = "unavailable", 503
        elif failed:
            status, code = "degraded", 200
        else:
            status, code = "ok", 200
        if code != 200:
            log.warning("not ready: %s", ", ".join(f"{n}={checks[n]['status']}"
                                                    for n in failed))
        response = jsonify(status=status, checks=checks)
        response.status_code = code
        response.headers["Cache-Control"] = "no-store"
        return response
