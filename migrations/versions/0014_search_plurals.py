"""Search: Portuguese plurals meet their singular (impressões/impressão, papéis/papel)

Snowball's Portuguese stemmer, run after unaccent, misses many plurals ("impressoes" is
not "impressao", "papeis" not "papel", "ordens" not "ordem", "notebooks" not
"notebook"). Both backends now rewrite the unaccented, lower-cased text with one ordered
list of regular expressions (``RULES`` below, the same as ``app.search.PLURAL_RULES``)
before the stemmer sees it.

PostgreSQL:

* ``search_singular(text)``: an IMMUTABLE SQL function, ``lower(unaccent(...))`` and a
  chain of ``regexp_replace``. IMMUTABLE is what a generated column requires; it is true
  of the body (the unaccent dictionary is named with its schema, the rules are
  constants), as it is of ``to_tsvector`` with a fixed configuration. A text search
  dictionary would need C code or files in the server's share directory; a function
  needs neither.
* ``ticket.search_vector`` and ``ticket_message.search_vector`` are generated from
  ``search_singular(...)``. PostgreSQL 15 cannot change a generated column's expression:
  the columns are dropped and added again, which rewrites both tables under an ACCESS
  EXCLUSIVE lock (lists and writes wait; docs/search.md has the time at 100k tickets).
  ``messages_vector`` / ``notes_vector`` are rebuilt from the new message vectors before
  ``ticket``'s column is added, so its rewrite also drops that UPDATE's dead rows. The
  GIN index ``ix_ticket_search`` is built again over the same expression.
* The queries call ``plainto_tsquery('portuguese_unaccent', search_singular(:text))``
  (app/search.py).

SQLite: ``search_stem()`` (app/search.py) applies the rules; the FTS5 table's content
is computed again with it. The downgrade recomputes it with the stemmer of 0007 (no
plural rules), the function the previous code registers.

Revision ID: b7d24e5f6a8c
Revises: d9f46f7a8bae
Create Date: 2026-12-01 18:00:00
"""
from alembic import op

revision = "b7d24e5f6a8c"
down_revision = "d9f46f7a8bae"
branch_labels = None
depends_on = None

CONFIG = "portuguese_unaccent"
FUNCTION = "search_singular"

# The rules as of this revision (app.search.PLURAL_RULES; a later change to them needs
# its own migration). Patterns Python's re and PostgreSQL read alike.
_START = r"(?<![a-z0-9])"
_END = r"(?![a-z0-9])"
_EXCEPTIONS = ("caos", "depois", "herois", "deus", "temos", "somos", "fomos", "abril")
_PAROXYTONE_IL = ("ag", "contrat", "debil", "dific", "doc", "duct", "eret", "erect", "ester",
                  "fac", "fert", "fiss", "foss", "frag", "fut", "grac", "hab", "inab",
                  "indoc", "infert", "inut", "lab", "miss", "nub", "pens", "portat", "projet",
                  "rept", "retrat", "sess", "tact", "tat", "text", "ut", "versat", "volat")
_MARK = "q0q"
_IL = "|".join(_PAROXYTONE_IL)
RULES = (
    (_START + r"e-(mails?)" + _END, r"e\1"),
    (_START + r"(ar|mae|lei|rei|boi)e?s" + _END, r"\1"),
    (_START + r"([a-z]+(?:gu|qu|[a-df-lo-z]n|nc|d))eses" + _END, r"\1es"),
    (_START + r"(" + _IL + r")(?:eis|il)" + _END, r"\1il" + _MARK),
    (_START + r"(" + "|".join(_EXCEPTIONS) + r")" + _END, r"\1" + _MARK),
    (_START + r"([a-z]+)(?:oes|aes|aos)" + _END, r"\1ao"),
    (_START + r"([a-z][a-z]+[aeou])is" + _END, r"\1l"),
    (_START + r"([a-z]+[b-df-hj-np-tv-z]i)l" + _END, r"\1"),
    (_START + r"([a-z][a-z]+)ns?" + _END, r"\1m"),
    (_START + r"([a-z]+[b-df-hj-mp-rtuv-z])s" + _END, r"\1"),
    (_START + r"([a-z][a-z][a-z]?[aeo])s" + _END, r"\1"),
    (r"(?<=[a-z])" + _MARK + _END, ""),
)

