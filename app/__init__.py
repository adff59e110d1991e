"""Application factory: extensions, security, tenancy, views, REST API and the Painel."""
from __future__ import annotations

import datetime as dt
import logging
import os
import sys

from flask import Flask, Request, current_app, g, jsonify, render_template, request
from flask_appbuilder import AppBuilder
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, SecurityError

from app.extensions import csrf, db, mail, migrate

log = logging.getLogger(__name__)


class BodyNotStored(HTTPException):
    """The request body could not be spooled to disk (disk full, I/O error)."""

    code = 400
    description = "Não foi possível salvar o arquivo. Tente novamente."


class InvalidCharacters(HTTPException):
    """NUL in a query string, or in a form the generated screens would pass to the
    database as it is (PostgreSQL refuses NUL in text; FAB's own unique validators
    query with the raw value before our checks run)."""

    code = 400
    description = "Os dados enviados contêm caracteres inválidos."


class AppRequest(Request):
    """Werkzeug spools large multipart parts to temporary files while parsing the form;
    when the disk refuses those writes, the request is refused with the same message
    as an upload that cannot be stored, instead of a 500."""

    def _load_form_data(self) -> None:
        try:
            super()._load_form_data()
        except OSError as error:
            log.error("request body could not be spooled: %s", error)
            raise BodyNotStored() from error


def create_app(config: dict | None = None) -> Flask:
    from config import PLATFORM_ROLE, Config

    app = Flask(__name__, instance_relative_config=False)
    app.request_class = AppRequest
    app.config.from_object(Config)
    if config:
        app.config.update(config)
    Config.finalize(app.config)
    from app import logs

    logs.install(app)
    _trust_proxies(app)

    # Decide the tenant scope before anything else looks at the database.
    from app import tenancy

    app.before_request(lambda: tenancy.resolve_request_scope(PLATFORM_ROLE))
    from app import sessions

    sessions.install_ended_session_notice(app)   # "Sua sessão terminou", before any guard

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_project_dir() / "migrations"),
                     render_as_batch=True)
    mail.init_app(app)
    csrf.init_app(app)
    with app.app_context():
        _configure_sqlite(db.engine)

    with app.app_context():
        appbuilder = AppBuilder(base_template="layout.html")
        appbuilder.init_app(app, db.session)
        from app import api, views

        views.register(appbuilder)
        api.register(appbuilder)
        from app import throttle

        throttle.install(app, appbuilder.sm.limiter)
        throttle.warn_if_limits_are_per_process(app.config, os.environ, sys.argv)
        from dashboards import init_dashboard

        init_dashboard(app, appbuilder)
        from app import replica

        replica.install(app, db)  # after the Painel's guard: DATABASE_REPLICA_URL
        for name, blueprint in app.blueprints.items():
            if name.endswith("Api") or name in ("SecurityApi", "OpenApi", "MenuApi"):
                csrf.exempt(blueprint)

    _guard_request_input(app)
    from app import input_guard

    input_guard.install(app)   # JSON depth/size, 64-bit integers, Dash callback bodies
    _register_platform_routes(app)
    from app import health, static_cache

    health.register(app)        # /health/live, /health/ready
    static_cache.install(app)   # versioned static URLs, long-lived cache headers
    _register_error_handlers(app)
    _register_security_headers(app)
    from app import cli

    cli.register(app)
    from app import storage

    storage.init_app(app)    # attachments' backend (local folder or S3), `flask storage`
    return app


def _trust_proxies(app: Flask) -> None:
    """Behind PROXY_FIX_HOPS proxies, the client address, scheme, host and port are the
    ones the outermost trusted proxy saw (X-Forwarded-*): throttles count people, not
    the load balancer. Values a client forges beyond those hops are ignored; a forged
    Host that gets through is refused by TRUSTED_HOSTS (Flask checks it on every
    request)."""
    hops = app.config["PROXY_FIX_HOPS"]
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,
                                x_port=hops)
    if app.config.get("APP_ENV") == "production" and not app.config.get("TRUSTED_HOSTS"):
        log.warning("TRUSTED_HOSTS is not set: any Host header is accepted")


def _configure_sqlite(engine) -> None:
    """SQLite: enforce foreign keys (the composite keys hold tenancy rules) and use WAL
    (synchronous=NORMAL) with a busy timeout so concurrent writers wait instead of
    failing."""
    if engine.dialect.name != "sqlite":
        return
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # WAL's recommended durability: commits no longer wait for an fsync (the WAL is
        # synced at checkpoints), and a crash can lose only the last commits, never
        # corrupt the database (sqlite.org/pragma.html#pragma_synchronous).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def _project_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


