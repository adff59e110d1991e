"""Full-text search (app.search, migration 0007) and the lists' search box and filters,
on SQLite (FTS5 + Snowball in Python) and PostgreSQL (portuguese + unaccent)."""
from __future__ import annotations

import html as html_lib
import re
import urllib.parse

import pytest
from sqlalchemy import text as text_

from app import search
from app.extensions import db
from app.models import Member, Ticket
from app.tenancy import account_scope
from tests.helpers import count_queries, make_ticket


def post(app, world, ticket_id, who, body, internal=False):
    from app import workflow

    with app.app_context(), account_scope(world.account_id):
        ticket = db.session.get(Ticket, ticket_id)
        actor = db.session.get(Member, world.users[who])
        workflow.post_message(ticket, actor, body, internal=internal)
        db.session.remove()


def found(api, user_id, words, **filters) -> list[int]:
    query = urllib.parse.urlencode({"search": words, **filters})
    response = api(user_id).get(f"/api/v1/ticket/?{query}")
    assert response.status_code == 200, response.get_json()
    return sorted(response.get_json()["ids"])


def row_ids(response) -> list[int]:
    text = response.get_data(as_text=True)
    return sorted(int(i) for i in re.findall(r'<tr class="ticket-row[^"]*" data-ticket="(\d+)"',
                                             text))


# --- words: accents, case, Portuguese forms -----------------------------------------


def test_terms_are_unaccented_lowercased_and_stemmed():
    assert search.terms("Impressão IMPRESSORAS impressao") == \
        search.terms("impressao impressora IMPRESSÃO")
    assert search.terms("&|!:*()'\\\"") == []


def test_accents_and_word_forms_are_found_both_ways(app, api, world):
    accented = make_ticket(app, world, description="A impressão da impressora do 2º andar "
                                                    "está borrada")
    plain = make_ticket(app, world, description="Configuracao da impressao sem acentos")
    other = make_ticket(app, world, description="Troca de mouse")
    attendant = world.users["attendant"]
    assert found(api, attendant, "impressao") == sorted([accented, plain])
    assert found(api, attendant, "IMPRESSÃO") == sorted([accented, plain])
    assert found(api, attendant, "impressoras") == [accented]    # plural -> singular
    assert found(api, attendant, "Impressora borradas") == [accented]
    assert found(api, attendant, "impressora mouse") == []        # every word must appear
    assert other not in found(api, attendant, "impressão")


def test_subject_and_messages_are_searched(app, api, world):
    from app import workflow

    with app.app_context(), account_scope(world.account_id):
        requester = db.session.get(Member, world.users["requester"])
        ticket = workflow.open_ticket(
            requester, department_id=world.departments["TI"],
            service_id=world.services["Acesso"], priority="low",
            subject="Catraca do estacionamento", description="Não abre com o crachá.")
        ticket_id = ticket.id
        db.session.remove()
    attendant = world.users["attendant"]
    assert found(api, attendant, "catracas") == [ticket_id]
    workflow_ticket = make_ticket(app, world, "in_progress", description="Sem rede")
    post(app, world, workflow_ticket, "requester", "O roteador da sala pisca laranja")
    assert found(api, attendant, "roteadores laranja") == [workflow_ticket]
    assert found(api, world.users["requester"], "roteador") == [workflow_ticket]
    # a word of the description and one of a message: the same ticket
    assert found(api, attendant, "rede roteador") == [workflow_ticket]


# --- what a person may read ----------------------------------------------------------


@pytest.fixture(params=["by-id", "by-query"])
def search_path(request, monkeypatch):
    """PostgreSQL answers a selective search by id (app.search.selective_ids) and a
    common one by the text query itself: the rules below hold on both paths."""
    if request.param == "by-query":
        monkeypatch.setattr(search, "SELECTIVE_MAX", -1)
    return request.param