# --- PostgreSQL ------------------------------------------------------------------------


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _function_sql(schema: str) -> str:
    """``search_singular``, with the unaccent extension's schema written in: the body
    must not depend on the caller's search_path (pg_restore runs with an empty one while
    it fills generated columns)."""
    body = f"pg_catalog.lower({schema}.unaccent({_literal(schema + '.unaccent')}" \
           "::regdictionary, value))"
    for pattern, replacement in RULES:
        body = f"pg_catalog.regexp_replace({body}, {_literal(pattern)}, " \
               f"{_literal(replacement)}, 'g')"
    return (f"CREATE FUNCTION {FUNCTION}(value text) RETURNS text "
            "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $body$ SELECT "
            f"{body} $body$")


def _rebuild_sql(ticket_text: str, message_text: str) -> str:
    """Generated columns again over new expressions, the ticket's message documents
    from the new message vectors (stripped before they are added up, so a long
    conversation's positions never approach tsvector's 1 MB), the GIN index and its
    statistics (app.search.selective_ids asks the planner): one rewrite of each
    table."""
    return f"""
DROP INDEX IF EXISTS ix_ticket_search;
ALTER TABLE ticket DROP COLUMN search_vector;
ALTER TABLE ticket_message DROP COLUMN search_vector;
ALTER TABLE ticket_message ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    to_tsvector('{CONFIG}'::regconfig, {message_text})) STORED;
UPDATE ticket t SET messages_vector = coalesce(a.public, ''),
                    notes_vector = coalesce(a.notes, '')
FROM (SELECT ticket_id,
             tsvector_agg(strip(search_vector)) FILTER (WHERE NOT internal) AS public,
             tsvector_agg(strip(search_vector)) FILTER (WHERE internal) AS notes
      FROM ticket_message GROUP BY ticket_id) a
WHERE a.ticket_id = t.id;
ALTER TABLE ticket ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    to_tsvector('{CONFIG}'::regconfig, {ticket_text})) STORED;
CREATE INDEX ix_ticket_search ON ticket
    USING gin ((search_vector || messages_vector || notes_vector));
ANALYZE ticket;
ANALYZE ticket_message;
"""


# --- SQLite ----------------------------------------------------------------------------

STEM = "search_stem"
_MESSAGES = (f"(SELECT coalesce(group_concat({STEM}(body), ' '), '') FROM "
             "(SELECT body FROM ticket_message WHERE ticket_id = t.id AND internal {op} 0 "
             "ORDER BY id))")
SQLITE_REBUILD = (
    "INSERT INTO ticket_search (rowid, content_text, messages, notes) "
    f"SELECT t.id, {STEM}(t.subject || ' ' || t.description), "
    f"{_MESSAGES.format(op='=')}, {_MESSAGES.format(op='<>')} FROM ticket t")


def _stem_0007(value) -> str:
    """``search_stem`` as revision 0007 had it: casefold, unaccent, Snowball."""
    import re
    import unicodedata

    import snowballstemmer

    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    stemmer = snowballstemmer.stemmer("portuguese")
    decomposed = unicodedata.normalize("NFKD", str(value).casefold())
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stemmer.stemWord(w) for w in re.findall(r"[^\W_]+", folded))


def _sqlite_rebuild() -> None:
    op.execute("DELETE FROM ticket_search")
    op.execute(SQLITE_REBUILD)


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        schema = bind.exec_driver_sql(
            "SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n "
            "ON n.oid = e.extnamespace WHERE e.extname = 'unaccent'").scalar_one()
        bind.exec_driver_sql(_function_sql(schema))    # not text(): "(?:" is no bind
        op.execute(_rebuild_sql(f"{FUNCTION}(subject || ' ' || description)",
                                f"{FUNCTION}(body)"))
        return
    from app.search import register

    register(bind.connection.dbapi_connection)      # the rules' search_stem
    _sqlite_rebuild()


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(_rebuild_sql("subject || ' ' || description", "body"))
        op.execute(f"DROP FUNCTION {FUNCTION}(text)")
        return
    # The stems of 0007, for the code of that revision. This connection keeps the old
    # function until it closes (a downgrade runs in its own process).
    bind.connection.dbapi_connection.create_function(STEM, 1, _stem_0007,
                                                     deterministic=True)
    _sqlite_rebuild()
