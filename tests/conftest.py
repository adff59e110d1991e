"""Fixtures: one app per database backend (SQLite and a real PostgreSQL), the schema
built by the real Alembic migration, every table emptied between tests, and one member
per profile in two accounts so tests can try to cross between them.

Every test that takes ``app`` (directly or through another fixture) runs on both
backends, except browser tests (once, on PostgreSQL, unless marked ``both_backends``:
see ``pytest_generate_tests``). PostgreSQL is started on loopback by ``tests/pgserver.py``; if it cannot
start, the run fails (it is never skipped).
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.pgserver import PostgresServer  # noqa: E402
from tests.redisserver import RedisServer  # noqa: E402
from tests.s3server import s3_server  # noqa: E402,F401 - the session fixture (moto on loopback)

PASSWORD = "senha-de-teste-123"
KEEP_TABLES = {"ab_permission", "ab_view_menu", "ab_permission_view", "ab_role",
               "ab_permission_view_role", "alembic_version"}


def pytest_addoption(parser):
    parser.addoption("--backend", action="append", default=[],
                     help="sqlite and/or postgresql (default: both)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "both_backends: a browser test that runs on SQLite and PostgreSQL alike")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("backend") or ["sqlite", "postgresql"]
        if "browser" in metafunc.fixturenames and len(chosen) > 1 \
                and metafunc.definition.get_closest_marker("both_backends") is None:
            # A screen draws the same on both backends: what differs (SQL, types, limits)
            # is below the HTTP answer, and every route runs on both backends in the route
            # matrix, the no-5xx sweeps and the API and portal tests. So a browser test
            # runs once, on PostgreSQL (production's database), unless it is marked
            # ``both_backends`` (the requester-attendant journey, the seed's whole flow).
            chosen = ["postgresql"]
        metafunc.parametrize("backend", chosen, scope="session")


@pytest.fixture(scope="session")
def pg_server():
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server():
    """Debian's redis-server on loopback, started once for the run if a test asks."""
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def imap_server():
    """Debian's Dovecot on loopback (tests/imapserver.py), once for the run if asked."""
    from tests.imapserver import ImapServer

    server = ImapServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(backend, request, tmp_path_factory):
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "test.db"
        return f"sqlite:///{path}"
    server = request.getfixturevalue("pg_server")
    return server.create_database("gestor_test")


def test_config(database_url: str, upload_dir: str) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key-with-at-least-32-bytes!!",
        "WTF_CSRF_ENABLED": False,
        "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "UPLOAD_FOLDER": upload_dir,
        "MAIL_SUPPRESS_SEND": False,
        "SERVER_NAME": None,
        "BASE_URL": "http://127.0.0.1:8080",  # required under APP_ENV=production
    }


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    from flask_migrate import upgrade

    from app import create_app
    from app.security import sync_roles_and_permissions

    upload_dir = str(tmp_path_factory.mktemp("uploads"))
    application = create_app(test_config(database_url, upload_dir))
    with application.app_context():
        upgrade()
        sync_roles_and_permissions(application.appbuilder)
    return application


@pytest.fixture(autouse=True)
def _clean_database(request):
    """Empty every business table after each test that used the app."""
    yield
    if "app" not in request.fixturenames:
        return
    application = request.getfixturevalue("app")
    from flask_appbuilder import Model

    from app.extensions import db

    with application.app_context():
        db.session.remove()
        tables = [t for t in reversed(Model.metadata.sorted_tables) if t.name not in KEEP_TABLES]
        engine = db.engine
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    "TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables)
                    + " RESTART IDENTITY CASCADE"
                )
            else:
                for table in tables:
                    conn.execute(table.delete())
        throttle = application.extensions["login_throttle"]
        throttle.storage.reset()
    upload_dir = application.config["UPLOAD_FOLDER"]
    for name in os.listdir(upload_dir):
        os.remove(os.path.join(upload_dir, name))


@pytest.fixture
def db_session(app):
    from app.extensions import db

    with app.app_context():
        yield db.session


@dataclass
class World:
    """An account with one member per profile, its sectors, departments, services."""

    account_id: int
    users: dict = field(default_factory=dict)     # profile -> user id
    sectors: dict = field(default_factory=dict)
    departments: dict = field(default_factory=dict)
    services: dict = field(default_factory=dict)