def test_requester_never_finds_a_ticket_by_a_word_of_an_internal_note(app, api, web, world,
                                                                      search_path):
    ticket_id = make_ticket(app, world, "in_progress", description="Acesso ao ERP")
    post(app, world, ticket_id, "attendant", "Suspeita de fraude no fornecedor Zebulom",
         internal=True)
    requester = world.users["requester"]
    assert found(api, world.users["attendant"], "zebulom") == [ticket_id]
    assert found(api, world.users["attendant2"], "fraude") == [ticket_id]
    assert found(api, world.users["manager"], "fornecedores zebulom") == [ticket_id]
    assert found(api, requester, "zebulom") == []
    assert found(api, requester, "acesso zebulom") == []      # nor with a word they can read
    assert found(api, requester, "acesso") == [ticket_id]
    page = web("alfa_requester").get("/cliente/chamados?busca=zebulom")
    assert row_ids(page) == [] and "Zebulom" not in page.get_data(as_text=True)
    page = web("alfa_attendant").get("/atendente/fila?busca=zebulom")
    assert row_ids(page) == [ticket_id]


def test_requester_never_finds_another_requesters_ticket(app, api, web, world, search_path):
    mine = make_ticket(app, world, description="Monitor piscando")
    theirs = make_ticket(app, world, description="Monitor quebrado", requester="requester2")
    assert found(api, world.users["requester"], "monitor") == [mine]
    assert found(api, world.users["requester2"], "monitores") == [theirs]
    assert row_ids(web("alfa_requester").get("/cliente/chamados?busca=monitor")) == [mine]


def test_attendant_finds_only_their_departments_tickets(app, api, web, world, search_path):
    ti = make_ticket(app, world, description="Contracheque não abre no portal")
    rh = make_ticket(app, world, service="Férias", description="Contracheque de férias")
    assert found(api, world.users["attendant"], "contracheque") == [ti]
    assert found(api, world.users["attendant_other"], "contracheque") == [rh]
    assert found(api, world.users["manager"], "contracheque") == sorted([ti, rh])
    assert row_ids(web("alfa_attendant_other").get("/atendente/fila?busca=contracheque")) \
        == [rh]
    assert row_ids(web("alfa_manager").get("/chamados/?busca=contracheque")) == sorted([ti, rh])


def test_another_accounts_tickets_are_never_found(app, api, web, world, other_world,
                                                 search_path):
    ours = make_ticket(app, world, description="Orçamento do projeto Tucano")
    theirs = make_ticket(app, other_world, description="Orçamento do projeto Tucano")
    post(app, other_world, make_ticket(app, other_world, "in_progress", description="x"),
         "attendant", "tucano", internal=True)
    for who in ("manager", "admin", "attendant", "requester"):
        assert found(api, world.users[who], "tucano") == [ours], who
    assert found(api, other_world.users["manager"], "orcamento") == [theirs]
    assert row_ids(web("alfa_manager").get("/chamados/?busca=tucano")) == [ours]
    assert row_ids(web("alfa_admin").get("/chamados/?busca=tucano")) == [ours]


def test_a_transferred_ticket_is_found_by_its_new_department_only(app, api, world):
    from app import workflow

    ticket_id = make_ticket(app, world, description="Planilha de ponto com erro")
    with app.app_context(), account_scope(world.account_id):
        ticket = db.session.get(Ticket, ticket_id)
        actor = db.session.get(Member, world.users["attendant"])
        workflow.apply(ticket, "transfer", actor, note="É do RH.",
                       fields={"department_id": world.departments["RH"],
                               "service_id": world.services["Férias"], "reason": "É do RH."})
        db.session.remove()
    assert found(api, world.users["attendant_other"], "planilhas ponto") == [ticket_id]
    assert found(api, world.users["attendant"], "planilha") == []


# --- hostile input ------------------------------------------------------------------

HOSTILE = ["&|!:*()'\\", "\x00", "impressora\x00 OR 1=1", "' OR ''='", "a:b", "NEAR(a b)",
           "\"", "content_text:*", "{notes} : senha", "-fraude", "!!!", "*", "^a", "a AND",
           "\u202eimpressora", "ímpressorá\u0301", "😀 impressora", "\\", "%_%"]


