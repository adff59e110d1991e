"""Tickets over REST (shared/API.md "Tickets"): the same app.workflow as the portals."""
from __future__ import annotations

from flask import current_app, g, request
from werkzeug.exceptions import NotFound
from flask_appbuilder.api import expose
from flask_appbuilder.security.decorators import protect
from sqlalchemy import func, select

from app import attachments, search, workflow
from app.api.base import ApiBase, iso
from app.attachments import UploadRejected
from app.extensions import db
from app.models import PRIORITIES, STATUSES, Attachment, Survey, Ticket, TicketMessage
from app.security import ValidationError


def serialize_attachment(row: Attachment) -> dict:
    return {"id": row.id, "filename": row.filename, "size": row.size,
            "content_type": row.content_type}


def serialize_message(message: TicketMessage) -> dict:
    return {"id": message.id, "author_id": message.author_id, "body": message.body,
            "internal": bool(message.internal), "created_at": iso(message.created_at),
            "attachments": [serialize_attachment(a) for a in message.attachments]}


def serialize_ticket(ticket: Ticket, survey: Survey | None, files: list) -> dict:
    return {
        "id": ticket.id, "status": ticket.status, "priority": ticket.priority,
        "department_id": ticket.department_id, "service_id": ticket.service_id,
        "requester_id": ticket.requester_id, "assignee_id": ticket.assignee_id,
        "sector_id": ticket.sector_id, "subject": ticket.subject,
        "description": ticket.description,
        "opened_at": iso(ticket.opened_at), "assumed_at": iso(ticket.assumed_at),
        "started_at": iso(ticket.started_at), "concluded_at": iso(ticket.concluded_at),
        "closed_at": iso(ticket.closed_at), "cancelled_at": iso(ticket.cancelled_at),
        "sla_due_at": iso(ticket.sla_due_at), "sla_met": ticket.sla_met,
        "sla_paused_hours": (ticket.sla_paused_seconds or 0.0) / 3600.0,
        "waiting_since": iso(ticket.waiting_since),
        "reopen_count": ticket.reopen_count, "auto_approved": ticket.auto_approved,
        "survey": None if survey is None else {
            "score": survey.score, "comment": survey.comment,
            "filled_at": iso(survey.filled_at)},
        "attachments": [serialize_attachment(a) for a in files],
    }


def serialize_tickets(tickets: list[Ticket]) -> list[dict]:
    """Many tickets in three queries, whatever their number (no N+1)."""
    ids = [t.id for t in tickets]
    surveys, files = {}, {}
    if ids:
        for survey in db.session.scalars(select(Survey).where(Survey.ticket_id.in_(ids))):
            surveys[survey.ticket_id] = survey
        for row in db.session.scalars(
            select(Attachment).where(Attachment.ticket_id.in_(ids),
                                     Attachment.message_id.is_(None)).order_by(Attachment.id)
        ):
            files.setdefault(row.ticket_id, []).append(row)
    return [serialize_ticket(t, surveys.get(t.id), files.get(t.id, [])) for t in tickets]


