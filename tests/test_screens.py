"""The administrator's generated screens, in pt-BR, and who may open them."""
import pytest
from sqlalchemy import select

from app.models import Member, Sector
from tests.helpers import count_queries

SCREENS = ["/sectorview/list/", "/memberview/list/", "/departmentview/list/",
           "/serviceview/list/", "/conta/"]


@pytest.mark.parametrize("url", SCREENS)
def test_admin_opens_structure_screens_in_portuguese(web, world, url):
    response = web("alfa_admin").get(url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Estrutura" in html
    assert "Setores" in html or "Minha conta" in html


@pytest.mark.parametrize("username", ["alfa_requester", "alfa_attendant", "alfa_manager"])
@pytest.mark.parametrize("url", SCREENS + ["/sectorview/add", "/memberview/add"])
def test_other_profiles_cannot_open_structure_screens(web, world, username, url):
    response = web(username).get(url)
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"] or response.headers["Location"] == "/"


def test_anonymous_is_sent_to_login(app, world):
    response = app.test_client().get("/sectorview/list/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_admin_adds_sector_through_the_form(app, web, world):
    client = web("alfa_admin")
    response = client.post("/sectorview/add", data={"name": "Compras"})
    assert response.status_code == 302
    with app.app_context():
        from app.extensions import db

        sector = db.session.scalar(select(Sector).where(Sector.name == "Compras"))
        assert sector.account_id == world.account_id
        db.session.remove()


def test_duplicate_sector_through_the_form_flashes_and_adds_nothing(app, web, world):
    client = web("alfa_admin")
    response = client.post("/sectorview/add", data={"name": "Financeiro"},
                           follow_redirects=True)
    assert "Já existe um setor com este nome" in response.get_data(as_text=True)
    with app.app_context():
        from app.extensions import db
        from app.tenancy import account_scope

        with account_scope(world.account_id):
            assert len(db.session.scalars(select(Sector)).all()) == 2
        db.session.remove()


def test_admin_adds_member_with_password_and_profile(app, web, world):
    from app.extensions import db

    with app.app_context():
        role_id = app.appbuilder.sm.find_role("Solicitante").id
        sector_id = world.sectors["Operações"]
        db.session.remove()
    client = web("alfa_admin")
    response = client.post("/memberview/add", data={
        "first_name": "Carla", "last_name": "Souza", "username": "carla",
        "email": "carla@alfa.example", "sector": str(sector_id), "roles": [str(role_id)],
        "active": "y", "password": "senha-da-carla", "conf_password": "senha-da-carla"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    login = app.test_client().post("/api/v1/security/login", json={
        "username": "carla", "password": "senha-da-carla", "provider": "db"})
    assert login.status_code == 200
    with app.app_context():
        carla = db.session.scalar(select(Member).where(Member.username == "carla"))
        assert carla.account_id == world.account_id and carla.password != "senha-da-carla"
        db.session.remove()


def test_member_form_refuses_platform_admin_role(app, web, world):
    from app.extensions import db

    with app.app_context():
        admin_role_id = app.appbuilder.sm.find_role("Admin").id
        db.session.remove()
    client = web("alfa_admin")
    client.post("/memberview/add", data={
        "first_name": "Mal", "last_name": "Intencionado", "username": "mal",
        "email": "mal@alfa.example", "roles": [str(admin_role_id)], "active": "y",
        "password": "senha-do-mal-1", "conf_password": "senha-do-mal-1"})
    with app.app_context():
        assert db.session.scalar(select(Member).where(Member.username == "mal")) is None
        db.session.remove()


def test_admin_renews_plan_through_the_account_page(app, web, world):
    client = web("alfa_admin")
    response = client.post("/conta/renovar", data={"months": "6"}, follow_redirects=True)
    assert "Plano renovado até" in response.get_data(as_text=True)
    bad = client.post("/conta/renovar", data={"months": "99"}, follow_redirects=True)
    assert "Informe de 1 a 24 meses" in bad.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/memberview/list/", "/departmentview/list/",
                                 "/serviceview/list/", "/sectorview/list/"])
def test_admin_lists_do_not_query_per_row(app, api, web, world, url):
    """FAB read each member's roles, each department's attendants and each service's
    department one query per row (app.views.admin.EagerInterface)."""
    client = web("alfa_admin")

    def queries() -> int:
        return count_queries(app, client, url)[0]

    queries()       # the process's first page of a profile draws its menu and keeps it
    few = queries()
    admin = api(world.users["admin"])
    for n in range(5):
        sector = admin.post("/api/v1/sector/", json={"name": f"Setor {n}"}).json["id"]
        admin.post("/api/v1/member/", json={
            "first_name": "Extra", "last_name": str(n), "username": f"extra{n}",
            "email": f"extra{n}@alfa.example", "password": "senha-extra-123",
            "profiles": ["attendant"], "sector_id": sector})
        department = admin.post("/api/v1/department/", json={
            "name": f"Depto {n}", "attendant_ids": [world.users["attendant"]]}).json["id"]
        admin.post("/api/v1/service/", json={"name": f"Serviço {n}",
                                             "department_id": department, "sla_hours": 4})
    assert queries() == few


HUGE = "9" * 30


@pytest.mark.parametrize("path", [f"/memberview/show/{HUGE}", f"/memberview/edit/{HUGE}",
                                  f"/sectorview/show/{HUGE}", f"/departmentview/edit/{HUGE}",
                                  f"/serviceview/show/{HUGE}", f"/chamados/{HUGE}",
                                  f"/chamados/1/anexos/{HUGE}"])
def test_ids_beyond_the_integer_range_are_404_not_500(web, world, path):
    assert web("alfa_admin").get(path).status_code == 404


@pytest.mark.parametrize("query, status", [
    ("page_MemberView=abc", 400), (f"page_MemberView={HUGE}", 400),
    (f"psize_MemberView={HUGE}", 400), ("psize_MemberView=1000", 400),
    ("psize_MemberView=50", 200), ("page_MemberView=3", 200),
    ("_oc_MemberView=password&_od_MemberView=asc", 400),      # a hidden column
    ("_oc_MemberView=nada&_od_MemberView=asc", 400),          # FAB answered 500
    ("_oc_MemberView=last_name&_od_MemberView=desc", 200),
])
def test_list_arguments_of_the_screens_are_checked(web, world, query, status):
    response = web("alfa_admin").get(f"/memberview/list/?{query}")
    assert response.status_code == status
    if status == 400:
        assert "Requisição inválida" in response.get_data(as_text=True)


def test_screens_still_sort_by_their_columns(web, world):
    text = web("alfa_admin").get(
        "/memberview/list/?_oc_MemberView=username&_od_MemberView=desc").get_data(as_text=True)
    usernames = [u for u in ("alfa_requester2", "alfa_requester", "alfa_manager",
                             "alfa_attendant_other", "alfa_attendant2", "alfa_attendant",
                             "alfa_admin") if u in text]
    positions = [text.index(f">{u}<") for u in usernames]
    assert len(usernames) == 7 and positions == sorted(positions)
