"""Configuration read from the environment.

Everything has a zero-set-up default (SQLite under ``instance/``) except what would be
unsafe to default in production: with ``APP_ENV=production`` a missing ``SECRET_KEY`` or
``DATABASE_URL`` stops the start-up with a clear message (checked in ``create_app``, not
at import time, so tooling can import this module freely).
"""
import datetime as dt
import os
import secrets
from pathlib import Path

from flask_appbuilder.const import AUTH_DB

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))

# Profile codes (API) -> FAB role names (UI). The platform operator is FAB's "Admin".
PROFILE_ROLES = {
    "admin": "Administrador",
    "requester": "Solicitante",
    "attendant": "Atendente",
    "manager": "Gestor",
}
PLATFORM_ROLE = "Admin"


def _dev_secret_key() -> str:
    """A key generated once and kept under instance/, so sessions survive restarts."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _crud(view, *, read=True, add=False, edit=False, delete=False):
    perms = []
    if read:
        perms += [[view, "can_list"], [view, "can_show"]]
    if add:
        perms.append([view, "can_add"])
    if edit:
        perms.append([view, "can_edit"])
    if delete:
        perms.append([view, "can_delete"])
    return perms


def _api(view, *, read=True, write=False):
    perms = [[view, "can_get"]] if read else []
    if write:
        perms += [[view, "can_post"], [view, "can_put"], [view, "can_delete"]]
    return perms


def build_fab_roles() -> dict:
    """Exact [view, permission] pairs per profile (FAB also writes them literally)."""
    admin = (
        _crud("SectorView", add=True, edit=True, delete=True)
        + _crud("MemberView", add=True, edit=True, delete=True)
        + _crud("DepartmentView", add=True, edit=True, delete=True)
        + _crud("ServiceView", add=True, edit=True, delete=True)
        + [["AccountView", "can_show"], ["AccountView", "can_renew"], ["AccountView", "can_edit"]]
        + _api("SectorApi", write=True)
        + _api("MemberApi", write=True)
        + _api("DepartmentApi", write=True)
        + _api("ServiceApi", write=True)
        + _api("CannedReplyApi", write=True)
        + _crud("CannedReplyView", add=True, edit=True, delete=True)
        + [["Respostas prontas", "menu_access"]]
        + [["AccountApi", "can_get"], ["AccountApi", "can_renew"], ["AccountApi", "can_put"]]
        + [["NotificationsView", "can_show"], ["NotificationsView", "can_edit"],
           ["NotificationsView", "can_resend"], ["NotificationSettingsApi", "can_get"],
           ["NotificationSettingsApi", "can_put"], ["Notificações", "menu_access"]]
        + [["InboundMailView", "can_show"], ["Mensagens recebidas", "menu_access"]]
        + [["MailboxView", "can_show"], ["MailboxView", "can_edit"],
           ["Caixa de e-mail", "menu_access"], ["MailboxApi", "can_get"],
           ["MailboxApi", "can_put"]]
        + [["Estrutura", "menu_access"], ["Setores", "menu_access"], ["Membros", "menu_access"],
           ["Departamentos", "menu_access"], ["Serviços", "menu_access"],
           ["Conta", "menu_access"], ["Minha conta", "menu_access"]]
    )
    requester = _api("DepartmentApi") + _api("ServiceApi")
    # Attendants PUT only their own "available" (app.accounts.set_own_availability).
    attendant = (_api("DepartmentApi") + _api("ServiceApi") + _api("CannedReplyApi")
                 + [["MemberApi", "can_put"]])
    manager = (
        _api("DepartmentApi") + _api("ServiceApi") + _api("SectorApi") + _api("MemberApi")
    )
    # Ticket screens (app/views/tickets.py, requester.py, attendant.py). Who may act on
    # which ticket is decided by app.workflow; these only open the screens.
    ticket_page = [["TicketView", "can_show"], ["TicketView", "can_download"]]
    ticket_work = ticket_page + [["TicketView", "can_act"], ["TicketView", "can_message"]]
    requester += ticket_work + [
        ["RequesterView", "can_open"], ["RequesterView", "can_list"],
        ["Área do Cliente", "menu_access"], ["Abrir chamado", "menu_access"],
        ["Meus chamados", "menu_access"]]
    attendant += ticket_work + [
        ["AttendantView", "can_queue"], ["AttendantView", "can_list"],
        ["Área do Atendente", "menu_access"], ["Fila", "menu_access"],
        ["Meus atendimentos", "menu_access"]]
    all_tickets = ticket_page + [["TicketView", "can_list"], ["Chamados", "menu_access"]]
    manager += all_tickets
    admin += all_tickets
    painel = [["Painel", "can_access"], ["Painel de Atendimentos", "menu_access"],
              ["PainelApi", "can_get"]]  # dashboards/, app/api/painel.py
    manager += painel
    admin += painel
    # Working-hours calendar (app/api/calendar.py, app/views/calendar.py): the staff
    # whose due times count on it may read it; only administrators change it.
    calendar_read = [["CalendarApi", "can_get"]]
    admin += calendar_read + [["CalendarApi", "can_put"], ["CalendarView", "can_show"],
                              ["CalendarView", "can_edit"],
                              ["Calendário de atendimento", "menu_access"]]
    manager += calendar_read
    # Painel reports by mail (app/reports.py): managers and administrators, own ones.
    reports = ([["ReportSubscriptionApi", p] for p in ("can_get", "can_post", "can_put",
                                                         "can_delete")]
               + [["ReportsView", "can_list"], ["ReportsView", "can_edit"],
                  ["Relatórios por e-mail", "menu_access"]])
    manager += reports + [["Conta", "menu_access"]]
    admin += reports
    attendant += calendar_read
    common = [["ProfileView", "can_show"], ["ProfileView", "can_edit"],  # "Meu perfil"
              ["OpenApi", "can_get"], ["SwaggerView", "can_show"],
              ["TicketApi", "can_get"], ["TicketApi", "can_post"], ["AttachmentApi", "can_get"]]
    return {
        PROFILE_ROLES["admin"]: admin + common,
        PROFILE_ROLES["requester"]: requester + common,
        PROFILE_ROLES["attendant"]: attendant + common,
        PROFILE_ROLES["manager"]: manager + common,
    }


# Spellings of a PostgreSQL URL that mean psycopg2, the driver in requirements.txt.
# SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3, which is not installed,
# and ``postgres://`` (Heroku and many hosting panels) to nothing at all.
PSYCOPG2_SCHEMES = ("postgresql://", "postgres://")


def database_url(uri: str) -> str:
    """The URL SQLAlchemy is given: every documented PostgreSQL spelling on psycopg2;
    any explicit ``postgresql+driver://`` and every other database as written."""
    for scheme in PSYCOPG2_SCHEMES:
        if uri.startswith(scheme):
            return "postgresql+psycopg2://" + uri[len(scheme):]
    return uri