FAB_PAGE_ARGS = ("page_", "psize_")
FAB_MAX_PAGE_SIZE = 100


def _guard_request_input(app: Flask) -> None:
    """What FAB and our views would pass straight to the database, checked once per
    request before any view runs (each of these was a 500, or worse):

    * an id in a path (ours are ``<int:...>``, FAB's ``<pk>`` is text) beyond what an
      INTEGER column holds names no row: 404 (SQLite raised OverflowError);
    * no NUL in the query string, nor in a form of FAB's generated screens
      (PostgreSQL refuses NUL in text; FAB's search filters and unique validators
      passed it on before our own checks): InvalidCharacters;
    * FAB's list paging arguments (``page_<View>``, ``psize_<View>``) must be small
      whole numbers (FAB calls int() on them and fetches any page size asked for);
    * FAB's list ordering (``_oc_<View>``) must name one of that view's order columns
      (FAB ordered by any column, hidden ones included: ``_oc_MemberView=password``);
    * FAB's ``/<view>/action/<name>`` must name one of the view's actions (FAB
      answered an unknown one with a 500): 404.

    Other refusals are a 400.
    """
    from flask import abort
    from flask_appbuilder.baseviews import BaseCRUDView

    from app.models import MAX_ID

    def crud_view(view_name: str):
        for view in app.appbuilder.baseviews:
            if isinstance(view, BaseCRUDView) and view.__class__.__name__ == view_name:
                return view
        return None

    @app.before_request
    def check_input():
        for key, value in (request.view_args or {}).items():
            if isinstance(value, str) and key == "pk" and value.isdigit():
                value = int(value)
            if isinstance(value, int) and not 0 <= value <= MAX_ID:
                abort(404)
        for key, value in request.args.items(multi=True):
            if "\x00" in key or "\x00" in value:
                raise InvalidCharacters()
            if key.startswith(FAB_PAGE_ARGS):
                limit = FAB_MAX_PAGE_SIZE if key.startswith("psize_") else MAX_ID
                if not (value.isdigit() and int(value) <= limit):
                    abort(400)
            elif key.startswith("_oc_"):
                view = crud_view(key[len("_oc_"):])
                if view is None or value not in (view.order_columns or ()):
                    abort(400)
        endpoint = request.endpoint or ""
        view = getattr(app.view_functions.get(endpoint), "__self__", None)
        if not isinstance(view, BaseCRUDView):
            return   # our views and the REST API (its own /ticket/<id>/<action>)
        if request.method == "POST" and any(
                "\x00" in key or "\x00" in value
                for key, value in request.form.items(multi=True)):
            raise InvalidCharacters()
        if endpoint.endswith((".action", ".action_post")):
            name = (request.view_args or {}).get("name") if endpoint.endswith(".action") \
                else request.form.get("action")
            if name not in view.actions:
                abort(404)


def _register_platform_routes(app: Flask) -> None:
    from app.throttle import storage_reachable

    @app.get("/health")
    def health():
        """200 while the database answers. Rate limits that fell back to per-process
        counting (Redis down) still serve, but say so: "degraded"."""
        try:
            db.session.execute(text("SELECT 1"))
        except DBAPIError:
            db.session.rollback()
            return jsonify(status="unavailable"), 503
        if storage_reachable(app):
            return jsonify(status="ok", rate_limits="ok")
        return jsonify(status="degraded", rate_limits="unavailable")


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


# (title, message) of the HTTP errors that have no page of their own, in pt-BR.
HTTP_ERRORS = {
    400: ("Requisição inválida", "Os dados enviados não puderam ser lidos."),
    401: ("Acesso restrito", "Entre com seu usuário e senha para continuar."),
    403: ("Acesso negado", "Seu perfil não tem permissão para isto."),
    404: ("Página não encontrada", "O endereço não existe ou não está disponível para você."),
    405: ("Operação não permitida", "Este endereço não aceita esta operação."),
}
CSRF_MESSAGE = ("O formulário expirou ou não veio desta página. Recarregue a página e "
                "tente de novo.")


def _error_page(code: int, title: str, message: str):
    """JSON for the API, the site's layout for people; a plain text when even the
    layout cannot be drawn (an error while drawing an error)."""
    if _wants_json():
        return jsonify(message=message), code
    try:
        if not hasattr(g, "user"):
            # Refused before FAB's before_request set it (CSRF runs first).
            from flask_login import current_user

            g.user = current_user
        appbuilder = current_app.appbuilder
        return render_template("error.html", appbuilder=appbuilder,
                               base_template=appbuilder.base_template, code=code,
                               title=title, message=message), code
    except Exception:   # noqa: BLE001 - the answer must not become a 500
        db.session.rollback()
        log.exception("error page could not be rendered")
        return message, code