# --- world snapshots -----------------------------------------------------------------
# Building a world through the product's own functions (sign-up, members with hashed
# passwords, departments, services: ~15 commits) costs 0.2-0.6 s, and nearly every test
# of the suite builds one per backend. The first build of a prefix on a database, from a
# given state, is real; its rows are kept and later builds from the same state insert
# the same rows, with their dates moved to now, in one statement per table. The rows are
# what the product wrote, so a test sees exactly what a fresh build gives.

_WORLD_ROWS: dict = {}


def _business_tables():
    from flask_appbuilder import Model

    return [t for t in Model.metadata.sorted_tables if t.name not in KEEP_TABLES]


def _state(conn, tables) -> tuple:
    """Rows per business table (and the largest id): equal states build equal worlds."""
    from sqlalchemy import func, literal, select, union_all

    parts = [select(literal(t.name).label("t"), func.count().label("n"),
                    (func.max(t.c.id) if "id" in t.c else literal(0)).label("m"))
             .select_from(t) for t in tables]
    return tuple(sorted(tuple(r) for r in conn.execute(union_all(*parts))))


def _rows(conn, tables) -> dict:
    from sqlalchemy import select

    return {t.name: [tuple(r) for r in conn.execute(select(t))] for t in tables}


def _restore_world(app, rows_by_table: dict, taken_at) -> None:
    import datetime as dt

    from sqlalchemy import DateTime, text

    from app.extensions import db

    shift = dt.datetime.now(dt.timezone.utc) - taken_at
    tables = _business_tables()
    with app.app_context():
        engine = db.engine
        with engine.begin() as conn:
            for table in tables:
                rows = rows_by_table.get(table.name)
                if not rows:
                    continue
                columns = list(table.c)
                moved = [{c.name: (v + shift if isinstance(c.type, DateTime) and v is not None
                                   else v) for c, v in zip(columns, row)} for row in rows]
                conn.execute(table.insert(), moved)
                if engine.dialect.name == "postgresql" and "id" in table.c:
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                        f"(SELECT max(id) FROM \"{table.name}\"))"))
        db.session.remove()


def build_world(app, prefix: str) -> World:
    import datetime as dt

    from app.extensions import db

    tables = _business_tables()
    with app.app_context():
        with db.engine.connect() as conn:
            before = _state(conn, tables)
            key = (app.config["SQLALCHEMY_DATABASE_URI"], prefix, before)
            kept = _WORLD_ROWS.get(key)
            old_rows = None if kept else _rows(conn, tables)
        db.session.remove()
    if kept:
        world, rows, taken_at = kept
        _restore_world(app, rows, taken_at)
        return World(account_id=world.account_id, users=dict(world.users),
                     sectors=dict(world.sectors), departments=dict(world.departments),
                     services=dict(world.services))
    taken_at = dt.datetime.now(dt.timezone.utc)
    world = _build_world(app, prefix)
    with app.app_context():
        with db.engine.connect() as conn:
            new_rows = _rows(conn, tables)
        db.session.remove()
    added = {}
    for name, rows in new_rows.items():
        old = set(old_rows[name])
        added[name] = [r for r in rows if r not in old]
    _WORLD_ROWS[key] = (world, added, taken_at)
    return world


def _build_world(app, prefix: str) -> World:
    from app import accounts, structure
    from app.extensions import db
    from app.tenancy import account_scope

    with app.app_context():
        account, admin = accounts.signup(f"Empresa {prefix}", f"Admin {prefix}",
                                         f"{prefix}_admin", f"admin@{prefix}.example", PASSWORD)
        world = World(account_id=account.id, users={"admin": admin.id})
        with account_scope(account.id):
            for name in ("Financeiro", "Operações"):
                world.sectors[name] = structure.save_sector(None, {"name": name}).id
            profiles = {
                "requester": ["requester"], "requester2": ["requester"],
                "attendant": ["attendant"], "attendant2": ["attendant"],
                "attendant_other": ["attendant"], "manager": ["manager"],
            }
            for key, codes in profiles.items():
                member = accounts.create_member({
                    "first_name": key.capitalize(), "last_name": prefix,
                    "username": f"{prefix}_{key}", "email": f"{key}@{prefix}.example",
                    "password": PASSWORD, "sector_id": world.sectors["Financeiro"],
                    "profiles": codes,
                })
                world.users[key] = member.id
            ti = structure.save_department(None, {
                "name": "TI", "attendant_ids": [world.users["attendant"],
                                                world.users["attendant2"]]})
            rh = structure.save_department(None, {
                "name": "RH", "attendant_ids": [world.users["attendant_other"]]})
            world.departments = {"TI": ti.id, "RH": rh.id}
            world.services["Acesso"] = structure.save_service(None, {
                "name": "Acesso", "department_id": ti.id, "sla_hours": 8,
                "sla_hours_by_priority": {"urgent": 2}}).id
            world.services["Férias"] = structure.save_service(None, {
                "name": "Férias", "department_id": rh.id, "sla_hours": 48}).id
        db.session.remove()
    return world


