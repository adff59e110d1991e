"""Checks of a move's input, shared by the use cases: texts, ids, the moment, a due time.
Each raises ``InvalidInput`` naming the field, in Portuguese."""
from __future__ import annotations

import datetime as dt

from app import business_hours
from app.models import MAX_ID, as_utc, utcnow
from app.vocabulary import required_message
from app.workflow.errors import InvalidInput


def _text(value, field: str, label: str, max_len: int, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{label}: informe um texto.", field)
    if "\x00" in value:
        raise InvalidInput(f"{label} contém caracteres inválidos.", field)
    value = value.strip()
    if required and not value:
        raise InvalidInput(required_message(label), field)
    if len(value) > max_len:
        raise InvalidInput(f"{label} deve ter no máximo {max_len} caracteres.", field)
    return value or None


def _id(value, field: str, label: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise InvalidInput(f"{label}: informe um id numérico.", field)
    return value


def _utc(now: dt.datetime | None) -> dt.datetime:
    """The moment of an action, in UTC: SQLite keeps a time's wall clock and drops its
    offset, so every stored time must already be UTC."""
    return utcnow() if now is None else as_utc(now).astimezone(dt.timezone.utc)


def _due(start: dt.datetime, hours, clock) -> dt.datetime:
    """``start`` plus ``hours`` on the service's clock (None: every hour counts)."""
    try:
        return business_hours.add(start, hours, clock)
    except business_hours.CalendarError:
        raise InvalidInput("Este serviço conta o prazo em horas úteis, mas o calendário da "
                           "conta não tem horário de atendimento. Peça a um administrador "
                           "para ajustar o calendário.", "service_id")
