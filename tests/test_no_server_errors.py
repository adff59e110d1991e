"""No 500s: every route of the app (Dash's included), for every profile, with odd path
values, odd query strings and odd bodies, answers something other than 5xx; and the
generated screens refuse NUL in their forms. On both backends: PostgreSQL refuses some
inputs (NUL in text, numbers beyond its types) that SQLite takes, and the other way
round (SQLite overflows on integers beyond 64 bits).

Found by this test and fixed: huge ids in paths and FAB's <pk>, FAB's paging and
ordering arguments, NUL in FAB's search filters and forms, Dash's asset route."""
import re

import pytest

from tests.conftest import PASSWORD, token_for
from tests.helpers import make_ticket

PROFILES = ["alfa_admin", "alfa_manager", "alfa_attendant", "alfa_requester"]
PATH_VALUES = ["1", "0", "9" * 25, "abc"]
QUERIES = ["", "?aba=%3Cscript%3E&pagina=-1&numero=%00", "?q=(((&page=abc&page_size=-5",
           "?start=2026-13-45&end=x&_flt_0_name=%00&page_SectorView=x"]
BODIES = [{}, "junk", {"x": [1], "status": None}]


def _paths(rule: str) -> set[str]:
    paths = set()
    for value in PATH_VALUES:
        path = re.sub(r"<int:[^>]+>", value if value != "abc" else "1", rule)
        path = re.sub(r"<path:[^>]+>", "x/../y.js", path)
        paths.add(re.sub(r"<[^>]+>", value, path))
    return paths


def _user_id(app, username):
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Member

    with app.app_context():
        user_id = db.session.scalar(select(Member.id).where(Member.username == username)
                                    .execution_options(skip_tenancy=True))
        db.session.remove()
    return token_for(app, user_id)


@pytest.mark.parametrize("username", PROFILES)
def test_no_route_answers_5xx_to_odd_input(app, world, username, monkeypatch):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    for state in ("open", "concluded", "closed"):
        make_ticket(app, world, state)
    client = app.test_client()
    client.post("/login/", data={"username": username, "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {_user_id(app, username)}"}
    failures = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/static") or "logout" in rule.rule:
            continue
        for path in _paths(rule.rule):
            headers = bearer if path.startswith("/api/") else {}
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                attempts = ([(q, None) for q in QUERIES] if method == "GET"
                            else [("", b) for b in BODIES])
                for query, body in attempts:
                    kwargs = {"json": body} if isinstance(body, dict) else \
                        {"data": body, "content_type": "application/json"} if body else {}
                    response = client.open(path + query, method=method, headers=headers,
                                           **kwargs)
                    if response.status_code >= 500:
                        failures.append((method, path + query, body, response.status_code))
    assert failures == []


@pytest.mark.parametrize("path, form", [
    ("/sectorview/add", {"name": "Setor\x00"}),
    ("/departmentview/add", {"name": "Depto\x00"}),
    ("/memberview/add", {"first_name": "Ana\x00", "last_name": "Silva", "username": "ana\x00",
                         "email": "ana@alfa.example", "password": "senha-longa-123",
                         "conf_password": "senha-longa-123"}),
])
def test_generated_screens_refuse_nul_in_forms_and_change_nothing(app, web, world, path, form):
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Department, Member, Sector
    from app.tenancy import UNSCOPED, account_scope

    def counts():
        with app.app_context(), account_scope(UNSCOPED):
            result = tuple(db.session.scalar(select(func.count()).select_from(m))
                           for m in (Sector, Department, Member))
            db.session.remove()
        return result

    before = counts()
    response = web("alfa_admin").post(path, data=form)
    assert response.status_code == 400
    assert "caracteres inválidos" in response.get_data(as_text=True)
    assert counts() == before