@pytest.fixture
def world(app):
    return build_world(app, "alfa")


@pytest.fixture
def other_world(app, world):
    return build_world(app, "beta")


def token_for(app, user_id: int, refresh: bool = False):
    """An access token (or {"access_token", "refresh_token"} with ``refresh``) of a new
    API session of the member, as POST /api/v1/security/login would give."""
    from app import sessions
    from app.extensions import db
    from app.models import Member

    with app.app_context():
        member = db.session.get(Member, user_id)
        tokens = sessions.issue_tokens(member, refresh=refresh)
        db.session.remove()
    return tokens if refresh else tokens["access_token"]


class ApiClient:
    """A test client that speaks JSON with a bearer token of one member."""

    def __init__(self, app, user_id: int | None):
        self.app = app
        self.client = app.test_client()
        self.token = None
        if user_id is not None:
            self.token = token_for(app, user_id)

    def _headers(self, headers=None):
        result = dict(headers or {})
        if self.token:
            result["Authorization"] = f"Bearer {self.token}"
        return result

    def get(self, url, **kw):
        return self.client.get(url, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, url, json=None, **kw):
        return self.client.post(url, json=json, headers=self._headers(kw.pop("headers", None)),
                                **kw)

    def put(self, url, json=None, **kw):
        return self.client.put(url, json=json, headers=self._headers(kw.pop("headers", None)),
                               **kw)

    def delete(self, url, **kw):
        return self.client.delete(url, headers=self._headers(kw.pop("headers", None)), **kw)


@pytest.fixture
def api(app):
    """api(user_id) -> ApiClient; api(None) is anonymous."""
    return lambda user_id: ApiClient(app, user_id)


def login_browser_client(app, username: str, password: str = PASSWORD):
    client = app.test_client()
    response = client.post("/login/", data={"username": username, "password": password})
    assert response.status_code == 302, response.data[:300]
    assert "/login" not in response.headers["Location"]
    return client


@pytest.fixture
def web(app):
    """web(username) -> a test client logged in through the real login form."""
    return lambda username: login_browser_client(app, username)


# --- real browser ------------------------------------------------------------------

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--lang=pt-BR"]
# What a Brazilian's browser runs with: screenshots show what users see (dates in the
# pages' own words, the browser's date fields as dd/mm/aaaa, times in Brasília).
BROWSER_CONTEXT = {"locale": "pt-BR", "timezone_id": "America/Sao_Paulo"}
ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "test-artifacts")


@pytest.fixture(scope="session")
def live_server(app):
    """The same app served over real HTTP on loopback, for the browser."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (never Playwright's own download)."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(executable):
        raise RuntimeError("chromium not found: apt-get install -y chromium")
    with sync_playwright() as playwright:
        # LANGUAGE, not --lang, sets chromium's UI language on Linux (with chromium-l10n's
        # pt-BR.pak): the browser's own date fields then read dd/mm/aaaa.
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                              env={**os.environ, "LANGUAGE": "pt_BR"})
        yield instance
        instance.close()


@pytest.fixture
def page_for(browser, live_server):
    """page_for(username) -> a Playwright page logged in through the login form."""
    contexts = []

    def make(username: str, password: str = PASSWORD, *, bypass_csp: bool = False):
        # bypass_csp: Playwright's wait_for_function polls with eval(), which the pages'
        # CSP refuses ('unsafe-eval' is not allowed); tests that need it opt out of the
        # policy, tests/test_browser_csp.py keeps it.
        context = browser.new_context(viewport={"width": 1366, "height": 900},
                                      locale="pt-BR", base_url=live_server,
                                      bypass_csp=bypass_csp,
                                      timezone_id=BROWSER_CONTEXT["timezone_id"])
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        page.goto("/login/")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("input[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "/login" not in page.url, f"login failed for {username}"
        return page

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> str:
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, f"{name}.png")
    page.screenshot(path=path, full_page=True)
    return path
