"""Logs an operator can read across hosts: every line timestamped (UTC, ISO 8601) and
tagged with the request id of the request it belongs to, or the run id of the job.

* ``LOG_FORMAT=json`` (the default under ``APP_ENV=production``): one JSON object a
  line, ``{"ts", "level", "logger", "request_id", "message"}`` (plus ``exc`` with the
  traceback when there is one), for journald / a log shipper;
  ``LOG_FORMAT=text`` (the default elsewhere): the same fields on one readable line.
* ``LOG_LEVEL`` (``INFO``); ``LOG_REQUESTS=0`` drops the access line of each request.
* The request id is the caller's ``X-Request-ID`` when it is a sane token (a proxy or
  load balancer that sets one ties its logs to ours), otherwise a new random one; it
  is echoed in the response's ``X-Request-ID``. Job runs get ``<job>-<random>``.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import re
import sys
import time
import uuid

from flask import g, has_request_context, request

_job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)
VALID_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
HEADER = "X-Request-ID"
_MARK = "_gestor_handler"


def request_id() -> str:
    """The current request's id (made on first use), the job run's, or ``-``."""
    if has_request_context():
        value = g.get("request_id")
        if value is None:
            given = request.headers.get(HEADER, "")
            value = given if VALID_ID.match(given) else uuid.uuid4().hex
            g.request_id = value
        return value
    return _job_id.get() or "-"


@contextlib.contextmanager
def job_context(run_id: str):
    token = _job_id.set(run_id)
    try:
        yield
    finally:
        _job_id.reset(token)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            try:
                record.request_id = request_id()
            except Exception:  # noqa: BLE001 - a log line must never fail
                record.request_id = "-"
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {"ts": _timestamp(record), "level": record.levelname,
                "logger": record.name, "request_id": getattr(record, "request_id", "-"),
                "message": record.getMessage()}
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = (f"{_timestamp(record)} {record.levelname} {record.name} "
                f"[{getattr(record, 'request_id', '-')}] {record.getMessage()}")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(config) -> None:
    """Install one stderr handler on the root logger (once per process): gunicorn's
    workers, `flask jobs` and `make run` all log through it."""
    root = logging.getLogger()
    fmt = (config.get("LOG_FORMAT") or
           ("json" if config.get("APP_ENV") == "production" else "text")).lower()
    formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    level = str(config.get("LOG_LEVEL") or "INFO").upper()
    for handler in root.handlers:
        if getattr(handler, _MARK, False):
            handler.setFormatter(formatter)
            break
    else:
        handler = logging.StreamHandler(sys.stderr)
        setattr(handler, _MARK, True)
        handler.addFilter(RequestIdFilter())
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(getattr(logging, level, logging.INFO))


access_log = logging.getLogger("app.access")


def install(app) -> None:
    """Log set-up, the request id echoed on every response, and one access line per
    request (``LOG_REQUESTS``, on by default): method, path, status, milliseconds."""
    configure(app.config)

    @app.before_request
    def start_clock():
        g._started = time.perf_counter()

    @app.after_request
    def echo_request_id(response):
        response.headers.setdefault(HEADER, request_id())
        if app.config.get("LOG_REQUESTS", True):
            started = g.get("_started")
            elapsed = (time.perf_counter() - started) * 1000 if started else 0.0
            access_log.info("%s %s %s %.1f ms", request.method, request.path,
                            response.status_code, elapsed)
        return response
