"""Full-text search over tickets: what a person typed -> a condition on Ticket.

Both backends search the same documents per ticket, kept current by the database in
the same transaction as the write (migration 0007):

* the ticket's own text (subject and description);
* its public messages;
* its internal notes, searched only for people who read them: never for the ticket's
  own requester (``workflow.hides_internal``), whatever other profile they hold.

PostgreSQL: the text search configuration ``portuguese_unaccent`` (``portuguese`` with
``unaccent`` before the stemmer), ``ticket.search_vector`` generated from subject and
description, ``ticket_message.search_vector`` generated from the body, and
``ticket.messages_vector`` / ``ticket.notes_vector``, the ticket's public messages and
notes, maintained by a trigger on ``ticket_message``. One GIN index over the three
together answers the staff's searches; the requester's side reads only the first two.

SQLite (the embedded default): an FTS5 table ``ticket_search`` (rowid = ticket id;
columns ``content_text``, ``messages``, ``notes``) filled by triggers that call
``search_stem``, a Python function registered on every connection: SQLite has no
Portuguese stemmer, so words are lower-cased, unaccented and stemmed here with
Snowball's Portuguese stemmer (the algorithm PostgreSQL's ``portuguese_stem`` uses), for
the stored text and for the query alike.

Plurals (migration 0014): once accents are gone, Snowball misses many Portuguese plurals
("impressoes" is not "impressao", "papeis" not "papel", "ordens" not "ordem"). Both
backends first rewrite the unaccented, lower-cased text with the same ordered list of
regular expressions, ``PLURAL_RULES``, which turns those plurals into their singular
(or both forms into one key); only then do words reach the stemmer. PostgreSQL runs them
in ``search_singular(text)``, an IMMUTABLE SQL function (``regexp_replace`` chain) that
the generated columns and the queries call; SQLite runs them here, in ``search_stem``.
The patterns use only syntax Python's ``re`` and PostgreSQL's regular expressions read
alike (ASCII classes, lookaround, back-references), and the migration holds the same list:
``tests/test_search_plurals.py`` checks the two against each other.

Queries never hand user text to a query syntax: PostgreSQL gets it through
``search_singular`` and ``plainto_tsquery`` (every word must appear, no operators),
FTS5 gets only stems of letters and digits, each one quoted. Every word must appear
somewhere in what the person may read of the ticket (AND, any order): a query with AND
only is monotonic, so "the staff's document matches and, on my own tickets, the public
one matches too" is exact, and a word of an internal note can neither find nor hide a
requester's ticket.
"""
from __future__ import annotations

import functools
import re
import sqlite3
import unicodedata

import snowballstemmer
from sqlalchemy import and_, bindparam, event, false, literal_column, or_, select, text
from sqlalchemy.pool import Pool

from app.models import Ticket

MAX_SEARCH = 200            # characters of a search; longer is refused with a message
MAX_TERMS = 32              # words of a search that count (200 characters hold ~100)
CONFIG = "portuguese_unaccent"
SQLITE_FUNCTION = "search_stem"
PG_SINGULAR = "search_singular"     # migration 0014: the plural rules, in the database

# PostgreSQL: the document a reader of internal notes searches, the one a requester
# searches (the first is the GIN index's expression, written the same way).
PG_STAFF_DOCUMENT = "ticket.search_vector || ticket.messages_vector || ticket.notes_vector"
PG_PUBLIC_DOCUMENT = "ticket.search_vector || ticket.messages_vector"
SQLITE_PUBLIC_COLUMNS = "{content_text messages}"

# What migration 0007 adds that the models do not declare (the schema-drift test skips
# them): PostgreSQL columns and index, SQLite's FTS5 table and its shadow tables.
SCHEMA_COLUMNS = {("ticket", "search_vector"), ("ticket", "messages_vector"),
                  ("ticket", "notes_vector"), ("ticket_message", "search_vector")}
SCHEMA_INDEXES = {"ix_ticket_search"}
SCHEMA_TABLES = {"ticket_search", "ticket_search_data", "ticket_search_idx",
                 "ticket_search_content", "ticket_search_docsize", "ticket_search_config"}


class SearchError(ValueError):
    """A search that is refused (too long); ``message`` is shown to the person."""

    field = "search"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- words ------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")
_STEMMER = snowballstemmer.stemmer("portuguese")


