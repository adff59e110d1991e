"""Full-text search: Portuguese, accent-insensitive, kept current by the database

PostgreSQL (needs the ``unaccent`` extension: a trusted extension since PostgreSQL 13,
so the database owner, or any role with CREATE on the database, may create it; before
13, a superuser must run ``CREATE EXTENSION unaccent`` once):

* text search configuration ``portuguese_unaccent``: a copy of ``portuguese`` whose
  words go through ``unaccent`` before ``portuguese_stem``;
* ``ticket.search_vector``, generated from subject and description, and
  ``ticket_message.search_vector``, generated from the body (stored);
* ``ticket.messages_vector`` and ``ticket.notes_vector``: the ticket's public messages
  and internal notes, kept by a trigger on ``ticket_message`` (stripped of positions:
  searches use every word, never phrases), backfilled here;
* one GIN index over the three vectors of a ticket (the staff's search document).

SQLite: an FTS5 table ``ticket_search`` (rowid = ticket id) with the stemmed subject and
description, public messages and notes, kept by triggers calling ``search_stem()``,
the Python function app.search registers on every connection. A later batch migration
that re-creates ``ticket`` or ``ticket_message`` on SQLite drops their triggers: it must
create them again (``_sqlite_triggers`` below).

Revision ID: af6a7b8c9d04
Revises: b17c8d9e0f26
Create Date: 2026-12-01 12:00:00
"""
from alembic import op

revision = "af6a7b8c9d04"
down_revision = "b17c8d9e0f26"
branch_labels = None
depends_on = None

CONFIG = "portuguese_unaccent"

PG_UPGRADE = f"""
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = portuguese);
ALTER TEXT SEARCH CONFIGURATION {CONFIG}
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, portuguese_stem;
CREATE AGGREGATE tsvector_agg(tsvector) (SFUNC = tsvector_concat, STYPE = tsvector,
                                         INITCOND = '');

ALTER TABLE ticket
    ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        to_tsvector('{CONFIG}'::regconfig, subject || ' ' || description)) STORED,
    ADD COLUMN messages_vector tsvector NOT NULL DEFAULT '',
    ADD COLUMN notes_vector tsvector NOT NULL DEFAULT '';
ALTER TABLE ticket_message
    ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        to_tsvector('{CONFIG}'::regconfig, body)) STORED;

CREATE FUNCTION ticket_search_refresh(target integer) RETURNS void
LANGUAGE sql AS $$
    UPDATE ticket SET
        messages_vector = coalesce((SELECT strip(tsvector_agg(m.search_vector ORDER BY m.id))
                                    FROM ticket_message m
                                    WHERE m.ticket_id = ticket_search_refresh.target
                                      AND NOT m.internal), ''),
        notes_vector = coalesce((SELECT strip(tsvector_agg(m.search_vector ORDER BY m.id))
                                 FROM ticket_message m
                                 WHERE m.ticket_id = ticket_search_refresh.target
                                   AND m.internal), '')
    WHERE id = ticket_search_refresh.target;
$$;

CREATE FUNCTION ticket_message_search_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        BEGIN
            IF NEW.internal THEN
                UPDATE ticket SET notes_vector = strip(notes_vector || NEW.search_vector)
                WHERE id = NEW.ticket_id;
            ELSE
                UPDATE ticket SET messages_vector = strip(messages_vector || NEW.search_vector)
                WHERE id = NEW.ticket_id;
            END IF;
        EXCEPTION WHEN program_limit_exceeded THEN
            -- a ticket whose words pass tsvector's 1 MB: the earlier ones stay searchable
            NULL;
        END;
        RETURN NULL;
    END IF;
    PERFORM ticket_search_refresh(OLD.ticket_id);
    IF TG_OP = 'UPDATE' AND NEW.ticket_id <> OLD.ticket_id THEN
        PERFORM ticket_search_refresh(NEW.ticket_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ticket_message_search AFTER INSERT OR DELETE OR UPDATE OF body, internal,
    ticket_id ON ticket_message FOR EACH ROW EXECUTE FUNCTION ticket_message_search_sync();

UPDATE ticket t SET messages_vector = coalesce(a.public, ''), notes_vector = coalesce(a.notes, '')
FROM (SELECT ticket_id,
             strip(tsvector_agg(search_vector ORDER BY id) FILTER (WHERE NOT internal)) AS public,
             strip(tsvector_agg(search_vector ORDER BY id) FILTER (WHERE internal)) AS notes
      FROM ticket_message GROUP BY ticket_id) a
WHERE a.ticket_id = t.id;

CREATE INDEX ix_ticket_search ON ticket
    USING gin ((search_vector || messages_vector || notes_vector));
"""

