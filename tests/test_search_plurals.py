"""Portuguese plurals in the search (app.search.PLURAL_RULES, migration 0014): singular
finds plural and plural finds singular on SQLite (search_stem, FTS5) and PostgreSQL
(search_singular() in the generated columns and the queries), through the API and the
list pages, within what each person may read."""
from __future__ import annotations

import importlib.util
import pathlib
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from app import search
from app.extensions import db
from app.models import Member
from app.tenancy import account_scope
from tests.helpers import make_ticket
from tests.test_search import found, post, row_ids

MIGRATION = pathlib.Path(__file__).parent.parent / "migrations" / "versions" / \
    "0014_search_plurals.py"

# (singular, plural) as a helpdesk writes them; the accents are the real ones.
PAIRS = [
    ("impressora", "impressoras"), ("impressão", "impressões"), ("botão", "botões"),
    ("papel", "papéis"), ("anel", "anéis"), ("fuzil", "fuzis"), ("funil", "funis"),
    ("perfil", "perfis"), ("barril", "barris"), ("senha", "senhas"), ("ordem", "ordens"),
    ("mão", "mãos"), ("pão", "pães"), ("alemão", "alemães"), ("cão", "cães"),
    ("cidadão", "cidadãos"), ("computador", "computadores"), ("rede", "redes"),
    ("luz", "luzes"), ("email", "e-mails"), ("cartão", "cartões"),
    ("notebook", "notebooks"), ("animal", "animais"), ("canal", "canais"),
    ("jornal", "jornais"), ("móvel", "móveis"), ("nível", "níveis"), ("hotel", "hotéis"),
    ("lençol", "lençóis"), ("farol", "faróis"), ("álcool", "álcoois"), ("azul", "azuis"),
    ("túnel", "túneis"), ("fácil", "fáceis"), ("útil", "úteis"), ("portátil", "portáteis"),
    ("homem", "homens"), ("item", "itens"), ("login", "logins"), ("token", "tokens"),
    ("mensagem", "mensagens"), ("imagem", "imagens"), ("nuvem", "nuvens"), ("som", "sons"),
    ("jardim", "jardins"), ("álbum", "álbuns"), ("flor", "flores"), ("mês", "meses"),
    ("voz", "vozes"), ("raiz", "raízes"), ("opção", "opções"),
    ("configuração", "configurações"), ("conexão", "conexões"), ("sessão", "sessões"),
    ("servidor", "servidores"), ("monitor", "monitores"), ("teclado", "teclados"),
    ("mouse", "mouses"), ("roteador", "roteadores"), ("real", "reais"),
    ("sinal", "sinais"), ("ramal", "ramais"), ("disponível", "disponíveis"),
    ("pastel", "pastéis"), ("chapéu", "chapéus"), ("pneu", "pneus"), ("degrau", "degraus"),
    ("webcam", "webcams"), ("driver", "drivers"), ("tablet", "tablets"),
    ("link", "links"), ("backup", "backups"), ("menu", "menus"), ("erro", "erros"),
    ("dia", "dias"), ("ano", "anos"), ("olho", "olhos"), ("lei", "leis"),
    ("mãe", "mães"), ("português", "portugueses"), ("hipótese", "hipóteses"),
    ("reunião", "reuniões"), ("crachá", "crachás"), ("irmã", "irmãs"),
]

# Words that only look plural (or singular): each finds itself, accents or not.
LOOKALIKES = ["lápis", "ônibus", "tênis", "gás", "vírus", "pires", "caos", "país", "óculos",
              "bônus", "status", "atlas", "tórax", "bíceps", "abril", "Deus", "seis"]

# What the rules must not merge: (word, another word it must not find).
DISTINCT = [("caos", "cão"), ("abril", "abrir"), ("Deus", "deu"), ("mães", "mão"),
            ("país", "pai"), ("mais", "mal"), ("seis", "sei"), ("leis", "lê")]