class Config:
    APP_NAME = "Gestor Serviço Empresa"
    APP_THEME = ""
    APP_ENV = os.environ.get("APP_ENV", "development")
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'gestor.db'}"
    )
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    # Flask-AppBuilder: migrations own every table; roles are declared here.
    FAB_CREATE_DB = False
    FAB_UPDATE_PERMS = False  # permissions are written by `flask setup`, after migrations
    FAB_SECURITY_MANAGER_CLASS = "app.security.AccountSecurityManager"
    FAB_ROLES = build_fab_roles()
    FAB_API_SWAGGER_UI = True
    FAB_INDEX_VIEW = "app.views.home.HomeView"
    FAB_ADD_SECURITY_VIEWS = True
    AUTH_TYPE = AUTH_DB
    AUTH_ROLE_ADMIN = PLATFORM_ROLE
    AUTH_ROLE_PUBLIC = "Public"
    AUTH_USER_REGISTRATION = False
    # Throttles (app.throttle), declared on FAB's Flask-Limiter. FAB's own login limit
    # counts every POST of the form per address, successes included, so an office
    # behind one proxy shared ten tries: off, replaced by failure-only limits.
    AUTH_RATE_LIMITED = False
    LOGIN_FAILURE_LIMIT = os.environ.get("LOGIN_FAILURE_LIMIT", "10 per 15 minutes")
    LOGIN_FAILURE_LIMIT_PER_USERNAME = os.environ.get("LOGIN_FAILURE_LIMIT_PER_USERNAME",
                                                      "100 per hour")
    RATELIMIT_ENABLED = True  # FAB defaults its limiter to off
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_STRATEGY = "moving-window"
    RATELIMIT_KEY_PREFIX = "gestor"
    RATELIMIT_HEADERS_ENABLED = True
    # Redis unreachable: count in this process's memory until it answers, never a 500.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True

    # Behind proxies: how many of them to believe (X-Forwarded-For/-Proto/-Host/-Port),
    # and which Host names this site answers to (others: 400). Parsed in finalize.
    PROXY_FIX_HOPS = os.environ.get("PROXY_FIX_HOPS", "0")
    TRUSTED_HOSTS = os.environ.get("TRUSTED_HOSTS") or None
    FAB_PASSWORD_COMPLEXITY_ENABLED = False  # our own rule: >= 10 characters (API.md)

    # Language: Brazilian Portuguese only. The product's own screens are written in
    # pt-BR without a message catalogue, so offering English switched only FAB's few
    # strings and left a mixed page; with one language FAB hides the language menu.
    BABEL_DEFAULT_LOCALE = "pt_BR"
    BABEL_DEFAULT_FOLDER = "translations"
    LANGUAGES = {"pt_BR": {"flag": "br", "name": "Português"}}

    # Sessions and cookies
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # None: Secure under APP_ENV=production (behind HTTPS), not in development (finalize).
    SESSION_COOKIE_SECURE = (None if os.environ.get("SESSION_COOKIE_SECURE") is None
                             else os.environ["SESSION_COOKIE_SECURE"] == "1")
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 8
    # Tokens (app/sessions.py): each names its login's session and dies with it.
    JWT_ACCESS_TOKEN_EXPIRES = dt.timedelta(minutes=15)
    JWT_REFRESH_TOKEN_EXPIRES = dt.timedelta(days=30)
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None

    # Uploads
    UPLOAD_FOLDER = os.environ.get("UPLOAD_FOLDER", str(INSTANCE_DIR / "uploads"))
    MAX_UPLOAD_MB = int(os.environ.get("MAX_UPLOAD_MB", "10"))
    # Where attachments live (app/storage.py): "local" (UPLOAD_FOLDER) or "s3" (any
    # S3-compatible storage: AWS S3, MinIO, Ceph, R2). With "s3", UPLOAD_FOLDER only
    # holds the temp files of uploads being checked. Credentials: AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY, or (unset) boto3's own chain (~/.aws, an instance role).
    ATTACHMENT_STORAGE = os.environ.get("ATTACHMENT_STORAGE", "local")
    S3_BUCKET = os.environ.get("S3_BUCKET")
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL") or None  # unset: AWS itself
    S3_REGION = os.environ.get("S3_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    S3_PREFIX = os.environ.get("S3_PREFIX", "")
    S3_ACCESS_KEY_ID = os.environ.get("AWS_ACCESS_KEY_ID")
    S3_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY")
    S3_ADDRESSING_STYLE = os.environ.get("S3_ADDRESSING_STYLE")  # path | virtual | auto
    S3_CONNECT_TIMEOUT_SECONDS = os.environ.get("S3_CONNECT_TIMEOUT_SECONDS", "3")
    S3_READ_TIMEOUT_SECONDS = os.environ.get("S3_READ_TIMEOUT_SECONDS", "20")
    S3_MAX_ATTEMPTS = os.environ.get("S3_MAX_ATTEMPTS", "3")

    # Mail (Flask-Mail's names)
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "127.0.0.1")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "8025"))
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "0") == "1"
    MAIL_USE_SSL = os.environ.get("MAIL_USE_SSL", "0") == "1"
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Gestor Serviço <nao-responda@gestor.local>")
    MAIL_TIMEOUT_SECONDS = float(os.environ.get("MAIL_TIMEOUT_SECONDS", "10"))
    MAIL_MAX_ATTEMPTS = int(os.environ.get("MAIL_MAX_ATTEMPTS", "5"))  # 5xx: then "failed"
    # Links in e-mails. Required under APP_ENV=production; elsewhere http://HOST:PORT
    # (the address `make run` serves), filled in by finalize.
    BASE_URL = os.environ.get("BASE_URL") or None
    # The sender's tuning (docs/notifications.md; numbers checked in finalize).
    MAIL_BATCH_SIZE = os.environ.get("MAIL_BATCH_SIZE", "50")
    MAIL_LEASE_SECONDS = os.environ.get("MAIL_LEASE_SECONDS", "30")  # renewed every 1/3
    MAIL_RETRY_BASE_SECONDS = os.environ.get("MAIL_RETRY_BASE_SECONDS", "5")
    MAIL_RETRY_MAX_SECONDS = os.environ.get("MAIL_RETRY_MAX_SECONDS", "60")
    MAIL_RETRY_FOR_SECONDS = os.environ.get("MAIL_RETRY_FOR_SECONDS", str(3 * 24 * 3600))
    MAIL_MESSAGE_ID_DOMAIN = os.environ.get("MAIL_MESSAGE_ID_DOMAIN")

    # Operations (app/logs.py, app/health.py, app/replica.py, app/static_cache.py)
    LOG_FORMAT = os.environ.get("LOG_FORMAT")  # json | text (json under production)
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    LOG_REQUESTS = os.environ.get("LOG_REQUESTS", "1") != "0"  # one access line a request
    DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL") or None
    REPLICA_MAX_LAG_SECONDS = os.environ.get("REPLICA_MAX_LAG_SECONDS", "30")
    REPLICA_CHECK_SECONDS = os.environ.get("REPLICA_CHECK_SECONDS", "2")
    HEALTH_OUTBOX_MAX_AGE_SECONDS = os.environ.get("HEALTH_OUTBOX_MAX_AGE_SECONDS", "900")
    STATIC_MAX_AGE_SECONDS = os.environ.get("STATIC_MAX_AGE_SECONDS", "300")
    # Mail coming in (app/mail_in, docs/inbound-mail.md): the domain of the signed reply
    # addresses (none: notifications carry no Reply-To), the bearer token of
    # POST /api/v1/inbound-mail (none: the endpoint refuses everything), the largest
    # mail taken, and mails taken per sender address per hour.
    INBOUND_MAIL_DOMAIN = os.environ.get("INBOUND_MAIL_DOMAIN") or None
    INBOUND_MAIL_TOKEN = os.environ.get("INBOUND_MAIL_TOKEN") or None
    INBOUND_MAIL_MAX_MB = int(os.environ.get("INBOUND_MAIL_MAX_MB", "25"))
    INBOUND_MAIL_PER_HOUR = int(os.environ.get("INBOUND_MAIL_PER_HOUR", "60"))
    # A company's own mailbox over IMAP (app/mailbox, docs/mailbox.md): the key that
    # encrypts its password (default: derived from SECRET_KEY), how often it is polled,
    # and the network timeout of one IMAP connection.
    MAILBOX_SECRET_KEY = os.environ.get("MAILBOX_SECRET_KEY") or None
    MAILBOX_POLL_SECONDS = int(os.environ.get("MAILBOX_POLL_SECONDS", "60"))
    MAILBOX_TIMEOUT_SECONDS = float(os.environ.get("MAILBOX_TIMEOUT_SECONDS", "20"))
    # "1": a mailbox may be on a loopback, private or link-local address (an installation
    # with its own mail server inside); otherwise only internet addresses.
    MAILBOX_ALLOW_PRIVATE_HOSTS = os.environ.get("MAILBOX_ALLOW_PRIVATE_HOSTS", "0") == "1"
    # A PEM file of CAs to trust instead of the system's (an internal mail server's own CA).
    MAILBOX_CA_FILE = os.environ.get("MAILBOX_CA_FILE") or None
    # IMAP IDLE where the server offers it (docs/mailbox.md): "0" polls every mailbox.
    MAILBOX_IDLE = os.environ.get("MAILBOX_IDLE", "1") == "1"
    MAILBOX_IDLE_RENEW_SECONDS = float(os.environ.get("MAILBOX_IDLE_RENEW_SECONDS", "1500"))
    MAILBOX_IDLE_RECONNECT_SECONDS = float(os.environ.get("MAILBOX_IDLE_RECONNECT_SECONDS",
                                                          "5"))
    MAILBOX_IDLE_MAX = int(os.environ.get("MAILBOX_IDLE_MAX", "100"))   # per process
    MAILBOX_FIRST_BACKOFF_SECONDS = float(os.environ.get("MAILBOX_FIRST_BACKOFF_SECONDS",
                                                         "60"))

    # Product rules
    PLAN_TRIAL_DAYS = 30
    SIGNUP_RATE_LIMIT = os.environ.get("SIGNUP_RATE_LIMIT", "30 per hour")
    # "Esqueci minha senha": requests per address and per e-mail (app/views/password_reset.py)
    PASSWORD_RESET_RATE_LIMIT = os.environ.get("PASSWORD_RESET_RATE_LIMIT", "5 per hour")

    @classmethod
    def finalize(cls, config: dict) -> None:
        """Fill secrets and fail fast on unsafe production settings (called by create_app)."""
        if config.get("APP_ENV") == "production":
            missing = [k for k in ("SECRET_KEY",) if not config.get(k)]
            if not os.environ.get("DATABASE_URL") and not config.get("TESTING"):
                missing.append("DATABASE_URL")
            if not config.get("BASE_URL"):
                missing.append("BASE_URL")
            if missing:
                raise RuntimeError(
                    "Configuração incompleta para produção: defina " + ", ".join(missing)
                )
        if config.get("SESSION_COOKIE_SECURE") is None:
            config["SESSION_COOKIE_SECURE"] = config.get("APP_ENV") == "production"
        if not config.get("SECRET_KEY"):
            config["SECRET_KEY"] = _dev_secret_key()
        uri = config["SQLALCHEMY_DATABASE_URI"] = database_url(config["SQLALCHEMY_DATABASE_URI"])
        if uri.startswith("sqlite"):
            INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
            config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}
        config["MAX_CONTENT_LENGTH"] = (config["MAX_UPLOAD_MB"] + 1) * 1024 * 1024
        _finalize_proxies_and_hosts(config)
        _finalize_rate_limits(config)
        _finalize_operations(config)


