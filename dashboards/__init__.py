"""The Painel de Atendimentos (Dash), mounted at /painel/ inside the Flask server.

One guard (``before_request``) covers every path under the prefix, Dash's own asset,
layout and callback routes included: wrapping view functions would miss routes Dash
adds itself. It asks FAB for the same permission that shows the menu entry
("Painel" / can_access), so the menu and the door can never disagree:

* anonymous: a page GET is sent to the login with ``next``; anything else gets 401;
* logged in without the permission (requesters, attendants) or without an account
  (the platform operator): 403;
* POSTs (Dash callbacks) are exempt from Flask-WTF's CSRF token, which Dash cannot
  send, and must instead be JSON from the same origin (a cross-site form cannot set
  that content type, and a cross-site fetch carries its own Origin).

Nothing here reads data at import time; the layout is a function of the request.
"""
from __future__ import annotations

from urllib.parse import quote, urlsplit

from flask import current_app, jsonify, redirect, request
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from flask_login import current_user

PREFIX = "/painel/"
PERMISSION = ("can_access", "Painel")
MENU_NAME = "Painel de Atendimentos"


class PainelView(BaseView):
    """The FAB side of the Painel: owns the permission and the menu entry."""

    route_base = "/painel-de-atendimentos"
    class_permission_name = "Painel"
    default_view = "index"

    @expose("/")
    @has_access
    @permission_name("access")
    def index(self):
        return redirect(PREFIX)


def _under_prefix(path: str) -> bool:
    return path == PREFIX.rstrip("/") or path.startswith(PREFIX)


def _is_page(path: str) -> bool:
    rest = path[len(PREFIX):] if path.startswith(PREFIX) else ""
    return not rest.startswith(("_", "assets/", "exportar"))


def _same_origin() -> bool:
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin:
        return False
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" == request.host_url.rstrip("/")


def _deny(status: int, message: str):
    if request.method == "GET" and _is_page(request.path):
        return current_app.response_class(message, status=status, mimetype="text/plain")
    return jsonify(message=message), status


def guard():
    """before_request over every path under /painel/ (see the module docstring)."""
    if not _under_prefix(request.path):
        return None
    if not current_user.is_authenticated:
        if request.method == "GET" and _is_page(request.path):
            return redirect("/login/?next=" + quote(request.full_path.rstrip("?"), safe="/"))
        return jsonify(message="Não autenticado: faça login."), 401
    if not current_app.appbuilder.sm.has_access(*PERMISSION) \
            or getattr(current_user, "account_id", None) is None:
        return _deny(403, "Você não tem permissão para acessar o Painel de Atendimentos.")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        if not request.is_json or not _same_origin():
            return _deny(403, "Requisição recusada: origem ou formato inválido.")
    return None


def init_dashboard(app, appbuilder) -> None:
    from app.extensions import csrf
    from dashboards import export, painel

    appbuilder.add_view(PainelView, MENU_NAME, label=_l("Painel de Atendimentos"),
                        href=PREFIX, icon="fa-chart-bar")
    app.before_request(guard)
    dash_app = painel.PainelDash(
        __name__, server=app, url_base_pathname=PREFIX, serve_locally=True,
        title="Painel de Atendimentos", update_title=None,
        suppress_callback_exceptions=True, compress=False,
    )
    dash_app.layout = painel.layout
    painel.register_callbacks(dash_app)
    export.register(app)
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.startswith(PREFIX):
            csrf.exempt(view)
    app.extensions["painel_dash"] = dash_app