class TicketApi(ApiBase):
    resource_name = "ticket"
    method_permission_name = {"get_list": "get", "get": "get", "post": "post",
                              "action": "post", "messages": "get", "post_message": "post",
                              "events": "get"}
    filters = {"status": STATUSES, "priority": PRIORITIES, "department_id": int,
               "service_id": int, "assignee_id": int, "requester_id": int}

    def error(self, error):
        db.session.rollback()
        if isinstance(error, (workflow.WorkflowError, ValidationError)):
            body = {"message": error.message}
            if getattr(error, "field", None):
                body["field"] = error.field
            return self.response(error.status, **body)
        if isinstance(error, UploadRejected):
            return self.response(error.status, message=error.message, field="file")
        raise error

    def _body(self) -> tuple[dict, object]:
        """JSON, or multipart form fields with an optional ``file``."""
        if request.mimetype == "multipart/form-data" or request.form:
            return request.form.to_dict(), request.files.get("file")
        return self.json_body(), None

    @expose("/", methods=["POST"])
    @protect()
    def post(self):
        try:
            body, upload = self._body()
            ticket = workflow.open_ticket(
                g.user, department_id=body.get("department_id"),
                service_id=body.get("service_id"), priority=body.get("priority"),
                description=body.get("description"), subject=body.get("subject"),
                upload=upload)
        except (workflow.WorkflowError, ValidationError, UploadRejected) as error:
            return self.error(error)
        return self.response(201, id=ticket.id, result=serialize_tickets([ticket])[0])

    @expose("/", methods=["GET"])
    @protect()
    def get_list(self):
        try:
            args = self.list_args(("id", "opened_at", "sla_due_at", "priority", "status"))
            stmt = workflow.visible_tickets(g.user)
            for name, allowed in self.filters.items():
                value = request.args.get(name)
                if value is None:
                    continue
                if allowed is int:
                    if not value.isdigit():
                        raise ValidationError(name, f"{name} deve ser um id numérico.")
                    value = int(value)
                elif value not in allowed:
                    raise ValidationError(name, f"Valor inválido para {name}.")
                stmt = stmt.where(getattr(Ticket, name) == value)
            stmt, params = self._search(stmt)
        except ValidationError as error:
            return self.validation_error(error)
        column = getattr(Ticket, args["order"])
        order = column.desc() if args["direction"] == "desc" else column.asc()
        count = db.session.scalar(select(func.count()).select_from(stmt.subquery()), params)
        tickets = db.session.scalars(stmt.order_by(order, Ticket.id.desc())
                                     .limit(args["page_size"])
                                     .offset(args["page"] * args["page_size"]), params).all()
        return self.response(200, count=count, ids=[t.id for t in tickets],
                             result=serialize_tickets(tickets))

    @staticmethod
    def _search(stmt) -> tuple:
        """``?search=<words>`` (app.search): every word in what the caller may read of
        the ticket; over ``search.MAX_SEARCH`` characters is a 400 naming ``search``;
        empty is no search."""
        raw = request.args.get("search")
        try:
            value = search.normalize(raw)
        except search.SearchError as error:
            raise ValidationError("search", error.message) from None
        if value is None:
            return stmt, {}
        dialect = db.session.get_bind().dialect.name
        public_only = not g.user.profile_codes() & {"admin", "manager", "attendant"}
        params = search.params(value, g.user.id)
        if dialect == "postgresql" and not public_only:
            ids = search.selective_ids(db.session, params)
            if ids is not None:      # a rare word: by id (see app.search.selective_ids)
                return stmt.where(Ticket.id.in_(ids)), {}
        return stmt.where(search.condition(dialect, public_only)), params

    @expose("/<int:pk>", methods=["GET"])
    @protect()
    def get(self, pk):
        try:
            ticket = workflow.get_ticket(pk, g.user)
        except workflow.WorkflowError as error:
            return self.error(error)
        return self.response(200, id=ticket.id, result=serialize_tickets([ticket])[0])

    @expose("/<int:pk>/<string:action>", methods=["POST"])
    @protect()
    def action(self, pk, action):
        if action not in workflow.ACTIONS:
            return self.response_404()
        try:
            ticket = workflow.get_ticket(pk, g.user)
            if action == "survey":
                body = self.json_body() if request.get_data() else {}
                if ticket.requester_id != g.user.id:
                    raise workflow.Forbidden("Apenas o solicitante do chamado responde a "
                                             "pesquisa.")
                workflow.fill_survey(ticket, g.user, body.get("score"), body.get("comment"))
            else:
                transition = workflow.TRANSITIONS[action]
                workflow._check_action(ticket, action, g.user)
                body = self.json_body() if (request.get_data() or transition.needs) else {}
                workflow.apply(ticket, action, g.user,
                               note=body.get(transition.needs or "note"),
                               fields={k: body.get(k) for k in transition.fields})
        except (workflow.WorkflowError, ValidationError) as error:
            return self.error(error)
        ticket = db.session.get(Ticket, pk)
        return self.response(200, id=pk, result=serialize_tickets([ticket])[0])

    @expose("/<int:pk>/messages", methods=["GET"])
    @protect()
    def messages(self, pk):
        try:
            ticket = workflow.get_ticket(pk, g.user)
        except workflow.WorkflowError as error:
            return self.error(error)
        rows = db.session.scalars(workflow.visible_messages(ticket, g.user)).all()
        return self.response(200, count=len(rows), result=[serialize_message(m) for m in rows])

    @expose("/<int:pk>/messages", methods=["POST"])
    @protect()
    def post_message(self, pk):
        try:
            ticket = workflow.get_ticket(pk, g.user)
            body, upload = self._body()
            internal = body.get("internal", False)
            if isinstance(internal, str):      # a multipart form field
                internal = {"true": True, "1": True, "false": False, "0": False}.get(
                    internal.strip().lower(), internal)
            message = workflow.post_message(ticket, g.user, body.get("body"), upload=upload,
                                            internal=internal)
        except (workflow.WorkflowError, ValidationError, UploadRejected) as error:
            return self.error(error)
        return self.response(201, id=message.id, result=serialize_message(message))

    @expose("/<int:pk>/events", methods=["GET"])
    @protect()
    def events(self, pk):
        try:
            ticket = workflow.get_ticket(pk, g.user)
        except workflow.WorkflowError as error:
            return self.error(error)
        rows = db.session.scalars(workflow.visible_events(ticket, g.user)).all()
        return self.response(200, count=len(rows), result=[{
            "type": e.type, "actor_id": e.actor_id, "from_status": e.from_status,
            "to_status": e.to_status, "note": e.note, "created_at": iso(e.created_at)}
            for e in rows])


def visible_attachment(attachment_id: int, actor) -> Attachment | None:
    """An attachment is visible when its ticket is, and, for the ticket's requester, when
    it did not come with an internal note."""
    row = db.session.get(Attachment, attachment_id)
    if row is None:
        return None
    try:
        ticket = workflow.get_ticket(row.ticket_id, actor)
    except workflow.TicketNotFound:
        return None
    return row if workflow.attachment_visible(row, ticket, actor) else None


class AttachmentApi(ApiBase):
    resource_name = "attachment"
    method_permission_name = {"get": "get"}

    @expose("/<int:pk>", methods=["GET"])
    @protect()
    def get(self, pk):
        row = visible_attachment(pk, g.user)
        if row is None:
            return self.response_404()
        try:
            return attachments.download_response(current_app.config["UPLOAD_FOLDER"], row)
        except (ValueError, FileNotFoundError, NotFound):
            return self.response_404()
