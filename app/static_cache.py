"""Cache headers for static files (ours under /static/, FAB's under /static/appbuilder/).

Every ``url_for('static', ...)`` / ``url_for('appbuilder.static', ...)`` gets
``?v=<first 12 hex digits of the file's SHA-256>``. A request whose ``v`` is the file's
current hash is answered ``Cache-Control: public, max-age=31536000, immutable`` (a new
deploy changes the hash, so the URL); any other static request (no ``v``, an old one)
gets a short ``public, max-age=STATIC_MAX_AGE_SECONDS`` (300). The ETag is the content
hash too, the same on every host (Werkzeug's own is built from the file's mtime, which
differs between hosts of one deploy), and ``If-None-Match`` answers 304.

A page builds ~20 static URLs: each file's resolved path is kept per process, and its
hash is re-checked against the file's size and mtime at most once per ``RECHECK``
seconds (two ``realpath`` and a ``stat`` per URL were ~13% of a list page's time).
"""
from __future__ import annotations

import functools
import hashlib
import os
import threading
import time

from flask import request

YEAR = 365 * 24 * 3600
RECHECK = 2.0       # seconds a file's hash is trusted before its stat is read again
STATIC_ENDPOINTS = {"static": None, "appbuilder.static": "appbuilder"}


class _Hashes:
    def __init__(self):
        # path -> (mtime, size, hash, checked at)
        self._cache: dict[str, tuple[float, int, str, float]] = {}
        self._lock = threading.Lock()

    def of(self, path: str) -> str | None:
        now = time.monotonic()
        cached = self._cache.get(path)
        if cached and now - cached[3] < RECHECK:
            return cached[2]
        try:
            stat = os.stat(path)
        except OSError:
            return None
        if cached and cached[:2] == (stat.st_mtime, stat.st_size):
            self._cache[path] = (*cached[:3], now)
            return cached[2]
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(65536), b""):
                digest.update(chunk)
        value = digest.hexdigest()[:12]
        with self._lock:
            self._cache[path] = (stat.st_mtime, stat.st_size, value, now)
        return value


def install(app) -> None:
    hashes = _Hashes()

    def folder(endpoint: str) -> str | None:
        blueprint = STATIC_ENDPOINTS.get(endpoint)
        if blueprint is None:
            return app.static_folder
        found = app.blueprints.get(blueprint)
        return found.static_folder if found is not None else None

    @functools.lru_cache(maxsize=4096)
    def resolve(endpoint: str, filename: str) -> str | None:
        """The file's real path inside its static folder, None outside it (``..``, a
        link out); kept per process (the names the templates use, and those asked
        for, bounded)."""
        base = folder(endpoint)
        if not base:
            return None
        path = os.path.realpath(os.path.join(base, filename))
        return path if path.startswith(os.path.realpath(base) + os.sep) else None

    def version(endpoint: str, filename: str | None) -> str | None:
        if not filename:
            return None
        path = resolve(endpoint, filename)
        return hashes.of(path) if path else None

    @app.url_defaults
    def add_version(endpoint, values):
        if endpoint in STATIC_ENDPOINTS and "v" not in values:
            value = version(endpoint, values.get("filename"))
            if value:
                values["v"] = value

    @app.after_request
    def static_cache_headers(response):
        endpoint = request.endpoint
        if endpoint not in STATIC_ENDPOINTS or response.status_code not in (200, 304):
            return response
        current = version(endpoint, (request.view_args or {}).get("filename"))
        if current and request.args.get("v") == current:
            response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
        else:
            seconds = int(app.config.get("STATIC_MAX_AGE_SECONDS") or 300)
            response.headers["Cache-Control"] = f"public, max-age={seconds}"
        response.headers.pop("Expires", None)
        if current:
            response.set_etag(current)
            response.make_conditional(request)
        return response