def _finalize_proxies_and_hosts(config: dict) -> None:
    hops = str(config.get("PROXY_FIX_HOPS") or "0").strip()
    if not hops.isdigit():
        raise RuntimeError("PROXY_FIX_HOPS deve ser um número inteiro (0 = sem proxy).")
    config["PROXY_FIX_HOPS"] = int(hops)
    hosts = config.get("TRUSTED_HOSTS")
    if isinstance(hosts, str):
        hosts = [h.strip() for h in hosts.split(",") if h.strip()]
    # Flask refuses any other Host (400). FAB's login `next` check accepts only the
    # request's own host, which is then one of these.
    config["TRUSTED_HOSTS"] = list(hosts) if hosts else None


def _finalize_rate_limits(config: dict) -> None:
    from limits import parse_many

    for key in ("LOGIN_FAILURE_LIMIT", "LOGIN_FAILURE_LIMIT_PER_USERNAME",
                "SIGNUP_RATE_LIMIT"):
        try:
            parse_many(str(config.get(key)))
        except ValueError:
            raise RuntimeError(f"{key} inválido: use por exemplo \"10 per 15 minutes\".")
    uri = str(config.get("RATELIMIT_STORAGE_URI") or "")
    if uri.startswith(("redis://", "rediss://", "redis+")) \
            and not config.get("RATELIMIT_STORAGE_OPTIONS"):
        # Fail over to the in-memory counts in half a second, not a TCP timeout.
        config["RATELIMIT_STORAGE_OPTIONS"] = {"socket_connect_timeout": 0.5,
                                               "socket_timeout": 0.5}


