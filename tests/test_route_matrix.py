"""Role x route matrix: every rule of ``app.url_map`` (Dash's included), every method,
for anonymous callers and each of the five profiles, with the status it must answer.
A rule not in ``tests/route_matrix.py`` fails the suite (so does a listed rule that no
longer exists), and so does any cell that changes: a new route that needs a login but
no role, or a role that gains a screen, shows up here.

Cells: the status code, or ``L`` for a redirect to the login page. Requests go in a
fixed order (reads, then writes, then deletes, logout last) against a fresh world with
one ticket (id 1, TI, opened by the requester); ids in paths are ``1``, which exists
for every kind of row of the caller's account. Pages get the session cookie, the API a
bearer token of the same member, Dash's callbacks the same Origin.

To rewrite the table after a deliberate change:
``ROUTE_MATRIX_WRITE=1 python -m pytest -p no:dash tests/test_route_matrix.py --backend sqlite``
prints it; read every changed cell before pasting it.
"""
import os
import re

import pytest

from tests.conftest import PASSWORD, token_for
from tests.helpers import make_ticket
from tests.route_matrix import MATRIX, ROLES

PLATFORM = "operador"
USERNAMES = {"anonymous": None, "platform": PLATFORM, "admin": "alfa_admin",
             "manager": "alfa_manager", "attendant": "alfa_attendant",
             "requester": "alfa_requester"}
METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 2, "DELETE": 3}


def sample_path(rule: str) -> str:
    path = re.sub(r"<path:[^>]+>", "x/y.js", rule)
    path = re.sub(r"<(string:)?version>", "v1", path)
    path = re.sub(r"<(string:)?(action|name)>", "x", path)
    return re.sub(r"<[^>]+>", "1", path)


def routes(app) -> list[tuple[str, str]]:
    found = {(rule.rule, method) for rule in app.url_map.iter_rules()
             for method in rule.methods - {"HEAD", "OPTIONS"}}
    return sorted(found, key=lambda rm: ("logout" in rm[0], METHOD_ORDER.get(rm[1], 9),
                                         rm[0]))


def cell(response) -> str:
    code = response.status_code
    if code in (301, 302, 303, 307, 308) and "/login" in response.headers.get("Location", ""):
        return "L"
    return str(code)


def _platform_operator(app):
    from app.extensions import db
    from config import PLATFORM_ROLE

    with app.app_context():
        sm = app.appbuilder.sm
        user = sm.add_user(PLATFORM, "Operador", "Plataforma", "operador@plataforma.example",
                           sm.find_role(PLATFORM_ROLE), password=PASSWORD)
        user_id = user.id
        db.session.remove()
    return user_id


def observe(app, world, role: str) -> dict:
    """{(rule, method): cell} for one role, in the fixed order."""
    make_ticket(app, world)
    client = app.test_client()
    headers = {"Origin": "http://localhost"}
    if role != "anonymous":
        user_id = _platform_operator(app) if role == "platform" else world.users[role]
        response = client.post("/login/", data={"username": USERNAMES[role],
                                                "password": PASSWORD})
        assert response.status_code == 302 and "/login" not in response.headers["Location"]
        headers["Authorization"] = f"Bearer {token_for(app, user_id)}"
    seen = {}
    for rule, method in routes(app):
        path = sample_path(rule)
        kwargs = {"json": {}} if method != "GET" else {}
        response = client.open(path, method=method, headers=headers, **kwargs)
        seen[(rule, method)] = cell(response)
    return seen


def test_the_matrix_lists_every_route_and_nothing_else(app):
    assert sorted(set(routes(app)) - set(MATRIX)) == [], "routes missing from the matrix"
    assert sorted(set(MATRIX) - set(routes(app))) == [], "matrix rows for no route"


@pytest.mark.parametrize("role", ROLES)
def test_every_route_answers_each_role_as_the_matrix_says(app, world, role, monkeypatch):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    seen = observe(app, world, role)
    column = ROLES.index(role)
    if os.environ.get("ROUTE_MATRIX_WRITE"):
        path = os.path.join(os.environ.get("ROUTE_MATRIX_DIR", "/tmp"), f"matrix-{role}.txt")
        with open(path, "w") as out:
            for key, value in seen.items():
                out.write(f"{key[1]} {key[0]} {value}\n")
    wrong = [(rule, method, MATRIX.get((rule, method), "??????".split())[column], got)
             for (rule, method), got in seen.items()
             if MATRIX.get((rule, method), [None] * 6)[column] != got]
    assert wrong == [], f"{role}: (rule, method, expected, got)"
    assert all(not value.startswith("5") for value in seen.values())