@pytest.mark.parametrize("words", HOSTILE)
def test_hostile_search_strings_are_harmless(app, api, web, world, words):
    ticket_id = make_ticket(app, world, "in_progress", description="impressora fraude")
    post(app, world, ticket_id, "attendant", "senha do cofre", internal=True)
    if "\x00" in words:   # the app refuses NUL in any query string, before the view
        for client, url in ((api(world.users["attendant"]), "/api/v1/ticket/?search="),
                            (web("alfa_attendant"), "/atendente/fila?busca=")):
            response = client.get(url + urllib.parse.quote(words))
            assert response.status_code == 400
            text = response.get_data(as_text=True)
            if response.is_json:
                text = response.get_json()["message"]
            assert "caracteres inválidos" in text
        return
    for user in ("requester", "attendant", "manager"):
        response = api(world.users[user]).get(
            "/api/v1/ticket/?" + urllib.parse.urlencode({"search": words}))
        assert response.status_code == 200, (words, response.status_code)
    # nothing of the note reaches the requester, whatever the syntax tried
    assert found(api, world.users["requester"], words) in ([], [ticket_id])
    if "senha" in words:
        assert found(api, world.users["requester"], words) == []
    for client, url in ((web("alfa_requester"), "/cliente/chamados"),
                        (web("alfa_attendant"), "/atendente/fila"),
                        (web("alfa_attendant"), "/atendente/meus"),
                        (web("alfa_manager"), "/chamados/")):
        response = client.get(url + "?" + urllib.parse.urlencode({"busca": words}))
        assert response.status_code == 200, (url, words)


def test_a_search_of_ten_thousand_characters_is_refused_with_a_message(app, api, web, world):
    make_ticket(app, world)
    response = api(world.users["attendant"]).get("/api/v1/ticket/?search=" + "a" * 10_000)
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == "search" and "200 caracteres" in body["message"]
    page = web("alfa_attendant").get("/atendente/fila?busca=" + "impressora " * 1000)
    text = html_lib.unescape(page.get_data(as_text=True))
    assert page.status_code == 200 and "A busca aceita no máximo 200 caracteres" in text
    assert len(row_ids(page)) == 1            # the unfiltered list
    at_limit = api(world.users["attendant"]).get("/api/v1/ticket/?search=" + "a" * 200)
    assert at_limit.status_code == 200


def test_search_combines_with_the_apis_other_filters(app, api, world):
    low = make_ticket(app, world, priority="low", description="Teclado sem teclas")
    high = make_ticket(app, world, priority="high", description="Teclado molhado")
    assumed = make_ticket(app, world, "assumed", priority="high", description="Teclado novo")
    attendant = world.users["attendant"]
    assert found(api, attendant, "teclados") == sorted([low, high, assumed])
    assert found(api, attendant, "teclado", priority="high", status="open") == [high]
    assert found(api, attendant, "teclado", priority="low") == [low]
    response = api(attendant).get("/api/v1/ticket/?search=teclado&priority=xx")
    assert response.status_code == 400 and response.get_json()["field"] == "priority"
    empty = api(attendant).get("/api/v1/ticket/?search=%20%20")
    assert empty.status_code == 200 and empty.get_json()["count"] == 3


# --- the lists' filters --------------------------------------------------------------


def test_filters_narrow_the_lists(app, web, world):
    a = make_ticket(app, world, priority="urgent", description="Servidor fora do ar")
    b = make_ticket(app, world, priority="low", description="Servidor lento",
                    requester="requester2")
    c = make_ticket(app, world, service="Férias", priority="low", description="Férias")
    manager = web("alfa_manager")
    assert row_ids(manager.get("/chamados/?prioridade=low")) == sorted([b, c])
    assert row_ids(manager.get(f"/chamados/?departamento={world.departments['RH']}")) == [c]
    assert row_ids(manager.get(f"/chamados/?servico={world.services['Acesso']}")) == \
        sorted([a, b])
    assert row_ids(manager.get("/chamados/?solicitante=requester2")) == [b]
    assert row_ids(manager.get("/chamados/?solicitante=REQUESTER2+alfa")) == [b]
    assert row_ids(manager.get("/chamados/?busca=servidor&prioridade=low")) == [b]
    assert row_ids(manager.get("/chamados/?atendente=nenhum")) == sorted([a, b, c])
    assert row_ids(manager.get(f"/chamados/?atendente={world.users['attendant']}")) == []
    assert row_ids(manager.get("/chamados/?situacao=open")) == sorted([a, b, c])
    assert row_ids(manager.get("/chamados/?situacao=closed")) == []
    queue = web("alfa_attendant")
    assert row_ids(queue.get("/atendente/fila?prioridade=urgent")) == [a]
    # the RH department is not this attendant's: not a choice, the list unfiltered
    response = queue.get(f"/atendente/fila?departamento={world.departments['RH']}")
    assert row_ids(response) == sorted([a, b])
    assert "Departamento inválido" in html_lib.unescape(response.get_data(as_text=True))


