"""Generated conversations: messages and internal notes on an account's tickets, in bulk.

For the search benchmark (``bench tickets``: ~3 messages per ticket at 1M tickets), so
searches read realistic documents: requester and attendant turns, about one message in
seven an internal note, a few common words everywhere and one rare word (``RARE_WORD``)
in a handful of messages. Rows go in by COPY on PostgreSQL (executemany elsewhere); the
search documents that the ``ticket_message`` trigger keeps per ticket are then computed
in one statement instead of a trigger call per row (migration 0007). Writes no outbox
row: generated data never sends mail.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import select, text

from app.extensions import db
from app.generator.bulk import (
    _secondary_indexes,
    next_id,
    skip_reference_checks,
    sync_sequence,
    write,
)
from app.models import Ticket, TicketMessage

RARE_WORD = "xilogravura"
COMMON_WORD = "problema"
RARE_COUNT = 40
REQUESTER_LINES = [
    "Bom dia, o problema continua acontecendo na minha máquina.",
    "Segue o print do erro que aparece na tela.",
    "A impressora do andar voltou a falhar depois da atualização.",
    "Consegue verificar hoje? Estou com um prazo apertado.",
    "Obrigado, agora funcionou perfeitamente.",
    "Não consigo acessar o sistema desde ontem à tarde.",
    "O problema acontece só quando estou na rede da filial.",
]
ATTENDANT_LINES = [
    "Olá! Já estou verificando o seu chamado.",
    "Pode reiniciar o computador e testar de novo, por favor?",
    "Atualizei as permissões do seu usuário, teste agora.",
    "Identificamos o problema no servidor e já corrigimos.",
    "Vou precisar de acesso remoto à sua estação às 14h.",
    "A troca do equipamento foi agendada para amanhã cedo.",
]
NOTE_LINES = [
    "Nota: o usuário já abriu chamado parecido no mês passado.",
    "Verificar com o fornecedor se a garantia cobre a troca.",
    "Escalonar para a equipe de infraestrutura se voltar a ocorrer.",
    "Senha temporária enviada por telefone, conferir identidade.",
]


def _bodies(rng, lines: list[str], n: int) -> np.ndarray:
    return np.array(lines, dtype=object)[rng.integers(0, len(lines), n)]


def add_messages(account_id: int, per_ticket: float = 3.0, seed: int = 11) -> int:
    """About ``per_ticket`` messages on each ticket of the account (Poisson), after its
    opening; returns how many were written. Commits."""
    session = db.session
    rng = np.random.default_rng(seed)
    tickets = pd.DataFrame(session.execute(
        select(Ticket.id, Ticket.requester_id, Ticket.assignee_id, Ticket.opened_at)
        .where(Ticket.account_id == account_id).order_by(Ticket.id)).all(),
        columns=["id", "requester_id", "assignee_id", "opened_at"])
    if tickets.empty:
        return 0
    counts = rng.poisson(per_ticket, len(tickets))
    counts[tickets["assignee_id"].isna().to_numpy()] = np.minimum(
        counts[tickets["assignee_id"].isna().to_numpy()], 1)
    rows = tickets.loc[tickets.index.repeat(counts)].reset_index(drop=True)
    n = len(rows)
    turn = np.concatenate([np.arange(c) for c in counts]) if n else np.array([], int)
    staff = (turn % 2 == 1) & rows["assignee_id"].notna().to_numpy()
    internal = staff & (rng.random(n) < 0.3)
    body = np.where(~staff, _bodies(rng, REQUESTER_LINES, n),
                    np.where(internal, _bodies(rng, NOTE_LINES, n),
                             _bodies(rng, ATTENDANT_LINES, n)))
    rare = rng.choice(n, size=min(RARE_COUNT, n), replace=False)
    body[rare] = body[rare] + f" Referência: {RARE_WORD} do lote {seed}."
    opened = pd.to_datetime(rows["opened_at"], utc=True).dt.tz_localize(None)
    created = (opened + pd.to_timedelta((turn + 1) * rng.uniform(0.2, 6.0, n), unit="h")
               ).dt.floor("s")
    first = next_id(TicketMessage.__table__) + 1
    frame = pd.DataFrame({
        "id": np.arange(first, first + n), "account_id": account_id,
        "ticket_id": rows["id"].to_numpy(),
        "author_id": np.where(staff, rows["assignee_id"].fillna(0).astype(int),
                              rows["requester_id"]),
        "body": body, "internal": internal, "created_at": created,
    })
    postgres = session.get_bind().dialect.name == "postgresql"
    if not postgres:
        write(TicketMessage.__table__, frame)     # SQLite: the FTS5 triggers run per row
        session.commit()
        return n
    _bulk_postgres(session, frame)
    return n


def _bulk_postgres(session, frame: pd.DataFrame) -> None:
    """COPY with the per-row search trigger off, then every ticket's search documents
    in one UPDATE, the ticket's plain indexes dropped meanwhile and rebuilt after (a
    million single-row index updates cost several times one sorted build)."""
    skip_reference_checks(session)     # rows reference tickets read a moment ago
    session.execute(text("ALTER TABLE ticket_message DISABLE TRIGGER ticket_message_search"))
    write(TicketMessage.__table__, frame)
    sync_sequence(TicketMessage.__table__)
    saved = []
    for name, definition in _secondary_indexes(session, "ticket"):
        session.execute(text(f'DROP INDEX "{name}"'))
        saved.append(definition)
    session.execute(text(
        "UPDATE ticket t SET messages_vector = coalesce(a.public, ''), "
        "notes_vector = coalesce(a.notes, '') FROM (SELECT ticket_id, "
        "strip(tsvector_agg(search_vector ORDER BY id) FILTER (WHERE NOT internal)) AS public, "
        "strip(tsvector_agg(search_vector ORDER BY id) FILTER (WHERE internal)) AS notes "
        "FROM ticket_message WHERE account_id = :a GROUP BY ticket_id) a "
        "WHERE a.ticket_id = t.id"), {"a": int(frame["account_id"].iloc[0])})
    session.execute(text("ALTER TABLE ticket_message ENABLE TRIGGER ticket_message_search"))
    session.commit()
    # The UPDATE left a dead copy of every ticket: compact the table (this also rebuilds
    # its primary and unique indexes), then build the plain ones again.
    with session.get_bind().connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.execute(text("VACUUM FULL ticket"))
        connection.execute(text("SET maintenance_work_mem = '512MB'"))
        for definition in saved:
            connection.execute(text(definition))
        connection.execute(text("VACUUM ANALYZE ticket"))
        connection.execute(text("VACUUM ANALYZE ticket_message"))


def describe(account_id: int) -> dict:
    """Sizes for the benchmark's report."""
    session = db.session
    return {
        "messages": session.scalar(text("SELECT count(*) FROM ticket_message WHERE "
                                        "account_id = :a"), {"a": account_id}),
        "notes": session.scalar(text("SELECT count(*) FROM ticket_message WHERE "
                                     "account_id = :a AND internal"), {"a": account_id}),
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