def _migration():
    spec = importlib.util.spec_from_file_location("migration_0014", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _snowball_only(value: str) -> list[str]:
    return _migration()._stem_0007(value).split()


# --- the rules, in Python ----------------------------------------------------------


def test_the_migration_holds_the_same_rules_as_the_app():
    assert _migration().RULES == search.PLURAL_RULES


def test_snowball_alone_missed_these_plurals():
    """Why the rules exist (and that the word list tests something)."""
    missed = [pair for pair in PAIRS if _snowball_only(pair[0]) != _snowball_only(pair[1])]
    for pair in [("impressão", "impressões"), ("botão", "botões"), ("papel", "papéis"),
                 ("ordem", "ordens"), ("notebook", "notebooks"), ("erro", "erros")]:
        assert pair in missed
    assert len(missed) >= 50


@pytest.mark.parametrize("singular, plural", PAIRS)
def test_singular_and_plural_are_one_term(singular, plural):
    assert search.terms(singular) == search.terms(plural), (singular, plural)
    assert search.terms(search.unaccent(plural).upper()) == search.terms(singular)


def test_words_that_only_look_plural_keep_apart():
    for word, other in DISTINCT:
        assert search.terms(word) != search.terms(other), (word, other)
    # a word Snowball already met its plural with still does
    assert search.terms("herói") == search.terms("heróis")
    assert search.terms("flor") == search.terms("flores") == search.terms("FLORES")


def test_the_rules_work_on_whole_words_only():
    assert search.singular("12botoes botoes2 botoes_x") == "12botoes botoes2 botao_x"
    assert search.singular("e-mails; e-mail. emails") == "email; email. email"
    assert search.singular("") == ""


# --- the same rules in PostgreSQL ---------------------------------------------------

LETTERS = "abcdefghijklmnopqrstuvwxyzáàâãéêíóôõúüç"
ENDINGS = ["", "s", "es", "oes", "ões", "aes", "ães", "aos", "ãos", "ais", "eis", "éis",
           "ois", "óis", "uis", "is", "il", "ns", "n", "m", "res", "zes", "eses", "ês",
           "us", "eus", "éus", "a", "o", "e"]
SEPARATORS = [" ", "  ", "-", ", ", ".", "\n", "_", "/", "2", " 10 ", "(", ")", "'"]

_letters = st.sampled_from(LETTERS + LETTERS.upper())
_word = st.one_of(
    st.builds(lambda stem, ending, upper: (stem + ending).upper() if upper else stem + ending,
              st.text(_letters, min_size=0, max_size=7), st.sampled_from(ENDINGS),
              st.booleans()),
    st.sampled_from(["caos", "depois", "heróis", "Deus", "temos", "somos", "fomos", "abril",
                     "e-mails", "e-mail", "mães", "ares", "leis", "fáceis", "fácil",
                     "Portugueses", "gêneses", "perfil", "úteis", "táxis", "lápis"]),
)
_text = st.builds(lambda words, seps: "".join(w + s for w, s in zip(words, seps)),
                  st.lists(_word, min_size=1, max_size=12),
                  st.lists(st.sampled_from(SEPARATORS), min_size=12, max_size=12))


def test_postgresql_search_singular_is_the_python_rules(app, backend):
    """The property: for random words built from Portuguese letters and the plural
    endings, ``search_singular()`` in the database gives what app.search gives."""
    if backend != "postgresql":
        return          # SQLite calls app.search itself (search_stem)
    with app.app_context():
        connection = db.engine.connect()

    @settings(max_examples=200, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(value=_text)
    def check(value):
        database = connection.execute(text("SELECT search_singular(:v)"), {"v": value}).scalar()
        assert database == search.singular(search.fold(value)), value

    try:
        check()
        # and the words reach the same stems (apart from PostgreSQL's stopwords)
        words = " ".join(w for pair in PAIRS for w in pair) + " " + " ".join(LOOKALIKES)
        lexemes = set(connection.execute(text(
            "SELECT unnest(tsvector_to_array(to_tsvector('portuguese_unaccent', "
            "search_singular(:v))))"), {"v": words}).scalars())
        assert lexemes <= set(search.terms(words))
        assert len(lexemes) >= len(PAIRS)
    finally:
        connection.close()


# --- through the API and the list pages, both backends --------------------------------


def _open_many(app, world, descriptions: list[str], requester="requester") -> list[int]:
    from app import workflow

    with app.app_context(), account_scope(world.account_id):
        actor = db.session.get(Member, world.users[requester])
        ids = [workflow.open_ticket(actor, department_id=world.departments["TI"],
                                    service_id=world.services["Acesso"], priority="low",
                                    description=description).id
               for description in descriptions]
        db.session.remove()
    return ids


def _chunks(words: list[str]) -> list[str]:
    """Searches of several words each (every word must appear), within the search's
    limits (``search.MAX_SEARCH`` characters, ``search.MAX_TERMS`` words)."""
    chunks, current = [], []
    for word in words:
        if current and (len(" ".join(current + [word])) > search.MAX_SEARCH
                        or len(current) == search.MAX_TERMS):
            chunks.append(" ".join(current))
            current = []
        current.append(word)
    return chunks + [" ".join(current)]


def test_singular_finds_plural_and_plural_finds_singular(app, api, web, world):
    """One ticket holds every singular, another every plural; no two pairs share a
    term, so a search of singulars that finds the plurals' ticket found each word's own
    plural (and the other way round). A failure names the word."""
    keys = [tuple(search.terms(singular)) for singular, _ in PAIRS]
    assert len(set(keys)) == len(keys)
    singulars, plurals = [s for s, _ in PAIRS], [p for _, p in PAIRS]
    ids = _open_many(app, world, [" ".join(singulars), " ".join(plurals),
                                  "Outra coisa qualquer"])
    both, control = sorted(ids[:2]), ids[2]
    attendant = world.users["attendant"]
    for words in (singulars, plurals, [search.unaccent(w).upper() for w in plurals],
                  [search.unaccent(w) for w in singulars]):
        for chunk in _chunks(words):
            if found(api, attendant, chunk) != both:
                missed = [w for w in chunk.split() if found(api, attendant, w) != both]
                pytest.fail(f"não encontrados nas duas formas: {missed}")
    assert control not in found(api, attendant, "impressões")
    # the list pages: the queue, the requester's list, the account's list
    for client, url in ((web("alfa_attendant"), "/atendente/fila"),
                        (web("alfa_requester"), "/cliente/chamados"),
                        (web("alfa_manager"), "/chamados/")):
        for words in ("impressoes", "papel", "ordens", "BOTOES", "botão cartões"):
            query = urllib.parse.urlencode({"busca": words})
            assert row_ids(client.get(f"{url}?{query}")) == both, (url, words)


def test_words_that_only_look_plural_find_themselves(app, api, world):
    keys = [tuple(search.terms(word)) for word in LOOKALIKES]
    assert len(set(keys)) == len(keys)
    itself, others = _open_many(app, world, [" ".join(LOOKALIKES),
                                             " ".join(other for _, other in DISTINCT)])
    attendant = world.users["attendant"]
    for words in (LOOKALIKES, [search.unaccent(w).lower() for w in LOOKALIKES]):
        for chunk in _chunks(words):
            if found(api, attendant, chunk) != [itself]:
                missed = [w for w in chunk.split() if itself not in found(api, attendant, w)]
                pytest.fail(f"não se encontram: {missed}")
    for word, other in DISTINCT:
        assert others not in found(api, attendant, word), (word, other)


def test_another_accounts_plurals_are_never_found(app, api, web, world, other_world):
    ours = _open_many(app, world, ["Duas impressões borradas"])[0]
    theirs = _open_many(app, other_world, ["Impressão borrada", "Os botões travaram"])
    for who in ("manager", "admin", "attendant", "requester"):
        assert found(api, world.users[who], "impressão") == [ours], who
        assert found(api, world.users[who], "botão") == [], who
    assert found(api, other_world.users["manager"], "impressoes") == [theirs[0]]
    assert row_ids(web("alfa_manager").get("/chamados/?busca=botoes")) == []
    assert row_ids(web("alfa_manager").get("/chamados/?busca=impress%C3%A3o")) == [ours]


def test_a_plural_in_an_internal_note_is_never_found_by_the_requester(app, api, web, world):
    ticket_id = make_ticket(app, world, "in_progress", description="Acesso ao ERP")
    post(app, world, ticket_id, "attendant", "Trocar os cartões de ponto dos alemães",
         internal=True)
    requester = world.users["requester"]
    assert found(api, world.users["attendant"], "cartão alemão") == [ticket_id]
    assert found(api, world.users["manager"], "cartao") == [ticket_id]
    for words in ("cartão", "cartoes", "alemão", "acesso cartão"):
        assert found(api, requester, words) == [], words
    page = web("alfa_requester").get("/cliente/chamados?busca=cart%C3%A3o")
    assert row_ids(page) == [] and "cartões" not in page.get_data(as_text=True)
    assert found(api, requester, "acessos") == [ticket_id]


# --- the migration: up with data, down to the old stems, up again ---------------------


@pytest.fixture
def empty_database(backend, request, tmp_path):
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'plurals-migration.db'}"
    server = request.getfixturevalue("pg_server")
    return server.create_database(f"plurals_{tmp_path.name[-8:].lower()}".replace("-", "_"))


def test_the_migration_rebuilds_the_search_and_its_downgrade_restores_the_old(
        empty_database, tmp_path):
    import datetime as dt

    from flask_migrate import downgrade, upgrade
    from sqlalchemy import select

    from app import create_app
    from app.models import Ticket
    from tests.conftest import test_config

    application = create_app(test_config(empty_database, str(tmp_path)))
    with application.app_context():
        upgrade(revision="d9f46f7a8bae")
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
                "1, 1, 'low', 'open', 'Impressões falhando', 'Os botões', :t, :t, 0, "
                "false, 1, :t)"), {"t": now})
            for message_id, body, internal in ((1, "Troquei os papéis", False),
                                               (2, "Pedir cartões novos", True)):
                conn.execute(text(
                    "INSERT INTO ticket_message (id, account_id, ticket_id, author_id, body, "
                    "internal, created_at) VALUES (:id, 1, 7, 1, :b, :i, :t)"),
                    {"id": message_id, "b": body, "i": internal, "t": now})
        dialect = db.engine.dialect.name

        def hits(words, public_only):
            stmt = select(Ticket.id).where(search.condition(dialect, public_only))
            found_ids = list(db.session.scalars(stmt, search.params(words, 99)))
            db.session.remove()
            return found_ids

        texts = {"content_text": "Impressões falhando Os botões",
                 "messages": "Troquei os papéis", "notes": "Pedir cartões novos"}

        def stored_is(stems: str) -> bool:
            """The search documents are those of 0007 (``old``) or of the rules."""
            with db.engine.connect() as conn:
                if dialect == "postgresql":
                    singular = "search_singular" if stems == "rules" else ""
                    return conn.execute(text(
                        f"SELECT search_vector = to_tsvector('portuguese_unaccent', "
                        f"{singular}(subject || ' ' || description)) AND messages_vector = "
                        f"strip(to_tsvector('portuguese_unaccent', {singular}(:m))) AND "
                        f"notes_vector = strip(to_tsvector('portuguese_unaccent', "
                        f"{singular}(:n))) FROM ticket"),
                        {"m": texts["messages"], "n": texts["notes"]}).scalar()
                row = conn.execute(text("SELECT content_text, messages, notes "
                                        "FROM ticket_search")).one()
            stem = search.stem_text if stems == "rules" else _migration()._stem_0007
            return [value.split() for value in row] == \
                [stem(texts[column]).split() for column in ("content_text", "messages", "notes")]

        upgrade()
        assert stored_is("rules") and not stored_is("old")
        assert hits("impressão botão", True) == [7]
        assert hits("papel", True) == [7]
        assert hits("cartão", True) == [] and hits("cartao", False) == [7]
        downgrade(revision="d9f46f7a8bae")
        assert stored_is("old")
        if dialect == "postgresql":
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM pg_proc "
                                         "WHERE proname = 'search_singular'")).scalar() == 0
        upgrade()
        assert hits("impressao papeis", True) == [7]
        db.session.remove()
        db.engine.dispose()