def test_the_opening_period_is_in_the_accounts_time_zone(app, web, world):
    import datetime as dt

    ticket_id = make_ticket(app, world)
    with app.app_context(), account_scope(world.account_id):
        ticket = db.session.get(Ticket, ticket_id)
        # 02:30 UTC on 2026-03-10 is 23:30 on 2026-03-09 in São Paulo (UTC-3)
        ticket.opened_at = dt.datetime(2026, 3, 10, 2, 30, tzinfo=dt.timezone.utc)
        db.session.commit()
        db.session.remove()
    manager = web("alfa_manager")
    assert row_ids(manager.get("/chamados/?de=2026-03-09&ate=2026-03-09")) == [ticket_id]
    assert row_ids(manager.get("/chamados/?de=2026-03-10")) == []
    assert row_ids(manager.get("/chamados/?ate=2026-03-08")) == []


def test_an_id_beyond_64_bits_is_refused_at_the_edge_in_portuguese(app, web, world):
    """app/input_guard.py refuses integers no database column holds before any view
    runs (issue 13): a Portuguese 400 page, not the list."""
    make_ticket(app, world)
    response = web("alfa_manager").get("/chamados/?departamento=99999999999999999999")
    assert response.status_code == 400
    assert "grande demais" in response.get_data(as_text=True)


@pytest.mark.parametrize("query", [
    "prioridade=altissima", "departamento=abc",
    "servico=-1", "atendente=%C2%B2", "de=2026-02-30", "de=0001-01-01", "ate=9999-12-31",
    "de=2026-05-01&ate=2026-04-01", "situacao=perdido", "solicitante=" + "x" * 500,
    "departamento=1e3", "pagina=abc", "aba=<script>",
])
def test_bad_filter_values_show_a_message_and_the_list(app, web, world, query):
    ticket_id = make_ticket(app, world)
    response = web("alfa_manager").get(f"/chamados/?{query}")
    assert response.status_code == 200
    assert row_ids(response) == [ticket_id]
    if not query.startswith(("pagina", "aba")):
        assert "alert" in response.get_data(as_text=True)


def test_another_accounts_department_is_not_a_filter_choice(app, web, world, other_world):
    make_ticket(app, world)
    make_ticket(app, other_world)
    response = web("alfa_manager").get(
        f"/chamados/?departamento={other_world.departments['TI']}")
    text = response.get_data(as_text=True)
    assert row_ids(response) and "Empresa beta" not in text
    assert f'value="{other_world.departments["TI"]}"' not in text
    assert f'value="{other_world.users["attendant"]}"' not in text


def test_filters_in_the_url_survive_tabs_and_paging(app, web, world):
    for n in range(23):
        make_ticket(app, world, priority="high", description=f"Licença de software {n}")
    make_ticket(app, world, priority="high", description="Outra coisa")
    client = web("alfa_manager")
    first = client.get("/chamados/?busca=licencas&prioridade=high")
    text = html_lib.unescape(first.get_data(as_text=True))
    assert len(row_ids(first)) == 20
    next_link = re.search(r'href="([^"]+)" id="next-page"', text).group(1)
    args = urllib.parse.parse_qs(urllib.parse.urlparse(next_link).query)
    assert args["busca"] == ["licencas"] and args["prioridade"] == ["high"]
    assert args["pagina"] == ["2"]
    second = client.get(next_link)
    assert len(row_ids(second)) == 3
    assert not set(row_ids(first)) & set(row_ids(second))
    tab = re.search(r'href="([^"]+)" data-tab="abertos"', text).group(1)
    assert "busca=licencas" in tab and "prioridade=high" in tab
    assert 'value="licencas"' in text                 # the box shows what was searched
    assert "23 chamados com esta busca e filtros" in text


def test_the_account_list_estimates_large_totals_and_labels_them(app, web, world, monkeypatch):
    from app.views import lists

    for _ in range(5):
        make_ticket(app, world)
    client = web("alfa_manager")
    text = html_lib.unescape(client.get("/chamados/").get_data(as_text=True))
    assert "5 chamados em “Todos”" in text
    monkeypatch.setattr(lists, "TOTAL_CAP", 2)
    text = html_lib.unescape(client.get("/chamados/").get_data(as_text=True))
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
    if postgres:
        assert re.search(r"cerca de [\d.]+ chamados \(estimativa\)", text)
    else:
        assert "5 chamados em “Todos”" in text


