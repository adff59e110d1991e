"""Writing generated rows in bulk: ``COPY`` on PostgreSQL, executemany elsewhere, and
the history (``ticket_event``) derived from the ticket columns by one INSERT ... SELECT
in the database, ordered so event ids follow time within each ticket, as the history
API lists them."""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import queue
import threading

import numpy as np
import pandas as pd
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    Table,
    func,
    insert,
    select,
    text,
)

from app.extensions import db

COPY_CHUNK = 100_000
HISTORY_CHUNK = 100_000    # tickets per history statement: each sort fits in memory
BULK_INDEX_MIN = 200_000   # from this many tickets, indexes are rebuilt after the load
# Rejections of generated tickets, staged for the history INSERT ... SELECT (typed binds).
REJECTIONS = Table("gen_rejection", MetaData(), Column("ticket_id", Integer),
                   *[Column(name, DateTime(timezone=True)) for name in ("c1", "r1", "c2", "r2")])

SEQ = " UNION ALL ".join(f"SELECT {i} AS seq" for i in range(11))


def _by_seq(*values: str) -> str:
    return "CASE k.seq " + " ".join(f"WHEN {i} THEN {v}" for i, v in enumerate(values)) + " END"


def history_sql() -> str:
    """The history of generated tickets with ids in (:low, :high], from their columns,
    their staged rejections and their surveys. Each ticket is crossed with the eleven
    possible steps of its life; steps that did not happen have no time and are
    dropped; the sort makes event ids follow time within each ticket, as the history
    API lists them. Portable SQL: the same statement runs on SQLite."""
    auto = "t.auto_approved"
    columns = {
        "type": _by_seq("'opened'", "'assumed'", "'started'", "'concluded'", "'rejected'",
                        "'concluded'", "'rejected'", "'concluded'",
                        f"CASE WHEN {auto} THEN 'auto_approved' ELSE 'approved' END",
                        "'cancelled'", "'survey'"),
        "actor_id": "CASE WHEN k.seq IN (1, 2, 3, 5, 7) THEN t.assignee_id "
                    f"WHEN k.seq = 8 AND {auto} THEN NULL ELSE t.requester_id END",
        "from_status": _by_seq("NULL", "'open'", "'assumed'", "'in_progress'", "'concluded'",
                               "'in_progress'", "'concluded'", "'in_progress'", "'concluded'",
                               "CASE WHEN t.started_at IS NOT NULL THEN 'in_progress' "
                               "WHEN t.assumed_at IS NOT NULL THEN 'assumed' ELSE 'open' END",
                               "'closed'"),
        "to_status": _by_seq("'open'", "'assumed'", "'in_progress'", "'concluded'",
                             "'in_progress'", "'concluded'", "'in_progress'", "'concluded'",
                             "'closed'", "'cancelled'", "'closed'"),
        "note": _by_seq("NULL", "NULL", "NULL", "'Atendimento realizado.'",
                        "'O problema continua.'", "'Atendimento realizado.'",
                        "'Ainda não resolveu.'", "'Atendimento concluído.'",
                        f"CASE WHEN {auto} THEN 'Aprovado automaticamente por falta de "
                        "resposta do solicitante.' END", "'Não é mais necessário.'",
                        "'Nota ' || CAST(s.score AS VARCHAR(1))"),
        "created_at": _by_seq("t.opened_at", "t.assumed_at", "t.started_at", "r.c1", "r.r1",
                              "r.c2", "r.r2", "t.concluded_at", "t.closed_at",
                              "t.cancelled_at", "s.filled_at"),
    }
    select_list = ", ".join(f"{expr} AS {name}" for name, expr in columns.items())
    names = ", ".join(columns)
    return (
        f"INSERT INTO ticket_event (account_id, ticket_id, {names}) "
        f"SELECT account_id, ticket_id, {names} FROM ("
        f"SELECT t.account_id, t.id AS ticket_id, k.seq, {select_list} "
        f"FROM ticket t CROSS JOIN ({SEQ}) k "
        "LEFT JOIN gen_rejection r ON r.ticket_id = t.id "
        "LEFT JOIN survey s ON s.ticket_id = t.id AND s.account_id = t.account_id "
        "WHERE t.account_id = :account_id AND t.id > :low AND t.id <= :high"
        ") e WHERE created_at IS NOT NULL ORDER BY ticket_id, seq")


