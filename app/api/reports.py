"""``/api/v1/painel/report-subscription``: the caller's own mailed Painel reports.

``GET`` lists them, ``POST`` creates one (``frequency`` weekly|monthly, ``weekday``
0-6 or ``day_of_month`` 1-31, ``hour`` 0-23, optional ``filters`` with the KPI API's
names), ``PUT /<id>`` pauses or resumes (``{"active": false}``), ``DELETE /<id>``
removes. Managers and administrators only (FAB's ``@protect``: 403 to other profiles
before the body is read); a subscription of somebody else is a 404.
"""
from __future__ import annotations

from flask import g
from flask_appbuilder.api import expose
from flask_appbuilder.security.decorators import protect

from app import reports
from app.api.base import ApiBase
from app.extensions import db
from app.models import Account
from app.security import ValidationError


class ReportSubscriptionApi(ApiBase):
    resource_name = "report-subscription"
    route_base = "/api/v1/painel/report-subscription"
    openapi_spec_tag = "Painel"
    method_permission_name = {"get_list": "get", "post": "post", "put": "put",
                              "delete": "delete"}

    def _caller(self):
        member = g.user
        account_id = getattr(member, "account_id", None)
        account = db.session.get(Account, account_id) if account_id else None
        if account is None or not reports.can_subscribe(member):
            return member, None
        return member, account

    @expose("/", methods=["GET"])
    @protect()
    def get_list(self):
        """The caller's report subscriptions.
        ---
        get:
          summary: Relatórios do Painel por e-mail assinados por quem chama
          responses:
            200: {description: As assinaturas}
            401: {description: Não autenticado}
            403: {description: Apenas gestores e administradores}
        """
        member, account = self._caller()
        if account is None:
            return self.response_403()
        rows = reports.subscriptions_of(member)
        return self.response(200, count=len(rows), result=[reports.serialize(r) for r in rows])

    @expose("/", methods=["POST"])
    @protect()
    def post(self):
        """Subscribe to a weekly or monthly report.
        ---
        post:
          summary: Assinar um relatório semanal ou mensal do Painel
          requestBody:
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    frequency: {type: string, enum: [weekly, monthly]}
                    weekday: {type: integer, minimum: 0, maximum: 6}
                    day_of_month: {type: integer, minimum: 1, maximum: 31}
                    hour: {type: integer, minimum: 0, maximum: 23}
                    filters: {type: object}
          responses:
            201: {description: Criada}
            400: {description: Dado inválido}
            403: {description: Apenas gestores e administradores}
        """
        member, account = self._caller()
        if account is None:
            return self.response_403()
        try:
            sub = reports.create_subscription(member, account, self.json_body())
        except ValidationError as error:
            return self.validation_error(error)
        return self.response(201, id=sub.id, result=reports.serialize(sub))

    @expose("/<int:pk>", methods=["PUT"])
    @protect()
    def put(self, pk):
        """Pause or resume a report.
        ---
        put:
          summary: Pausar ou retomar um relatório
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: Atualizada}
            400: {description: Dado inválido}
            404: {description: Não encontrada}
        """
        member, account = self._caller()
        if account is None:
            return self.response_403()
        sub = reports.subscription_of(member, pk)
        if sub is None:
            return self.response_404()
        try:
            body = self.json_body()
            if set(body) - {"active"} or not isinstance(body.get("active"), bool):
                raise ValidationError("active", "Envie {\"active\": true} para retomar ou "
                                                "{\"active\": false} para pausar.")
        except ValidationError as error:
            return self.validation_error(error)
        reports.set_active(sub, account, body["active"])
        return self.response(200, id=sub.id, result=reports.serialize(sub))

    @expose("/<int:pk>", methods=["DELETE"])
    @protect()
    def delete(self, pk):
        """Delete a report subscription.
        ---
        delete:
          summary: Excluir um relatório
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: Excluída}
            404: {description: Não encontrada}
        """
        member, account = self._caller()
        if account is None:
            return self.response_403()
        sub = reports.subscription_of(member, pk)
        if sub is None:
            return self.response_404()
        reports.delete_subscription(sub)
        return self.response(200, message="Relatório excluído.")
