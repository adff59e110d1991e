"""Names in pt-BR order on both databases: accents and case do not move a name
("Álvaro" among the A's, "érica" beside "Eduardo"; SQLite's binary order put them after
"Z", and a PostgreSQL cluster in the C locale does the same).

``ordered(column)`` is the column with a pt-BR collation for ORDER BY: PostgreSQL's ICU
collation "pt-BR-x-icu" (created by initdb when the server has ICU; without it the order
falls back to the database's own); on SQLite a "pt_BR" collation registered on the
connection in use (idempotent, so no connection of the pool lacks it).
"""
from __future__ import annotations

import functools
import unicodedata

from sqlalchemy import text

from app.extensions import db

SQLITE_NAME = "pt_BR"
POSTGRES_NAME = "pt-BR-x-icu"


def sort_key(value: str | None) -> tuple[str, str]:
    folded = unicodedata.normalize("NFKD", value or "")
    folded = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    return folded, value or ""


def _compare(a: str, b: str) -> int:
    ka, kb = sort_key(a), sort_key(b)
    return (ka > kb) - (ka < kb)


@functools.lru_cache(maxsize=8)
def _postgres_has_icu(url: str) -> bool:
    return db.session.execute(text("SELECT 1 FROM pg_collation WHERE collname = :n"),
                              {"n": POSTGRES_NAME}).first() is not None


def ordered(column):
    bind = db.session.get_bind()
    if bind.dialect.name == "sqlite":
        db.session.connection().connection.dbapi_connection.create_collation(
            SQLITE_NAME, _compare)
        return column.collate(SQLITE_NAME)
    if bind.dialect.name == "postgresql" and _postgres_has_icu(str(bind.url)):
        return column.collate(POSTGRES_NAME)
    return column