@pytest.mark.parametrize("username, url", [
    ("alfa_attendant", "/atendente/fila?busca=acesso&prioridade=medium&solicitante=alfa"),
    ("alfa_attendant", "/atendente/meus?busca=acesso&aba=todos&de=2020-01-01"),
    ("alfa_requester", "/cliente/chamados?busca=acessos&servico={service}"),
    ("alfa_manager", "/chamados/?busca=acesso&atendente={attendant}&ate=2099-01-01"),
])
def test_searched_and_filtered_lists_do_not_query_per_row(app, web, world, username, url):
    url = url.format(service=world.services["Acesso"], attendant=world.users["attendant"])
    for _ in range(2):
        ticket_id = make_ticket(app, world, "assumed")
        post(app, world, ticket_id, "attendant", "acesso liberado", internal=True)
    client = web(username)
    client.get(url)
    few, response = count_queries(app, client, url)
    assert row_ids(response)
    for _ in range(8):
        ticket_id = make_ticket(app, world, "assumed")
        post(app, world, ticket_id, "attendant", "acesso liberado", internal=True)
    many, response = count_queries(app, client, url)
    assert many == few, (few, many)
    assert len(row_ids(response)) == 10


def test_every_filter_control_has_a_label(app, web, world):
    text = web("alfa_manager").get("/chamados/").get_data(as_text=True)
    form = text[text.index('id="ticket-filters"'):]
    form = form[:form.index("</form>")]
    controls = re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', form)
    assert len(controls) >= 9
    for control in controls:
        assert f'for="{control}"' in form, control