PG_DOWNGRADE = f"""
DROP TRIGGER IF EXISTS ticket_message_search ON ticket_message;
DROP FUNCTION IF EXISTS ticket_message_search_sync();
DROP FUNCTION IF EXISTS ticket_search_refresh(integer);
DROP INDEX IF EXISTS ix_ticket_search;
ALTER TABLE ticket_message DROP COLUMN IF EXISTS search_vector;
ALTER TABLE ticket DROP COLUMN IF EXISTS search_vector,
    DROP COLUMN IF EXISTS messages_vector, DROP COLUMN IF EXISTS notes_vector;
DROP AGGREGATE IF EXISTS tsvector_agg(tsvector);
DROP TEXT SEARCH CONFIGURATION IF EXISTS {CONFIG};
"""
# The unaccent extension stays: other objects of the database may use it.

STEM = "search_stem"
_MESSAGES = (f"(SELECT coalesce(group_concat({STEM}(body), ' '), '') FROM "
             "(SELECT body FROM ticket_message WHERE ticket_id = {t} AND internal {op} 0 "
             "ORDER BY id))")


def _refresh(ticket: str) -> str:
    return (f"UPDATE ticket_search SET messages = {_MESSAGES.format(t=ticket, op='=')}, "
            f"notes = {_MESSAGES.format(t=ticket, op='<>')} WHERE rowid = {ticket};")


def _sqlite_triggers() -> list[str]:
    return [
        "CREATE TRIGGER ticket_search_insert AFTER INSERT ON ticket BEGIN "
        "INSERT OR REPLACE INTO ticket_search (rowid, content_text, messages, notes) "
        f"VALUES (new.id, {STEM}(new.subject || ' ' || new.description), '', ''); END",
        "CREATE TRIGGER ticket_search_update AFTER UPDATE OF subject, description ON ticket "
        f"BEGIN UPDATE ticket_search SET content_text = {STEM}(new.subject || ' ' || "
        "new.description) WHERE rowid = new.id; END",
        "CREATE TRIGGER ticket_search_delete AFTER DELETE ON ticket BEGIN "
        "DELETE FROM ticket_search WHERE rowid = old.id; END",
        "CREATE TRIGGER ticket_message_search_insert AFTER INSERT ON ticket_message "
        "WHEN new.internal = 0 BEGIN UPDATE ticket_search SET messages = messages || ' ' || "
        f"{STEM}(new.body) WHERE rowid = new.ticket_id; END",
        "CREATE TRIGGER ticket_note_search_insert AFTER INSERT ON ticket_message "
        "WHEN new.internal <> 0 BEGIN UPDATE ticket_search SET notes = notes || ' ' || "
        f"{STEM}(new.body) WHERE rowid = new.ticket_id; END",
        "CREATE TRIGGER ticket_message_search_update AFTER UPDATE OF body, internal, "
        f"ticket_id ON ticket_message BEGIN {_refresh('old.ticket_id')} "
        f"{_refresh('new.ticket_id')} END",
        "CREATE TRIGGER ticket_message_search_delete AFTER DELETE ON ticket_message BEGIN "
        f"{_refresh('old.ticket_id')} END",
    ]


SQLITE_TRIGGER_NAMES = ("ticket_search_insert", "ticket_search_update", "ticket_search_delete",
                        "ticket_message_search_insert", "ticket_note_search_insert",
                        "ticket_message_search_update", "ticket_message_search_delete")


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(PG_UPGRADE)
        return
    from app.search import register

    register(bind.connection.dbapi_connection)   # the triggers and the backfill call it
    op.execute("CREATE VIRTUAL TABLE ticket_search USING fts5(content_text, messages, notes, "
               "tokenize = 'unicode61 remove_diacritics 2')")
    op.execute(f"INSERT INTO ticket_search (rowid, content_text, messages, notes) "
               f"SELECT id, {STEM}(subject || ' ' || description), '', '' FROM ticket")
    op.execute(_refresh("ticket_search.rowid").replace(" WHERE rowid = ticket_search.rowid",
                                                       ""))
    for statement in _sqlite_triggers():
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_DOWNGRADE)
        return
    for name in SQLITE_TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS ticket_search")
