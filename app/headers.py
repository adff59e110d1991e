"""Security headers of every response: a nonce-based Content-Security-Policy, HSTS in
production, and the usual ``nosniff`` / ``Referrer-Policy`` / ``X-Frame-Options``.

Scripts: ``script-src 'self' 'nonce-<per request>'``, no ``'unsafe-inline'`` nor
``'unsafe-eval'``. Every script of a server-rendered page is either a file under
``/static`` or carries the request's nonce: FAB's own templates already write
``nonce="{{ baselib.get_nonce() }}"`` on theirs (it calls ``csp_nonce()`` when the
template can see it, which ``install`` provides), ours do the same, and the Painel's
page (Dash's index) gets it on Dash's one inline renderer script
(``dashboards/painel.py``). JSON data islands (``<script type="application/json">``)
are not executed and need none.

Styles keep ``'unsafe-inline'``: FAB's widgets, Dash's components and plotly set
``style`` attributes and inject ``<style>`` elements at run time (plotly's
``Plotly.setPlotConfig`` stylesheet, react-select, the date picker); a style cannot
run code, so this is the one looser directive, on every page, the Painel included.

``/painel/`` gets exactly the same policy: Dash 4's renderer, its component bundles
and plotly 7 (bar charts, served locally) need neither ``'unsafe-eval'`` nor inline
scripts beyond the renderer's one, which carries the nonce. Checked with no CSP
violation in Chromium, charts drawn, by ``tests/test_browser_csp.py``; a plotly trace
type that compiles code (WebGL ``*gl`` traces) would need ``'unsafe-eval'`` there.

Responses that set their own policy (downloads: ``sandbox``) keep it.
"""
from __future__ import annotations

import secrets

from flask import Flask, g

HSTS = "max-age=31536000; includeSubDomains"


def nonce() -> str:
    """This request's script nonce (made on first use)."""
    value = g.get("csp_nonce")
    if value is None:
        value = g.csp_nonce = secrets.token_urlsafe(18)
    return value


def policy(script_nonce: str) -> str:
    directives = [
        "default-src 'self'",
        f"script-src 'self' 'nonce-{script_nonce}'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
    ]
    return "; ".join(directives)


def install(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = nonce
    production = app.config.get("APP_ENV") == "production"

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", policy(nonce()))
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if production:
            # Behind HTTPS only (production): browsers then refuse plain HTTP for a year.
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