def test_the_search_schema_is_what_the_drift_test_exempts(app):
    """Migration 0007 adds objects the models do not declare; app.search names them
    for the schema-drift test (tests/test_migrations.py), and exactly those."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from flask_appbuilder import Model

    with app.app_context(), db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Model.metadata)
        postgres = connection.dialect.name == "postgresql"
    exempt = [d for d in diff if search.is_schema_drift_exempt(d)]
    if postgres:
        assert {(d[2], d[3].name) for d in exempt if d[0] == "remove_column"} == \
            search.SCHEMA_COLUMNS
        assert {d[1].name for d in exempt if d[0] == "remove_index"} == search.SCHEMA_INDEXES
    else:
        assert {d[1].name for d in exempt} == search.SCHEMA_TABLES


@pytest.fixture
def empty_database(backend, request, tmp_path):
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'search-migration.db'}"
    server = request.getfixturevalue("pg_server")
    return server.create_database(f"search_{tmp_path.name[-8:].lower()}".replace("-", "_"))


def test_the_migration_makes_existing_tickets_and_messages_searchable(empty_database,
                                                                      tmp_path):
    import datetime as dt

    from flask_migrate import downgrade, upgrade
    from sqlalchemy import select, text

    from app import create_app
    from tests.conftest import test_config

    application = create_app(test_config(empty_database, str(tmp_path)))
    with application.app_context():
        upgrade(revision="9e5f6a7b8c93")
        now = dt.datetime(2027, 3, 1, 12, 0)
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO account (id, name, time_zone, plan_expires_at, "
                              "auto_approve_days, created_at) VALUES (1, 'A', "
                              "'America/Sao_Paulo', :t, 7, :t)"), {"t": now})
            conn.execute(text("INSERT INTO ab_user (id, first_name, last_name, username, "
                              "email, active, account_id) VALUES (1, 'R', 'S', 'r', "
                              "'r@x.example', true, 1)"))
            conn.execute(text("INSERT INTO department (id, name, account_id) "
                              "VALUES (1, 'TI', 1)"))
            conn.execute(text("INSERT INTO service (id, department_id, name, sla_hours, "
                              "account_id) VALUES (1, 1, 'S', 8, 1)"))
            conn.execute(text(
                "INSERT INTO ticket (id, account_id, requester_id, department_id, "
                "service_id, priority, status, subject, description, opened_at, sla_due_at, "
                "reopen_count, auto_approved, version, updated_at) VALUES (7, 1, 1, "
                "1, 1, 'low', 'open', 'Impressão falhando', 'Desde ontem', :t, :t, 0, "
                "false, 1, :t)"), {"t": now})
            for message_id, body, internal in ((1, "O toner acabou", False),
                                               (2, "Fornecedor Zebulom atrasou", True)):
                conn.execute(text(
                    "INSERT INTO ticket_message (id, account_id, ticket_id, author_id, body, "
                    "internal, created_at) VALUES (:id, 1, 7, 1, :b, :i, :t)"),
                    {"id": message_id, "b": body, "i": internal, "t": now})
        upgrade()
        dialect = db.engine.dialect.name

        def hits(words, public_only):
            stmt = select(Ticket.id).where(search.condition(dialect, public_only))
            return list(db.session.scalars(stmt, search.params(words, 99)))

        assert hits("impressao", True) == [7]
        assert hits("TONER", True) == [7]
        assert hits("zebulom", True) == []
        assert hits("zebulom", False) == [7]      # staff (99 is not the requester)
        db.session.remove()
        downgrade(revision="9e5f6a7b8c93")
        upgrade()
        assert hits("impressão toner", True) == [7]
        db.session.remove()
        db.engine.dispose()


def test_generated_conversations_are_searchable_within_what_each_one_reads(app):
    """app.generator.messages (the benchmark's ~3 messages per ticket): COPY on
    PostgreSQL with the documents computed in bulk, the FTS5 triggers on SQLite; either
    way the same answers as messages posted through the workflow."""
    from sqlalchemy import func, select

    from app.generator import generate
    from app.generator.messages import RARE_WORD, add_messages
    from app.models import TicketMessage
    from app.tenancy import UNSCOPED
    from tests.conftest import ApiClient

    with app.app_context(), account_scope(UNSCOPED):
        result = generate(300, seed=5, months=2)
        written = add_messages(result.account_id, per_ticket=3.0, seed=5)
        assert written > 300
        manager_id = db.session.scalar(select(Member.id).where(
            Member.account_id == result.account_id, Member.with_profile("manager"))
            .order_by(Member.id).limit(1))
        rare = db.session.execute(
            select(TicketMessage.ticket_id, TicketMessage.internal, Ticket.requester_id)
            .join(Ticket, Ticket.id == TicketMessage.ticket_id)
            .where(TicketMessage.body.contains(RARE_WORD))).all()
        notes_only = {t for t, internal, _ in rare if internal} - {
            t for t, internal, _ in rare if not internal}
        requesters = {r for t, _, r in rare if t in notes_only}
        total = db.session.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.account_id == result.account_id))
        db.session.remove()
    body = ApiClient(app, manager_id).get(
        f"/api/v1/ticket/?search={RARE_WORD}").get_json()
    expected = {t for t, _, r in rare if r != manager_id or t not in notes_only}
    assert body["count"] == len(expected) and set(body["ids"]) <= expected
    assert 0 < len(expected) < total
    for requester_id in list(requesters)[:3]:
        ids = set(ApiClient(app, requester_id).get(
            f"/api/v1/ticket/?search={RARE_WORD}").get_json()["ids"])
        assert not ids & {t for t, _, r in rare if r == requester_id and t in notes_only}


def test_postgresql_reads_a_selective_search_by_id_and_a_common_one_by_query(app, world,
                                                                             monkeypatch):
    """app.search.selective_ids: the planner's estimate decides whether the GIN probe
    runs; the probe answers the ids, or None above SELECTIVE_MAX."""
    import math

    ticket_id = make_ticket(app, world, description="Fone de ouvido com chiado")
    with app.app_context(), account_scope(world.account_id):
        if db.engine.dialect.name != "postgresql":
            return      # SQLite evaluates the FTS5 subquery first anyway
        values = search.params("chiado", world.users["attendant"])
        monkeypatch.setattr(search, "_table_rows", [math.inf, 1e12])   # "rare"
        assert search.selective_ids(db.session, values) == [ticket_id]
        monkeypatch.setattr(search, "SELECTIVE_MAX", 0)
        assert search.selective_ids(db.session, values) is None
        monkeypatch.setattr(search, "_table_rows", [math.inf, 1e-9])   # "common"
        monkeypatch.setattr(search, "SELECTIVE_MAX", 1000)
        assert search.selective_ids(db.session, values) is None
        # the probe's planner switches are undone for the rest of the transaction
        assert db.session.execute(text_("SHOW enable_seqscan")).scalar() == "on"
        db.session.remove()
