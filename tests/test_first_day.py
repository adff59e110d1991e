"""A new company's first day and the homes with numbers (issue 14, items 4 and 5), and the
administrator's forms that keep what was typed (item 3), over HTTP on both backends."""
import re

from sqlalchemy import select

from app.extensions import db
from app.models import Department, Sector, Service
from app.tenancy import account_scope
from tests.helpers import make_ticket

SIGNUP = {"company": "Padaria Pão Quente", "admin_name": "Maria da Silva",
          "admin_username": "maria", "admin_email": "maria@padaria.example",
          "admin_password": "uma-senha-forte"}


def _steps(html: str) -> dict[str, str]:
    return dict(re.findall(r'id="step-(\w+)" data-done="(\w+)"', html))


def test_signup_logs_the_administrator_in_and_shows_the_first_steps(app):
    client = app.test_client()
    response = client.post("/cadastro/", data=SIGNUP, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Padaria Pão Quente" in html
    assert "Primeiros passos" in html and "Faltam 4 de 4 passos" in html
    assert _steps(html) == {"department": "nao", "service": "nao", "members": "nao",
                            "ticket": "nao"}
    assert re.search(r'id="step-members-action"[^>]*href="/memberview/add"', html)
    # logged in for real: an administrator's screen opens
    assert client.get("/departmentview/list/").status_code == 200
    empty = client.get("/departmentview/list/").get_data(as_text=True)
    assert "Nenhum departamento ainda" in empty and "Criar o primeiro departamento" in empty
    opening = client.get("/cliente/abrir").get_data(as_text=True)
    assert 'id="create-service-link"' in opening and "Peça a um administrador" not in opening


def test_the_checklist_follows_the_company_being_set_up(app, web, world):
    client = web("alfa_admin")
    html = client.get("/").get_data(as_text=True)     # the world has it all but a ticket
    assert _steps(html) == {"department": "sim", "service": "sim", "members": "sim",
                            "ticket": "nao"}
    assert "Faltam 1 de 4 passos" in html
    make_ticket(app, world, "open")
    assert "Primeiros passos" not in client.get("/").get_data(as_text=True)


def test_a_department_without_attendants_warns_and_its_tickets_show_as_unattended(
        app, web, world):
    with app.app_context(), account_scope(world.account_id):
        db.session.get(Department, world.departments["RH"]).attendants = []
        db.session.commit()
        db.session.remove()
    ticket_id = make_ticket(app, world, "open", service="Férias")
    client = web("alfa_admin")
    listing = client.get("/departmentview/list/").get_data(as_text=True)
    assert 'id="admin-notice"' in listing and "Sem atendentes: RH." in listing
    home = client.get("/").get_data(as_text=True)
    counter = re.search(r'id="counter-admin-unattended" href="([^"]+)">\s*'
                        r'<span class="home-counter-value">(\d+)', home)
    assert counter and counter.group(2) == "1"
    unattended = client.get(counter.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert f'data-ticket="{ticket_id}"' in unattended


def test_each_profile_home_shows_its_numbers(app, web, world):
    make_ticket(app, world, "open")
    make_ticket(app, world, "in_progress")
    make_ticket(app, world, "concluded")

    def value(html, key):
        found = re.search(rf'id="counter-{key}" href="[^"]+">\s*'
                          r'<span class="home-counter-value">([^<]+)', html)
        assert found, key
        return found.group(1)

    requester = web("alfa_requester").get("/").get_data(as_text=True)
    assert value(requester, "requester-open") == "3"
    assert value(requester, "requester-waiting") == "1"          # the concluded one
    attendant = web("alfa_attendant").get("/").get_data(as_text=True)
    assert value(attendant, "attendant-queue") == "1"
    assert value(attendant, "attendant-work") == "1"
    manager = web("alfa_manager").get("/").get_data(as_text=True)
    assert value(manager, "manager-opened") == "3"
    assert value(manager, "manager-backlog") == "3"
    assert "/painel-de-atendimentos/" in manager
    assert web("alfa_attendant_other").get("/").status_code == 200
    other = web("alfa_attendant_other").get("/").get_data(as_text=True)
    assert value(other, "attendant-queue") == "0"                 # RH sees nothing of TI


def test_a_refused_form_keeps_what_was_typed_and_says_why_at_the_field(app, web, world):
    client = web("alfa_admin")
    response = client.post("/serviceview/add", data={
        "name": "Acesso", "department": str(world.departments["TI"]), "sla_hours": "6",
        "sla_clock": "24x7", "sla_urgent_hours": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Já existe um serviço neste departamento" in html
    assert 'value="Acesso"' in html and 'value="6"' in html and 'value="1"' in html
    assert f'<option selected value="{world.departments["TI"]}">' in html
    with app.app_context(), account_scope(world.account_id):
        assert len(db.session.scalars(select(Service)).all()) == 2
        db.session.remove()

    edit = client.post(f"/sectorview/edit/{world.sectors['Operações']}",
                       data={"name": "Financeiro"})
    html = edit.get_data(as_text=True)
    assert edit.status_code == 200, edit.status_code
    assert "field-error" in html, html[html.find("model_form"):][:1500]
    assert 'value="Financeiro"' in html
    with app.app_context(), account_scope(world.account_id):
        assert db.session.get(Sector, world.sectors["Operações"]).name == "Operações"
        db.session.remove()


def test_service_form_marks_required_fields_and_preselects_no_department(web, world):
    html = web("alfa_admin").get("/serviceview/add").get_data(as_text=True)
    assert re.search(r'for="department">Departamento<span class="required-mark"', html)
    assert re.search(r'for="name">Nome<span class="required-mark"', html)
    assert '<option selected value="__None">Escolha o departamento</option>' in html
    chosen = web("alfa_admin").get(
        f"/serviceview/add?departamento={world.departments['RH']}").get_data(as_text=True)
    assert f'<option selected value="{world.departments["RH"]}">' in chosen


def test_names_are_listed_in_pt_br_order(app, api, web, world):
    admin = api(world.users["admin"])
    for name in ("Zeladoria", "Álvaro Obras", "alfândega", "Ética"):
        assert admin.post("/api/v1/sector/", json={"name": name}).status_code == 201
    html = web("alfa_admin").get("/sectorview/list/").get_data(as_text=True)
    names = re.findall(r'<td data-label="Nome" class="col-name col-main"><a [^>]+>([^<]+)</a>',
                       html)
    assert names == ["alfândega", "Álvaro Obras", "Ética", "Financeiro", "Operações",
                     "Zeladoria"]


def test_time_zone_is_chosen_by_common_name_and_times_follow_it(app, web, world):
    client = web("alfa_admin")
    page = client.get("/conta/").get_data(as_text=True)
    assert '<option value="America/Sao_Paulo" selected>Horário de Brasília' in page
    assert '<option value="America/Manaus">Manaus (Amazonas)' in page
    client.post("/conta/configuracoes", data={"name": "Empresa alfa",
                                              "time_zone": "America/Manaus",
                                              "auto_approve_days": "7"})
    assert '<option value="America/Manaus" selected>' in client.get("/conta/").get_data(
        as_text=True)
    member = client.get(f"/memberview/show/{world.users['admin']}").get_data(as_text=True)
    shown = re.search(r"<dt>Último acesso</dt>\s*<dd[^>]*>([^<]+)</dd>", member).group(1)
    from app.models import Member

    with app.app_context(), account_scope(world.account_id):
        last = db.session.get(Member, world.users["admin"]).last_login
        db.session.remove()
    import datetime as dt
    from zoneinfo import ZoneInfo

    expected = last.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo("America/Manaus"))
    assert shown == expected.strftime("%d/%m/%Y %H:%M")


def test_empty_ticket_lists_say_what_to_do_next(web, world):
    mine = web("alfa_attendant").get("/atendente/meus").get_data(as_text=True)
    assert re.search(r'id="empty-next" href="/atendente/fila"', mine)
    account = web("alfa_admin").get("/chamados/").get_data(as_text=True)
    assert re.search(r'id="empty-next" href="/cliente/abrir"', account)
    assert 'id="empty-next"' not in web("alfa_manager").get("/chamados/").get_data(as_text=True)


def test_manager_home_reads_the_closed_week_and_its_sla_share(app, web, world):
    """"Encerrados no prazo (7 dias)": of the tickets closed in the last 7 days, the
    share closed within their SLA (one statement reads both counts)."""
    import datetime as dt

    from sqlalchemy import update

    from app.models import Ticket

    ids = [make_ticket(app, world, "closed") for _ in range(4)]
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with app.app_context(), account_scope(world.account_id):
        db.session.execute(update(Ticket).where(Ticket.id.in_(ids[:2])).values(sla_met=True))
        db.session.execute(update(Ticket).where(Ticket.id == ids[2]).values(sla_met=False))
        # closed before the week: counts in neither figure, whatever its SLA
        db.session.execute(update(Ticket).where(Ticket.id == ids[3]).values(
            sla_met=False, closed_at=now - dt.timedelta(days=8)))
        db.session.commit()
        db.session.remove()
    manager = web("alfa_manager").get("/").get_data(as_text=True)
    found = re.search(r'id="counter-manager-sla" href="[^"]+">\s*'
                      r'<span class="home-counter-value">([^<]+)', manager)
    assert found and found.group(1) == "67%"        # 2 of the week's 3
