"""No 500s: every route of the app (Dash's included), for every profile, with odd path
values, odd query strings and odd bodies, answers something other than 5xx; and the
generated screens refuse NUL in their forms. On both backends: PostgreSQL refuses some
inputs (NUL in text, numbers beyond its types) that SQLite takes, and the other way
round (SQLite overflows on integers beyond 64 bits).

Found by this test and fixed: huge ids in paths and FAB's <pk>, FAB's paging and
ordering arguments, NUL in FAB's search filters and forms, Dash's asset route; then
(issue 13, app/input_guard.py) JSON nested thousands deep, integers beyond 64 bits in
query strings, Rison, JSON and forms, Rison filters of the wrong shape, dates beyond
9998, malformed Dash callback bodies."""
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
    sent = 0
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/static") or "logout" in rule.rule:
            continue
        # The path to an existing row (value 1) gets every odd query; the other odd
        # values answer 404 before any view reads the query.
        primary = re.sub(r"<[^>]+>", "1", re.sub(r"<path:[^>]+>", "x/../y.js", rule.rule))
        for path in sorted(_paths(rule.rule)):
            headers = bearer if path.startswith("/api/") else {}
            queries = QUERIES if path == primary else QUERIES[:1]
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                attempts = ([(q, None) for q in queries] if method == "GET"
                            else [("", b) for b in BODIES])
                for query, body in attempts:
                    kwargs = {"json": body} if isinstance(body, dict) else \
                        {"data": body, "content_type": "application/json"} if body else {}
                    response = client.open(path + query, method=method, headers=headers,
                                           **kwargs)
                    sent += 1
                    if response.status_code >= 500:
                        failures.append((method, path + query, body, response.status_code))
                    if _refused(response):
                        # Refused to this profile before the view runs (FAB's and our
                        # permission checks come before any read of the input): the
                        # other odd inputs would get the same answer.
                        break
    assert failures == []
    assert sent > 300       # the sweep really ran (every route, most of them allowed)


def _refused(response) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.status_code == 302 and "/login" in response.headers.get("Location", "")


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


# Hostile values (issue 13): one path per rule, every route, by one administrator (the
# guard is at the edge, before any view looks at who is asking) and one requester (the
# screens only requesters reach). Dash callbacks need the same Origin to get past the
# Painel's door.
BIG = "99999999999999999999"
HOSTILE_QUERIES = [
    f"?department_id={BIG}&service_id={BIG}&year={BIG}&page={BIG}&aba=x"
    f"&start=9999-12-31&end=9999-12-31&q=(page:{BIG},page_size:{BIG})",
    "?start=0001-01-01&end=0001-01-01&q=(filters:!((col:name,opr:eq,value:!(1,2)),"
    "(col:department_id,opr:eq,value:(a:1))))",
]
HOSTILE_BODIES = [
    "[" * 3000 + "]" * 3000,
    '{"settings": [{"event": ' * 2000 + "1" + "}]" * 2000 + "}",
    f'{{"department_id": {BIG}, "service_id": {BIG}, "sector_id": {BIG}, "id": {BIG},'
    f' "score": {BIG}, "months": {BIG}, "assignee_id": {BIG}, "attendant_ids": [{BIG}],'
    f' "output": {BIG}, "inputs": [{{"id": {BIG}}}], "start": "9999-12-31",'
    ' "holidays": [{"date": "9999-12-31", "name": "x"}], "priority": "low",'
    ' "description": "x", "body": "x", "name": "x"}',
    '{"output": "f-service_id.options", "inputs": [1], "outputs": 5, "changedPropIds": 1}',
]
HOSTILE_FORM = {"sector": BIG, "department": BIG, "service": BIG, "name": "x", "id": BIG,
                "department_id": BIG, "service_id": BIG, "priority": "low",
                "description": BIG, "months": BIG, "start": "9999-12-31"}


@pytest.mark.parametrize("username", ["alfa_admin", "alfa_requester"])
def test_no_route_answers_5xx_to_hostile_values(app, world, username, monkeypatch):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    make_ticket(app, world, "open")
    client = app.test_client()
    client.post("/login/", data={"username": username, "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {_user_id(app, username)}"}
    origin = {"Origin": "http://localhost"}
    failures = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/static") or "logout" in rule.rule:
            continue
        path = re.sub(r"<path:[^>]+>", "x.js", re.sub(r"<[^>]+>", "1", rule.rule))
        headers = dict(origin, **bearer) if path.startswith("/api/") else origin
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET":
                attempts = [(query, {}) for query in HOSTILE_QUERIES]
            else:
                attempts = [("", {"data": body, "content_type": "application/json"})
                            for body in HOSTILE_BODIES] + [("", {"data": HOSTILE_FORM})]
            for query, kwargs in attempts:
                response = client.open(path + query, method=method, headers=headers, **kwargs)
                if response.status_code >= 500:
                    failures.append((method, path + query, str(kwargs)[:60],
                                     response.status_code))
    assert failures == []