def _unavailable_page(message: str):
    """The 503 page in the site's layout, drawn without the database (it is the one
    that is down): no user is loaded, no menu permission checked, no context
    processor run; a plain text only if even that fails."""
    try:
        from flask import session
        from flask_login import AnonymousUserMixin

        anonymous = AnonymousUserMixin()
        g._login_user = anonymous  # Flask-Login: never call the user loader now
        appbuilder = current_app.appbuilder
        html = current_app.jinja_env.get_template("unavailable.html").render(
            appbuilder=appbuilder, base_template=appbuilder.base_template, code=503,
            title="Serviço indisponível", message=message, request=request,
            session=session, g=g, current_user=anonymous, config=current_app.config)
        return html, 503, {"Retry-After": "30"}
    except Exception:   # noqa: BLE001 - the answer must not become a 500
        log.exception("503 page could not be rendered")
        return message, 503, {"Retry-After": "30"}


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        return _error_page(400, "Formulário expirado", CSRF_MESSAGE)

    from dash.exceptions import DependencyException

    @app.errorhandler(DependencyException)
    def dash_asset_not_found(error):
        """Dash raises (a 500) for an asset path of a library it does not serve."""
        return _error_page(404, *HTTP_ERRORS[404])

    @app.errorhandler(HTTPException)
    def http_error(error):
        """Werkzeug's own pages are in English; every HTTP error without a handler of
        its own answers in Portuguese."""
        title, message = HTTP_ERRORS.get(
            error.code, ("Não foi possível atender", "Não foi possível atender a "
                         "requisição."))
        return _error_page(error.code or 500, title, message)

    @app.errorhandler(OperationalError)
    def database_unavailable(error):
        db.session.rollback()
        log.error("database unavailable: %s", error.__class__.__name__)
        message = "Serviço temporariamente indisponível. Tente novamente em instantes."
        if _wants_json():
            return jsonify(message=message), 503, {"Retry-After": "30"}
        return _unavailable_page(message)

    @app.errorhandler(InvalidCharacters)
    def invalid_characters(error):
        return _error_page(error.code, "Caracteres inválidos", error.description)

    @app.errorhandler(BodyNotStored)
    def body_not_stored(error):
        return _error_page(error.code, "Arquivo não salvo", error.description)

    @app.errorhandler(413)
    def too_large(error):
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if limit and request.content_length is not None and request.content_length <= limit:
            # Within the size limit: Werkzeug refused the number of parts (max_form_parts).
            message = "O formulário enviado tem campos demais."
        else:
            message = f"Arquivo maior que o limite de {current_app.config['MAX_UPLOAD_MB']} MB."
        return _error_page(413, "Envio grande demais", message)

    @app.errorhandler(SecurityError)
    def untrusted_host(error):
        """A Host (or trusted X-Forwarded-Host) outside TRUSTED_HOSTS."""
        return _error_page(400, "Endereço não reconhecido",
                           "Este endereço não pertence a este site.")

    @app.errorhandler(429)
    def too_many(error):
        """Every limit answers in Portuguese and says when to try again."""
        from flask_limiter.errors import RateLimitExceeded

        from app.throttle import retry_after_seconds, wait_phrase

        if isinstance(error, RateLimitExceeded):
            seconds, first = retry_after_seconds(), error.description
        else:   # a 429 of its own (a quota): its retry_after, when it has one
            retry = getattr(error, "retry_after", None)
            seconds = (max(1, int((retry - dt.datetime.now(dt.timezone.utc)).total_seconds()))
                       if isinstance(retry, dt.datetime) else int(retry or 60))
            first = getattr(error, "quota_message", None) or "Muitas requisições."
        response = _error_page(429, "Muitas tentativas", f"{first} {wait_phrase(seconds)}")
        response = current_app.make_response(response)
        response.headers.setdefault("Retry-After", str(seconds))
        return response

    @app.errorhandler(500)
    def internal(error):
        db.session.rollback()
        message = "Erro interno. A equipe foi avisada; tente novamente."
        if _wants_json():
            return jsonify(message=message), 500
        return message, 500


def _register_security_headers(app: Flask) -> None:
    """Nonce-based CSP, HSTS in production, nosniff and friends: app/headers.py."""
    from app import headers

    headers.install(app)
