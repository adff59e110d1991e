"""Periodic background jobs: one loop, each job with its own interval.

Jobs register themselves with ``periodic(seconds)``; `make run` runs the loop on a
thread beside the web server, production runs `flask jobs` as separate processes
(the jobs are safe to run in several processes at once).

Stopping: ``request_stop()`` (SIGTERM and SIGINT in `flask jobs`, see
``install_signal_handlers``) lets the job that is running finish its current unit of
work (the mail sender: the mail in flight; it gives the rest of its batch back) and
ends the loop; the process then exits 0. A database outage is not a crash either: the
failing job waits 2, 4, 8 ... 60 s between tries and logs one line per wait, not a
traceback per run.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from typing import Callable

log = logging.getLogger(__name__)

_JOBS: list[tuple[float, Callable]] = []
_STOP = threading.Event()
DB_BACKOFF_MAX_SECONDS = 60.0


def periodic(seconds: float):
    def decorator(func):
        _JOBS.append((seconds, func))
        return func

    return decorator


def stop_requested() -> bool:
    """True once the process was asked to stop: long jobs check it between units."""
    return _STOP.is_set()


def wait_or_stop(seconds: float) -> bool:
    """Sleep ``seconds`` unless asked to stop first; True when stopping."""
    return _STOP.wait(seconds)


def request_stop(*_args) -> None:
    _STOP.set()


_ON_STOP: list[Callable] = []


def on_stop(func):
    """Run ``func()`` when the loop ends, before ``run_forever`` returns: threads that
    a job started (the mailboxes held in IMAP IDLE) stop and give their work back."""
    _ON_STOP.append(func)
    return func


def install_signal_handlers() -> None:
    """SIGTERM (systemd, a container stop, a deploy) and SIGINT (Ctrl+C) stop the loop
    cleanly instead of killing a job half-way. The handler only sets a flag: a
    blocking call (an SMTP exchange) resumes and completes after it."""
    def handler(signum, _frame):
        if not _STOP.is_set():
            log.info("%s received: finishing the current work, then stopping",
                     signal.Signals(signum).name)
        _STOP.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _load_jobs() -> None:
    """Import the modules that declare jobs (kept here so the loop knows them all)."""
    import importlib

    for module in ("app.workflow", "app.notifications", "app.mail_in.intake",
                   "app.mailbox.poller", "app.reports"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise


def _database_down(error: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError, OperationalError

    return isinstance(error, OperationalError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated)


def run_forever(app, stop: threading.Event | None = None, tick: float = 1.0) -> None:
    """Run every job at its interval until ``stop`` (or ``request_stop()``)."""
    from app.logs import job_context

    _load_jobs()
    next_run = {func: 0.0 for _, func in _JOBS}
    failures = {func: 0 for _, func in _JOBS}

    def stopping() -> bool:
        return _STOP.is_set() or (stop is not None and stop.is_set())

    while not stopping():
        for seconds, func in _JOBS:
            if stopping():
                break
            now = time.monotonic()
            if now < next_run[func]:
                continue
            next_run[func] = now + seconds
            with app.app_context(), job_context(f"{func.__name__}-{uuid.uuid4().hex[:8]}"):
                try:
                    func()
                    if failures[func]:
                        log.info("job %s: database reachable again", func.__name__)
                    failures[func] = 0
                except Exception as error:  # a failing job must not stop the others
                    if _database_down(error):
                        failures[func] += 1
                        wait = min(DB_BACKOFF_MAX_SECONDS, seconds * 2 ** failures[func])
                        next_run[func] = time.monotonic() + wait
                        log.warning("job %s: database unavailable (%s), next try in %.0f s",
                                    func.__name__, error.__class__.__name__, wait)
                    else:
                        log.exception("job %s failed", func.__name__)
                finally:
                    from app.extensions import db

                    try:
                        db.session.remove()
                    except Exception:  # noqa: BLE001 - a dead connection: nothing to keep
                        pass
        if stop is not None:
            stop.wait(tick)
        else:
            _STOP.wait(tick)
    for hook in _ON_STOP:
        try:
            hook()
        except Exception:  # noqa: BLE001 - stopping goes on
            log.exception("stop hook %s failed", getattr(hook, "__name__", hook))