# Settings that must be numbers: (name, type). Unset stays None (the module's default).
NUMBER_SETTINGS = (
    ("MAIL_BATCH_SIZE", int), ("MAIL_LEASE_SECONDS", float),
    ("MAIL_RETRY_BASE_SECONDS", float), ("MAIL_RETRY_MAX_SECONDS", float),
    ("MAIL_RETRY_FOR_SECONDS", float), ("REPLICA_MAX_LAG_SECONDS", float),
    ("REPLICA_CHECK_SECONDS", float), ("HEALTH_OUTBOX_MAX_AGE_SECONDS", float),
    ("STATIC_MAX_AGE_SECONDS", int),
)


def _finalize_operations(config: dict) -> None:
    for name, kind in NUMBER_SETTINGS:
        value = config.get(name)
        if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
            continue
        try:
            number = kind(str(value).strip())
        except ValueError:
            raise RuntimeError(f"{name} deve ser um número (recebido: {value!r}).")
        if number < 0 or (name in ("MAIL_BATCH_SIZE", "MAIL_LEASE_SECONDS") and number <= 0):
            raise RuntimeError(f"{name} deve ser um número positivo (recebido: {value!r}).")
        config[name] = number
    if not config.get("BASE_URL"):
        host = os.environ.get("HOST", "127.0.0.1")
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        config["BASE_URL"] = f"http://{host}:{os.environ.get('PORT', '8080')}"
    if config.get("DATABASE_REPLICA_URL"):
        config["DATABASE_REPLICA_URL"] = database_url(config["DATABASE_REPLICA_URL"])
