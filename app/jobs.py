"""Periodic background jobs: one loop, each job with its own interval.

Jobs register themselves with ``periodic(seconds)``; `make run` runs the loop on a
thread beside the web server, production runs `flask jobs` as separate processes
(the jobs are safe to run in several processes at once).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)

_JOBS: list[tuple[float, Callable]] = []


def periodic(seconds: float):
    def decorator(func):
        _JOBS.append((seconds, func))
        return func

    return decorator


def _load_jobs() -> None:
    """Import the modules that declare jobs (kept here so the loop knows them all)."""
    import importlib

    for module in ("app.workflow", "app.notifications", "app.reports"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise


def run_forever(app, stop: threading.Event | None = None, tick: float = 1.0) -> None:
    _load_jobs()
    next_run = {func: 0.0 for _, func in _JOBS}
    while stop is None or not stop.is_set():
        now = time.monotonic()
        for seconds, func in _JOBS:
            if now >= next_run[func]:
                next_run[func] = now + seconds
                with app.app_context():
                    try:
                        func()
                    except Exception:  # a failing job must not stop the others
                        log.exception("job %s failed", func.__name__)
                    finally:
                        from app.extensions import db

                        db.session.remove()
        time.sleep(tick)
