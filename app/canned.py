"""Canned replies ("respostas prontas"): written once by administrators, for one
department or for the whole account, and offered in the reply box of that department's
tickets with their placeholders filled for the ticket at hand. The text stays editable
before it is sent: a canned reply only fills the box, it never sends anything."""
from __future__ import annotations

from sqlalchemy import or_, select

from app.extensions import db
from app.models import MAX_ID, CannedReply, Department, Member, Ticket, department_attendant
from app.security import ValidationError, clean_text

MAX_BODY = 20_000
PLACEHOLDERS = {
    "{solicitante}": "nome do solicitante",
    "{chamado}": "número do chamado",
    "{atendente}": "seu nome",
    "{servico}": "nome do serviço",
}


def check(body: dict, *, exclude_id: int | None = None, creating: bool = True) -> dict:
    """The fields sent, validated (a Portuguese 400/409 naming the field); only those
    sent are returned, except on creation, which needs title and body."""
    values = {}
    if "title" in body or creating:
        title = clean_text(body.get("title"), "title", "Título", max_len=120)
        taken = db.session.scalar(select(CannedReply.id).where(
            CannedReply.title == title, CannedReply.id != (exclude_id or 0)))
        if taken is not None:
            raise ValidationError("title", "Já existe uma resposta pronta com este título.", 409)
        values["title"] = title
    if "body" in body or creating:
        values["body"] = clean_text(body.get("body"), "body", "Texto", max_len=MAX_BODY)
    if "department_id" in body:
        department_id = body["department_id"]
        if department_id is not None:
            if isinstance(department_id, bool) or not isinstance(department_id, int) \
                    or not 0 < department_id <= MAX_ID:
                raise ValidationError("department_id", "Departamento: informe um id numérico "
                                                       "ou null (todos).")
            if db.session.get(Department, department_id) is None:
                raise ValidationError("department_id", "Departamento inexistente.")
        values["department_id"] = department_id
    return values


def save(reply: CannedReply | None, body: dict) -> CannedReply:
    """Create or partially update; validates everything before writing."""
    values = check(body, exclude_id=reply.id if reply else None, creating=reply is None)
    reply = reply or CannedReply()
    for key, value in values.items():
        setattr(reply, key, value)
    db.session.add(reply)
    db.session.commit()
    return reply


def visible_to(actor: Member):
    """SELECT of the replies ``actor`` may list: administrators all of the account's,
    attendants the account-wide ones and those of their departments."""
    stmt = select(CannedReply).order_by(CannedReply.title)
    if actor.has_profile("admin"):
        return stmt
    mine = select(department_attendant.c.department_id).where(
        department_attendant.c.user_id == actor.id)
    return stmt.where(or_(CannedReply.department_id.is_(None),
                          CannedReply.department_id.in_(mine)))


def for_ticket(ticket: Ticket, actor: Member) -> list[dict]:
    """The replies the reply box offers on ``ticket``, placeholders filled."""
    rows = db.session.scalars(select(CannedReply).where(or_(
        CannedReply.department_id.is_(None), CannedReply.department_id == ticket.department_id))
        .order_by(CannedReply.title)).all()
    return [{"id": r.id, "title": r.title, "text": fill(r.body, ticket, actor)} for r in rows]


def fill(text: str, ticket: Ticket, actor: Member) -> str:
    """Plain replacement (never str.format: a reply's braces are the author's text)."""
    values = {
        "{solicitante}": ticket.requester.full_name if ticket.requester else "",
        "{chamado}": f"#{ticket.id}",
        "{atendente}": actor.full_name,
        "{servico}": ticket.service.name if ticket.service else "",
    }
    for key, value in values.items():
        text = text.replace(key, value)
    return text