def next_id(table) -> int:
    return int(db.session.scalar(select(func.coalesce(func.max(table.c.id), 0))))


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Times as ISO text in numpy's C loop (pandas' date_format formats one by one)."""
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            values = frame[column].to_numpy().astype("datetime64[s]")
            stamps = np.char.add(np.datetime_as_string(values, unit="s"), "Z")
            frame[column] = np.where(np.isnat(values), "", stamps).astype(object)
    return frame


class _CsvStream(io.RawIOBase):
    """The frame as CSV, formatted chunk by chunk in a thread while the driver sends
    the previous chunk, so PostgreSQL parses on one core while Python formats on the
    other; at most two chunks wait in memory."""

    def __init__(self, frame: pd.DataFrame):
        super().__init__()
        self.chunks: queue.Queue = queue.Queue(maxsize=2)
        self.view, self.position, self.done = memoryview(b""), 0, False
        threading.Thread(target=self._produce, args=(frame,), daemon=True).start()

    def _produce(self, frame: pd.DataFrame) -> None:
        try:
            for offset in range(0, len(frame), COPY_CHUNK):
                buffer = io.StringIO()
                _as_text(frame.iloc[offset:offset + COPY_CHUNK]).to_csv(
                    buffer, index=False, header=False)
                self.chunks.put(buffer.getvalue().encode())
            self.chunks.put(None)
        except BaseException as error:  # handed to the reading side
            self.chunks.put(error)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while self.position >= len(self.view) and not self.done:
            item = self.chunks.get()
            if isinstance(item, BaseException):
                raise item
            if item is None:
                self.done = True
            else:
                self.view, self.position = memoryview(item), 0
        if size is None or size < 0:
            size = len(self.view) - self.position
        piece = self.view[self.position:self.position + size].tobytes()
        self.position += len(piece)
        return piece


def write(table, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        cursor = session.connection().connection.cursor()
        sql = f"COPY {table.name} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv)"
        cursor.copy_expert(sql, _CsvStream(frame), size=1 << 20)
        return
    utc = dt.timezone.utc
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for record in records:
        for key, value in record.items():
            if isinstance(value, pd.Timestamp):
                record[key] = value.to_pydatetime().replace(tzinfo=utc)
    session.execute(insert(table), records)


def skip_reference_checks(session) -> None:
    """Generated rows reference only rows read from the same account a moment ago, so
    PostgreSQL's per-row foreign-key triggers are pure cost here (they are most of the
    load time). Like ``pg_restore --disable-triggers``, switch them off for this
    transaction when the role may (a superuser); otherwise keep them."""
    is_super = session.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
    if is_super:
        session.execute(text("SET LOCAL session_replication_role = replica"))


def _secondary_indexes(session, table_name: str) -> list:
    """(name, CREATE INDEX statement) of the plain indexes of a table: not those behind
    a primary key or unique constraint, which foreign keys may rely on."""
    return session.execute(text(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = :t "
        "AND i.schemaname = current_schema() AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"), {"t": table_name}
    ).all()


@contextlib.contextmanager
def indexes_built_after(session, tables: tuple[str, ...], enabled: bool):
    """A large load into a small table: drop the plain indexes, load, build them again
    (one sorted build beats millions of single inserts by about 2x). The DDL is part
    of the load's transaction, so a failure leaves the indexes as they were."""
    saved = []
    if enabled:
        for table in tables:
            for name, definition in _secondary_indexes(session, table):
                session.execute(text(f'DROP INDEX "{name}"'))
                saved.append(definition)
    yield
    if saved:
        session.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        for definition in saved:
            session.execute(text(definition))


def sync_sequence(table) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table.name}))"))


def write_history(session, account_id: int, base_id: int, count: int,
                   rejections: pd.DataFrame, postgres: bool) -> None:
    stamp = "TIMESTAMP WITH TIME ZONE"
    session.execute(text(f"CREATE TEMPORARY TABLE IF NOT EXISTS gen_rejection (ticket_id "
                         f"INTEGER PRIMARY KEY, c1 {stamp}, r1 {stamp}, c2 {stamp}, r2 {stamp})"))
    session.execute(text("DELETE FROM gen_rejection"))
    write(REJECTIONS, rejections)
    if postgres:  # fresh statistics: without them the planner scans instead of seeking
        session.execute(text("ANALYZE ticket, survey, gen_rejection"))
    history = text(history_sql())
    for low in range(base_id, base_id + count, HISTORY_CHUNK):
        session.execute(history, {"account_id": account_id, "low": low,
                                  "high": low + HISTORY_CHUNK})
    session.execute(text("DELETE FROM gen_rejection"))
    if postgres:  # the history was written after the ANALYZE above: without statistics a
        # ticket page's history read took 100 ms at 1M tickets (a bitmap AND over the
        # account index) instead of 0.1 ms (the (ticket_id, id) index).
        session.execute(text("ANALYZE ticket_event"))
