"""A small resource base over FAB's BaseApi: list/get/post/put/delete with explicit
fields, Rison list arguments, pt-BR error bodies and typed errors turned into codes.

Why not ModelRestApi: the contract's resources carry fields that are not columns
(``attendant_ids``, ``profiles``, ``sla_hours_by_priority``) and every write goes
through a use-case function that validates across rows; a thin base keeps that
explicit and keeps mass assignment impossible (only the named fields are read).
"""
from __future__ import annotations

import datetime as dt

import prison
from flask import request
from flask_appbuilder.api import BaseApi, expose
from flask_appbuilder.security.decorators import protect
from sqlalchemy import func, select

from app.extensions import db
from app.models import as_utc
from app.security import ValidationError

MAX_PAGE_SIZE = 100
MAX_PAGE = 2**31 - 1   # page * page_size stays within the 64-bit OFFSET of SQLite
FILTER_VALUE_TYPES = (str, int, float, bool, type(None))


def iso(value: dt.datetime | None) -> str | None:
    return None if value is None else as_utc(value).isoformat()


class ApiBase(BaseApi):
    """Portuguese error bodies for FAB's own guards, plus helpers."""

    def response_400(self, message=None, **kwargs):
        return self.response(400, message=message or "Requisição inválida.", **kwargs)

    def response_401(self, **kwargs):
        return self.response(401, message="Não autenticado: faça login e envie o token.")

    def response_403(self, **kwargs):
        return self.response(403, message="Você não tem permissão para esta ação.")

    def response_404(self, **kwargs):
        return self.response(404, message="Registro não encontrado.")

    def response_500(self, message=None, **kwargs):
        return self.response(500, message="Erro interno. Tente novamente.")

    def validation_error(self, error: ValidationError):
        db.session.rollback()
        return self.response(error.status, message=error.message, field=error.field)

    @staticmethod
    def json_body() -> dict:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ValidationError("body", "Envie um objeto JSON no corpo da requisição.")
        return body

    @staticmethod
    def list_args(allowed_order: tuple[str, ...]) -> dict:
        """Parse ``q`` (Rison): page, page_size (capped), order_column (allow-listed),
        order_direction and simple equality ``filters`` [{col, opr: "eq", value}]."""
        raw = request.args.get("q")
        args = {}
        if raw:
            try:
                args = prison.loads(raw)
            except Exception:
                raise ValidationError("q", "Parâmetro q inválido (Rison).")
            if not isinstance(args, dict):
                raise ValidationError("q", "Parâmetro q inválido (Rison).")
        page = args.get("page", 0)
        size = args.get("page_size", 25)
        if isinstance(page, bool) or not isinstance(page, int) or not 0 <= page <= MAX_PAGE:
            raise ValidationError("page", "Página inválida.")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValidationError("page_size", "Tamanho de página inválido.")
        order = args.get("order_column", "id")
        if order not in allowed_order:
            raise ValidationError("order_column", "Coluna de ordenação não permitida.")
        direction = args.get("order_direction", "asc")
        if direction not in ("asc", "desc"):
            raise ValidationError("order_direction", "Use asc ou desc.")
        filters = args.get("filters", [])
        if not isinstance(filters, list) or not all(
                isinstance(f, dict) and isinstance(f.get("value"), FILTER_VALUE_TYPES)
                for f in filters):
            # A list or an object as a value was bound as it was (a 500).
            raise ValidationError("filters", "Filtros inválidos: cada filtro é "
                                             "(col, opr, value) com um valor simples.")
        return {"page": page, "page_size": min(size, MAX_PAGE_SIZE), "order": order,
                "direction": direction, "filters": filters}


def filter_value(column, name: str, value):
    """A Rison filter's value as the column's type, or a 400 naming the column: a text
    compared with an integer column (or the other way round) was a 500 on PostgreSQL,
    an integer beyond 64 bits one on SQLite."""
    kind = column.type.python_type
    if value is None:
        return None
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, str) and value.isdigit() and len(value) < 19:
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_PAGE:
            return value
    elif kind is str:
        if isinstance(value, str):
            return value
    raise ValidationError(name, f"Valor inválido para o filtro {name}.")


class ResourceApi(ApiBase):
    """CRUD over one account-owned model. Subclasses name the model, the sortable and
    filterable fields, ``serialize`` and the use cases ``create`` / ``update``."""

    model = None
    order_columns: tuple[str, ...] = ("id",)
    filter_columns: tuple[str, ...] = ()
    method_permission_name = {"get_list": "get", "get": "get", "post": "post",
                              "put": "put", "delete": "delete"}

    def serialize(self, obj) -> dict:
        raise NotImplementedError

    def create(self, body: dict):
        raise NotImplementedError

    def update(self, obj, body: dict):
        raise NotImplementedError

    def remove(self, obj) -> None:
        db.session.delete(obj)
        db.session.commit()

    def base_query(self):
        return select(self.model)

    def _get(self, pk: int):
        return db.session.scalar(self.base_query().where(self.model.id == pk))

    @expose("/", methods=["GET"])
    @protect()
    def get_list(self):
        try:
            args = self.list_args(self.order_columns)
            stmt = self.base_query()
            for flt in args["filters"]:
                if not isinstance(flt, dict) or flt.get("col") not in self.filter_columns \
                        or flt.get("opr", "eq") != "eq":
                    raise ValidationError("filters", "Filtro não permitido.")
                column = getattr(self.model, flt["col"])
                stmt = stmt.where(column == filter_value(column, flt["col"], flt.get("value")))
        except ValidationError as error:
            return self.validation_error(error)
        column = getattr(self.model, args["order"])
        stmt = stmt.order_by(column.desc() if args["direction"] == "desc" else column.asc(),
                             self.model.id)
        count = db.session.scalar(select(func.count()).select_from(stmt.order_by(None)
                                                                   .subquery()))
        rows = db.session.scalars(
            stmt.limit(args["page_size"]).offset(args["page"] * args["page_size"])
        ).all()
        return self.response(200, count=count, result=[self.serialize(r) for r in rows],
                             ids=[r.id for r in rows])

    @expose("/<int:pk>", methods=["GET"])
    @protect()
    def get(self, pk):
        obj = self._get(pk)
        if obj is None:
            return self.response_404()
        return self.response(200, id=obj.id, result=self.serialize(obj))

    @expose("/", methods=["POST"])
    @protect()
    def post(self):
        try:
            obj = self.create(self.json_body())
        except ValidationError as error:
            return self.validation_error(error)
        return self.response(201, id=obj.id, result=self.serialize(obj))

    @expose("/<int:pk>", methods=["PUT"])
    @protect()
    def put(self, pk):
        obj = self._get(pk)
        if obj is None:
            return self.response_404()
        try:
            obj = self.update(obj, self.json_body())
        except ValidationError as error:
            return self.validation_error(error)
        return self.response(200, id=obj.id, result=self.serialize(obj))

    @expose("/<int:pk>", methods=["DELETE"])
    @protect()
    def delete(self, pk):
        obj = self._get(pk)
        if obj is None:
            return self.response_404()
        try:
            self.remove(obj)
        except ValidationError as error:
            return self.validation_error(error)
        return self.response(200, message="Excluído.")