def unaccent(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _STEMMER.stemWord(word)


# --- plurals: what Snowball misses once the accents are gone -------------------------
#
# Each rule rewrites whole words of the unaccented, lower-cased text. A word is a run of
# ASCII letters between characters that are neither letters nor digits (after unaccent,
# Portuguese is ASCII; other scripts are left alone). Order matters: a rule sees the
# output of the ones before it. Migration 0014 holds the same list for PostgreSQL's
# ``search_singular()``: change both together, in a new migration.

_START = r"(?<![a-z0-9])"
_END = r"(?![a-z0-9])"
# Words that only look like the plurals below, or whose rewrite would merge them with
# another word: caos (not cão), depois (a stopword), heróis (Snowball already meets
# herói), deus (not "deu"), temos/somos/fomos (stopwords), abril (not "abrir").
PLURAL_EXCEPTIONS = ("caos", "depois", "herois", "deus", "temos", "somos", "fomos", "abril")
# Paroxytone -il words, whose plural is -eis (fácil/fáceis, útil/úteis), not -is.
PAROXYTONE_IL = ("ag", "contrat", "debil", "dific", "doc", "duct", "eret", "erect", "ester",
                 "fac", "fert", "fiss", "foss", "frag", "fut", "grac", "hab", "inab", "indoc",
                 "infert", "inut", "lab", "miss", "nub", "pens", "portat", "projet", "rept",
                 "retrat", "sess", "tact", "tat", "text", "ut", "versat", "volat")
# Protected words carry this mark between two rules: followed by it, they are no
# longer whole words for the rules in between. (A negative lookahead per rule reads the
# same, but costs PostgreSQL's regex engine ten times as much.)
_MARK = "q0q"
_IL = "|".join(PAROXYTONE_IL)
PLURAL_RULES: tuple[tuple[str, str], ...] = (
    # e-mail(s) -> email(s): one word, whichever way it is written
    (_START + r"e-(mails?)" + _END, r"e\1"),
    # short words with their own plural: ares, mães, leis, reis, bois
    (_START + r"(ar|mae|lei|rei|boi)e?s" + _END, r"\1"),
    # -ês nouns: portugueses, fregueses, japoneses, franceses, holandeses (not gêneses)
    (_START + r"([a-z]+(?:gu|qu|[a-df-lo-z]n|nc|d))eses" + _END, r"\1es"),
    # paroxytone -il and their -eis (fáceis, úteis, portáteis) -> -il, protected from
    # here... (so are the exceptions)
    (_START + r"(" + _IL + r")(?:eis|il)" + _END, r"\1il" + _MARK),
    (_START + r"(" + "|".join(PLURAL_EXCEPTIONS) + r")" + _END, r"\1" + _MARK),
    # -ões, -ães, -ãos -> -ão: impressões, botões, pães, cães, mãos
    (_START + r"([a-z]+)(?:oes|aes|aos)" + _END, r"\1ao"),
    # -ais, -eis, -ois, -uis -> -al, -el, -ol, -ul: canais, papéis, lençóis, azuis
    (_START + r"([a-z][a-z]+[aeou])is" + _END, r"\1l"),
    # oxytone -il -> -i, which Snowball strips as it strips the plural's -is:
    # fuzil/fuzis, perfil/perfis, barril/barris (táxi/táxis keep working)
    (_START + r"([a-z]+[b-df-hj-np-tv-z]i)l" + _END, r"\1"),
    # -ns and -n -> -m: ordens/ordem, itens/item, logins/login, tokens/token
    (_START + r"([a-z][a-z]+)ns?" + _END, r"\1m"),
    # a plural -s after a consonant or -u: notebooks, e-mails, drivers, pneus, menus
    (_START + r"([a-z]+[b-df-hj-mp-rtuv-z])s" + _END, r"\1"),
    # short words Snowball leaves whole: anos, erros, dias, ruas, olhos, artes
    (_START + r"([a-z][a-z][a-z]?[aeo])s" + _END, r"\1"),
    # ... to here
    (r"(?<=[a-z])" + _MARK + _END, ""),
)
_PLURALS = tuple((re.compile(pattern), replacement) for pattern, replacement in PLURAL_RULES)


def fold(value: str) -> str:
    """Lower-cased and unaccented (PostgreSQL: ``lower(unaccent(value))``)."""
    return unaccent(value.casefold())


def singular(folded: str) -> str:
    """``PLURAL_RULES`` over a folded text: what ``search_singular()`` is in
    PostgreSQL."""
    for pattern, replacement in _PLURALS:
        folded = pattern.sub(replacement, folded)
    return folded


def terms(value: str | None) -> list[str]:
    """The stems of the words of ``value``: lower-cased, unaccented, plurals made
    singular, Snowball's Portuguese stemmer (as PostgreSQL: ``search_singular()``, then
    the configuration's unaccent and stemmer)."""
    if not value:
        return []
    return [_stem(w) for w in _WORD.findall(singular(fold(value)))]


def stem_text(value) -> str:
    """``search_stem()`` in SQLite: the stored form of a text (its stems, in order)."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(terms(str(value)))


def normalize(raw) -> str | None:
    """What was typed, made safe to bind: None when empty; control characters (NUL
    included, which PostgreSQL rejects) become spaces; over ``MAX_SEARCH`` characters
    is a SearchError."""
    if raw is None:
        return None
    value = "".join(" " if unicodedata.category(c) in ("Cc", "Cs") else c for c in str(raw))
    value = " ".join(value.split())
    if not value:
        return None
    if len(value) > MAX_SEARCH:
        raise SearchError(f"A busca aceita no máximo {MAX_SEARCH} caracteres; "
                          "use menos palavras.")
    return value


# --- SQLite: the stemming function on every connection ------------------------------


@event.listens_for(Pool, "checkout")
def _register_sqlite_function(dbapi_connection, record, proxy):
    """``search_stem`` on each SQLite connection, once (the FTS5 triggers call it).
    On checkout rather than connect, so connections opened before this module was
    imported get it too."""
    if record.info.get(SQLITE_FUNCTION) or not isinstance(dbapi_connection,
                                                          sqlite3.Connection):
        return
    register(dbapi_connection)
    record.info[SQLITE_FUNCTION] = True


def register(dbapi_connection) -> None:
    dbapi_connection.create_function(SQLITE_FUNCTION, 1, stem_text, deterministic=True)


# --- conditions -------------------------------------------------------------------


def _fts_ids(param: str):
    return select(literal_column("ticket_search.rowid")).select_from(
        text("ticket_search")).where(text(f"ticket_search MATCH :{param}"))


@functools.lru_cache(maxsize=8)
def condition(dialect: str, public_only: bool = False):
    """A condition on Ticket, built once per dialect and kind, whose values are the
    bound parameters of ``params()``: the ticket's text, or a message of it the reader
    may read, holds every word. ``public_only``: the list shows only the reader's own
    tickets (the requester's), so notes never count."""
    if dialect == "postgresql":
        query = f"plainto_tsquery('{CONFIG}', {PG_SINGULAR}(:search_text))"
        public = text(f"({PG_PUBLIC_DOCUMENT}) @@ {query}")
        if public_only:
            return public
        staff = text(f"({PG_STAFF_DOCUMENT}) @@ {query}")
        return and_(staff, or_(Ticket.requester_id != bindparam("search_me"), public))
    public = Ticket.id.in_(_fts_ids("search_public"))
    if public_only:
        return public
    return and_(Ticket.id.in_(_fts_ids("search_staff")),
                or_(Ticket.requester_id != bindparam("search_me"), public))


def params(value: str, actor_id: int) -> dict:
    """The bound values of ``condition()`` for ``value`` (already ``normalize``d)."""
    stems = list(dict.fromkeys(terms(value)))[:MAX_TERMS]
    phrase = " ".join(f'"{s}"' for s in stems)      # stems hold letters and digits only
    return {"search_text": value, "search_me": actor_id,
            "search_staff": phrase or '""',
            "search_public": f"{SQLITE_PUBLIC_COLUMNS} : ({phrase})" if phrase else '""'}


SELECTIVE_MAX = 1000        # PostgreSQL: up to this many matches, lists read them by id
COMMON_SHARE = 0.05         # a search the planner expects in 5% of tickets: no probe
_table_rows: list = [0.0, -1.0]     # [expires at, ticket's reltuples], per process


def selective_ids(session, values: dict) -> list[int] | None:
    """PostgreSQL, staff searches: the ids of the matching tickets when there are at
    most ``SELECTIVE_MAX``, read through the GIN index; None when there are more.

    Why: with a LIMIT (a page, a capped count) and a word the statistics do not know,
    the planner expects matches everywhere and walks an ordered index filtering row by
    row; for a rare or misspelt word that is the whole account (2.7 s at 1M tickets).
    Read through the index first, a selective search becomes ``id IN (...)``. A search
    the statistics know to be common (``COMMON_SHARE`` of the table or more, asked of
    the planner: EXPLAIN, nothing run) skips the probe: the ordered walk then stops
    early, and a bitmap of half a million rows would cost more than it saves. Only
    bitmap scans are allowed for the probe (``SET LOCAL``, undone right after)."""
    import json
    import time

    connection = session.connection()
    if _table_rows[0] < time.monotonic():
        _table_rows[:] = [time.monotonic() + 600, float(connection.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE relname = 'ticket'").scalar() or -1)]
    if _table_rows[1] > 0:
        plan = connection.exec_driver_sql(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM ticket WHERE ({PG_STAFF_DOCUMENT}) "
            f"@@ plainto_tsquery('{CONFIG}', {PG_SINGULAR}(%(text)s))",
            {"text": values["search_text"]}
        ).scalar()
        plan = json.loads(plan) if isinstance(plan, str) else plan
        if plan[0]["Plan"]["Plan Rows"] >= COMMON_SHARE * _table_rows[1]:
            return None
    switch = ("SELECT set_config('enable_seqscan', '{0}', true), "
              "set_config('enable_indexscan', '{0}', true)")
    session.execute(text(switch.format("off")))
    try:
        ids = list(session.scalars(select(Ticket.id).where(condition("postgresql"))
                                   .limit(SELECTIVE_MAX + 1), values))
    finally:
        session.execute(text(switch.format("on")))
    return ids if len(ids) <= SELECTIVE_MAX else None


def has_words(value: str) -> bool:
    return bool(terms(value))


def nothing():
    return false()


def is_schema_drift_exempt(diff) -> bool:
    """For the schema-drift test: a difference that is one of this module's objects."""
    kind = diff[0]
    if kind == "remove_table":
        return diff[1].name in SCHEMA_TABLES
    if kind == "remove_index":
        return diff[1].name in SCHEMA_INDEXES
    if kind == "remove_column":
        return (diff[2], diff[3].name) in SCHEMA_COLUMNS
    return False
